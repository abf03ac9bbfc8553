//! The fault test on Postgres, as a course graded on many machines runs:
//! one API server without workers, three worker processes, a burst of 300
//! submissions from 60 students. Mid-burst two workers are killed with
//! SIGKILL while each holds a job, and one is started again; later the API
//! server is killed and started again. Clients retry what failed with the
//! same idempotency key. Every submission must be stored once and graded
//! exactly once, none lost.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const STUDENTS: usize = 60;
const PER_STUDENT: usize = 5;

#[test]
fn killed_workers_and_server_lose_nothing_and_grade_each_submission_once_on_postgres() {
    let started = Instant::now();
    let cluster = distlab_grader::pg_cluster::Cluster::start(false).unwrap();
    let url = cluster.create_database("fault").unwrap();
    let dir = tempdir();
    std::fs::write(dir.path().join("db.url"), &url).unwrap();
    let students = roster(dir.path(), STUDENTS);
    let mut pg = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut count = move |sql: &str| -> i64 { pg.query_one(sql, &[]).unwrap().get(0) };

    let good = data("warmup_good.rs");
    let wrong = data("warmup_wrong.rs");
    let sources = [good.clone(), wrong.clone(), format!("{good}\n// variant\n"), format!("{wrong}\n// variant\n")];
    let jobs: Vec<(String, String, usize)> = (0..STUDENTS * PER_STUDENT)
        .map(|i| (students[i % STUDENTS].1.clone(), format!("burst-{i}"), i % sources.len()))
        .collect();

    let mut srv = Server::start(dir.path(), 0, &["--rate-limit", "0"]);
    let mut workers: Vec<Worker> = (0..3).map(|_| Worker::start(dir.path(), 1)).collect();
    let url_now = Arc::new(Mutex::new(srv.url.clone()));
    let accepted = Arc::new(AtomicUsize::new(0));
    let ids: Arc<Mutex<Vec<Option<i64>>>> = Arc::new(Mutex::new(vec![None; jobs.len()]));
    let next = Arc::new(AtomicUsize::new(0));
    let (jobs, sources) = (Arc::new(jobs), Arc::new(sources));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (url_now, accepted, ids, next, jobs, sources) =
                (url_now.clone(), accepted.clone(), ids.clone(), next.clone(), jobs.clone(), sources.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= jobs.len() {
                    return;
                }
                let (token, key, src) = &jobs[i];
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    let u = url_now.lock().unwrap().clone();
                    if let Some((_, id)) = try_submit(&u, token, &sources[*src], key) {
                        ids.lock().unwrap()[i] = Some(id);
                        accepted.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    assert!(Instant::now() < deadline, "submission {key} never accepted");
                    std::thread::sleep(Duration::from_millis(50));
                }
                // Spread the burst over the faults below.
                std::thread::sleep(Duration::from_millis(40));
            })
        })
        .collect();

    // Two workers die while each holds a job; one comes back.
    let holding =
        |pid: u32| format!("SELECT count(*) FROM jobs WHERE state = 'running' AND split_part(owner, ':', 2) = '{pid}'");
    let (a, b) = (workers[0].child.id(), workers[1].child.id());
    while accepted.load(Ordering::SeqCst) < 80 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let wait = Instant::now();
    while count(&holding(a)) == 0 || count(&holding(b)) == 0 {
        assert!(wait.elapsed() < Duration::from_secs(120), "the workers never both held a job");
        std::thread::sleep(Duration::from_millis(10));
    }
    workers[0].kill();
    workers[1].kill();
    let running = count("SELECT count(*) FROM jobs WHERE state = 'running'");
    eprintln!("two workers killed after {} accepted; {running} jobs running", accepted.load(Ordering::SeqCst));
    workers.push(Worker::start(dir.path(), 1));

    // The API server dies mid-burst and comes back on another port.
    while accepted.load(Ordering::SeqCst) < 200 {
        std::thread::sleep(Duration::from_millis(5));
    }
    srv.kill();
    eprintln!("server killed after {} accepted", accepted.load(Ordering::SeqCst));
    let srv2 = Server::start(dir.path(), 0, &["--rate-limit", "0"]);
    *url_now.lock().unwrap() = srv2.url.clone();
    for c in clients {
        c.join().unwrap();
    }

    let total = (STUDENTS * PER_STUDENT) as i64;
    let ids: Vec<i64> = ids.lock().unwrap().iter().map(|i| i.expect("every submission answered")).collect();
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len() as i64, total, "one submission per key, none merged");
    assert_eq!(count("SELECT count(*) FROM submissions"), total, "no duplicates stored");

    let deadline = Instant::now() + Duration::from_secs(600);
    while count("SELECT count(*) FROM jobs") > 0 {
        assert!(Instant::now() < deadline, "grading did not finish: {} jobs left", count("SELECT count(*) FROM jobs"));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(count("SELECT count(*) FROM submissions WHERE status = 'graded'"), total);
    assert_eq!(count("SELECT count(*) FROM submissions WHERE result_writes <> 1"), 0, "each graded exactly once");
    assert_eq!(count("SELECT count(*) FROM results"), total);
    assert_eq!(count("SELECT count(*) FROM best_scores"), STUDENTS as i64);
    let jobs = Arc::try_unwrap(jobs).unwrap();
    let mut pg = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for (i, id) in ids.iter().enumerate() {
        let score: f64 = pg.query_one("SELECT score FROM results WHERE submission_id = $1", &[id]).unwrap().get(0);
        assert_eq!(score == 5.0, jobs[i].2 % 2 == 0, "submission {id} (source {}) scored {score}", jobs[i].2);
    }
    eprintln!("postgres fault test done in {:.1} s", started.elapsed().as_secs_f64());
    drop((srv2, workers));
}
