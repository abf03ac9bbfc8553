//! Running a compiled submission inside the sandbox with the seccomp filter.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::prepare::Prepared;
use crate::sandbox::{self, Limits, Outcome, SandboxError, SandboxUser, Spec};
use crate::scratch::ScratchDir;

/// Where the binary appears inside the sandbox.
pub const BINARY: &str = "/submission";

/// Options of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub limits: Limits,
    /// Arguments after the program name.
    pub args: Vec<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { limits: Limits::run(), args: Vec::new() }
    }
}

/// Runs `binary` with `stdin` (e.g. scenario data) as its input. The result
/// is only data: verdicts are computed outside from it.
pub fn run(
    prepared: &Prepared,
    user: SandboxUser,
    binary: &Path,
    stdin: &[u8],
    opts: &RunOptions,
) -> Result<Outcome, SandboxError> {
    // A root-owned private copy the sandbox uid can read but not change,
    // wherever the caller keeps the binary.
    let dir = ScratchDir::new(&prepared.scratch(), 0o711, None)?;
    let copy = dir.path().join("submission");
    std::fs::copy(binary, &copy)?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o555))?;

    let mut argv = vec![BINARY.to_string()];
    argv.extend(opts.args.iter().cloned());
    let spec = Spec::new(user, opts.limits.clone(), argv)
        .ro_bind(&copy, BINARY)
        .seccomp(true);
    sandbox::launch(&spec, stdin)
}
