//! Regrades as the instructor follows them: the list, one regrade's
//! progress (its items whose submission is no longer queued or running),
//! and what changed (status, or the counted score against the one before).
//! Every query goes through `regrade_items`' primary key and submission ids.

use crate::db::Conn;
use anyhow::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct RegradeRow {
    pub id: i64,
    pub exercise: Option<String>,
    pub submission_id: Option<i64>,
    pub instructor: String,
    pub started_at: String,
    pub total: i64,
    pub done: i64,
}

impl RegradeRow {
    /// What it covered, in words.
    pub fn scope(&self) -> String {
        match (&self.exercise, self.submission_id) {
            (_, Some(id)) => format!("submission {id}"),
            (Some(e), None) => format!("exercise {e}"),
            (None, None) => "all submissions".into(),
        }
    }

    pub fn finished(&self) -> bool {
        self.done >= self.total
    }
}

/// Done counts down from the total: an item is pending while its
/// submission has a job (exactly while its status is queued or running:
/// the queue sets both in one transaction), so only the queue's jobs are
/// read, not every item of a regrade of the whole course.
const ROW: &str = "SELECT g.id, g.exercise, g.submission_id, g.instructor, g.started_at, g.total,
    g.total - (SELECT count(*) FROM jobs j JOIN regrade_items i ON i.regrade_id = g.id AND i.submission_id = j.submission_id)
    FROM regrades g";

fn row(r: &crate::db::Row) -> anyhow::Result<RegradeRow> {
    Ok(RegradeRow {
        id: r.get(0)?,
        exercise: r.get(1)?,
        submission_id: r.get(2)?,
        instructor: r.get(3)?,
        started_at: r.get(4)?,
        total: r.get(5)?,
        done: r.get(6)?,
    })
}

/// The newest `limit` regrades, newest first, each with its progress.
pub fn list(c: &Conn, limit: i64) -> Result<Vec<RegradeRow>> {
    let rows = c.query_map(&format!("{ROW} ORDER BY g.id DESC LIMIT ?1"), [limit], row)?;
    Ok(rows)
}

/// One regrade with its progress (done of total).
pub fn progress(c: &Conn, id: i64) -> Result<Option<RegradeRow>> {
    c.query_opt(&format!("{ROW} WHERE g.id = ?1"), [id], row)
}

/// A submission whose regrade changed its status or counted score.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub submission_id: i64,
    pub student_id: String,
    pub exercise: String,
    pub old_status: String,
    pub new_status: String,
    pub old_score: Option<f64>,
    pub new_score: Option<f64>,
}

/// The finished items of a regrade whose status or counted score differs
/// from before, in submission order (at most `limit`).
pub fn changes(c: &Conn, id: i64, limit: i64) -> Result<Vec<Change>> {
    let rows = c.query_map(
        "SELECT i.submission_id, s.student_id, s.exercise, i.old_status, s.status, i.old_score, cs.score
         FROM regrade_items i JOIN submissions s ON s.id = i.submission_id
         JOIN counted_scores cs ON cs.submission_id = i.submission_id
         WHERE i.regrade_id = ?1 AND s.status NOT IN ('queued', 'running')
           AND (s.status IS DISTINCT FROM i.old_status OR cs.score IS DISTINCT FROM i.old_score)
         ORDER BY i.submission_id LIMIT ?2",
        [id, limit],
        |r| {
            Ok(Change {
                submission_id: r.get(0)?,
                student_id: r.get(1)?,
                exercise: r.get(2)?,
                old_status: r.get(3)?,
                new_status: r.get(4)?,
                old_score: r.get(5)?,
                new_score: r.get(6)?,
            })
        },
    )?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overrides::tests::{grade, graded};
    use crate::queue::{self, RegradeScope};

    #[test]
    fn a_regrade_reports_progress_and_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::test_support::open_db(dir.path());
        let (a, b, c3) = db
            .with(|c| {
                Ok((
                    graded(c, "s1", "warmup", "a", Some(4.0)),
                    graded(c, "s2", "warmup", "b", Some(6.0)),
                    graded(c, "s3", "warmup", "c", None),
                ))
            })
            .unwrap();
        // Another exercise's submission is not in an exercise regrade.
        let other = db.with(|c| Ok(graded(c, "s1", "other", "d", Some(1.0)))).unwrap();
        let r = db.with(|c| queue::enqueue_regrade(c, &RegradeScope::Exercise("warmup".into()), "prof")).unwrap();
        assert_eq!(r.queued, 3);
        let p = db.with(|c| progress(c, r.id)).unwrap().unwrap();
        assert_eq!((p.done, p.total, p.finished(), p.scope()), (0, 3, false, "exercise warmup".to_string()));
        assert!(db.with(|c| changes(c, r.id, 100)).unwrap().is_empty());
        // a: same score (no change); b: a new score; c3: now compiles.
        db.with(|c| {
            grade(c, a, Some(4.0));
            grade(c, b, Some(8.0));
            Ok(())
        })
        .unwrap();
        let p = db.with(|c| progress(c, r.id)).unwrap().unwrap();
        assert_eq!((p.done, p.total), (2, 3));
        let ch = db.with(|c| changes(c, r.id, 100)).unwrap();
        assert_eq!(ch.len(), 1);
        assert_eq!((ch[0].submission_id, ch[0].old_score, ch[0].new_score), (b, Some(6.0), Some(8.0)));
        db.with(|c| {
            grade(c, c3, Some(2.0));
            Ok(())
        })
        .unwrap();
        let p = db.with(|c| progress(c, r.id)).unwrap().unwrap();
        assert!(p.finished());
        let ch = db.with(|c| changes(c, r.id, 100)).unwrap();
        assert_eq!(ch.iter().map(|c| c.submission_id).collect::<Vec<_>>(), [b, c3]);
        assert_eq!((ch[1].old_status.as_str(), ch[1].new_status.as_str()), ("compile_error", "graded"));
        assert!(!ch.iter().any(|c| c.submission_id == other));
        // The list: newest first, with who and progress.
        let one = db.with(|c| queue::enqueue_regrade(c, &RegradeScope::Submission(a), "ta")).unwrap();
        let l = db.with(|c| list(c, 10)).unwrap();
        assert_eq!(l.iter().map(|g| g.id).collect::<Vec<_>>(), [one.id, r.id]);
        assert_eq!(
            (l[0].instructor.as_str(), l[0].scope(), l[0].done, l[0].total),
            ("ta", format!("submission {a}"), 0, 1)
        );
        assert!(db.with(|c| progress(c, 999)).unwrap().is_none());
    }
}
