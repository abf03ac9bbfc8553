//! Per-job scratch directories under the prepared dir's `scratch/` (0711),
//! removed on drop.

use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sandbox::SandboxUser;

pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// A fresh directory with `mode`, owned by `owner` when given (so a
    /// sandbox uid can write into it).
    pub fn new(parent: &Path, mode: u32, owner: Option<SandboxUser>) -> std::io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let path = parent.join(format!("job-{}-{n}-{nanos:x}", std::process::id()));
        std::fs::create_dir(&path)?;
        let dir = ScratchDir { path };
        std::fs::set_permissions(&dir.path, std::fs::Permissions::from_mode(mode))?;
        if let Some(u) = owner {
            // SAFETY: getter.
            if unsafe { libc::geteuid() } == 0 {
                chown(&dir.path, Some(u.uid), Some(u.gid))?;
            }
        }
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
