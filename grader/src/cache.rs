//! Compiled submissions by hash of (student, program source, prepared
//! manifest): the same program against the same course rlib and toolchain
//! is the same binary, so resubmissions, regrades and restarts skip rustc.
//! Keyed per student, because a shared cache let a student tell from the
//! grading time which programs someone else had already sent. Compile
//! errors are kept too (they are as deterministic); a sandbox set-up
//! failure never is (it is the grader's, not the program's).

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

    /// `student` is anything that stands for one student (grading passes the
    /// student's seed for the exercise, which the program already names).
    pub fn key(&self, student: impl std::fmt::Display, program: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.salt.as_bytes());
        let student = student.to_string();
        h.update((student.len() as u64).to_le_bytes());
        h.update(student.as_bytes());
        h.update(program.as_bytes());
        hex::encode(h.finalize())
    }

    pub fn get(&self, key: &str) -> Option<Compiled> {
        let bin = self.dir.join(key);
        if bin.is_file() {
            return Some(Compiled::Binary(bin));
        }
        let path = self.dir.join(format!("{key}.err"));
        let err = std::fs::read(&path).ok()?;
        let entry: Compiled = serde_json::from_slice(&err).ok()?;
        if let Compiled::Failed { diagnostics, .. } = &entry {
            if sandbox_failure(diagnostics) {
                // Stored by an older grader: compile again.
                let _ = std::fs::remove_file(&path);
                return None;
            }
        }
        Some(entry)
    }

    /// Where a fresh binary for `key` should be compiled to before `put`:
    /// unique per compile, since two workers may compile the same program.
    pub fn staging(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.{}.{:016x}.tmp", std::process::id(), rand::random::<u64>()))
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
            Compiled::Failed { diagnostics, .. } if sandbox_failure(&diagnostics) => {
                let first = diagnostics.lines().find(|l| is_sandbox_line(l)).unwrap_or_default();
                anyhow::bail!("the compile sandbox itself failed (not cached, not the submission's result): {first}")
            }
            failed @ Compiled::Failed { .. } => {
                let tmp = self.dir.join(format!("{key}.err.{}.{:016x}.tmp", std::process::id(), rand::random::<u64>()));
                std::fs::write(&tmp, serde_json::to_vec(&failed)?)?;
                std::fs::rename(&tmp, self.dir.join(format!("{key}.err")))?;
                Ok(failed)
            }
        }
    }
}

/// Whether compiler output is really the sandbox failing to start (bwrap's
/// own messages, e.g. `bwrap: Can't find source path /x: Permission
/// denied`): rustc never prints lines starting with `bwrap:`.
pub fn sandbox_failure(diagnostics: &str) -> bool {
    diagnostics.lines().any(is_sandbox_line)
}

fn is_sandbox_line(line: &str) -> bool {
    // (A program can make rustc print such a line, e.g. with compile_error!;
    // it only costs that program its cache entry and a retry.)
    line.trim_start().starts_with("bwrap:")
}
