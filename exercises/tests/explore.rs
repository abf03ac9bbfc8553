//! The explorer and the minimizer on toy protocols with planted bugs.

use std::collections::BTreeSet;

use distlab::check::NODES_RUN_CLEANLY;
use distlab::{
    check_trace, minimize, simulate, Ctx, EventKind, Explorer, Monitor, Move, NodeId, Observation, Process, Provenance,
    Scenario, Status, Step, TimerPolicy,
};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------
// A two-node lock. Node 0 asks at start; node 1 asks when its WANT timer
// fires, unless node 0's request already reached it. A node grants (Ack)
// any request unless it is in the critical section, or (fixed variant
// only) it is asking too and has priority (the lower id). The buggy
// variant grants even while asking, so both enter when both requests are
// in flight at once.

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum LockMsg {
    Req,
    Ack,
    Noise(u32),
}

const WANT: u64 = 1;
const EXIT: u64 = 2;
const CHAT: u64 = 3;

#[derive(Clone, Debug, Hash)]
struct LockNode {
    fixed: bool,
    /// Irrelevant messages to send (for the minimizer test).
    chatter: u32,
    requesting: bool,
    in_cs: bool,
    heard_request: bool,
    deferred: bool,
}

impl LockNode {
    fn new(fixed: bool, chatter: u32) -> Self {
        LockNode { fixed, chatter, requesting: false, in_cs: false, heard_request: false, deferred: false }
    }

    fn request(&mut self, ctx: &mut Ctx<LockMsg>) {
        self.requesting = true;
        ctx.observe(Observation::RequestCritical);
        ctx.send(1 - ctx.me(), LockMsg::Req);
    }
}

impl Process<LockMsg> for LockNode {
    fn on_start(&mut self, ctx: &mut Ctx<LockMsg>) {
        if ctx.me() == 0 {
            self.request(ctx);
        } else {
            ctx.set_timer(WANT, 2_000);
        }
        if self.chatter > 0 {
            ctx.set_timer(CHAT, 500);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<LockMsg>, from: NodeId, msg: LockMsg) {
        match msg {
            LockMsg::Req => {
                self.heard_request = true;
                let priority = self.fixed && self.requesting && ctx.me() < from;
                if self.in_cs || priority {
                    self.deferred = true;
                } else {
                    ctx.send(from, LockMsg::Ack);
                }
            }
            LockMsg::Ack => {
                self.in_cs = true;
                ctx.observe(Observation::EnterCritical);
                ctx.set_timer(EXIT, 1_000);
            }
            LockMsg::Noise(_) => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<LockMsg>, tag: u64) {
        match tag {
            WANT if !self.heard_request => self.request(ctx),
            EXIT => {
                self.in_cs = false;
                self.requesting = false;
                ctx.observe(Observation::ExitCritical);
                if std::mem::take(&mut self.deferred) {
                    ctx.send(1 - ctx.me(), LockMsg::Ack);
                }
            }
            CHAT if self.chatter > 0 => {
                self.chatter -= 1;
                ctx.send(1 - ctx.me(), LockMsg::Noise(self.chatter));
                ctx.set_timer(CHAT, 300);
            }
            _ => {}
        }
    }
}

fn lock(fixed: bool) -> Explorer<LockMsg> {
    Explorer::new(2, move |_| Box::new(LockNode::new(fixed, 0)) as Box<dyn Process<LockMsg>>)
}

/// Safety: never two nodes in the critical section.
#[derive(Clone, Debug, Default, Hash)]
struct MutualExclusion {
    inside: BTreeSet<NodeId>,
}

impl<M: distlab::Message> Monitor<M> for MutualExclusion {
    fn name(&self) -> String {
        "mutual exclusion".into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        match step.kind {
            EventKind::Observe { node, what: Observation::EnterCritical } => {
                if let Some(other) = self.inside.iter().find(|&&n| n != *node) {
                    return Err(format!("node {node} entered while node {other} was inside"));
                }
                self.inside.insert(*node);
            }
            EventKind::Observe { node, what: Observation::ExitCritical } | EventKind::Crash { node } => {
                self.inside.remove(node);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Liveness: every node that asked gets in.
#[derive(Clone, Debug, Default, Hash)]
struct EveryRequestServed {
    waiting: BTreeSet<NodeId>,
}

impl<M: distlab::Message> Monitor<M> for EveryRequestServed {
    fn name(&self) -> String {
        "every request is served".into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        match step.kind {
            EventKind::Observe { node, what: Observation::RequestCritical } => {
                self.waiting.insert(*node);
            }
            EventKind::Observe { node, what: Observation::EnterCritical } => {
                self.waiting.remove(node);
            }
            _ => {}
        }
        Ok(())
    }
    fn deadline(&self) -> Option<distlab::Time> {
        Some(100_000)
    }
    fn settled(&self) -> Result<(), String> {
        match self.waiting.first() {
            Some(node) => Err(format!("node {node} asked for the lock and never got it")),
            None => Ok(()),
        }
    }
}

#[test]
fn finds_the_planted_interleaving_with_a_shortest_path() {
    let result = lock(false).monitor(MutualExclusion::default()).run();
    assert_eq!(result.status(), Status::Fail);
    let cx = result.violation.expect("a violation");
    // Node 1's timer fires before node 0's request arrives; both requests
    // are granted; both grants arrive: five moves, no fewer possible.
    assert_eq!(cx.moves.len(), 5, "{:?}", cx.moves);
    assert_eq!(cx.moves[0], Move::Fire { node: 1, tag: WANT });
    assert_eq!(cx.verdict.check, "mutual exclusion");
    assert_eq!(cx.verdict.status, Status::Fail);
    // The trace replays to the same failure through the ordinary checks.
    let verdicts = check_trace(&cx.trace, &[Box::new(MutualExclusion::default())], &Provenance::of(&cx.trace, "x"));
    assert_eq!(verdicts[0].status, Status::Fail);
    assert_eq!(verdicts[0].event, cx.verdict.event);
    assert_eq!(cx.trace.events.last().map(|e| e.at), Some(5 * distlab::explore::STEP_TIME));
}

#[test]
fn the_fixed_lock_explores_completely_without_violation() {
    let result = lock(true).monitor(MutualExclusion::default()).monitor(EveryRequestServed::default()).run();
    assert!(result.violation.is_none(), "{:?}", result.violation.map(|v| v.verdict));
    assert!(result.complete);
    assert_eq!(result.status(), Status::Pass);
    assert!(result.states > 10, "{} states", result.states);
}

#[test]
fn a_lost_grant_is_a_liveness_violation_at_quiescence() {
    let result = lock(true).monitor(EveryRequestServed::default()).loss_budget(1).run();
    let cx = result.violation.expect("a lost Ack leaves a node waiting");
    assert_eq!(cx.verdict.check, "every request is served");
    assert!(cx.moves.iter().any(|m| matches!(m, Move::Lose(_))));
    assert_eq!(cx.trace.stop, distlab::Stop::Quiet);
}

#[test]
fn limits_give_unknown_never_pass() {
    let by_states = lock(true).monitor(MutualExclusion::default()).max_states(3).run();
    assert!(!by_states.complete);
    assert_eq!(by_states.status(), Status::Unknown);
    assert!(by_states.states <= 3);
    let by_depth = lock(true).monitor(MutualExclusion::default()).max_depth(2).run();
    assert!(!by_depth.complete);
    assert_eq!(by_depth.status(), Status::Unknown);
    assert_eq!(by_depth.max_depth_reached, 2);
}

#[test]
fn exploration_is_deterministic() {
    let run = || {
        let r = lock(true).monitor(MutualExclusion::default()).crash_budget(1).duplicate_budget(1).run();
        (r.states, r.transitions, r.max_depth_reached, r.complete)
    };
    assert_eq!(run(), run());
    let fail = || lock(false).monitor(MutualExclusion::default()).run().violation.unwrap().trace.hash();
    assert_eq!(fail(), fail());
}

#[test]
fn timers_when_idle_prune_the_race() {
    // With timeouts longer than any message, node 0's request always
    // arrives before node 1's timer: the planted bug can't show.
    let result = lock(false).monitor(MutualExclusion::default()).timers(TimerPolicy::WhenIdle).run();
    assert_eq!(result.status(), Status::Pass);
}

#[test]
fn goals_report_a_shortest_witness() {
    let result = lock(true)
        .goal("node 1 enters", |s| s.observed().iter().any(|(n, o)| *n == 1 && *o == Observation::EnterCritical))
        .goal("three nodes", |s| s.world().len() == 3)
        .run();
    let witness = result.goals[0].witness.as_ref().expect("node 1 can enter");
    assert!(witness.events.iter().any(|e| matches!(e.kind, EventKind::Observe { node: 1, .. })));
    assert!(result.goals[1].witness.is_none());
}

#[test]
fn a_panicking_node_is_a_violation() {
    #[derive(Clone, Debug, Hash)]
    struct Fragile;
    impl Process<LockMsg> for Fragile {
        fn on_start(&mut self, ctx: &mut Ctx<LockMsg>) {
            ctx.send(1 - ctx.me(), LockMsg::Req);
        }
        fn on_message(&mut self, _: &mut Ctx<LockMsg>, _: NodeId, _: LockMsg) {
            panic!("boom");
        }
    }
    let result = Explorer::new(2, |_| Box::new(Fragile) as Box<dyn Process<LockMsg>>).run();
    let cx = result.violation.expect("the panic is found");
    assert_eq!(cx.verdict.check, NODES_RUN_CLEANLY);
    assert_eq!(cx.moves.len(), 1);
    assert!(cx.verdict.message.contains("boom"));
}

// ---------------------------------------------------------------------------
// Symmetry: a coordinator (node 0) and three interchangeable clients that
// each say hello and wait for a welcome. The coordinator decides once all
// three said hello; the buggy one also "decides" at two.

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum Hello {
    Hello,
    Welcome,
}

#[derive(Clone, Debug, Hash)]
enum Member {
    Coordinator { heard: u32, buggy: bool },
    Client { welcomed: bool },
}

impl Process<Hello> for Member {
    fn on_start(&mut self, ctx: &mut Ctx<Hello>) {
        if let Member::Client { .. } = self {
            ctx.send(0, Hello::Hello);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<Hello>, from: NodeId, msg: Hello) {
        match (self, msg) {
            (Member::Coordinator { heard, buggy }, Hello::Hello) => {
                *heard += 1;
                ctx.send(from, Hello::Welcome);
                if *heard == 3 || (*buggy && *heard == 2) {
                    ctx.observe(Observation::Decide(distlab::Decision::Commit));
                }
            }
            (Member::Client { welcomed }, Hello::Welcome) => *welcomed = true,
            _ => {}
        }
    }
}

#[derive(Clone, Debug, Default, Hash)]
struct DecideOnce {
    decided: bool,
}

impl Monitor<Hello> for DecideOnce {
    fn name(&self) -> String {
        "decide once".into()
    }
    fn on_event(&mut self, step: &Step<'_, Hello>) -> Result<(), String> {
        if let EventKind::Observe { what: Observation::Decide(_), .. } = step.kind {
            if std::mem::replace(&mut self.decided, true) {
                return Err("decided twice".into());
            }
        }
        Ok(())
    }
}

fn hello(buggy: bool) -> Explorer<Hello> {
    Explorer::new(4, move |id| {
        Box::new(if id == 0 { Member::Coordinator { heard: 0, buggy } } else { Member::Client { welcomed: false } })
            as Box<dyn Process<Hello>>
    })
    .monitor(DecideOnce::default())
}

#[test]
fn symmetry_reduction_explores_fewer_states_with_the_same_verdict() {
    let full = hello(false).run();
    let reduced = hello(false).symmetric(vec![1, 2, 3]).run();
    assert_eq!(full.status(), Status::Pass);
    assert_eq!(reduced.status(), Status::Pass);
    assert!(reduced.states < full.states, "{} vs {}", reduced.states, full.states);
    eprintln!("hello, 3 clients: {} states, {} with symmetry", full.states, reduced.states);

    let full = hello(true).run();
    let reduced = hello(true).symmetric(vec![1, 2, 3]).run();
    assert_eq!(full.status(), Status::Fail);
    assert_eq!(reduced.status(), Status::Fail);
    let (a, b) = (full.violation.unwrap(), reduced.violation.unwrap());
    assert_eq!(a.moves.len(), b.moves.len(), "both shortest");
    assert_eq!(a.verdict.check, b.verdict.check);
}

// ---------------------------------------------------------------------------
// The minimizer on a random-simulation failure drowned in chatter.

#[test]
fn minimized_trace_is_shorter_and_fails_the_same_check() {
    let mut scenario = Scenario::new("lock with chatter", 2);
    scenario.until = 200_000;
    let factory = |_| Box::new(LockNode::new(false, 40)) as Box<dyn Process<LockMsg>>;
    let monitors: Vec<Box<dyn Monitor<LockMsg>>> = vec![Box::new(MutualExclusion::default())];
    let (trace, original) = (0..500)
        .find_map(|seed| {
            let trace = simulate(&scenario, seed, factory).unwrap();
            let verdicts = check_trace(&trace, &monitors, &Provenance::of(&trace, "test"));
            (verdicts[0].status == Status::Fail).then(|| (trace, verdicts[0].clone()))
        })
        .expect("some seed shows the bug");
    assert!(trace.events.len() > 60, "chatter makes the trace long: {}", trace.events.len());

    let small = minimize(&trace, factory, &monitors).expect("the failure reproduces");
    eprintln!(
        "minimized seed {}: {} events -> {} ({} moves, {} replays)",
        trace.seed,
        trace.events.len(),
        small.trace.events.len(),
        small.moves.len(),
        small.attempts
    );
    assert!(small.trace.events.len() <= trace.events.len());
    assert!(
        small.trace.events.len() * 2 < trace.events.len(),
        "{} events left of {}",
        small.trace.events.len(),
        trace.events.len()
    );
    assert_eq!(small.verdict.check, original.check);
    let again = check_trace(&small.trace, &monitors, &Provenance::of(&small.trace, "min"));
    assert_eq!(again[0].status, Status::Fail);
    // The essential moves: node 1 asks, both requests and both grants land.
    assert!(small.moves.len() <= 7, "{:?}", small.moves);
}

// ---------------------------------------------------------------------------
// FIFO channels: only the oldest message of a channel may be delivered.

#[derive(Clone, Debug, Hash)]
struct Sender;

impl Process<LockMsg> for Sender {
    fn on_start(&mut self, ctx: &mut Ctx<LockMsg>) {
        if ctx.me() == 0 {
            ctx.send(1, LockMsg::Noise(1));
            ctx.send(1, LockMsg::Noise(2));
        }
    }
    fn on_message(&mut self, _: &mut Ctx<LockMsg>, _: NodeId, _: LockMsg) {}
}

/// Fails if Noise(2) arrives before Noise(1).
#[derive(Clone, Debug, Default, Hash)]
struct InOrder {
    seen_first: bool,
}

impl Monitor<LockMsg> for InOrder {
    fn name(&self) -> String {
        "in order".into()
    }
    fn on_event(&mut self, step: &Step<'_, LockMsg>) -> Result<(), String> {
        if let (EventKind::Deliver { .. }, Some(LockMsg::Noise(k))) = (step.kind, step.msg) {
            if *k == 1 {
                self.seen_first = true;
            } else if !self.seen_first {
                return Err("message 2 overtook message 1".into());
            }
        }
        Ok(())
    }
}

#[test]
fn fifo_channels_keep_send_order() {
    let explorer = |fifo: bool| {
        Explorer::new(2, |_| Box::new(Sender) as Box<dyn Process<LockMsg>>).fifo(fifo).monitor(InOrder::default()).run()
    };
    assert_eq!(explorer(true).status(), Status::Pass);
    let unordered = explorer(false);
    assert_eq!(unordered.status(), Status::Fail);
    assert_eq!(unordered.violation.unwrap().moves, vec![Move::Deliver(1)]);
}
