//! The unprivileged host uids that sandboxes run as, one per worker slot.
//!
//! Why real host uids and not bwrap's `--uid` mapping: when the launcher is
//! root, a user namespace only renames uid 0; the kernel still sees root, which
//! owns most files and is exempt from RLIMIT_NPROC. So the launcher (root)
//! switches to the slot's uid before exec'ing bwrap, and bwrap then runs as an
//! ordinary user with an unprivileged user namespace. RLIMIT_NPROC counts per
//! uid across all sandboxes, hence one uid per slot, used by one job at a time.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::Path;
use std::process::Command;
use std::sync::{Condvar, Mutex};

/// Names of the slot users: `distlab-sb0`, `distlab-sb1`, ...
pub const USER_PREFIX: &str = "distlab-sb";

/// The identity a sandbox runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxUser {
    pub uid: u32,
    pub gid: u32,
}

impl SandboxUser {
    /// Whether the launcher can switch to this user (it must be root, or
    /// already be this user; otherwise sandboxes run as the launcher's uid).
    pub fn switchable(&self) -> bool {
        // SAFETY: getters without side effects.
        let euid = unsafe { libc::geteuid() };
        euid == 0 || euid == self.uid
    }

    /// The current process's own identity (for non-root development use).
    pub fn current() -> Self {
        // SAFETY: getters without side effects.
        unsafe { SandboxUser { uid: libc::getuid(), gid: libc::getgid() } }
    }

    /// Looks up `distlab-sb<slot>` in the user database.
    pub fn lookup_slot(slot: usize) -> Option<Self> {
        lookup(&format!("{USER_PREFIX}{slot}"))
    }
}

fn lookup(name: &str) -> Option<SandboxUser> {
    let cname = CString::new(name).ok()?;
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; reentrant variant.
    let rc = unsafe { libc::getpwnam_r(cname.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return None;
    }
    Some(SandboxUser { uid: pwd.pw_uid, gid: pwd.pw_gid })
}

/// Creates the system users `distlab-sb0..n` that are missing (needs root).
/// Returns them in slot order.
pub fn ensure_slot_users(n: usize) -> anyhow::Result<Vec<SandboxUser>> {
    let mut users = Vec::with_capacity(n);
    for slot in 0..n {
        let name = format!("{USER_PREFIX}{slot}");
        if lookup(&name).is_none() {
            let status = Command::new("useradd")
                .args(["--system", "--user-group", "--no-create-home"])
                .args(["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"])
                .arg(&name)
                .status()
                .map_err(|e| anyhow::anyhow!("running useradd for {name}: {e}"))?;
            anyhow::ensure!(status.success(), "useradd {name} failed: {status}");
            tracing::info!(user = %name, "created sandbox user");
        }
        users.push(lookup(&name).ok_or_else(|| anyhow::anyhow!("{name} missing after useradd"))?);
    }
    Ok(users)
}

/// Where root's slot locks live (one file per slot uid).
pub const SYSTEM_LOCK_DIR: &str = "/run/lock/distlab-grader";

/// A pool of slot users; a slot is held by one job at a time so RLIMIT_NPROC
/// and the leftover-process sweep stay per job. A process runs at most
/// `permits` jobs at once, each on whichever slot user is free machine-wide
/// (several worker processes on one machine share the users).
pub struct SlotPool {
    /// Jobs this process may still start.
    permits: Mutex<usize>,
    ready: Condvar,
    /// Every slot user this pool may take, in slot order.
    users: Vec<SandboxUser>,
    /// Directory of per-uid lock files, so two grader processes (a server
    /// and a CLI run, or worker processes) never use one uid at once.
    lock_dir: std::path::PathBuf,
}

/// A slot held by the caller; returned to the pool on drop.
pub struct Slot<'a> {
    pool: &'a SlotPool,
    user: SandboxUser,
    /// flock held while the slot is ours (released on close).
    _lock: Option<std::fs::File>,
}

impl SlotPool {
    pub fn new(users: Vec<SandboxUser>, lock_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(lock_dir)?;
        Ok(SlotPool {
            permits: Mutex::new(users.len()),
            ready: Condvar::new(),
            users,
            lock_dir: lock_dir.to_path_buf(),
        })
    }

    /// Root: `n` jobs at once on the `distlab-sb*` users (the first `n`
    /// created if missing, and any others that exist), locked in
    /// [`SYSTEM_LOCK_DIR`]: the uids are machine-wide, so every grader
    /// process on the machine (any checkout, any prepared dir) must see the
    /// same locks.
    pub fn system(n: usize, lock_dir: &Path) -> anyhow::Result<Self> {
        // SAFETY: getter without side effects.
        if unsafe { libc::geteuid() } == 0 {
            let mut users = ensure_slot_users(n)?;
            users.extend((n..).map_while(SandboxUser::lookup_slot));
            let mut pool = Self::new(users, Path::new(SYSTEM_LOCK_DIR))?;
            pool.permits = Mutex::new(n);
            Ok(pool)
        } else {
            tracing::warn!("not root: sandboxes run as the current uid");
            Self::new(vec![SandboxUser::current()], lock_dir)
        }
    }

    /// Blocks until this process may start a job and a slot user is free
    /// machine-wide.
    pub fn acquire(&self) -> Slot<'_> {
        {
            let mut permits = self.permits.lock().unwrap_or_else(|e| e.into_inner());
            while *permits == 0 {
                permits = self.ready.wait(permits).unwrap_or_else(|e| e.into_inner());
            }
            *permits -= 1;
        }
        loop {
            for user in &self.users {
                if let Some(lock) = self.try_lock_uid(user.uid) {
                    return Slot { pool: self, user: *user, _lock: lock };
                }
            }
            // Every user is busy in other processes: one frees up soon.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The uid's lock if it is free (`Some(None)`: no lock file could be
    /// made, the uid is used unlocked as before locks existed).
    fn try_lock_uid(&self, uid: u32) -> Option<Option<std::fs::File>> {
        let path = self.lock_dir.join(format!("slot-{uid}.lock"));
        let file = match std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot open slot lock: {e}");
                return Some(None);
            }
        };
        match file.try_lock() {
            Ok(()) => Some(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => None,
            Err(std::fs::TryLockError::Error(e)) => {
                tracing::warn!(path = %path.display(), "cannot lock slot: {e}");
                Some(None)
            }
        }
    }
}

impl Slot<'_> {
    pub fn user(&self) -> SandboxUser {
        self.user
    }
}

impl Drop for Slot<'_> {
    // Runs before the lock file (a field) is closed: the sweep happens
    // while the uid is still ours.
    fn drop(&mut self) {
        // Whatever escaped the last job must not share the next job's uid.
        if self.user.uid != 0 && self.user.uid != SandboxUser::current().uid {
            kill_all_of_uid(self.user.uid);
        }
        *self.pool.permits.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.pool.ready.notify_one();
    }
}

/// Pids of live processes whose real uid is `uid` (scans /proc).
pub fn processes_of_uid(uid: u32) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return pids };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if real_uid_of(pid) == Some(uid) {
            pids.push(pid);
        }
    }
    pids
}

fn real_uid_of(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.parse().ok()
}

/// SIGKILLs every process of `uid`; returns how many were found.
/// Never call it with the launcher's own uid.
pub fn kill_all_of_uid(uid: u32) -> usize {
    let mut killed = 0;
    for pid in processes_of_uid(uid) {
        // Through a pidfd, re-checking the uid after opening it, so a pid
        // reused by another process in between is never signalled.
        // SAFETY: returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
        if fd < 0 {
            continue;
        }
        // SAFETY: fd was just returned to us.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        if processes_of_uid_contains(uid, pid) {
            // SAFETY: plain syscall on our pidfd.
            unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), libc::SIGKILL, 0, 0) };
            killed += 1;
        }
    }
    if killed > 0 {
        tracing::warn!(uid, count = killed, "killed leftover sandbox processes");
    }
    killed
}

fn processes_of_uid_contains(uid: u32, pid: i32) -> bool {
    real_uid_of(pid) == Some(uid)
}
