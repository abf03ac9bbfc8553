//! `distlab-kernel install` / `uninstall`: the kernelspec, the kernel's data
//! dir (a copy of the binary, its config, the prebuilt evcxr work dir) and
//! the logo.
//!
//! Layout, for a Jupyter data dir J (`--user`: ~/.local/share/jupyter or
//! $JUPYTER_DATA_DIR; `--sys-prefix`: <sys.prefix>/share/jupyter;
//! `--prefix P`: P/share/jupyter):
//!
//! ```text
//! J/kernels/distlab/kernel.json, logo-32x32.png, logo-64x64.png
//! J/distlab-kernel/bin/distlab-kernel   (copy of this binary)
//! J/distlab-kernel/config.json          (exercises dir, prebuilt dir)
//! J/distlab-kernel/prebuilt/            (evcxr work dir, distlab built)
//! ```

use crate::workdir::KernelConfig;

// The same hash of the course crate's sources that the grader stamps its
// prepared dir with (one implementation, std and sha2 only).
#[path = "../../grader/src/course_sources.rs"]
#[allow(dead_code)]
mod course_sources;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

pub const KERNEL_NAME: &str = "distlab";
pub const DISPLAY_NAME: &str = "Rust (distlab)";

#[derive(Debug, Clone)]
pub enum Target {
    User,
    SysPrefix,
    Prefix(PathBuf),
}

/// The Jupyter data dir for a target.
pub fn jupyter_dir(target: &Target) -> Result<PathBuf> {
    Ok(match target {
        Target::User => {
            if let Some(d) = std::env::var_os("JUPYTER_DATA_DIR") {
                PathBuf::from(d)
            } else if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
                PathBuf::from(x).join("jupyter")
            } else {
                let home = std::env::var_os("HOME").context("HOME is not set")?;
                PathBuf::from(home).join(".local/share/jupyter")
            }
        }
        Target::SysPrefix => sys_prefix()?.join("share/jupyter"),
        Target::Prefix(p) => absolute(p)?.join("share/jupyter"),
    })
}

fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() { p.to_owned() } else { std::env::current_dir()?.join(p) })
}

/// sys.prefix of the active virtualenv, or of the `python3` in PATH.
fn sys_prefix() -> Result<PathBuf> {
    if let Some(v) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(v));
    }
    for python in ["python3", "python"] {
        if let Ok(out) = std::process::Command::new(python).args(["-c", "import sys; print(sys.prefix)"]).output() {
            if out.status.success() {
                let s = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                if !s.is_empty() {
                    return Ok(PathBuf::from(s));
                }
            }
        }
    }
    bail!("--sys-prefix: no VIRTUAL_ENV and no python3 in PATH to ask for sys.prefix")
}

/// Find the course crate: the given dir, or `exercises/` in the current dir
/// or one of its parents.
fn find_exercises(given: Option<&Path>) -> Result<PathBuf> {
    let check = |d: &Path| -> bool {
        std::fs::read_to_string(d.join("Cargo.toml")).map(|t| t.contains("name = \"distlab\"")).unwrap_or(false)
    };
    if let Some(d) = given {
        let d = absolute(d)?;
        if !check(&d) {
            bail!("{} does not hold the distlab crate (no Cargo.toml with name = \"distlab\")", d.display());
        }
        return Ok(d.canonicalize()?);
    }
    let mut dir = std::env::current_dir()?;
    loop {
        let cand = dir.join("exercises");
        if check(&cand) {
            return Ok(cand.canonicalize()?);
        }
        if !dir.pop() {
            bail!("cannot find the distlab course crate: run from the repository or pass --exercises DIR");
        }
    }
}

pub struct InstallOptions {
    pub target: Target,
    pub exercises: Option<PathBuf>,
    pub prebuild: bool,
}

pub fn install(opts: &InstallOptions) -> Result<()> {
    let jdir = jupyter_dir(&opts.target)?;
    let data = jdir.join("distlab-kernel");
    let spec = jdir.join("kernels").join(KERNEL_NAME);
    let exercises = find_exercises(opts.exercises.as_deref())?;
    std::fs::create_dir_all(data.join("bin"))?;
    std::fs::create_dir_all(&spec)?;

    // A copy of this binary, so the kernelspec survives `cargo clean`.
    let exe = std::env::current_exe()?;
    let bin = data.join("bin").join("distlab-kernel");
    if exe.canonicalize()? != bin.canonicalize().unwrap_or_default() {
        let _ = std::fs::remove_file(&bin); // a running kernel keeps its inode
        std::fs::copy(&exe, &bin).with_context(|| format!("copying the binary to {}", bin.display()))?;
    }

    let prebuilt = data.join("prebuilt");
    let config = KernelConfig { exercises_dir: Some(exercises.clone()), prebuilt_dir: Some(prebuilt.clone()) };
    let config_path = data.join("config.json");
    std::fs::write(&config_path, serde_json::to_string_pretty(&config)?)?;

    let kernel_json = serde_json::json!({
        "argv": [bin, "kernel", "--config", config_path, "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "rust",
        "interrupt_mode": "message",
        "metadata": {"debugger": false},
    });
    std::fs::write(spec.join("kernel.json"), serde_json::to_string_pretty(&kernel_json)?)?;
    std::fs::write(spec.join("logo-64x64.png"), crate::logo::png(64))?;
    std::fs::write(spec.join("logo-32x32.png"), crate::logo::png(32))?;
    println!("Installed kernelspec {KERNEL_NAME} in {}", spec.display());

    if opts.prebuild {
        prebuild(&prebuilt, &exercises)?;
    }
    Ok(())
}

/// The evcxr commands that give a session its crates: the course crate, and
/// serde beside it (the version distlab uses), so a student's own types can
/// derive `serde::Serialize` for `ctx.persist` as rustc suggests; the
/// grader passes the same two crates to rustc.
pub fn course_deps(exercises: &Path) -> String {
    format!(
        ":dep distlab = {{ path = {:?} }}\n:dep serde = {{ version = \"1\", features = [\"derive\"] }}",
        exercises.display().to_string()
    )
}

/// What a prebuilt work dir was made from: the kernel's version (which pins
/// evcxr, and so how it calls cargo), the Rust toolchain, the course crate's
/// sources and the dependency lines. Not the kernel binary itself: a rebuilt
/// kernel builds the course crate the same way. Written last, so a failed or
/// interrupted build never vouches for itself.
pub const STAMP: &str = "distlab-prebuild.stamp";

fn prebuild_stamp(exercises: &Path) -> Result<String> {
    let rustc = std::process::Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    let toolchain = String::from_utf8_lossy(&rustc.stdout);
    let sources = course_sources::hash(exercises).with_context(|| format!("hashing {}", exercises.display()))?;
    Ok(format!(
        "kernel {}\n{}\nsources {sources}\n{}\n",
        env!("CARGO_PKG_VERSION"),
        toolchain.trim_end(),
        course_deps(exercises)
    ))
}

/// Build distlab once in an evcxr work dir, exactly as a kernel would; kept
/// as it is when nothing it was made from changed (a second `./dev up`).
/// Must run before any other thread starts (it sets EVCXR_TMPDIR).
fn prebuild(prebuilt: &Path, exercises: &Path) -> Result<()> {
    let t = std::time::Instant::now();
    let stamp = prebuild_stamp(exercises)?;
    if std::fs::read_to_string(prebuilt.join(STAMP)).ok().as_deref() == Some(stamp.as_str()) {
        println!("Pre-built distlab in {} is up to date", prebuilt.display());
        return Ok(());
    }
    println!(
        "Pre-building the distlab crate for the kernel in {} (a few minutes; cargo's progress follows) ...",
        prebuilt.display()
    );
    if prebuilt.exists() {
        std::fs::remove_dir_all(prebuilt)?;
    }
    std::fs::create_dir_all(prebuilt)?;
    // Safety: called from main before any thread is spawned.
    std::env::set_var("EVCXR_TMPDIR", prebuilt);
    let (mut ctx, outputs) = evcxr::CommandContext::new().map_err(|e| anyhow::anyhow!("starting evcxr: {e}"))?;
    // Echo what the build prints, so a failure is visible.
    std::thread::spawn(move || {
        while let Ok(line) = outputs.stderr.recv() {
            eprintln!("{line}");
        }
    });
    ctx.execute(&course_deps(exercises)).map_err(|e| anyhow::anyhow!("building distlab in evcxr: {e}"))?;
    drop(ctx);
    // The compiled cells are per-session; only the dependency build matters.
    std::fs::write(prebuilt.join(STAMP), stamp)?;
    println!("Pre-built distlab in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

pub fn uninstall(target: &Target) -> Result<()> {
    let jdir = jupyter_dir(target)?;
    let spec = jdir.join("kernels").join(KERNEL_NAME);
    let data = jdir.join("distlab-kernel");
    let mut removed = false;
    for d in [&spec, &data] {
        if d.exists() {
            std::fs::remove_dir_all(d).with_context(|| format!("removing {}", d.display()))?;
            println!("Removed {}", d.display());
            removed = true;
        }
    }
    if !removed {
        println!("Nothing to remove: no distlab kernel in {}", jdir.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prebuild_stamp_follows_the_course_sources() {
        let dir = std::env::temp_dir().join(format!("distlab-stamp-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"distlab\"\n").unwrap();
        std::fs::write(dir.join("build.rs"), "fn main() {}\n").unwrap();
        std::fs::write(dir.join("src/lib.rs"), "pub fn a() {}\n").unwrap();
        let first = prebuild_stamp(&dir).unwrap();
        assert_eq!(prebuild_stamp(&dir).unwrap(), first);
        std::fs::write(dir.join("src/lib.rs"), "pub fn b() {}\n").unwrap();
        let changed = prebuild_stamp(&dir).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_ne!(changed, first);
    }
}
