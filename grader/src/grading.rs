//! Grading one submission: compile (cached) in the sandbox, start the binary
//! in the sandbox as a node host, and run the exercise's check in this
//! process against it. Nothing the program prints is a verdict: the
//! simulator, scenarios and monitors all run here.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use distlab::catalogue::{Report, Run, Scope, Visibility};
use distlab::check::Status;
use distlab::remote::{Connection, SHARED_PROCESS_FLAG};

use crate::cache::{CompileCache, Compiled};
use crate::catalogue::Gradable;
use crate::compile::{compile, CompileOptions};
use crate::prepare::Prepared;
use crate::run::{host_limits, start_host, RunOptions};
use crate::sandbox::{LimitHit, SandboxUser};

/// How grading ended, before the late rule.
#[derive(Debug)]
pub enum Graded {
    Checked {
        report: Report,
        /// Sentences for the student beside the checks: how the node host
        /// ended if it hit a limit; nodes that share memory.
        notes: Vec<String>,
    },
    CompileError {
        diagnostics: String,
        truncated: bool,
    },
    /// The grader could not judge (a panic in its own check).
    Error(String),
    /// The grader's machinery failed (sandbox set-up, disk): not the
    /// submission's fault, so the job is tried again.
    Infrastructure(String),
}

/// Timings of one grading, for logs and the benchmark.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timings {
    pub compile_secs: f64,
    pub cached: bool,
    pub check_secs: f64,
}

pub fn grade(
    prepared: &Prepared,
    user: SandboxUser,
    cache: &CompileCache,
    exercise: &Gradable,
    source: &str,
    seed: u64,
) -> (Graded, Timings) {
    let mut timings = Timings::default();
    let program = exercise.program(source);
    let key = cache.key(seed, &program);
    let t = Instant::now();
    let compiled = match cache.get(&key) {
        Some(c) => {
            timings.cached = true;
            c
        }
        None => {
            let staging = cache.staging(&key);
            let out = match compile(prepared, user, program.as_bytes(), &staging, &CompileOptions::default()) {
                Ok(out) => out,
                Err(e) => return (Graded::Infrastructure(format!("compile sandbox: {e}")), timings),
            };
            let entry = match out.binary {
                Some(bin) => Compiled::Binary(bin),
                None => {
                    let mut diagnostics = out.diagnostics;
                    if let Some(limit) = out.sandbox.limit {
                        diagnostics.push_str(&format!("\nThe compiler was stopped: {}.", limit_sentence(limit)));
                    }
                    Compiled::Failed { diagnostics, truncated: out.diagnostics_truncated }
                }
            };
            match cache.put(&key, entry) {
                Ok(c) => c,
                Err(e) => return (Graded::Infrastructure(format!("compile cache: {e}")), timings),
            }
        }
    };
    timings.compile_secs = t.elapsed().as_secs_f64();
    let binary = match compiled {
        Compiled::Binary(b) => b,
        Compiled::Failed { diagnostics, truncated } => {
            return (Graded::CompileError { diagnostics, truncated }, timings)
        }
    };

    let t = Instant::now();
    let graded = check_isolated(prepared, user, exercise, &binary, seed);
    timings.check_secs = t.elapsed().as_secs_f64();
    (graded, timings)
}

/// Public and hidden runs, each in a node host of its own (nothing a hidden
/// run sees can reach a public verdict, diagram or note), every node in a
/// process of its own. A public failure is then tried once more with all
/// nodes in one process: a check that passes only there means the nodes
/// talk outside messages, and the student is told so.
fn check_isolated(prepared: &Prepared, user: SandboxUser, exercise: &Gradable, binary: &Path, seed: u64) -> Graded {
    let public = match check_in_host(prepared, user, exercise, binary, &Run::public(seed), HostMode::Isolated) {
        Ok(r) => r,
        Err(g) => return g,
    };
    let hidden = match check_in_host(prepared, user, exercise, binary, &Run::hidden(seed), HostMode::Isolated) {
        Ok(r) => r,
        Err(g) => return g,
    };
    if let Some(note) = &hidden.host_note {
        // Not for the student before the deadline: the hidden runs fail,
        // and that shows as their pass/fail only.
        tracing::info!("hidden runs' host: {note}");
    }
    let spec = exercise.spec;
    let visibility = |check: &str| spec.check_spec(check).map(|c| c.visibility);
    let mut report = public.report;
    report.verdicts.retain(|v| visibility(&v.check) == Some(Visibility::Public));
    report
        .verdicts
        .extend(hidden.report.verdicts.into_iter().filter(|v| visibility(&v.check) == Some(Visibility::Hidden)));
    let mut notes: Vec<String> = public.host_note.into_iter().collect();
    let failing = failing_public_checks(&report, spec);
    // Only node exercises have nodes that could share memory; a function
    // host ignores the flag, so the second run would tell nothing.
    let has_nodes = spec.check_spec(distlab::check::NODES_RUN_CLEANLY).is_some();
    if has_nodes && !failing.is_empty() {
        if let Ok(shared) = check_in_host(prepared, user, exercise, binary, &Run::public(seed), HostMode::Shared) {
            let still_failing = failing_public_checks(&shared.report, spec);
            let passing_shared: Vec<String> =
                failing.iter().filter(|name| !still_failing.contains(name)).cloned().collect();
            if !passing_shared.is_empty() {
                let note = shared_memory_note(&passing_shared);
                for v in report.verdicts.iter_mut().filter(|v| !v.passed() && passing_shared.contains(&v.check)) {
                    v.message = format!("{} ({SHARED_MEMORY_HINT})", v.message);
                }
                notes.push(note);
            }
        }
    }
    Graded::Checked { report, notes }
}

/// Said of a check that fails with one process per node and passes with
/// all nodes in one process.
pub const SHARED_MEMORY_HINT: &str =
    "it passes when all nodes share one process: your nodes communicate outside messages";

fn shared_memory_note(checks: &[String]) -> String {
    format!(
        "Your nodes did not do it by messages. On the grader every node runs in a process of its own, so nodes \
         share nothing but the messages they send; {} fail(s) that way but pass(es) when all nodes share one \
         process (as in the notebook's :check). Your nodes pass information through memory they share (a static, a \
         thread-local, a global), not through ctx.send.",
        checks.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ")
    )
}

fn failing_public_checks(report: &Report, spec: &distlab::catalogue::ExerciseSpec) -> Vec<String> {
    report.results(spec, Scope::Public).into_iter().filter(|r| r.status != Status::Pass).map(|r| r.name).collect()
}

/// How the node host keeps its nodes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HostMode {
    /// One process per node: what every verdict comes from.
    Isolated,
    /// All nodes in one process: only to tell a student why they failed.
    Shared,
}

struct HostReport {
    report: Report,
    /// A sentence about how the node host ended, if it hit a limit.
    host_note: Option<String>,
}

/// Starts the binary as a node host in the sandbox and runs the exercise's
/// check for `run` against it, in this process.
fn check_in_host(
    prepared: &Prepared,
    user: SandboxUser,
    exercise: &Gradable,
    binary: &Path,
    run: &Run,
    mode: HostMode,
) -> Result<HostReport, Graded> {
    let args = match mode {
        HostMode::Isolated => Vec::new(),
        HostMode::Shared => vec![SHARED_PROCESS_FLAG.to_string()],
    };
    let opts = RunOptions { limits: host_limits(), args, node_host: true };
    let mut host =
        start_host(prepared, user, binary, &opts).map_err(|e| Graded::Infrastructure(format!("run sandbox: {e}")))?;
    let (Some(stdin), Some(stdout)) = (host.sandbox.stdin.take(), host.sandbox.stdout.take()) else {
        return Err(Graded::Infrastructure("the sandbox gave no pipes".into()));
    };
    let connection = Connection::new(Box::new(TimedReader::new(stdout, HOST_SILENCE)), Box::new(stdin));
    let banner = connection.borrow_mut().expect_banner();
    if let Err(started) = banner {
        // No banner, no student code ran: the sandbox itself failed.
        let why = match host.finish() {
            Ok(o) => String::from_utf8_lossy(&o.stderr.bytes).trim().to_owned(),
            Err(e) => e.to_string(),
        };
        return Err(Graded::Infrastructure(format!("the node host did not come up ({started}): {why}")));
    }
    let checked = std::panic::catch_unwind(AssertUnwindSafe(|| (exercise.check)(connection, run)));
    let outcome = host.finish();
    let report = checked.map_err(|_| {
        Graded::Error("The grader's check failed unexpectedly; your submission will be looked at.".into())
    })?;
    let host_note = match outcome {
        Ok(o) => o.limit.map(|l| format!("Your program was stopped: {}.", limit_sentence(l))),
        Err(e) => Some(format!("The sandbox reported: {e}")),
    };
    Ok(HostReport { report, host_note })
}

/// How long the grader waits for any answer of a node host. The host
/// itself gives each node one second per call ([`distlab`]'s isolated
/// host); this only catches a host that stops answering altogether.
const HOST_SILENCE: Duration = Duration::from_secs(5);

/// A pipe read with a time limit per read: a silent host becomes an error
/// the connection reports, instead of holding the worker.
struct TimedReader {
    file: std::fs::File,
    timeout: Duration,
}

impl TimedReader {
    fn new(file: std::fs::File, timeout: Duration) -> Self {
        TimedReader { file, timeout }
    }
}

impl Read for TimedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut pfd = libc::pollfd { fd: self.file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let millis = self.timeout.as_millis().min(i32::MAX as u128) as i32;
        loop {
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, millis) };
            if ready < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if ready == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {} s", self.timeout.as_secs()),
                ));
            }
            return self.file.read(buf);
        }
    }
}

fn limit_sentence(l: LimitHit) -> &'static str {
    match l {
        LimitHit::WallTime => "it ran out of wall-clock time",
        LimitHit::Cpu => "it used up its CPU time",
        LimitHit::Memory => "it ran out of memory",
        LimitHit::FileSize => "it wrote too large a file",
        LimitHit::OutputCap => "it printed too much",
    }
}
