//! Measures the submission path on a ~150-line program: sandboxed plain
//! rustc (debug and -C opt-level=1), the same rustc without the sandbox,
//! `cargo build` of the file in a fresh crate with a shared target dir, and
//! the sandboxed run. Prints medians. Run: `./dev bench`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use distlab_grader::{compile, prepare, run, CompileOptions, PrepareOptions, RunOptions, SlotPool};

const PROGRAM: &str = include_str!("bench_program.rs.txt");
const ROUNDS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn main() -> anyhow::Result<()> {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let prepared = prepare(&PrepareOptions { workspace: ws.clone(), root: ws.join("var/prepared") }, &mut |_| {})?;
    let pool = SlotPool::system(1, &prepared.root.join("slots"))?;
    let slot = pool.acquire();
    let user = slot.user();
    let dir = tempfile::tempdir()?;
    let bin = dir.path().join("main");
    println!("program: {} lines; {} rounds, medians", PROGRAM.lines().count(), ROUNDS);

    let mut rows: Vec<(String, Duration)> = Vec::new();
    // CPU time is steadier than wall time on a shared machine.
    let mut cpu_rows: Vec<(String, Duration)> = Vec::new();
    for opt in [0u8, 1] {
        let opts = CompileOptions { opt_level: opt, ..Default::default() };
        let mut cpus = Vec::new();
        let t = median(
            (0..ROUNDS)
                .map(|_| {
                    time(|| {
                        let out = compile(&prepared, user, PROGRAM.as_bytes(), &bin, &opts).unwrap();
                        assert!(out.success(), "{}", out.diagnostics);
                        cpus.push(out.sandbox.cpu);
                    })
                })
                .collect(),
        );
        rows.push((format!("sandboxed rustc, opt-level={opt}"), t));
        cpu_rows.push((format!("sandboxed rustc, opt-level={opt} (CPU)"), median(cpus)));
    }

    // Same rustc, same flags, no sandbox: the sandbox's overhead.
    let src = dir.path().join("main.rs");
    std::fs::write(&src, PROGRAM)?;
    let plain = median(
        (0..ROUNDS)
            .map(|_| {
                time(|| {
                    let st = Command::new(prepared.rustc())
                        .args(["--edition", "2021", "--crate-type", "bin", "--crate-name", "main"])
                        .arg("--extern")
                        .arg(format!("distlab={}", prepared.rlib.display()))
                        .arg("-L")
                        .arg(format!("dependency={}", prepared.deps.display()))
                        .arg("-o")
                        .arg(dir.path().join("plain"))
                        .arg(&src)
                        .status()
                        .unwrap();
                    assert!(st.success());
                })
            })
            .collect(),
    );
    rows.push(("plain rustc, no sandbox, opt-level=0".into(), plain));

    // cargo build of a fresh crate per submission, sharing one target dir.
    let target = dir.path().join("cargo-target");
    let cargo_build = |i: usize| common::cargo_build(dir.path(), &ws, &target, &prepared.rustc(), i, PROGRAM);
    cargo_build(1000); // warm the shared target dir (builds distlab and deps)
    let cargo = median((0..ROUNDS).map(|i| time(|| cargo_build(i))).collect());
    rows.push(("cargo build, fresh crate, shared target".into(), cargo));

    let opts = CompileOptions::default();
    assert!(compile(&prepared, user, PROGRAM.as_bytes(), &bin, &opts)?.success());
    let mut cpu = Vec::new();
    let run_t = median(
        (0..ROUNDS)
            .map(|_| {
                let out = run(&prepared, user, &bin, b"nodes=7\nsteps=2000\n", &RunOptions::default()).unwrap();
                assert!(out.success(), "{out:?}");
                cpu.push(out.cpu);
                out.wall
            })
            .collect(),
    );
    rows.push(("sandboxed run (debug binary, 7 nodes x 2000 steps)".into(), run_t));
    let native = median(
        (0..ROUNDS)
            .map(|_| {
                time(|| {
                    use std::io::Write;
                    let mut c = Command::new(&bin)
                        .stdin(std::process::Stdio::piped())
                        .stdout(std::process::Stdio::null())
                        .spawn()
                        .unwrap();
                    c.stdin.take().unwrap().write_all(b"nodes=7\nsteps=2000\n").unwrap();
                    assert!(c.wait().unwrap().success());
                })
            })
            .collect(),
    );
    rows.push(("same binary, no sandbox".into(), native));
    let trivial = dir.path().join("trivial");
    assert!(compile(&prepared, user, b"fn main() {}", &trivial, &opts)?.success());
    let empty = median(
        (0..ROUNDS).map(|_| run(&prepared, user, &trivial, b"", &RunOptions::default()).unwrap().wall).collect(),
    );
    rows.push(("sandboxed run of an empty main (overhead)".into(), empty));

    rows.extend(cpu_rows);
    for (name, t) in &rows {
        println!("{:<55} {:>8.3} s", name, t.as_secs_f64());
    }
    println!("sandboxed run CPU (median): {:.3} s", median(cpu).as_secs_f64());
    Ok(())
}
