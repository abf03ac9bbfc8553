//! Where evcxr works: the install-time prebuild and the per-kernel work dir.
//!
//! evcxr builds each cell as a cargo crate in its tmpdir (`EVCXR_TMPDIR`, or
//! a fresh temp dir), with the cargo target dir at `<tmpdir>/target`. A
//! dependency added with `:dep` is therefore compiled again in every new
//! kernel. `distlab-kernel install` runs evcxr once with `EVCXR_TMPDIR`
//! pointing at `<data>/prebuilt` and loads `distlab` there, so that dir holds
//! a complete, fresh cargo build of distlab and its dependencies. Each kernel
//! then copies that dir (preserving mtimes, which cargo's freshness check
//! compares) into its own new work dir and points `EVCXR_TMPDIR` at it: the
//! `:dep distlab` at start only has to confirm everything is fresh. Kernels
//! never share a target dir, so two notebooks cannot clobber each other.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Written by `install` next to the kernel binary; read by the kernel.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KernelConfig {
    /// Absolute path of the course crate (`exercises/`), loaded as `distlab`.
    pub exercises_dir: Option<PathBuf>,
    /// evcxr work dir with distlab already built (install-time prebuild).
    pub prebuilt_dir: Option<PathBuf>,
}

impl KernelConfig {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// A kernel's private evcxr work dir, removed when dropped.
pub struct WorkDir {
    pub path: PathBuf,
}

impl WorkDir {
    /// Pick a fresh directory; `populate` fills it from the prebuild.
    pub fn create() -> Result<WorkDir> {
        let base = std::env::temp_dir();
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let path = base.join(format!("{WORKDIR_PREFIX}{}-{nanos:x}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        std::fs::write(path.join(PID_FILE), std::process::id().to_string())
            .with_context(|| format!("writing the pid file in {}", path.display()))?;
        Ok(WorkDir { path })
    }
}

const WORKDIR_PREFIX: &str = "distlab-kernel-";
/// Names the kernel that owns a work dir, so a later kernel can tell the
/// dirs of killed kernels (no shutdown, no Drop) from live ones.
const PID_FILE: &str = "kernel.pid";

fn process_alive(pid: i32) -> bool {
    // Signal 0 checks existence; EPERM means it exists (another user's).
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

/// Remove the work dirs in `base` whose kernel is gone. A dir without a
/// readable pid file is left alone (it may be one being created right now).
pub fn remove_orphans(base: &Path) -> usize {
    let Ok(dir) = std::fs::read_dir(base) else { return 0 };
    let mut removed = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(WORKDIR_PREFIX) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let pid = std::fs::read_to_string(entry.path().join(PID_FILE)).ok().and_then(|s| s.trim().parse::<i32>().ok());
        if let Some(pid) = pid {
            if pid > 0 && pid != std::process::id() as i32 && !process_alive(pid) {
                tracing::info!(dir = %entry.path().display(), pid, "removing the work dir of a dead kernel");
                if std::fs::remove_dir_all(entry.path()).is_ok() {
                    removed += 1;
                }
            }
        }
    }
    removed
}

/// Copy the prebuilt evcxr dir into `dir` (if there is one).
pub fn populate(dir: &Path, config: &KernelConfig) -> Result<()> {
    if let Some(pre) = &config.prebuilt_dir {
        if pre.join("target").is_dir() {
            let t = std::time::Instant::now();
            copy_tree(pre, dir)?;
            tracing::info!(elapsed = ?t.elapsed(), "prebuilt work dir copied");
        } else {
            tracing::warn!("prebuilt dir {} has no build; distlab will compile now", pre.display());
        }
    }
    Ok(())
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Copy a directory tree, keeping modification times (cargo's fingerprints
/// compare them). Symlinks are copied as symlinks.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if ty.is_dir() {
            copy_tree(&src, &dst)?;
        } else if ty.is_symlink() {
            let target = std::fs::read_link(&src)?;
            let _ = std::fs::remove_file(&dst);
            std::os::unix::fs::symlink(target, &dst)?;
        } else {
            std::fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
            let mtime = entry.metadata()?.modified()?;
            let f = std::fs::File::options().write(true).open(&dst)?;
            f.set_modified(mtime)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orphaned_work_dirs_are_removed_live_ones_kept() {
        let base = std::env::temp_dir().join(format!("distlab-workdirs-{}", std::process::id()));
        let mk = |name: &str, pid: Option<String>| {
            let d = base.join(name);
            std::fs::create_dir_all(d.join("target")).unwrap();
            if let Some(pid) = pid {
                std::fs::write(d.join(PID_FILE), pid).unwrap();
            }
            d
        };
        // A child that has exited: its pid is dead (reaped).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let gone = mk("distlab-kernel-dead", Some(dead.to_string()));
        let live = mk("distlab-kernel-live", Some(std::process::id().to_string()));
        let init = mk("distlab-kernel-init", Some("1".into()));
        let fresh = mk("distlab-kernel-nopid", None);
        let other = mk("something-else", Some(dead.to_string()));
        assert_eq!(remove_orphans(&base), 1);
        assert!(!gone.exists());
        assert!(live.exists() && init.exists() && fresh.exists() && other.exists());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
