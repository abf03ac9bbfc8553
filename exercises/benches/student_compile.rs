//! Wall time to compile a 150-line student file with plain `rustc` against
//! the prebuilt course rlib, in debug (goal: at most 0.3 s), and at
//! `-C opt-level=1` for comparison. Run: `cargo bench -p distlab --bench student_compile`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const STUDENT_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/student_warmup.rs");

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let target = root.join("target/student-rlib");
    // The rlib a student compiles against: debug, without `reference`.
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "distlab", "--lib", "--target-dir"])
        .arg(&target)
        .current_dir(&root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the course rlib failed");
    let deps = target.join("debug/deps");
    let rlib = newest_rlib(&deps);
    let work = std::env::temp_dir().join(format!("distlab-compile-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();

    println!(
        "student file: {} lines; rlib: {}",
        std::fs::read_to_string(STUDENT_FILE).unwrap().lines().count(),
        rlib.display()
    );
    // The grader compiles with debug info off (grader::compile); the plain
    // defaults are shown for comparison.
    let no_debuginfo: &[&str] = &["-C", "debuginfo=0", "-C", "strip=debuginfo"];
    for (label, extra) in [
        ("debug, grader", no_debuginfo),
        ("debug, defaults", &[][..]),
        ("opt-level=1, grader", &["-C", "opt-level=1", "-C", "debuginfo=0", "-C", "strip=debuginfo"][..]),
    ] {
        let binary = work.join(format!("student-{}", label.replace(['=', ',', ' '], "")));
        let times: Vec<f64> = (0..11)
            .map(|_| {
                let started = Instant::now();
                let out = Command::new("rustc")
                    .args(["--edition", "2021", "--crate-type", "bin", "--crate-name", "student"])
                    .args(extra)
                    .arg("--extern")
                    .arg(format!("distlab={}", rlib.display()))
                    .arg("-L")
                    .arg(format!("dependency={}", deps.display()))
                    .arg("-o")
                    .arg(&binary)
                    .arg(STUDENT_FILE)
                    .output()
                    .expect("rustc runs");
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                started.elapsed().as_secs_f64()
            })
            .skip(1) // warm-up
            .collect();
        let run = Command::new(&binary).output().expect("student binary runs");
        let (p50, min, max) = summary(times);
        println!(
            "  rustc {label:<20} p50 {p50:.3} s (min {min:.3}, max {max:.3}); program says: {}",
            String::from_utf8_lossy(&run.stdout).lines().next().unwrap_or("")
        );
        if label == "debug, grader" {
            println!("  goal: debug compile <= 0.300 s: {}", if p50 <= 0.3 { "met" } else { "NOT met" });
        }
    }
    std::fs::remove_dir_all(&work).ok();
}

fn newest_rlib(deps: &Path) -> PathBuf {
    std::fs::read_dir(deps)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().unwrap().to_string_lossy().starts_with("libdistlab-")
                && p.extension().is_some_and(|x| x == "rlib")
        })
        .max_by_key(|p| p.metadata().unwrap().modified().unwrap())
        .expect("libdistlab rlib was built")
}

fn summary(mut times: Vec<f64>) -> (f64, f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0], times[times.len() - 1])
}
