//! A report as a notebook or a page shows it: one row per check (the
//! first problem of that check, if any; the root cause first), the score,
//! and the diagram of the first row's run.

use crate::check::{Status, Verdict};
use crate::diagram::escape;
use crate::display::verdicts_html;

use super::{ExerciseSpec, Report, Scope};

/// One verdict per check of `scope`: its first problem, or a summary of its
/// passing runs; the root cause ([`Report::lead`]) first.
pub fn check_rows(report: &Report, spec: &ExerciseSpec, scope: Scope) -> Vec<Verdict> {
    report
        .results(spec, scope)
        .into_iter()
        .map(|r| match r.first_problem {
            Some(problem) => Verdict { check: r.name, ..problem },
            None => Verdict {
                check: r.name,
                status: r.status,
                message: match (r.status, r.runs) {
                    (Status::Pass, 1) => "passed".into(),
                    (Status::Pass, runs) => format!("passed all {runs} runs"),
                    _ => "not run".into(),
                },
                event: None,
                at: None,
                seed: 0,
                scenario: String::new(),
                replay: String::new(),
                node: None,
            },
        })
        .collect()
}

/// Said under every node exercise's report in the notebook: here all nodes
/// share one process, on the grader they do not.
pub const ISOLATION_NOTE: &str = "Here all nodes run in this notebook's process. When you submit, the grader runs \
    every node in a process of its own, so nodes share nothing but the messages they send: state kept in a \
    static or anything shared outside ctx.send does not carry over.";

pub fn report_html(report: &Report, spec: &ExerciseSpec, scope: Scope) -> String {
    let score = report.score(spec, scope);
    let reachable: u32 = spec.checks.iter().filter(|c| scope.includes(c.visibility)).map(|c| c.weight).sum();
    let total: u32 = spec.checks.iter().map(|c| c.weight).sum();
    let mut out = format!(
        "<div class=\"distlab-report\" style=\"font-family:sans-serif\"><h4 style=\"margin:4px 0\">{} ({})</h4>\
         <p style=\"margin:4px 0\">{score:.1} of {} points",
        escape(spec.title),
        escape(spec.id),
        spec.points
    );
    if reachable < total {
        out.push_str(&format!(
            " from the checks run here; hidden checks worth {:.1} points run only when you submit",
            spec.points as f64 * (total - reachable) as f64 / total.max(1) as f64
        ));
    }
    out.push_str("</p>\n");
    out.push_str(&verdicts_html(&check_rows(report, spec, scope)));
    if spec.check_spec(crate::check::NODES_RUN_CLEANLY).is_some() {
        out.push_str(&format!("<p style=\"margin:4px 0;color:#555\">{}</p>\n", escape(ISOLATION_NOTE)));
    }
    if let Some(diagram) = &report.diagram {
        out.push_str("<p style=\"margin:8px 0 4px\">The run of the first row, as a space-time diagram:</p>\n");
        out.push_str(&diagram.html());
    }
    out.push_str("</div>\n");
    out
}

/// Shows a report in the notebook right away (evcxr's rich output), as the
/// kernel's `:check` does.
pub fn show(report: &Report) {
    match super::exercise(&report.exercise) {
        Some(spec) => crate::display::show_html(&report_html(report, spec, Scope::Public)),
        None => crate::display::show_html(&verdicts_html(&report.verdicts)),
    }
}
