//! Compiled submissions by hash of (program source, prepared manifest): the
//! same program against the same course rlib and toolchain is the same
//! binary, so resubmissions, regrades and restarts skip rustc. Compile
//! errors are kept too (they are as deterministic).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::prepare::Prepared;

/// What a cached compile produced.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Compiled {
    Binary(PathBuf),
    Failed { diagnostics: String, truncated: bool },
}

pub struct CompileCache {
    dir: PathBuf,
    /// Hash of the manifest: a new toolchain or rlib never hits old entries.
    salt: String,
}

impl CompileCache {
    /// The directory is the grader's own (0700): sandboxes get private
    /// copies of binaries, never this directory.
    pub fn new(dir: &Path, prepared: &Prepared) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        let manifest = serde_json::to_vec(prepared)?;
        let rlib_len = std::fs::metadata(&prepared.rlib).map(|m| m.len()).unwrap_or(0);
        // The stamp names the course sources: a rebuilt rlib of the same size
        // and path must not hit entries of the old one.
        let stamp = std::fs::read(prepared.root.join(crate::stamp::STAMP)).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(&manifest);
        h.update(&stamp);
        h.update(rlib_len.to_le_bytes());
        Ok(CompileCache { dir: dir.to_path_buf(), salt: hex::encode(h.finalize()) })
    }

    pub fn key(&self, program: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.salt.as_bytes());
        h.update(program.as_bytes());
        hex::encode(h.finalize())
    }

    pub fn get(&self, key: &str) -> Option<Compiled> {
        let bin = self.dir.join(key);
        if bin.is_file() {
            return Some(Compiled::Binary(bin));
        }
        let err = std::fs::read(self.dir.join(format!("{key}.err"))).ok()?;
        serde_json::from_slice(&err).ok()
    }

    /// Where a fresh binary for `key` should be compiled to before `put`.
    pub fn staging(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.{}.tmp", std::process::id()))
    }

    /// Records a compile; returns the entry as `get` would.
    pub fn put(&self, key: &str, compiled: Compiled) -> Result<Compiled> {
        match compiled {
            Compiled::Binary(staged) => {
                let dest = self.dir.join(key);
                // rename is atomic: a concurrent reader sees all or nothing.
                std::fs::rename(&staged, &dest)?;
                Ok(Compiled::Binary(dest))
            }
            failed @ Compiled::Failed { .. } => {
                let tmp = self.dir.join(format!("{key}.err.{}.tmp", std::process::id()));
                std::fs::write(&tmp, serde_json::to_vec(&failed)?)?;
                std::fs::rename(&tmp, self.dir.join(format!("{key}.err")))?;
                Ok(failed)
            }
        }
    }
}
