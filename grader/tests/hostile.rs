//! Hostile submissions through the real compile and run path: each must be
//! contained, leak nothing, and leave the slot able to grade a normal
//! program. Needs bubblewrap (installed by ./dev test); fails without it.

mod common;

use std::time::Duration;

use common::*;
use distlab_grader::sandbox::{self, LimitHit, Limits, Spec, Termination};
use distlab_grader::{compile, run, CompileOptions, RunOptions, SandboxUser};

fn slot_user() -> (distlab_grader::sandbox::Slot<'static>, distlab_grader::SandboxUser) {
    prepared();
    let slot = pool().acquire();
    let user = slot.user();
    (slot, user)
}

#[test]
fn normal_program_runs_as_unprivileged_uid() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    let src = r#"
use std::os::unix::fs::MetadataExt;
fn main() {
    std::fs::write("/work/probe", b"x").unwrap();
    let uid = std::fs::metadata("/work/probe").unwrap().uid();
    println!("uid={uid}");
    println!("passwd={}", std::fs::read_to_string("/etc/passwd").is_ok());
    println!("root-write={}", std::fs::write("/evil", b"x").is_ok());
    let leaked: Vec<String> = std::env::vars().map(|(k, _)| k).filter(|k| !["PATH", "HOME", "TMPDIR", "LANG", "PWD"].contains(&k.as_str())).collect();
    println!("env-leak={leaked:?}");
}
"#;
    let bin = build(user, src, dir.path());
    let out = run_bin(user, &bin, b"");
    assert!(out.success(), "{out:?}");
    let text = stdout(&out);
    assert!(!text.contains("uid=0\n"), "runs as root: {text}");
    if user.uid != SandboxUser::current().uid {
        assert!(text.contains(&format!("uid={}\n", user.uid)), "{text}");
    }
    assert!(text.contains("passwd=false"), "{text}");
    assert!(text.contains("root-write=false"), "{text}");
    assert!(text.contains("env-leak=[]"), "the grader's environment leaked: {text}");
    assert_still_grades(user);
}

/// A student's own durable type derives serde's traits the way rustc
/// suggests (`serde::Serialize`): the grader puts serde beside distlab, as
/// the kernel does.
#[test]
fn a_submission_can_derive_serde_traits() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    let src = r#"
#[derive(Clone, Debug, Hash, serde::Serialize, serde::Deserialize)]
struct Progress {
    round: u64,
    estimate: distlab::F64,
}
fn durable<T: serde::Serialize + serde::de::DeserializeOwned>(_: &T) -> bool {
    true
}
fn main() {
    println!("durable={}", durable(&Progress { round: 1, estimate: distlab::F64(0.5) }));
}
"#;
    let bin = build(user, src, dir.path());
    let out = run_bin(user, &bin, b"");
    assert!(stdout(&out).contains("durable=true"), "{out:?}");
}

#[test]
fn infinite_loop_hits_cpu_limit() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    let bin = build(user, "fn main() { let mut x = 0u64; loop { x = std::hint::black_box(x + 1); } }", dir.path());
    let out = run_bin(user, &bin, b"");
    assert!(matches!(out.limit, Some(LimitHit::Cpu) | Some(LimitHit::WallTime)), "{out:?}");
    assert!(out.wall < Duration::from_secs(12), "{out:?}");
    assert_still_grades(user);
}

#[test]
fn memory_bomb_hits_memory_limit() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    // 20 GiB, touched page by page, in 256 MiB steps.
    let src = r#"
fn main() {
    let mut keep: Vec<Vec<u8>> = Vec::new();
    for _ in 0..80 {
        let mut v = vec![0u8; 256 << 20];
        for i in (0..v.len()).step_by(4096) { v[i] = 1; }
        keep.push(v);
    }
    println!("allocated {}", keep.len());
}
"#;
    let bin = build(user, src, dir.path());
    let out = run_bin(user, &bin, b"");
    assert_eq!(out.limit, Some(LimitHit::Memory), "{out:?} {}", stderr(&out));
    assert!(!stdout(&out).contains("allocated"));
    assert_still_grades(user);
}

#[test]
fn process_and_thread_bombs_are_contained() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    let src = r#"
fn main() {
    let me = std::env::args().next().unwrap();
    let mut spawned = 0;
    for _ in 0..1000 {
        match std::process::Command::new(&me).spawn() { Ok(_) => spawned += 1, Err(_) => {} }
        match std::process::Command::new("/usr/bin/sleep").arg("30").spawn() { Ok(_) => spawned += 1, Err(_) => {} }
    }
    println!("processes={spawned}");
    let mut threads = 0;
    for _ in 0..100_000 {
        match std::thread::Builder::new().stack_size(64 << 10).spawn(|| std::thread::sleep(std::time::Duration::from_secs(30))) {
            Ok(_) => threads += 1,
            Err(_) => break,
        }
    }
    println!("threads={threads}");
}
"#;
    let bin = build(user, src, dir.path());
    let out = run_bin(user, &bin, b"");
    let text = stdout(&out);
    assert!(text.contains("processes=0\n"), "{text} {out:?}");
    let threads: usize = text.split("threads=").nth(1).and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    if user.uid != SandboxUser::current().uid {
        assert!(threads < 64, "RLIMIT_NPROC should stop threads: {text}");
    }
    assert!(out.wall < Duration::from_secs(11), "{out:?}");
    assert_still_grades(user);
}

#[test]
fn huge_file_hits_file_size_limit() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    let src = r#"
use std::io::Write;
fn main() {
    for path in ["/big", "/tmp/big", "/work/big"] {
        let mut f = match std::fs::File::create(path) { Ok(f) => f, Err(e) => { println!("{path}: {e}"); continue } };
        let chunk = vec![7u8; 1 << 20];
        let mut written = 0u64;
        for _ in 0..10240 {
            match f.write_all(&chunk) { Ok(()) => written += 1, Err(e) => { println!("{path}: {e} after {written} MiB"); break } }
        }
        println!("{path}: wrote {written} MiB");
    }
}
"#;
    let bin = build(user, src, dir.path());
    let out = run_bin(user, &bin, b"");
    let text = stdout(&out);
    assert!(text.contains("/big: Read-only file system"), "{text}");
    assert!(!text.contains("wrote 10240 MiB"), "{text}");
    assert!(out.limit == Some(LimitHit::FileSize) || text.contains("/work/big: No space left"), "{out:?} {text}");
    assert_still_grades(user);
}

#[test]
fn huge_stdout_hits_output_cap() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    let src = r#"
use std::io::Write;
fn main() {
    let line = vec![b'x'; 1 << 20];
    let mut out = std::io::stdout().lock();
    for _ in 0..1024 { out.write_all(&line).unwrap(); }
}
"#;
    let bin = build(user, src, dir.path());
    let out = run_bin(user, &bin, b"");
    assert_eq!(out.limit, Some(LimitHit::OutputCap), "{:?} {:?}", out.termination, out.limit);
    assert_eq!(out.stdout.bytes.len(), Limits::run().output_cap);
    assert!(out.stdout.truncated);
    assert!(out.wall < Duration::from_secs(5), "{:?}", out.wall);
    assert_still_grades(user);
}

#[test]
fn secrets_unreadable_at_run_time() {
    let (_slot, user) = slot_user();
    let (db, hidden) = secrets();
    let dir = tempdir();
    let src = format!(
        r#"
fn main() {{
    for p in [{db:?}, {hidden:?}, "/etc/shadow", "/root/.cargo/credentials.toml"] {{
        match std::fs::read(p) {{
            Ok(b) => println!("READ {{p}}: {{}}", String::from_utf8_lossy(&b)),
            Err(e) => println!("denied {{p}}: {{e}}"),
        }}
    }}
    println!("dirs {{:?}}", std::fs::read_dir("/").map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>()));
}}
"#
    );
    let bin = build(user, &src, dir.path());
    let out = run_bin(user, &bin, b"");
    let text = stdout(&out);
    assert!(!text.contains("READ"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("denied"), "{text}");
    assert_still_grades(user);
}

#[test]
fn include_str_and_include_of_secrets_fail_to_compile() {
    let (_slot, user) = slot_user();
    let (db, hidden) = secrets();
    let dir = tempdir();
    for src in [
        format!("const DB: &str = include_str!({db:?});\nfn main() {{ println!(\"{{DB}}\"); }}\n"),
        format!("const DB: &[u8] = include_bytes!({db:?});\nfn main() {{ println!(\"{{:?}}\", DB); }}\n"),
        format!("include!({hidden:?});\nfn main() {{ println!(\"{{HIDDEN}}\"); }}\n"),
        // include! of a file with non-Rust content leaks it through errors
        // when readable.
        format!("include!({db:?});\nfn main() {{}}\n"),
    ] {
        let out = compile_src(user, &src, dir.path());
        assert!(!out.success(), "compiled: {src}");
        assert!(!out.diagnostics.contains(SECRET), "{}", out.diagnostics);
        assert!(out.diagnostics.contains("main.rs:1:"), "paths not rewritten: {}", out.diagnostics);
        assert!(
            out.diagnostics.contains("No such file or directory") || out.diagnostics.contains("couldn't read"),
            "{}",
            out.diagnostics
        );
    }
    assert_still_grades(user);
}

#[test]
fn compile_errors_point_at_main_rs() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    let out = compile_src(user, "fn main() {\n    let x: u32 = \"no\";\n}\n", dir.path());
    assert!(!out.success());
    assert!(out.diagnostics.contains("main.rs:2:18"), "{}", out.diagnostics);
    assert!(!out.diagnostics.contains("/work/"), "{}", out.diagnostics);
    assert!(!out.diagnostics.contains("/var/prepared"), "{}", out.diagnostics);
}

#[test]
fn endless_const_eval_is_stopped() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    let src = r#"
#![allow(long_running_const_eval)]
const X: u64 = { let mut i = 0u64; loop { i = i.wrapping_add(1); if i == 0 { break i; } } };
fn main() { println!("{X}"); }
"#;
    let out = compile_src(user, src, dir.path());
    assert!(!out.success());
    assert!(matches!(out.sandbox.limit, Some(LimitHit::Cpu) | Some(LimitHit::WallTime)), "{:?}", out.sandbox);
    assert!(out.sandbox.wall < Duration::from_secs(35), "{:?}", out.sandbox.wall);
    assert_still_grades(user);
}

#[test]
fn setsid_daemon_does_not_outlive_the_run() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    // Under seccomp: spawning (and setsid) is refused outright.
    let src = r#"
use std::os::unix::process::CommandExt;
fn main() {
    let mut c = std::process::Command::new("/usr/bin/sh");
    c.args(["-c", "sleep 2; echo leaked"]);
    unsafe { c.pre_exec(|| Ok(())); }
    c.process_group(0);
    println!("daemon {:?}", c.spawn().map(|ch| ch.id()));
}
"#;
    let bin = build(user, src, dir.path());
    let out = run_bin(user, &bin, b"");
    assert!(stdout(&out).contains("daemon Err"), "{}", stdout(&out));
    assert_no_leftovers(user);

    // Without seccomp (the compile sandbox's situation), a real setsid
    // daemon still dies with the sandbox: pid namespace + die-with-parent.
    let out_dir = tempfile::Builder::new().tempdir_in(workspace().join("var")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out_dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let script = "setsid sh -c 'sleep 2; echo leaked > /out/leak' </dev/null >/dev/null 2>&1 & echo started";
    let spec = Spec::new(user, Limits::run(), vec!["/usr/bin/sh".into(), "-c".into(), script.into()])
        .rw_bind(out_dir.path(), "/out");
    let out = sandbox::launch(&spec, b"").expect("launch");
    assert_eq!(out.termination, Termination::Exited(0), "{out:?}");
    assert!(stdout(&out).contains("started"));
    assert_no_leftovers(user);
    std::thread::sleep(Duration::from_secs(3));
    assert!(!out_dir.path().join("leak").exists(), "daemon survived the sandbox");
    assert_still_grades(user);
}

#[test]
fn tcp_to_loopback_listener_fails() {
    let (_slot, user) = slot_user();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempdir();
    let src = format!(
        r#"
fn main() {{
    println!("tcp {{:?}}", std::net::TcpStream::connect(("127.0.0.1", {port})).map(|_| ()));
    println!("udp {{:?}}", std::net::UdpSocket::bind("0.0.0.0:0").map(|_| ()));
}}
"#
    );
    let bin = build(user, &src, dir.path());
    let out = run_bin(user, &bin, b"");
    let text = stdout(&out);
    assert!(text.contains("tcp Err"), "{text}");
    assert!(text.contains("udp Err"), "{text}");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the listener saw a connection: {other:?}"),
    }
    assert_still_grades(user);
}

#[test]
fn init_array_code_is_sandboxed() {
    let (_slot, user) = slot_user();
    let (db, _) = secrets();
    let dir = tempdir();
    // Runs before main: reads the db, tries the network, then spins.
    let src = format!(
        r#"
extern "C" fn before_main() {{
    match std::fs::read({db:?}) {{
        Ok(b) => eprintln!("READ {{}}", String::from_utf8_lossy(&b)),
        Err(e) => eprintln!("init denied: {{e}}"),
    }}
    eprintln!("init tcp {{:?}}", std::net::TcpStream::connect("127.0.0.1:80").map(|_| ()));
    let mut x = 0u64;
    loop {{ x = std::hint::black_box(x + 1); }}
}}
#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = before_main;
fn main() {{ println!("main reached"); }}
"#
    );
    let bin = build(user, &src, dir.path());
    let out = run_bin(user, &bin, b"");
    let err = stderr(&out);
    assert!(err.contains("init denied"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    assert!(err.contains("init tcp Err"), "{err}");
    assert!(!stdout(&out).contains("main reached"));
    assert!(matches!(out.limit, Some(LimitHit::Cpu) | Some(LimitHit::WallTime)), "{out:?}");
    assert_still_grades(user);
}

#[test]
fn stdin_is_fed_and_large_input_works() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    let src = r#"
use std::io::Read;
fn main() {
    let mut b = Vec::new();
    std::io::stdin().read_to_end(&mut b).unwrap();
    println!("{} {}", b.len(), b.iter().map(|&x| x as u64).sum::<u64>());
}
"#;
    let bin = build(user, src, dir.path());
    let input = vec![1u8; 3 << 20];
    let out = run_bin(user, &bin, &input);
    assert!(out.success(), "{out:?}");
    assert_eq!(stdout(&out), format!("{} {}\n", 3 << 20, 3 << 20));
}

#[test]
fn huge_statics_are_contained_at_compile_time() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    // 512 MiB: LLVM runs out of address space; 128 MiB: the object file
    // passes RLIMIT_FSIZE. Either way: no binary, no disk filled.
    for (bits, expect) in [(29, LimitHit::Memory), (27, LimitHit::FileSize)] {
        let src = format!(
            "static BIG: [u8; 1 << {bits}] = [1; 1 << {bits}];\nfn main() {{ println!(\"{{}}\", BIG[12345]); }}\n"
        );
        let out = compile_src(user, &src, dir.path());
        assert!(!out.success(), "{bits}: compiled");
        assert!(
            out.sandbox.limit == Some(expect) || out.sandbox.limit == Some(LimitHit::Memory),
            "{bits}: {:?}\n{}",
            out.sandbox,
            out.diagnostics
        );
        assert!(!dir.path().join("main").exists());
    }
    assert_still_grades(user);
}

// ---- Hostile clients of the HTTP server (real `serve`, real TCP, loopback) ----

#[derive(Debug, Clone, Copy, PartialEq)]
enum Slow {
    /// Headers trickled a byte at a time, never finished.
    Headers,
    /// A body trickled a byte at a time (under the pause limit, never done).
    Body,
    /// A body that stops after its first byte.
    Stalled,
    /// One request served, then nothing on a keep-alive connection.
    Idle,
}

#[test]
fn slow_and_idle_clients_are_dropped_while_others_are_served() {
    use std::io::{ErrorKind, Read, Write};
    use std::time::Instant;
    let dir = tempdir();
    let token = roster(dir.path(), 1)[0].1.clone();
    let limits = ["--header-timeout", "2", "--body-timeout", "2", "--request-timeout", "4", "--max-connections", "400"];
    let srv = Server::start(dir.path(), 0, &limits);
    let addr = srv.url.trim_start_matches("http://").to_owned();

    // 300 slow connections, 75 of each kind.
    let mut conns = Vec::new();
    for i in 0..300 {
        let kind = [Slow::Headers, Slow::Body, Slow::Stalled, Slow::Idle][i % 4];
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        match kind {
            Slow::Headers => s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap(),
            Slow::Body | Slow::Stalled => {
                let head = format!(
                    "POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                     Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{"
                );
                s.write_all(head.as_bytes()).unwrap();
            }
            Slow::Idle => {
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 1024];
                while !String::from_utf8_lossy(&got).contains("true}") {
                    let n = s.read(&mut buf).unwrap();
                    assert!(n > 0, "closed before the answer");
                    got.extend_from_slice(&buf[..n]);
                }
            }
        }
        s.set_nonblocking(true).unwrap();
        conns.push((kind, s, Instant::now(), None::<f64>, Vec::new()));
    }

    // Honest requests while all 300 are open.
    let start = Instant::now();
    let mut honest = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        let (s, _, _) = request("GET", &format!("{}/healthz", srv.url), None, &[], None);
        assert_eq!(s, 200);
        let (s, j) = submit(&srv.url, &token, "warmup", &format!("// honest {i}"), None);
        assert_eq!(s, 202, "{j}");
        honest.push(t.elapsed().as_secs_f64());
    }
    let open_during = conns.len();
    let slowest = honest.iter().cloned().fold(0.0, f64::max);
    eprintln!("honest GET+POST with {open_during} slow connections open: slowest {:.0} ms", slowest * 1e3);
    assert!(slowest < 1.5, "honest requests waited {slowest:.2} s behind slow clients");
    assert!(start.elapsed().as_secs_f64() < 2.0, "the slow ones were still open while honest ones were served");

    // Keep trickling (a byte every 0.5 s) until the server drops them all.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 4096];
    while conns.iter().any(|c| c.3.is_none()) && Instant::now() < deadline {
        for (kind, s, opened, closed, answer) in conns.iter_mut().filter(|c| c.3.is_none()) {
            let wrote = match kind {
                Slow::Headers => s.write(b"X"),
                Slow::Body => s.write(b" "),
                Slow::Stalled | Slow::Idle => Ok(1),
            };
            let gone = match (wrote, s.read(&mut buf)) {
                (Err(e), _) if e.kind() != ErrorKind::WouldBlock => true,
                (_, Ok(0)) => true,
                (_, Err(e)) => e.kind() != ErrorKind::WouldBlock,
                (_, Ok(n)) => {
                    // An answer (408): the close follows.
                    answer.extend_from_slice(&buf[..n]);
                    false
                }
            };
            if gone {
                *closed = Some(opened.elapsed().as_secs_f64());
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    for kind in [Slow::Headers, Slow::Body, Slow::Stalled, Slow::Idle] {
        let times: Vec<f64> = conns.iter().filter(|c| c.0 == kind).filter_map(|c| c.3).collect();
        let left = conns.iter().filter(|c| c.0 == kind && c.3.is_none()).count();
        let max = times.iter().cloned().fold(0.0, f64::max);
        eprintln!("{kind:?}: {} dropped, the last after {max:.1} s; {left} still open", times.len());
        assert_eq!(left, 0, "{left} {kind:?} connections still open after 15 s");
        // The limit (2 s head/idle, 4 s whole request) plus polling slack.
        let bound = if kind == Slow::Body { 6.5 } else { 4.5 };
        assert!(max < bound, "{kind:?} connections held for {max:.1} s");
    }
    for (kind, _, _, _, answer) in &conns {
        let answer = String::from_utf8_lossy(answer);
        match kind {
            Slow::Body => assert!(answer.starts_with("HTTP/1.1 408"), "{answer}"),
            Slow::Stalled => assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("stalled"), "{answer}"),
            _ => {}
        }
    }
}

/// Sockets the server process holds (the listener included).
fn sockets_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|l| l.to_string_lossy().starts_with("socket:"))
        .count()
}

#[test]
fn connections_are_capped_and_the_next_one_waits_its_turn() {
    let dir = tempdir();
    let srv = Server::start(dir.path(), 0, &["--header-timeout", "2", "--max-connections", "20"]);
    let addr = srv.url.trim_start_matches("http://").to_owned();
    let idle = sockets_of(srv.child.id()); // the listener, the runtime's signal pipe
                                           // 40 silent connections: the kernel completes them, the server takes 20.
    let silent: Vec<_> = (0..40).map(|_| std::net::TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(500));
    let held = sockets_of(srv.child.id()) - idle;
    eprintln!("client sockets the server holds with 40 silent clients and a cap of 20: {held}");
    assert_eq!(held, 20, "the server holds {held} client sockets");
    // An honest client behind them is served once the silent ones time out
    // (two rounds of 2 s), not never.
    let t = std::time::Instant::now();
    let (s, _, _) = request("GET", &format!("{}/healthz", srv.url), None, &[], None);
    assert_eq!(s, 200);
    let waited = t.elapsed().as_secs_f64();
    eprintln!("honest request behind 40 silent connections served after {waited:.1} s");
    assert!(waited < 8.0, "{waited:.1} s");
    drop(silent);
}

#[test]
fn serve_and_prepare_refuse_a_prepared_dir_the_slot_users_cannot_reach() {
    use std::os::unix::fs::PermissionsExt;
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: sandboxes run as this user, nothing to check");
        return;
    }
    let dir = tempdir();
    // A state dir as `mktemp -d` makes it.
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for args in [&["serve", "--addr", "127.0.0.1:0", "--workers", "1"][..], &["prepare"][..]] {
        let out = std::process::Command::new(binary())
            .arg("--db")
            .arg(state.join("db.sqlite"))
            .arg("--prepared")
            .arg(state.join("prepared"))
            .arg("--workspace")
            .arg(workspace())
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started under a 0700 state dir");
        assert!(
            err.contains("sandbox users cannot reach") && err.contains(&format!("chmod o+x {}", state.display())),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn the_compile_cache_keeps_no_sandbox_failure_and_nobody_elses_binary() {
    use distlab_grader::cache::{CompileCache, Compiled};
    let dir = tempdir();
    let cache = CompileCache::new(&dir.path().join("cache"), prepared()).unwrap();
    let program = "fn main() {}";
    let key = cache.key(1u64, program);
    let bwrap = "bwrap: Can't find source path /tmp/tmp.x/prepared/toolchain: Permission denied\n";
    let err = cache.put(&key, Compiled::Failed { diagnostics: bwrap.into(), truncated: false }).unwrap_err();
    assert!(err.to_string().contains("sandbox itself failed"), "{err}");
    assert!(cache.get(&key).is_none(), "a sandbox failure was cached");
    // One an older grader stored is not served either.
    let old = serde_json::to_vec(&Compiled::Failed { diagnostics: bwrap.into(), truncated: false }).unwrap();
    std::fs::write(dir.path().join("cache").join(format!("{key}.err")), old).unwrap();
    assert!(cache.get(&key).is_none(), "a stored sandbox failure was served");
    // A real compile error is kept.
    let e0425 = "error[E0425]: cannot find value `x` in this scope\n --> main.rs:1:13\n";
    cache.put(&key, Compiled::Failed { diagnostics: e0425.into(), truncated: false }).unwrap();
    assert!(matches!(cache.get(&key), Some(Compiled::Failed { .. })));
    // Keyed per student: another student's identical program is not a hit.
    assert_ne!(cache.key(2u64, program), key);
    assert!(cache.get(&cache.key(2u64, program)).is_none());
    // Two compiles of the same program never stage at the same path.
    assert_ne!(cache.staging(&key), cache.staging(&key));
}

#[test]
fn the_graders_environment_and_paths_do_not_reach_the_compile_sandbox() {
    // Something secret in the grader's environment, as a database URL or a
    // course secret would be.
    std::env::set_var("DISTLAB_TEST_CANARY", "canary-9f2c");
    let (_slot, user) = slot_user();
    let dir = tempdir();
    // The compile sandbox has a /proc (the linker needs it); its pid 1 is
    // bubblewrap's init, which shows its environment and command line.
    let src = r#"
static ENVIRON: &[u8] = include_bytes!("/proc/1/environ");
static CMDLINE: &[u8] = include_bytes!("/proc/1/cmdline");
fn main() {
    println!("environ: {}", String::from_utf8_lossy(ENVIRON));
    println!("cmdline: {}", String::from_utf8_lossy(CMDLINE));
}
"#;
    let bin = build(user, src, dir.path());
    let out = run_bin(user, &bin, b"");
    let text = stdout(&out);
    assert!(text.contains("cmdline: "), "{text}");
    assert!(!text.contains("canary-9f2c"), "{text}");
    assert!(!text.contains("PATH="), "no environment at all: {text}");
    let prepared = prepared().root.to_string_lossy().into_owned();
    assert!(!text.contains(&prepared), "no grader paths: {text}");
}

#[test]
fn node_host_processes_find_no_place_to_meet() {
    // What a node could use to reach another node of the same host: a
    // writable file, a System V segment, a pty, a signal to a sibling.
    let (_slot, user) = slot_user();
    let dir = tempdir();
    let src = r#"
use distlab::catalogue::warmup::WarmupMsg;
use distlab::{Ctx, NodeId, Process};

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
        let mut found = Vec::new();
        for p in ["/work/x", "/tmp/x", "/dev/shm/x", "/x"] {
            if std::fs::write(p, b"hi").is_ok() {
                found.push(p.to_string());
            }
        }
        for p in ["/dev/ptmx", "/dev/pts/ptmx", "/proc/self/mem"] {
            if std::fs::OpenOptions::new().read(true).write(true).open(p).is_ok() {
                found.push(p.to_string());
            }
        }
        if std::process::Command::new("/bin/true").status().is_ok() {
            found.push("spawn".into());
        }
        let _ = std::marker::PhantomData::<(Ctx<WarmupMsg>, Box<dyn Process<WarmupMsg>>)>;
        panic!("found {found:?}");
}

fn main() {
    distlab::catalogue::warmup::host(Box::new(warmup_node));
}
"#;
    let out = compile(prepared(), user, src.as_bytes(), &dir.path().join("main"), &CompileOptions::default())
        .expect("compile launches");
    assert!(out.success(), "{}", out.diagnostics);
    let opts = RunOptions { node_host: true, ..RunOptions::default() };
    let input = "{\"op\":\"spawn\",\"node\":0,\"slot\":1}\n";
    let run = run(prepared(), user, &dir.path().join("main"), input.as_bytes(), &opts).expect("run launches");
    let text = stdout(&run);
    assert!(text.contains("found []"), "{text}");
}

#[test]
fn unsafe_code_is_refused_in_submissions() {
    let (_slot, user) = slot_user();
    let dir = tempdir();
    let src = "#![allow(unsafe_code)]\n#[link_section = \".init_array\"]\nstatic EARLY: extern \"C\" fn() = early;\nextern \"C\" fn early() {}\nfn main() { let x = 1; let _ = unsafe { std::ptr::read(&x) }; }\n";
    let out = compile(prepared(), user, src.as_bytes(), &dir.path().join("main"), &CompileOptions::default())
        .expect("compile launches");
    assert!(!out.success());
    assert!(out.diagnostics.contains("unsafe_code") || out.diagnostics.contains("forbid"), "{}", out.diagnostics);
}
