//! What both benchmarks share: the `cargo build` path a submission would
//! take without our plain-rustc compile, for the side-by-side figures.

use std::path::Path;
use std::process::Command;

/// Builds `main_rs` as a fresh cargo crate `sub<i>` under `dir` that depends
/// on the course crate of workspace `ws`, with the shared `target` dir and
/// the prepared toolchain's `rustc`.
pub fn cargo_build(dir: &Path, ws: &Path, target: &Path, rustc: &Path, i: usize, main_rs: &str) {
    let krate = dir.join(format!("sub{i}"));
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "[package]\nname = \"sub{i}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ndistlab = {{ path = {:?} }}\n\n[workspace]\n",
            ws.join("exercises")
        ),
    )
    .unwrap();
    std::fs::copy(ws.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    std::fs::write(krate.join("src/main.rs"), main_rs).unwrap();
    let status = Command::new("cargo")
        .args(["build", "--offline", "--quiet"])
        .arg("--target-dir")
        .arg(target)
        .env("RUSTC", rustc)
        .current_dir(&krate)
        .status()
        .unwrap();
    assert!(status.success());
}
