//! Grading on many worker processes, measured on this machine in one run:
//! burst throughput with 1, 2 and 4 worker processes (one grading thread
//! each, `distlab-grader worker`) behind an API server without workers,
//! on SQLite and on Postgres; and the queue's own cost per job (claim,
//! heartbeat, commit) on each. Every program is distinct, so the compile
//! cache never helps. Postgres is a throw-away cluster with fsync on.
//! Needs root, bubblewrap and PostgreSQL.
//! Run: `cargo run --release -p distlab-grader --example bench_scale`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use distlab_grader::db::{Db, Target};
use distlab_grader::feedback::Feedback;
use distlab_grader::queue::{self, Verdict};
use distlab_grader::ratelimit::SubmissionLimit;
use distlab_grader::server::{serve, ServeOptions};
use distlab_grader::{prepare, PrepareOptions};

const BURST: usize = 80;
const STUDENTS: usize = 20;
const QUEUE_JOBS: usize = 400;
const WORKER_PROCESSES: [usize; 3] = [1, 2, 4];

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn post(url: &str, token: &str, source: &str) {
    let body = serde_json::to_vec(&serde_json::json!({ "exercise": "warmup", "source": source })).unwrap();
    let r = agent()
        .post(&format!("{url}/api/v1/submissions"))
        .header("Authorization", &format!("Bearer {token}"))
        .send(&body[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
}

/// This program again, as a worker process (`--as-worker DB PREPARED CACHE`).
fn start_worker(db: &Target, prepared: &Path, cache: &Path) -> Child {
    use std::io::BufRead;
    let db = match db {
        Target::Sqlite(p) => p.display().to_string(),
        Target::Postgres(url) => url.clone(),
    };
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--as-worker")
        .args([&db, &prepared.display().to_string(), &cache.display().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().starts_with("grading with"));
    std::thread::spawn(move || for _ in lines {});
    child
}

/// Submissions per second for `BURST` distinct programs through `workers`
/// worker processes.
fn throughput(db_target: Target, prepared: &Path, dir: &Path, workers: usize, good: &str) -> f64 {
    let db = Db::open(db_target.clone()).unwrap();
    let roster: String = (0..STUDENTS).map(|i| format!("b{i},Bench {i},b{i}@x\n")).collect();
    std::fs::write(dir.join("roster.csv"), format!("id,name,email\n{roster}")).unwrap();
    let tokens = distlab_grader::roster::import(&db, &dir.join("roster.csv"), &dir.join("tokens")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let opts = ServeOptions {
        db: db_target.clone(),
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
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
    let mut procs: Vec<Child> = (0..workers).map(|_| start_worker(&db_target, prepared, &dir.join("cache"))).collect();
    let t = Instant::now();
    for i in 0..BURST {
        let token = &tokens[i % STUDENTS].token;
        post(&url, token, &format!("{good}\n// {dir:?} submission {i}\n"));
    }
    while db.with(|c| queue::pending(c)).unwrap() > 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = t.elapsed().as_secs_f64();
    let graded: i64 =
        db.with(|c| c.query_row("SELECT count(*) FROM submissions WHERE status = 'graded'", (), |r| r.get(0))).unwrap();
    assert_eq!(graded, BURST as i64, "every submission graded");
    for p in &mut procs {
        unsafe { libc::kill(p.id() as i32, libc::SIGTERM) };
        let _ = p.wait();
    }
    BURST as f64 / secs
}

/// Median time of claim, heartbeat and commit over `QUEUE_JOBS` jobs (the
/// submissions are stored first, outside the timing).
fn queue_costs(db: &Db) -> [Duration; 3] {
    db.with(|c| {
        c.execute("INSERT INTO students (id, name, email) VALUES ('q', 'q', '')", ())?;
        let unlimited = SubmissionLimit::new(0, Duration::from_secs(60));
        for i in 0..QUEUE_JOBS {
            distlab_grader::submissions::store(c, "q", "warmup", None, &format!("// {i}"), &unlimited)?;
        }
        Ok(())
    })
    .unwrap();
    let fb = Feedback {
        score: Some(5.0),
        max_score: 5.0,
        output: "5 of 5".into(),
        tests: vec![],
        diagram_svg: None,
        whole_run: None,
        replay: None,
        hidden_failed: Default::default(),
    };
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..QUEUE_JOBS {
        let t = Instant::now();
        let job = db.with(|c| queue::claim(c, "bench")).unwrap().unwrap();
        times[0].push(t.elapsed());
        let t = Instant::now();
        db.with(|c| queue::heartbeat(c, "bench")).unwrap();
        times[1].push(t.elapsed());
        let t = Instant::now();
        assert!(db.with(|c| queue::complete(c, "bench", job.submission_id, Verdict::Graded, false, &fb)).unwrap());
        times[2].push(t.elapsed());
    }
    times.map(|mut v| {
        v.sort();
        v[v.len() / 2]
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--as-worker") {
        return distlab_grader::commands::worker_command(distlab_grader::commands::WorkerArgs {
            db: Target::parse(&args[2]),
            prepared: PathBuf::from(&args[3]),
            workers: Some(1),
            cache: PathBuf::from(&args[4]),
        });
    }
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let good = std::fs::read_to_string(ws.join("grader/tests/data/warmup_good.rs"))?;
    let prepared = prepare(&PrepareOptions { workspace: ws.clone(), root: ws.join("var/prepared") }, &mut |_| {})?;
    distlab_grader::SlotPool::system(4, &prepared.root.join("slots"))?;
    let cluster = Arc::new(distlab_grader::pg_cluster::Cluster::start(true)?);
    let cores = distlab_grader::commands::default_workers();
    println!("{cores} cores; burst of {BURST} distinct warmup submissions from {STUDENTS} students; API server without workers");

    // BENCH_QUEUE_ONLY=1: the queue's cost only (seconds, not minutes).
    let processes: &[usize] = if std::env::var_os("BENCH_QUEUE_ONLY").is_some() { &[] } else { &WORKER_PROCESSES };
    println!("\n| worker processes | SQLite | Postgres |\n|---:|---:|---:|");
    for (n, workers) in processes.iter().enumerate() {
        let mut row = Vec::new();
        for backend in ["sqlite", "postgres"] {
            let dir = tempfile::tempdir()?;
            std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
            let target = match backend {
                "sqlite" => Target::Sqlite(dir.path().join("db.sqlite")),
                _ => Target::Postgres(cluster.create_database(&format!("scale{n}"))?),
            };
            row.push(throughput(target, &prepared.root, dir.path(), *workers, &good));
        }
        println!("| {workers} | {:.2} submissions/s | {:.2} submissions/s |", row[0], row[1]);
    }

    println!("\nqueue cost per job, median of {QUEUE_JOBS} (claim / heartbeat / commit / total):");
    let dir = tempfile::tempdir()?;
    for (name, target) in [
        ("SQLite", Target::Sqlite(dir.path().join("queue.sqlite"))),
        ("Postgres", Target::Postgres(cluster.create_database("queue")?)),
    ] {
        let db = Db::open(target)?;
        let [claim, beat, commit] = queue_costs(&db);
        println!("{name}: {} / {} / {} / {}", ms(claim), ms(beat), ms(commit), ms(claim + beat + commit));
    }
    Ok(())
}
