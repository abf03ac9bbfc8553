//! What a prepared directory was made from (`stamp.json`: the course crate's
//! source hash and `rustc -vV`), and the check `serve` and `regrade` run
//! before using it: a prepared rlib from other sources or another compiler
//! would grade students against a course crate the grader does not expect.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The stamp file name inside the prepared directory.
pub const STAMP: &str = "stamp.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stamp {
    /// `course_sources::hash` of the course crate the rlib was built from.
    pub course_sources: String,
    /// Full `rustc -vV` of the toolchain that built the rlib.
    pub rustc_version: String,
}

impl Stamp {
    /// What this grader binary was built from (embedded by build.rs).
    pub fn expected_sources() -> &'static str {
        env!("DISTLAB_COURSE_SOURCES")
    }

    /// First line of `rustc -vV` of the compiler that built this grader.
    pub fn expected_rustc() -> &'static str {
        env!("DISTLAB_BUILD_RUSTC")
    }

    pub fn read(prepared_root: &Path) -> Result<Option<Stamp>> {
        let path = prepared_root.join(STAMP);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Written last by `prepare`, atomically (temp file and rename).
    pub fn write(&self, prepared_root: &Path) -> Result<()> {
        let tmp = prepared_root.join(format!("{STAMP}.tmp"));
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)?;
        std::fs::rename(&tmp, prepared_root.join(STAMP))?;
        Ok(())
    }

    fn rustc_line(&self) -> &str {
        self.rustc_version.lines().next().unwrap_or_default()
    }
}

/// Ok if `prepared_root` was prepared from the course sources and rustc this
/// grader was built from; otherwise an error that says what differs and to
/// run `prepare` again. `workspace` is only read to give better advice.
pub fn ensure_current(prepared_root: &Path, workspace: &Path) -> Result<()> {
    let again = format!(
        "run `distlab-grader prepare --prepared {} --workspace {}` again, then start the grader",
        prepared_root.display(),
        workspace.display()
    );
    let Some(stamp) = Stamp::read(prepared_root)? else {
        anyhow::bail!(
            "{} has no {STAMP}: it was prepared by an older grader and may not match this one; {again}",
            prepared_root.display()
        );
    };
    let mut differs = Vec::new();
    if stamp.course_sources != Stamp::expected_sources() {
        differs.push(format!(
            "course crate sources {} (this grader: {})",
            short(&stamp.course_sources),
            short(Stamp::expected_sources())
        ));
    }
    if stamp.rustc_line() != Stamp::expected_rustc() {
        differs.push(format!("{} (this grader: {})", stamp.rustc_line(), Stamp::expected_rustc()));
    }
    if differs.is_empty() {
        return Ok(());
    }
    let mut msg =
        format!("{} is stale: it was prepared from {}; {again}", prepared_root.display(), differs.join(" and "));
    // Re-preparing from sources other than the grader's would not help.
    if let Ok(now) = crate::course_sources::hash(&workspace.join("exercises")) {
        if now != Stamp::expected_sources() {
            msg.push_str(&format!(
                ". Note: the course sources in {} ({}) are not the ones this grader was built from either: \
                 rebuild the grader first (cargo build -p distlab-grader)",
                workspace.display(),
                short(&now)
            ));
        }
    }
    anyhow::bail!(msg)
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
