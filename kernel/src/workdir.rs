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
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = base.join(format!("distlab-kernel-{}-{nanos:x}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(WorkDir { path })
    }

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
