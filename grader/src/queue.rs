//! The job queue in SQLite: workers claim jobs atomically, hold them under a
//! lease, and commit a result exactly once per job (the job row is deleted
//! in the same transaction that writes the result, and only by its owner).

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::db::now_secs;
use crate::feedback::Feedback;

/// How long a claim holds without being finished before another worker
/// may take the job (longer than any compile plus check).
pub const LEASE_SECS: i64 = 600;

/// A job a worker holds.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub submission_id: i64,
    pub student_id: String,
    pub exercise: String,
    pub source: String,
    pub submitted_at: String,
}

/// At start of a (single) server: jobs that were running when the previous
/// process died go back to the queue.
pub fn requeue_running(c: &Connection) -> Result<usize> {
    let n =
        c.execute("UPDATE jobs SET state = 'queued', owner = NULL, lease_until = NULL WHERE state = 'running'", [])?;
    c.execute("UPDATE submissions SET status = 'queued' WHERE id IN (SELECT submission_id FROM jobs)", [])?;
    Ok(n)
}

/// Takes the oldest queued job (or one whose lease expired).
pub fn claim(c: &mut Connection, owner: &str) -> Result<Option<Claimed>> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_secs();
    let id: Option<i64> = tx
        .query_row(
            // Fair across students: a student whose job is being graded
            // waits behind every student who has none running, so one
            // student's flood can hold at most one worker while others wait.
            "SELECT j.submission_id FROM jobs j JOIN submissions s ON s.id = j.submission_id
             WHERE j.state = 'queued' OR (j.state = 'running' AND j.lease_until < ?1)
             ORDER BY (SELECT COUNT(*) FROM jobs r JOIN submissions rs ON rs.id = r.submission_id
                       WHERE r.state = 'running' AND r.lease_until >= ?1 AND rs.student_id = s.student_id),
                      j.submission_id
             LIMIT 1",
            [now],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    tx.execute(
        "UPDATE jobs SET state = 'running', owner = ?2, lease_until = ?3, attempts = attempts + 1 WHERE submission_id = ?1",
        params![id, owner, now + LEASE_SECS],
    )?;
    tx.execute("UPDATE submissions SET status = 'running' WHERE id = ?1", [id])?;
    let claimed = tx.query_row(
        "SELECT id, student_id, exercise, source, submitted_at FROM submissions WHERE id = ?1",
        [id],
        |r| {
            Ok(Claimed {
                submission_id: r.get(0)?,
                student_id: r.get(1)?,
                exercise: r.get(2)?,
                source: r.get(3)?,
                submitted_at: r.get(4)?,
            })
        },
    )?;
    tx.commit()?;
    Ok(Some(claimed))
}

/// The end status of a graded job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Graded,
    CompileError,
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Graded => "graded",
            Verdict::CompileError => "compile_error",
            Verdict::Error => "error",
        }
    }
}

/// Commits the result of a job this worker owns. Returns false (and writes
/// nothing) when the job is no longer ours: its lease expired and another
/// worker took it.
pub fn complete(
    c: &mut Connection,
    owner: &str,
    id: i64,
    verdict: Verdict,
    late: bool,
    feedback: &Feedback,
) -> Result<bool> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let ours = tx.execute(
        "DELETE FROM jobs WHERE submission_id = ?1 AND owner = ?2 AND state = 'running'",
        params![id, owner],
    )?;
    if ours == 0 {
        return Ok(false);
    }
    let now = crate::submissions::graded_now();
    let report = serde_json::to_string(feedback)?;
    tx.execute(
        "INSERT INTO results (submission_id, score, max_score, report, written_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (submission_id) DO UPDATE SET score = excluded.score, max_score = excluded.max_score,
             report = excluded.report, written_at = excluded.written_at",
        params![id, feedback.score, feedback.max_score, report, now],
    )?;
    tx.execute("DELETE FROM result_checks WHERE submission_id = ?1", [id])?;
    for t in &feedback.tests {
        tx.execute(
            "INSERT INTO result_checks (submission_id, name, score, max_score, status, visibility)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, t.name, t.score, t.max_score, t.status.as_str(), t.visibility.as_str()],
        )?;
    }
    tx.execute(
        "UPDATE submissions SET status = ?2, graded_at = ?3, late = ?4, result_writes = result_writes + 1 WHERE id = ?1",
        params![id, verdict.as_str(), now, late],
    )?;
    tx.commit()?;
    Ok(true)
}

/// How many times a job has been claimed.
pub fn claim_count(c: &Connection, id: i64) -> Result<i64> {
    Ok(c.query_row("SELECT attempts FROM jobs WHERE submission_id = ?1", [id], |r| r.get(0)).optional()?.unwrap_or(0))
}

/// Gives a job back to the queue (the grader failed, not the submission);
pub fn release(c: &Connection, owner: &str, id: i64) -> Result<()> {
    c.execute(
        "UPDATE jobs SET state = 'queued', owner = NULL, lease_until = NULL WHERE submission_id = ?1 AND owner = ?2",
        params![id, owner],
    )?;
    c.execute("UPDATE submissions SET status = 'queued' WHERE id = ?1", [id])?;
    Ok(())
}

/// Puts submissions back in the queue for regrading; returns how many.
pub fn enqueue_regrade(c: &mut Connection, exercise: Option<&str>) -> Result<usize> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = crate::db::now_rfc3339();
    let n = tx.execute(
        "INSERT OR IGNORE INTO jobs (submission_id, state, queued_at)
         SELECT id, 'queued', ?2 FROM submissions WHERE ?1 IS NULL OR exercise = ?1",
        params![exercise, now],
    )?;
    tx.execute(
        "UPDATE submissions SET status = 'queued' WHERE id IN (SELECT submission_id FROM jobs WHERE state = 'queued')",
        [],
    )?;
    tx.commit()?;
    Ok(n)
}

/// Jobs not yet finished.
pub fn pending(c: &Connection) -> Result<i64> {
    Ok(c.query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::db::Db;
    use crate::ratelimit::SubmissionLimit;
    use crate::submissions::{store, Stored};

    #[test]
    fn a_student_with_a_job_running_waits_behind_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("g.db")).unwrap();
        let unlimited = SubmissionLimit::new(0, Duration::from_secs(60));
        let submit = |student: &str| {
            db.with(|c| {
                c.execute("INSERT OR IGNORE INTO students (id, name, email) VALUES (?1, ?1, '')", [student])?;
                match store(c, student, "warmup", None, "fn x() {}", &unlimited)? {
                    Stored::Created(id) => Ok(id),
                    _ => anyhow::bail!("not stored"),
                }
            })
            .unwrap()
        };
        // A flood from one student, then one submission from another.
        let flood: Vec<i64> = (0..5).map(|_| submit("flooder")).collect();
        let honest = submit("honest");
        let first = db.with(|c| super::claim(c, "w1")).unwrap().unwrap();
        assert_eq!(first.submission_id, flood[0], "oldest first while nobody runs");
        let second = db.with(|c| super::claim(c, "w2")).unwrap().unwrap();
        assert_eq!(second.submission_id, honest, "the other student before the flood's next job");
        let third = db.with(|c| super::claim(c, "w3")).unwrap().unwrap();
        assert_eq!(third.submission_id, flood[1]);
    }
}
