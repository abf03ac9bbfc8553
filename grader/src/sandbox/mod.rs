//! The sandbox: bubblewrap namespaces + rlimits + a seccomp filter, run as an
//! unprivileged per-slot uid. Compile and run both go through [`launch`].

mod exec;
mod limits;
pub mod seccomp;
mod spec;
pub mod user;

use std::path::PathBuf;
use std::time::Duration;

pub use exec::{launch, launch_interactive, Interactive};
pub use limits::Limits;
pub use spec::Spec;
pub use user::{SandboxUser, Slot, SlotPool};

/// How the sandboxed command ended (as bwrap reported it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Termination {
    Exited(i32),
    Signaled(i32),
}

/// The limit that ended (or explains the end of) a sandboxed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LimitHit {
    /// Killed by the supervisor at the wall-clock limit.
    WallTime,
    /// RLIMIT_CPU (SIGXCPU, or SIGKILL at the hard limit).
    Cpu,
    /// RLIMIT_AS: an allocation failed and the Rust runtime aborted.
    Memory,
    /// RLIMIT_FSIZE (SIGXFSZ).
    FileSize,
    /// stdout or stderr passed its cap; the supervisor killed the sandbox.
    OutputCap,
}

/// One captured output stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// More was written than the cap allowed.
    pub truncated: bool,
}

/// What happened to one sandboxed command.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub termination: Termination,
    pub limit: Option<LimitHit>,
    pub stdout: Captured,
    pub stderr: Captured,
    pub wall: Duration,
    /// User+system CPU of bwrap and the processes it reaped (a sandbox
    /// killed from outside may under-report).
    pub cpu: Duration,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.termination == Termination::Exited(0) && self.limit.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")]
    BwrapMissing,
    #[error("cannot start {0}: {1}")]
    Spawn(PathBuf, #[source] std::io::Error),
    #[error("sandbox set-up failed: {0}")]
    Setup(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
