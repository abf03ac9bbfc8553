//! One process per node: the grader's guarantee that nodes share nothing
//! but messages.
//!
//! The host process is a *zygote*: it never calls student code. For every
//! `spawn` it forks a fresh child, which becomes that node (and the
//! explorer's copies of it), and relays the node's requests and replies
//! line by line. A child starts from the zygote's pristine memory, so a
//! `static`, a thread-local or anything else in memory is private to one
//! node instance: it cannot carry state to another node, to a recovered
//! node or to a later run. The sandbox leaves no writable file, socket or
//! System V IPC, and each child installs a filter that takes away process
//! creation and signals to other processes. Student code cannot run in the
//! zygote: the grader compiles submissions with `unsafe_code` forbidden,
//! which rules out code before `main`.
//!
//! The zygote also bounds each call: a node that does not answer within
//! [`CALL_TIMEOUT`] is killed and reported, so one silent node fails its
//! run in about a second instead of holding the grader.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{serve, MAX_LINE};
use crate::process::{Message, NodeFactory};

/// How long one node may take to answer one call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Node processes alive at once: more than any scenario has nodes.
const MAX_CHILDREN: usize = 32;

/// Address space of one node process.
const CHILD_ADDRESS_SPACE: u64 = 256 << 20;

/// CPU seconds of one node process.
const CHILD_CPU_SECS: u64 = 5;

/// The fields of a request the zygote routes by.
#[derive(Deserialize)]
struct Route {
    op: String,
    slot: u64,
    #[serde(default)]
    into: Option<u64>,
    #[serde(default)]
    node: Option<usize>,
}

/// The one field of a reply the zygote checks.
#[derive(Deserialize)]
struct ReplyTag {
    #[allow(dead_code)]
    reply: String,
}

struct Child {
    pid: libc::pid_t,
    node: usize,
    to: std::fs::File,
    from: OwnedFd,
    slots: usize,
    /// Why the node's process is gone, once it is.
    gone: Option<String>,
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.gone.is_none() {
            // SAFETY: our own child; SIGCHLD is ignored, so it is reaped.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

/// Serves requests from `input`, each node in a child process of its own.
pub fn serve_isolated<M: Message>(
    factory: &NodeFactory<M>,
    input: impl Read,
    mut output: impl Write,
) -> std::io::Result<()> {
    // Children are reaped by the kernel; the zygote never waits for one.
    // SAFETY: setting a signal disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let mut children: BTreeMap<u64, Child> = BTreeMap::new();
    let mut owner: BTreeMap<u64, u64> = BTreeMap::new();
    let mut next_child = 0u64;
    for line in BufReader::new(input).lines() {
        let line = line?;
        let route: Route = serde_json::from_str(&line).map_err(|e| invalid(format!("bad request: {e}")))?;
        let child_id = match route.op.as_str() {
            "spawn" => {
                if children.len() >= MAX_CHILDREN {
                    let why = format!("more than {MAX_CHILDREN} nodes alive at once");
                    write_line(&mut output, &failure("panicked", &why))?;
                    continue;
                }
                let child = match fork_node(factory, route.node.unwrap_or(0)) {
                    Ok(child) => child,
                    Err(e) => {
                        write_line(&mut output, &failure("panicked", &format!("no process for the node: {e}")))?;
                        continue;
                    }
                };
                next_child += 1;
                children.insert(next_child, child);
                owner.insert(route.slot, next_child);
                next_child
            }
            "copy" => {
                let id = *owner.get(&route.slot).ok_or_else(|| unknown(route.slot))?;
                let into = route.into.ok_or_else(|| invalid("copy without `into`".into()))?;
                owner.insert(into, id);
                id
            }
            "forget" => {
                if let Some(id) = owner.remove(&route.slot) {
                    let child = children.get_mut(&id).expect("owned slots have a child");
                    child.slots -= 1;
                    if child.slots == 0 {
                        children.remove(&id); // kills it
                    } else if child.gone.is_none() {
                        let _ = writeln!(child.to, "{line}");
                    }
                }
                continue;
            }
            _ => *owner.get(&route.slot).ok_or_else(|| unknown(route.slot))?,
        };
        let child = children.get_mut(&child_id).expect("routed to a live entry");
        let reply = relay(child, &line);
        match route.op.as_str() {
            "spawn" | "copy" if reply_is_ready(&reply) => child.slots += 1,
            "spawn" | "copy" => {
                owner.remove(&route.into.unwrap_or(route.slot));
            }
            _ => {}
        }
        if child.slots == 0 {
            children.remove(&child_id);
        }
        output.write_all(&reply)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}

fn reply_is_ready(reply: &[u8]) -> bool {
    reply.starts_with(br#"{"reply":"ready""#)
}

/// Sends one request line to a node and returns its reply line, or a
/// `panicked`/`timed_out` reply when the node's process fails to give one.
fn relay(child: &mut Child, line: &str) -> Vec<u8> {
    if let Some(why) = &child.gone {
        return failure("panicked", why);
    }
    if writeln!(child.to, "{line}").is_err() {
        return give_up(child, "panicked", "the node's process ended (it crashed, or hit its memory or CPU limit)");
    }
    match read_line(&child.from, CALL_TIMEOUT) {
        Ok(reply) if serde_json::from_slice::<ReplyTag>(&reply).is_ok() => reply,
        Ok(_) => give_up(child, "panicked", "the node's process broke the host protocol"),
        Err(LineError::TimedOut) => {
            let why = format!(
                "node {} did not answer within {} s (an endless loop, or a handler that waits?)",
                child.node,
                CALL_TIMEOUT.as_secs_f64()
            );
            give_up(child, "timed_out", &why)
        }
        Err(LineError::TooLong) => {
            let why = format!("node {} answered one call with more than {} KiB", child.node, MAX_LINE >> 10);
            give_up(child, "panicked", &why)
        }
        Err(LineError::Closed) => give_up(
            child,
            "panicked",
            &format!("node {}'s process ended (it crashed, or hit its memory or CPU limit)", child.node),
        ),
    }
}

/// Kills the node's process and remembers why, for this and later calls.
fn give_up(child: &mut Child, kind: &str, why: &str) -> Vec<u8> {
    // SAFETY: our own child.
    unsafe { libc::kill(child.pid, libc::SIGKILL) };
    child.gone = Some(why.to_owned());
    failure(kind, why)
}

fn failure(kind: &str, why: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "reply": kind, "message": why })).expect("json")
}

fn write_line(output: &mut impl Write, line: &[u8]) -> std::io::Result<()> {
    output.write_all(line)?;
    output.write_all(b"\n")?;
    output.flush()
}

enum LineError {
    TimedOut,
    TooLong,
    Closed,
}

/// Reads one line from `fd` within `timeout`. A node answers exactly one
/// line per call, so reading byte runs up to the newline loses nothing.
fn read_line(fd: &OwnedFd, timeout: Duration) -> Result<Vec<u8>, LineError> {
    let deadline = Instant::now() + timeout;
    let mut line = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(LineError::Closed);
        }
        if ready == 0 {
            return Err(LineError::TimedOut);
        }
        // SAFETY: reading into our buffer from our fd.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return Err(LineError::Closed);
        }
        let chunk = &buf[..n as usize];
        if let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            if end + 1 != chunk.len() {
                return Err(LineError::Closed); // more than one line: not our protocol
            }
            line.extend_from_slice(&chunk[..end]);
            return Ok(line);
        }
        line.extend_from_slice(chunk);
        if line.len() > MAX_LINE {
            return Err(LineError::TooLong);
        }
    }
}

/// Forks the process of one node. The child serves its requests on its own
/// pipes and exits when the zygote closes them.
fn fork_node<M: Message>(factory: &NodeFactory<M>, node: usize) -> std::io::Result<Child> {
    let (req_r, req_w) = std::io::pipe()?;
    let (rep_r, rep_w) = std::io::pipe()?;
    let (req_r, rep_w): (OwnedFd, OwnedFd) = (req_r.into(), rep_w.into());
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null").ok();
    // SAFETY: the zygote is single-threaded (it never ran student code or
    // spawned threads), so the child may allocate and run Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: getpid has no preconditions.
        let filter = child_filter(unsafe { libc::getpid() } as u32);
        let code =
            match become_node(req_r.as_raw_fd(), rep_w.as_raw_fd(), null.as_ref().map(|f| f.as_raw_fd()), &filter) {
                Ok(()) => {
                    // SAFETY: fds 0 and 3 are this node's pipes (set up above).
                    let input = unsafe { std::fs::File::from_raw_fd(0) };
                    let output = std::io::BufWriter::new(unsafe { std::fs::File::from_raw_fd(3) });
                    match serve(factory, input, output) {
                        Ok(()) => 0,
                        Err(_) => 3,
                    }
                }
                Err(_) => 4,
            };
        // SAFETY: leave without running the zygote's destructors.
        unsafe { libc::_exit(code) };
    }
    drop(req_r);
    drop(rep_w);
    Ok(Child { pid, node, to: std::fs::File::from(OwnedFd::from(req_w)), from: rep_r.into(), slots: 0, gone: None })
}

/// In the child, before any student code: requests on fd 0, replies on
/// fd 3, stdout to /dev/null, every other descriptor closed, then the
/// limits and the filter.
fn become_node(req: i32, rep: i32, null: Option<i32>, filter: &[libc::sock_filter]) -> std::io::Result<()> {
    let check = |r: libc::c_int| if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(r) };
    // SAFETY: plain syscalls on descriptors this process owns.
    unsafe {
        // Move both pipes above the fds they will replace, then into place.
        let req_high = check(libc::fcntl(req, libc::F_DUPFD, 10))?;
        let rep_high = check(libc::fcntl(rep, libc::F_DUPFD, 10))?;
        check(libc::dup2(req_high, 0))?;
        check(libc::dup2(rep_high, 3))?;
        check(libc::dup2(null.unwrap_or(2), 1))?;
        check(libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32) as libc::c_int)?;
        check(libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0))?;
        let space = libc::rlimit { rlim_cur: CHILD_ADDRESS_SPACE, rlim_max: CHILD_ADDRESS_SPACE };
        check(libc::setrlimit(libc::RLIMIT_AS, &space))?;
        let cpu = libc::rlimit { rlim_cur: CHILD_CPU_SECS, rlim_max: CHILD_CPU_SECS + 1 };
        check(libc::setrlimit(libc::RLIMIT_CPU, &cpu))?;
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
        let program = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut _ };
        check(libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &program as *const _ as libc::c_ulong,
            0,
            0,
        ))?;
    }
    Ok(())
}

// Classic BPF over seccomp_data: nr at 0, args[0] (low half) at 16.
const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_EPERM: u32 = 0x0005_0000 | libc::EPERM as u32;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// A node's own filter, on top of the sandbox's: no new processes (a node
/// is one process; threads stay allowed) and no signals to other
/// processes (a channel between nodes). `tgkill` stays for the node
/// itself (`own_pid`): `abort` raises its signal with it.
fn child_filter(own_pid: u32) -> Vec<libc::sock_filter> {
    let mut p = vec![stmt(LD_W_ABS, 0)];
    p.push(jump(JEQ_K, libc::SYS_tgkill as u32, 0, 4));
    p.push(stmt(LD_W_ABS, 16));
    p.push(jump(JEQ_K, own_pid, 0, 1));
    p.push(stmt(RET_K, RET_ALLOW));
    p.push(stmt(RET_K, RET_EPERM));
    // clone: only with CLONE_THREAD.
    p.push(jump(JEQ_K, libc::SYS_clone as u32, 0, 4));
    p.push(stmt(LD_W_ABS, 16));
    p.push(jump(JSET_K, libc::CLONE_THREAD as u32, 0, 1));
    p.push(stmt(RET_K, RET_ALLOW));
    p.push(stmt(RET_K, RET_EPERM));
    let mut denied: Vec<libc::c_long> = vec![
        libc::SYS_kill,
        libc::SYS_tkill,
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
        libc::SYS_pidfd_open,
        libc::SYS_pidfd_send_signal,
        libc::SYS_pidfd_getfd,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_ptrace,
        libc::SYS_setpgid,
        libc::SYS_setsid,
    ];
    #[cfg(target_arch = "x86_64")]
    denied.extend([libc::SYS_fork, libc::SYS_vfork]);
    let n = denied.len();
    for (i, nr) in denied.iter().enumerate() {
        p.push(jump(JEQ_K, *nr as u32, (n - i) as u8, 0));
    }
    p.push(stmt(RET_K, RET_ALLOW));
    p.push(stmt(RET_K, RET_EPERM));
    p
}

/// For a host that keeps the student's code in this process (a function
/// host): take process creation and signals to others away before any
/// student code runs.
pub fn forbid_new_processes() {
    // SAFETY: getpid has no preconditions.
    let filter = child_filter(unsafe { libc::getpid() } as u32);
    let program = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut _ };
    // SAFETY: a valid filter program that outlives the call. A failure
    // (e.g. no seccomp outside the grader) leaves the process as it was.
    unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &program as *const _ as libc::c_ulong, 0, 0);
    }
}

fn invalid(why: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why)
}

fn unknown(slot: u64) -> std::io::Error {
    invalid(format!("no node in slot {slot}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn filter_jumps_stay_in_range() {
        let p = super::child_filter(7);
        assert!(p.len() < 255);
        for (i, ins) in p.iter().enumerate() {
            assert!(i + 1 + ins.jt as usize <= p.len() && i + 1 + ins.jf as usize <= p.len());
        }
    }
}
