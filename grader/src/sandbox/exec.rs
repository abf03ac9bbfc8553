//! Launching bwrap and supervising it: feed stdin, drain stdout/stderr with
//! caps, enforce the wall clock, reap, and classify the end.
//!
//! Everything is done from the calling thread with poll(2) on a pidfd and the
//! pipes, so there is no reader thread to outlive the job. The child's end
//! is its exit, not EOF on the pipes (an escaped grandchild could keep them
//! open); after it we only take what is already buffered.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::spec::{bwrap_args, Spec};
use super::{limits, Captured, LimitHit, Outcome, SandboxError, Termination};

/// Runs `spec` with `stdin` as its standard input.
pub fn launch(spec: &Spec, stdin: &[u8]) -> Result<Outcome, SandboxError> {
    let mut started = start(spec)?;
    let sup = Supervisor::new(started.pid, started.uid_seen, &spec.limits, started.start);
    let child_in = started.child_in.take();
    let child_out = started.child_out.take();
    let child_err = started.child_err.take().expect("piped");
    let status_r = started.status_r.take().expect("piped");
    let ended = sup.supervise(child_in, stdin, child_out, child_err, status_r, None);
    finish(spec, started, ended)
}

/// A sandboxed command whose stdin and stdout belong to the caller (e.g. a
/// node host spoken to over a protocol). A supervisor thread keeps the wall
/// clock, drains stderr with its cap and reaps; dropping this kills the
/// sandbox and waits for it to be reaped.
pub struct Interactive {
    /// The command's standard input.
    pub stdin: Option<std::fs::File>,
    /// The command's standard output.
    pub stdout: Option<std::fs::File>,
    /// Writing a byte asks the supervisor to end the sandbox after a short
    /// grace; closing it kills at once.
    cancel: Option<OwnedFd>,
    supervisor: Option<std::thread::JoinHandle<Result<Outcome, SandboxError>>>,
}

/// How long a finished interactive command may take to exit on its own
/// after its stdin closed.
const EXIT_GRACE: Duration = Duration::from_millis(500);

impl Interactive {
    /// Closes the pipes, lets the command exit (or kills it after a short
    /// grace) and returns its account.
    pub fn finish(mut self) -> Result<Outcome, SandboxError> {
        self.stdin = None;
        self.stdout = None;
        if let Some(fd) = &self.cancel {
            let _ = write_some(fd.as_raw_fd(), b"x");
        }
        let handle = self.supervisor.take().expect("supervisor runs until finish or drop");
        let outcome = handle.join().unwrap_or_else(|_| Err(SandboxError::Setup("sandbox supervisor panicked".into())));
        self.cancel = None;
        outcome
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        self.stdin = None;
        self.stdout = None;
        self.cancel = None; // POLLHUP: the supervisor kills and reaps
        if let Some(handle) = self.supervisor.take() {
            let _ = handle.join();
        }
    }
}

/// Starts `spec` with its stdin and stdout handed to the caller.
pub fn launch_interactive(spec: Spec) -> Result<Interactive, SandboxError> {
    let mut started = start(&spec)?;
    let (cancel_r, cancel_w) = std::io::pipe().map_err(SandboxError::Io)?;
    let stdin = started.child_in.take().map(std::fs::File::from);
    let stdout = started.child_out.take().map(std::fs::File::from);
    let child_err = started.child_err.take().expect("piped");
    let status_r = started.status_r.take().expect("piped");
    let supervisor = std::thread::Builder::new()
        .name(format!("sandbox-{}", started.pid))
        .spawn(move || {
            let sup = Supervisor::new(started.pid, started.uid_seen, &spec.limits, started.start);
            let ended = sup.supervise(None, &[], None, child_err, status_r, Some(OwnedFd::from(cancel_r)));
            finish(&spec, started, ended)
        })
        .map_err(SandboxError::Io)?;
    Ok(Interactive { stdin, stdout, cancel: Some(cancel_w.into()), supervisor: Some(supervisor) })
}

/// bwrap started, with the ends of its pipes not yet handed out.
struct Started {
    pid: i32,
    uid_seen: u32,
    start: Instant,
    child: std::process::Child,
    child_in: Option<OwnedFd>,
    child_out: Option<OwnedFd>,
    child_err: Option<OwnedFd>,
    status_r: Option<OwnedFd>,
}

fn start(spec: &Spec) -> Result<Started, SandboxError> {
    let bwrap = find_bwrap()?;
    become_subreaper();
    let (status_r, status_w) = std::io::pipe().map_err(SandboxError::Io)?;
    let status_w: OwnedFd = status_w.into();
    let args = bwrap_args(spec, &status_w).map_err(SandboxError::Io)?;

    let mut pass: Vec<RawFd> = args.keep_fds.iter().map(|f| f.as_raw_fd()).collect();
    pass.push(status_w.as_raw_fd());
    let rlimits = spec.limits.rlimits();
    let user = spec.user;
    // SAFETY: getter. Switch only when we are root and the slot is another uid.
    let switch = user.switchable() && user.uid != unsafe { libc::geteuid() };
    let uid_seen = if switch { user.uid } else { unsafe { libc::getuid() } };

    let mut cmd = Command::new(&bwrap);
    // bwrap's init (pid 1 in the sandbox) keeps the environment bwrap was
    // started with, readable in /proc/1/environ: give it none of ours.
    cmd.env_clear()
        .args(&args.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group: the wall-clock kill takes bwrap and all it made.
        .process_group(0);
    // SAFETY: the closure only makes async-signal-safe syscalls on data
    // prepared before fork.
    unsafe {
        cmd.pre_exec(move || {
            // Nothing the launcher has open may leak in, except what bwrap
            // is told about.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
            for &fd in &pass {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            limits::apply(&rlimits)?;
            if switch {
                drop_privileges(user)?;
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| SandboxError::Spawn(bwrap.clone(), e))?;
    // Our copies must close so EOF/EPIPE reach the right side.
    drop(args.keep_fds);
    drop(status_w);

    Ok(Started {
        pid: child.id() as i32,
        uid_seen,
        start,
        child_in: child.stdin.take().map(OwnedFd::from),
        child_out: child.stdout.take().map(OwnedFd::from),
        child_err: child.stderr.take().map(OwnedFd::from),
        status_r: Some(OwnedFd::from(status_r)),
        child,
    })
}

/// Reaps a supervised sandbox and classifies how it ended.
fn finish(spec: &Spec, started: Started, ended: Result<Ended, SandboxError>) -> Result<Outcome, SandboxError> {
    let Started { pid, start, child, .. } = started;
    let ended = match ended {
        Ok(e) => e,
        Err(e) => {
            // Not yet reaped, so the pid is still ours to kill; then reap so
            // no zombie stays behind.
            // SAFETY: plain syscall.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = reap(pid);
            return Err(e);
        }
    };
    let (limit, stdout, stderr) = (ended.limit, ended.stdout, ended.stderr);

    let (termination, bwrap_cpu) = reap(pid)?;
    drop(child); // already reaped; dropping a Child neither waits nor kills
    let wall = start.elapsed();
    let init_cpu = ended.init.as_ref().map(reap_init).unwrap_or_default();
    // After a kill the init auto-reaps the command (the kernel sets SIGCHLD
    // to SIG_IGN while tearing down a pid namespace), so its CPU time is
    // not in the init's rusage: use what was sampled just before the kill.
    let cpu = bwrap_cpu + init_cpu.max(ended.cpu_at_kill);
    let status_json = String::from_utf8_lossy(&ended.status);
    let started = status_json.contains("\"child-pid\"");
    let exit_code = parse_exit_code(&status_json);
    if !started && limit.is_none() {
        return Err(SandboxError::Setup(String::from_utf8_lossy(&stderr.bytes).into_owned()));
    }
    let termination = match (termination, exit_code) {
        // bwrap reports the command's exit code, 128+N when killed by signal N.
        (Termination::Exited(_), Some(c)) if c > 128 && c < 128 + 65 => Termination::Signaled(c - 128),
        (Termination::Exited(_), Some(c)) => Termination::Exited(c),
        (t, _) => t,
    };
    let limit = limit.or_else(|| classify(&termination, cpu, &spec.limits, &stderr));
    Ok(Outcome { termination, limit, stdout, stderr, wall, cpu })
}

/// Switches to the slot user for good (real, effective and saved ids).
fn drop_privileges(user: super::SandboxUser) -> io::Result<()> {
    // SAFETY: plain syscalls in the forked child.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(user.gid, user.gid, user.gid) != 0
            || libc::setresuid(user.uid, user.uid, user.uid) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn find_bwrap() -> Result<std::path::PathBuf, SandboxError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/bin".into()])
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())
        .ok_or(SandboxError::BwrapMissing)
}

fn parse_exit_code(json: &str) -> Option<i32> {
    json.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("exit-code").and_then(|c| c.as_i64()))
        .map(|c| c as i32)
}

/// Which limit explains an end the supervisor did not cause itself.
fn classify(t: &Termination, cpu: Duration, limits: &super::Limits, stderr: &Captured) -> Option<LimitHit> {
    let sig = match t {
        Termination::Signaled(s) => *s,
        Termination::Exited(_) => return None,
    };
    if sig == libc::SIGXCPU || (sig == libc::SIGKILL && cpu.as_secs() >= limits.cpu_secs) {
        return Some(LimitHit::Cpu);
    }
    if sig == libc::SIGXFSZ {
        return Some(LimitHit::FileSize);
    }
    let text = String::from_utf8_lossy(&stderr.bytes);
    // Rust's allocator ("memory allocation of N bytes failed") or LLVM's
    // ("LLVM ERROR: out of memory") under RLIMIT_AS.
    if sig == libc::SIGABRT && (text.contains("memory allocation of") || text.contains("out of memory")) {
        return Some(LimitHit::Memory);
    }
    None
}

/// Waits for bwrap (already exited or killed) and returns its end and the
/// CPU time of it and every descendant it reaped.
fn reap(pid: i32) -> Result<(Termination, Duration), SandboxError> {
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers; pid is our unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(SandboxError::Io(e));
        }
    }
    let t = if libc::WIFSIGNALED(status) {
        Termination::Signaled(libc::WTERMSIG(status))
    } else {
        Termination::Exited(libc::WEXITSTATUS(status))
    };
    Ok((t, rusage_cpu(&ru)))
}

/// The poll loop over the child's pidfd and pipes.
struct Supervisor {
    pid: i32,
    /// The uid the sandbox runs as (to recognise its init).
    uid: u32,
    deadline: Instant,
    cap: usize,
    kill_on_cap: bool,
}

impl Supervisor {
    fn new(pid: i32, uid: u32, limits: &super::Limits, start: Instant) -> Self {
        Supervisor {
            pid,
            uid,
            deadline: start + limits.wall,
            cap: limits.output_cap,
            kill_on_cap: limits.kill_on_output_cap,
        }
    }

    /// Kills the sandbox; returns the CPU time its processes had used.
    fn kill_and_sample(&self, init_pid: Option<i32>) -> Duration {
        let cpu = init_pid.map(tree_cpu).unwrap_or_default();
        self.kill();
        cpu
    }

    fn kill(&self) {
        // bwrap's whole process group; the sandbox's pid-1 dies with bwrap
        // (--die-with-parent) and takes the pid namespace with it. Safe from
        // pid reuse: we have not reaped `pid` yet.
        // SAFETY: plain syscall.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
    }

    fn supervise(
        &self,
        stdin_fd: Option<OwnedFd>,
        input: &[u8],
        out: Option<OwnedFd>,
        err: OwnedFd,
        status: OwnedFd,
        cancel: Option<OwnedFd>,
    ) -> Result<Ended, SandboxError> {
        // SAFETY: pidfd_open returns a new fd we own, or -1.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, self.pid, 0) } as i32;
        if pidfd < 0 {
            self.kill();
            return Err(SandboxError::Io(io::Error::last_os_error()));
        }
        let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
        let mut stdin_fd = if input.is_empty() { None } else { stdin_fd };
        let mut written = 0usize;
        let mut streams = [Stream { fd: out, buf: Vec::new(), overflowed: false }, Stream::new(err)];
        let mut status = Stream::new(status);
        let mut cancel = cancel;
        let mut deadline = self.deadline;
        let fds = streams.iter().chain([&status]).filter_map(|s| s.fd.as_ref().map(|f| f.as_raw_fd()));
        for fd in fds.chain(stdin_fd.as_ref().map(|f| f.as_raw_fd())) {
            set_nonblocking(fd)?;
        }
        let mut init = None;
        let mut init_seen = false; // child-pid read (whether or not verified)
        let mut cpu_at_kill = Duration::ZERO;
        let mut limit = None;
        loop {
            status.pump(STATUS_CAP);
            if !init_seen && child_pid(&status.buf).is_some() {
                init_seen = true;
                init = open_init(&status.buf, self.pid, self.uid);
            }
            let now = Instant::now();
            if now >= deadline {
                // Past a grace the caller asked for, the end is not a limit.
                if deadline == self.deadline {
                    limit = Some(LimitHit::WallTime);
                }
                cpu_at_kill = self.kill_and_sample(child_pid(&status.buf));
                break;
            }
            let mut fds = vec![pollfd(pidfd.as_raw_fd(), libc::POLLIN)];
            for s in &streams {
                if let Some(fd) = &s.fd {
                    fds.push(pollfd(fd.as_raw_fd(), libc::POLLIN));
                }
            }
            if let Some(fd) = &stdin_fd {
                fds.push(pollfd(fd.as_raw_fd(), libc::POLLOUT));
            }
            let cancel_at = fds.len();
            if let Some(fd) = &cancel {
                fds.push(pollfd(fd.as_raw_fd(), libc::POLLIN));
            }
            // Short first waits: the init's pid arrives on the status pipe.
            let cap = if !init_seen { Duration::from_millis(5) } else { Duration::from_secs(3600) };
            let timeout = (deadline - now).min(cap).as_millis() as i32 + 1;
            // SAFETY: fds is a valid array of pollfd.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.kill();
                return Err(SandboxError::Io(e));
            }
            for s in streams.iter_mut() {
                s.pump(self.cap);
                if s.overflowed && self.kill_on_cap && limit.is_none() {
                    limit = Some(LimitHit::OutputCap);
                }
            }
            if limit.is_some() {
                cpu_at_kill = self.kill_and_sample(child_pid(&status.buf));
                break;
            }
            if cancel.is_some() {
                let ev = fds[cancel_at].revents;
                if ev & libc::POLLIN != 0 {
                    // The caller is done: a short grace to exit on its own.
                    deadline = deadline.min(Instant::now() + EXIT_GRACE);
                    cancel = None;
                } else if ev & (libc::POLLHUP | libc::POLLERR) != 0 {
                    // Dropped without finish: kill now.
                    cpu_at_kill = self.kill_and_sample(child_pid(&status.buf));
                    break;
                }
            }
            if let Some(fd) = &stdin_fd {
                match write_some(fd.as_raw_fd(), &input[written..]) {
                    Ok(k) => written += k,
                    // EPIPE: the program does not want more input.
                    Err(_) => written = input.len(),
                }
                if written >= input.len() {
                    stdin_fd = None; // close: the program sees EOF
                }
            }
            if fds[0].revents & libc::POLLIN != 0 {
                break; // exited
            }
        }
        // What is already in the pipes belongs to the run; do not wait for EOF.
        for s in streams.iter_mut() {
            s.pump(self.cap);
        }
        status.pump(STATUS_CAP);
        if !init_seen {
            init = open_init(&status.buf, self.pid, self.uid);
        }
        let [o, e] = streams;
        Ok(Ended { limit, stdout: o.into_captured(), stderr: e.into_captured(), status: status.buf, init, cpu_at_kill })
    }
}

struct Ended {
    limit: Option<LimitHit>,
    stdout: Captured,
    stderr: Captured,
    /// bwrap's --json-status-fd output.
    status: Vec<u8>,
    /// pidfd of the sandbox's init, to reap after bwrap.
    init: Option<OwnedFd>,
    /// CPU time of the sandbox's processes when the supervisor killed it.
    cpu_at_kill: Duration,
}

/// CPU time (own + reaped children) of a process and all its live
/// descendants, from /proc. Reaped children are in their parent's
/// cutime/cstime, so nothing is counted twice.
fn tree_cpu(root: i32) -> Duration {
    // SAFETY: sysconf has no side effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let mut total_ticks = 0u64;
    let mut todo = vec![root];
    let mut seen = 0;
    while let Some(pid) = todo.pop() {
        seen += 1;
        if seen > 4096 {
            break; // NPROC keeps trees small; never loop forever
        }
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            if let Some(close) = stat.rfind(')') {
                // Fields 14..=17 (utime stime cutime cstime); field 3 is first after ')'.
                let f: Vec<u64> =
                    stat[close + 1..].split_whitespace().skip(11).take(4).filter_map(|x| x.parse().ok()).collect();
                total_ticks += f.iter().sum::<u64>();
            }
        }
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
                todo.extend(kids.split_whitespace().filter_map(|k| k.parse::<i32>().ok()));
            }
        }
    }
    Duration::from_millis(total_ticks * 1000 / hz)
}

const STATUS_CAP: usize = 64 * 1024;
/// How long to wait for the sandbox's init to die after bwrap did.
const INIT_GRACE: Duration = Duration::from_secs(5);

/// bwrap exits on a message from its in-sandbox init (pid 1) without
/// reaping it, so the init is orphaned. Left to the host's init it lingers
/// as a zombie (this machine's init reaps late), still counted by
/// RLIMIT_NPROC for the slot uid, and its CPU time, which includes the
/// command it reaped, is lost. As a child subreaper the launcher gets it.
fn become_subreaper() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            tracing::warn!("PR_SET_CHILD_SUBREAPER failed: {}", io::Error::last_os_error());
        }
    });
}

/// A pidfd on the sandbox's init (host pid = bwrap's "child-pid"), taken
/// while it is provably ours: parent is bwrap or us, uid is the slot's.
fn open_init(status_json: &[u8], bwrap_pid: i32, uid: u32) -> Option<OwnedFd> {
    let pid = child_pid(status_json)?;
    // SAFETY: returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        return None;
    }
    // SAFETY: fd was just returned to us.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse::<i64>().ok())
    };
    let ppid = field("PPid:")?;
    let ruid = field("Uid:")?;
    let ours = ppid == bwrap_pid as i64 || ppid == std::process::id() as i64;
    (ours && ruid == uid as i64).then_some(fd)
}

/// Reaps the orphaned init if it came to us; returns its CPU time
/// (including the command it reaped). Zero if bwrap had reaped it.
fn reap_init(fd: &OwnedFd) -> Duration {
    let mut p = pollfd(fd.as_raw_fd(), libc::POLLIN);
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, INIT_GRACE.as_millis() as i32) };
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // Raw waitid: the only wait that takes a pidfd and returns rusage.
    // SAFETY: valid pointers; P_PIDFD = 3.
    let r = unsafe {
        libc::syscall(libc::SYS_waitid, 3, fd.as_raw_fd(), &mut info, libc::WEXITED | libc::WNOHANG, &mut ru)
    };
    if r != 0 {
        return Duration::ZERO; // ECHILD: bwrap reaped it (its rusage has it)
    }
    rusage_cpu(&ru)
}

fn rusage_cpu(ru: &libc::rusage) -> Duration {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn child_pid(status_json: &[u8]) -> Option<i32> {
    String::from_utf8_lossy(status_json)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("child-pid").and_then(|c| c.as_i64()))
        .map(|c| c as i32)
}

struct Stream {
    fd: Option<OwnedFd>,
    buf: Vec<u8>,
    overflowed: bool,
}

impl Stream {
    fn new(fd: OwnedFd) -> Self {
        Stream { fd: Some(fd), buf: Vec::new(), overflowed: false }
    }

    /// Reads what is available without blocking, keeping at most `cap` bytes.
    fn pump(&mut self, cap: usize) {
        let Some(fd) = &self.fd else { return };
        let mut chunk = [0u8; 65536];
        // Bounded per call so a fast writer cannot keep us from the clock.
        for _ in 0..32 {
            // SAFETY: reading into a stack buffer of the given size.
            let n = unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
            if n > 0 {
                let n = n as usize;
                let room = cap.saturating_sub(self.buf.len());
                self.buf.extend_from_slice(&chunk[..n.min(room)]);
                if n > room {
                    // Keep draining (and dropping) so the writer never blocks;
                    // the supervisor decides whether to kill.
                    self.overflowed = true;
                    return;
                }
            } else if n == 0 {
                self.fd = None; // EOF
                return;
            } else {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                if e.kind() != io::ErrorKind::WouldBlock {
                    self.fd = None;
                }
                return;
            }
        }
    }

    fn into_captured(self) -> Captured {
        Captured { bytes: self.buf, truncated: self.overflowed }
    }
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd { fd, events, revents: 0 }
}

fn set_nonblocking(fd: RawFd) -> Result<(), SandboxError> {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(SandboxError::Io(io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn write_some(fd: RawFd, data: &[u8]) -> io::Result<usize> {
    if data.is_empty() {
        return Ok(0);
    }
    // SAFETY: writing from a valid slice.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    if n >= 0 {
        return Ok(n as usize);
    }
    let e = io::Error::last_os_error();
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
        _ => Err(e),
    }
}
