//! Grading one submission: compile (cached) in the sandbox, start the binary
//! in the sandbox as a node host, and run the exercise's check in this
//! process against it. Nothing the program prints is a verdict: the
//! simulator, scenarios and monitors all run here.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use distlab::catalogue::{Report, Run};
use distlab::remote::Connection;

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
        /// A sentence about how the node host ended, if it hit a limit.
        host_note: Option<String>,
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
    let opts = RunOptions { limits: host_limits(), args: Vec::new() };
    let mut host = match start_host(prepared, user, &binary, &opts) {
        Ok(h) => h,
        Err(e) => return (Graded::Infrastructure(format!("run sandbox: {e}")), timings),
    };
    let (Some(stdin), Some(stdout)) = (host.sandbox.stdin.take(), host.sandbox.stdout.take()) else {
        return (Graded::Infrastructure("the sandbox gave no pipes".into()), timings);
    };
    let connection = Connection::new(Box::new(stdout), Box::new(stdin));
    let run = Run::all(seed);
    let checked = std::panic::catch_unwind(AssertUnwindSafe(|| (exercise.check)(connection, &run)));
    let outcome = host.finish();
    timings.check_secs = t.elapsed().as_secs_f64();
    let report = match checked {
        Ok(r) => r,
        Err(_) => {
            return (
                Graded::Error("The grader's check failed unexpectedly; your submission will be looked at.".into()),
                timings,
            )
        }
    };
    let host_note = match outcome {
        Ok(o) => o.limit.map(|l| format!("Your program was stopped: {}.", limit_sentence(l))),
        Err(e) => Some(format!("The sandbox reported: {e}")),
    };
    (Graded::Checked { report, host_note }, timings)
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
