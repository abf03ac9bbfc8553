//! Notebook 10, the quorum-replicated register: the reference and other
//! correct designs pass every check over hundreds of runs with faults;
//! typical mistakes fail with a counterexample in plain words; the public
//! check of one submission is fast.
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
    /// Mistake: replicas persist their pair but never read it back (the
    /// scaffold's `on_recover`, which only calls `on_start`).
    no_recall: bool,
    /// Mistake: versions compared by counter only, at replicas and in reads
    /// (the first of equal counters wins).
    counter_only: bool,
    /// Mistake: replicas keep whatever `Store` arrives last.
    overwrite: bool,
    /// Mistake: counts answers, not replicas, and resends to everyone.
    count_answers: bool,
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
            .filter(|r| self.k.count_answers || !self.answers.iter().any(|a| a.0 == *r))
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
        if self.k.no_recall {
            return self.on_start(ctx);
        }
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
                let kept = if self.k.overwrite || (self.k.counter_only && version.counter > self.version.counter) {
                    (version, value)
                } else if self.k.counter_only {
                    (self.version, self.value)
                } else {
                    (self.version, self.value).max((version, value))
                };
                if kept != (self.version, self.value) {
                    (self.version, self.value) = kept;
                    if !self.k.forgetful {
                        ctx.persist("pair", &kept);
                    }
                }
                ctx.send(from, RegisterMsg::Stored { op });
            }
            RegisterMsg::Reply { op, version, value } if op == k && self.phase == Phase::Query => {
                if self.answers.iter().any(|a| a.0 == from) && !self.k.count_answers {
                    return;
                }
                self.answers.push((from, version, value));
                if self.answers.len() < nr {
                    return;
                }
                let best = if self.k.first_reply {
                    self.answers[0]
                } else if self.k.counter_only {
                    let top = self.answers.iter().map(|a| a.1.counter).max().unwrap();
                    *self.answers.iter().find(|a| a.1.counter == top).unwrap()
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
                if self.answers.iter().any(|a| a.0 == from) && !self.k.count_answers {
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
    assert_passes("reference", register::reference::solution);
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
    let report = register::check(register::reference::solution(), &Run::public(1));
    let took = start.elapsed();
    common::assert_all_pass(&report);
    let runs: BTreeSet<_> = report.verdicts.iter().map(|v| (v.scenario.clone(), v.seed)).collect();
    println!("register: public check, {} runs, {:.0} ms", runs.len(), took.as_secs_f64() * 1000.0);
    let start = Instant::now();
    register::check(register::reference::solution(), &Run::all(1));
    println!("register: grader check (public + hidden), {:.0} ms", start.elapsed().as_secs_f64() * 1000.0);
}

/// Every correct design passes every check, public and hidden, for 200
/// students' seeds: the checks added for the mistakes below fail no one.
#[test]
fn correct_designs_pass_for_200_students() {
    let start = Instant::now();
    let designs = [
        Knobs::default(),
        Knobs { lean: true, ..Knobs::default() },
        Knobs { write_back: true, ..Knobs::default() },
        Knobs { lean: true, write_back: true, ..Knobs::default() },
    ];
    for seed in 0..200 {
        let reference = register::check(register::reference::solution(), &Run::all(seed));
        assert!(
            reference.verdicts.iter().all(|v| v.passed()),
            "reference, seed {seed}: {:?}",
            common::failed(&reference)
        );
        for k in designs {
            let report = register::check(student(k), &Run::all(seed));
            assert!(report.verdicts.iter().all(|v| v.passed()), "{k:?}, seed {seed}: {:?}", common::failed(&report));
        }
    }
    println!("register: 5 correct designs x 200 students in {:.1} s", start.elapsed().as_secs_f64());
}

/// A mistake must fail for every student, whatever the seed: the public
/// check fails `check` (a plain-words message with `words`, a named event
/// and a diagram) for each of `seeds` student seeds.
fn assert_caught_for_every_student(k: Knobs, check: &str, words: &[&str], seeds: u64) {
    let mut checks = std::collections::BTreeMap::<String, u64>::new();
    for seed in 0..seeds {
        let report = register::check(student(k), &Run::public(seed));
        let failed: Vec<&Verdict> = report.verdicts.iter().filter(|v| !v.passed()).collect();
        let Some(v) = failed.iter().find(|v| v.check == check).or(failed.first()) else {
            panic!("{k:?}: student seed {seed} passes every public check");
        };
        assert_eq!(v.status, Status::Fail, "{v}");
        assert!(v.event.is_some() && v.at.is_some(), "a counterexample names its event: {v}");
        assert!(report.diagram.as_deref().is_some_and(|d| d.starts_with("<svg")), "{k:?}: no diagram");
        if v.check == check {
            for w in words {
                assert!(v.message.contains(w), "'{w}' not in: {}", v.message);
            }
        }
        *checks.entry(v.check.clone()).or_default() += 1;
        if seed == 0 {
            println!("{k:?}\n  -> {v}");
        }
    }
    println!("  caught for all {seeds} students by {checks:?}");
    assert!(checks.contains_key(check), "{k:?}: '{check}' never failed: {checks:?}");
}

/// Student seeds for the mistakes below: each must be caught for all.
const MISTAKE_SEEDS: u64 = 24;

/// Replicas that keep their pair only in memory come back empty after a
/// crash: the replica that crashes in the public scenario answers with an
/// older version than it was sent, for every student.
#[test]
fn forgetful_replicas_are_caught_for_every_student() {
    let forgot = ["must never go back to an older version", "ctx.persist", "on_recover"];
    assert_caught_for_every_student(Knobs { forgetful: true, ..Knobs::default() }, LATEST, &forgot, MISTAKE_SEEDS);
    assert_caught_for_every_student(Knobs { no_recall: true, ..Knobs::default() }, LATEST, &forgot, MISTAKE_SEEDS);
}

/// Replicas that keep the last `Store` that arrives, or compare counters
/// only, go back to older versions; reads that compare counters only
/// return an older write.
#[test]
fn replicas_that_lose_the_newest_version_are_caught_for_every_student() {
    assert_caught_for_every_student(
        Knobs { overwrite: true, ..Knobs::default() },
        LATEST,
        &["must never go back to an older version", "newer than the one it holds"],
        MISTAKE_SEEDS,
    );
    assert_caught_for_every_student(Knobs { counter_only: true, ..Knobs::default() }, LATEST, &[], MISTAKE_SEEDS);
}

/// A client that counts answers rather than replicas, and resends to all,
/// finishes a write on two acknowledgements from one replica.
#[test]
fn counting_answers_not_replicas_is_caught_for_every_student() {
    assert_caught_for_every_student(
        Knobs { count_answers: true, ..Knobs::default() },
        QUORUMS,
        &["replica(s)"],
        MISTAKE_SEEDS,
    );
}

#[test]
fn the_grader_path_gives_the_same_verdicts() {
    common::remote_matches_local(&register::SPEC, register::reference::solution, register::check);
}
