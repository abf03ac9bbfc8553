//! Every exercise's scaffold, with the call the kernel and grader generate,
//! compiles with plain rustc against a student build of the course crate
//! (no `reference`, no `grader`), runs, and fails its checks; and the same
//! scaffold served from a host process (the grader's path) gets exactly the
//! same verdicts from `check_remote`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use distlab::catalogue::{registry, ExerciseSpec, Run, Scope};
use distlab::remote::Connection;

fn student_rlib() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target = root.join("target/scaffold-check");
    let out = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "distlab", "--lib", "--target-dir"])
        .arg(&target)
        .current_dir(root)
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deps = target.join("debug/deps");
    let rlib = std::fs::read_dir(&deps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().unwrap().to_string_lossy().starts_with("libdistlab-")
                && p.extension().is_some_and(|x| x == "rlib")
        })
        .max_by_key(|p| p.metadata().unwrap().modified().unwrap())
        .expect("the student rlib was built");
    (rlib, deps)
}

#[test]
fn every_scaffold_compiles_runs_and_fails_its_checks() {
    let (rlib, deps) = student_rlib();
    let work = std::env::temp_dir().join(format!("distlab-scaffolds-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    for spec in registry() {
        let source = format!(
            "{}\nfn main() {{\n    let report = {};\n    let spec = distlab::catalogue::exercise(\"{}\").unwrap();\n    \
             println!(\"{{}} {{}}\", report.score(spec, distlab::catalogue::Scope::Public), report.verdicts.iter().filter(|v| !v.passed()).count());\n}}\n",
            spec.scaffold,
            spec.check_call("distlab::catalogue::Run::public(1)"),
            spec.id
        );
        let binary = compile(&source, &work.join(spec.id), &rlib, &deps, spec);
        let run = Command::new(&binary).output().unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        let mut fields = stdout.split_whitespace();
        let score: f64 = fields.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{}: {stdout}", spec.id));
        let failures: usize = fields.next().unwrap().parse().unwrap();
        assert!(
            score < spec.points as f64 && failures > 0,
            "scaffold of {} should fail its checks: score {score}",
            spec.id
        );

        let host_source = format!("{}\nfn main() {{\n    {};\n}}\n", spec.scaffold, spec.host_call());
        let host = compile(&host_source, &work.join(format!("{}-host", spec.id)), &rlib, &deps, spec);
        let (remote_score, remote_failures) = check_through_host(&host, spec);
        assert_eq!((remote_score, remote_failures), (score, failures), "{}: the host path judges differently", spec.id);
    }
    std::fs::remove_dir_all(&work).ok();
}

/// An untouched scaffold earns nothing, public or hidden, whatever the
/// seed: a check that passes on a run where nothing happens is vacuous.
#[cfg(feature = "grader")]
#[test]
fn every_scaffold_scores_zero_everywhere() {
    let (rlib, deps) = student_rlib();
    let work = std::env::temp_dir().join(format!("distlab-scaffolds-zero-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let mut earned = Vec::new();
    for spec in registry() {
        let host_source = format!("{}\nfn main() {{\n    {};\n}}\n", spec.scaffold, spec.host_call());
        let host = compile(&host_source, &work.join(format!("{}-host", spec.id)), &rlib, &deps, spec);
        for seed in [1, 7, 42] {
            let mut child = Command::new(&host).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
            let connection =
                Connection::new(Box::new(child.stdout.take().unwrap()), Box::new(child.stdin.take().unwrap()));
            connection.borrow_mut().expect_banner().unwrap();
            let report = (spec.check_remote)(connection, &Run::all(seed));
            child.wait().unwrap();
            let score = report.score(spec, Scope::All);
            if score != 0.0 {
                let passing: Vec<String> = report
                    .results(spec, Scope::All)
                    .into_iter()
                    .filter(|r| r.status == distlab::check::Status::Pass && r.weight > 0)
                    .map(|r| r.name)
                    .collect();
                earned.push(format!("{} seed {seed}: {score} points from {passing:?}", spec.id));
            }
        }
    }
    std::fs::remove_dir_all(&work).ok();
    assert!(earned.is_empty(), "untouched scaffolds earn points:\n{}", earned.join("\n"));
}

fn compile(source: &str, binary: &Path, rlib: &Path, deps: &Path, spec: &ExerciseSpec) -> PathBuf {
    let file = binary.with_extension("rs");
    std::fs::write(&file, source).unwrap();
    let out = Command::new("rustc")
        .args(["--edition", "2021", "--crate-type", "bin", "-A", "warnings", "--extern"])
        .arg(format!("distlab={}", rlib.display()))
        .arg("-L")
        .arg(format!("dependency={}", deps.display()))
        .arg("-o")
        .arg(binary)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scaffold of {} does not compile:\n{}\n{source}",
        spec.id,
        String::from_utf8_lossy(&out.stderr)
    );
    binary.to_owned()
}

/// Score and failure count of the public checks of the solution served by
/// `host`, judged in this process as the grader judges it.
fn check_through_host(host: &Path, spec: &ExerciseSpec) -> (f64, usize) {
    let mut child = Command::new(host).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let connection = Connection::new(Box::new(child.stdout.take().unwrap()), Box::new(child.stdin.take().unwrap()));
    connection.borrow_mut().expect_banner().unwrap();
    let report = (spec.check_remote)(connection, &Run::public(1));
    child.wait().unwrap();
    (report.score(spec, Scope::Public), report.verdicts.iter().filter(|v| !v.passed()).count())
}
