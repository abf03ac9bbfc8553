//! Notebook 11, two-phase commit: the reference and two other correct
//! designs pass over 200+ simulated runs with crashes; typical mistakes
//! fail atomicity with a counterexample; the blocking case is reported as
//! blocked, and the explorer finds it as the shortest run.
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Instant;

use distlab::catalogue::twophase::{self, votes_yes, Atomicity, TpcMsg, ATOMICITY, BLOCKING, TERMINATION};
use distlab::catalogue::{Report, Run, Scope};
use distlab::process::NodeFactory;
use distlab::*;

mod common;

/// How a test node differs from a textbook 2PC node.
#[derive(Clone, Copy, Debug, Hash, Default)]
struct Style {
    vote_wait: Time,
    ask_every: Time,
    /// Send Prepare, the outcome and Ask one message at a time.
    one_by_one: bool,
    /// A no voter waits for the coordinator's Abort instead of aborting.
    no_voter_waits: bool,
    // Mistakes:
    commit_on_timeout: bool,
    /// Commits once all but one participant voted yes.
    commit_one_short: bool,
    /// Never writes the vote down.
    forget_vote: bool,
    /// The coordinator never writes its decision down.
    forget_decision: bool,
    /// A participant that voted yes and does not know the outcome answers
    /// `Ask` with `Abort`.
    undecided_says_abort: bool,
    /// A participant that voted yes gives up after this many unanswered
    /// rounds of asking and aborts (0: never).
    give_up_after: u32,
}

const CAREFUL: Style = Style { vote_wait: ms(30), ask_every: ms(10), one_by_one: true, no_voter_waits: true, ..BASE };
const BRISK: Style = Style { vote_wait: ms(12), ask_every: ms(40), ..BASE };
const BASE: Style = Style {
    vote_wait: ms(20),
    ask_every: ms(15),
    one_by_one: false,
    no_voter_waits: false,
    commit_on_timeout: false,
    commit_one_short: false,
    forget_vote: false,
    forget_decision: false,
    undecided_says_abort: false,
    give_up_after: 0,
};

/// The whole protocol state of a node, persisted as one value.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Phase {
    Init,
    Ready,
    Done(bool),
}

#[derive(Clone, Debug, Hash)]
struct Node {
    s: Style,
    phase: Phase,
    yes: BTreeSet<NodeId>,
    asked: u32,
}

impl Node {
    fn tell(&self, ctx: &mut Ctx<TpcMsg>, msg: TpcMsg) {
        if self.s.one_by_one {
            for p in ctx.peers().collect::<Vec<_>>() {
                ctx.send(p, msg.clone());
            }
        } else {
            ctx.broadcast(msg);
        }
    }
    fn decide(&mut self, ctx: &mut Ctx<TpcMsg>, commit: bool) {
        if matches!(self.phase, Phase::Done(_)) {
            return;
        }
        self.phase = Phase::Done(commit);
        if !(self.s.forget_decision && ctx.me() == 0) {
            ctx.persist("phase", &self.phase);
        }
        ctx.observe(Observation::Decide(if commit { Decision::Commit } else { Decision::Abort }));
        if ctx.me() == 0 {
            self.tell(ctx, outcome(commit));
        }
    }
}

fn outcome(commit: bool) -> TpcMsg {
    if commit {
        TpcMsg::Commit
    } else {
        TpcMsg::Abort
    }
}

impl Process<TpcMsg> for Node {
    fn on_start(&mut self, ctx: &mut Ctx<TpcMsg>) {
        if ctx.me() == 0 {
            self.tell(ctx, TpcMsg::Prepare);
            ctx.set_timer(1, self.s.vote_wait);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<TpcMsg>, from: NodeId, msg: TpcMsg) {
        let coordinator = ctx.me() == 0;
        match (msg, self.phase) {
            (TpcMsg::Vote(true), Phase::Init) if coordinator => {
                self.yes.insert(from);
                let needed = if self.s.commit_one_short { ctx.nodes() - 2 } else { ctx.nodes() - 1 };
                if self.yes.len() >= needed {
                    self.decide(ctx, true);
                }
            }
            (TpcMsg::Vote(false), Phase::Init) if coordinator => self.decide(ctx, false),
            (TpcMsg::Prepare, Phase::Init) => {
                let yes = votes_yes(ctx.me(), ctx.nodes());
                if !self.s.forget_vote {
                    ctx.persist("phase", &Phase::Ready);
                }
                ctx.send(0, TpcMsg::Vote(yes));
                self.phase = Phase::Ready;
                if !yes && !self.s.no_voter_waits {
                    self.decide(ctx, false);
                } else {
                    ctx.set_timer(2, self.s.ask_every);
                }
            }
            (TpcMsg::Prepare, Phase::Done(c)) => ctx.send(0, TpcMsg::Vote(c)),
            (TpcMsg::Commit, _) if !coordinator => self.decide(ctx, true),
            (TpcMsg::Abort, _) if !coordinator => self.decide(ctx, false),
            (TpcMsg::Ask, Phase::Init) if !coordinator => {
                self.decide(ctx, false);
                ctx.send(from, TpcMsg::Abort);
            }
            (TpcMsg::Ask, Phase::Done(c)) => ctx.send(from, outcome(c)),
            (TpcMsg::Ask, Phase::Ready) if !coordinator && self.s.undecided_says_abort => ctx.send(from, TpcMsg::Abort),
            _ => {}
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<TpcMsg>, _: TimerTag) {
        match self.phase {
            Phase::Init if ctx.me() == 0 => self.decide(ctx, self.s.commit_on_timeout),
            Phase::Ready if self.s.give_up_after > 0 && self.asked >= self.s.give_up_after => {
                self.decide(ctx, false);
            }
            Phase::Ready => {
                self.asked += 1;
                self.tell(ctx, TpcMsg::Ask);
                ctx.set_timer(2, self.s.ask_every);
            }
            _ => {}
        }
    }
    fn on_recover(&mut self, ctx: &mut Ctx<TpcMsg>) {
        match ctx.recall::<Phase>("phase") {
            Some(Phase::Done(c)) => {
                self.phase = Phase::Done(c);
                if ctx.me() == 0 {
                    self.tell(ctx, outcome(c));
                }
            }
            Some(Phase::Ready) => {
                self.phase = Phase::Ready;
                self.on_timer(ctx, 2);
            }
            _ => self.decide(ctx, false),
        }
    }
}

fn factory(s: Style) -> Box<NodeFactory<TpcMsg>> {
    Box::new(move |_| Box::new(Node { s, phase: Phase::Init, yes: BTreeSet::new(), asked: 0 }))
}

/// Students' seeds per test: each gives 14 public and 4 hidden runs.
const SEEDS: u64 = 15;

fn assert_passes(make: impl Fn() -> Box<NodeFactory<TpcMsg>>, what: &str) {
    let spec = &twophase::SPEC;
    let mut sims = BTreeSet::new();
    let mut faulty = 0;
    for seed in 0..SEEDS {
        let report = twophase::check(make(), &Run::all(seed));
        if let Some(bad) = report.verdicts.iter().find(|v| !v.passed()) {
            panic!("{what}: {bad}");
        }
        assert_eq!(report.score(spec, Scope::All), spec.points as f64, "{what}");
        for v in report.verdicts.iter().filter(|v| v.check != BLOCKING) {
            let calm = v.scenario.starts_with("all vote yes") || v.scenario.starts_with("one votes no");
            if sims.insert((v.scenario.clone(), v.seed)) && !calm {
                faulty += 1;
            }
        }
    }
    assert!(sims.len() >= 200, "{what}: only {} distinct simulations", sims.len());
    assert!(faulty >= 150, "{what}: only {faulty} simulations with faults");
}

#[test]
fn the_reference_passes_over_200_runs_with_crashes() {
    assert_passes(twophase::reference::solution, "reference");
}

#[test]
fn two_other_correct_designs_pass() {
    assert_passes(|| factory(CAREFUL), "one by one, slow coordinator, no voter waits, one state key");
    assert_passes(|| factory(BRISK), "quick vote timeout, rare asks");
}

/// The first failure of `check` for the students' seeds 0..5.
fn first_failure(make: impl Fn() -> Box<NodeFactory<TpcMsg>>, check: &str) -> (Verdict, Report) {
    for seed in 0..5 {
        let report = twophase::check(make(), &Run::public(seed));
        if let Some(v) = report.verdicts.iter().find(|v| !v.passed() && v.check == check) {
            return (v.clone(), report);
        }
    }
    panic!("no '{check}' failure in 5 students' seeds");
}

fn assert_caught(s: Style, words: &[&str]) -> Verdict {
    let (v, report) = first_failure(|| factory(s), ATOMICITY);
    assert_eq!(v.status, Status::Fail);
    assert!(v.event.is_some() && v.at.is_some(), "the verdict names the event: {v}");
    for w in words {
        assert!(v.message.contains(w), "'{}' lacks '{w}'", v.message);
    }
    assert!(report.diagram.expect("a diagram of the failing run").starts_with("<svg"));
    println!("{v}");
    v
}

#[test]
fn a_coordinator_that_commits_on_a_timeout_breaks_atomicity() {
    let v = assert_caught(Style { commit_on_timeout: true, ..BASE }, &["decided commit", "had not voted yes"]);
    assert!(v.scenario.starts_with("a participant is down when asked"), "{}", v.scenario);
}

#[test]
fn a_coordinator_that_commits_one_vote_short_breaks_atomicity() {
    assert_caught(Style { commit_one_short: true, ..BASE }, &["decided commit"]);
}

#[test]
fn a_participant_that_does_not_persist_its_vote_breaks_atomicity() {
    let v = assert_caught(Style { forget_vote: true, ..BASE }, &["decided abort", "had decided commit"]);
    assert!(v.scenario.starts_with("a participant crashes after voting"), "{}", v.scenario);
    // The replay line reruns exactly that run.
    let again = twophase::check(factory(Style { forget_vote: true, ..BASE }), &Run::replay(&v.scenario, v.seed));
    let same = again.verdicts.iter().find(|r| r.check == ATOMICITY).unwrap();
    assert_eq!((same.status, &same.message), (Status::Fail, &v.message));
}

/// Student seeds a new mistake must be caught for, every one of them.
const MISTAKE_SEEDS: u64 = 24;

/// The public check fails atomicity for every student seed, with `words`,
/// a named event and a diagram; returns the scenarios that caught it.
fn assert_caught_for_every_student(s: Style, words: &[&str]) -> BTreeSet<String> {
    let mut scenarios = BTreeSet::new();
    for seed in 0..MISTAKE_SEEDS {
        let report = twophase::check(factory(s), &Run::public(seed));
        let v =
            report.verdicts.iter().find(|v| !v.passed() && v.check == ATOMICITY).unwrap_or_else(|| {
                panic!("{s:?}: student seed {seed} passes atomicity: {:?}", common::failed(&report))
            });
        assert_eq!(v.status, Status::Fail);
        assert!(v.event.is_some() && v.at.is_some(), "the verdict names the event: {v}");
        for w in words {
            assert!(v.message.contains(w), "'{}' lacks '{w}'", v.message);
        }
        assert!(report.diagram.as_deref().is_some_and(|d| d.starts_with("<svg")), "a diagram of the failing run");
        if seed == 0 {
            println!("{v}");
        }
        scenarios.insert(v.scenario.split(" (").next().unwrap_or_default().to_owned());
    }
    scenarios
}

/// A coordinator that keeps its decision only in memory comes back from a
/// crash with none and aborts a transaction it had committed.
#[test]
fn a_coordinator_that_forgets_its_decision_is_caught_for_every_student() {
    let s = Style { forget_decision: true, ..BASE };
    let caught = assert_caught_for_every_student(
        s,
        &["the coordinator (node 0) decided abort", "after deciding commit", "a decision is final"],
    );
    assert!(caught.contains("the coordinator crashes after deciding and comes back"), "{caught:?}");
}

/// Participants that voted yes and decide (or make others decide) without
/// knowing the outcome: caught when the coordinator's commit is slow to
/// reach them.
#[test]
fn participants_that_abort_after_a_yes_are_caught_for_every_student() {
    for s in [Style { undecided_says_abort: true, ..BASE }, Style { give_up_after: 3, ..BASE }] {
        let caught = assert_caught_for_every_student(s, &["decided abort", "had decided commit"]);
        assert!(caught.contains("the participants don't hear from the coordinator for a while"), "{caught:?}");
    }
}

/// The reference and the other correct designs pass every check, public
/// and hidden, explorer included, for 200 students (a few seconds).
#[test]
fn correct_designs_pass_for_200_students() {
    correct_designs_pass(200);
}

fn correct_designs_pass(students: u64) {
    let start = Instant::now();
    for seed in 0..students {
        for (what, make) in
            [("reference", twophase::reference::solution()), ("careful", factory(CAREFUL)), ("brisk", factory(BRISK))]
        {
            let report = twophase::check(make, &Run::all(seed));
            if let Some(bad) = report.verdicts.iter().find(|v| !v.passed()) {
                panic!("{what}, student seed {seed}: {bad}");
            }
        }
    }
    println!("twophase: 3 correct designs x {students} students in {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn the_coordinator_crashing_after_the_votes_is_reported_as_blocked() {
    let report = twophase::check(twophase::reference::solution(), &Run::public(7));
    let blocked: Vec<&Verdict> = report
        .verdicts
        .iter()
        .filter(|v| v.check == TERMINATION && v.scenario.starts_with("the coordinator crashes after the votes"))
        .collect();
    assert!(!blocked.is_empty());
    for v in blocked {
        assert_eq!(v.status, Status::Pass);
        assert!(v.message.starts_with("blocked:") && v.message.contains("not a mistake"), "{}", v.message);
    }
    // With the coordinator back, the same crash is no longer blocking.
    let back = report.verdicts.iter().find(|v| v.check == TERMINATION && v.scenario.contains("comes back")).unwrap();
    assert_eq!(back.message, "held throughout the run");
}

#[test]
fn the_explorer_finds_the_shortest_blocking_run() {
    let started = Instant::now();
    let (verdict, trace) = twophase::explore_blocking(Rc::from(twophase::reference::solution()));
    println!("{verdict} ({:?})", started.elapsed());
    assert_eq!(verdict.status, Status::Pass);
    assert!(verdict.message.starts_with("blocked"), "{}", verdict.message);
    let trace = trace.expect("the blocking run");
    // Shortest: both participants get Prepare (and vote yes), the coordinator crashes.
    let moves: Vec<String> = trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Deliver { to, .. } => Some(format!("deliver to {to}")),
            EventKind::Crash { node } => Some(format!("crash {node}")),
            EventKind::Timer { node, .. } => Some(format!("timer {node}")),
            _ => None,
        })
        .collect();
    assert_eq!(moves, ["deliver to 1", "deliver to 2", "crash 0"]);
    assert!(verdict.message.contains("3 steps"), "{}", verdict.message);
    assert!(svg(&trace, &DiagramOptions::default()).starts_with("<svg"));
}

#[test]
fn the_explorer_finds_commit_on_timeout_as_a_short_counterexample() {
    let bad = factory(Style { commit_on_timeout: true, ..BASE });
    let result =
        Explorer::with_factory(3, Rc::from(bad)).monitor(Atomicity::new(3)).crash_budget(1).recover(false).run();
    let cx = result.violation.expect("the explorer finds the mistake");
    assert_eq!(cx.verdict.check, ATOMICITY);
    assert!(cx.verdict.message.contains("had not voted yes"), "{}", cx.verdict.message);
    // The timeout fires before any vote is in: one move.
    assert_eq!(cx.moves, [Move::Fire { node: 0, tag: 1 }]);
    let good = Explorer::with_factory(3, Rc::from(twophase::reference::solution()))
        .monitor(Atomicity::new(3))
        .crash_budget(1)
        .max_states(200_000)
        .run();
    assert!(good.violation.is_none(), "{:?}", good.violation.map(|c| c.verdict));
    println!("reference: {} states, complete: {}", good.states, good.complete);
}

#[test]
fn scaffold_like_nodes_fail_and_votes_must_follow_the_rule() {
    let silent: Box<NodeFactory<TpcMsg>> =
        Box::new(|_| Box::new(Node { s: BASE, phase: Phase::Done(false), yes: BTreeSet::new(), asked: 0 }));
    let report = twophase::check(silent, &Run::public(0));
    let failed: BTreeMap<String, usize> =
        report.verdicts.iter().filter(|v| !v.passed()).fold(BTreeMap::new(), |mut m, v| {
            *m.entry(v.check.clone()).or_default() += 1;
            m
        });
    assert!(failed.contains_key(BLOCKING) && failed.contains_key(ATOMICITY), "{failed:?}");
}

#[test]
fn public_check_takes_under_a_second() {
    common::assert_quick_public_pass("twophase", || twophase::check(twophase::reference::solution(), &Run::public(3)));
}

#[test]
fn the_grader_judges_nodes_behind_a_host_like_local_ones() {
    common::remote_matches_local(&twophase::SPEC, twophase::reference::solution, twophase::check);
    assert_eq!((twophase::SPEC.variant)(2), serde_json::to_value(twophase::variant(2)).unwrap());
}
