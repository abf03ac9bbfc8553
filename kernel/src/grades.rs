//! `:grades`: the student's own submissions and best scores, as the grader
//! keeps them (`GET /api/v1/grades`).

use crate::submit::num;
use distlab::html::escape as esc;
use distlab_api::{Grades, Status, SubmissionLine};
use std::collections::BTreeMap;

/// A grader time (RFC 3339) as the student reads it: local time, to the minute.
pub fn readable_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

fn last_line(s: &SubmissionLine) -> String {
    let status = match s.status {
        Status::Graded => format!("graded {}", num(s.score)),
        Status::CompileError => "did not compile".into(),
        other => other.to_string(),
    };
    let late = if s.late { ", late" } else { "" };
    format!("#{} {status}{late}, {}", s.id, readable_time(&s.submitted_at))
}

/// The grades as a table (HTML and text): one row per exercise the student
/// submitted, then a count of the ones not yet started.
pub fn display(g: &Grades) -> BTreeMap<String, String> {
    let started: Vec<_> = g.exercises.iter().filter(|e| !e.submissions.is_empty()).collect();
    let untouched = g.exercises.len() - started.len();
    let (best_sum, points): (f64, u32) =
        g.exercises.iter().fold((0.0, 0), |(b, p), e| (b + e.best.unwrap_or(0.0), p + e.points));
    let head = format!("Best scores: {} of {points} points", num(Some(best_sum)));
    let mut plain = format!("{head}\n");
    let cell = "style=\"text-align:left;padding:2px 10px;white-space:nowrap\"";
    let mut html = format!(
        "<div class=\"distlab-grades\" style=\"font-family:sans-serif\"><h4 style=\"margin:4px 0\">{}</h4>\n\
         <table style=\"border-collapse:collapse\"><tr><th {cell}>exercise</th><th {cell}>best</th>\
         <th {cell}>submissions</th><th {cell}>last</th></tr>\n",
        esc(&head)
    );
    for e in &started {
        let best = format!("{} / {}", num(e.best), e.points);
        let last = e.submissions.first().map(last_line).unwrap_or_default();
        plain.push_str(&format!("  {} ({}): {best}, {} submitted, last {last}\n", e.title, e.id, e.submissions.len()));
        html.push_str(&format!(
            "<tr><td {cell}>{} <code>{}</code></td><td {cell}>{}</td><td {cell}>{}</td><td {cell}>{}</td></tr>\n",
            esc(&e.title),
            esc(&e.id),
            esc(&best),
            e.submissions.len(),
            esc(&last)
        ));
    }
    html.push_str("</table>\n");
    if started.is_empty() {
        plain.push_str("  nothing submitted yet\n");
    }
    if untouched > 0 {
        let note = format!("{untouched} exercise(s) not submitted yet.");
        plain.push_str(&format!("{note}\n"));
        html.push_str(&format!("<p style=\"margin:4px 0\">{}</p>\n", esc(&note)));
    }
    html.push_str("</div>\n");
    BTreeMap::from([("text/html".to_owned(), html), ("text/plain".to_owned(), plain)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use distlab_api::ExerciseGrades;

    #[test]
    fn grades_show_best_scores_and_the_last_submission_escaped() {
        let g = Grades {
            exercises: vec![
                ExerciseGrades {
                    id: "warmup".into(),
                    title: "Warm-up <ping>".into(),
                    points: 5,
                    best: Some(3.5),
                    submissions: vec![SubmissionLine {
                        id: 7,
                        status: Status::Graded,
                        submitted_at: "2026-12-03T18:40:12.123456Z".into(),
                        late: true,
                        score: Some(3.5),
                    }],
                },
                ExerciseGrades {
                    id: "lamport".into(),
                    title: "Lamport".into(),
                    points: 10,
                    best: None,
                    submissions: vec![],
                },
            ],
        };
        let out = display(&g);
        let (plain, html) = (&out["text/plain"], &out["text/html"]);
        assert!(plain.contains("Best scores: 3.50 of 15 points"), "{plain}");
        assert!(plain.contains("3.50 / 5") && plain.contains("#7 graded 3.50, late"), "{plain}");
        assert!(plain.contains("1 exercise(s) not submitted yet"), "{plain}");
        assert!(!plain.contains(".123456"), "no microseconds: {plain}");
        assert!(html.contains("Warm-up &lt;ping&gt;") && !html.contains("<ping>"), "{html}");
    }
}
