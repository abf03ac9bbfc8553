//! What goes into one bubblewrap sandbox, and its translation to bwrap flags.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::{Limits, SandboxUser};

/// One command to run in a fresh sandbox. The filesystem is: read-only
/// system dirs, the read-only binds added here, a minimal /dev, one sized
/// tmpfs (the only writable place), and the files copied into it. The rest
/// of the host, including the grader's data, does not exist inside.
#[derive(Debug)]
pub struct Spec {
    pub argv: Vec<String>,
    pub user: SandboxUser,
    pub limits: Limits,
    /// Mount point of the writable tmpfs; also the working directory.
    pub work_dir: String,
    pub ro_binds: Vec<(PathBuf, String)>,
    pub rw_binds: Vec<(PathBuf, String)>,
    /// Files copied into the sandbox (e.g. the student's source).
    pub files: Vec<(Vec<u8>, String)>,
    pub env: Vec<(String, String)>,
    /// Install the seccomp filter for untrusted binaries (not for rustc:
    /// it must fork the linker).
    pub seccomp: bool,
    /// Mount a /proc of the sandbox's own pid namespace (rustc's lld
    /// wrapper needs /proc/self/exe; submissions get none).
    pub proc: bool,
    /// A node host: its zygote forks one process per node, so the filter
    /// allows process creation (each node takes it away again); the work
    /// dir is read-only and /dev holds only null, zero and urandom, so the
    /// node processes find no file, pty or shared directory to meet in.
    pub node_host: bool,
}

impl Spec {
    pub fn new(user: SandboxUser, limits: Limits, argv: Vec<String>) -> Self {
        Spec {
            argv,
            user,
            limits,
            work_dir: "/work".into(),
            ro_binds: Vec::new(),
            rw_binds: Vec::new(),
            files: Vec::new(),
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("HOME".into(), "/work".into()),
                ("TMPDIR".into(), "/work".into()),
                ("LANG".into(), "C.UTF-8".into()),
            ],
            seccomp: false,
            proc: false,
            node_host: false,
        }
    }

    pub fn ro_bind(mut self, host: impl Into<PathBuf>, inside: impl Into<String>) -> Self {
        self.ro_binds.push((host.into(), inside.into()));
        self
    }

    pub fn rw_bind(mut self, host: impl Into<PathBuf>, inside: impl Into<String>) -> Self {
        self.rw_binds.push((host.into(), inside.into()));
        self
    }

    pub fn file(mut self, data: Vec<u8>, inside: impl Into<String>) -> Self {
        self.files.push((data, inside.into()));
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn proc(mut self, on: bool) -> Self {
        self.proc = on;
        self
    }

    pub fn seccomp(mut self, on: bool) -> Self {
        self.seccomp = on;
        self
    }

    pub fn node_host(mut self, on: bool) -> Self {
        self.node_host = on;
        self
    }
}

/// bwrap arguments plus the fds they name, which must survive into bwrap.
pub(crate) struct BwrapArgs {
    pub args: Vec<String>,
    pub keep_fds: Vec<OwnedFd>,
}

/// System directories every sandbox sees read-only. On merged-/usr systems
/// /bin, /lib... are symlinks and are recreated as symlinks.
const SYSTEM_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

pub(crate) fn bwrap_args(spec: &Spec, json_status_fd: &OwnedFd) -> std::io::Result<BwrapArgs> {
    let mut a: Vec<String> = Vec::new();
    let mut keep = Vec::new();
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
    // New user/pid/net/ipc/uts/cgroup namespaces: no network at all.
    push(&["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]);
    // A user namespace always (not just "try"), and none nested inside it:
    // the kernel's user-namespace code is attack surface we do not need.
    push(&["--unshare-user", "--disable-userns"]);
    push(&["--clearenv", "--hostname", "sandbox"]);
    for dir in SYSTEM_DIRS {
        let p = Path::new(dir);
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(p)?;
                push(&["--symlink", &target.to_string_lossy(), dir]);
            }
            Ok(m) if m.is_dir() => push(&["--ro-bind", dir, dir]),
            _ => {}
        }
    }
    // The `cc` linker driver is found through /etc/alternatives on Debian.
    push(&["--ro-bind-try", "/etc/alternatives", "/etc/alternatives"]);
    if spec.node_host {
        push(&["--dir", "/dev"]);
        for dev in ["/dev/null", "/dev/zero", "/dev/urandom"] {
            push(&["--dev-bind", dev, dev]);
        }
    } else {
        push(&["--dev", "/dev"]);
    }
    if spec.proc {
        push(&["--proc", "/proc"]);
    }
    for (host, inside) in &spec.ro_binds {
        push(&["--ro-bind", &host.to_string_lossy(), inside]);
    }
    let size = spec.limits.tmpfs_bytes.to_string();
    push(&["--size", &size, "--tmpfs", &spec.work_dir]);
    for (host, inside) in &spec.rw_binds {
        push(&["--bind", &host.to_string_lossy(), inside]);
    }
    for (data, inside) in &spec.files {
        let fd = data_fd(data)?;
        push(&["--perms", "0644", "--file", &fd.as_raw_fd().to_string(), inside]);
        keep.push(fd);
    }
    // bwrap's root and /dev are tmpfs writable by the sandbox uid: make
    // them read-only, or they would be unsized scratch space in host memory.
    if spec.node_host {
        push(&["--remount-ro", "/", "--remount-ro", &spec.work_dir]);
    } else {
        push(&["--remount-ro", "/dev", "--remount-ro", "/"]);
    }
    for (k, v) in &spec.env {
        push(&["--setenv", k, v]);
    }
    push(&["--chdir", &spec.work_dir]);
    if spec.seccomp {
        let fd = super::seccomp::program_fd(spec.node_host)?;
        push(&["--add-seccomp-fd", &fd.as_raw_fd().to_string()]);
        keep.push(fd);
    }
    push(&["--json-status-fd", &json_status_fd.as_raw_fd().to_string()]);
    // The options travel through a pipe (`--args`), not the command line:
    // bwrap's init is pid 1 inside a sandbox with /proc, and its cmdline
    // would show the grader's paths.
    let mut options = Vec::new();
    for arg in &a {
        options.extend_from_slice(arg.as_bytes());
        options.push(0);
    }
    let options_fd = data_fd(&options)?;
    let mut args = vec!["--args".to_string(), options_fd.as_raw_fd().to_string(), "--".to_string()];
    keep.push(options_fd);
    args.extend(spec.argv.iter().cloned());
    Ok(BwrapArgs { args, keep_fds: keep })
}

/// Data handed to bwrap through a pipe fed by a thread (files may exceed
/// the pipe buffer, and bwrap reads them only during setup).
fn data_fd(data: &[u8]) -> std::io::Result<OwnedFd> {
    use std::io::Write;
    let (reader, mut writer) = std::io::pipe()?;
    let data = data.to_vec();
    std::thread::spawn(move || {
        // Fails with EPIPE if bwrap dies first: nothing to do then.
        let _ = writer.write_all(&data);
    });
    Ok(reader.into())
}
