//! Shared set-up for the sandbox integration tests: one prepared dir per
//! test binary, a slot pool, fake secrets, and helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use distlab_grader::sandbox::user::processes_of_uid;
use distlab_grader::{compile, prepare, run, CompileOptions, CompileOutcome, Outcome, PrepareOptions, Prepared, RunOptions, SandboxUser, SlotPool};

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
    let out = compile(prepared(), user, src.as_bytes(), &dir.join("main"), &CompileOptions::default()).expect("compile launches");
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
    // The sandbox may take a moment to be torn down by the kernel.
    for _ in 0..50 {
        if processes_of_uid(user.uid).is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("processes of sandbox uid {} survived: {:?}", user.uid, processes_of_uid(user.uid));
}
