//! What one submission can make the grader itself keep or spend: bounded
//! whatever its node host answers (the sandbox bounds only the host).

mod common;

use std::time::{Duration, Instant};

use common::*;

const GRADE_TIMEOUT: Duration = Duration::from_secs(180);

/// The grader's resident and peak memory (KiB), from /proc.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Observations as large as a reply may be, as fast as a timer can fire.
const FLOOD: &str = r#"
use distlab::catalogue::warmup::WarmupMsg;
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

#[derive(Clone, Debug, Hash, Default)]
struct Flood(i64);

impl Process<WarmupMsg> for Flood {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        ctx.set_timer(1, 0);
    }
    fn on_message(&mut self, _ctx: &mut Ctx<WarmupMsg>, _from: NodeId, _msg: WarmupMsg) {}
    fn on_timer(&mut self, ctx: &mut Ctx<WarmupMsg>, _timer: TimerTag) {
        self.0 += 1;
        ctx.observe(Observation::Note { name: "x".repeat(120_000), value: self.0 });
        ctx.set_timer(1, 0);
    }
}

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
    Box::new(Flood::default())
}
"#;

/// One observation far larger than a reply may be.
const HUGE: &str = r#"
use distlab::catalogue::warmup::WarmupMsg;
use distlab::{Ctx, NodeId, Observation, Process};

#[derive(Clone, Debug, Hash, Default)]
struct Huge;

impl Process<WarmupMsg> for Huge {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        ctx.observe(Observation::Vector(vec![u64::MAX; 4_000_000]));
    }
    fn on_message(&mut self, _ctx: &mut Ctx<WarmupMsg>, _from: NodeId, _msg: WarmupMsg) {}
}

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
    Box::new(Huge)
}
"#;

/// A panic message of 8 MB.
const PANIC: &str = r#"
use distlab::catalogue::warmup::WarmupMsg;
use distlab::{NodeId, Process};

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
    panic!("{}", "p".repeat(8_000_000));
}
"#;

#[test]
fn floods_from_a_node_host_are_bounded_in_the_grader() {
    let dir = tempdir();
    let students = roster(dir.path(), 1);
    let srv = Server::start(dir.path(), 1, &[]);
    let t = &students[0].1;
    // Warm up the server (first compile, first host) before measuring.
    let (_, j) = submit(&srv.url, t, "warmup", &data("warmup_good.rs"), None);
    wait_graded(&srv.url, t, j["id"].as_i64().unwrap(), GRADE_TIMEOUT);
    let pid = srv.child.id();
    let (before, _) = memory_kib(pid);

    for (name, source) in [("flood", FLOOD), ("huge", HUGE), ("panic", PANIC)] {
        let started = Instant::now();
        let (s, j) = submit(&srv.url, t, "warmup", source, None);
        assert_eq!(s, 202, "{j}");
        let r = wait_graded(&srv.url, t, j["id"].as_i64().unwrap(), GRADE_TIMEOUT);
        let took = started.elapsed();
        let (_, peak) = memory_kib(pid);
        let stored = r.to_string().len();
        println!(
            "{name}: graded in {took:?}; grader RSS {} MiB before, peak {} MiB (+{} MiB); result {} KiB",
            before >> 10,
            peak >> 10,
            peak.saturating_sub(before) >> 10,
            stored >> 10
        );
        assert_eq!(r["status"], "graded", "{name}: {r}");
        assert_eq!(r["score"], 0.0, "{name}");
        assert!(peak.saturating_sub(before) <= 256 * 1024, "{name}: grader grew by {} MiB", (peak - before) >> 10);
        assert!(stored <= 1024 * 1024, "{name}: a {stored}-byte result");
    }
}
