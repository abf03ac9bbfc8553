//! The worker pool: N threads take jobs from the SQLite queue, each grades
//! on a sandbox slot of its own and commits the result. Plain threads, not
//! async tasks: compiling and checking block and burn CPU.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::cache::CompileCache;
use crate::db::Db;
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

/// Starts `n` workers.
pub fn spawn(grader: Arc<Grader>, n: usize) -> Vec<std::thread::JoinHandle<()>> {
    quiet_worker_panics();
    let run_id = crate::auth::random_token();
    (0..n)
        .map(|i| {
            let g = Arc::clone(&grader);
            let owner = format!("{}-{}-{i}", std::process::id(), &run_id[..8]);
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || work(&g, &owner))
                .expect("spawn worker")
        })
        .collect()
}

fn work(g: &Grader, owner: &str) {
    while !g.stop.load(Ordering::Relaxed) {
        let seen = g.wake.current();
        match g.db.with(|c| queue::claim(c, owner)) {
            Ok(Some(job)) => {
                if let Err(e) = process(g, owner, &job) {
                    // The job stays running under our lease and is taken
                    // again when it expires (or at the next start).
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
    let seed = secret::student_seed(&g.secret, &job.student_id, &job.exercise);
    let slot = g.slots.acquire();
    let (graded, timings) = grade(&g.prepared, slot.user(), &g.cache, &exercise, &job.source, seed);
    drop(slot);
    if let Graded::Infrastructure(why) = &graded {
        let tries = g.db.with(|c| queue::claim_count(c, job.submission_id))?;
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
