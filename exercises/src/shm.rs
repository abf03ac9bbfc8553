//! Shared memory between two OS processes, as the lecture notes describe
//! it: one page is mapped shared before `fork`, so parent and child read
//! and write the same bytes, while everything else `fork` copies (each
//! process then has its own). Both processes add 1 to a counter in the
//! shared page many times: with a plain read-then-write, increments are
//! lost when the two interleave; with an atomic add, none is.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How each process adds 1 to the shared counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Increment {
    /// Read the value, then write value + 1: two steps another process can
    /// come between.
    Plain,
    /// One atomic fetch-and-add (a locked instruction on x86).
    Atomic,
}

/// What one race measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Race {
    pub increment: Increment,
    /// Increments each of the two processes made.
    pub per_process: u64,
    /// The shared counter at the end (2 x `per_process` if none was lost).
    pub counted: u64,
    /// A variable outside the shared page that the child also incremented
    /// `per_process` times, as the parent sees it afterwards: 0, since the
    /// child changed its own copy.
    pub private_in_parent: u64,
}

impl Race {
    pub fn expected(&self) -> u64 {
        2 * self.per_process
    }

    pub fn lost(&self) -> u64 {
        self.expected() - self.counted
    }
}

impl fmt::Display for Race {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} increments, 2 processes x {}: counter {} of {} ({} lost); the child's private copy left the parent's at {}",
            self.increment,
            self.per_process,
            self.counted,
            self.expected(),
            self.lost(),
            self.private_in_parent
        )
    }
}

const PAGE: usize = 4096;
/// The processes wait for each other before counting, so they overlap.
const START_WAIT: Duration = Duration::from_secs(10);

/// Forks a child; parent and child each increment the shared counter
/// `per_process` times in the way `increment` says, starting together.
/// The child does nothing but count and exit (no allocation, no locks), so
/// this is safe in a process with other threads, such as a notebook
/// kernel.
pub fn counter_race(per_process: u64, increment: Increment) -> std::io::Result<Race> {
    // SAFETY: a fresh anonymous mapping, checked against MAP_FAILED; the
    // page is zeroed; the counters are 8-byte aligned at its start.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let counter = page as *mut u64;
    // SAFETY: inside the page, aligned; only ever used atomically.
    let ready = unsafe { &*(counter.add(1) as *const AtomicU64) };
    let mut private: u64 = 0;
    // Two cores if there are two: the scheduler likes to put a new child
    // next to its parent, where the two would take turns, not overlap.
    let cpus = allowed_cpus();
    let saved = cpus.get(..2).map(|_| pin(cpus[0]));
    // SAFETY: the child runs only `count` and `_exit` (see above).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        unsafe { libc::munmap(page, PAGE) };
        return Err(e);
    }
    if pid == 0 {
        if saved.is_some() {
            pin(cpus[1]);
        }
        start_together(ready);
        count(counter, per_process, increment);
        for _ in 0..per_process {
            // SAFETY: the child's own copy of `private`.
            unsafe { std::ptr::write_volatile(&mut private, std::ptr::read_volatile(&private) + 1) };
        }
        // SAFETY: leave without running the parent's destructors or atexit.
        unsafe { libc::_exit(0) };
    }
    start_together(ready);
    count(counter, per_process, increment);
    if let Some(Some(mask)) = saved {
        // SAFETY: restores the mask read before pinning.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mask) };
    }
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    // SAFETY: the mapping is still ours; the child has exited.
    let counted = unsafe { std::ptr::read_volatile(counter) };
    unsafe { libc::munmap(page, PAGE) };
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(std::io::Error::other(format!("the child process ended abnormally (status {status})")));
    }
    Ok(Race { increment, per_process, counted, private_in_parent: unsafe { std::ptr::read_volatile(&private) } })
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t filled by the kernel.
    let mut mask: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut mask) } != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &mask) }).collect()
}

/// Runs the calling process on `cpu` only; returns the mask it had, if it
/// could be read and changed. Async-signal-safe (a system call), so the
/// child may call it too.
fn pin(cpu: usize) -> Option<libc::cpu_set_t> {
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: zeroed masks, filled or set by the kernel and CPU_SET.
    unsafe {
        let mut old: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size, &mut old) != 0 {
            return None;
        }
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        (libc::sched_setaffinity(0, size, &one) == 0).then_some(old)
    }
}

fn start_together(ready: &AtomicU64) {
    ready.fetch_add(1, Ordering::SeqCst);
    let start = Instant::now();
    while ready.load(Ordering::SeqCst) < 2 && start.elapsed() < START_WAIT {
        std::hint::spin_loop();
    }
}

fn count(counter: *mut u64, n: u64, increment: Increment) {
    match increment {
        Increment::Plain => {
            for _ in 0..n {
                // SAFETY: the shared page is mapped until both have counted.
                unsafe { std::ptr::write_volatile(counter, std::ptr::read_volatile(counter) + 1) };
            }
        }
        Increment::Atomic => {
            // SAFETY: aligned, inside the page, only used as an atomic here.
            let atomic = unsafe { &*(counter as *const AtomicU64) };
            for _ in 0..n {
                atomic.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_adds_lose_nothing_and_plain_ones_lose_increments() {
        let atomic = counter_race(1_000_000, Increment::Atomic).unwrap();
        assert_eq!(atomic.counted, 2_000_000, "{atomic}");
        assert_eq!(atomic.private_in_parent, 0, "fork copied the private variable");
        // Two processes on two cores interleave within a few tries.
        let lost = (0..5).map(|_| counter_race(2_000_000, Increment::Plain).unwrap()).find(|r| r.lost() > 0);
        let race = lost.expect("plain increments from two processes lost nothing in 5 races");
        // Lost updates can take the total below one process's own count
        // (a read held across the other's whole run), never to 0.
        assert!(race.counted < race.expected() && race.counted > 0, "{race}");
    }
}
