//! Shared set-up for the sandbox integration tests: one prepared dir per
//! test binary, a slot pool, fake secrets, and helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use distlab_grader::sandbox::user::processes_of_uid;
use distlab_grader::{
    compile, prepare, run, CompileOptions, CompileOutcome, Outcome, PrepareOptions, Prepared, RunOptions, SandboxUser,
    SlotPool,
};

pub const SECRET: &str = "TOP-SECRET-7f3a9c";

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Fails loudly (never skips): `./dev test` installs bubblewrap.
pub fn require_bwrap() {
    let ok = std::process::Command::new("bwrap").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "bubblewrap (bwrap) is required for the sandbox tests: run ./dev test or apt-get install bubblewrap");
}

pub fn prepared() -> &'static Prepared {
    static P: OnceLock<Prepared> = OnceLock::new();
    P.get_or_init(|| {
        require_bwrap();
        let opts = PrepareOptions { workspace: workspace(), root: workspace().join("var/prepared") };
        prepare(&opts, &mut |_| {}).expect("prepare")
    })
}

pub fn pool() -> &'static SlotPool {
    static P: OnceLock<SlotPool> = OnceLock::new();
    P.get_or_init(|| SlotPool::system(2, &prepared().root.join("slots")).expect("slot users"))
}

/// Fake grader data outside the sandbox, world-readable on purpose so that
/// only the sandbox keeps it out: (db file, hidden scenarios file).
pub fn secrets() -> &'static (PathBuf, PathBuf) {
    static S: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    S.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let root = workspace().join("var/test-secrets");
        let db = root.join("var/distlab.db");
        let hidden = root.join("hidden/scenarios.rs");
        for d in [db.parent().unwrap(), hidden.parent().unwrap(), &root] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(&db, format!("SQLite format 3\0 {SECRET} grades")).unwrap();
        std::fs::write(&hidden, format!("pub const HIDDEN: &str = \"{SECRET}\";\n")).unwrap();
        for f in [&db, &hidden] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        (db, hidden)
    })
}

/// A temp dir for binaries (may be private: run() copies the binary).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn compile_src(user: SandboxUser, src: &str, dir: &Path) -> CompileOutcome {
    // Any code, unsafe included: these programs test the sandbox itself.
    let opts = CompileOptions { allow_unsafe: true, ..CompileOptions::default() };
    let out = compile(prepared(), user, src.as_bytes(), &dir.join("main"), &opts).expect("compile launches");
    eprintln!(
        "[{}] compile: ok={} {:?} limit={:?} wall={:.3}s cpu={:.3}s",
        std::thread::current().name().unwrap_or("?"),
        out.success(),
        out.sandbox.termination,
        out.sandbox.limit,
        out.sandbox.wall.as_secs_f64(),
        out.sandbox.cpu.as_secs_f64()
    );
    out
}

/// Compiles and insists it works.
pub fn build(user: SandboxUser, src: &str, dir: &Path) -> PathBuf {
    let out = compile_src(user, src, dir);
    assert!(out.success(), "compile failed: {:?}\n{}", out.sandbox, out.diagnostics);
    out.binary.unwrap()
}

pub fn run_bin(user: SandboxUser, bin: &Path, stdin: &[u8]) -> Outcome {
    let out = run(prepared(), user, bin, stdin, &RunOptions::default()).expect("run launches");
    // Visible with --nocapture: what each hostile program ran into.
    eprintln!(
        "[{}] run: {:?} limit={:?} wall={:.3}s cpu={:.3}s stdout={}B{} stderr={}B",
        std::thread::current().name().unwrap_or("?"),
        out.termination,
        out.limit,
        out.wall.as_secs_f64(),
        out.cpu.as_secs_f64(),
        out.stdout.bytes.len(),
        if out.stdout.truncated { " (capped)" } else { "" },
        out.stderr.bytes.len()
    );
    out
}

pub fn stdout(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stdout.bytes).into_owned()
}

pub fn stderr(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stderr.bytes).into_owned()
}

pub const NORMAL: &str = r#"
extern crate distlab; // links the course rlib, whatever its API
use std::io::Read;
fn main() {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).unwrap();
    let n: u64 = s.trim().parse().unwrap();
    let h = std::thread::spawn(move || (1..=n).sum::<u64>());
    println!("sum={}", h.join().unwrap());
}
"#;

/// After a hostile job: nothing of the slot uid survives, and the same slot
/// still compiles and runs a normal program.
pub fn assert_still_grades(user: SandboxUser) {
    assert_no_leftovers(user);
    let dir = tempdir();
    let bin = build(user, NORMAL, dir.path());
    let out = run_bin(user, &bin, b"100\n");
    assert!(out.success(), "normal program failed after a hostile one: {out:?}");
    assert_eq!(stdout(&out), "sum=5050\n");
}

pub fn assert_no_leftovers(user: SandboxUser) {
    if user.uid == SandboxUser::current().uid {
        return; // not root: cannot tell our processes from the sandbox's
    }
    // The sandbox may take a moment to be torn down by the kernel (longer on
    // a loaded machine: 1 s was once not enough while two builds ran).
    for _ in 0..250 {
        if processes_of_uid(user.uid).is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("processes of sandbox uid {} survived: {:?}", user.uid, processes_of_uid(user.uid));
}

// ---- The service, as a real process over real HTTP ----

/// The grader binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_distlab-grader")
}

/// The `--db` of the service dir `dir`: its SQLite file, or the URL in
/// `dir/db.url` when a test put one there (the Postgres tests).
pub fn db_of(dir: &Path) -> std::ffi::OsString {
    match std::fs::read_to_string(dir.join("db.url")) {
        Ok(url) => url.trim().into(),
        Err(_) => dir.join("db.sqlite").into(),
    }
}

/// Runs a CLI subcommand against the service dir `dir`; insists it works.
pub fn cli(dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut cmd = std::process::Command::new(binary());
    cmd.arg("--db").arg(db_of(dir)).arg("--cache").arg(dir.join("cache"));
    cmd.arg("--prepared").arg(workspace().join("var/prepared")).arg("--workspace").arg(workspace());
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("start the grader binary");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Imports `n` students `s0..` and returns (id, token) from their token files.
pub fn roster(dir: &Path, n: usize) -> Vec<(String, String)> {
    let mut csv = String::from("id,name,email\n");
    for i in 0..n {
        csv.push_str(&format!("s{i},Student {i},s{i}@example.org\n"));
    }
    let file = dir.join("roster.csv");
    std::fs::write(&file, csv).unwrap();
    let tokens = dir.join("tokens");
    cli(dir, &["roster", "import", file.to_str().unwrap(), "--tokens", tokens.to_str().unwrap()], None);
    (0..n)
        .map(|i| {
            let id = format!("s{i}");
            let token = std::fs::read_to_string(tokens.join(format!("{id}.token"))).unwrap().trim().to_owned();
            (id, token)
        })
        .collect()
}

/// A running `distlab-grader serve`, killed (SIGKILL) on drop.
pub struct Server {
    pub child: std::process::Child,
    pub url: String,
    pub stderr_log: PathBuf,
}

impl Server {
    /// Starts the server on a free port of 127.0.0.1 with `workers` workers.
    pub fn start(dir: &Path, workers: usize, extra: &[&str]) -> Server {
        use std::io::BufRead;
        if workers > 0 {
            prepared(); // prepared once per test binary, not by the server
            pool(); // slot users exist
        }
        let stderr_log = dir.join(format!(
            "serve-{}.log",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        let mut cmd = std::process::Command::new(binary());
        cmd.arg("--db").arg(db_of(dir)).arg("--cache").arg(dir.join("cache"));
        cmd.arg("--prepared").arg(workspace().join("var/prepared")).arg("--workspace").arg(workspace());
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--workers", &workers.to_string()]).args(extra);
        cmd.env("RUST_LOG", "info");
        cmd.stdout(std::process::Stdio::piped()).stderr(std::fs::File::create(&stderr_log).unwrap());
        let mut child = cmd.spawn().expect("start the server");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(u) = l.strip_prefix("listening on ") {
                        break u.to_owned();
                    }
                }
                _ => panic!("the server did not start: {}", std::fs::read_to_string(&stderr_log).unwrap_or_default()),
            }
        };
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Server { child, url, stderr_log }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running `distlab-grader worker` (grading only), killed (SIGKILL) on drop.
pub struct Worker {
    pub child: std::process::Child,
}

impl Worker {
    /// Starts a worker process with `workers` threads on the service dir's
    /// database; returns once it is taking jobs.
    pub fn start(dir: &Path, workers: usize) -> Worker {
        use std::io::BufRead;
        prepared();
        pool();
        let log = dir.join(format!(
            "worker-{}.log",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        let mut cmd = std::process::Command::new(binary());
        cmd.arg("--db").arg(db_of(dir)).arg("--cache").arg(dir.join("cache"));
        cmd.arg("--prepared").arg(workspace().join("var/prepared"));
        cmd.args(["worker", "--workers", &workers.to_string()]);
        cmd.env("RUST_LOG", "info");
        cmd.stdout(std::process::Stdio::piped()).stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().expect("start a worker");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        match lines.next() {
            Some(Ok(l)) if l.starts_with("grading with") => {}
            other => {
                panic!("the worker did not start ({other:?}): {}", std::fs::read_to_string(&log).unwrap_or_default())
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Worker { child }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP client that returns 4xx/5xx as responses, not errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// (status, JSON body, Retry-After) of one request.
pub fn request(
    method: &str,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, serde_json::Value, Option<String>) {
    let a = agent();
    let mut resp = match (method, body) {
        ("GET", _) => {
            let mut r = a.get(url);
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call().unwrap()
        }
        (_, body) => {
            let mut r = a.post(url).header("Content-Type", "application/json");
            if let Some(t) = token {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.send(body.unwrap_or(b"")).unwrap()
        }
    };
    let status = resp.status().as_u16();
    let retry = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(String::from);
    let text = resp.body_mut().read_to_string().unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, json, retry)
}

/// One warm-up POST with an idempotency key (the fault tests retry it
/// until answered); None when the server is unreachable or died mid-request.
pub fn try_submit(url: &str, token: &str, source: &str, key: &str) -> Option<(u16, i64)> {
    let a: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    let body = serde_json::to_vec(&serde_json::json!({ "exercise": "warmup", "source": source })).unwrap();
    let mut resp = a
        .post(&format!("{url}/api/v1/submissions"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Idempotency-Key", key)
        .send(&body[..])
        .ok()?;
    let status = resp.status().as_u16();
    let j: serde_json::Value = serde_json::from_str(&resp.body_mut().read_to_string().ok()?).ok()?;
    assert!(status == 200 || status == 202, "unexpected answer {status}: {j}");
    Some((status, j["id"].as_i64().unwrap()))
}

pub fn submit(url: &str, token: &str, exercise: &str, source: &str, key: Option<&str>) -> (u16, serde_json::Value) {
    let body = serde_json::to_vec(&serde_json::json!({ "exercise": exercise, "source": source })).unwrap();
    let headers: Vec<(&str, &str)> = key.map(|k| vec![("Idempotency-Key", k)]).unwrap_or_default();
    let (s, j, _) = request("POST", &format!("{url}/api/v1/submissions"), Some(token), &headers, Some(&body));
    (s, j)
}

/// Polls a submission until it reaches a terminal status.
pub fn wait_graded(url: &str, token: &str, id: i64, timeout: std::time::Duration) -> serde_json::Value {
    let start = std::time::Instant::now();
    loop {
        let (s, j, _) = request("GET", &format!("{url}/api/v1/submissions/{id}"), Some(token), &[], None);
        assert_eq!(s, 200, "{j}");
        if matches!(j["status"].as_str(), Some("graded" | "compile_error" | "error")) {
            return j;
        }
        assert!(start.elapsed() < timeout, "submission {id} not graded in {timeout:?}: {j}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

pub fn data(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
}
