//! Building what every compile needs, once: a world-readable copy of the
//! toolchain and the course crate as an rlib (without `reference`), recorded
//! in a manifest, and a stamp of what it was made from (`stamp.rs`).
//!
//! Why copy the toolchain: rustup keeps it under /root (mode 0700), which
//! the sandbox uid cannot traverse, and bwrap resolves bind sources as that
//! uid. Files are hard-linked when possible (same filesystem), so the copy
//! is instant and takes no space; it is also a stable snapshot, so a rustup
//! update cannot make the rlib and the compiler disagree.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::course_sources;
use crate::stamp::{Stamp, STAMP};

/// The manifest file name inside the prepared directory.
pub const MANIFEST: &str = "manifest.json";

/// Where the prepared artefacts are; all paths absolute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Prepared {
    /// The prepared directory itself.
    pub root: PathBuf,
    /// Toolchain copy (a sysroot: bin/rustc, lib/...).
    pub toolchain: PathBuf,
    /// `libdistlab-<hash>.rlib`.
    pub rlib: PathBuf,
    /// The `deps/` directory holding the rlib and its dependencies.
    pub deps: PathBuf,
    /// `rustc -vV` of the toolchain that built the rlib.
    pub rustc_version: String,
    /// Target triple of the toolchain.
    pub host: String,
}

/// What to prepare and where.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    /// The workspace holding the `distlab` package (its Cargo.toml).
    pub workspace: PathBuf,
    /// Output directory, e.g. `var/prepared`. Must be traversable by the
    /// sandbox uids, so not under a 0700 directory.
    pub root: PathBuf,
}

/// Progress events for a CLI spinner or a log.
#[derive(Debug, Clone)]
pub enum Progress {
    Step(&'static str),
    /// A line of cargo's output ("Compiling serde v1...").
    Cargo(String),
}

impl Prepared {
    /// Reads the manifest of a prepared directory.
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join(MANIFEST);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {} (run `distlab-grader prepare`)", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The rustc of the toolchain copy.
    pub fn rustc(&self) -> PathBuf {
        self.toolchain.join("bin/rustc")
    }

    /// Directory for per-job scratch dirs (0711: sandbox uids may enter
    /// their own subdir but not list the others).
    pub fn scratch(&self) -> PathBuf {
        self.root.join("scratch")
    }
}

/// Prepares everything; cheap when already up to date (cargo is a no-op and
/// the toolchain copy is kept while `rustc -vV` is unchanged).
pub fn prepare(opts: &PrepareOptions, progress: &mut dyn FnMut(Progress)) -> Result<Prepared> {
    std::fs::create_dir_all(&opts.root).with_context(|| format!("creating {}", opts.root.display()))?;
    let root = absolute(&opts.root)?;
    let workspace = absolute(&opts.workspace)?;
    mkdir_mode(&root, 0o755)?;
    mkdir_mode(&root.join("scratch"), 0o711)?;

    progress(Progress::Step("inspecting the toolchain"));
    let sysroot =
        PathBuf::from(output_of(Command::new("rustc").arg("--print").arg("sysroot").current_dir(&workspace))?.trim());
    let version = output_of(Command::new(sysroot.join("bin/rustc")).arg("-vV"))?;
    let host = version.lines().find_map(|l| l.strip_prefix("host: ")).context("no host in rustc -vV")?.to_string();

    let toolchain = root.join("toolchain");
    let previous = Prepared::load(&root).ok();
    if previous.as_ref().map(|p| &p.rustc_version) != Some(&version) || !toolchain.join("bin/rustc").exists() {
        progress(Progress::Step("copying the toolchain"));
        copy_toolchain(&sysroot, &toolchain, &host)?;
    }
    let rustc = toolchain.join("bin/rustc");
    let copied_version = output_of(Command::new(&rustc).arg("-vV"))?;
    if copied_version != version {
        bail!("toolchain copy reports a different rustc:\n{copied_version}");
    }

    progress(Progress::Step("building the course crate (no `reference` feature)"));
    // Hashed before the build: an edit during it makes the stamp stale, never wrong.
    let course = workspace.join("exercises");
    let sources = course_sources::hash(&course).with_context(|| format!("hashing {}", course.display()))?;
    // Any old stamp stops vouching while the rlib is being rebuilt.
    match std::fs::remove_file(root.join(STAMP)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let target = root.join("target");
    let built = build_course_crate(&workspace, &target, &rustc, progress)?;
    let deps = target.join("debug/deps");
    let rlib = built.unwrap_or(newest_rlib(&deps, "distlab")?);

    let prepared = Prepared { root: root.clone(), toolchain, rlib, deps, rustc_version: version.clone(), host };
    let tmp = root.join(format!("{MANIFEST}.tmp"));
    std::fs::write(&tmp, serde_json::to_string_pretty(&prepared)?)?;
    std::fs::rename(&tmp, root.join(MANIFEST))?;
    // Last, so a failed prepare never leaves a stamp that vouches for it.
    Stamp { course_sources: sources, rustc_version: version }.write(&root)?;
    progress(Progress::Step("prepared"));
    Ok(prepared)
}

/// Features of the course crate that must never reach a sandbox build.
const FORBIDDEN_FEATURES: &[&str] = &["reference", "grader"];

/// Builds the rlib; returns its path as cargo reports it (the hashed one in
/// deps/), after checking no forbidden feature was enabled.
fn build_course_crate(
    workspace: &Path,
    target: &Path,
    rustc: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<Option<PathBuf>> {
    use std::io::BufRead;
    let mut child = Command::new("cargo")
        .args(["build", "-p", "distlab", "--lib", "--color", "never"])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
        // The very compiler the sandbox will use, so the rlibs match it.
        .env("RUSTC", rustc)
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running cargo")?;
    // Artifacts (JSON) on stdout, read by a thread; progress on stderr.
    let stdout = child.stdout.take().expect("piped");
    let artifacts = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "distlab")
            .last()
    });
    let mut log = Vec::new();
    for line in std::io::BufReader::new(child.stderr.take().expect("piped")).lines() {
        let line = line?;
        progress(Progress::Cargo(line.trim().to_string()));
        log.push(line);
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("building the course crate failed ({status}):\n{}", log.join("\n"));
    }
    let Some(artifact) = artifacts.join().ok().flatten() else { return Ok(None) };
    let features: Vec<&str> =
        artifact["features"].as_array().into_iter().flatten().filter_map(|f| f.as_str()).collect();
    if let Some(bad) = features.iter().find(|f| FORBIDDEN_FEATURES.contains(f)) {
        bail!("the course crate was built with feature `{bad}`: it must never reach the sandbox");
    }
    // cargo names the uplifted rlib and the hashed rmeta; the hashed rlib
    // sits beside the rmeta.
    let rlib = artifact["filenames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".rmeta") && f.contains("/deps/libdistlab-"))
        .map(|f| PathBuf::from(f.trim_end_matches(".rmeta").to_string() + ".rlib"))
        .filter(|p| p.exists());
    Ok(rlib)
}

/// The most recent `lib<krate>-*.rlib` (old ones stay after feature changes).
pub fn newest_rlib(deps: &Path, krate: &str) -> Result<PathBuf> {
    let prefix = format!("lib{krate}-");
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for e in std::fs::read_dir(deps).with_context(|| format!("reading {}", deps.display()))? {
        let e = e?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".rlib") {
            let t = e.metadata()?.modified()?;
            if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
                best = Some((t, e.path()));
            }
        }
    }
    best.map(|(_, p)| p).with_context(|| format!("no lib{krate}-*.rlib in {}", deps.display()))
}

/// Copies what rustc needs from a sysroot: the driver, its shared libraries
/// and the target's std rlibs and linker helpers (not docs or sources).
fn copy_toolchain(sysroot: &Path, dest: &Path, host: &str) -> Result<()> {
    if dest.exists() {
        std::fs::remove_dir_all(dest)?;
    }
    mkdir_mode(&dest.join("bin"), 0o755)?;
    link_or_copy(&sysroot.join("bin/rustc"), &dest.join("bin/rustc"))?;
    mkdir_mode(&dest.join("lib"), 0o755)?;
    for e in std::fs::read_dir(sysroot.join("lib"))? {
        let e = e?;
        if e.file_type()?.is_file() {
            link_or_copy(&e.path(), &dest.join("lib").join(e.file_name()))?;
        }
    }
    let rel = Path::new("lib/rustlib").join(host);
    copy_tree(&sysroot.join(&rel), &dest.join(&rel))?;
    Ok(())
}

fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    mkdir_mode(dest, 0o755)?;
    for e in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let e = e?;
        let ft = e.file_type()?;
        let to = dest.join(e.file_name());
        if ft.is_dir() {
            copy_tree(&e.path(), &to)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &to)?;
        } else {
            link_or_copy(&e.path(), &to)?;
        }
    }
    Ok(())
}

fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).with_context(|| format!("copying {}", from.display()))?;
    }
    Ok(())
}

fn mkdir_mode(dir: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).with_context(|| format!("resolving {}", p.display()))
}

fn output_of(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}
