//! A hash of the course crate's sources (its Cargo.toml, build.rs, which
//! derives the scaffolds, and every file under src/), in sorted path order. The grader's build script embeds it and
//! `prepare` stamps it, so `serve` can tell a prepared rlib built from other
//! sources. Only std and sha2: build.rs includes this file as well.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The directories of the course crate whose every file is hashed.
pub const SOURCE_DIRS: [&str; 1] = ["src"];

/// Hex SHA-256 over (relative path, length, bytes) of each source file.
pub fn hash(course_crate: &Path) -> io::Result<String> {
    let mut files = vec![PathBuf::from("Cargo.toml"), PathBuf::from("build.rs")];
    for dir in SOURCE_DIRS {
        collect(course_crate, Path::new(dir), &mut files)?;
    }
    files.sort();
    let mut h = Sha256::new();
    for rel in &files {
        let bytes = std::fs::read(course_crate.join(rel))?;
        // Lengths keep (path, contents) boundaries unambiguous.
        let name = rel.to_string_lossy();
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// The files the hash covers, relative to the crate (build.rs reruns on them).
fn collect(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let path = rel.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            collect(root, &path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
