//! The stdout relay between evcxr and its runtime process.
//!
//! evcxr reads its runtime child's stdout itself and swallows rich-output
//! blocks (`EVCXR_BEGIN_CONTENT <mime>` .. `EVCXR_END_CONTENT`) until the cell
//! ends, and it reports a panic as success. To stream rich output *while* a
//! cell runs and to see panics, the kernel gives evcxr a subprocess command
//! that runs this relay (`distlab-kernel __relay`, started through
//! `env -u EVCXR_IS_RUNTIME` so `runtime_hook` does not take over). The relay
//! starts the real evcxr runtime (the same binary with `EVCXR_IS_RUNTIME=1`),
//! reads its stdout and stderr, and forwards everything to evcxr, except that:
//!
//! * a non-`text/plain` content block becomes one marker line
//!   `\x01DISTLAB_DISPLAY <hex json>` that evcxr passes through as ordinary
//!   stdout, so the kernel sends it as `display_data` at once (`text/plain`
//!   blocks are left to evcxr: that is how a cell's final value arrives);
//! * before evcxr's panic and `?`-error notifications it adds
//!   `\x01DISTLAB_PANIC` / `\x01DISTLAB_USER_ERROR` marker lines;
//! * `DISTLAB_CLEAR_OUTPUT [wait]` becomes a `clear_output` marker;
//! * at the end of each run (`EVCXR_EXECUTION_COMPLETE`) it first forwards all
//!   of the runtime's pending stderr, then writes a `\x01DISTLAB_SYNC` line to
//!   stderr, so the kernel knows it has every stderr line of the cell before
//!   it reports idle. (Markers on stdout are only ever written for output of
//!   user code: evcxr waits for its stdout channel to drain after each run,
//!   and nobody reads that channel during evcxr's own start-up run.)

use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

pub const MARK_DISPLAY: &str = "\u{1}DISTLAB_DISPLAY ";
pub const MARK_PANIC: &str = "\u{1}DISTLAB_PANIC";
pub const MARK_USER_ERROR: &str = "\u{1}DISTLAB_USER_ERROR";
pub const MARK_CLEAR: &str = "\u{1}DISTLAB_CLEAR ";
pub const MARK_SYNC: &str = "\u{1}DISTLAB_SYNC";

const EXECUTION_COMPLETE: &str = "EVCXR_EXECUTION_COMPLETE";
const PANIC_NOTIFICATION: &str = "EVCXR_PANIC_NOTIFICATION";
const USER_ERROR_OCCURRED: &str = "EVCXR_ERROR_OCCURRED";
const BEGIN_CONTENT: &str = "EVCXR_BEGIN_CONTENT ";
const END_CONTENT: &str = "EVCXR_END_CONTENT";
const CLEAR_OUTPUT: &str = "DISTLAB_CLEAR_OUTPUT";

/// The subprocess command the kernel hands to evcxr.
pub fn relay_command() -> std::io::Result<Command> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new("env");
    cmd.arg("-u").arg("EVCXR_IS_RUNTIME").arg(exe).arg("__relay");
    unsafe {
        // The relay (and with it the runtime) dies with the kernel.
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    Ok(cmd)
}

/// Decode a `MARK_DISPLAY` payload into (mime, data).
pub fn decode_display(payload: &str) -> Option<(String, String)> {
    let bytes = hex::decode(payload.trim()).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some((v["mime"].as_str()?.to_owned(), v["data"].as_str()?.to_owned()))
}

fn encode_display(mime: &str, data: &str) -> String {
    let json = serde_json::json!({"mime": mime, "data": data}).to_string();
    format!("{MARK_DISPLAY}{}", hex::encode(json))
}

enum Block {
    None,
    /// A text/plain block: evcxr keeps it (final value of the cell).
    PassThrough,
    Collect {
        mime: String,
        data: String,
    },
}

struct Relay {
    out: std::io::Stdout,
    err: std::io::Stderr,
    block: Block,
    err_fd: RawFd,
    err_ends_with_newline: bool,
}

impl Relay {
    fn emit(&mut self, line: &str) {
        let mut out = self.out.lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    }

    fn forward_stderr(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut err = self.err.lock();
        let _ = err.write_all(bytes);
        let _ = err.flush();
        self.err_ends_with_newline = bytes.ends_with(b"\n");
    }

    /// Forward whatever the runtime has already written to stderr.
    fn drain_stderr(&mut self) {
        let mut buf = [0u8; 8192];
        loop {
            let n = unsafe { libc::read(self.err_fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            let chunk = buf[..n as usize].to_vec();
            self.forward_stderr(&chunk);
        }
    }

    fn sync(&mut self) {
        self.drain_stderr();
        let mut err = self.err.lock();
        if !self.err_ends_with_newline {
            let _ = err.write_all(b"\n");
        }
        let _ = err.write_all(MARK_SYNC.as_bytes());
        let _ = err.write_all(b"\n");
        let _ = err.flush();
        self.err_ends_with_newline = true;
    }

    fn stdout_line(&mut self, line: &str) {
        match std::mem::replace(&mut self.block, Block::None) {
            Block::Collect { mime, mut data } => {
                if line == END_CONTENT {
                    let marker = encode_display(&mime, &data);
                    self.emit(&marker);
                } else if line == PANIC_NOTIFICATION {
                    self.emit(MARK_PANIC);
                    self.emit(line);
                } else {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(line);
                    self.block = Block::Collect { mime, data };
                }
                return;
            }
            Block::PassThrough => {
                if line != END_CONTENT && line != PANIC_NOTIFICATION {
                    self.block = Block::PassThrough;
                }
                if line == PANIC_NOTIFICATION {
                    self.emit(MARK_PANIC);
                }
                self.emit(line);
                return;
            }
            Block::None => {}
        }
        if line == EXECUTION_COMPLETE {
            self.sync();
            self.emit(line);
        } else if line == PANIC_NOTIFICATION {
            self.emit(MARK_PANIC);
            self.emit(line);
        } else if line == USER_ERROR_OCCURRED {
            self.emit(MARK_USER_ERROR);
            self.emit(line);
        } else if let Some(rest) = line.strip_prefix(CLEAR_OUTPUT) {
            let wait = rest.trim() == "wait";
            self.emit(&format!("{MARK_CLEAR}{}", if wait { "wait" } else { "now" }));
        } else if let Some(idx) = line.find(BEGIN_CONTENT) {
            let mime = line[idx + BEGIN_CONTENT.len()..].split(' ').next().unwrap_or("").to_owned();
            if mime == "text/plain" {
                self.block = Block::PassThrough;
                self.emit(line);
            } else {
                self.block = Block::Collect { mime, data: String::new() };
            }
        } else {
            self.emit(line);
        }
    }
}

fn set_nonblocking(fd: RawFd) {
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

/// Entry point of `distlab-kernel __relay`. Never returns.
pub fn run_relay() -> ! {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    // Short panic messages for students (evcxr asks for full backtraces).
    cmd.env("EVCXR_IS_RUNTIME", "1")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    unsafe {
        // The runtime dies with the relay (the kernel interrupts a cell by
        // killing the relay).
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("distlab-kernel relay: cannot start the evcxr runtime: {e}");
            std::process::exit(98);
        }
    };
    let child_out = child.stdout.take().unwrap();
    let child_err = child.stderr.take().unwrap();
    let out_fd = child_out.as_raw_fd();
    let err_fd = child_err.as_raw_fd();
    set_nonblocking(out_fd);
    set_nonblocking(err_fd);
    let mut relay = Relay {
        out: std::io::stdout(),
        err: std::io::stderr(),
        block: Block::None,
        err_fd,
        err_ends_with_newline: true,
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut out_open = true;
    let mut err_open = true;
    while out_open {
        let mut fds = [
            libc::pollfd { fd: out_fd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: if err_open { err_fd } else { -1 }, events: libc::POLLIN, revents: 0 },
        ];
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if r < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if err_open && fds[1].revents != 0 {
            let n = unsafe { libc::read(err_fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                err_open = false;
            } else if n > 0 {
                let chunk = buf[..n as usize].to_vec();
                relay.forward_stderr(&chunk);
            }
        }
        if fds[0].revents != 0 {
            let n = unsafe { libc::read(out_fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                out_open = false;
            } else if n > 0 {
                pending.extend_from_slice(&buf[..n as usize]);
                while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=pos).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]);
                    let text = text.strip_suffix('\r').unwrap_or(&text).to_owned();
                    relay.stdout_line(&text);
                }
            }
        }
    }
    if !pending.is_empty() {
        let text = String::from_utf8_lossy(&pending).into_owned();
        relay.stdout_line(&text);
    }
    // Runtime closed stdout: it is exiting. Pass on its last words and status.
    unsafe {
        let flags = libc::fcntl(err_fd, libc::F_GETFL);
        libc::fcntl(err_fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
    }
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut { child_err }, &mut rest);
    relay.forward_stderr(&rest);
    let status = child.wait();
    match status {
        Ok(s) => {
            if let Some(sig) = s.signal() {
                unsafe {
                    libc::signal(sig, libc::SIG_DFL);
                    libc::raise(sig);
                }
            }
            std::process::exit(s.code().unwrap_or(1));
        }
        Err(_) => std::process::exit(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_marker_round_trips() {
        let m = encode_display("text/html", "<b>EVCXR_BEGIN_CONTENT x</b>\nline2");
        assert!(!m.contains("EVCXR_BEGIN_CONTENT"));
        let payload = m.strip_prefix(MARK_DISPLAY).unwrap();
        let (mime, data) = decode_display(payload).unwrap();
        assert_eq!(mime, "text/html");
        assert_eq!(data, "<b>EVCXR_BEGIN_CONTENT x</b>\nline2");
    }
}
