//! Notebook 6, election: the references and other correct designs pass
//! every check over hundreds of seeds; typical mistakes fail with a
//! counterexample and a plain-words message.
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use distlab::catalogue::bully::{self, BullyMsg};
use distlab::catalogue::ring::{self, RingMsg};
use distlab::catalogue::{Report, Run, Scope};
use distlab::*;

#[path = "common/election_variants.rs"]
mod variants;

/// Runs of `report` that did not pass, as (check, message).
fn failures(report: &Report) -> Vec<(String, String)> {
    report.verdicts.iter().filter(|v| !v.passed()).map(|v| (v.check.clone(), v.message.clone())).collect()
}

fn assert_all_pass(report: &Report, what: &str, seed: u64) {
    let bad: Vec<_> = report.verdicts.iter().filter(|v| !v.passed()).collect();
    assert!(bad.is_empty(), "{what}, seed {seed}: {}", bad[0]);
    assert!(report.diagram.is_none());
}

/// Distinct simulation seeds seen in reports, for the "≥200 runs" claim.
fn simulation_seeds(report: &Report, into: &mut BTreeSet<(String, u64)>) {
    for v in &report.verdicts {
        into.insert((v.scenario.clone(), v.seed));
    }
}

/// A failing public verdict of `check` with an event, and a diagram.
fn assert_fails(report: &Report, check: &str, words: &[&str]) {
    let v = report
        .verdicts
        .iter()
        .find(|v| !v.passed() && v.check == check)
        .unwrap_or_else(|| panic!("expected '{check}' to fail; failures: {:?}", failures(report)));
    assert_eq!(v.status, Status::Fail, "{v}");
    println!("{v}");
    assert!(v.event.is_some() && v.at.is_some(), "a counterexample points at an event: {v}");
    for w in words {
        assert!(v.message.contains(w), "'{}' should mention '{w}'", v.message);
    }
    assert!(v.replay.contains("--scenario"), "{}", v.replay);
    assert!(report.diagram.as_deref().is_some_and(|d| d.starts_with("<svg")), "a failing run comes with a diagram");
}

// ---------------------------------------------------------------- bully

#[test]
fn bully_reference_passes_everything_over_200_seeds() {
    let mut seen = BTreeSet::new();
    for seed in 0..25 {
        let report = bully::check(bully::reference::solution(), &Run::all(seed));
        assert_all_pass(&report, "bully reference", seed);
        assert_eq!(report.score(&bully::SPEC, Scope::All), 10.0);
        simulation_seeds(&report, &mut seen);
    }
    assert!(seen.len() >= 200, "{} distinct runs", seen.len());
}

/// A student's bully, written differently from the reference: faster
/// heartbeats, COORDINATOR sent one by one, elects before answering, flags
/// instead of phases. Each quirk is a typical mistake.
#[derive(Clone, Copy, Debug, Default, Hash)]
struct BullyQuirks {
    ignore_answer: bool,
    passive_recovery: bool,
    lowest_wins: bool,
    restart_on_every_election: bool,
}

#[derive(Clone, Debug, Hash)]
struct StudentBully {
    q: BullyQuirks,
    leader: Option<NodeId>,
    electing: bool,
    answered: bool,
}

const BEAT: TimerTag = 10;
const SILENT: TimerTag = 11;
const NO_ANSWER: TimerTag = 12;
const NO_COORD: TimerTag = 13;

impl StudentBully {
    /// Whether `a` outranks `b` (mistake: the lowest id wins).
    fn beats(&self, a: NodeId, b: NodeId) -> bool {
        if self.q.lowest_wins {
            a < b
        } else {
            a > b
        }
    }
    fn elect(&mut self, ctx: &mut Ctx<BullyMsg>) {
        let me = ctx.me();
        let rivals: Vec<NodeId> = (0..ctx.nodes()).filter(|&n| self.beats(n, me)).collect();
        self.electing = true;
        self.answered = false;
        ctx.cancel_timer(SILENT);
        for &n in &rivals {
            ctx.send(n, BullyMsg::Election);
        }
        ctx.set_timer(NO_ANSWER, if rivals.is_empty() { 0 } else { ms(15) });
    }
    fn follow(&mut self, ctx: &mut Ctx<BullyMsg>, leader: NodeId) {
        self.leader = Some(leader);
        self.electing = false;
        ctx.observe(Observation::Leader(leader));
        for t in [NO_ANSWER, NO_COORD, BEAT] {
            ctx.cancel_timer(t);
        }
        if leader == ctx.me() {
            for n in ctx.peers().collect::<Vec<_>>() {
                ctx.send(n, BullyMsg::Coordinator);
            }
            ctx.set_timer(BEAT, ms(10));
        } else {
            ctx.set_timer(SILENT, ms(35));
        }
    }
}

impl Process<BullyMsg> for StudentBully {
    fn on_start(&mut self, ctx: &mut Ctx<BullyMsg>) {
        self.elect(ctx);
    }
    fn on_recover(&mut self, ctx: &mut Ctx<BullyMsg>) {
        if self.q.passive_recovery {
            ctx.set_timer(SILENT, ms(35)); // waits to hear a coordinator
        } else {
            self.elect(ctx);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<BullyMsg>, from: NodeId, msg: BullyMsg) {
        let me = ctx.me();
        match msg {
            BullyMsg::Election => {
                if !self.electing || self.q.restart_on_every_election {
                    self.elect(ctx);
                }
                ctx.send(from, BullyMsg::Answer);
            }
            BullyMsg::Answer if self.electing && !self.answered && !self.q.ignore_answer => {
                self.answered = true;
                ctx.cancel_timer(NO_ANSWER);
                ctx.set_timer(NO_COORD, ms(40));
            }
            BullyMsg::Coordinator if self.beats(from, me) => self.follow(ctx, from),
            BullyMsg::Coordinator if !self.electing => self.elect(ctx),
            BullyMsg::Alive if self.leader == Some(from) => ctx.set_timer(SILENT, ms(35)),
            BullyMsg::Alive if self.q.passive_recovery && self.leader.is_none() => self.follow(ctx, from),
            BullyMsg::Alive if self.beats(from, me) && self.leader.is_none_or(|l| self.beats(from, l)) => {
                self.follow(ctx, from)
            }
            _ => {}
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<BullyMsg>, timer: TimerTag) {
        match timer {
            BEAT => {
                ctx.broadcast(BullyMsg::Alive);
                ctx.set_timer(BEAT, ms(10));
            }
            NO_ANSWER => {
                let me = ctx.me();
                self.follow(ctx, me)
            }
            SILENT | NO_COORD => self.elect(ctx),
            _ => {}
        }
    }
}

fn student_bully(q: BullyQuirks) -> Box<dyn Fn(NodeId) -> Box<dyn Process<BullyMsg>>> {
    Box::new(move |_| Box::new(StudentBully { q, leader: None, electing: false, answered: false }))
}

#[test]
fn other_correct_bullies_pass_everything_over_200_seeds() {
    let slow = variants::bully::Timing {
        heartbeat: ms(40),
        silence: ms(100),
        answer_wait: ms(11),
        coordinator_wait: ms(80),
        broadcast: false,
    };
    let mut seen = BTreeSet::new();
    for seed in 100..125 {
        let a = bully::check(student_bully(BullyQuirks::default()), &Run::all(seed));
        assert_all_pass(&a, "student bully", seed);
        let b = bully::check(variants::bully::factory_with(slow), &Run::all(seed));
        assert_all_pass(&b, "slow bully", seed);
        simulation_seeds(&a, &mut seen);
    }
    assert!(seen.len() >= 200);
}

#[test]
fn bully_that_ignores_the_answer_declares_itself() {
    let report =
        bully::check(student_bully(BullyQuirks { ignore_answer: true, ..Default::default() }), &Run::public(7));
    assert_fails(
        &report,
        "a node that got an ANSWER does not declare itself",
        &["sent COORDINATOR", "answered its ELECTION at"],
    );
}

#[test]
fn bully_that_waits_on_recovery_keeps_a_lower_coordinator() {
    let report =
        bully::check(student_bully(BullyQuirks { passive_recovery: true, ..Default::default() }), &Run::public(7));
    assert_fails(
        &report,
        "all live nodes follow the highest live id",
        &["after the last fault (at 400 ms)", "follow 3", "node 4 is the highest live id"],
    );
    assert!(report.verdicts.iter().filter(|v| !v.passed()).all(|v| v.scenario == "coordinator crashes and comes back"));
    // The replay line reruns exactly that run, with the same verdict.
    let v = report.verdicts.iter().find(|v| !v.passed()).unwrap();
    let again = bully::check(
        student_bully(BullyQuirks { passive_recovery: true, ..Default::default() }),
        &Run::replay(&v.scenario, v.seed),
    );
    assert_eq!(again.verdicts.iter().find(|x| !x.passed()), Some(v));
}

/// The textbook case: when the coordinator dies, several nodes notice at
/// once, so higher nodes get more than one ELECTION; the scenario really
/// produces it, and the reference answers both but elects once.
#[test]
fn simultaneous_detections_happen_in_the_public_crash_scenario() {
    let scenario = bully::scenarios().into_iter().find(|s| s.scenario.name == "coordinator crashes").unwrap().scenario;
    let factory: std::rc::Rc<distlab::process::NodeFactory<BullyMsg>> = std::rc::Rc::from(bully::reference::solution());
    for seed in 0..20 {
        let trace = simulate_with(&scenario, seed, factory.clone()).unwrap();
        let mut got: BTreeMap<NodeId, usize> = BTreeMap::new();
        for e in trace.events.iter().filter(|e| e.at > ms(150)) {
            if let EventKind::Deliver { id, to, .. } = e.kind {
                if trace.message(id) == Some(&BullyMsg::Election) {
                    *got.entry(to).or_default() += 1;
                }
            }
        }
        assert!(got.values().any(|&k| k >= 2), "seed {seed}: no node got two ELECTIONs: {got:?}");
    }
}

#[test]
fn bully_where_the_lowest_id_wins() {
    let report = bully::check(student_bully(BullyQuirks { lowest_wins: true, ..Default::default() }), &Run::public(7));
    assert_fails(&report, "all live nodes follow the highest live id", &["follow 0", "is the highest live id"]);
    assert_fails(
        &report,
        "nobody adopts a lower leader once a higher node has settled",
        &["adopted 0 as coordinator", "the highest live id must win"],
    );
}

#[test]
fn bully_that_restarts_on_every_election_sends_too_many() {
    let report = bully::check(
        student_bully(BullyQuirks { restart_on_every_election: true, ..Default::default() }),
        &Run::public(7),
    );
    assert_fails(&report, "ELECTION messages within n(n-1) per round", &["ELECTION messages; this run allows"]);
}

#[derive(Clone, Debug, Hash, Default)]
struct Silent;
impl<M: Message> Process<M> for Silent {
    fn on_message(&mut self, _: &mut Ctx<M>, _: NodeId, _: M) {}
}

#[test]
fn the_scaffolds_fail() {
    let b = bully::check(Box::new(|_| Box::new(Silent)), &Run::public(1));
    assert_fails(&b, "all live nodes follow the highest live id", &["follow nobody"]);
    assert_fails(&b, "ELECTION messages within n(n-1) per round", &["nothing to judge"]);
    assert_eq!(b.score(&bully::SPEC, Scope::Public), 0.0, "doing nothing earns nothing");
    let r = ring::check(Box::new(|_| Box::new(Silent)), &Run::public(1));
    assert_fails(&r, "all live nodes follow the highest live id", &["follow nobody"]);
    assert_fails(&r, "a node in its own election drops lower ELECTIONs", &["nothing to judge"]);
    assert_eq!(r.score(&ring::SPEC, Scope::Public), 0.0, "doing nothing earns nothing");
}

// ---------------------------------------------------------------- ring

#[test]
fn ring_reference_passes_everything_over_200_seeds() {
    let mut seen = BTreeSet::new();
    for seed in 0..25 {
        let report = ring::check(ring::reference::solution(), &Run::all(seed));
        assert_all_pass(&report, "ring reference", seed);
        assert_eq!(report.score(&ring::SPEC, Scope::All), 10.0);
        simulation_seeds(&report, &mut seen);
    }
    assert!(seen.len() >= 200, "{} distinct runs", seen.len());
}

/// A student's ring, written differently: faster timeouts, one fixed
/// deadline per round, the COORDINATOR stops at the winner's list instead
/// of a visit list. Each quirk is a typical mistake.
#[derive(Clone, Copy, Debug, Default, Hash)]
struct RingQuirks {
    no_skip: bool,
    no_suppression: bool,
    first_id_wins: bool,
}

#[derive(Clone, Debug, Hash)]
struct StudentRing {
    q: RingQuirks,
    leader: Option<NodeId>,
    mine: bool,
    busy: bool,
    tag: u64,
    unacked: BTreeMap<u64, (NodeId, RingMsg)>,
}

const R_BEAT: TimerTag = 20;
const R_SILENT: TimerTag = 21;
const R_ROUND: TimerTag = 22;
const R_ACK: TimerTag = 100;

impl StudentRing {
    fn send_on(&mut self, ctx: &mut Ctx<RingMsg>, msg: RingMsg, mut to: NodeId) {
        if to == ctx.me() {
            return self.handle(ctx, msg);
        }
        self.tag += 1;
        let tag = self.tag;
        let msg = match msg {
            RingMsg::Election { ids, .. } => RingMsg::Election { tag, ids },
            RingMsg::Coordinator { leader, ids, .. } => RingMsg::Coordinator { tag, leader, ids },
            other => other,
        };
        ctx.send(to, msg.clone());
        if self.q.no_skip {
            to = (to + ctx.nodes() - 1) % ctx.nodes(); // retries the same successor
        }
        self.unacked.insert(tag, (to, msg));
        ctx.set_timer(R_ACK + tag, ms(15));
    }
    fn next(ctx: &Ctx<RingMsg>, after: NodeId) -> NodeId {
        (after + 1) % ctx.nodes()
    }
    fn begin(&mut self, ctx: &mut Ctx<RingMsg>) {
        let me = ctx.me();
        self.mine = true;
        self.busy = true;
        self.unacked.retain(|_, (_, m)| !matches!(m, RingMsg::Election { ids, .. } if ids[0] < me));
        ctx.cancel_timer(R_SILENT);
        ctx.set_timer(R_ROUND, ms(180));
        let to = Self::next(ctx, me);
        self.send_on(ctx, RingMsg::Election { tag: 0, ids: vec![me] }, to);
    }
    fn take(&mut self, ctx: &mut Ctx<RingMsg>, leader: NodeId) {
        self.leader = Some(leader);
        self.mine = false;
        self.busy = false;
        ctx.cancel_timer(R_ROUND);
        ctx.observe(Observation::Leader(leader));
        if leader == ctx.me() {
            ctx.set_timer(R_BEAT, ms(15));
        } else {
            ctx.cancel_timer(R_BEAT);
            ctx.set_timer(R_SILENT, ms(40));
        }
    }
    fn handle(&mut self, ctx: &mut Ctx<RingMsg>, msg: RingMsg) {
        let me = ctx.me();
        match msg {
            RingMsg::Election { mut ids, .. } => {
                if ids[0] == me {
                    let winner = if self.q.first_id_wins { ids[0] } else { *ids.iter().max().unwrap() };
                    self.take(ctx, winner);
                    let to = Self::next(ctx, me);
                    self.send_on(ctx, RingMsg::Coordinator { tag: 0, leader: winner, ids }, to);
                } else if !ids.contains(&me) && (!self.mine || ids[0] >= me || self.q.no_suppression) {
                    ids.push(me);
                    self.busy = true;
                    ctx.cancel_timer(R_SILENT);
                    ctx.set_timer(R_ROUND, ms(180));
                    let to = Self::next(ctx, me);
                    self.send_on(ctx, RingMsg::Election { tag: 0, ids }, to);
                }
            }
            // `ids` is the election's list: stop at its initiator.
            RingMsg::Coordinator { leader, ids, .. } => {
                if ids[0] == me || (self.leader == Some(leader) && !self.busy) {
                    return; // back at the start, or everyone from here on knows
                }
                if !ids.contains(&me) && leader < me && !self.q.first_id_wins {
                    if !self.mine {
                        self.begin(ctx);
                    }
                    return;
                }
                self.take(ctx, leader);
                let to = Self::next(ctx, me);
                self.send_on(ctx, RingMsg::Coordinator { tag: 0, leader, ids }, to);
            }
            _ => {}
        }
    }
}

impl Process<RingMsg> for StudentRing {
    fn on_start(&mut self, ctx: &mut Ctx<RingMsg>) {
        self.begin(ctx);
    }
    fn on_message(&mut self, ctx: &mut Ctx<RingMsg>, from: NodeId, msg: RingMsg) {
        match msg {
            RingMsg::Ack { tag } => {
                if self.unacked.remove(&tag).is_some() {
                    ctx.cancel_timer(R_ACK + tag);
                }
            }
            RingMsg::Alive if self.leader == Some(from) => ctx.set_timer(R_SILENT, ms(40)),
            RingMsg::Alive => {
                if !self.busy && self.leader.is_none_or(|l| from > l) {
                    self.begin(ctx);
                }
            }
            RingMsg::Election { tag, .. } | RingMsg::Coordinator { tag, .. } => {
                ctx.send(from, RingMsg::Ack { tag });
                self.handle(ctx, msg);
            }
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<RingMsg>, timer: TimerTag) {
        match timer {
            R_BEAT => {
                ctx.broadcast(RingMsg::Alive);
                ctx.set_timer(R_BEAT, ms(15));
            }
            R_SILENT | R_ROUND => self.begin(ctx),
            t if t > R_ACK => {
                if let Some((to, msg)) = self.unacked.remove(&(t - R_ACK)) {
                    let after = Self::next(ctx, to);
                    self.send_on(ctx, msg, after);
                }
            }
            _ => {}
        }
    }
}

fn student_ring(q: RingQuirks) -> Box<dyn Fn(NodeId) -> Box<dyn Process<RingMsg>>> {
    Box::new(move |_| {
        Box::new(StudentRing { q, leader: None, mine: false, busy: false, tag: 0, unacked: BTreeMap::new() })
    })
}

#[test]
fn other_correct_rings_pass_everything_over_200_seeds() {
    let slow = variants::ring::Timing { heartbeat: ms(30), silence: ms(80), ack_wait: ms(20), round_wait: ms(40) };
    let mut seen = BTreeSet::new();
    for seed in 100..125 {
        let a = ring::check(student_ring(RingQuirks::default()), &Run::all(seed));
        assert_all_pass(&a, "student ring", seed);
        let b = ring::check(variants::ring::factory_with(slow), &Run::all(seed));
        assert_all_pass(&b, "slow ring", seed);
        simulation_seeds(&a, &mut seen);
    }
    assert!(seen.len() >= 200);
}

#[test]
fn ring_that_does_not_skip_dead_successors_never_finishes() {
    let report = ring::check(student_ring(RingQuirks { no_skip: true, ..Default::default() }), &Run::public(7));
    assert_fails(
        &report,
        "all live nodes follow the highest live id",
        &["after the last fault", "is the highest live id"],
    );
}

#[test]
fn ring_without_duplicate_suppression() {
    let report = ring::check(student_ring(RingQuirks { no_suppression: true, ..Default::default() }), &Run::public(7));
    assert_fails(
        &report,
        "a node in its own election drops lower ELECTIONs",
        &["started its own election at", "passed on the ELECTION begun by node"],
    );
    assert_fails(&report, "ELECTION messages within 3n per round", &["ELECTION messages; this run allows"]);
}

#[test]
fn ring_that_picks_the_initiator_not_the_highest() {
    let report = ring::check(student_ring(RingQuirks { first_id_wins: true, ..Default::default() }), &Run::public(7));
    assert_fails(&report, "all live nodes follow the highest live id", &["is the highest live id"]);
}

// ---------------------------------------------------------------- timing

#[test]
fn checking_the_public_scenarios_takes_well_under_a_second() {
    let start = Instant::now();
    let report = bully::check(bully::reference::solution(), &Run::public(1));
    println!("bully: public check of the reference took {:?} ({} verdicts)", start.elapsed(), report.verdicts.len());
    let start = Instant::now();
    let report = ring::check(ring::reference::solution(), &Run::public(1));
    println!("ring: public check of the reference took {:?} ({} verdicts)", start.elapsed(), report.verdicts.len());
    let start = Instant::now();
    let report = bully::check(bully::reference::solution(), &Run::all(1));
    println!("bully: grader check (public + hidden) took {:?} ({} verdicts)", start.elapsed(), report.verdicts.len());
    let start = Instant::now();
    let report = ring::check(ring::reference::solution(), &Run::all(1));
    println!("ring: grader check (public + hidden) took {:?} ({} verdicts)", start.elapsed(), report.verdicts.len());
}
