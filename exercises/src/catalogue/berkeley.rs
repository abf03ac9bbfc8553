//! Notebook 4: the Berkeley algorithm. Node 0 is the time daemon; nobody
//! has the true time. Every `POLL_EVERY` the daemon asks every machine for
//! its clock, estimates each machine's offset from its own clock (the reply
//! plus half the round trip), averages the offsets of the clocks that are
//! not far off, its own included, and sends each machine that answered the
//! change that brings it to the average. It moves its own clock too.
//!
//! Decisions, stated in the task too:
//! - Outliers: a clock more than `THRESHOLD` away from the daemon's own is
//!   left out of the average (the daemon's clock is taken to be sane) but
//!   still gets its correction.
//! - Corrections are changes (`Adjust { delta }`), not times: a time would be
//!   stale by the message's delay when it arrives; a change is not. A
//!   machine applies each round's change once, as sent.
//! - Faults: the daemon waits at most a while for replies and works with the
//!   clocks that answered, so a lost message or a crashed machine costs that
//!   machine one round, not everybody.
//!
//! The checks recompute every clock from the scenario's clock models: each
//! correction the daemon sends must aim at the fair average (within twice
//! the estimation error, half the spread of the delays), each applied
//! correction must land near the daemon's clock, and after the faults every
//! live clock is corrected again and all agree.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::timesync::{delay_range, draw_clocks, fmt_skew, handler_opened, Readings, BASE, ROUNDING};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, RunEnd, Step, NODES_RUN_CLEANLY};
use crate::faults::fmt_time;
use crate::network::ClockModel;
use crate::process::NodeFactory;
use crate::rng::{Draw, SeededRng};
use crate::scenario::Scenario;
use crate::trace::{Dest, EventKind};
use crate::{ms, Delay, Network, NodeId, Time};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BerkeleyMsg {
    /// Daemon to machine: what does your clock say? `round` numbers the poll.
    Poll { round: u64 },
    /// Machine to daemon: my clock's reading when the poll arrived.
    Clock { round: u64, time: Time },
    /// Daemon to machine: move your clock by `delta`.
    Adjust { round: u64, delta: Time },
}

/// The time daemon.
pub const DAEMON: NodeId = 0;
/// The daemon starts a round this often, by its own clock (the first at start).
pub const POLL_EVERY: Time = ms(100);
/// How long the daemon waits for replies before it averages what it has.
pub const WAIT: Time = ms(20);
/// A clock further than this from the daemon's is left out of the average.
pub const THRESHOLD: Time = ms(100);

pub const NEAR: &str = "each correction lands near the daemon's clock";
pub const AVERAGE: &str = "the average counts the daemon and leaves out outliers";
pub const DELTAS: &str = "corrections are changes, applied once as sent";
pub const AGREE: &str = "after faults every clock is corrected and all agree";
pub const COST: &str = "three messages per machine per round";

/// Liveness: how long after the last fault every live clock must have been
/// corrected again. Ten rounds: on a network that loses one message in ten,
/// a machine misses a round one time in four.
pub const DEADLINE: Time = ms(1_000);

/// No correction is anywhere near this large; a clock reading is.
pub const LARGEST_CORRECTION: Time = ms(2_000);

/// Error bounds of one scenario, from its delays and clocks.
#[derive(Clone, Debug, Hash)]
struct Bounds {
    /// Half the spread of the delays: the error of one offset estimate.
    estimate: Time,
    /// The longest delay, for drift over a round trip.
    dmax: Time,
}

impl Bounds {
    fn new(scenario: &Scenario) -> Self {
        let (dmin, dmax) = delay_range(&scenario.network.delay);
        Bounds { estimate: (dmax - dmin) / 2, dmax }
    }
    /// Error of the daemon's estimate of `node`'s offset.
    fn of(&self, r: &Readings, node: NodeId) -> Time {
        self.estimate + ((r.drift(node).abs() + r.drift(DAEMON).abs()) * self.dmax as f64).ceil() as Time + ROUNDING
    }
    /// How far `node`'s clock and the daemon's drift apart in `span`.
    fn drift(r: &Readings, node: NodeId, span: Time) -> Time {
        ((r.drift(node) - r.drift(DAEMON)).abs() * span.max(0) as f64).ceil() as Time
    }
}

/// Follows the rounds: when the daemon polled, and whose replies reached it.
#[derive(Clone, Debug, Hash, Default)]
struct Rounds {
    round: Option<u64>,
    polled_at: Time,
    answered: BTreeSet<NodeId>,
}

impl Rounds {
    fn step(&mut self, step: &Step<'_, BerkeleyMsg>) {
        match (step.kind, step.msg) {
            (EventKind::Send { from: DAEMON, .. }, Some(BerkeleyMsg::Poll { round })) if self.round != Some(*round) => {
                self.round = Some(*round);
                self.polled_at = step.at;
                self.answered.clear();
            }
            (EventKind::Deliver { from, to: DAEMON, .. }, Some(BerkeleyMsg::Clock { round, .. }))
                if self.round == Some(*round) =>
            {
                self.answered.insert(*from);
            }
            _ => {}
        }
    }
}

/// Each correction a machine applies brings it within one estimate's error
/// of the daemon's clock (which has moved to the average already).
#[derive(Clone, Debug, Hash)]
pub struct LandsNear {
    readings: Readings,
    bounds: Bounds,
    rounds: Rounds,
    judged: usize,
}

impl LandsNear {
    pub fn new(scenario: &Scenario) -> Self {
        LandsNear {
            readings: Readings::new(scenario),
            bounds: Bounds::new(scenario),
            rounds: Rounds::default(),
            judged: 0,
        }
    }
}

impl Monitor<BerkeleyMsg> for LandsNear {
    fn name(&self) -> String {
        NEAR.into()
    }
    fn on_event(&mut self, step: &Step<'_, BerkeleyMsg>) -> Result<(), String> {
        self.readings.step(step.kind);
        self.rounds.step(step);
        if let EventKind::ClockAdjust { node, delta } = step.kind {
            if *node == DAEMON {
                return Ok(());
            }
            let r = &self.readings;
            let t = step.at;
            let off = r.at(*node, t) - r.at(DAEMON, t);
            let bound = self.bounds.of(r, *node) + Bounds::drift(r, *node, t - self.rounds.polled_at);
            self.judged += 1;
            if off.abs() > bound {
                return Err(format!(
                    "node {node} moved its clock by {} at {} and ended up {} from the daemon's clock; a correction \
                     should land within {} (half the spread of the delays, plus drift): did the daemon move its own \
                     clock to the average, and compute each change from the offset it estimated?",
                    fmt_skew(*delta),
                    fmt_time(t),
                    fmt_skew(off),
                    fmt_skew(bound).trim_start_matches('+')
                ));
            }
        }
        Ok(())
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        if self.judged == 0 {
            return Err("no machine ever moved its clock, so there was no correction to judge".into());
        }
        Ok(())
    }
}

/// Each correction the daemon sends aims at the average of the clocks that
/// answered this round and are within `THRESHOLD` of the daemon's, the
/// daemon's own included.
#[derive(Clone, Debug, Hash)]
pub struct FairAverage {
    readings: Readings,
    bounds: Bounds,
    rounds: Rounds,
    judged: usize,
}

impl FairAverage {
    pub fn new(scenario: &Scenario) -> Self {
        FairAverage {
            readings: Readings::new(scenario),
            bounds: Bounds::new(scenario),
            rounds: Rounds::default(),
            judged: 0,
        }
    }

    /// The mean reading of `nodes` at `t`, as the daemon's handler found them.
    fn mean(&self, nodes: &[NodeId], t: Time) -> Time {
        let sum: i128 = nodes.iter().map(|&n| self.readings.before_handler(n, t) as i128).sum();
        (sum / nodes.len().max(1) as i128) as Time
    }

    fn judge(&mut self, to: NodeId, delta: Time, t: Time) -> Result<(), String> {
        let r = &self.readings;
        if !self.rounds.answered.contains(&to) {
            return Err(format!(
                "the daemon sent a correction to node {to} at {}, but node {to} did not answer this round's poll: \
                 the daemon knows nothing of its clock, so it must leave it alone this round",
                fmt_time(t)
            ));
        }
        let daemon = r.before_handler(DAEMON, t);
        let asked: Vec<NodeId> = std::iter::once(DAEMON).chain(self.rounds.answered.iter().copied()).collect();
        let good: Vec<NodeId> =
            asked.iter().copied().filter(|&n| (r.before_handler(n, t) - daemon).abs() <= THRESHOLD).collect();
        let fair = self.mean(&good, t);
        let target = r.before_handler(to, t) + delta;
        let slack: Time = 2 * asked.iter().map(|&n| self.bounds.of(r, n)).max().unwrap_or(0)
            + asked.iter().map(|&n| Bounds::drift(r, n, t - self.rounds.polled_at)).max().unwrap_or(0);
        self.judged += 1;
        if (target - fair).abs() <= slack {
            return Ok(());
        }
        let near = |x: Time| (target - x).abs() <= slack;
        let hint = if good.len() < asked.len() && near(self.mean(&asked, t)) {
            let far: Vec<NodeId> = asked.iter().copied().filter(|n| !good.contains(n)).collect();
            format!(" It matches the average with the far-off clock(s) of {far:?} counted in: leave out clocks more than {} from the daemon's.", fmt_time(THRESHOLD))
        } else if good.len() > 1 && near(self.mean(&good[1..], t)) {
            " It matches the average without the daemon's own clock: the daemon's clock counts too.".to_string()
        } else {
            String::new()
        };
        Err(format!(
            "at {} the daemon told node {to} to move by {}, which would put it {} from the average of the sane \
             clocks that answered (nodes {good:?}, the daemon's included); allowed: {} (twice the estimation error).{hint}",
            fmt_time(t),
            fmt_skew(delta),
            fmt_skew(target - fair),
            fmt_skew(slack).trim_start_matches('+'),
        ))
    }
}

impl Monitor<BerkeleyMsg> for FairAverage {
    fn name(&self) -> String {
        AVERAGE.into()
    }
    fn on_event(&mut self, step: &Step<'_, BerkeleyMsg>) -> Result<(), String> {
        self.readings.step(step.kind);
        self.rounds.step(step);
        if let (EventKind::Send { from: DAEMON, to, .. }, Some(BerkeleyMsg::Adjust { delta, .. })) =
            (step.kind, step.msg)
        {
            match to {
                Dest::Node(to) => self.judge(*to, *delta, step.at)?,
                Dest::AllOthers => {
                    return Err("the daemon broadcast one correction to everyone: each machine needs its own".into())
                }
            }
        }
        Ok(())
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        if self.judged == 0 {
            return Err("the daemon never sent a correction, so there was no average to judge".into());
        }
        Ok(())
    }
}

/// Corrections are small changes; a machine applies the first copy of each
/// round's correction exactly as sent, ignores further copies, and moves its
/// clock only when told to.
#[derive(Clone, Debug, Hash)]
pub struct AppliedAsSent {
    /// The handler open on each node: the correction it got, if any, and
    /// whether it already moved the clock in this handler.
    open: Vec<Option<(Option<Time>, bool, Time)>>,
    applied: BTreeSet<(NodeId, u64)>,
    seen: usize,
}

impl AppliedAsSent {
    pub fn new(scenario: &Scenario) -> Self {
        AppliedAsSent { open: vec![None; scenario.nodes], applied: BTreeSet::new(), seen: 0 }
    }

    fn close(&mut self, node: NodeId) -> Result<(), String> {
        if let Some((Some(delta), false, at)) = self.open[node].take() {
            return Err(format!(
                "node {node} got a correction of {} at {} and did not move its clock",
                fmt_skew(delta),
                fmt_time(at)
            ));
        }
        Ok(())
    }
}

impl Monitor<BerkeleyMsg> for AppliedAsSent {
    fn name(&self) -> String {
        DELTAS.into()
    }
    fn on_event(&mut self, step: &Step<'_, BerkeleyMsg>) -> Result<(), String> {
        if let Some(node) = handler_opened(step.kind) {
            self.close(node)?;
            let expect = match (step.kind, step.msg) {
                (EventKind::Deliver { to, .. }, Some(BerkeleyMsg::Adjust { round, delta })) => {
                    self.applied.insert((*to, *round)).then_some(*delta)
                }
                _ => None,
            };
            self.open[node] = Some((expect, false, step.at));
        }
        match (step.kind, step.msg) {
            (EventKind::Send { from, to, .. }, Some(BerkeleyMsg::Adjust { delta, .. })) => {
                self.seen += 1;
                if delta.abs() > LARGEST_CORRECTION {
                    return Err(format!(
                        "node {from} sent {to} a correction of {}: that is a clock reading, not a change. Send \
                         the difference between the average and the machine's clock; a time would be stale by the \
                         message's delay when it arrives",
                        fmt_skew(*delta)
                    ));
                }
            }
            (EventKind::ClockAdjust { node, delta }, _) if *node != DAEMON => {
                let open = self.open[*node].as_mut();
                match open {
                    Some((Some(sent), moved @ false, _)) if sent == delta => *moved = true,
                    Some((Some(sent), _, _)) => {
                        return Err(format!(
                            "node {node} got a correction of {} and moved its clock by {}: apply the change as \
                             sent, once (it is already relative to your clock)",
                            fmt_skew(*sent),
                            fmt_skew(*delta)
                        ))
                    }
                    _ => {
                        return Err(format!(
                            "node {node} moved its clock by {} at {} without a new correction from the daemon \
                             (a second copy of a round's correction must be ignored)",
                            fmt_skew(*delta),
                            fmt_time(step.at)
                        ))
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        for node in 0..self.open.len() {
            self.close(node)?;
        }
        if self.seen == 0 {
            return Err("the daemon never sent a correction, so there was nothing to judge".into());
        }
        Ok(())
    }
}

/// Bounded liveness: by `DEADLINE` after the last fault every live machine
/// has applied a correction since that fault, and the live clocks lie within
/// four estimation errors of each other. Holds at the end too.
#[derive(Clone, Debug, Hash)]
pub struct AllAgree {
    readings: Readings,
    spread: Time,
    quiet: Time,
    corrected: Vec<Option<Time>>,
    now: Time,
}

impl AllAgree {
    pub fn new(scenario: &Scenario) -> Self {
        let readings = Readings::new(scenario);
        let bounds = Bounds::new(scenario);
        let spread = 4 * (0..scenario.nodes).map(|n| bounds.of(&readings, n)).max().unwrap_or(0);
        AllAgree {
            readings,
            spread,
            quiet: scenario.schedule.quiet_after(),
            corrected: vec![None; scenario.nodes],
            now: 0,
        }
    }

    fn agree(&self, t: Time) -> Result<(), String> {
        let live: Vec<NodeId> = (0..self.corrected.len()).filter(|&n| self.readings.up[n]).collect();
        if let Some(&n) = live.iter().find(|&&n| n != DAEMON && self.corrected[n].is_none_or(|c| c < self.quiet)) {
            return Err(format!(
                "node {n} got no correction after {} (the last fault); the daemon must keep polling and correct \
                 the machines that answer, without waiting for the ones that don't",
                fmt_time(self.quiet)
            ));
        }
        let readings: Vec<(Time, NodeId)> = live.iter().map(|&n| (self.readings.at(n, t), n)).collect();
        let (Some(lo), Some(hi)) = (readings.iter().min(), readings.iter().max()) else {
            return Ok(());
        };
        if hi.0 - lo.0 > self.spread {
            return Err(format!(
                "at {} node {}'s clock was {} ahead of node {}'s; after the corrections all clocks should lie within {}",
                fmt_time(t),
                hi.1,
                fmt_skew(hi.0 - lo.0).trim_start_matches('+'),
                lo.1,
                fmt_skew(self.spread).trim_start_matches('+')
            ));
        }
        Ok(())
    }
}

impl Monitor<BerkeleyMsg> for AllAgree {
    fn name(&self) -> String {
        AGREE.into()
    }
    fn on_event(&mut self, step: &Step<'_, BerkeleyMsg>) -> Result<(), String> {
        self.readings.step(step.kind);
        self.now = step.at;
        match step.kind {
            EventKind::ClockAdjust { node, .. } => self.corrected[*node] = Some(step.at),
            EventKind::Crash { node } => self.corrected[*node] = None,
            _ => {}
        }
        Ok(())
    }
    fn deadline(&self) -> Option<Time> {
        Some(DEADLINE)
    }
    fn settled(&self) -> Result<(), String> {
        self.agree(self.now)
    }
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        self.agree(end.end)
    }
}

/// At most one round per `POLL_EVERY` (by the daemon's clock), and per round
/// a poll, a reply and a correction per machine.
#[derive(Clone, Debug, Hash)]
pub struct ThreePerMachine {
    budget: usize,
    rounds: usize,
}

impl ThreePerMachine {
    pub fn new(scenario: &Scenario) -> Self {
        let rounds = (scenario.until / scenario.clock(DAEMON).true_span(POLL_EVERY)) as usize + 1;
        ThreePerMachine { budget: 3 * (scenario.nodes - 1) * rounds, rounds }
    }
}

impl Monitor<BerkeleyMsg> for ThreePerMachine {
    fn name(&self) -> String {
        COST.into()
    }
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        let c = end.counters;
        if c.by_kind.get("Adjust").copied().unwrap_or(0) == 0 {
            return Err("the daemon never sent a correction, so there was no round to count".into());
        }
        // A doubled poll is answered twice.
        if c.sent > self.budget + c.duplicated {
            let kinds: Vec<String> = c.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
            return Err(format!(
                "{} messages ({}); this run allows {}: {} rounds (one per {}) of a poll, a reply and a correction \
                 per machine, plus a reply per doubled message",
                c.sent,
                kinds.join(", "),
                self.budget + c.duplicated,
                self.rounds,
                fmt_time(POLL_EVERY)
            ));
        }
        Ok(())
    }
}

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<BerkeleyMsg>>> {
    vec![
        Box::new(LandsNear::new(scenario)),
        Box::new(FairAverage::new(scenario)),
        Box::new(AppliedAsSent::new(scenario)),
        Box::new(AllAgree::new(scenario)),
        Box::new(ThreePerMachine::new(scenario)),
    ]
}

/// The student's own clocks: the daemon starts 40 to 70 ms ahead of the
/// others (so leaving it out of the average shows), the machines within
/// 15 ms of each other, drifting up to 0.2 %, and one machine far off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub machines: usize,
    /// The machine whose clock is far off.
    pub outlier: NodeId,
    pub clocks: Vec<ClockModel>,
}

const MAX_NODES: usize = 8;

pub fn variant(seed: u64) -> Variant {
    let mut clocks = draw_clocks(seed, 0x6265_726b, MAX_NODES, 0.002, ms(15));
    let mut rng = SeededRng::new(seed, 0x6f75_746c);
    clocks[DAEMON].offset = BASE + ms(40) + rng.below(30_000) as Time;
    let machines = 4 + rng.below(2) as usize;
    let outlier = 1 + rng.below(machines as u64) as NodeId;
    let far = ms(300) + rng.below(200_000) as Time;
    clocks[outlier].offset = BASE + if rng.below(2) == 0 { far } else { -far };
    Variant { machines, outlier, clocks }
}

/// Delays of the public scenarios: 2 to 6 ms, so one offset estimate may be
/// off by up to 2 ms.
pub const DELAY: Delay = Delay::Uniform { min: ms(2), max: ms(6) };

fn scenario(name: &str, v: &Variant, machines: usize, network: Network) -> Scenario {
    Scenario { network, clocks: v.clocks[..=machines].to_vec(), until: ms(1_200), ..Scenario::new(name, machines + 1) }
}

pub fn scenarios(seed: u64) -> Vec<ScenarioRuns> {
    use crate::{Fault, Schedule};
    let v = variant(seed);
    let calm =
        scenario("calm network, one clock far off", &v, v.machines, Network { delay: DELAY, ..Network::default() });
    let mut crash = scenario(
        "10% loss and duplicates, a machine crashes",
        &v,
        v.machines,
        Network { delay: DELAY, loss: 0.1, duplicate: 0.1, ..Network::default() },
    );
    crash.schedule = Schedule {
        name: "node 1 down from 250 to 400 ms".into(),
        faults: vec![Fault::Crash { node: 1, at: ms(250) }, Fault::Recover { node: 1, at: ms(400) }],
    };
    crash.until = ms(400) + DEADLINE + ms(100);
    let mut runs = vec![ScenarioRuns::public(calm, 3), ScenarioRuns::public(crash, 3)];
    runs.extend(hidden_scenarios(&v));
    runs
}

super::hidden! {
    /// Hidden: a machine that never comes back, a partition, wide delays with
    /// more machines.
    fn hidden_scenarios(v: &Variant) -> Vec<ScenarioRuns> {
        use crate::{Fault, Schedule};
        let lossy = Network { delay: DELAY, loss: 0.1, duplicate: 0.1, ..Network::default() };
        let mut gone = scenario("a machine crashes for good", v, 4, lossy.clone());
        gone.schedule =
            Schedule { name: "node 2 crashes at 150 ms".into(), faults: vec![Fault::Crash { node: 2, at: ms(150) }] };
        let mut split = scenario("two machines cut off for a while", v, 5, lossy);
        split.schedule = Schedule {
            name: "{0,1,2,3} | {4,5} from 100 to 350 ms".into(),
            faults: vec![Fault::Partition { a: vec![0, 1, 2, 3], b: vec![4, 5], start: ms(100), end: ms(350) }],
        };
        split.until = ms(350) + DEADLINE + ms(100);
        let wide = Network { delay: Delay::Uniform { min: ms(1), max: ms(9) }, duplicate: 0.2, ..Network::default() };
        let wide = scenario("7 machines, 1-9 ms, duplicates", v, 7, wide);
        vec![ScenarioRuns::hidden(gone, 2), ScenarioRuns::hidden(split, 2), ScenarioRuns::hidden(wide, 2)]
    }
}

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "berkeley",
    title: "Clock synchronisation: the Berkeley algorithm",
    notebook: 4,
    position: 3,
    points: 10,
    task: "Write a node for `BerkeleyMsg`. Node 0 is the time daemon; the others are machines. No \
           clock is exact: they drift, and one machine's clock starts far off.\n\n\
           - **Daemon**: at start and then every `POLL_EVERY` of its own clock, start round `r`: note \
           `ctx.now()` and send `Poll { round: r }` to every machine. For each `Clock { round: r, time }` \
           that comes back, estimate that machine's offset from your clock: `time` plus half the round \
           trip, minus your clock now. After `WAIT` (or once everyone answered), average the offsets of \
           the clocks within `THRESHOLD` of yours, **your own (offset 0) included**; clocks further off are \
           left out of the average. Send every machine that answered `Adjust { round: r, delta }`, the \
           change that takes it to the average (an outlier is corrected too), and move your own clock \
           by the average.\n\
           - **Machine**: answer `Poll { round }` with `Clock { round, time: ctx.now() }`; on the first \
           `Adjust` of a round, call `ctx.adjust_clock(delta)`; ignore repeats.\n\n\
           Messages take 2 to 6 ms, some are lost or arrive twice, and machines crash: never wait for a \
           machine that doesn't answer. `adjust_clock` jumps the clock (a real system would slow a fast \
           clock down instead; we don't check that).\n\n\
           Checks: each correction aims at the average of the sane clocks that answered, within twice \
           the estimation error (half the spread of the delays); each applied correction lands near \
           the daemon's clock; corrections are changes, applied once, as sent; within 1 s of the last \
           fault every live machine is corrected again and all clocks agree; at most three messages \
           per machine per round.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: NEAR, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: AVERAGE, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: DELTAS, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: AGREE, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: COST, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: |seed| super::variant_json(variant(seed)),
};

pub fn check(solution: Box<NodeFactory<BerkeleyMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(run.seed), monitors, run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<BerkeleyMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "berkeley",
    solution: Box<NodeFactory<BerkeleyMsg>> = Box::new(berkeley_node),
    cell: {
        // BEGIN CELL
        use distlab::catalogue::berkeley::{BerkeleyMsg, DAEMON, POLL_EVERY, THRESHOLD, WAIT};
        use distlab::{Ctx, NodeId, Process, TimerTag};

        // BEGIN SOLUTION
        use std::collections::BTreeMap;

        use distlab::Time;

        const POLL: TimerTag = 1; // daemon: start a round
        const AVERAGE: TimerTag = 2; // daemon: stop waiting for answers
        const APPLIED: &str = "last applied round"; // machine: survives a crash
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        #[derive(Clone, Debug, Hash, Default)]
        struct Berkeley {
            // BEGIN SOLUTION
            /// Daemon: the current round and my clock when I polled for it.
            round: u64,
            polled_at: Time,
            /// Daemon: this round's offset estimates, machine clock minus mine.
            offsets: BTreeMap<NodeId, Time>,
            /// Machine: the newest round whose correction I applied.
            applied: u64,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Berkeley {
            fn poll(&mut self, ctx: &mut Ctx<BerkeleyMsg>) {
                self.round += 1;
                self.polled_at = ctx.now();
                self.offsets.clear();
                ctx.broadcast(BerkeleyMsg::Poll { round: self.round });
                ctx.set_timer(AVERAGE, WAIT);
                ctx.set_timer(POLL, POLL_EVERY);
            }

            /// Moves everyone who answered, and me, to the average of the sane clocks.
            fn correct(&mut self, ctx: &mut Ctx<BerkeleyMsg>) {
                if self.offsets.is_empty() {
                    return; // nobody answered: nothing to average this round
                }
                let sane: Vec<Time> =
                    std::iter::once(0).chain(self.offsets.values().copied().filter(|o| o.abs() <= THRESHOLD)).collect();
                let average = sane.iter().sum::<Time>() / sane.len() as Time;
                for (&machine, &offset) in &self.offsets {
                    ctx.send(machine, BerkeleyMsg::Adjust { round: self.round, delta: average - offset });
                }
                ctx.adjust_clock(average);
                self.offsets.clear();
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<BerkeleyMsg> for Berkeley {
            fn on_start(&mut self, ctx: &mut Ctx<BerkeleyMsg>) {
                // BEGIN SOLUTION
                if ctx.me() == DAEMON {
                    self.poll(ctx);
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, DAEMON, POLL_EVERY, THRESHOLD, WAIT);
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<BerkeleyMsg>, from: NodeId, msg: BerkeleyMsg) {
                // BEGIN SOLUTION
                match msg {
                    BerkeleyMsg::Poll { round } => ctx.send(from, BerkeleyMsg::Clock { round, time: ctx.now() }),
                    BerkeleyMsg::Clock { round, time } if round == self.round => {
                        let now = ctx.now();
                        // The machine read its clock about halfway through the round trip.
                        let offset = time + (now - self.polled_at) / 2 - now;
                        self.offsets.entry(from).or_insert(offset); // a second copy is older news
                    }
                    BerkeleyMsg::Adjust { round, delta } if round > self.applied => {
                        self.applied = round;
                        ctx.persist(APPLIED, &round);
                        ctx.adjust_clock(delta);
                    }
                    _ => {} // an answer from an old round, or a correction already applied
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg);
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<BerkeleyMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                match timer {
                    POLL => self.poll(ctx),
                    _ => self.correct(ctx),
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }

            fn on_recover(&mut self, ctx: &mut Ctx<BerkeleyMsg>) {
                // BEGIN SOLUTION
                self.applied = ctx.recall(APPLIED).unwrap_or(0);
                // END SOLUTION
                // BEGIN STARTER
                // END STARTER
                self.on_start(ctx)
            }
        }

        fn berkeley_node(_id: NodeId) -> Box<dyn Process<BerkeleyMsg>> {
            Box::new(Berkeley::default())
        }
        // END CELL
    }
}
