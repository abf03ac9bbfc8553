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
    tx.execute(
        "UPDATE submissions SET status = 'running', started_at = ?2 WHERE id = ?1",
        params![id, crate::db::now_rfc3339()],
    )?;
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

/// What a regrade covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegradeScope {
    All,
    Exercise(String),
    Submission(i64),
}

/// A regrade just queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regrade {
    pub id: i64,
    /// Submissions queued by it (one already waiting is not queued twice).
    pub queued: usize,
}

/// Puts submissions back in the queue for regrading and remembers each
/// one's status and score before, so the regrade page can list what changed.
pub fn enqueue_regrade(c: &mut Connection, scope: &RegradeScope, instructor: &str) -> Result<Regrade> {
    let (exercise, submission) = match scope {
        RegradeScope::All => (None, None),
        RegradeScope::Exercise(e) => (Some(e.as_str()), None),
        RegradeScope::Submission(id) => (None, Some(*id)),
    };
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = crate::db::now_rfc3339();
    tx.execute(
        "INSERT INTO regrades (exercise, submission_id, instructor, started_at, total) VALUES (?1, ?2, ?3, ?4, 0)",
        params![exercise, submission, instructor, now],
    )?;
    let regrade = tx.last_insert_rowid();
    let picked = "FROM submissions s WHERE (?1 IS NULL OR s.exercise = ?1) AND (?2 IS NULL OR s.id = ?2)
        AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.submission_id = s.id)";
    tx.execute(
        &format!(
            "INSERT INTO regrade_items (regrade_id, submission_id, old_status, old_score)
             SELECT ?3, s.id, s.status, (SELECT c.score FROM counted_scores c WHERE c.submission_id = s.id) {picked}"
        ),
        params![exercise, submission, regrade],
    )?;
    let n = tx.execute(
        &format!("INSERT INTO jobs (submission_id, state, queued_at) SELECT s.id, 'queued', ?3 {picked}"),
        params![exercise, submission, now],
    )?;
    tx.execute("UPDATE regrades SET total = ?2 WHERE id = ?1", params![regrade, n as i64])?;
    tx.execute(
        "UPDATE submissions SET status = 'queued' WHERE id IN (SELECT submission_id FROM regrade_items WHERE regrade_id = ?1)",
        [regrade],
    )?;
    tx.commit()?;
    Ok(Regrade { id: regrade, queued: n })
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
