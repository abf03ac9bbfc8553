//! The seccomp filter for running submissions, as a raw classic-BPF program.
//!
//! Handed to bwrap with `--add-seccomp-fd`, so it is installed (with
//! no_new_privs) right before bwrap execs the submission: code in
//! `.init_array` already runs under it. A hand-written program rather than a
//! crate because it is short and we need things crates do not offer in one
//! filter: two different errnos (clone3 must get ENOSYS so std threads fall
//! back to clone) and a guard against x32 syscall numbers.

use std::io::Write;
use std::os::fd::OwnedFd;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// x32 ABI syscalls carry this bit with the x86_64 audit arch; the deny list
/// below would not match them, so they are all refused.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;

// seccomp_data offsets: nr, arch, instruction_pointer, args[6].
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARG0_LO: u32 = 16; // little endian: low 32 bits of args[0]

/// Syscalls refused with EPERM: new processes, sockets, namespace and mount
/// games, kernel attack surface. `clone` is handled separately (threads ok).
fn denied() -> Vec<libc::c_long> {
    #[allow(unused_mut)]
    let mut v = vec![
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_open_tree,
        libc::SYS_move_mount,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_mount_setattr,
        libc::SYS_acct,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_reboot,
        libc::SYS_quotactl,
        libc::SYS_setsid,
        // System V IPC and POSIX message queues: memory or queues two
        // processes of one sandbox (two nodes) could meet in.
        libc::SYS_shmget,
        libc::SYS_shmat,
        libc::SYS_shmctl,
        libc::SYS_msgget,
        libc::SYS_msgsnd,
        libc::SYS_msgrcv,
        libc::SYS_msgctl,
        libc::SYS_semget,
        libc::SYS_semop,
        libc::SYS_semtimedop,
        libc::SYS_semctl,
        libc::SYS_mq_open,
        libc::SYS_mq_unlink,
        libc::SYS_mq_timedsend,
        libc::SYS_mq_timedreceive,
        libc::SYS_mq_notify,
        libc::SYS_mq_getsetattr,
    ];
    v
}

/// Process creation, refused unless the sandbox is a node host's zygote.
fn process_creation() -> Vec<libc::c_long> {
    #[allow(unused_mut)]
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    v.extend([libc::SYS_fork, libc::SYS_vfork]);
    v
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Builds the filter program. `allow_fork`: a node host's zygote, which
/// forks one process per node (each node then forbids it for itself).
pub fn program(allow_fork: bool) -> Vec<libc::sock_filter> {
    let eperm = SECCOMP_RET_ERRNO | libc::EPERM as u32;
    let enosys = SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    let mut deny = denied();
    if !allow_fork {
        deny.extend(process_creation());
    }
    let mut p = vec![
        stmt(LD_W_ABS, OFF_ARCH),
        // Foreign arch (e.g. int 0x80 on x86_64): kill.
        jump(JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(RET_K, SECCOMP_RET_KILL_PROCESS),
        stmt(LD_W_ABS, OFF_NR),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        p.push(jump(JGE_K, X32_SYSCALL_BIT, 0, 1));
        p.push(stmt(RET_K, eperm));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = JGE_K;
    p.push(jump(JEQ_K, libc::SYS_clone3 as u32, 0, 1));
    p.push(stmt(RET_K, enosys));
    // clone: allowed only with CLONE_THREAD (std::thread::spawn), unless
    // the zygote may fork.
    p.push(jump(JEQ_K, libc::SYS_clone as u32, 0, 4));
    p.push(stmt(LD_W_ABS, OFF_ARG0_LO));
    p.push(jump(JSET_K, libc::CLONE_THREAD as u32, 0, 1));
    p.push(stmt(RET_K, SECCOMP_RET_ALLOW));
    p.push(stmt(RET_K, if allow_fork { SECCOMP_RET_ALLOW } else { eperm }));
    // Deny list: each entry jumps to the shared EPERM return at the end.
    let n = deny.len();
    for (i, nr) in deny.iter().enumerate() {
        let to_eperm = (n - i) as u8; // skips the rest of the list and ALLOW
        p.push(jump(JEQ_K, *nr as u32, to_eperm, 0));
    }
    p.push(stmt(RET_K, SECCOMP_RET_ALLOW));
    p.push(stmt(RET_K, eperm));
    p
}

/// The program as bytes in a pipe, ready for `bwrap --add-seccomp-fd`
/// (bwrap reads it to EOF). A few hundred bytes: fits in the pipe buffer.
pub fn program_fd(allow_fork: bool) -> std::io::Result<OwnedFd> {
    let prog = program(allow_fork);
    let mut bytes = Vec::with_capacity(prog.len() * 8);
    for ins in &prog {
        bytes.extend_from_slice(&ins.code.to_ne_bytes());
        bytes.push(ins.jt);
        bytes.push(ins.jf);
        bytes.extend_from_slice(&ins.k.to_ne_bytes());
    }
    let (reader, mut writer) = std::io::pipe()?;
    writer.write_all(&bytes)?;
    drop(writer);
    Ok(reader.into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn jumps_stay_in_range() {
        for allow_fork in [false, true] {
            let p = super::program(allow_fork);
            assert!(p.len() < 255, "8-bit jump offsets must reach the end");
            for (i, ins) in p.iter().enumerate() {
                assert!(i + 1 + (ins.jt as usize) < p.len() + 1);
                assert!(i + 1 + (ins.jf as usize) < p.len() + 1);
            }
        }
    }
}
