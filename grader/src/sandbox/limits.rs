//! Resource limits of one sandboxed process tree, and how they are applied.

use std::time::Duration;

/// Limits for one sandboxed command. Wall time is enforced by the launcher
/// (it kills the process group); the rest are rlimits set before `exec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time before the whole sandbox is killed.
    pub wall: Duration,
    /// RLIMIT_CPU (seconds), per process: SIGXCPU at the limit, SIGKILL 1 s later.
    pub cpu_secs: u64,
    /// RLIMIT_AS in bytes.
    pub address_space: u64,
    /// RLIMIT_FSIZE in bytes: a bigger write gets SIGXFSZ.
    pub file_size: u64,
    /// RLIMIT_NPROC: counts every process/thread of the sandbox uid, which is
    /// why each worker slot has its own uid.
    pub processes: u64,
    /// RLIMIT_NOFILE.
    pub open_files: u64,
    /// Cap on each of stdout and stderr.
    pub output_cap: usize,
    /// Kill the sandbox when a stream passes its cap (a run printing 1 GB);
    /// otherwise the rest is read and dropped (a compile with many errors).
    pub kill_on_output_cap: bool,
    /// Size of the writable tmpfs (the only writable place in the sandbox).
    pub tmpfs_bytes: u64,
}

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

impl Limits {
    /// Limits for compiling a submission (FINDINGS: rustc fails under a
    /// 512 MiB address-space limit, so 2 GiB).
    pub fn compile() -> Self {
        Limits {
            wall: Duration::from_secs(30),
            cpu_secs: 30,
            address_space: 2 * GIB,
            file_size: 128 * MIB,
            processes: 64,
            open_files: 1024,
            output_cap: 64 * 1024,
            kill_on_output_cap: false,
            tmpfs_bytes: 320 * MIB,
        }
    }

    /// Limits for running a compiled submission.
    pub fn run() -> Self {
        Limits {
            wall: Duration::from_secs(10),
            cpu_secs: 5,
            address_space: GIB,
            file_size: 64 * MIB,
            processes: 64,
            open_files: 256,
            output_cap: MIB as usize,
            kill_on_output_cap: true,
            tmpfs_bytes: 64 * MIB,
        }
    }

    /// The rlimits to set, computed before fork so the child only makes syscalls.
    pub(crate) fn rlimits(&self) -> [(libc::__rlimit_resource_t, libc::rlim_t, libc::rlim_t); 6] {
        [
            // Soft limit sends SIGXCPU (reported as the CPU limit); hard kills.
            (libc::RLIMIT_CPU, self.cpu_secs, self.cpu_secs + 1),
            (libc::RLIMIT_AS, self.address_space, self.address_space),
            (libc::RLIMIT_FSIZE, self.file_size, self.file_size),
            (libc::RLIMIT_NPROC, self.processes, self.processes),
            (libc::RLIMIT_NOFILE, self.open_files, self.open_files),
            // No core dumps: they would be written outside our size accounting.
            (libc::RLIMIT_CORE, 0, 0),
        ]
    }
}

/// Applies the rlimits; called in the forked child, so no allocation.
pub(crate) fn apply(rlimits: &[(libc::__rlimit_resource_t, libc::rlim_t, libc::rlim_t)]) -> std::io::Result<()> {
    for &(resource, soft, hard) in rlimits {
        let lim = libc::rlimit { rlim_cur: soft, rlim_max: hard };
        // SAFETY: plain syscall with a valid pointer.
        if unsafe { libc::setrlimit(resource, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
