//! Measures the service end to end on this machine: per-submission latency
//! (POST to graded, one at a time) as p50/p95, burst throughput (40 distinct
//! submissions at once), and the compile step of the same programs through
//! `cargo build` instead of plain rustc, as a ratio. Every program is
//! distinct, so the compile cache never helps. Needs root and bubblewrap.
//! Run: `cargo run -p distlab-grader --example bench_service`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use distlab_grader::commands::default_workers;
use distlab_grader::server::{serve, ServeOptions};
use distlab_grader::{catalogue, compile, prepare, CompileOptions, PrepareOptions, SlotPool};

const SEQUENTIAL: usize = 20;
const BURST: usize = 40;
const CARGO_ROUNDS: usize = 7;

fn percentile(v: &[Duration], p: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// POSTs one submission without waiting for its grade.
fn post(url: &str, token: &str, exercise: &str, source: &str) -> u16 {
    let body = serde_json::to_vec(&serde_json::json!({ "exercise": exercise, "source": source })).unwrap();
    let r = agent()
        .post(&format!("{url}/api/v1/submissions"))
        .header("Authorization", &format!("Bearer {token}"))
        .send(&body[..])
        .unwrap();
    r.status().as_u16()
}

/// One student floods: 10 submissions a minute on every exercise (their
/// scaffolds, each distinct) until `stop` is set. Returns how many it sent.
fn flood(
    url: String,
    token: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let exercises = catalogue::all();
        let every = Duration::from_secs_f64(60.0 / (10.0 * exercises.len() as f64));
        let mut sent = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let spec = &exercises[sent % exercises.len()];
            assert_eq!(
                post(
                    &url,
                    &token,
                    spec.id,
                    &format!(
                        "{}
// flood {sent}
",
                        spec.scaffold
                    )
                ),
                202
            );
            sent += 1;
            std::thread::sleep(every);
        }
        sent
    })
}

/// POSTs one submission and polls until it is graded; returns the latency.
fn submit_and_wait(url: &str, token: &str, source: &str) -> Duration {
    let t = Instant::now();
    let body = serde_json::to_vec(&serde_json::json!({ "exercise": "warmup", "source": source })).unwrap();
    let mut r = agent()
        .post(&format!("{url}/api/v1/submissions"))
        .header("Authorization", &format!("Bearer {token}"))
        .send(&body[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let j: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    let id = j["id"].as_i64().unwrap();
    loop {
        let mut r = agent()
            .get(&format!("{url}/api/v1/submissions/{id}"))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        let j: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        if j["status"] == "graded" {
            assert_eq!(j["score"], 5.0, "{j}");
            return t.elapsed();
        }
        assert!(j["status"] == "queued" || j["status"] == "running", "{j}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() -> anyhow::Result<()> {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let good = std::fs::read_to_string(ws.join("grader/tests/data/warmup_good.rs"))?;
    let source = |i: usize| format!("{good}\n// submission {i}\n");
    let prepared = prepare(&PrepareOptions { workspace: ws.clone(), root: ws.join("var/prepared") }, &mut |_| {})?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("db.sqlite");
    std::fs::write(dir.path().join("roster.csv"), "id,name,email\nb1,Bench,b@x\nf1,Flood,f@x\n")?;
    let gradebook = distlab_grader::db::Db::open(&db)?;
    let tokens =
        distlab_grader::roster::import(&gradebook, &dir.path().join("roster.csv"), &dir.path().join("tokens"))?;
    let token = tokens[0].token.clone();
    let flood_token = tokens[1].token.clone();
    drop(gradebook);

    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let workers = default_workers();
    let opts = ServeOptions {
        db: db.clone().into(),
        addr: format!("127.0.0.1:{port}").parse()?,
        workers,
        prepared: Some(prepared.clone()),
        rate_per_minute: 0,
        cache_dir: dir.path().join("cache"),
        http: Default::default(),
    };
    std::thread::spawn(move || serve(opts).expect("serve"));
    let url = format!("http://127.0.0.1:{port}");
    while agent().get(&format!("{url}/healthz")).call().is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("{workers} workers; warm-up exercise; every program distinct (no cache hits)");
    submit_and_wait(&url, &token, &source(9999)); // warm-up

    let lat: Vec<Duration> = (0..SEQUENTIAL).map(|i| submit_and_wait(&url, &token, &source(i))).collect();
    println!(
        "latency, one at a time ({SEQUENTIAL}): p50 {:.2} s, p95 {:.2} s",
        percentile(&lat, 0.5).as_secs_f64(),
        percentile(&lat, 0.95).as_secs_f64()
    );

    let t = Instant::now();
    let handles: Vec<_> = (0..BURST)
        .map(|i| {
            let (url, token, src) = (url.clone(), token.clone(), source(1000 + i));
            std::thread::spawn(move || submit_and_wait(&url, &token, &src))
        })
        .collect();
    let burst: Vec<Duration> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = t.elapsed();
    println!(
        "burst of {BURST}: all graded in {:.1} s = {:.2} submissions/s; latency p50 {:.2} s, p95 {:.2} s",
        elapsed.as_secs_f64(),
        BURST as f64 / elapsed.as_secs_f64(),
        percentile(&burst, 0.5).as_secs_f64(),
        percentile(&burst, 0.95).as_secs_f64()
    );

    // One student floods (10 a minute on every exercise) while another
    // submits one at a time: fair claims keep the honest latency near the
    // figure above.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooder = flood(url.clone(), flood_token, std::sync::Arc::clone(&stop));
    std::thread::sleep(Duration::from_secs(5)); // the flood's queue builds up
    let t = Instant::now();
    let flooded: Vec<Duration> = (0..SEQUENTIAL).map(|i| submit_and_wait(&url, &token, &source(5000 + i))).collect();
    let honest_rate = SEQUENTIAL as f64 / t.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = flooder.join().unwrap();
    println!(
        "while one student floods ({sent} submissions sent): honest latency p50 {:.2} s, p95 {:.2} s, \
         {honest_rate:.2} submissions/s (without the flood: p50 {:.2} s)",
        percentile(&flooded, 0.5).as_secs_f64(),
        percentile(&flooded, 0.95).as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64()
    );

    // The compile step of the same programs: sandboxed plain rustc vs
    // cargo build (fresh crate per submission, one shared target dir).
    let gradable = catalogue::gradable("warmup").unwrap();
    let pool = SlotPool::system(1, &prepared.root.join("slots"))?;
    let slot = pool.acquire();
    let mut rustc = Vec::new();
    for i in 0..CARGO_ROUNDS {
        let program = gradable.program(&source(2000 + i));
        let t = Instant::now();
        let out =
            compile(&prepared, slot.user(), program.as_bytes(), &dir.path().join("bin"), &CompileOptions::default())?;
        assert!(out.success(), "{}", out.diagnostics);
        rustc.push(t.elapsed());
    }
    let target = dir.path().join("cargo-target");
    let cargo_build = |i: usize| {
        common::cargo_build(dir.path(), &ws, &target, &prepared.rustc(), i, &gradable.program(&source(3000 + i)))
    };
    cargo_build(9999); // builds distlab and its dependencies once
    let cargo: Vec<Duration> = (0..CARGO_ROUNDS)
        .map(|i| {
            let t = Instant::now();
            cargo_build(i);
            t.elapsed()
        })
        .collect();
    let (r, c) = (percentile(&rustc, 0.5), percentile(&cargo, 0.5));
    println!(
        "compile step, median of {CARGO_ROUNDS}: sandboxed rustc {:.2} s, cargo build {:.2} s: cargo/rustc = {:.2}x",
        r.as_secs_f64(),
        c.as_secs_f64(),
        c.as_secs_f64() / r.as_secs_f64()
    );
    let p50 = percentile(&lat, 0.5);
    println!(
        "latency p50 with cargo build instead (compile swapped): {:.2} s vs {:.2} s",
        (p50 + c).saturating_sub(r).as_secs_f64(),
        p50.as_secs_f64()
    );
    std::process::exit(0) // the server thread has no shutdown hook here
}
