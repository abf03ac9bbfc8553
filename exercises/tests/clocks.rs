//! Notebook 5, logical clocks: the references and other correct solutions
//! pass over hundreds of runs; typical mistakes fail with a counterexample,
//! a plain-words message and a diagram; the scaffolds fail.
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use distlab::catalogue::clocks::{period, tick_target, TICKS};
use distlab::catalogue::lamport::{self, LamportMsg};
use distlab::catalogue::runs::HIDDEN_CHECK;
use distlab::catalogue::tomulticast::{self, ToMsg, MULTICASTS, PERIOD};
use distlab::catalogue::vector::{self, VectorMsg};
use distlab::catalogue::{ExerciseSpec, Report, Run, Scope};
use distlab::process::NodeFactory;
use distlab::*;

fn factory<M: Message, P: Process<M> + Default>() -> Box<NodeFactory<M>> {
    Box::new(|_| Box::new(P::default()))
}

/// Student seeds: each gives 14 or 15 runs (public and hidden), so 20 of
/// them cover about 300 distinct simulation seeds.
const SEEDS: u64 = 20;

fn assert_passes_everything(spec: &ExerciseSpec, check: impl Fn(u64) -> Report) {
    let mut runs = BTreeSet::new();
    for seed in 0..SEEDS {
        let report = check(seed);
        let bad: Vec<_> = report.verdicts.iter().filter(|v| !v.passed()).collect();
        assert!(bad.is_empty(), "{}: {}", spec.id, bad[0]);
        assert!(report.diagram.is_none());
        assert_eq!(report.score(spec, Scope::All), spec.points as f64);
        runs.extend(report.verdicts.iter().map(|v| (v.scenario.clone(), v.seed)));
    }
    assert!(runs.len() >= 200, "{}: only {} distinct runs", spec.id, runs.len());
}

/// The first failure of `check` over a few student seeds: it must name an
/// event, say `words`, and come with a diagram.
fn assert_fails(report: Report, check: &str, words: &[&str]) {
    let v = report.verdicts.iter().find(|v| v.check == check && !v.passed()).unwrap_or_else(|| {
        panic!("'{check}' passed; verdicts: {:?}", report.verdicts.iter().map(|v| v.to_string()).collect::<Vec<_>>())
    });
    assert_eq!(v.status, Status::Fail, "{v}");
    assert!(v.event.is_some(), "a counterexample names its event: {v}");
    for w in words {
        assert!(v.message.contains(w), "'{w}' not in: {}", v.message);
    }
    assert!(report.diagram.as_deref().is_some_and(|d| d.starts_with("<svg")), "a failure comes with a diagram");
    println!("{check}: {}", v.message);
}

/// Runs every public scenario for a few student seeds and returns the
/// first report with a failure of `check`.
fn failing<M: Message>(
    check: &str,
    run: impl Fn(Box<NodeFactory<M>>, &Run) -> Report,
    make: fn() -> Box<NodeFactory<M>>,
) -> Report {
    for seed in 0..10 {
        let report = run(make(), &Run::public(seed));
        if report.verdicts.iter().any(|v| v.check == check && !v.passed()) {
            return report;
        }
    }
    run(make(), &Run::public(0))
}

fn time_public<M: Message>(
    id: &str,
    run: impl Fn(Box<NodeFactory<M>>, &Run) -> Report,
    make: fn() -> Box<NodeFactory<M>>,
) {
    let start = Instant::now();
    let report = run(make(), &Run::public(1));
    let took = start.elapsed();
    assert!(report.verdicts.iter().all(|v| v.passed()));
    println!("{id}: public check of the reference took {took:?} ({} verdicts)", report.verdicts.len());
}

// ---------------------------------------------------------------- Lamport

#[test]
fn lamport_reference_passes_every_run() {
    assert_passes_everything(&lamport::SPEC, |s| lamport::check(lamport::reference::solution(), &Run::all(s)));
}

/// Correct, differently built: every tick's timer set at the start, and
/// the receive rule written as max(c + 1, ts + 1).
#[derive(Clone, Debug, Hash, Default)]
struct LamportAllTimers {
    c: u64,
}

impl Process<LamportMsg> for LamportAllTimers {
    fn on_start(&mut self, ctx: &mut Ctx<LamportMsg>) {
        for k in 1..=TICKS {
            ctx.set_timer(k, period(ctx.me()) * k as i64);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<LamportMsg>, _: NodeId, LamportMsg::App { ts }: LamportMsg) {
        self.c = (self.c + 1).max(ts + 1);
        ctx.observe(Observation::Clock(self.c));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<LamportMsg>, k: TimerTag) {
        self.c += 1;
        ctx.observe(Observation::Clock(self.c));
        if let Some(to) = tick_target(ctx.me(), k, ctx.nodes()) {
            ctx.send(to, LamportMsg::App { ts: self.c });
        }
    }
}

/// Correct: one helper for every event ("one past the clock and past
/// this"), and the values kept in a log.
#[derive(Clone, Debug, Hash, Default)]
struct LamportLog {
    log: Vec<u64>,
    ticks: u64,
}

impl LamportLog {
    fn event(&mut self, ctx: &mut Ctx<LamportMsg>, past: u64) -> u64 {
        let c = self.log.last().copied().unwrap_or(0).max(past) + 1;
        self.log.push(c);
        ctx.observe(Observation::Clock(c));
        c
    }
}

impl Process<LamportMsg> for LamportLog {
    fn on_start(&mut self, ctx: &mut Ctx<LamportMsg>) {
        ctx.set_timer(7, period(ctx.me()));
    }
    fn on_message(&mut self, ctx: &mut Ctx<LamportMsg>, _: NodeId, LamportMsg::App { ts }: LamportMsg) {
        self.event(ctx, ts);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<LamportMsg>, _: TimerTag) {
        self.ticks += 1;
        let c = self.event(ctx, 0);
        if let Some(to) = tick_target(ctx.me(), self.ticks, ctx.nodes()) {
            ctx.send(to, LamportMsg::App { ts: c });
        }
        if self.ticks < TICKS {
            ctx.set_timer(7, period(ctx.me()));
        }
    }
}

#[test]
fn other_correct_lamport_clocks_pass_every_run() {
    assert_passes_everything(&lamport::SPEC, |s| lamport::check(factory::<_, LamportAllTimers>(), &Run::all(s)));
    assert_passes_everything(&lamport::SPEC, |s| lamport::check(factory::<_, LamportLog>(), &Run::all(s)));
}

/// A Lamport node with one mistake, chosen by `BUG`.
#[derive(Clone, Debug, Hash, Default)]
struct LamportBug<const BUG: u8> {
    c: u64,
    ticks: u64,
}

const NO_MAX: u8 = 1;
const NO_TICK_ON_SEND: u8 = 2;
const STALE_STAMP: u8 = 3;
const MAX_WITHOUT_ONE: u8 = 4;

impl<const BUG: u8> Process<LamportMsg> for LamportBug<BUG> {
    fn on_start(&mut self, ctx: &mut Ctx<LamportMsg>) {
        ctx.set_timer(1, period(ctx.me()));
    }
    fn on_message(&mut self, ctx: &mut Ctx<LamportMsg>, _: NodeId, LamportMsg::App { ts }: LamportMsg) {
        self.c = match BUG {
            NO_MAX => self.c + 1,
            MAX_WITHOUT_ONE => self.c.max(ts),
            _ => self.c.max(ts) + 1,
        };
        ctx.observe(Observation::Clock(self.c));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<LamportMsg>, _: TimerTag) {
        self.ticks += 1;
        let to = tick_target(ctx.me(), self.ticks, ctx.nodes());
        if !(BUG == NO_TICK_ON_SEND && to.is_some()) {
            self.c += 1;
        }
        ctx.observe(Observation::Clock(self.c));
        if let Some(to) = to {
            let ts = if BUG == STALE_STAMP { self.c - 1 } else { self.c };
            ctx.send(to, LamportMsg::App { ts });
        }
        if self.ticks < TICKS {
            ctx.set_timer(1, period(ctx.me()));
        }
    }
}

#[test]
fn lamport_mistakes_fail_with_a_counterexample() {
    let r = failing(lamport::CONDITION, lamport::check, factory::<_, LamportBug<NO_MAX>>);
    assert_fails(r, lamport::CONDITION, &["received a message from node", "must jump past the message's timestamp"]);
    let r = failing(lamport::EXACT, lamport::check, factory::<_, LamportBug<NO_MAX>>);
    assert_fails(r, lamport::EXACT, &["the rule gives max("]);
    let r = failing(lamport::CONDITION, lamport::check, factory::<_, LamportBug<NO_TICK_ON_SEND>>);
    assert_fails(r, lamport::CONDITION, &["larger value than the one before it"]);
    let r = failing(lamport::STAMPS, lamport::check, factory::<_, LamportBug<STALE_STAMP>>);
    assert_fails(r, lamport::STAMPS, &["but stamped the message with"]);
    let r = failing(lamport::CONDITION, lamport::check, factory::<_, LamportBug<MAX_WITHOUT_ONE>>);
    assert_fails(r, lamport::CONDITION, &["larger value"]);
}

#[test]
fn the_lamport_scaffold_fails() {
    #[derive(Clone, Debug, Hash, Default)]
    struct Idle;
    impl Process<LamportMsg> for Idle {
        fn on_message(&mut self, _: &mut Ctx<LamportMsg>, _: NodeId, _: LamportMsg) {}
    }
    let report = lamport::check(factory::<_, Idle>(), &Run::public(1));
    let v = report.verdicts.iter().find(|v| v.check == lamport::WORKLOAD && !v.passed()).expect("the scaffold fails");
    assert!(v.message.contains("recorded only 0 of its 8 tick events"), "{}", v.message);
    // The clock properties hold only on recorded events: an empty run earns nothing.
    assert!(report.verdicts.iter().any(|v| v.check == lamport::CONDITION && v.message.contains("nothing to judge")));
    assert_eq!(report.score(&lamport::SPEC, Scope::Public), 0.0);
}

// ---------------------------------------------------------------- vector

#[test]
fn vector_reference_passes_every_run() {
    assert_passes_everything(&vector::SPEC, |s| vector::check(vector::reference::solution(), &Run::all(s)));
}

/// Correct: own entry first, then the merge (the message can't know more
/// of my events than I do), all timers set at the start.
#[derive(Clone, Debug, Hash, Default)]
struct VectorIncrementFirst {
    v: Vec<u64>,
}

impl Process<VectorMsg> for VectorIncrementFirst {
    fn on_start(&mut self, ctx: &mut Ctx<VectorMsg>) {
        self.v = vec![0; ctx.nodes()];
        for k in 1..=TICKS {
            ctx.set_timer(k, period(ctx.me()) * k as i64);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<VectorMsg>, _: NodeId, VectorMsg::App { vt }: VectorMsg) {
        self.v[ctx.me()] += 1;
        for (mine, theirs) in self.v.iter_mut().zip(&vt) {
            *mine = (*mine).max(*theirs);
        }
        ctx.observe(Observation::Vector(self.v.clone()));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<VectorMsg>, k: TimerTag) {
        self.v[ctx.me()] += 1;
        ctx.observe(Observation::Vector(self.v.clone()));
        if let Some(to) = tick_target(ctx.me(), k, ctx.nodes()) {
            ctx.send(to, VectorMsg::App { vt: self.v.clone() });
        }
    }
}

/// Correct: a sparse map of the nonzero entries, turned into a vector
/// only to record and to send.
#[derive(Clone, Debug, Hash, Default)]
struct VectorSparse {
    known: BTreeMap<NodeId, u64>,
    ticks: u64,
}

impl VectorSparse {
    fn dense(&self, n: usize) -> Vec<u64> {
        (0..n).map(|i| self.known.get(&i).copied().unwrap_or(0)).collect()
    }
}

impl Process<VectorMsg> for VectorSparse {
    fn on_start(&mut self, ctx: &mut Ctx<VectorMsg>) {
        ctx.set_timer(3, period(ctx.me()));
    }
    fn on_message(&mut self, ctx: &mut Ctx<VectorMsg>, _: NodeId, VectorMsg::App { vt }: VectorMsg) {
        for (i, x) in vt.into_iter().enumerate().filter(|(_, x)| *x > 0) {
            let e = self.known.entry(i).or_default();
            *e = (*e).max(x);
        }
        *self.known.entry(ctx.me()).or_default() += 1;
        ctx.observe(Observation::Vector(self.dense(ctx.nodes())));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<VectorMsg>, _: TimerTag) {
        self.ticks += 1;
        *self.known.entry(ctx.me()).or_default() += 1;
        let v = self.dense(ctx.nodes());
        ctx.observe(Observation::Vector(v.clone()));
        if let Some(to) = tick_target(ctx.me(), self.ticks, ctx.nodes()) {
            ctx.send(to, VectorMsg::App { vt: v });
        }
        if self.ticks < TICKS {
            ctx.set_timer(3, period(ctx.me()));
        }
    }
}

#[test]
fn other_correct_vector_clocks_pass_every_run() {
    assert_passes_everything(&vector::SPEC, |s| vector::check(factory::<_, VectorIncrementFirst>(), &Run::all(s)));
    assert_passes_everything(&vector::SPEC, |s| vector::check(factory::<_, VectorSparse>(), &Run::all(s)));
}

#[derive(Clone, Debug, Hash, Default)]
struct VectorBug<const BUG: u8> {
    v: Vec<u64>,
    ticks: u64,
}

const NO_OWN_ON_RECEIVE: u8 = 1;
const MIN_MERGE: u8 = 2;
const NO_MERGE: u8 = 3;
const STALE_VECTOR: u8 = 4;

impl<const BUG: u8> Process<VectorMsg> for VectorBug<BUG> {
    fn on_start(&mut self, ctx: &mut Ctx<VectorMsg>) {
        self.v = vec![0; ctx.nodes()];
        ctx.set_timer(1, period(ctx.me()));
    }
    fn on_message(&mut self, ctx: &mut Ctx<VectorMsg>, _: NodeId, VectorMsg::App { vt }: VectorMsg) {
        for (mine, theirs) in self.v.iter_mut().zip(vt) {
            *mine = match BUG {
                MIN_MERGE => (*mine).min(theirs),
                NO_MERGE => *mine,
                _ => (*mine).max(theirs),
            };
        }
        if BUG != NO_OWN_ON_RECEIVE {
            self.v[ctx.me()] += 1;
        }
        ctx.observe(Observation::Vector(self.v.clone()));
    }
    fn on_timer(&mut self, ctx: &mut Ctx<VectorMsg>, _: TimerTag) {
        self.ticks += 1;
        let before = self.v.clone();
        self.v[ctx.me()] += 1;
        ctx.observe(Observation::Vector(self.v.clone()));
        if let Some(to) = tick_target(ctx.me(), self.ticks, ctx.nodes()) {
            let vt = if BUG == STALE_VECTOR { before } else { self.v.clone() };
            ctx.send(to, VectorMsg::App { vt });
        }
        if self.ticks < TICKS {
            ctx.set_timer(1, period(ctx.me()));
        }
    }
}

#[test]
fn vector_mistakes_fail_with_a_counterexample() {
    let r = failing(vector::EXACT, vector::check, factory::<_, VectorBug<NO_OWN_ON_RECEIVE>>);
    assert_fails(r, vector::EXACT, &["receive from node", "then adds 1 to the node's own entry"]);
    let r = failing(vector::CONSISTENT, vector::check, factory::<_, VectorBug<NO_OWN_ON_RECEIVE>>);
    assert_fails(r, vector::CONSISTENT, &["receive from node"]);
    let r = failing(vector::EXACT, vector::check, factory::<_, VectorBug<MIN_MERGE>>);
    assert_fails(r, vector::EXACT, &["entrywise max"]);
    let r = failing(vector::CONSISTENT, vector::check, factory::<_, VectorBug<NO_MERGE>>);
    assert_fails(r, vector::CONSISTENT, &["happens before"]);
    let r = failing(vector::STAMPS, vector::check, factory::<_, VectorBug<STALE_VECTOR>>);
    assert_fails(r, vector::STAMPS, &["but stamped the message with"]);
}

#[test]
fn the_vector_scaffold_fails() {
    #[derive(Clone, Debug, Hash, Default)]
    struct Idle;
    impl Process<VectorMsg> for Idle {
        fn on_message(&mut self, _: &mut Ctx<VectorMsg>, _: NodeId, _: VectorMsg) {}
    }
    let report = vector::check(factory::<_, Idle>(), &Run::public(1));
    assert!(report.verdicts.iter().any(|v| v.check == vector::WORKLOAD && !v.passed()));
    assert_eq!(report.score(&vector::SPEC, Scope::Public), 0.0);
}

// ------------------------------------------------------ ordered multicast

#[test]
fn tomulticast_reference_passes_every_run() {
    assert_passes_everything(&tomulticast::SPEC, |s| {
        tomulticast::check(tomulticast::reference::solution(), &Run::all(s))
    });
}

/// Correct, the other textbook rule: no waiting for acks of a particular
/// message; the head goes once every other node has sent something
/// stamped later. Hardware-style `broadcast` for everything.
#[derive(Clone, Debug, Hash, Default)]
struct LaterStamp {
    clock: u64,
    sent: u64,
    queue: BTreeSet<(u64, NodeId, u64)>,
    latest: BTreeMap<NodeId, u64>,
}

impl LaterStamp {
    fn deliver(&mut self, ctx: &mut Ctx<ToMsg>) {
        while let Some(&(ts, origin, seq)) = self.queue.first() {
            let safe = ctx.peers().all(|q| q == origin || self.latest.get(&q).is_some_and(|&l| l > ts));
            if !safe {
                break;
            }
            self.queue.pop_first();
            ctx.observe(Observation::Deliver { origin, seq });
        }
    }
}

impl Process<ToMsg> for LaterStamp {
    fn on_start(&mut self, ctx: &mut Ctx<ToMsg>) {
        ctx.set_timer(0, PERIOD);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<ToMsg>, _: TimerTag) {
        self.sent += 1;
        self.clock += 1;
        self.queue.insert((self.clock, ctx.me(), self.sent));
        ctx.broadcast(ToMsg::Multicast { ts: self.clock, seq: self.sent });
        if self.sent < MULTICASTS {
            ctx.set_timer(0, PERIOD);
        }
        self.deliver(ctx);
    }
    fn on_message(&mut self, ctx: &mut Ctx<ToMsg>, from: NodeId, msg: ToMsg) {
        let ts = match msg {
            ToMsg::Multicast { ts, seq } => {
                self.queue.insert((ts, from, seq));
                ts
            }
            ToMsg::Ack { ts, .. } => ts,
        };
        self.latest.insert(from, ts);
        self.clock = self.clock.max(ts) + 1;
        if let ToMsg::Multicast { seq, .. } = msg {
            self.clock += 1;
            ctx.broadcast(ToMsg::Ack { ts: self.clock, origin: from, seq });
        }
        self.deliver(ctx);
    }
}

/// Correct: the origin acknowledges its own message too, sends one by one
/// (each send its own clock tick), and counts acks in a bitmap.
#[derive(Clone, Debug, Hash, Default)]
struct SelfAck {
    clock: u64,
    sent: u64,
    queue: BTreeMap<(u64, NodeId), u64>,
    acks: BTreeMap<(NodeId, u64), Vec<bool>>,
}

impl SelfAck {
    fn ack(&mut self, ctx: &mut Ctx<ToMsg>, origin: NodeId, seq: u64, by: NodeId) {
        let n = ctx.nodes();
        self.acks.entry((origin, seq)).or_insert_with(|| vec![false; n])[by] = true;
    }
    fn send_all(&mut self, ctx: &mut Ctx<ToMsg>, make: impl Fn(u64) -> ToMsg) {
        for p in ctx.peers().collect::<Vec<_>>() {
            self.clock += 1;
            ctx.send(p, make(self.clock));
        }
    }
}

impl Process<ToMsg> for SelfAck {
    fn on_start(&mut self, ctx: &mut Ctx<ToMsg>) {
        ctx.set_timer(0, PERIOD);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<ToMsg>, _: TimerTag) {
        self.sent += 1;
        self.clock += 1;
        let (me, seq, ts) = (ctx.me(), self.sent, self.clock);
        self.queue.insert((ts, me), seq);
        // Every copy carries the same timestamp: the message's.
        for p in ctx.peers().collect::<Vec<_>>() {
            ctx.send(p, ToMsg::Multicast { ts, seq });
        }
        self.ack(ctx, me, seq, me);
        self.send_all(ctx, |ts| ToMsg::Ack { ts, origin: me, seq });
        if self.sent < MULTICASTS {
            ctx.set_timer(0, PERIOD);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<ToMsg>, from: NodeId, msg: ToMsg) {
        match msg {
            ToMsg::Multicast { ts, seq } => {
                self.clock = (self.clock + 1).max(ts + 1);
                self.queue.insert((ts, from), seq);
                let me = ctx.me();
                self.ack(ctx, from, seq, me);
                self.send_all(ctx, |ts| ToMsg::Ack { ts, origin: from, seq });
            }
            ToMsg::Ack { ts, origin, seq } => {
                self.clock = (self.clock + 1).max(ts + 1);
                self.ack(ctx, origin, seq, from);
            }
        }
        while let Some((&(_, origin), &seq)) = self.queue.first_key_value() {
            if !self.acks.get(&(origin, seq)).is_some_and(|a| a.iter().all(|&x| x)) {
                break;
            }
            self.queue.pop_first();
            ctx.observe(Observation::Deliver { origin, seq });
        }
    }
}

#[test]
fn other_correct_ordered_multicasts_pass_every_run() {
    assert_passes_everything(&tomulticast::SPEC, |s| tomulticast::check(factory::<_, LaterStamp>(), &Run::all(s)));
    assert_passes_everything(&tomulticast::SPEC, |s| tomulticast::check(factory::<_, SelfAck>(), &Run::all(s)));
}

/// The reference with one mistake, chosen by `BUG`.
#[derive(Clone, Debug, Hash, Default)]
struct ToBug<const BUG: u8> {
    clock: u64,
    sent: u64,
    arrivals: u64,
    queue: BTreeMap<(u64, u64), (NodeId, u64)>,
    acks: BTreeMap<(NodeId, u64), BTreeSet<NodeId>>,
    /// COUNT_ACKS: acknowledgements counted, not who sent them.
    counts: BTreeMap<(NodeId, u64), usize>,
}

/// Delivers on receipt, no hold-back queue.
const EAGER: u8 = 1;
/// Orders by timestamp only; equal stamps go in arrival order.
const NO_TIE_BREAK: u8 = 2;
/// Acknowledges only to the message's sender.
const ACK_TO_SENDER: u8 = 3;
/// Delivers the head once its own clock has passed the head's stamp.
const OWN_CLOCK: u8 = 4;
/// Correct order, but sends every acknowledgement twice.
const ACK_TWICE: u8 = 5;
/// Stamps with a counter of its own multicasts: receives and acks leave
/// the clock alone.
const OWN_COUNTER: u8 = 6;
/// Delivers any message every node has acknowledged, not only the head.
const ANY_ACKED: u8 = 7;
/// Counts every event, receives included, but never takes the max with a
/// received stamp.
const EVENTS_NO_MAX: u8 = 8;
/// Ignores an acknowledgement of a message it has not received yet (one
/// that overtook the message itself, on another link).
const EARLY_ACKS_LOST: u8 = 9;
/// The origin acknowledges its own message to everyone too, and a receiver
/// counts acknowledgements (the origin's multicast and its own receipt
/// counting one each): the origin counts twice, so the head goes one
/// acknowledgement short.
const COUNT_ACKS: u8 = 10;

impl<const BUG: u8> ToBug<BUG> {
    fn enqueue(&mut self, ts: u64, origin: NodeId, seq: u64) {
        self.arrivals += 1;
        let tie = if BUG == NO_TIE_BREAK { self.arrivals } else { origin as u64 };
        self.queue.insert((ts, tie), (origin, seq));
    }
    fn receive(&mut self, ts: u64) {
        if BUG == EVENTS_NO_MAX {
            self.clock += 1;
        } else if BUG != OWN_COUNTER {
            self.clock = self.clock.max(ts) + 1;
        }
    }
    fn deliver(&mut self, ctx: &mut Ctx<ToMsg>) {
        if BUG == ANY_ACKED {
            let n = ctx.nodes();
            let ready: Vec<(u64, u64)> = self
                .queue
                .iter()
                .filter(|(_, m)| self.acks.get(m).map_or(0, |a| a.len()) == n)
                .map(|(k, _)| *k)
                .collect();
            for k in ready {
                let (origin, seq) = self.queue.remove(&k).unwrap();
                ctx.observe(Observation::Deliver { origin, seq });
            }
            return;
        }
        while let Some((&(ts, _), &(origin, seq))) = self.queue.first_key_value() {
            let ready = match BUG {
                EAGER => true,
                COUNT_ACKS => self.counts.get(&(origin, seq)).copied().unwrap_or(0) >= ctx.nodes(),
                OWN_CLOCK => self.clock > ts + 1,
                _ => self.acks.get(&(origin, seq)).map_or(0, |a| a.len()) == ctx.nodes(),
            };
            if !ready {
                break;
            }
            self.queue.pop_first();
            ctx.observe(Observation::Deliver { origin, seq });
        }
    }
}

impl<const BUG: u8> Process<ToMsg> for ToBug<BUG> {
    fn on_start(&mut self, ctx: &mut Ctx<ToMsg>) {
        ctx.set_timer(1, PERIOD);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<ToMsg>, _: TimerTag) {
        self.sent += 1;
        self.clock += 1;
        let (me, seq, ts) = (ctx.me(), self.sent, self.clock);
        self.enqueue(ts, me, seq);
        self.acks.entry((me, seq)).or_default().insert(me);
        for p in ctx.peers().collect::<Vec<_>>() {
            ctx.send(p, ToMsg::Multicast { ts, seq });
        }
        if BUG == COUNT_ACKS {
            *self.counts.entry((me, seq)).or_default() += 1;
            self.clock += 1;
            ctx.broadcast(ToMsg::Ack { ts: self.clock, origin: me, seq });
        }
        if self.sent < MULTICASTS {
            ctx.set_timer(1, PERIOD);
        }
        self.deliver(ctx);
    }
    fn on_message(&mut self, ctx: &mut Ctx<ToMsg>, from: NodeId, msg: ToMsg) {
        match msg {
            ToMsg::Multicast { ts, seq } => {
                self.receive(ts);
                *self.counts.entry((from, seq)).or_default() += 2;
                self.enqueue(ts, from, seq);
                let seen = self.acks.entry((from, seq)).or_default();
                seen.insert(from);
                seen.insert(ctx.me());
                if BUG != OWN_COUNTER {
                    self.clock += 1;
                }
                let ack = ToMsg::Ack { ts: self.clock, origin: from, seq };
                if BUG == ACK_TO_SENDER {
                    ctx.send(from, ack);
                } else {
                    for _ in 0..if BUG == ACK_TWICE { 2 } else { 1 } {
                        ctx.broadcast(ack.clone());
                    }
                }
            }
            ToMsg::Ack { ts, origin, seq } => {
                self.receive(ts);
                *self.counts.entry((origin, seq)).or_default() += 1;
                if BUG == EARLY_ACKS_LOST {
                    if let Some(seen) = self.acks.get_mut(&(origin, seq)) {
                        seen.insert(from);
                    }
                } else {
                    self.acks.entry((origin, seq)).or_default().insert(from);
                }
            }
        }
        self.deliver(ctx);
    }
}

/// Student seeds a new mistake must be caught for, every one of them.
const MISTAKE_SEEDS: u64 = 100;

/// The public check fails `check` for every student seed, with a named
/// event, `words` and a diagram.
fn assert_caught_for_every_student(make: fn() -> Box<NodeFactory<ToMsg>>, check: &str, words: &[&str]) {
    let missed: Vec<u64> = (0..MISTAKE_SEEDS)
        .filter(|&seed| {
            tomulticast::check(make(), &Run::public(seed)).verdicts.iter().all(|v| v.check != check || v.passed())
        })
        .collect();
    println!("missed for {missed:?}");
    for seed in 0..MISTAKE_SEEDS {
        let report = tomulticast::check(make(), &Run::public(seed));
        let v = report.verdicts.iter().find(|v| v.check == check && !v.passed()).unwrap_or_else(|| {
            panic!(
                "student seed {seed}: '{check}' passed: {:?}",
                report.verdicts.iter().filter(|v| !v.passed()).map(|v| v.to_string()).collect::<Vec<_>>()
            )
        });
        assert_eq!(v.status, Status::Fail, "{v}");
        assert!(v.event.is_some(), "a counterexample names its event: {v}");
        for w in words {
            assert!(v.message.contains(w), "'{w}' not in: {}", v.message);
        }
        assert!(report.diagram.as_deref().is_some_and(|d| d.starts_with("<svg")), "a failure comes with a diagram");
        if seed == 0 {
            println!("{check}: {v}");
        }
    }
}

/// Ordering mistakes that need senders out of step: stamps that ignore
/// what was received, and a hold-back queue that lets fully acknowledged
/// messages overtake its head.
#[test]
fn ordering_mistakes_are_caught_for_every_student() {
    assert_caught_for_every_student(
        factory::<_, ToBug<OWN_COUNTER>>,
        tomulticast::ORDER,
        &["all nodes must deliver in one order"],
    );
    assert_caught_for_every_student(factory::<_, ToBug<EARLY_ACKS_LOST>>, tomulticast::ALL, &["never delivered"]);
    assert_caught_for_every_student(
        factory::<_, ToBug<COUNT_ACKS>>,
        tomulticast::ORDER,
        &["all nodes must deliver in one order"],
    );
    // Not caught yet: EVENTS_NO_MAX (a clock that counts receives but never
    // takes the max) passes every scenario; with acks to everyone the
    // nodes' event counts stay too close for a stamp to go backwards.
    let lenient = tomulticast::check(factory::<_, ToBug<EVENTS_NO_MAX>>(), &Run::all(0));
    println!("events, no max: {} failed verdicts", lenient.verdicts.iter().filter(|v| !v.passed()).count());
    assert_caught_for_every_student(
        factory::<_, ToBug<ANY_ACKED>>,
        tomulticast::ORDER,
        &["all nodes must deliver in one order"],
    );
}

/// The reference and the other correct designs pass every check, public
/// and hidden (drifting clocks included), for 200 students.
#[test]
fn correct_ordered_multicasts_pass_for_200_students() {
    let start = Instant::now();
    for seed in 0..200 {
        for (what, make) in [
            ("reference", tomulticast::reference::solution as fn() -> Box<NodeFactory<ToMsg>>),
            ("later stamp", factory::<_, LaterStamp>),
            ("self ack", factory::<_, SelfAck>),
        ] {
            let report = tomulticast::check(make(), &Run::all(seed));
            if let Some(bad) = report.verdicts.iter().find(|v| !v.passed()) {
                panic!("{what}, student seed {seed}: {bad}");
            }
        }
    }
    println!("tomulticast: 3 correct designs x 200 students in {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn ordered_multicast_mistakes_fail_with_a_counterexample() {
    let r = failing(tomulticast::ORDER, tomulticast::check, factory::<_, ToBug<EAGER>>);
    assert_fails(r, tomulticast::ORDER, &["all nodes must deliver in one order"]);
    let r = failing(tomulticast::ORDER, tomulticast::check, factory::<_, ToBug<NO_TIE_BREAK>>);
    assert_fails(r, tomulticast::ORDER, &["all nodes must deliver in one order"]);
    let r = failing(tomulticast::ALL, tomulticast::check, factory::<_, ToBug<ACK_TO_SENDER>>);
    assert_fails(r, tomulticast::ALL, &["never delivered"]);
    let r = failing(tomulticast::ORDER, tomulticast::check, factory::<_, ToBug<OWN_CLOCK>>);
    assert_fails(r, tomulticast::ORDER, &["all nodes must deliver in one order"]);
    let r = failing(tomulticast::COST, tomulticast::check, factory::<_, ToBug<ACK_TWICE>>);
    assert!(r.verdicts.iter().all(|v| v.check == tomulticast::COST || v.passed()), "only the cost is wrong");
    assert_fails(r, tomulticast::COST, &["a multicast needs at most (n-1) + n(n-1)"]);
}

#[test]
fn hidden_scenarios_run_only_for_the_grader() {
    let public = lamport::check(lamport::reference::solution(), &Run::public(5));
    assert!(public.verdicts.iter().all(|v| v.check != HIDDEN_CHECK));
    let all = tomulticast::check(factory::<_, ToBug<NO_TIE_BREAK>>(), &Run::all(5));
    let hidden = all.results(&tomulticast::SPEC, Scope::All);
    assert_eq!(hidden.iter().find(|r| r.name == HIDDEN_CHECK).unwrap().status, Status::Fail);
}

#[test]
fn the_tomulticast_scaffold_fails() {
    #[derive(Clone, Debug, Hash, Default)]
    struct Idle;
    impl Process<ToMsg> for Idle {
        fn on_message(&mut self, _: &mut Ctx<ToMsg>, _: NodeId, _: ToMsg) {}
    }
    let report = tomulticast::check(factory::<_, Idle>(), &Run::public(1));
    let v = report.verdicts.iter().find(|v| v.check == tomulticast::ALL && !v.passed()).expect("the scaffold fails");
    assert!(v.message.contains("never multicast its message #1"), "{}", v.message);
    // Nothing multicast: no order to compare and nothing for the bound to bound.
    let v = report.verdicts.iter().find(|v| v.check == tomulticast::ORDER && !v.passed()).expect("no order to judge");
    assert!(v.message.contains("no order to compare"), "{}", v.message);
    let v = report.verdicts.iter().find(|v| v.check == tomulticast::COST && !v.passed()).expect("nothing to bound");
    assert!(v.message.contains("nothing to bound"), "{}", v.message);
    assert_eq!(report.score(&tomulticast::SPEC, Scope::Public), 0.0);
}

#[test]
fn public_checks_take_well_under_a_second() {
    time_public("lamport", lamport::check, lamport::reference::solution);
    time_public("vector", vector::check, vector::reference::solution);
    time_public("tomulticast", tomulticast::check, tomulticast::reference::solution);
}
