//! Submissions in the gradebook: storing one (idempotently, with its job in
//! the same transaction) and reading them back.

use crate::db::{Backend, Conn};
use crate::params;
use anyhow::Result;

use crate::db::{now_rfc3339, rfc3339};
use crate::feedback::Feedback;
use crate::ratelimit::SubmissionLimit;

/// What a POST did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A new submission, durably stored and queued.
    Created(i64),
    /// The idempotency key was seen before: that submission, nothing new.
    Existing(i64),
    /// Over the rate limit: nothing stored; try again in this many seconds.
    Refused { retry_after: u64 },
}

/// A submission with the same key from the same student, if any.
pub fn by_key(c: &Conn, student: &str, key: &str) -> Result<Option<i64>> {
    c.query_opt(
        "SELECT id FROM submissions WHERE student_id = ?1 AND idempotency_key = ?2",
        params![student, key],
        |r| r.get(0),
    )
}

/// Stores a submission and its job unless `limit` refuses it; returns only
/// after the commit. The limit is read in the same (immediate) transaction,
/// so concurrent requests cannot overshoot it.
pub fn store(
    c: &mut Conn,
    student: &str,
    exercise: &str,
    key: Option<&str>,
    source: &str,
    limit: &SubmissionLimit,
) -> Result<Stored> {
    let tx = c.transaction()?;
    if tx.backend() == Backend::Postgres {
        // SQLite's immediate transaction already serialises writers; on
        // Postgres one student's concurrent submissions queue on the
        // student's row, so the key and the limit are read after the other
        // commits.
        tx.execute("SELECT 1 FROM students WHERE id = ?1 FOR UPDATE", [student])?;
    }
    if let Some(key) = key {
        if let Some(id) = by_key(&tx, student, key)? {
            return Ok(Stored::Existing(id));
        }
    }
    let at = chrono::Utc::now();
    if let Some(retry_after) = limit.wait(&tx, student, exercise, at)? {
        return Ok(Stored::Refused { retry_after });
    }
    let now = rfc3339(at);
    let id: i64 = tx.query_row(
        "INSERT INTO submissions (student_id, exercise, idempotency_key, source, status, submitted_at)
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5) RETURNING id",
        params![student, exercise, key, source, now],
        |r| r.get(0),
    )?;
    tx.execute("INSERT INTO jobs (submission_id, state, queued_at) VALUES (?1, 'queued', ?2)", params![id, now])?;
    tx.commit()?;
    Ok(Stored::Created(id))
}

/// A submission as stored, with its result if graded.
#[derive(Debug, Clone)]
pub struct Submission {
    pub id: i64,
    pub student_id: String,
    pub exercise: String,
    pub status: String,
    pub submitted_at: String,
    pub graded_at: Option<String>,
    pub late: bool,
    pub attempt: Option<i64>,
    pub result_writes: i64,
    /// When a worker last took it.
    pub started_at: Option<String>,
    /// The score that counts (an override, else the grader's) and the
    /// summary line, from `result_lines`: what lists show without reading
    /// the report.
    pub score: Option<f64>,
    pub summary: Option<String>,
    /// The instructor's override in force, if any.
    pub override_score: Option<f64>,
    /// The whole report; `None` from `list` (never read for lists).
    pub feedback: Option<Feedback>,
}

/// The attempt number counts graded submissions only (a compile error is
/// not an attempt), in submission order.
const COLUMNS: &str = "s.id, s.student_id, s.exercise, s.status, s.submitted_at, s.graded_at, s.late,
    CASE WHEN s.status = 'graded' THEN (SELECT count(*) FROM submissions o WHERE o.student_id = s.student_id
        AND o.exercise = s.exercise AND o.status = 'graded' AND o.id <= s.id) END,
    s.result_writes, coalesce(o.score, l.score), l.summary, o.score, s.started_at";

/// `COLUMNS` plus the report (`full`) or NULL in its place.
fn select(full: bool) -> String {
    let (report, join) =
        if full { ("r.report", "LEFT JOIN results r ON r.submission_id = s.id") } else { ("NULL", "") };
    format!(
        "SELECT {COLUMNS}, {report} FROM submissions s LEFT JOIN result_lines l ON l.submission_id = s.id
         LEFT JOIN overrides o ON o.id = (SELECT max(id) FROM overrides WHERE submission_id = s.id) {join}"
    )
}

fn row(r: &crate::db::Row) -> anyhow::Result<Submission> {
    let report: Option<String> = r.get(13)?;
    Ok(Submission {
        id: r.get(0)?,
        student_id: r.get(1)?,
        exercise: r.get(2)?,
        status: r.get(3)?,
        submitted_at: r.get(4)?,
        graded_at: r.get(5)?,
        late: r.get(6)?,
        attempt: r.get(7)?,
        result_writes: r.get(8)?,
        score: r.get(9)?,
        summary: r.get(10)?,
        override_score: r.get(11)?,
        started_at: r.get(12)?,
        feedback: report.and_then(|j| serde_json::from_str(&j).ok()),
    })
}

pub fn get(c: &Conn, id: i64) -> Result<Option<Submission>> {
    let sql = format!("{} WHERE s.id = ?1", select(true));
    c.query_opt(&sql, [id], row)
}

pub fn source(c: &Conn, id: i64) -> Result<Option<String>> {
    c.query_opt("SELECT source FROM submissions WHERE id = ?1", [id], |r| r.get(0))
}

/// Submissions, newest first, without their reports (score and summary
/// line only); `student` narrows to one student.
pub fn list(c: &Conn, student: Option<&str>, limit: i64) -> Result<Vec<Submission>> {
    list_where(c, student, limit, false)
}

/// One exercise's submissions, newest first, a page at a time; `failing`
/// keeps only students' best submissions that fail that check.
pub fn list_for_exercise(
    c: &Conn,
    exercise: &str,
    failing: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Submission>> {
    let filter = match failing {
        None => "s.exercise = ?1 AND CAST(?2 AS TEXT) IS NULL",
        Some(_) => {
            "s.id IN (SELECT b.submission_id FROM best_scores b JOIN result_checks rc ON rc.submission_id = b.submission_id
                      WHERE b.exercise = ?1 AND rc.name = ?2 AND rc.status <> 'passed')"
        }
    };
    let sql = format!("{} WHERE {filter} ORDER BY s.id DESC LIMIT ?3 OFFSET ?4", select(false));
    let rows = c.query_map(&sql, params![exercise, failing, limit, offset], row)?;
    Ok(rows)
}

/// The same with each whole report (one student's page of feedback).
pub fn list_with_reports(c: &Conn, student: &str, limit: i64) -> Result<Vec<Submission>> {
    list_where(c, Some(student), limit, true)
}

fn list_where(c: &Conn, student: Option<&str>, limit: i64, full: bool) -> Result<Vec<Submission>> {
    let sql =
        format!("{} WHERE (CAST(?1 AS TEXT) IS NULL OR s.student_id = ?1) ORDER BY s.id DESC LIMIT ?2", select(full));
    let rows = c.query_map(&sql, params![student, limit], row)?;
    Ok(rows)
}

/// Submissions graded after the cursor `(graded_at, id)` (all graded ones
/// when `None`), oldest first, without their reports: the live dashboard's
/// feed. Reads the `graded_at` index from the cursor on.
pub fn graded_since(c: &Conn, after: Option<(&str, i64)>, limit: i64) -> Result<Vec<Submission>> {
    let (t, id) = after.unwrap_or(("", 0));
    let sql = format!(
        "{} WHERE s.graded_at >= ?1 AND (s.graded_at > ?1 OR s.id > ?2) ORDER BY s.graded_at, s.id LIMIT ?3",
        select(false)
    );
    let rows = c.query_map(&sql, params![t, id, limit], row)?;
    Ok(rows)
}

/// The newest `(graded_at, id)`: a live feed starting now starts after it.
pub fn newest_graded(c: &Conn) -> Result<Option<(String, i64)>> {
    c.query_opt(
        "SELECT graded_at, id FROM submissions WHERE graded_at IS NOT NULL ORDER BY graded_at DESC, id DESC LIMIT 1",
        (),
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Marks a new result time (used by the queue when it commits a result).
pub(crate) fn graded_now() -> String {
    now_rfc3339()
}
