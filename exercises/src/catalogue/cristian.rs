//! Notebook 4: Cristian's algorithm. Node 0 is a time server with an exact
//! clock; every other node is a client with a drifting, offset clock. A
//! client asks the server for the time, and sets its clock to the server's
//! answer plus half the round trip it measured on its own clock.
//!
//! Decisions, stated in the task too:
//! - `Ctx::adjust_clock` is a step, so a correction may move a clock back.
//!   Real systems slew a fast clock instead (time must not run backwards for
//!   programs reading it); the simulator has no slewing, and the checks judge
//!   the skew, not monotonicity.
//! - The bound. With one-way delays between `dmin` and `dmax`, the error right
//!   after a correction is `(d_request - d_reply) / 2` plus the client's drift
//!   over the round trip: at most `(dmax - dmin) / 2 + |drift| * dmax`. After
//!   that the clocks part at the difference of their drifts. The check holds
//!   every client to that bound, counted from the last reply to its latest
//!   request that reached it (so a lost message or a down server widens the
//!   bound exactly as much as it must).
//! - The schedule: ask every `SYNC_EVERY` of your own clock, and again after
//!   `RETRY` without an answer. A client is judged to ask at least every
//!   `SYNC_EVERY + RETRY`; the cost check allows two messages per sync plus
//!   two per lost or duplicated message.

use serde::{Deserialize, Serialize};

use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::timesync::{delay_range, draw_clocks, fmt_skew, handler_opened, Readings, BASE, ROUNDING};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, RunEnd, Step, NODES_RUN_CLEANLY};
use crate::faults::fmt_time;
use crate::network::ClockModel;
use crate::process::NodeFactory;
use crate::scenario::Scenario;
use crate::trace::{Dest, EventKind, Stop};
use crate::{ms, Delay, Network, NodeId, Time};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CristianMsg {
    /// Client to server: what time is it? `id` names the request.
    Request { id: u64 },
    /// Server to client: the server's clock reading when the request arrived.
    Reply { id: u64, time: Time },
}

/// The time server.
pub const SERVER: NodeId = 0;
/// A client asks the server this often, by its own clock.
pub const SYNC_EVERY: Time = ms(100);
/// A client with no answer this long after asking asks again.
pub const RETRY: Time = ms(30);

pub const SKEW: &str = "every client stays within the bound of the server";
pub const SCHEDULE: &str = "clients ask the server on schedule";
pub const COST: &str = "two messages per sync";

/// The error allowed right after a correction: half the spread of the
/// delays, plus the client's drift over the longest round trip.
fn right_after(delay: &Delay, drift: f64) -> Time {
    let (dmin, dmax) = delay_range(delay);
    (dmax - dmin) / 2 + (drift.abs() * dmax as f64).ceil() as Time + ROUNDING
}

/// The clients' clocks can't be trusted by the clients; the monitor keeps
/// the true readings and when each client last could have synchronised.
#[derive(Clone, Debug, Hash)]
pub struct WithinBound {
    readings: Readings,
    /// Per node: its latest request id, and whether a reply to it arrived.
    latest: Vec<Option<(u64, bool)>>,
    /// Per node: when the reply to its latest request first reached it.
    synced_at: Vec<Option<Time>>,
    right_after: Vec<Time>,
    judged: usize,
}

impl WithinBound {
    pub fn new(scenario: &Scenario) -> Self {
        let readings = Readings::new(scenario);
        let right_after =
            (0..scenario.nodes).map(|n| right_after(&scenario.network.delay, readings.drift(n))).collect();
        let n = scenario.nodes;
        WithinBound { readings, latest: vec![None; n], synced_at: vec![None; n], right_after, judged: 0 }
    }

    /// Every synchronised client's skew at true time `t`, against its bound.
    fn judge(&mut self, t: Time) -> Result<(), String> {
        for c in 1..self.latest.len() {
            let Some(since) = self.synced_at[c].filter(|_| self.readings.up[c]) else {
                continue;
            };
            let apart = (self.readings.drift(c) - self.readings.drift(SERVER)).abs();
            let bound = self.right_after[c] + (apart * (t - since) as f64).ceil() as Time;
            let skew = self.readings.at(c, t) - self.readings.at(SERVER, t);
            self.judged += 1;
            if skew.abs() > bound {
                return Err(format!(
                    "at {} node {c}'s clock was {} off the server's; the bound was {}: half the spread of the \
                     delays ({}) plus drift since the last reply reached it at {}. Set the clock to the server's \
                     time plus half the round trip you measured",
                    fmt_time(t),
                    fmt_skew(skew),
                    fmt_skew(bound).trim_start_matches('+'),
                    fmt_skew(self.right_after[c]).trim_start_matches('+'),
                    fmt_time(since)
                ));
            }
        }
        Ok(())
    }
}

impl Monitor<CristianMsg> for WithinBound {
    fn name(&self) -> String {
        SKEW.into()
    }
    fn on_event(&mut self, step: &Step<'_, CristianMsg>) -> Result<(), String> {
        // Clocks move only inside handlers: judging as each handler opens
        // sees every correction that came before it.
        if handler_opened(step.kind).is_some() {
            self.judge(step.at)?;
        }
        self.readings.step(step.kind);
        match (step.kind, step.msg) {
            (EventKind::Send { from, .. }, Some(CristianMsg::Request { id })) => {
                self.latest[*from] = Some((*id, false))
            }
            (EventKind::Deliver { to, .. }, Some(CristianMsg::Reply { id, .. })) => {
                if let Some((latest, answered @ false)) = self.latest[*to].as_mut() {
                    if latest == id {
                        *answered = true;
                        self.synced_at[*to] = Some(step.at);
                    }
                }
            }
            (EventKind::Crash { node }, _) => {
                self.latest[*node] = None;
                self.synced_at[*node] = None;
            }
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        self.judge(end.end)?;
        if self.judged == 0 {
            return Err("no client ever got a reply to its request, so there was no skew to judge".into());
        }
        Ok(())
    }
}

/// Every client asks the server at least every `SYNC_EVERY + RETRY` of
/// true time (stretched by its drift) while it is up; only node 0 is asked.
#[derive(Clone, Debug, Hash)]
pub struct OnSchedule {
    last_ask: Vec<Option<Time>>,
    allowed: Vec<Time>,
    until: Time,
}

impl OnSchedule {
    pub fn new(scenario: &Scenario) -> Self {
        let allowed = (0..scenario.nodes).map(|n| scenario.clock(n).true_span(SYNC_EVERY + RETRY) + ms(1)).collect();
        OnSchedule { last_ask: vec![Some(0); scenario.nodes], allowed, until: scenario.until }
    }

    fn judge(&self, t: Time) -> Result<(), String> {
        for c in 1..self.last_ask.len() {
            if let Some(last) = self.last_ask[c].filter(|&last| t - last > self.allowed[c]) {
                return Err(format!(
                    "node {c} last asked the server at {} and had not asked again by {}: ask every {} of your \
                     own clock, and again after {} without a reply",
                    fmt_time(last),
                    fmt_time(last + self.allowed[c]),
                    fmt_time(SYNC_EVERY),
                    fmt_time(RETRY)
                ));
            }
        }
        Ok(())
    }
}

impl Monitor<CristianMsg> for OnSchedule {
    fn name(&self) -> String {
        SCHEDULE.into()
    }
    fn on_event(&mut self, step: &Step<'_, CristianMsg>) -> Result<(), String> {
        self.judge(step.at)?;
        match (step.kind, step.msg) {
            (EventKind::Send { from, to, .. }, Some(CristianMsg::Request { .. })) => {
                if *from == SERVER || *to != Dest::Node(SERVER) {
                    return Err(format!(
                        "node {from} sent a Request to {to}: only clients ask, and only node 0 answers"
                    ));
                }
                self.last_ask[*from] = Some(step.at);
            }
            (EventKind::Crash { node }, _) => self.last_ask[*node] = None,
            (EventKind::Recover { node }, _) => self.last_ask[*node] = Some(step.at),
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        // A run that went quiet would stay quiet: nobody asks again.
        self.judge(if end.stop == Stop::Quiet { self.until } else { end.end })
    }
}

/// Two messages per sync: a sync every `SYNC_EVERY` per client, plus one
/// more for every message the network lost or doubled.
#[derive(Clone, Debug, Hash)]
pub struct TwoPerSync {
    syncs: usize,
    replies: usize,
}

impl TwoPerSync {
    pub fn new(scenario: &Scenario) -> Self {
        let syncs =
            (1..scenario.nodes).map(|c| (scenario.until / scenario.clock(c).true_span(SYNC_EVERY)) as usize + 1).sum();
        TwoPerSync { syncs, replies: 0 }
    }
}

impl Monitor<CristianMsg> for TwoPerSync {
    fn name(&self) -> String {
        COST.into()
    }
    fn on_event(&mut self, step: &Step<'_, CristianMsg>) -> Result<(), String> {
        if let (EventKind::Deliver { .. }, Some(CristianMsg::Reply { .. })) = (step.kind, step.msg) {
            self.replies += 1;
        }
        Ok(())
    }
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        if self.replies == 0 {
            return Err("no reply ever reached a client, so there was no sync to count".into());
        }
        let c = end.counters;
        let budget = 2 * (self.syncs + c.dropped + c.duplicated);
        if c.sent > budget {
            let kinds: Vec<String> = c.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
            return Err(format!(
                "{} messages ({}); this run allows {budget}: two per sync ({} syncs, one every {} per client) \
                 plus two per lost or doubled message ({})",
                c.sent,
                kinds.join(", "),
                self.syncs,
                fmt_time(SYNC_EVERY),
                c.dropped + c.duplicated
            ));
        }
        Ok(())
    }
}

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<CristianMsg>>> {
    vec![Box::new(WithinBound::new(scenario)), Box::new(OnSchedule::new(scenario)), Box::new(TwoPerSync::new(scenario))]
}

/// The student's own clocks: the server's is exact, each client drifts up
/// to 2 % either way and starts up to 200 ms off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub clients: usize,
    /// One clock per node, the server's first; hidden scenarios with more
    /// clients take more from the same draw.
    pub clocks: Vec<ClockModel>,
}

const MAX_NODES: usize = 8;

pub fn variant(seed: u64) -> Variant {
    let mut clocks = draw_clocks(seed, 0x6372_6973, MAX_NODES, 0.02, ms(200));
    clocks[SERVER] = ClockModel { drift: 0.0, offset: BASE };
    Variant { clients: 3 + (seed % 2) as usize, clocks }
}

fn scenario(name: &str, v: &Variant, clients: usize, network: Network) -> Scenario {
    Scenario { network, clocks: v.clocks[..=clients].to_vec(), until: ms(1_000), ..Scenario::new(name, clients + 1) }
}

/// Delays of the public scenarios: 2 to 12 ms, so a correction may be off by
/// up to 5 ms.
pub const DELAY: Delay = Delay::Uniform { min: ms(2), max: ms(12) };

pub fn scenarios(seed: u64) -> Vec<ScenarioRuns> {
    let v = variant(seed);
    let calm = scenario("calm network", &v, v.clients, Network { delay: DELAY, ..Network::default() });
    let lossy = Network { delay: DELAY, loss: 0.2, duplicate: 0.1, ..Network::default() };
    let lossy = scenario("20% loss, 10% duplicates", &v, v.clients, lossy);
    let mut runs = vec![ScenarioRuns::public(calm, 3), ScenarioRuns::public(lossy, 4)];
    runs.extend(hidden_scenarios(&v));
    runs
}

super::hidden! {
    /// Hidden: a client that crashes and comes back, a server cut off for a
    /// while, wide delays with many clients.
    fn hidden_scenarios(v: &Variant) -> Vec<ScenarioRuns> {
        use crate::{Fault, Schedule};
        let lossy = Network { delay: DELAY, loss: 0.1, duplicate: 0.1, ..Network::default() };
        let mut crash = scenario("a client crashes and comes back", v, 3, lossy.clone());
        crash.schedule = Schedule {
            name: "node 2 down from 300 to 450 ms".into(),
            faults: vec![Fault::Crash { node: 2, at: ms(300) }, Fault::Recover { node: 2, at: ms(450) }],
        };
        let mut cut = scenario("server cut off for a while", v, 3, lossy);
        cut.schedule = Schedule {
            name: "server partitioned 200 to 420 ms".into(),
            faults: vec![Fault::Partition { a: vec![0], b: vec![1, 2, 3], start: ms(200), end: ms(420) }],
        };
        let wide = Network { delay: Delay::Uniform { min: ms(1), max: ms(14) }, duplicate: 0.2, ..Network::default() };
        let wide = scenario("7 clients, 1-14 ms, duplicates", v, 7, wide);
        vec![ScenarioRuns::hidden(crash, 2), ScenarioRuns::hidden(cut, 2), ScenarioRuns::hidden(wide, 2)]
    }
}

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "cristian",
    title: "Clock synchronisation: Cristian's algorithm",
    notebook: 4,
    position: 2,
    points: 10,
    task: "Write a node for `CristianMsg`. Node 0 is the time server; its clock is exact. Every other \
           node is a client whose clock runs fast or slow (up to 2 %) and starts up to 200 ms wrong.\n\n\
           - **Server**: answer each `Request { id }` with `Reply { id, time }`, where `time` is \
           `ctx.now()` when the request arrives.\n\
           - **Client**: at start and then every `SYNC_EVERY` of your own clock, note `ctx.now()` and \
           send `Request { id }` with a fresh `id` to node 0. When the reply to your *latest* request \
           arrives, the server's clock read `time` somewhere in the middle of the round trip: move your \
           clock (`ctx.adjust_clock(delta)`) so that it shows `time` plus half the round trip you \
           measured. Ignore replies to older requests and second copies. If no reply comes within \
           `RETRY`, ask again with a new id.\n\n\
           Messages take 2 to 12 ms each way, and some are lost or arrive twice. `adjust_clock` jumps \
           the clock, backwards too (a real system would slow the clock down instead; we don't check \
           that).\n\n\
           Checks: after the reply to its latest request reaches a client, its clock is within half \
           the spread of the delays (5 ms here) of the server's, plus what the two clocks drift apart \
           since; each client asks at least every `SYNC_EVERY + RETRY`; at most two messages per sync, \
           plus two for each message the network lost or doubled.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: SKEW, weight: 5, visibility: Visibility::Public },
        CheckSpec { name: SCHEDULE, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: COST, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: |seed| super::variant_json(variant(seed)),
};

pub fn check(solution: Box<NodeFactory<CristianMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(run.seed), monitors, run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<CristianMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "cristian",
    solution: Box<NodeFactory<CristianMsg>> = Box::new(cristian_node),
    cell: {
        // BEGIN CELL
        use distlab::catalogue::cristian::{CristianMsg, RETRY, SERVER, SYNC_EVERY};
        use distlab::{Ctx, NodeId, Process, TimerTag};

        // BEGIN SOLUTION
        const SYNC: TimerTag = 1; // time for the next periodic request
        const NO_REPLY: TimerTag = 2; // the latest request went unanswered: ask again
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        #[derive(Clone, Debug, Hash, Default)]
        struct Cristian {
            // BEGIN SOLUTION
            /// The last request id handed out.
            last_id: u64,
            /// The request still waiting for its reply, with my clock when I sent it.
            waiting: Option<(u64, distlab::Time)>,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Cristian {
            /// A fresh request replaces any older one still waiting.
            fn ask(&mut self, ctx: &mut Ctx<CristianMsg>) {
                self.last_id += 1;
                self.waiting = Some((self.last_id, ctx.now()));
                ctx.send(SERVER, CristianMsg::Request { id: self.last_id });
                ctx.set_timer(NO_REPLY, RETRY);
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<CristianMsg> for Cristian {
            fn on_start(&mut self, ctx: &mut Ctx<CristianMsg>) {
                // BEGIN SOLUTION
                if ctx.me() != SERVER {
                    ctx.set_timer(SYNC, SYNC_EVERY);
                    self.ask(ctx);
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, SERVER, SYNC_EVERY, RETRY);
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<CristianMsg>, from: NodeId, msg: CristianMsg) {
                // BEGIN SOLUTION
                match msg {
                    CristianMsg::Request { id } => ctx.send(from, CristianMsg::Reply { id, time: ctx.now() }),
                    CristianMsg::Reply { id, time } => {
                        // Only the first copy of the reply to the latest request counts.
                        let Some((_, sent_at)) = self.waiting.filter(|&(latest, _)| latest == id) else {
                            return;
                        };
                        self.waiting = None;
                        ctx.cancel_timer(NO_REPLY);
                        let now = ctx.now();
                        let estimate = time + (now - sent_at) / 2; // the server read `time` about halfway
                        ctx.adjust_clock(estimate - now);
                    }
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg);
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<CristianMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                if timer == SYNC {
                    ctx.set_timer(SYNC, SYNC_EVERY);
                }
                self.ask(ctx); // the periodic request, or a retry
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }
        }

        fn cristian_node(_id: NodeId) -> Box<dyn Process<CristianMsg>> {
            Box::new(Cristian::default())
        }
        // END CELL
    }
}
