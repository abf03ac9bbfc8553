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
    /// Run as a node host (see `Spec::node_host`).
    pub node_host: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { limits: Limits::run(), args: Vec::new(), node_host: false }
    }
}

/// A submission running in the sandbox as a node host: the caller speaks to
/// it over `stdin`/`stdout` of [`HostProcess::sandbox`]; limits, stderr cap
/// and kill-on-drop stay with the sandbox's supervisor.
pub struct HostProcess {
    pub sandbox: sandbox::Interactive,
    /// Holds the binary's private copy for as long as the sandbox runs.
    _dir: ScratchDir,
}

impl HostProcess {
    /// Ends the host (closing its pipes) and returns how it ended.
    pub fn finish(self) -> Result<Outcome, SandboxError> {
        self.sandbox.finish()
    }
}

/// Limits for a node host: it lives for a whole check (many runs), but
/// spends little CPU of its own.
pub fn host_limits() -> Limits {
    Limits { wall: std::time::Duration::from_secs(60), cpu_secs: 10, ..Limits::run() }
}

/// Starts `binary` in the sandbox with its stdin and stdout piped to the
/// caller (the grader's side of the node-host protocol).
pub fn start_host(
    prepared: &Prepared,
    user: SandboxUser,
    binary: &Path,
    opts: &RunOptions,
) -> Result<HostProcess, SandboxError> {
    let (dir, copy) = private_copy(prepared, binary)?;
    let spec = spec_for(user, &copy, opts).node_host(true);
    Ok(HostProcess { sandbox: sandbox::launch_interactive(spec)?, _dir: dir })
}

/// A root-owned private copy the sandbox uid can read but not change,
/// wherever the caller keeps the binary.
fn private_copy(prepared: &Prepared, binary: &Path) -> Result<(ScratchDir, std::path::PathBuf), SandboxError> {
    let dir = ScratchDir::new(&prepared.scratch(), 0o711, None)?;
    let copy = dir.path().join("submission");
    std::fs::copy(binary, &copy)?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o555))?;
    Ok((dir, copy))
}

fn spec_for(user: SandboxUser, copy: &Path, opts: &RunOptions) -> Spec {
    let mut argv = vec![BINARY.to_string()];
    argv.extend(opts.args.iter().cloned());
    Spec::new(user, opts.limits.clone(), argv).ro_bind(copy, BINARY).seccomp(true).node_host(opts.node_host)
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
    let (_dir, copy) = private_copy(prepared, binary)?;
    sandbox::launch(&spec_for(user, &copy, opts), stdin)
}
