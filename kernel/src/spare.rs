//! Warm spare kernels.
//!
//! Most of a kernel's start does not depend on the notebook: evcxr's own
//! start (a first compile, and rust-analyzer loading the standard library),
//! loading the course crate and the analysis warm-up come to about 7 s
//! before a first result. A spare is a kernel process that has done all of
//! that and waits on a Unix socket. The process Jupyter starts (the
//! launcher) hands it the connection info; the spare binds the sockets and
//! serves the notebook. The launcher stays as the kernel's stand-in, since
//! Jupyter watches and signals the process it started: the kernel ends when
//! the launcher ends, and the launcher ends with the kernel.
//!
//! A spare serves only a launcher that would have started the same kernel:
//! same user, binary, config, prebuilt course crate, working directory,
//! Jupyter server and environment (`JPY_SESSION_NAME` aside, which names the
//! notebook and is handed over). Any difference and the spare exits and the
//! launcher starts cold. There is at most one spare per user, config and
//! Jupyter server (a lock file; two servers would otherwise keep making each
//! other's spare stale); it also exits when the server it was made for does,
//! or after `IDLE_LIMIT` unused.

use crate::connection::ConnectionInfo;
use crate::workdir::{KernelConfig, WorkDir};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Variables that differ from one kernel to the next of the same server.
const PER_KERNEL_VARS: &[&str] = &["JPY_SESSION_NAME"];
/// A spare nobody took in this long exits, giving back its memory.
const IDLE_LIMIT: Duration = Duration::from_secs(3 * 3600);
/// How long a launcher waits for a spare that is still warming up; a cold
/// start takes about as long, and would compete with it for the cores.
const WAIT_FOR_WARMING: Duration = Duration::from_secs(30);
/// How long either side waits for the other's next line once talking.
const HANDSHAKE: Duration = Duration::from_secs(5);
/// Largest handover line read (the connection info is a few hundred bytes).
const MAX_LINE: u64 = 64 * 1024;

/// The environment and directory the kernel was started with, taken before
/// the kernel changes either (it sets `EVCXR_TMPDIR`).
struct Launch {
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
}

static LAUNCH: OnceLock<Launch> = OnceLock::new();

/// Call first thing in `main`.
pub fn record_launch() {
    let mut env: Vec<_> = std::env::vars_os().collect();
    env.sort();
    LAUNCH.get_or_init(|| Launch { env, cwd: std::env::current_dir().ok() });
}

fn launch() -> &'static Launch {
    LAUNCH.get_or_init(|| Launch { env: std::env::vars_os().collect(), cwd: std::env::current_dir().ok() })
}

/// Spares are on unless `DISTLAB_KERNEL_SPARE=0`.
pub fn enabled() -> bool {
    launch().env.iter().find(|(k, _)| k == "DISTLAB_KERNEL_SPARE").is_none_or(|(_, v)| v != "0")
}

fn shared_env() -> impl Iterator<Item = &'static (OsString, OsString)> {
    launch().env.iter().filter(|(k, _)| !PER_KERNEL_VARS.iter().any(|p| k == p))
}

/// Everything a kernel's behaviour depends on before it sees its notebook.
fn identity(config_path: &Path, anchor: u32) -> Result<String> {
    let mut h = Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    part(&unsafe { libc::geteuid() }.to_le_bytes());
    let exe = std::env::current_exe()?;
    let meta = std::fs::metadata(&exe)?;
    part(exe.as_os_str().as_bytes());
    part(&meta.len().to_le_bytes());
    part(&meta.mtime().to_le_bytes());
    part(&meta.mtime_nsec().to_le_bytes());
    part(config_path.as_os_str().as_bytes());
    let config_text = std::fs::read(config_path).with_context(|| format!("reading {}", config_path.display()))?;
    part(&config_text);
    if let Some(pre) = KernelConfig::read(config_path)?.prebuilt_dir {
        part(&std::fs::read(pre.join(crate::install::STAMP)).unwrap_or_default());
    }
    part(launch().cwd.as_deref().unwrap_or(Path::new("")).as_os_str().as_bytes());
    part(&anchor.to_le_bytes());
    for (k, v) in shared_env() {
        part(k.as_bytes());
        part(v.as_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

/// Where a config's spare listens, and its lock.
struct Place {
    socket: PathBuf,
    lock: PathBuf,
    log: PathBuf,
}

impl Place {
    /// A private directory of this user's (created 0700; refused if anyone
    /// else could write to it), one name per config and Jupyter server.
    fn of(config_path: &Path, anchor: u32) -> Result<Place> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        Place::under(&base, config_path, anchor)
    }

    fn under(base: &Path, config_path: &Path, anchor: u32) -> Result<Place> {
        let uid = unsafe { libc::geteuid() };
        let dir = base.join(format!("distlab-kernel-spares-{uid}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
        let meta = std::fs::symlink_metadata(&dir)?;
        if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
            bail!("{} is not a private directory of this user", dir.display());
        }
        let mut key = Sha256::new();
        key.update(config_path.as_os_str().as_bytes());
        key.update(anchor.to_le_bytes());
        let name = &hex::encode(key.finalize())[..16];
        // sockaddr_un holds 108 bytes with the final NUL.
        if dir.as_os_str().len() + name.len() + 6 > 107 {
            bail!("{} is too long a path for a Unix socket", dir.display());
        }
        Ok(Place {
            socket: dir.join(format!("{name}.sock")),
            lock: dir.join(format!("{name}.lock")),
            log: dir.join(format!("{name}.log")),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Handover {
    identity: String,
    /// `JPY_SESSION_NAME`, as bytes.
    session_name: Option<Vec<u8>>,
    connection: String,
}

#[derive(Serialize, Deserialize, Debug)]
enum Reply {
    /// Send `go` (with the launcher's stderr) to make it the kernel.
    Ready { pid: u32 },
    /// Made for another kernel; the spare exits.
    Stale,
    /// The handover was malformed.
    Refused { reason: String },
    /// The kernel's sockets are bound.
    Running,
}

fn peer_uid(stream: &UnixStream) -> Option<u32> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    (rc == 0).then_some(cred.uid)
}

fn same_user(stream: &UnixStream) -> bool {
    peer_uid(stream) == Some(unsafe { libc::geteuid() })
}

fn read_line(stream: &UnixStream) -> Result<String> {
    let mut line = String::new();
    BufReader::new(stream.take(MAX_LINE)).read_line(&mut line)?;
    if !line.ends_with('\n') {
        bail!("the other side hung up");
    }
    Ok(line)
}

fn write_json(mut stream: &UnixStream, value: &impl Serialize) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    stream.write_all(&line)
}

// ---------------------------------------------------------------- launcher

/// A spare that became this launcher's kernel.
pub struct Adopted {
    stream: UnixStream,
    pid: u32,
}

/// The Jupyter server that started this launcher: a spare is made for one.
fn jupyter_server() -> u32 {
    std::os::unix::process::parent_id()
}

/// Hand the connection to the spare of this config and server, if there is
/// one made for a kernel like this one. `Ok(None)`: start cold.
pub fn adopt(config_path: &Path, connection: &str) -> Result<Option<Adopted>> {
    let anchor = jupyter_server();
    let place = Place::of(config_path, anchor)?;
    let stream = match UnixStream::connect(&place.socket) {
        Ok(s) => s,
        Err(_) => return Ok(None), // none there, or it just went
    };
    if !same_user(&stream) {
        bail!("{} belongs to another user", place.socket.display());
    }
    let handover = Handover {
        identity: identity(config_path, anchor)?,
        session_name: launch().env.iter().find(|(k, _)| k == "JPY_SESSION_NAME").map(|(_, v)| v.as_bytes().to_vec()),
        connection: connection.to_owned(),
    };
    write_json(&stream, &handover)?;
    stream.set_read_timeout(Some(WAIT_FOR_WARMING))?;
    let pid = match serde_json::from_str::<Reply>(&read_line(&stream).context("waiting for the spare")?)? {
        Reply::Ready { pid } => pid,
        other => {
            tracing::info!(?other, "the spare did not take the kernel");
            return Ok(None);
        }
    };
    // `go`, with our stderr, so the kernel logs where Jupyter looks.
    send_with_fd(&stream, b"go\n", 2).context("handing over")?;
    stream.set_read_timeout(Some(HANDSHAKE))?;
    match serde_json::from_str::<Reply>(&read_line(&stream).context("waiting for the kernel's sockets")?)? {
        Reply::Running => Ok(Some(Adopted { stream, pid })),
        other => bail!("the spare answered {other:?} after go"),
    }
}

static KERNEL_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_sigint(_: libc::c_int) {
    let pid = KERNEL_PID.load(Ordering::SeqCst);
    if pid > 0 {
        unsafe { libc::kill(pid, libc::SIGINT) };
    }
}

impl Adopted {
    /// Stand in for the kernel until it ends. SIGINT (an interrupt) is
    /// passed on; any signal that ends the launcher ends the kernel too.
    pub fn stand_in(mut self) -> Result<()> {
        tracing::info!(pid = self.pid, "a warm spare serves this kernel");
        KERNEL_PID.store(self.pid as i32, Ordering::SeqCst);
        unsafe { libc::signal(libc::SIGINT, forward_sigint as *const () as libc::sighandler_t) };
        self.stream.set_read_timeout(None)?;
        let mut buf = [0u8; 64];
        while matches!(self.stream.read(&mut buf), Ok(n) if n > 0) {}
        Ok(())
    }
}

/// Start a spare for the next kernel, in its own session (Jupyter signals
/// a kernel's whole process group), with the environment this kernel was
/// launched with. Does nothing if one is already there: its lock decides.
pub fn spawn(config_path: &Path) {
    let result = (|| -> Result<()> {
        let anchor = jupyter_server();
        let place = Place::of(config_path, anchor)?;
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.arg("__spare")
            .arg("--config")
            .arg(config_path)
            .arg("--anchor")
            .arg(anchor.to_string())
            .env_clear()
            .envs(shared_env().cloned())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        if let Some(cwd) = &launch().cwd {
            cmd.current_dir(cwd);
        }
        let logging = launch().env.iter().any(|(k, _)| k == "DISTLAB_KERNEL_LOG");
        cmd.stderr(if logging {
            std::fs::OpenOptions::new().create(true).append(true).open(&place.log)?.into()
        } else {
            std::process::Stdio::null()
        });
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        std::thread::spawn(move || child.wait());
        Ok(())
    })();
    if let Err(e) = result {
        tracing::warn!("could not start a spare kernel: {e:#}");
    }
}

// ---------------------------------------------------------------- spare

/// The connection to the launcher, kept by the kernel a spare became.
pub struct Lifeline {
    stream: UnixStream,
}

impl Lifeline {
    pub fn announce_running(self) -> std::io::Result<Lifeline> {
        write_json(&self.stream, &Reply::Running)?;
        Ok(self)
    }

    /// Returns when the launcher is gone.
    pub fn wait_until_launcher_ends(mut self) {
        let _ = self.stream.set_read_timeout(None);
        let mut buf = [0u8; 64];
        while matches!(self.stream.read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// `distlab-kernel __spare`: warm up, wait for a launcher, become its kernel.
pub fn run_spare(config_path: &Path, anchor: u32) -> Result<()> {
    // Its own session and process group (`spawn` makes it so already): out
    // of reach of signals to the group of whoever started it, and able to
    // stop its own children as a group.
    unsafe { libc::setsid() };
    let place = Place::of(config_path, anchor)?;
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&place.lock)?;
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Ok(()); // this config and server have a spare already
    }
    let status = Arc::new(Mutex::new(Status { lock: Some(lock) }));
    status.lock().unwrap().say("warming");
    let identity = identity(config_path, anchor)?;
    let config = KernelConfig::read(config_path)?;
    let work = WorkDir::create()?;
    // evcxr reads its work dir from the environment: set before any thread.
    std::env::set_var("EVCXR_TMPDIR", &work.path);
    let _ = std::fs::remove_file(&place.socket);
    let listener = UnixListener::bind(&place.socket)?;
    std::fs::set_permissions(&place.socket, std::fs::Permissions::from_mode(0o600))?;
    watch_anchor(anchor, status.clone(), place.socket.clone(), work.path.clone());
    let t = Instant::now();
    let engine = crate::engine::start(config, work.path.clone(), None);
    engine.prepare();
    tracing::info!(elapsed = ?t.elapsed(), "spare warmed up");
    status.lock().unwrap().say("ready");

    let Some((stream, handover)) = wait_for_launcher(&listener, &identity) else {
        let _ = std::fs::remove_file(&place.socket);
        engine.kill_runtime();
        return Ok(());
    };
    {
        // Blocks for good if the server has just gone and the spare exits.
        let mut status = status.lock().unwrap();
        status.say("taken");
        status.lock = None; // the next spare may start
    }
    let _ = std::fs::remove_file(&place.socket);
    drop(listener);
    let session_name = handover.session_name.map(OsString::from_vec);
    engine.set_notebook(crate::course::session_notebook(session_name.as_deref()));
    let conn = ConnectionInfo::parse(&handover.connection)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(crate::kernel::run(conn, engine, work, Some(Lifeline { stream })))
}

/// A spare's lock file, which says what it is doing, for people and tests.
/// Held while the spare is on offer; `None` once a launcher has taken it.
struct Status {
    lock: Option<std::fs::File>,
}

impl Status {
    fn taken(&self) -> bool {
        self.lock.is_none()
    }

    fn say(&self, what: &str) {
        if let Some(lock) = &self.lock {
            let _ = lock.set_len(0);
            let _ = lock.write_all_at(format!("{what} {}\n", std::process::id()).as_bytes(), 0);
        }
    }
}

/// Until the spare is taken, it exits when the Jupyter server it was made
/// for does, warming up or waiting. (A kernel ends with its launcher.)
fn watch_anchor(anchor: u32, status: Arc<Mutex<Status>>, socket: PathBuf, workdir: PathBuf) {
    std::thread::spawn(move || {
        match pidfd(anchor) {
            Some(fd) => {
                let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                while unsafe { libc::poll(&mut p, 1, -1) } < 0 {}
            }
            None => {
                while unsafe { libc::kill(anchor as i32, 0) } == 0 {
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        let status = status.lock().unwrap_or_else(|e| e.into_inner());
        if !status.taken() {
            // Held until the exit: the spare says nothing more, and no
            // launcher takes it, while it stops.
            std::mem::forget(status);
            tracing::info!(anchor, "the Jupyter server this spare was made for is gone: exiting");
            let _ = std::fs::remove_file(&socket);
            // evcxr's runtime and any compile write into the work dir: stop
            // them first. The spare leads its own process group (see run_spare).
            unsafe {
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
                libc::kill(0, libc::SIGTERM);
            }
            for _ in 0..50 {
                if std::fs::remove_dir_all(&workdir).is_ok() || !workdir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            std::process::exit(0);
        }
    });
}

/// Serve handshakes until one launcher takes this spare. `None`: stop
/// (the spare is stale, or was unused too long).
fn wait_for_launcher(listener: &UnixListener, identity: &str) -> Option<(UnixStream, Handover)> {
    let since = Instant::now();
    loop {
        if since.elapsed() > IDLE_LIMIT {
            tracing::info!("spare unused for {IDLE_LIMIT:?}: exiting");
            return None;
        }
        let mut p = libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        if unsafe { libc::poll(&mut p, 1, 1000) } <= 0 {
            continue;
        }
        let Ok((stream, _)) = listener.accept() else { continue };
        match handshake(&stream, identity) {
            Ok(Some(handover)) => return Some((stream, handover)),
            Ok(None) => return None,
            Err(e) => tracing::info!("a launcher's handover failed: {e:#}"),
        }
    }
}

/// `Ok(Some)`: this launcher takes the spare. `Ok(None)`: the spare is stale.
fn handshake(stream: &UnixStream, identity: &str) -> Result<Option<Handover>> {
    if !same_user(stream) {
        bail!("a process of another user connected");
    }
    stream.set_read_timeout(Some(HANDSHAKE))?;
    let handover: Handover = match serde_json::from_str(&read_line(stream)?) {
        Ok(h) => h,
        Err(e) => {
            write_json(stream, &Reply::Refused { reason: e.to_string() })?;
            bail!("malformed handover: {e}");
        }
    };
    if handover.identity != identity {
        let _ = write_json(stream, &Reply::Stale);
        tracing::info!("a launcher for another kind of kernel came: this spare is stale");
        return Ok(None);
    }
    if let Err(e) = ConnectionInfo::parse(&handover.connection) {
        write_json(stream, &Reply::Refused { reason: format!("{e:#}") })?;
        bail!("bad connection info: {e:#}");
    }
    write_json(stream, &Reply::Ready { pid: std::process::id() })?;
    let (line, stderr) = recv_with_fd(stream)?;
    if line != b"go\n" {
        bail!("expected go");
    }
    if let Some(fd) = stderr {
        // From now on this process logs where Jupyter reads the kernel's stderr.
        unsafe { libc::dup2(fd.as_raw_fd(), 2) };
    }
    Ok(Some(handover))
}

/// A pollable handle on `pid` that becomes readable when it exits.
fn pidfd(pid: u32) -> Option<OwnedFd> {
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Send `bytes` with a copy of file descriptor `fd` attached.
fn send_with_fd(stream: &UnixStream, bytes: &[u8], fd: RawFd) -> std::io::Result<()> {
    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space as _;
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut RawFd, fd);
        if libc::sendmsg(stream.as_raw_fd(), &msg, 0) != bytes.len() as isize {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Receive one short message and the descriptor attached to it, if any.
fn recv_with_fd(stream: &UnixStream) -> std::io::Result<(Vec<u8>, Option<OwnedFd>)> {
    let mut buf = [0u8; 64];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space as _;
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut fd = None;
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if !cmsg.is_null() && (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
            let raw = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd);
            fd = Some(OwnedFd::from_raw_fd(raw));
        }
    }
    Ok((buf[..n as usize].to_vec(), fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_descriptor_travels_with_the_go_line() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut r, w) = std::io::pipe().unwrap();
        send_with_fd(&a, b"go\n", w.as_raw_fd()).unwrap();
        drop(w);
        let (line, fd) = recv_with_fd(&b).unwrap();
        assert_eq!(line, b"go\n");
        let mut got = std::fs::File::from(fd.expect("a descriptor"));
        got.write_all(b"through the copy").unwrap();
        drop(got);
        let mut text = String::new();
        r.read_to_string(&mut text).unwrap();
        assert_eq!(text, "through the copy");
        // Without one attached, none arrives.
        (&a).write_all(b"go\n").unwrap();
        assert!(recv_with_fd(&b).unwrap().1.is_none());
    }

    #[test]
    fn the_spare_directory_must_be_private() {
        let base = std::env::temp_dir().join(format!("dl-place-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        let place = Place::under(&base, Path::new("/some/config.json"), 7).unwrap();
        let socket = |anchor| Place::under(&base, Path::new("/some/config.json"), anchor).unwrap().socket;
        assert_eq!(place.socket, socket(7), "one place per config and server");
        assert_ne!(place.socket, socket(8), "another server's spare has its own");
        let dir = place.socket.parent().unwrap().to_owned();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(Place::under(&base, Path::new("/some/config.json"), 7).is_err());
        let long = base.join("x".repeat(100));
        std::fs::create_dir_all(&long).unwrap();
        let err = Place::under(&long, Path::new("/c.json"), 7).err().expect("too long a path");
        assert!(err.to_string().contains("too long"), "{err}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
