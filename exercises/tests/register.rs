//! Notebook 10, the quorum-replicated register: the reference and other
//! correct designs pass every check over hundreds of runs with faults;
//! typical mistakes fail with a counterexample in plain words; the public
//! check of one submission is fast.
#![cfg(all(feature = "reference", feature = "grader"))]

mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use distlab::catalogue::register::{
    self, first_op, operation, replicas, Op, RegisterMsg, Version, DONE, INITIAL, LATEST, MAX_DELAY, OPS, QUORUMS,
    THINK,
};
use distlab::catalogue::{Run, Scope};
use distlab::process::NodeFactory;
use distlab::*;

/// How a student's register differs from the reference; the last ones are
/// mistakes.
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq)]
struct Knobs {
    /// Majorities for both quorums, and requests first to just enough
    /// replicas (rotating), the rest only on resend.
    lean: bool,
    /// Reads write the value they return back to a write quorum (atomic).
    write_back: bool,
    /// Mistake: a write finishes after N/2 acknowledgements.
    small_writes: bool,
    /// Mistake: a read returns the first reply's value.
    first_reply: bool,
    /// Mistake: versions from the client's own counter, no query.
    local_versions: bool,
    /// Mistake: never resends.
    no_resend: bool,
    /// Mistake: replicas keep their pair only in memory.
    forgetful: bool,
}

const NEXT: TimerTag = 10;
const RESEND: TimerTag = 11;

#[derive(Clone, Copy, Debug, Hash, PartialEq)]
enum Phase {
    Idle,
    Query,
    Store(Version, i64),
}

#[derive(Clone, Debug, Hash)]
struct Student {
    k: Knobs,
    version: Version,
    value: i64,
    done: u64,
    writes: u64,
    phase: Phase,
    /// Answers in arrival order.
    answers: Vec<(NodeId, Version, i64)>,
}

impl Student {
    fn new(k: Knobs) -> Self {
        Student {
            k,
            version: Version::default(),
            value: INITIAL,
            done: 0,
            writes: 0,
            phase: Phase::Idle,
            answers: Vec::new(),
        }
    }

    fn quorums(&self, n: usize) -> (usize, usize) {
        if self.k.lean {
            (n / 2 + 1, n / 2 + 1)
        } else if self.k.small_writes {
            (n - n / 2 + 1, n / 2)
        } else {
            (n - (n / 2 + 1) + 1, n / 2 + 1)
        }
    }

    fn client(ctx: &Ctx<RegisterMsg>) -> usize {
        ctx.me() - replicas(ctx.nodes())
    }

    fn request(&self) -> RegisterMsg {
        let op = self.done + 1;
        match self.phase {
            Phase::Store(version, value) => RegisterMsg::Store { op, version, value },
            _ => RegisterMsg::Query { op },
        }
    }

    fn send(&mut self, ctx: &mut Ctx<RegisterMsg>, all: bool) {
        let n = replicas(ctx.nodes());
        let (nr, nw) = self.quorums(n);
        let want = if matches!(self.phase, Phase::Store(..)) { nw } else { nr };
        let silent: Vec<NodeId> = (0..n)
            .map(|i| (i + ctx.me() + self.done as usize) % n)
            .filter(|r| !self.answers.iter().any(|a| a.0 == *r))
            .collect();
        let take = if self.k.lean && !all { want } else { silent.len() };
        let msg = self.request();
        for &r in silent.iter().take(take) {
            ctx.send(r, msg.clone());
        }
        if !self.k.no_resend {
            ctx.set_timer(RESEND, 2 * MAX_DELAY + if self.k.lean { ms(5) } else { ms(2) });
        }
    }

    fn phase(&mut self, ctx: &mut Ctx<RegisterMsg>, phase: Phase) {
        self.phase = phase;
        self.answers.clear();
        self.send(ctx, false);
    }

    fn start_op(&mut self, ctx: &mut Ctx<RegisterMsg>) {
        match operation(Self::client(ctx), self.done + 1) {
            Op::Write(v) if self.k.local_versions => {
                self.writes += 1;
                self.phase(ctx, Phase::Store(Version { counter: self.writes, writer: ctx.me() }, v));
            }
            _ => self.phase(ctx, Phase::Query),
        }
    }

    /// Leaves the resend timer running: when it fires, it resends for
    /// whatever operation is current, or does nothing.
    fn finish(&mut self, ctx: &mut Ctx<RegisterMsg>, what: Observation) {
        self.done += 1;
        self.phase = Phase::Idle;
        ctx.observe(what);
        if self.done < OPS {
            ctx.set_timer(NEXT, THINK);
        }
    }
}

impl Process<RegisterMsg> for Student {
    fn on_start(&mut self, ctx: &mut Ctx<RegisterMsg>) {
        if ctx.me() >= replicas(ctx.nodes()) {
            ctx.set_timer(NEXT, first_op(Self::client(ctx)));
        }
    }
    fn on_recover(&mut self, ctx: &mut Ctx<RegisterMsg>) {
        if let Some((v, x)) = ctx.recall::<(Version, i64)>("pair") {
            self.version = v;
            self.value = x;
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<RegisterMsg>, from: NodeId, msg: RegisterMsg) {
        let n = replicas(ctx.nodes());
        let (nr, nw) = self.quorums(n);
        let k = self.done + 1;
        match msg {
            RegisterMsg::Query { op } => {
                ctx.send(from, RegisterMsg::Reply { op, version: self.version, value: self.value })
            }
            RegisterMsg::Store { op, version, value } => {
                let kept = (self.version, self.value).max((version, value));
                if kept != (self.version, self.value) {
                    (self.version, self.value) = kept;
                    if !self.k.forgetful {
                        ctx.persist("pair", &kept);
                    }
                }
                ctx.send(from, RegisterMsg::Stored { op });
            }
            RegisterMsg::Reply { op, version, value } if op == k && self.phase == Phase::Query => {
                if self.answers.iter().any(|a| a.0 == from) {
                    return;
                }
                self.answers.push((from, version, value));
                if self.answers.len() < nr {
                    return;
                }
                let best = if self.k.first_reply {
                    self.answers[0]
                } else {
                    *self.answers.iter().max_by_key(|a| (a.1, a.2)).unwrap()
                };
                match operation(Self::client(ctx), k) {
                    Op::Read if self.k.write_back => self.phase(ctx, Phase::Store(best.1, best.2)),
                    Op::Read => self.finish(ctx, Observation::Read { value: best.2 }),
                    Op::Write(v) => {
                        let version = Version { counter: best.1.counter + 1, writer: ctx.me() };
                        self.phase(ctx, Phase::Store(version, v));
                    }
                }
            }
            RegisterMsg::Stored { op } if op == k && matches!(self.phase, Phase::Store(..)) => {
                if self.answers.iter().any(|a| a.0 == from) {
                    return;
                }
                self.answers.push((from, Version::default(), 0));
                if self.answers.len() < nw {
                    return;
                }
                let Phase::Store(_, value) = self.phase else { return };
                match operation(Self::client(ctx), k) {
                    Op::Read => self.finish(ctx, Observation::Read { value }),
                    Op::Write(v) => self.finish(ctx, Observation::Write { value: v }),
                }
            }
            _ => {}
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<RegisterMsg>, timer: TimerTag) {
        match timer {
            NEXT => self.start_op(ctx),
            _ if self.phase != Phase::Idle => self.send(ctx, true),
            _ => {}
        }
    }
}

fn student(k: Knobs) -> Box<NodeFactory<RegisterMsg>> {
    Box::new(move |_| Box::new(Student::new(k)))
}

/// Student seeds: each gives 7 public and 6 hidden simulations.
const SEEDS: u64 = 20;

fn assert_passes(what: &str, make: impl Fn() -> Box<NodeFactory<RegisterMsg>>) {
    let mut sims = BTreeSet::new();
    for seed in 0..SEEDS {
        let report = register::check(make(), &Run::all(seed));
        if let Some(bad) = report.verdicts.iter().find(|v| !v.passed()) {
            panic!("{what}, student seed {seed}: {bad}");
        }
        assert!(report.diagram.is_none());
        assert_eq!(report.score(&register::SPEC, Scope::All), register::SPEC.points as f64);
        sims.extend(report.verdicts.iter().map(|v| (v.scenario.clone(), v.seed)));
    }
    assert!(sims.len() >= 200, "{what}: only {} distinct simulations", sims.len());
    println!("{what}: passes {} simulations", sims.len());
}

#[test]
fn the_reference_passes_every_run() {
    assert_passes("reference", register::reference::factory);
}

#[test]
fn other_correct_designs_pass_every_run() {
    assert_passes("majority quorums, lean requests", || student(Knobs { lean: true, ..Knobs::default() }));
    assert_passes("reads write back", || student(Knobs { write_back: true, ..Knobs::default() }));
}

/// The first public failure of `check` over a few students, which must name
/// its event, say `words` and come with a diagram; returns it with the
/// student seed.
fn assert_caught(k: Knobs, check: &str, words: &[&str]) -> (u64, Verdict) {
    for seed in 0..10 {
        let report = register::check(student(k), &Run::public(seed));
        let Some(v) = report.verdicts.iter().find(|v| v.check == check && !v.passed()) else {
            continue;
        };
        assert_eq!(v.status, Status::Fail, "{v}");
        assert!(v.event.is_some() && v.at.is_some(), "a counterexample names its event: {v}");
        for w in words {
            assert!(v.message.contains(w), "'{w}' not in: {}", v.message);
        }
        assert!(report.diagram.as_deref().is_some_and(|d| d.starts_with("<svg")));
        println!("{k:?}\n  -> {v}");
        return (seed, v.clone());
    }
    panic!("{k:?}: '{check}' never failed in 10 students' public runs");
}

#[test]
fn mistakes_fail_with_a_counterexample_in_plain_words() {
    assert_caught(
        Knobs { small_writes: true, ..Knobs::default() },
        QUORUMS,
        &["acknowledgements from", "more than N/2"],
    );
    assert_caught(Knobs { first_reply: true, ..Knobs::default() }, LATEST, &["must return", "highest version"]);
    assert_caught(Knobs { local_versions: true, ..Knobs::default() }, LATEST, &["ran from", "before the read began"]);
    assert_caught(Knobs { no_resend: true, ..Knobs::default() }, DONE, &["is still waiting", "resend"]);
}

/// The replay of a failure, with the student's seed kept for the variant,
/// gives the same verdict.
#[test]
fn a_failure_replays_exactly() {
    let (seed, v) = assert_caught(Knobs { first_reply: true, ..Knobs::default() }, LATEST, &[]);
    let run = Run::replay_for(seed, &v.scenario, v.seed);
    let again = register::check(student(Knobs { first_reply: true, ..Knobs::default() }), &run);
    let same = again.verdicts.iter().find(|w| w.check == LATEST).unwrap();
    assert_eq!(same, &v);
}

#[derive(Clone, Debug, Hash, Default)]
struct Idle;

impl Process<RegisterMsg> for Idle {
    fn on_message(&mut self, _: &mut Ctx<RegisterMsg>, _: NodeId, _: RegisterMsg) {}
}

#[test]
fn a_node_that_does_nothing_scores_nothing() {
    let report = register::check(Box::new(|_| Box::new(Idle)), &Run::all(3));
    assert_eq!(report.score(&register::SPEC, Scope::All), 0.0, "{:?}", common::failed(&report));
}

#[test]
fn variants_differ_between_students() {
    let variants: BTreeSet<_> = (0..20).map(|s| format!("{:?}", register::variant(s))).collect();
    assert!(variants.len() > 10);
    for s in 0..50 {
        let v = register::variant(s);
        assert!((3..=7).contains(&v.replicas) && v.crashes < v.replicas);
    }
}

#[test]
fn public_check_takes_well_under_a_second() {
    let start = Instant::now();
    let report = register::check(register::reference::factory(), &Run::public(1));
    let took = start.elapsed();
    common::assert_all_pass(&report);
    let runs: BTreeSet<_> = report.verdicts.iter().map(|v| (v.scenario.clone(), v.seed)).collect();
    println!("register: public check, {} runs, {:.0} ms", runs.len(), took.as_secs_f64() * 1000.0);
    let start = Instant::now();
    register::check(register::reference::factory(), &Run::all(1));
    println!("register: grader check (public + hidden), {:.0} ms", start.elapsed().as_secs_f64() * 1000.0);
}

/// Replicas that keep their pair only in memory come back empty; the
/// grader's hidden churn scenario (three replicas crashing one after the
/// other) catches that for some students, not for all: such a read needs
/// the forgetful replica to be the only one its quorum shares with the write.
#[test]
fn forgetful_replicas_are_caught_by_the_hidden_churn() {
    let mut caught = 0;
    for seed in 0..20 {
        let report = register::check(student(Knobs { forgetful: true, ..Knobs::default() }), &Run::all(seed));
        if let Some(v) = report.verdicts.iter().find(|v| !v.passed()) {
            assert!(
                v.message.contains("crashes one after another") || v.scenario.contains("crashes one after another"),
                "{v}"
            );
            assert!(v.message.contains("must return"), "{v}");
            caught += 1;
        }
    }
    println!("forgetful replicas: caught for {caught} of 20 students");
    assert!(caught > 0);
}

#[test]
fn the_grader_path_gives_the_same_verdicts() {
    common::remote_matches_local(&register::SPEC, register::reference::factory, register::check);
}
