//! Compiling one student `main.rs` with plain rustc against the prepared
//! course rlib, inside the sandbox.
//!
//! rustc sees only: system dirs, the toolchain copy at /toolchain, the deps
//! at /deps, the source in a sized tmpfs at /work, and an empty /out for the
//! binary. So `include_str!`/`include!` of grader files fail with "file not
//! found"; no secret can reach the binary or the error text.

use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::prepare::Prepared;
use crate::sandbox::{self, Limits, Outcome, SandboxError, SandboxUser, Spec};
use crate::scratch::ScratchDir;

/// Options of one compile.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// `-C opt-level` (0 = debug, FINDINGS: 0.20 s; 1 = 0.38 s).
    pub opt_level: u8,
    pub limits: Limits,
    /// Let `unsafe` code compile. Never for a submission; the sandbox tests
    /// use it to show the sandbox holds against any code.
    pub allow_unsafe: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions { opt_level: 0, limits: Limits::compile(), allow_unsafe: false }
    }
}

/// The result of one compile.
#[derive(Debug, Clone)]
pub struct CompileOutcome {
    /// The binary (at the requested destination) when compilation succeeded.
    pub binary: Option<PathBuf>,
    /// rustc's messages with sandbox paths rewritten (`main.rs:LINE:COL`),
    /// capped at the limits' output cap.
    pub diagnostics: String,
    pub diagnostics_truncated: bool,
    /// The sandbox's account (limit hit, times).
    pub sandbox: Outcome,
}

impl CompileOutcome {
    pub fn success(&self) -> bool {
        self.binary.is_some()
    }
}

const TOOLCHAIN: &str = "/toolchain";
const DEPS: &str = "/deps";

/// Compiles `source` as a binary and writes it to `dest` (mode 0755).
/// Code generation flags for every student compile (besides opt-level).
pub const STUDENT_CODEGEN_FLAGS: [&str; 4] = ["-C", "debuginfo=0", "-C", "strip=debuginfo"];

pub fn compile(
    prepared: &Prepared,
    user: SandboxUser,
    source: &[u8],
    dest: &Path,
    opts: &CompileOptions,
) -> Result<CompileOutcome, SandboxError> {
    if opts.opt_level > 3 {
        return Err(SandboxError::Setup(format!("opt-level {} is not 0..=3", opts.opt_level)));
    }
    let out = ScratchDir::new(&prepared.scratch(), 0o700, Some(user))?;
    let rlib_name = prepared.rlib.file_name().expect("rlib has a file name").to_string_lossy();
    let mut argv: Vec<String> = vec![
        "/usr/bin/sh".into(),
        "-c".into(),
        // Build in the tmpfs, export only the final binary. The marker says
        // the sandbox was set up and the compiler ran: without it, a failure
        // is the grader's, not the student's.
        r#": > /out/started && "$@" && exec cp /work/main /out/main"#.into(),
        "sh".into(),
        format!("{TOOLCHAIN}/bin/rustc"),
    ];
    argv.extend(
        [
            "--edition",
            "2021",
            "--crate-type",
            "bin",
            "--crate-name",
            "main",
            "--color",
            "never",
            "--sysroot",
            TOOLCHAIN,
        ]
        .map(String::from),
    );
    argv.push("-C".into());
    argv.push(format!("opt-level={}", opts.opt_level));
    // No unsafe code: it is the only way to run code before `main` (in the
    // node host's zygote, where nodes would share it) or to reach another
    // node's memory or descriptors.
    if !opts.allow_unsafe {
        argv.extend(["-F", "unsafe_code"].map(String::from));
    }
    // Debug info is most of the link time and no one reads it: panic
    // messages keep their main.rs:line without it.
    argv.extend(STUDENT_CODEGEN_FLAGS.iter().map(|f| f.to_string()));
    argv.push("--extern".into());
    argv.push(format!("distlab={DEPS}/{rlib_name}"));
    // serde beside distlab, as the kernel has it: a student's own durable
    // types derive `serde::Serialize` as rustc suggests.
    if let Ok(serde) = crate::prepare::newest_rlib(&prepared.deps, "serde") {
        let name = serde.file_name().expect("rlib has a file name").to_string_lossy().into_owned();
        argv.push("--extern".into());
        argv.push(format!("serde={DEPS}/{name}"));
    }
    argv.push("-L".into());
    argv.push(format!("dependency={DEPS}"));
    argv.extend(["-o", "/work/main", "main.rs"].map(String::from));

    let spec = Spec::new(user, opts.limits.clone(), argv)
        .ro_bind(&prepared.toolchain, TOOLCHAIN)
        .ro_bind(&prepared.deps, DEPS)
        .rw_bind(out.path(), "/out")
        .file(source.to_vec(), "/work/main.rs")
        // lld-wrapper finds itself through /proc/self/exe.
        .proc(true);
    let outcome = sandbox::launch(&spec, &[])?;
    if !out.path().join("started").exists() && outcome.limit.is_none() {
        let text = String::from_utf8_lossy(&outcome.stderr.bytes);
        return Err(SandboxError::Setup(format!("the compile sandbox did not start: {}", text.trim())));
    }

    let mut text = String::from_utf8_lossy(&outcome.stderr.bytes).into_owned();
    text.push_str(&String::from_utf8_lossy(&outcome.stdout.bytes));
    let diagnostics = rewrite_paths(&text);
    let truncated = outcome.stderr.truncated || outcome.stdout.truncated;

    let binary = if outcome.success() {
        export_binary(&out.path().join("main"), dest, opts.limits.file_size)?;
        Some(dest.to_path_buf())
    } else {
        None
    };
    Ok(CompileOutcome { binary, diagnostics, diagnostics_truncated: truncated, sandbox: outcome })
}

/// Copies the binary out of the sandbox-writable dir without following a
/// link the sandbox could have planted there.
fn export_binary(from: &Path, dest: &Path, max: u64) -> Result<(), SandboxError> {
    let mut f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(from)?;
    let meta = f.metadata()?;
    if !meta.is_file() || meta.len() > max {
        return Err(SandboxError::Setup("compiler output is not a regular file".into()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut f).take(max).read_to_end(&mut bytes)?;
    std::fs::write(dest, &bytes)?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Sandbox paths mean nothing to the student: show `main.rs:LINE:COL`.
pub fn rewrite_paths(text: &str) -> String {
    text.replace("/work/main.rs", "main.rs")
        .replace(&format!("{DEPS}/"), "")
        .replace(&format!("{TOOLCHAIN}/"), "<toolchain>/")
}

#[cfg(test)]
mod tests {
    #[test]
    fn sandbox_paths_are_rewritten() {
        let text = "error: x\n --> /work/main.rs:3:5\n  = note: /deps/libdistlab-abc.rlib /toolchain/lib";
        let r = super::rewrite_paths(text);
        assert!(r.contains("--> main.rs:3:5"));
        assert!(r.contains("libdistlab-abc.rlib"));
        assert!(r.contains("<toolchain>/lib"));
        assert!(!r.contains("/work/") && !r.contains("/deps/"));
    }
}
