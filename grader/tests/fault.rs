//! The fault test: a burst of 200 submissions from 50 students, the server
//! killed with SIGKILL in the middle and started again, twice: once while
//! submissions are still arriving, once while they are being graded. Clients retry what
//! failed with the same idempotency key, as the kernel does. Every
//! submission must be stored once and graded exactly once, none lost.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const STUDENTS: usize = 50;
const PER_STUDENT: usize = 4;

#[test]
fn a_killed_server_loses_nothing_and_grades_each_submission_once() {
    let started = Instant::now();
    let dir = tempdir();
    let students = roster(dir.path(), STUDENTS);
    let good = data("warmup_good.rs");
    let wrong = data("warmup_wrong.rs");
    // A few distinct programs: some compiles, the rest from the cache.
    let sources = [good.clone(), wrong.clone(), format!("{good}\n// variant\n"), format!("{wrong}\n// variant\n")];
    let jobs: Vec<(String, String, usize)> = (0..STUDENTS * PER_STUDENT)
        .map(|i| {
            let (_, token) = &students[i % STUDENTS];
            (token.clone(), format!("burst-{i}"), i % sources.len())
        })
        .collect();

    let mut srv = Server::start(dir.path(), 2, &["--rate-limit", "0"]);
    let url = Arc::new(Mutex::new(srv.url.clone()));
    let accepted = Arc::new(AtomicUsize::new(0));
    let ids: Arc<Mutex<Vec<Option<i64>>>> = Arc::new(Mutex::new(vec![None; jobs.len()]));
    let next = Arc::new(AtomicUsize::new(0));
    let jobs = Arc::new(jobs);
    let sources = Arc::new(sources);

    // 8 client threads; each retries a failed POST with the same key until
    // it is answered (the server comes back after the kill).
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (url, accepted, ids, next, jobs, sources) =
                (url.clone(), accepted.clone(), ids.clone(), next.clone(), jobs.clone(), sources.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= jobs.len() {
                    return;
                }
                let (token, key, src) = &jobs[i];
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    let u = url.lock().unwrap().clone();
                    if let Some((_, id)) = try_submit(&u, token, &sources[*src], key) {
                        ids.lock().unwrap()[i] = Some(id);
                        accepted.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    assert!(Instant::now() < deadline, "submission {key} never accepted");
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        })
        .collect();

    // Mid-burst: SIGKILL.
    while accepted.load(Ordering::SeqCst) < 100 {
        std::thread::sleep(Duration::from_millis(5));
    }
    srv.kill();
    let at_kill = accepted.load(Ordering::SeqCst);
    let db = rusqlite::Connection::open(dir.path().join("db.sqlite")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let (unfinished, running) =
        (count("SELECT count(*) FROM jobs"), count("SELECT count(*) FROM jobs WHERE state = 'running'"));
    eprintln!("killed after {at_kill} accepted; {unfinished} jobs unfinished, {running} running");
    assert!(unfinished > 0, "the kill must hit unfinished work for the test to mean anything");

    // Restart on another port; clients pick up the new address.
    std::thread::sleep(Duration::from_millis(300));
    let mut srv2 = Server::start(dir.path(), 2, &["--rate-limit", "0"]);
    *url.lock().unwrap() = srv2.url.clone();
    for c in clients {
        c.join().unwrap();
    }

    // Second kill, mid-grading: some results are in, many are not.
    let wait = Instant::now();
    while count("SELECT count(*) FROM results") < 20 {
        assert!(wait.elapsed() < Duration::from_secs(120), "no grading progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    srv2.kill();
    let (graded, unfinished, running) = (
        count("SELECT count(*) FROM results"),
        count("SELECT count(*) FROM jobs"),
        count("SELECT count(*) FROM jobs WHERE state = 'running'"),
    );
    eprintln!("second kill: {graded} graded, {unfinished} jobs unfinished, {running} running");
    assert!(unfinished > 0, "the second kill must hit unfinished work");
    let srv2 = Server::start(dir.path(), 2, &["--rate-limit", "0"]);
    let ids: Vec<i64> = ids.lock().unwrap().iter().map(|i| i.expect("every submission answered")).collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), STUDENTS * PER_STUDENT, "one submission per key, none merged");
    assert_eq!(count("SELECT count(*) FROM submissions"), (STUDENTS * PER_STUDENT) as i64, "no duplicates stored");

    // Everything gets graded.
    let deadline = Instant::now() + Duration::from_secs(150);
    while count("SELECT count(*) FROM jobs") > 0 {
        assert!(Instant::now() < deadline, "grading did not finish: {} jobs left", count("SELECT count(*) FROM jobs"));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(count("SELECT count(*) FROM submissions WHERE status = 'graded'"), (STUDENTS * PER_STUDENT) as i64);
    assert_eq!(count("SELECT count(*) FROM submissions WHERE result_writes != 1"), 0, "each graded exactly once");
    assert_eq!(count("SELECT count(*) FROM results"), (STUDENTS * PER_STUDENT) as i64);
    // And correctly: the verdict follows the program, not the crash.
    let jobs = Arc::try_unwrap(jobs).unwrap();
    for (i, id) in ids.iter().enumerate() {
        let score: f64 =
            db.query_row("SELECT score FROM results WHERE submission_id = ?1", [id], |r| r.get(0)).unwrap();
        let is_good = jobs[i].2.is_multiple_of(2);
        assert_eq!(score == 5.0, is_good, "submission {id} (source {}) scored {score}", jobs[i].2);
    }
    eprintln!("fault test done in {:.1} s", started.elapsed().as_secs_f64());
    drop(srv2);
}
