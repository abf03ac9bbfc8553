//! The worker pool: N threads take jobs from the database's queue, each grades
//! on a sandbox slot of its own and commits the result. Plain threads, not
//! async tasks: compiling and checking block and burn CPU.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::cache::CompileCache;
use crate::db::{Backend, Db};
use crate::grading::{grade, Graded};
use crate::prepare::Prepared;
use crate::queue::{self, Claimed, Verdict};
use crate::sandbox::SlotPool;
use crate::{catalogue, deadlines, feedback, secret};

/// Everything a worker needs, shared by all of them.
pub struct Grader {
    pub db: Arc<Db>,
    pub prepared: Prepared,
    pub slots: SlotPool,
    pub cache: CompileCache,
    pub secret: Vec<u8>,
    pub wake: Wake,
    pub stop: AtomicBool,
}

impl Grader {
    /// A grader with `slots` sandbox slots (one per worker) on `prepared`.
    pub fn new(db: Arc<Db>, prepared: Prepared, slots: usize, cache_dir: &std::path::Path) -> Result<Grader> {
        Ok(Grader {
            secret: secret::course_secret(&db)?,
            db,
            slots: SlotPool::system(slots, &prepared.root.join("slots"))?,
            cache: CompileCache::new(cache_dir, &prepared)?,
            prepared,
            wake: Wake::default(),
            stop: Default::default(),
        })
    }

    /// Asks the workers to stop after the job each is grading.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake.notify();
    }

    /// Why the prepared directory no longer fits this grader, if it does
    /// not (an admin prepared it again for other course sources).
    fn stale(&self) -> Option<String> {
        use crate::stamp::Stamp;
        match Stamp::read(&self.prepared.root) {
            Ok(Some(s)) if s.course_sources == Stamp::expected_sources() => None,
            Ok(_) => Some(format!(
                "{} was prepared from other course sources than this grader was built from: start a grader built \
                 from those sources, or prepare the directory again with this one",
                self.prepared.root.display()
            )),
            Err(e) => Some(format!("{e:#}")),
        }
    }
}

/// Wakes idle workers when a job arrives (they also poll, so a missed wake
/// costs at most the poll interval).
#[derive(Default)]
pub struct Wake {
    generation: Mutex<u64>,
    cond: Condvar,
}

impl Wake {
    pub fn notify(&self) {
        *self.generation.lock().unwrap() += 1;
        self.cond.notify_all();
    }

    fn wait(&self, seen: u64, timeout: Duration) -> u64 {
        let g = self.generation.lock().unwrap();
        let (g, _) = self.cond.wait_timeout_while(g, timeout, |g| *g == seen).unwrap();
        *g
    }

    fn current(&self) -> u64 {
        *self.generation.lock().unwrap()
    }
}

const POLL: Duration = Duration::from_millis(500);
/// How often a worker re-reads the prepared directory's stamp.
const STAMP_CHECK: Duration = Duration::from_secs(5);
/// Tries of a job whose grading failed for the grader's own reasons.
const MAX_TRIES: i64 = 3;
/// Pause after such a failure (a missing sandbox should not spin).
const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// A failing node host surfaces as a panic inside the check (the simulator
/// catches it and fails the run): expected, so on worker threads panics go
/// to the debug log instead of stderr. Other threads keep the default hook.
fn quiet_worker_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name().is_some_and(|n| n.starts_with("worker-")) {
                tracing::debug!("panic in a check (a failing node host): {info}");
            } else {
                default(info);
            }
        }));
    });
}

/// Starts `n` workers, the heartbeat that keeps their leases, and (on
/// Postgres) the listener that wakes them when a job is queued anywhere.
/// Jobs a dead process of this machine left running are queued first.
pub fn spawn(grader: Arc<Grader>, n: usize) -> Vec<std::thread::JoinHandle<()>> {
    quiet_worker_panics();
    match grader.db.with(queue::requeue_orphans) {
        Ok(0) => {}
        Ok(requeued) => tracing::warn!(requeued, "jobs left running by a process that died are queued again"),
        Err(e) => tracing::error!("queueing orphaned jobs again: {e:#}"),
    }
    let run_id = crate::auth::random_token();
    let owners: Vec<String> = (0..n).map(|i| queue::owner_name(&run_id[..8], i)).collect();
    let mut threads: Vec<_> = owners
        .iter()
        .enumerate()
        .map(|(i, owner)| {
            let (g, owner) = (Arc::clone(&grader), owner.clone());
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || work(&g, &owner))
                .expect("spawn worker")
        })
        .collect();
    let g = Arc::clone(&grader);
    threads.push(
        std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || heartbeat(&g, &owners))
            .expect("spawn heartbeat"),
    );
    if grader.db.backend() == Backend::Postgres {
        let g = Arc::clone(&grader);
        threads.push(
            std::thread::Builder::new().name("job-listener".into()).spawn(move || listen(&g)).expect("spawn listener"),
        );
    }
    threads
}

/// Renews this process's leases until stopped. A lease it fails to renew
/// (the database unreachable for longer than a lease) may go to another
/// worker, whose commit then wins; ours is refused.
fn heartbeat(g: &Grader, owners: &[String]) {
    let mut last = std::time::Instant::now();
    while !g.stop.load(Ordering::Relaxed) {
        if last.elapsed() >= queue::HEARTBEAT {
            last = std::time::Instant::now();
            for owner in owners {
                if let Err(e) = g.db.with(|c| queue::heartbeat(c, owner)) {
                    tracing::error!("renewing the lease of {owner}: {e:#}");
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Wakes the workers on each `NOTIFY distlab_jobs` (sent by the jobs
/// table's trigger at commit, from whichever machine queued the job).
/// Reconnects after an error; the workers' poll covers the gap.
fn listen(g: &Grader) {
    while !g.stop.load(Ordering::Relaxed) {
        let conn = match g.db.connect().and_then(|c| c.execute_batch("LISTEN distlab_jobs").map(|()| c)) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("listening for queued jobs: {e:#}");
                std::thread::sleep(POLL * 4);
                continue;
            }
        };
        while !g.stop.load(Ordering::Relaxed) {
            match Db::wait_for_jobs(&conn, POLL) {
                Ok(true) => g.wake.notify(),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!("job notifications: {e:#}");
                    break;
                }
            }
        }
    }
}

fn work(g: &Grader, owner: &str) {
    let mut refused: Option<String> = None;
    let mut checked: Option<std::time::Instant> = None;
    while !g.stop.load(Ordering::Relaxed) {
        let seen = g.wake.current();
        // A prepared directory replaced while we run (new course sources)
        // would grade against the wrong course: take no job until it
        // matches this grader again, and say why once. Read the stamp at
        // most every few seconds, not before every claim.
        if checked.is_none_or(|t| t.elapsed() >= STAMP_CHECK) {
            checked = Some(std::time::Instant::now());
            let stale = g.stale();
            if let Some(why) = stale.as_ref().filter(|why| refused.as_ref() != Some(*why)) {
                tracing::error!("taking no jobs: {why}");
            }
            refused = stale;
        }
        if refused.is_some() {
            g.wake.wait(seen, POLL);
            continue;
        }
        match g.db.with(|c| queue::claim(c, owner)) {
            Ok(Some(job)) => {
                if let Err(e) = process(g, owner, &job) {
                    // The job stays running under our lease and is taken
                    // again when it expires.
                    tracing::error!(submission = job.submission_id, "grading failed: {e:#}");
                }
            }
            Ok(None) => {
                g.wake.wait(seen, POLL);
            }
            Err(e) => {
                tracing::error!("claiming a job failed: {e:#}");
                std::thread::sleep(POLL);
            }
        }
    }
}

/// Grades one claimed job and commits its result.
pub fn process(g: &Grader, owner: &str, job: &Claimed) -> Result<()> {
    let Some(exercise) = catalogue::gradable(&job.exercise) else {
        let spec =
            catalogue::spec(&job.exercise).ok_or_else(|| anyhow::anyhow!("unknown exercise {}", job.exercise))?;
        let fb = feedback::error(spec, "This exercise is not graded by the server yet; your submission is kept.");
        g.db.with(|c| queue::complete(c, owner, job.submission_id, Verdict::Error, false, &fb))?;
        return Ok(());
    };
    if job.attempts > MAX_TRIES {
        // Workers died on it (or lost their leases) again and again: stop
        // here rather than let one submission take every worker down.
        tracing::error!(
            submission = job.submission_id,
            attempts = job.attempts,
            "giving up on a job that was claimed too often"
        );
        let fb =
            feedback::error(exercise.spec, "The grader failed to run your submission; an instructor will look at it.");
        g.db.with(|c| queue::complete(c, owner, job.submission_id, Verdict::Error, false, &fb))?;
        return Ok(());
    }
    let seed = secret::student_seed(&g.secret, &job.student_id, &job.exercise);
    let slot = g.slots.acquire();
    let (graded, timings) = grade(&g.prepared, slot.user(), &g.cache, &exercise, &job.source, seed);
    drop(slot);
    if let Graded::Infrastructure(why) = &graded {
        let tries = job.attempts;
        if tries < MAX_TRIES {
            tracing::error!(submission = job.submission_id, tries, "grader failure, job queued again: {why}");
            g.db.with(|c| queue::release(c, owner, job.submission_id))?;
            std::thread::sleep(RETRY_PAUSE);
            return Ok(());
        }
    }
    let submitted: DateTime<Utc> = DateTime::parse_from_rfc3339(&job.submitted_at)?.with_timezone(&Utc);
    let lateness = g.db.with(|c| deadlines::for_student(c, &job.student_id, &job.exercise))?.lateness(submitted);
    let (verdict, fb) = match graded {
        Graded::Checked { report, notes } => {
            let mut fb = feedback::from_report(&report, exercise.spec, lateness.penalty, lateness.note.as_deref());
            for note in notes {
                fb.output.push('\n');
                fb.output.push_str(&note);
            }
            fb.output = feedback::capped(fb.output, feedback::MAX_OUTPUT);
            (Verdict::Graded, fb)
        }
        Graded::CompileError { diagnostics, truncated } => {
            (Verdict::CompileError, feedback::compile_error(exercise.spec, &diagnostics, truncated))
        }
        Graded::Error(why) => (Verdict::Error, feedback::error(exercise.spec, &why)),
        Graded::Infrastructure(why) => {
            let fb = feedback::error(
                exercise.spec,
                "The grader failed to run your submission; an instructor will look at it.",
            );
            tracing::error!(submission = job.submission_id, "giving up after {MAX_TRIES} tries: {why}");
            (Verdict::Error, fb)
        }
    };
    let committed = g.db.with(|c| queue::complete(c, owner, job.submission_id, verdict, lateness.late, &fb))?;
    tracing::info!(
        submission = job.submission_id,
        status = verdict.as_str(),
        score = ?fb.score,
        compile_s = timings.compile_secs,
        cached = timings.cached,
        check_s = timings.check_secs,
        committed,
        "graded"
    );
    Ok(())
}
