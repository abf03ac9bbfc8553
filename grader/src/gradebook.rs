//! The gradebook as a table: students x exercises with each student's best
//! graded score, and its Canvas-importable CSV export.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::db::Conn;
use anyhow::{Context, Result};

use crate::catalogue;

#[derive(Debug, Clone)]
pub struct Student {
    pub id: String,
    pub name: String,
    pub email: String,
}

pub fn students(c: &Conn) -> Result<Vec<Student>> {
    c.query_map("SELECT id, name, email FROM students ORDER BY id", (), |r| {
        Ok(Student { id: r.get(0)?, name: r.get(1)?, email: r.get(2)? })
    })
}

/// Best score per (student, exercise): the newest override of a
/// submission, else its graded score (the late rule is already in each
/// score). Kept up to date by the gradebook's triggers (`db.rs`).
pub fn best_scores(c: &Conn) -> Result<BTreeMap<(String, String), f64>> {
    let rows = c.query_map("SELECT student_id, exercise, score FROM best_scores", (), |r| {
        Ok(((r.get(0)?, r.get(1)?), r.get(2)?))
    })?;
    Ok(rows.into_iter().collect())
}

/// One student's best score per exercise, by exercise id.
pub fn best_scores_of(c: &Conn, student: &str) -> Result<BTreeMap<String, f64>> {
    let rows = c.query_map("SELECT exercise, score FROM best_scores WHERE student_id = ?1", [student], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.into_iter().collect())
}

/// A cell a spreadsheet will not run as a formula (OWASP CSV injection):
/// text starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`.
pub fn csv_safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// Writes the gradebook for a Canvas import: Canvas matches rows by
/// "SIS User ID" (our student id) or "SIS Login ID"; a "Points Possible"
/// row gives each column's maximum; "Final Points" is a column Canvas
/// treats as computed and skips on import. Returns the number of students.
pub fn export_csv(c: &Conn, path: &Path) -> Result<usize> {
    let file = std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let n = write_csv(c, &mut out)?;
    out.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(n)
}

/// The same CSV to any writer (the CLI's file, the dashboard's download).
pub fn write_csv(c: &Conn, out: impl Write) -> Result<usize> {
    let students = students(c)?;
    let scores = best_scores(c)?;
    let exercises = catalogue::all();
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<String> = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"].map(String::from).into();
    header.extend(exercises.iter().map(|e| format!("{} ({})", e.title, e.id)));
    header.push("Final Points".into());
    w.write_record(&header)?;
    let mut possible: Vec<String> =
        vec!["    Points Possible".into(), String::new(), String::new(), String::new(), String::new()];
    possible.extend(exercises.iter().map(|e| e.points.to_string()));
    possible.push(exercises.iter().map(|e| e.points).sum::<u32>().to_string());
    w.write_record(&possible)?;
    for s in &students {
        let mut row = vec![csv_safe(&s.name), String::new(), csv_safe(&s.id), csv_safe(&s.email), String::new()];
        let mut total = 0.0;
        for e in exercises {
            match scores.get(&(s.id.clone(), e.id.to_owned())) {
                Some(v) => {
                    total += v;
                    row.push(format!("{v:.2}"));
                }
                None => row.push(String::new()),
            }
        }
        row.push(format!("{total:.2}"));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(students.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::queue::{self, RegradeScope, Verdict};
    use crate::test_support::{commit, graded, submitted};

    fn best(db: &Db, student: &str) -> Option<f64> {
        db.with(|c| best_scores_of(c, student)).unwrap().get("warmup").copied()
    }

    fn override_score(db: &Db, id: i64, score: Option<f64>) {
        db.with(|c| {
            c.execute(
                "INSERT INTO overrides (submission_id, score, comment, instructor, created_at) VALUES (?1, ?2, 'why', 'prof', 'now')",
                crate::params![id, score],
            )?;
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn the_best_score_follows_grades_overrides_and_regrades() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::test_support::open_db(dir.path());
        let first = graded(&db, "warmup", "s1", 2.0);
        assert_eq!(best(&db, "s1"), Some(2.0));
        // A compile error never counts, and a queued submission has no score yet.
        let broken = submitted(&db, "warmup", "s1");
        commit(&db, broken, Verdict::CompileError, None);
        let second = graded(&db, "warmup", "s1", 4.0);
        assert_eq!(best(&db, "s1"), Some(4.0));
        submitted(&db, "warmup", "s1");
        assert_eq!(best(&db, "s1"), Some(4.0));
        // An override counts, even lowering a score, and the export shows it.
        override_score(&db, second, Some(1.0));
        assert_eq!(best(&db, "s1"), Some(2.0), "the first submission is now the best");
        override_score(&db, first, Some(5.0));
        assert_eq!(best(&db, "s1"), Some(5.0));
        let csv = dir.path().join("out.csv");
        db.with(|c| export_csv(c, &csv)).unwrap();
        assert!(std::fs::read_to_string(&csv).unwrap().contains(",5.00,"), "the export uses the override");
        // Withdrawn: the graded score counts again.
        override_score(&db, first, None);
        override_score(&db, second, None);
        assert_eq!(best(&db, "s1"), Some(4.0));
        // While a regrade waits and runs, the old score still counts.
        let r = db.with(|c| queue::enqueue_regrade(c, &RegradeScope::Exercise("warmup".into()), "prof")).unwrap();
        assert_eq!(r.queued, 3, "every submission without a job of its own");
        assert_eq!(best(&db, "s1"), Some(4.0));
    }
}
