//! The job queue, in the gradebook's database: workers (threads of one
//! server, or worker processes on many machines) claim jobs atomically,
//! hold them under a lease that a heartbeat keeps alive, and commit a
//! result exactly once per job: the job row is deleted in the same
//! transaction that writes the result, and only by the lease holder. A job
//! whose worker died (no heartbeat) is taken by another after the lease.
//! Times here are the database's clock (`unixepoch()`), so machines whose
//! clocks differ agree on when a lease ends.

use anyhow::Result;

use crate::db::{Backend, Conn};
use crate::feedback::Feedback;
use crate::params;

/// How long a claim holds without a heartbeat before another worker may
/// take the job.
pub const LEASE_SECS: i64 = 20;
/// How often a worker process renews the leases of the jobs it holds.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(4);

/// A job a worker holds.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub submission_id: i64,
    pub student_id: String,
    pub exercise: String,
    pub source: String,
    pub submitted_at: String,
    /// How many times it has been claimed, this claim included.
    pub attempts: i64,
}

/// A worker's name in the `owner` column: host, process id, a random tag
/// for this start of the process, and the worker's number.
pub fn owner_name(run: &str, worker: usize) -> String {
    format!("{}:{}:{run}:{worker}", hostname(), std::process::id())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown".into()
    }
}

/// Jobs left running by a process of this machine that no longer exists
/// (a grader killed and started again) go back to the queue now rather
/// than after their lease. Jobs of other machines, or of live processes,
/// are left to their leases.
pub fn requeue_orphans(c: &mut Conn) -> Result<usize> {
    let owners: Vec<String> =
        c.query_map("SELECT DISTINCT owner FROM jobs WHERE state = 'running' AND owner IS NOT NULL", (), |r| r.get(0))?;
    let here = hostname();
    let mut n = 0;
    for owner in owners {
        let mut parts = owner.split(':');
        let orphaned = match (parts.next(), parts.next().and_then(|p| p.parse::<i32>().ok())) {
            // SAFETY: signal 0 only checks that the process exists.
            (Some(host), Some(pid)) => {
                host == here
                    && unsafe { libc::kill(pid, 0) } != 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
            }
            // "pid-run-i": a grader from before worker processes, which
            // ran on this machine only, and is gone since this one runs.
            _ => true,
        };
        if orphaned {
            let tx = c.transaction()?;
            tx.execute(
                "UPDATE submissions SET status = 'queued' WHERE id IN (SELECT submission_id FROM jobs WHERE owner = ?1)",
                [&owner],
            )?;
            n += tx.execute(
                "UPDATE jobs SET state = 'queued', owner = NULL, lease_until = NULL WHERE owner = ?1 AND state = 'running'",
                [&owner],
            )?;
            tx.commit()?;
        }
    }
    Ok(n)
}

/// Takes the oldest queued job (or one whose lease expired). Fair across
/// students: a student whose job is being graded waits behind every
/// student who has none running, so one student's flood holds at most one
/// worker while others wait. On Postgres, rows another worker is claiming
/// at this moment are skipped, not waited for.
pub fn claim(c: &mut Conn, owner: &str) -> Result<Option<Claimed>> {
    let lock = match c.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR UPDATE OF j SKIP LOCKED",
    };
    // Running jobs per student are counted once (not per candidate), and
    // the clock is read once.
    let pick = format!(
        "WITH clock AS (SELECT unixepoch() AS now)
         SELECT j.submission_id FROM clock, jobs j JOIN submissions s ON s.id = j.submission_id
         LEFT JOIN (SELECT rs.student_id, count(*) AS n FROM clock c, jobs r JOIN submissions rs ON rs.id = r.submission_id
                    WHERE r.state = 'running' AND r.lease_until >= c.now GROUP BY rs.student_id) busy
             ON busy.student_id = s.student_id
         WHERE j.state = 'queued' OR (j.state = 'running' AND j.lease_until < clock.now)
         ORDER BY coalesce(busy.n, 0), j.submission_id
         LIMIT 1 {lock}"
    );
    let tx = c.transaction()?;
    let Some(id) = tx.query_opt(&pick, (), |r| r.get::<i64>(0))? else { return Ok(None) };
    let attempts: i64 = tx.query_row(
        "UPDATE jobs SET state = 'running', owner = ?2, lease_until = unixepoch() + ?3, attempts = attempts + 1
         WHERE submission_id = ?1 RETURNING attempts",
        params![id, owner, LEASE_SECS],
        |r| r.get(0),
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
                attempts,
            })
        },
    )?;
    tx.commit()?;
    Ok(Some(claimed))
}

/// Renews the lease of every job `owner` holds; returns how many.
pub fn heartbeat(c: &Conn, owner: &str) -> Result<usize> {
    c.execute(
        "UPDATE jobs SET lease_until = unixepoch() + ?2 WHERE owner = ?1 AND state = 'running'",
        params![owner, LEASE_SECS],
    )
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
pub fn complete(c: &mut Conn, owner: &str, id: i64, verdict: Verdict, late: bool, feedback: &Feedback) -> Result<bool> {
    let tx = c.transaction()?;
    // The lease holder only: a worker whose lease was taken over writes
    // nothing (on Postgres this waits for the other claim and sees it).
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

/// Gives a job back to the queue (the grader failed, not the submission);
pub fn release(c: &mut Conn, owner: &str, id: i64) -> Result<()> {
    let tx = c.transaction()?;
    let ours = tx.execute(
        "UPDATE jobs SET state = 'queued', owner = NULL, lease_until = NULL WHERE submission_id = ?1 AND owner = ?2",
        params![id, owner],
    )?;
    if ours > 0 {
        tx.execute("UPDATE submissions SET status = 'queued' WHERE id = ?1", [id])?;
    }
    tx.commit()
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
pub fn enqueue_regrade(c: &mut Conn, scope: &RegradeScope, instructor: &str) -> Result<Regrade> {
    let (exercise, submission) = match scope {
        RegradeScope::All => (None, None),
        RegradeScope::Exercise(e) => (Some(e.as_str()), None),
        RegradeScope::Submission(id) => (None, Some(*id)),
    };
    let tx = c.transaction()?;
    let now = crate::db::now_rfc3339();
    let regrade: i64 = tx.query_row(
        "INSERT INTO regrades (exercise, submission_id, instructor, started_at, total) VALUES (?1, ?2, ?3, ?4, 0)
         RETURNING id",
        params![exercise, submission, instructor, now],
        |r| r.get(0),
    )?;
    let picked = "FROM submissions s WHERE (CAST(?1 AS TEXT) IS NULL OR s.exercise = ?1)
        AND (CAST(?2 AS BIGINT) IS NULL OR s.id = ?2)
        AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.submission_id = s.id)";
    tx.execute(
        &format!(
            "INSERT INTO regrade_items (regrade_id, submission_id, old_status, old_score)
             SELECT CAST(?3 AS BIGINT), s.id, s.status, (SELECT c.score FROM counted_scores c WHERE c.submission_id = s.id) {picked}"
        ),
        params![exercise, submission, regrade],
    )?;
    let n = tx.execute(
        &format!(
            "INSERT INTO jobs (submission_id, state, queued_at) SELECT s.id, 'queued', CAST(?3 AS TEXT) {picked}
             ON CONFLICT DO NOTHING"
        ),
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
pub fn pending(c: &Conn) -> Result<i64> {
    c.query_row("SELECT count(*) FROM jobs", (), |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::ratelimit::SubmissionLimit;
    use crate::submissions::{store, Stored};

    #[test]
    fn a_student_with_a_job_running_waits_behind_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::test_support::open_db(dir.path());
        let unlimited = SubmissionLimit::new(0, Duration::from_secs(60));
        let submit = |student: &str| {
            db.with(|c| {
                c.execute(
                    "INSERT INTO students (id, name, email) VALUES (?1, ?1, '') ON CONFLICT DO NOTHING",
                    [student],
                )?;
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

#[cfg(test)]
mod lease_tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use super::*;
    use crate::test_support::{open_db, submitted};

    fn feedback() -> Feedback {
        Feedback {
            score: Some(5.0),
            max_score: 5.0,
            output: "5 of 5".into(),
            tests: vec![],
            diagram_svg: None,
            whole_run: None,
            replay: None,
            hidden_failed: Default::default(),
        }
    }

    fn lease_left(c: &Conn, id: i64) -> i64 {
        c.query_row("SELECT lease_until - unixepoch() FROM jobs WHERE submission_id = ?1", [id], |r| r.get(0)).unwrap()
    }

    /// A worker that stops beating loses its job to another after the
    /// lease; then only the new holder's result is written, once.
    #[test]
    fn a_silent_workers_job_goes_to_another_and_only_the_holder_commits() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(dir.path());
        let id = submitted(&db, "warmup", "s1");
        db.with(|c| {
            assert_eq!(claim(c, "w1")?.unwrap().submission_id, id);
            assert!(claim(c, "w2")?.is_none(), "held under w1's lease");
            // The heartbeat renews the lease; another owner's does nothing.
            c.execute("UPDATE jobs SET lease_until = unixepoch() + 5", ())?;
            assert_eq!(heartbeat(c, "w1")?, 1);
            assert!(lease_left(c, id) > 5, "renewed to a full lease");
            assert_eq!(heartbeat(c, "w2")?, 0);
            // w1 goes silent: its lease runs out.
            c.execute("UPDATE jobs SET lease_until = unixepoch() - 1", ())?;
            let again = claim(c, "w2")?.expect("an expired lease is taken");
            assert_eq!((again.submission_id, again.attempts), (id, 2));
            assert!(!complete(c, "w1", id, Verdict::Graded, false, &feedback())?, "w1 lost the job");
            assert!(complete(c, "w2", id, Verdict::Graded, false, &feedback())?);
            assert!(!complete(c, "w2", id, Verdict::Graded, false, &feedback())?, "once only");
            let writes: i64 = c.query_row("SELECT result_writes FROM submissions WHERE id = ?1", [id], |r| r.get(0))?;
            assert_eq!(writes, 1);
            Ok(())
        })
        .unwrap();
    }

    /// Workers claiming at the same time (threads with connections of their
    /// own, as processes on many machines) never get the same job.
    #[test]
    fn concurrent_claims_take_each_job_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(open_db(dir.path()));
        let ids: BTreeSet<i64> = (0..40).map(|i| submitted(&db, "warmup", &format!("s{}", i % 8))).collect();
        let threads: Vec<_> = (0..4)
            .map(|w| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    while let Some(job) = db.with(|c| claim(c, &format!("w{w}"))).unwrap() {
                        mine.push(job.submission_id);
                    }
                    mine
                })
            })
            .collect();
        let claimed: Vec<i64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert_eq!(claimed.len(), ids.len(), "no job twice: {claimed:?}");
        assert_eq!(claimed.into_iter().collect::<BTreeSet<_>>(), ids);
    }
}

#[cfg(test)]
mod wake_tests {
    use std::time::Duration;

    use crate::db::{Backend, Db};
    use crate::test_support::{open_db, submitted};

    /// On Postgres a queued job (a submission, a job given back) wakes a
    /// listener on another connection; taking a job does not.
    #[test]
    fn queued_jobs_notify_listeners_and_claims_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(dir.path());
        if db.backend() != Backend::Postgres {
            return; // SQLite's workers share a process and are woken directly.
        }
        let listener = db.connect().unwrap();
        listener.execute_batch("LISTEN distlab_jobs").unwrap();
        let id = submitted(&db, "warmup", "s1");
        assert!(Db::wait_for_jobs(&listener, Duration::from_secs(5)).unwrap(), "a new job wakes");
        db.with(|c| super::claim(c, "w")).unwrap().unwrap();
        assert!(!Db::wait_for_jobs(&listener, Duration::from_millis(300)).unwrap(), "a claim is no news");
        db.with(|c| super::release(c, "w", id)).unwrap();
        assert!(Db::wait_for_jobs(&listener, Duration::from_secs(5)).unwrap(), "a job given back wakes");
    }
}
