//! The interactive sandbox (a node host's pipes handed to the grader): the
//! caller talks over stdin/stdout while the supervisor keeps the limits,
//! and nothing of the sandbox outlives `finish` or a drop.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use common::*;
use distlab_grader::run::{start_host, RunOptions};
use distlab_grader::{LimitHit, Limits, Termination};

const ECHO: &str = r#"
use std::io::{BufRead, Write};
fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        writeln!(out, "echo {line}").unwrap();
        out.flush().unwrap();
    }
    if std::env::args().any(|a| a == "linger") {
        loop { std::hint::spin_loop(); } // ignores the end of its input
    }
}
"#;

fn opts(wall: u64, args: &[&str]) -> RunOptions {
    RunOptions {
        limits: Limits { wall: Duration::from_secs(wall), ..Limits::run() },
        args: args.iter().map(|s| s.to_string()).collect(),
        node_host: false,
    }
}

#[test]
fn talks_over_pipes_and_ends_cleanly() {
    let slot = pool().acquire();
    let dir = tempdir();
    let bin = build(slot.user(), ECHO, dir.path());
    let mut host = start_host(prepared(), slot.user(), &bin, &opts(10, &[])).unwrap();
    let mut stdin = host.sandbox.stdin.take().unwrap();
    let mut stdout = BufReader::new(host.sandbox.stdout.take().unwrap());
    for i in 0..100 {
        writeln!(stdin, "line {i}").unwrap();
        let mut answer = String::new();
        stdout.read_line(&mut answer).unwrap();
        assert_eq!(answer, format!("echo line {i}\n"));
    }
    drop((stdin, stdout));
    let out = host.finish().unwrap();
    assert_eq!(out.termination, Termination::Exited(0), "{out:?}");
    assert!(out.limit.is_none());
    assert_still_grades(slot.user());
}

#[test]
fn a_host_that_ignores_eof_is_killed_after_a_short_grace() {
    let slot = pool().acquire();
    let dir = tempdir();
    let bin = build(slot.user(), ECHO, dir.path());
    let host = start_host(prepared(), slot.user(), &bin, &opts(30, &["linger"])).unwrap();
    let t = Instant::now();
    let out = host.finish().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "finish waited {:?}", t.elapsed());
    assert_eq!(out.termination, Termination::Signaled(libc::SIGKILL), "{out:?}");
    assert_no_leftovers(slot.user());
}

#[test]
fn the_wall_clock_still_holds_and_a_drop_kills() {
    let slot = pool().acquire();
    let dir = tempdir();
    let bin = build(slot.user(), ECHO, dir.path());
    // Wall limit while the caller waits on a reply that never comes.
    let mut host = start_host(prepared(), slot.user(), &bin, &opts(2, &["linger"])).unwrap();
    let stdin = host.sandbox.stdin.take().unwrap();
    drop(stdin); // EOF: the program spins without answering
    let mut stdout = BufReader::new(host.sandbox.stdout.take().unwrap());
    let t = Instant::now();
    let mut line = String::new();
    assert_eq!(stdout.read_line(&mut line).unwrap(), 0, "the kill closes the pipe");
    assert!(t.elapsed() < Duration::from_secs(6));
    let out = host.finish().unwrap();
    assert_eq!(out.limit, Some(LimitHit::WallTime), "{out:?}");
    // Dropped without finish: killed at once, nothing left.
    let host = start_host(prepared(), slot.user(), &bin, &opts(30, &["linger"])).unwrap();
    let t = Instant::now();
    drop(host);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_still_grades(slot.user());
}
