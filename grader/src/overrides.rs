//! Manual score overrides: audit rows, never a change to `results`. The
//! newest row of a submission counts; a row without a score withdraws the
//! override. `best_scores` follows by trigger (`db.rs`).

use crate::db::Conn;
use crate::params;
use anyhow::Result;

/// Longest override comment.
pub const MAX_COMMENT: usize = 2000;

#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub id: i64,
    pub score: Option<f64>,
    pub comment: String,
    pub instructor: String,
    pub created_at: String,
}

/// Appends an override row (`score` None withdraws) and returns its id.
pub fn add(c: &Conn, submission: i64, score: Option<f64>, comment: &str, instructor: &str) -> Result<i64> {
    c.query_row(
        "INSERT INTO overrides (submission_id, score, comment, instructor, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         RETURNING id",
        params![submission, score, comment, instructor, crate::db::now_rfc3339()],
        |r| r.get(0),
    )
}

/// Every override row of a submission, newest first.
pub fn of(c: &Conn, submission: i64) -> Result<Vec<Override>> {
    c.query_map(
        "SELECT id, score, comment, instructor, created_at FROM overrides WHERE submission_id = ?1 ORDER BY id DESC",
        [submission],
        |r| {
            Ok(Override {
                id: r.get(0)?,
                score: r.get(1)?,
                comment: r.get(2)?,
                instructor: r.get(3)?,
                created_at: r.get(4)?,
            })
        },
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::db::Db;
    use crate::feedback::Feedback;
    use crate::queue::{self, Verdict};
    use crate::ratelimit::SubmissionLimit;
    use crate::submissions::{self, Stored};

    /// Stores a submission of `student` and grades it with `score` (None:
    /// a compile error) out of 10; returns its id.
    pub(crate) fn graded(c: &mut Conn, student: &str, exercise: &str, source: &str, score: Option<f64>) -> i64 {
        c.execute("INSERT INTO students (id, name, email) VALUES (?1, ?1, '') ON CONFLICT DO NOTHING", [student])
            .unwrap();
        let unlimited = SubmissionLimit::new(0, Duration::from_secs(60));
        let Stored::Created(id) = submissions::store(c, student, exercise, None, source, &unlimited).unwrap() else {
            panic!("not stored")
        };
        grade(c, id, score);
        id
    }

    /// Claims `id` (it must be the only job queued) and completes it.
    pub(crate) fn grade(c: &mut Conn, id: i64, score: Option<f64>) {
        let claimed = queue::claim(c, "w").unwrap().expect("a job");
        assert_eq!(claimed.submission_id, id);
        let verdict = if score.is_some() { Verdict::Graded } else { Verdict::CompileError };
        let fb = Feedback {
            score,
            max_score: 10.0,
            output: if score.is_some() { "checks ran".into() } else { "error[E0308]: mismatched types".into() },
            tests: vec![],
            diagram_svg: None,
            whole_run: None,
            replay: None,
            hidden_failed: Default::default(),
        };
        assert!(queue::complete(c, "w", id, verdict, false, &fb).unwrap());
    }

    #[test]
    fn an_override_reaches_the_gradebook_and_the_export_and_withdrawing_restores_the_grade() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::test_support::open_db(dir.path());
        let csv_of = |db: &Db| {
            let path = dir.path().join("out.csv");
            db.with(|c| crate::gradebook::export_csv(c, &path)).unwrap();
            std::fs::read_to_string(&path).unwrap()
        };
        let (first, second) = db
            .with(|c| Ok((graded(c, "s1", "warmup", "a", Some(4.0)), graded(c, "s1", "warmup", "b", Some(6.0)))))
            .unwrap();
        let best = |db: &Db| db.with(|c| crate::gradebook::best_scores(c)).unwrap()[&("s1".into(), "warmup".into())];
        assert_eq!(best(&db), 6.0);
        assert!(csv_of(&db).contains(",6.00,"), "{}", csv_of(&db));
        // Raising the first attempt makes it the best; lowering the second too.
        db.with(|c| add(c, first, Some(9.5), "regraded by hand", "prof")).unwrap();
        assert_eq!(best(&db), 9.5);
        assert!(csv_of(&db).contains(",9.50,"), "{}", csv_of(&db));
        db.with(|c| add(c, first, Some(1.0), "too generous", "prof")).unwrap();
        assert_eq!(best(&db), 6.0);
        // Withdrawn: the grader's scores count again; the results are untouched.
        db.with(|c| add(c, first, None, "withdrawn", "prof")).unwrap();
        db.with(|c| add(c, second, Some(0.0), "copied", "prof")).unwrap();
        assert_eq!(best(&db), 4.0);
        db.with(|c| add(c, second, None, "withdrawn", "prof")).unwrap();
        assert_eq!(best(&db), 6.0);
        assert!(csv_of(&db).contains(",6.00,"));
        let rows = db.with(|c| of(c, first)).unwrap();
        assert_eq!(rows.iter().map(|o| o.score).collect::<Vec<_>>(), [None, Some(1.0), Some(9.5)]);
        let graded_scores: Vec<f64> =
            db.with(|c| c.query_map("SELECT score FROM results ORDER BY submission_id", (), |r| r.get(0))).unwrap();
        assert_eq!(graded_scores, [4.0, 6.0]);
    }
}
