//! Notebook 4, clock synchronisation: Cristian's and the Berkeley
//! algorithm. The references and other correct designs pass every check
//! over hundreds of runs with loss, duplicates, crashes and partitions;
//! typical mistakes fail with a counterexample in plain words; the bound
//! is compared with the skew the reference achieves; the public check of
//! one submission is fast.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Instant;

use distlab::catalogue::berkeley::{self, BerkeleyMsg, DAEMON, POLL_EVERY, THRESHOLD, WAIT};
use distlab::catalogue::cristian::{self, CristianMsg, RETRY, SERVER, SYNC_EVERY};
use distlab::catalogue::{ExerciseSpec, Report, Run, Scope};
use distlab::process::NodeFactory;
use distlab::*;

/// Student seeds: each gives 12 or 13 simulations, public and hidden.
const SEEDS: u64 = 20;

fn assert_passes(spec: &ExerciseSpec, what: &str, check: impl Fn(&Run) -> Report) {
    let mut sims = BTreeSet::new();
    for seed in 0..SEEDS {
        let report = check(&Run::all(seed));
        if let Some(bad) = report.verdicts.iter().find(|v| !v.passed()) {
            panic!("{}: {what}, student seed {seed}: {bad}", spec.id);
        }
        assert!(report.diagram.is_none());
        assert_eq!(report.score(spec, Scope::All), spec.points as f64);
        sims.extend(report.verdicts.iter().map(|v| (v.scenario.clone(), v.seed)));
    }
    assert!(sims.len() >= 200, "{what}: only {} distinct simulations", sims.len());
    println!("{}: {what} passes {} simulations", spec.id, sims.len());
}

/// The first public failure of `check` for a few students: it names its
/// event, says `words`, comes with a diagram, and replays exactly.
fn assert_caught(what: &str, check: impl Fn(&Run) -> Report, name: &str, words: &[&str]) {
    for seed in 0..10 {
        let report = check(&Run::public(seed));
        let Some(v) = report.verdicts.iter().find(|v| v.check == name && !v.passed()) else {
            continue;
        };
        assert_eq!(v.status, Status::Fail, "{v}");
        assert!(v.event.is_some() && v.at.is_some(), "a counterexample names its event: {v}");
        for w in words {
            assert!(v.message.contains(w), "{what}: '{w}' not in: {}", v.message);
        }
        assert!(report.diagram.as_deref().is_some_and(|d| d.starts_with("<svg")));
        // The replay keeps the student's seed, which picks their clocks.
        let again = check(&Run::replay_for(seed, &v.scenario, v.seed));
        assert_eq!(again.verdicts.iter().find(|w| w.check == name), Some(v), "{what}: the replay differs");
        println!("{what}\n  -> {v}");
        return;
    }
    panic!("{what}: '{name}' never failed in 10 students' public runs");
}

fn time_public(id: &str, check: impl Fn(&Run) -> Report) {
    let start = Instant::now();
    let report = check(&Run::public(1));
    let took = start.elapsed();
    common::assert_all_pass(&report);
    let runs: BTreeSet<_> = report.verdicts.iter().map(|v| (v.scenario.clone(), v.seed)).collect();
    println!("{id}: public check, {} runs, {:.0} ms", runs.len(), took.as_secs_f64() * 1000.0);
    assert!(took.as_secs_f64() < 1.0);
    let start = Instant::now();
    check(&Run::all(1));
    println!("{id}: grader check (public + hidden), {:.0} ms", start.elapsed().as_secs_f64() * 1000.0);
}

#[derive(Clone, Debug, Hash, Default)]
struct Idle;

impl<M: Message> Process<M> for Idle {
    fn on_message(&mut self, _: &mut Ctx<M>, _: NodeId, _: M) {}
}

// ------------------------------------------------------------ Cristian

#[derive(Clone, Copy, Debug, Default, Hash, PartialEq)]
struct CKnobs {
    /// Next sync `SYNC_EVERY` after each answer instead of a periodic timer.
    after_reply: bool,
    /// The request id is the local send time; no retries (the periodic
    /// timer asks again anyway).
    id_is_time: bool,
    /// Mistake: the server's time as is, without half the round trip.
    no_half: bool,
    /// Mistake: passes the new time to `adjust_clock`, not the change.
    absolute: bool,
    /// Mistake: synchronises once and never again.
    once: bool,
    /// Mistake: asks again after 2 ms.
    eager: bool,
}

const SYNC: TimerTag = 5;
const AGAIN: TimerTag = 6;

#[derive(Clone, Debug, Hash)]
struct StudentCristian {
    k: CKnobs,
    ids: u64,
    latest: Option<(u64, Time)>,
    synced: bool,
}

impl StudentCristian {
    fn ask(&mut self, ctx: &mut Ctx<CristianMsg>) {
        let id = if self.k.id_is_time { ctx.now() as u64 } else { self.ids + 1 };
        self.ids += 1;
        self.latest = Some((id, ctx.now()));
        ctx.send(SERVER, CristianMsg::Request { id });
        if !self.k.id_is_time {
            ctx.set_timer(AGAIN, if self.k.eager { ms(2) } else { RETRY });
        }
    }
}

impl Process<CristianMsg> for StudentCristian {
    fn on_start(&mut self, ctx: &mut Ctx<CristianMsg>) {
        if ctx.me() == SERVER {
            return;
        }
        self.ask(ctx);
        if !self.k.after_reply && !self.k.once {
            ctx.set_timer(SYNC, SYNC_EVERY);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<CristianMsg>, from: NodeId, msg: CristianMsg) {
        match msg {
            CristianMsg::Request { id } => {
                let time = ctx.now();
                ctx.send(from, CristianMsg::Reply { id, time });
            }
            CristianMsg::Reply { id, time } => {
                let Some((latest, sent)) = self.latest else { return };
                if id != latest {
                    return;
                }
                self.latest = None;
                self.synced = true;
                ctx.cancel_timer(AGAIN);
                let now = ctx.now();
                let half = (now - sent + 1) / 2;
                let target = if self.k.no_half { time } else { time + half };
                ctx.adjust_clock(if self.k.absolute { target } else { target - now });
                if self.k.after_reply {
                    ctx.set_timer(SYNC, SYNC_EVERY);
                }
            }
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<CristianMsg>, timer: TimerTag) {
        if timer == SYNC && !self.k.after_reply {
            ctx.set_timer(SYNC, SYNC_EVERY);
        }
        if timer == AGAIN && self.k.once && self.synced {
            return;
        }
        self.ask(ctx);
    }
}

fn cristian_with(k: CKnobs) -> impl Fn(&Run) -> Report {
    move |run| {
        cristian::check(Box::new(move |_| Box::new(StudentCristian { k, ids: 0, latest: None, synced: false })), run)
    }
}

#[test]
fn cristian_reference_and_other_designs_pass() {
    assert_passes(&cristian::SPEC, "reference", |r| cristian::check(cristian::reference::solution(), r));
    assert_passes(
        &cristian::SPEC,
        "next sync after the answer",
        cristian_with(CKnobs { after_reply: true, ..Default::default() }),
    );
    assert_passes(
        &cristian::SPEC,
        "ids are send times, no retries",
        cristian_with(CKnobs { id_is_time: true, ..Default::default() }),
    );
}

#[test]
fn cristian_mistakes_fail_in_plain_words() {
    assert_caught(
        "without half the round trip",
        cristian_with(CKnobs { no_half: true, ..Default::default() }),
        cristian::SKEW,
        &["off the server's", "half the round trip"],
    );
    assert_caught(
        "new time passed as a change",
        cristian_with(CKnobs { absolute: true, ..Default::default() }),
        cristian::SKEW,
        &["off the server's"],
    );
    assert_caught(
        "synchronises once",
        cristian_with(CKnobs { once: true, ..Default::default() }),
        cristian::SCHEDULE,
        &["had not asked again by"],
    );
    assert_caught(
        "retries every 2 ms",
        cristian_with(CKnobs { eager: true, ..Default::default() }),
        cristian::COST,
        &["two per sync"],
    );
}

#[test]
fn cristian_do_nothing_scores_nothing() {
    let report = cristian::check(Box::new(|_| Box::new(Idle)), &Run::all(2));
    assert_eq!(report.score(&cristian::SPEC, Scope::All), 0.0, "{:?}", common::failed(&report));
}

/// The bound against what the reference achieves: the worst skew of any
/// client after its first correction, over the public runs of a few
/// students, next to the bound right after a correction.
#[test]
fn cristian_bound_against_the_reference_skew() {
    let mut worst = 0;
    for seed in 0..5 {
        for s in cristian::scenarios(seed).into_iter().filter(|s| !s.hidden) {
            let trace = simulate_with(&s.scenario, seed, Rc::from(cristian::reference::solution())).unwrap();
            let mut adjust = vec![0; s.scenario.nodes];
            let mut synced = vec![false; s.scenario.nodes];
            for e in &trace.events {
                if let EventKind::ClockAdjust { node, delta } = e.kind {
                    adjust[node] += delta;
                    synced[node] = true;
                    let skew =
                        s.scenario.clock(node).reading(e.at) + adjust[node] - s.scenario.clock(SERVER).reading(e.at);
                    worst = worst.max(skew.abs());
                }
            }
        }
    }
    // Delays 2 to 12 ms: the bound right after a correction is 5 ms plus drift.
    println!(
        "cristian: reference's worst skew right after a correction {:.3} ms; bound 5 ms + drift",
        worst as f64 / 1000.0
    );
    assert!(worst <= ms(5) + 300 && worst > ms(3), "the bound is tight: {worst} us");
}

#[test]
fn cristian_public_check_is_fast() {
    time_public("cristian", |r| cristian::check(cristian::reference::solution(), r));
}

// ------------------------------------------------------------ Berkeley

#[derive(Clone, Copy, Debug, Default, Hash, PartialEq)]
struct BKnobs {
    /// Averages as soon as every machine answered; polls one by one, in
    /// reverse; moves itself before sending corrections.
    early: bool,
    /// Offsets from clock readings taken at the reply's midpoint, a float
    /// average rounded to the nearest microsecond.
    float: bool,
    /// Mistake: every clock counts, outliers too.
    keep_outliers: bool,
    /// Mistake: the daemon's own clock is left out of the average.
    forget_self: bool,
    /// Mistake: sends the new time; machines set their clock to it.
    absolute: bool,
    /// Mistake: waits for every machine, forever.
    wait_all: bool,
    /// Mistake: machines apply every copy of a correction.
    repeat: bool,
}

const POLL: TimerTag = 1;
const DECIDE: TimerTag = 2;

#[derive(Clone, Debug, Hash)]
struct StudentBerkeley {
    k: BKnobs,
    round: u64,
    polled_at: Time,
    offsets: BTreeMap<NodeId, Time>,
    applied: BTreeSet<u64>,
    decided: bool,
}

impl StudentBerkeley {
    fn decide(&mut self, ctx: &mut Ctx<BerkeleyMsg>) {
        if self.decided {
            return;
        }
        self.decided = true;
        ctx.cancel_timer(DECIDE);
        let mut all: Vec<Time> = self.offsets.values().copied().collect();
        if !self.k.forget_self {
            all.push(0);
        }
        let sane: Vec<Time> = all.iter().copied().filter(|o| self.k.keep_outliers || o.abs() <= THRESHOLD).collect();
        let average = if self.k.float {
            (sane.iter().map(|&o| o as f64).sum::<f64>() / sane.len().max(1) as f64).round() as Time
        } else {
            sane.iter().sum::<Time>() / sane.len().max(1) as Time
        };
        if self.k.early {
            ctx.adjust_clock(average);
        }
        let now = ctx.now();
        for (&m, &offset) in &self.offsets {
            let delta = if self.k.absolute { now + average } else { average - offset };
            ctx.send(m, BerkeleyMsg::Adjust { round: self.round, delta });
        }
        if !self.k.early {
            ctx.adjust_clock(average);
        }
    }
}

impl Process<BerkeleyMsg> for StudentBerkeley {
    fn on_start(&mut self, ctx: &mut Ctx<BerkeleyMsg>) {
        if ctx.me() == DAEMON {
            self.on_timer(ctx, POLL);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<BerkeleyMsg>, from: NodeId, msg: BerkeleyMsg) {
        match msg {
            BerkeleyMsg::Poll { round } => {
                let time = ctx.now();
                ctx.send(from, BerkeleyMsg::Clock { round, time });
            }
            BerkeleyMsg::Clock { round, time } => {
                if round != self.round || self.decided {
                    return;
                }
                let now = ctx.now();
                let offset = if self.k.float {
                    let midpoint = (self.polled_at as f64 + now as f64) / 2.0;
                    (time as f64 - midpoint).round() as Time
                } else {
                    time + (now - self.polled_at) / 2 - now
                };
                self.offsets.entry(from).or_insert(offset);
                if (self.k.early || self.k.wait_all) && self.offsets.len() == ctx.nodes() - 1 {
                    self.decide(ctx);
                }
            }
            BerkeleyMsg::Adjust { round, delta } => {
                if self.applied.insert(round) || self.k.repeat {
                    ctx.adjust_clock(if self.k.absolute { delta - ctx.now() } else { delta });
                }
            }
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<BerkeleyMsg>, timer: TimerTag) {
        if timer == DECIDE {
            return self.decide(ctx);
        }
        self.round += 1;
        self.polled_at = ctx.now();
        self.offsets.clear();
        self.decided = false;
        let machines: Vec<NodeId> = ctx.peers().collect();
        if self.k.early {
            for &m in machines.iter().rev() {
                ctx.send(m, BerkeleyMsg::Poll { round: self.round });
            }
        } else {
            ctx.broadcast(BerkeleyMsg::Poll { round: self.round });
        }
        if !self.k.wait_all {
            ctx.set_timer(DECIDE, WAIT);
        }
        ctx.set_timer(POLL, POLL_EVERY);
    }
}

fn berkeley_factory(k: BKnobs) -> Box<NodeFactory<BerkeleyMsg>> {
    Box::new(move |_| {
        Box::new(StudentBerkeley {
            k,
            round: 0,
            polled_at: 0,
            offsets: BTreeMap::new(),
            applied: BTreeSet::new(),
            decided: true,
        })
    })
}

fn berkeley_with(k: BKnobs) -> impl Fn(&Run) -> Report {
    move |run| berkeley::check(berkeley_factory(k), run)
}

#[test]
fn berkeley_reference_and_other_designs_pass() {
    assert_passes(&berkeley::SPEC, "reference", |r| berkeley::check(berkeley::reference::solution(), r));
    assert_passes(
        &berkeley::SPEC,
        "early average, polls one by one",
        berkeley_with(BKnobs { early: true, ..Default::default() }),
    );
    assert_passes(
        &berkeley::SPEC,
        "offsets from midpoints, float average",
        berkeley_with(BKnobs { float: true, ..Default::default() }),
    );
}

#[test]
fn berkeley_mistakes_fail_in_plain_words() {
    assert_caught(
        "outliers averaged in",
        berkeley_with(BKnobs { keep_outliers: true, ..Default::default() }),
        berkeley::AVERAGE,
        &["far-off clock(s)", "counted in"],
    );
    assert_caught(
        "daemon forgets its own clock",
        berkeley_with(BKnobs { forget_self: true, ..Default::default() }),
        berkeley::AVERAGE,
        &["without the daemon's own clock"],
    );
    assert_caught(
        "absolute times instead of changes",
        berkeley_with(BKnobs { absolute: true, ..Default::default() }),
        berkeley::DELTAS,
        &["clock reading, not a change"],
    );
    assert_caught(
        "waits for every machine",
        berkeley_with(BKnobs { wait_all: true, ..Default::default() }),
        berkeley::AGREE,
        &["got no correction after"],
    );
    assert_caught(
        "applies repeated corrections",
        berkeley_with(BKnobs { repeat: true, ..Default::default() }),
        berkeley::DELTAS,
        &["without a new correction"],
    );
}

#[test]
fn berkeley_do_nothing_scores_nothing() {
    let report = berkeley::check(Box::new(|_| Box::new(Idle)), &Run::all(2));
    assert_eq!(report.score(&berkeley::SPEC, Scope::All), 0.0, "{:?}", common::failed(&report));
}

/// The spread the reference achieves among the clocks, against the bound
/// of the agreement check (four estimation errors, 8 ms here).
#[test]
fn berkeley_spread_of_the_reference() {
    let mut worst = 0;
    for seed in 0..5 {
        let s = &berkeley::scenarios(seed)[0].scenario;
        let trace = simulate_with(s, seed, Rc::from(berkeley::reference::solution())).unwrap();
        let mut adjust = vec![0; s.nodes];
        for e in &trace.events {
            if let EventKind::ClockAdjust { node, delta } = e.kind {
                adjust[node] += delta;
            }
            // After the first round every clock has been corrected.
            if e.at > POLL_EVERY {
                let readings: Vec<Time> = (0..s.nodes).map(|n| s.clock(n).reading(e.at) + adjust[n]).collect();
                worst = worst.max(readings.iter().max().unwrap() - readings.iter().min().unwrap());
            }
        }
    }
    println!("berkeley: reference's worst spread after the first round {:.3} ms; allowed 8 ms", worst as f64 / 1000.0);
    assert!(worst < ms(8));
}

#[test]
fn berkeley_public_check_is_fast() {
    time_public("berkeley", |r| berkeley::check(berkeley::reference::solution(), r));
}

#[test]
fn variants_differ_between_students() {
    let c: BTreeSet<String> = (0..20).map(|s| format!("{:?}", cristian::variant(s))).collect();
    let b: BTreeSet<String> = (0..20).map(|s| format!("{:?}", berkeley::variant(s))).collect();
    assert_eq!((c.len(), b.len()), (20, 20));
    for s in 0..50 {
        let v = berkeley::variant(s);
        assert!((1..=v.machines).contains(&v.outlier));
    }
}

#[test]
fn the_grader_path_gives_the_same_verdicts() {
    common::remote_matches_local(&cristian::SPEC, cristian::reference::solution, cristian::check);
    common::remote_matches_local(&berkeley::SPEC, berkeley::reference::solution, berkeley::check);
}
