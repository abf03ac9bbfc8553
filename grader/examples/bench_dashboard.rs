//! Times the instructor's pages on a big gradebook: 1,000 students x 30
//! exercises x 10 graded submissions (300,000 submissions with their
//! results and checks) in a real SQLite file, served by `distlab-grader
//! serve` (no workers) and fetched over HTTP with a logged-in session.
//! Prints p50 / p95 / max per page. The seeded file is kept under
//! `target/bench-dashboard/` and reused while its shape is the same.
//! Run: `cargo run --release -p distlab-grader --example bench_dashboard`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use distlab_grader::server::{serve, ServeOptions};
use distlab_grader::{auth, catalogue, db::Db};
use rand::{Rng, SeedableRng};

const STUDENTS: usize = 1_000;
const EXERCISES: usize = 30;
const SUBMISSIONS: usize = 10;
const ROUNDS: usize = 30;
/// Names the seeded shape; a file with another shape is seeded again.
const SHAPE: &str = "students=1000 exercises=30 submissions=10 v3";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// The 30 exercise ids: the catalogue's, then made-up ones to reach 30 (the
/// pages list the catalogue's; the rest still weigh on every query).
fn exercise_ids() -> Vec<(String, Vec<String>, f64)> {
    let mut out: Vec<(String, Vec<String>, f64)> = catalogue::all()
        .iter()
        .map(|e| (e.id.to_owned(), e.checks.iter().map(|c| c.name.to_owned()).collect(), e.points as f64))
        .collect();
    let mut i = 0;
    while out.len() < EXERCISES {
        i += 1;
        out.push((format!("extra{i:02}"), (1..=4).map(|k| format!("check {k}")).collect(), 10.0));
    }
    out.truncate(EXERCISES);
    out
}

fn seed(path: &Path) -> anyhow::Result<()> {
    let db = Db::open(path)?;
    let seeded: Option<String> = db.with(|c| {
        Ok(c.query_row("SELECT CAST(value AS TEXT) FROM meta WHERE key = 'bench_shape'", (), |r| r.get(0)).ok())
    })?;
    if seeded.as_deref() == Some(SHAPE) {
        println!("reusing the seeded gradebook {}", path.display());
        return Ok(());
    }
    drop(db);
    let _ = std::fs::remove_file(path);
    let db = Db::open(path)?;
    let start = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let exercises = exercise_ids();
    db.with(|c| {
        let tx = c.transaction()?;
        {
            let student = |p| tx.execute("INSERT INTO students (id, name, email) VALUES (?1, ?2, ?3)", p);
            let sub = |p| {
                tx.query_row(
                    "INSERT INTO submissions (student_id, exercise, source, status, submitted_at, late)
                     VALUES (?1, ?2, ?3, 'queued', ?4, ?5) RETURNING id",
                    p,
                    |r| r.get::<i64>(0),
                )
            };
            let result = |p| {
                tx.execute(
                    "INSERT INTO results (submission_id, score, max_score, report, written_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    p,
                )
            };
            let check = |p| {
                tx.execute(
                    "INSERT INTO result_checks (submission_id, name, score, max_score, status, visibility)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'visible')",
                    p,
                )
            };
            let base = chrono::Utc::now() - chrono::Duration::days(30);
            for s in 0..STUDENTS {
                let id = format!("s{s:04}");
                student(distlab_grader::params![id, format!("Student {s}"), format!("{id}@example.org")])?;
                let skill: f64 = rng.random_range(0.2..1.0);
                for (e, checks, points) in &exercises {
                    for k in 0..SUBMISSIONS {
                        let at = base + chrono::Duration::seconds(rng.random_range(0..30 * 86_400));
                        let at = distlab_grader::db::rfc3339(at);
                        let late = rng.random_bool(0.05);
                        let source = format!("// {id} {e} attempt {k}\nfn solve() {{}}\n");
                        let sid = sub(distlab_grader::params![id, e, source, at, late])?;
                        let passed: Vec<bool> = checks.iter().map(|_| rng.random_bool(skill)).collect();
                        let share = points / checks.len() as f64;
                        let score = share * passed.iter().filter(|p| **p).count() as f64;
                        let tests: Vec<_> = checks
                            .iter()
                            .zip(&passed)
                            .map(|(n, p)| serde_json::json!({"name": n, "score": if *p { share } else { 0.0 }, "max_score": share,
                                "status": if *p { "passed" } else { "failed" }, "output": "scenario 'x', seed 12\nreplay: ...", "visibility": "visible"}))
                            .collect();
                        let report = serde_json::json!({"score": score, "max_score": points,
                            "output": format!("{} of {} checks passed", passed.iter().filter(|p| **p).count(), checks.len()),
                            "tests": tests, "diagram_svg": null, "replay": null});
                        result(distlab_grader::params![sid, score, points, report.to_string(), at])?;
                        for (n, p) in checks.iter().zip(&passed) {
                            check(distlab_grader::params![
                                sid,
                                n,
                                if *p { share } else { 0.0 },
                                share,
                                if *p { "passed" } else { "failed" }
                            ])?;
                        }
                    }
                }
            }
            // Graded through the same trigger a worker's commit fires.
            tx.execute("UPDATE submissions SET status = 'graded', graded_at = submitted_at, result_writes = 1", ())?;
            tx.execute("INSERT INTO meta (key, value) VALUES ('bench_shape', ?1)", [SHAPE])?;
        }
        tx.commit()?;
        Ok(())
    })?;
    let (subs, best): (i64, i64) = db.with(|c| {
        c.query_row("SELECT (SELECT count(*) FROM submissions), (SELECT count(*) FROM best_scores)", (), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    })?;
    db.with(|c| c.execute_batch("ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);"))?;
    println!(
        "seeded {subs} submissions ({best} best scores) in {:.1} s: {:.0} MiB",
        start.elapsed().as_secs_f64(),
        std::fs::metadata(path)?.len() as f64 / (1 << 20) as f64
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let dir = ws.join("target/bench-dashboard");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("gradebook.db");
    seed(&path)?;
    let db = Db::open(&path)?;
    auth::add_instructor(&db, "bench", "bench password 1").ok();
    let session = auth::create_session(&db, "bench")?;
    drop(db);

    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let opts = ServeOptions {
        db: path.clone().into(),
        addr: format!("127.0.0.1:{port}").parse()?,
        workers: 0,
        prepared: None,
        rate_per_minute: 0,
        cache_dir: dir.join("cache"),
        http: Default::default(),
    };
    std::thread::spawn(move || serve(opts).expect("serve"));
    let url = format!("http://127.0.0.1:{port}");
    while agent().get(&format!("{url}/healthz")).call().is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let first = catalogue::all()[0].id;
    let failing = catalogue::all()[0].checks[0].name.replace(' ', "%20");
    let pages = [
        ("overview", "/dashboard".to_owned()),
        ("gradebook", "/dashboard/gradebook".to_owned()),
        ("gradebook, sorted by an exercise, filtered", format!("/dashboard/gradebook?sort={first}&dir=desc&q=1")),
        ("exercise", format!("/dashboard/exercises/{first}")),
        ("exercise, submissions failing a check", format!("/dashboard/exercises/{first}?failing={failing}")),
        ("student (instructor view)", "/dashboard/students/s0500".to_owned()),
        ("submission", "/dashboard/submissions/150000".to_owned()),
        ("roster", "/dashboard/roster".to_owned()),
    ];
    println!("{STUDENTS} students x {EXERCISES} exercises x {SUBMISSIONS} submissions; {ROUNDS} requests per page");
    println!("| page | p50 | p95 | max | bytes |\n|---|---:|---:|---:|---:|");
    for (name, path) in pages {
        let mut times = Vec::new();
        let mut bytes = 0;
        for round in 0..ROUNDS + 2 {
            let start = Instant::now();
            let mut r = agent()
                .get(&format!("{url}{path}"))
                .header("Cookie", &format!("distlab_session={session}"))
                .call()
                .with_context(|| path.clone())?;
            let body = r.body_mut().read_to_string()?;
            let took = start.elapsed();
            anyhow::ensure!(r.status() == 200, "{path}: {} {}", r.status(), &body[..body.len().min(300)]);
            bytes = body.len();
            if round >= 2 {
                times.push(took);
            }
        }
        times.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        let p = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "| {name} | {} | {} | {} | {} KiB |",
            ms(p(0.5)),
            ms(p(0.95)),
            ms(*times.last().unwrap()),
            bytes / 1024
        );
    }
    std::process::exit(0) // the server thread has no shutdown hook
}
