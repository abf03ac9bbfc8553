//! Notebook 7: mutual exclusion with a central coordinator. Node 0 only
//! coordinates; the others ask it for permission, wait for the grant, and
//! tell it when they leave. Three messages per entry, two message delays
//! before entry when nobody else is inside.
//!
//! Discussion material kept out of the checks: if the coordinator crashes,
//! a waiting node cannot tell a crash from a long queue (the coordinator
//! sends nothing while a node waits), so the system stops; a new
//! coordinator would need the queue, e.g. from stable storage.

use serde::{Deserialize, Serialize};

use super::mutex::{
    self, EveryRequestServed, MessagesPerEntry, OneInside, Permitted, QuickWhenAlone, COST, DELAY, LIVENESS, ROUNDS,
    SAFETY,
};
use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, NODES_RUN_CLEANLY};
use crate::network::Delay;
use crate::process::NodeFactory;
use crate::scenario::Scenario;
use crate::trace::EventKind;
use crate::{ms, NodeId, Time};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CentralMsg {
    /// To the coordinator: may I enter?
    Request,
    /// From the coordinator: you may enter.
    Grant,
    /// To the coordinator: I have left.
    Release,
}

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "central",
    title: "Mutual exclusion with a central coordinator",
    notebook: 7,
    position: 1,
    points: 10,
    task: "Write a node for `CentralMsg`. Node 0 is the coordinator and never asks for the critical \
           section itself. Every other node `i` follows the workload in `distlab::catalogue::mutex`: \
           it asks `first_request(i)` after it starts (call `ctx.observe(Observation::RequestCritical)` \
           and send `Request` to node 0), enters when it gets `Grant` \
           (`Observation::EnterCritical`), stays inside for `HOLD`, leaves \
           (`Observation::ExitCritical`) and sends `Release`, then waits `think_time(n)` and asks \
           again, `ROUNDS` times in all. The coordinator grants one node at a time and keeps the \
           others in a queue until the holder releases. Checks: never two nodes inside; every request \
           granted by the deadline; at most 3 messages per entry; a request made while nobody else \
           wants in is granted within two message delays.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: SAFETY, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: LIVENESS, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: COST, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: DELAY, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 1, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: super::no_variant,
};

/// Public: a small fast system and a busier, slower one (requests overlap).
pub fn scenarios() -> Vec<ScenarioRuns> {
    let small = mutex::scenario("4 nodes, 1-5 ms", 4, Delay::Uniform { min: ms(1), max: ms(5) }, false, ms(400));
    let busy = mutex::scenario("5 nodes, 1-20 ms", 5, Delay::Uniform { min: ms(1), max: ms(20) }, false, ms(1_500));
    let mut runs = vec![ScenarioRuns::public(small, 4), ScenarioRuns::public(busy, 4)];
    runs.extend(hidden_scenarios());
    runs
}

super::hidden! {
    /// Hidden: more nodes, long-tailed delays, and a slow network where every
    /// node waits in the queue.
    fn hidden_scenarios() -> Vec<ScenarioRuns> {
        let many = mutex::scenario("8 nodes, long tail", 8, Delay::Exponential { min: ms(1), mean: ms(6) }, false, ms(2_000));
        let slow = mutex::scenario("6 nodes, 30 ms", 6, Delay::Constant { us: ms(30) }, true, ms(2_500));
        vec![ScenarioRuns::hidden(many, 3), ScenarioRuns::hidden(slow, 1)]
    }
}

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<CentralMsg>>> {
    vec![
        Box::new(OneInside::default()),
        Box::new(Permitted::by_coordinator(|m| *m == CentralMsg::Grant)),
        Box::new(EveryRequestServed::new((1..scenario.nodes).collect(), mutex::deadline_of(scenario))),
        Box::new(MessagesPerEntry::new(3)),
        Box::new(QuickWhenAlone::new(&scenario.network)),
    ]
}

pub fn check(solution: Box<NodeFactory<CentralMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(), monitors, run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<CentralMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// Problems 5.9 and 5.10, measured. The coordinator below is private: the
// notebook calls the measuring functions, a submission cannot call it a
// solution.

/// How the coordinator chooses whom to grant next (problem 5.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Policy {
    /// First come, first served: the exercise's coordinator.
    Fifo,
    /// Strict priority: the waiting node with the lowest id goes first.
    LowestId,
    /// Lowest id first, except that a node that has waited longer than
    /// `limit` goes before everyone (the longest waiting first).
    Aging { limit: Time },
}

/// The messages of the measured coordinator: the exercise's three, and
/// `Queued`, an immediate "not yet" (problem 5.10's variant).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum CoordMsg {
    Request,
    Grant,
    Queued,
    Release,
}

#[derive(Clone, Copy, Debug, Hash)]
struct Rules {
    policy: Policy,
    rounds: u32,
    /// Answer every request at once (`Grant` or `Queued`); a client that
    /// hears nothing within `patience` notices the silence.
    answer_at_once: bool,
    patience: Time,
}

const ASK: crate::TimerTag = 1;
const LEAVE: crate::TimerTag = 2;
const PATIENCE: crate::TimerTag = 3;
/// The note a client observes when its request went unanswered.
const SILENT: &str = "coordinator silent";

#[derive(Clone, Debug, Hash)]
struct Coordinated {
    rules: Rules,
    holder: Option<NodeId>,
    /// Waiting nodes in arrival order, with when their request arrived.
    waiting: Vec<(NodeId, Time)>,
    rounds: u32,
}

impl Coordinated {
    fn next(&mut self, now: Time) -> Option<NodeId> {
        let lowest = || self.waiting.iter().enumerate().min_by_key(|(_, (n, _))| *n).map(|(i, _)| i);
        let pick = match self.rules.policy {
            Policy::Fifo => (!self.waiting.is_empty()).then_some(0),
            Policy::LowestId => lowest(),
            Policy::Aging { limit } => match self.waiting.first() {
                Some((_, since)) if now - since > limit => Some(0),
                _ => lowest(),
            },
        };
        pick.map(|i| self.waiting.remove(i).0)
    }
}

impl crate::Process<CoordMsg> for Coordinated {
    fn on_start(&mut self, ctx: &mut crate::Ctx<CoordMsg>) {
        if ctx.me() != 0 {
            ctx.set_timer(ASK, mutex::first_request(ctx.me()));
        }
    }
    fn on_message(&mut self, ctx: &mut crate::Ctx<CoordMsg>, from: NodeId, msg: CoordMsg) {
        use crate::Observation;
        match msg {
            CoordMsg::Request if self.holder.is_none() => {
                self.holder = Some(from);
                ctx.send(from, CoordMsg::Grant);
            }
            CoordMsg::Request => {
                self.waiting.push((from, ctx.now()));
                if self.rules.answer_at_once {
                    ctx.send(from, CoordMsg::Queued);
                }
            }
            CoordMsg::Release => {
                self.holder = self.next(ctx.now());
                if let Some(next) = self.holder {
                    ctx.send(next, CoordMsg::Grant);
                }
            }
            CoordMsg::Queued => ctx.cancel_timer(PATIENCE), // answered: wait, with no way to tell
            CoordMsg::Grant => {
                ctx.cancel_timer(PATIENCE);
                ctx.observe(Observation::EnterCritical);
                ctx.set_timer(LEAVE, mutex::HOLD);
            }
        }
    }
    fn on_timer(&mut self, ctx: &mut crate::Ctx<CoordMsg>, timer: crate::TimerTag) {
        use crate::Observation;
        match timer {
            ASK => {
                ctx.observe(Observation::RequestCritical);
                ctx.send(0, CoordMsg::Request);
                if self.rules.answer_at_once {
                    ctx.set_timer(PATIENCE, self.rules.patience);
                }
            }
            LEAVE => {
                ctx.observe(Observation::ExitCritical);
                ctx.send(0, CoordMsg::Release);
                self.rounds += 1;
                if self.rounds < self.rules.rounds {
                    ctx.set_timer(ASK, mutex::think_time(ctx.nodes()));
                }
            }
            _ => ctx.observe(Observation::Note { name: SILENT.into(), value: 0 }),
        }
    }
}

/// The network of these measurements: 1 to 20 ms per message, like the
/// exercise's busy scenario, so that requests queue up.
const SLOWEST: Time = ms(20);

fn coordinated_run(rules: Rules, nodes: usize, faults: Vec<crate::Fault>, seed: u64) -> crate::Trace<CoordMsg> {
    let network = crate::Network { delay: Delay::Uniform { min: ms(1), max: SLOWEST }, ..crate::Network::default() };
    // Enough time for every round even if each waits for all the others.
    let round = mutex::think_time(nodes) + nodes as Time * (mutex::HOLD + 2 * SLOWEST);
    let until = mutex::first_request(nodes) + rules.rounds as Time * round + ms(100);
    let schedule = crate::Schedule { name: "measured".into(), faults };
    let scenario = Scenario { network, schedule, until, ..Scenario::new("central, measured", nodes) };
    let factory = move |_| Box::new(Coordinated { rules, holder: None, waiting: Vec::new(), rounds: 0 }) as _;
    crate::sim::simulate(&scenario, seed, factory).expect("a valid scenario")
}

/// One node's waits from asking to entering, over all runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Waits {
    pub node: NodeId,
    pub entries: usize,
    /// Mean and longest wait.
    pub mean: Time,
    pub worst: Time,
    /// Requests still not granted when a run ended.
    pub never: usize,
}

/// Runs the central algorithm with `policy` on `nodes` nodes (node 0
/// coordinates), each other node asking `rounds` times on the workload of
/// [`mutex`], over `seeds` runs with 1 to 20 ms delays; returns every
/// asking node's waits.
pub fn waits_by_policy(policy: Policy, nodes: usize, rounds: u32, seeds: u64) -> Vec<Waits> {
    let rules = Rules { policy, rounds, answer_at_once: false, patience: 0 };
    let mut waits: Vec<Vec<Time>> = vec![Vec::new(); nodes];
    let mut never = vec![0; nodes];
    for seed in 0..seeds {
        let trace = coordinated_run(rules, nodes, Vec::new(), seed);
        let mut asked = std::collections::BTreeMap::new();
        for e in &trace.events {
            match &e.kind {
                EventKind::Observe { node, what: crate::Observation::RequestCritical } => {
                    asked.insert(*node, e.at);
                }
                EventKind::Observe { node, what: crate::Observation::EnterCritical } => {
                    if let Some(t) = asked.remove(node) {
                        waits[*node].push(e.at - t);
                    }
                }
                _ => {}
            }
        }
        for node in asked.keys() {
            never[*node] += 1;
        }
    }
    (1..nodes)
        .map(|node| {
            let w = &waits[node];
            Waits {
                node,
                entries: w.len(),
                mean: w.iter().sum::<Time>() / w.len().max(1) as Time,
                worst: w.iter().copied().max().unwrap_or(0),
                never: never[node],
            }
        })
        .collect()
}

/// What a crash of the coordinator at one moment did (problem 5.10).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CrashOutcome {
    pub at: Time,
    /// At the crash: the node the coordinator had granted last and not yet
    /// heard `Release` from (inside, or its grant on the way).
    pub holder: Option<NodeId>,
    /// At the crash: the nodes in the coordinator's queue.
    pub queued: Vec<NodeId>,
    /// Nodes that asked and never got in before the run ended.
    pub stuck: Vec<NodeId>,
    /// Of those, the ones whose request went unanswered, so that they can
    /// tell the coordinator is gone (only when it answers at once).
    pub noticed: Vec<NodeId>,
}

/// Crashes the coordinator (node 0, for good) at `at` in a run of the
/// central algorithm (first come, first served) on `nodes` nodes with 1 to
/// 20 ms delays. With `answer_at_once`, the coordinator answers every
/// request at once (`Grant` or "queued"), and a request without an answer
/// within a round trip tells its node that the coordinator is silent.
pub fn coordinator_crash(at: Time, answer_at_once: bool, nodes: usize, seed: u64) -> CrashOutcome {
    use std::collections::BTreeSet;
    let rules = Rules { policy: Policy::Fifo, rounds: ROUNDS, answer_at_once, patience: 2 * SLOWEST + ms(1) };
    let trace = coordinated_run(rules, nodes, vec![crate::Fault::Crash { node: 0, at }], seed);
    let (mut holder, mut queued) = (None, Vec::new());
    let mut waiting = BTreeSet::new();
    let mut noticed = BTreeSet::new();
    for e in &trace.events {
        let before = e.at < at;
        let delivered = match &e.kind {
            EventKind::Deliver { id, from, to: 0 } if before => trace.message(*id).map(|m| (*from, m)),
            _ => None,
        };
        match delivered {
            Some((from, CoordMsg::Request)) => queued.push(from),
            Some((from, CoordMsg::Release)) if holder == Some(from) => holder = None,
            _ => {}
        }
        match &e.kind {
            EventKind::Send { from: 0, to: crate::trace::Dest::Node(to), msg: CoordMsg::Grant } if before => {
                queued.retain(|n| n != to);
                holder = Some(*to);
            }
            EventKind::Observe { node, what: crate::Observation::RequestCritical } => {
                waiting.insert(*node);
            }
            EventKind::Observe { node, what: crate::Observation::EnterCritical } => {
                waiting.remove(node);
            }
            EventKind::Observe { node, what: crate::Observation::Note { name, .. } } if name == SILENT => {
                noticed.insert(*node);
            }
            _ => {}
        }
    }
    let stuck: Vec<NodeId> = waiting.into_iter().collect();
    let noticed = stuck.iter().copied().filter(|n| noticed.contains(n)).collect();
    CrashOutcome { at, holder, queued, stuck, noticed }
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "central",
    solution: Box<NodeFactory<CentralMsg>> = Box::new(central_node),
    cell: {
        // BEGIN CELL
        use std::collections::VecDeque;

        use distlab::catalogue::central::CentralMsg;
        use distlab::catalogue::mutex::{first_request, think_time, HOLD, ROUNDS};
        use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

        const ASK: TimerTag = 1;
        const LEAVE: TimerTag = 2;
        // BEGIN SOLUTION
        const COORDINATOR: NodeId = 0;
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        #[derive(Clone, Debug, Hash, Default)]
        struct Central {
            // BEGIN SOLUTION
            // Coordinator state: who is inside, who waits (first come, first served).
            holder: Option<NodeId>,
            waiting: VecDeque<NodeId>,
            // Client state: entries so far.
            rounds: u32,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        impl Process<CentralMsg> for Central {
            fn on_start(&mut self, ctx: &mut Ctx<CentralMsg>) {
                // BEGIN SOLUTION
                if ctx.me() != COORDINATOR {
                    ctx.set_timer(ASK, first_request(ctx.me()));
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, first_request(1), think_time(2), HOLD, ROUNDS, Observation::RequestCritical);
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<CentralMsg>, from: NodeId, msg: CentralMsg) {
                // BEGIN SOLUTION
                match msg {
                    CentralMsg::Request if self.holder.is_none() => {
                        self.holder = Some(from);
                        ctx.send(from, CentralMsg::Grant);
                    }
                    CentralMsg::Request => self.waiting.push_back(from), // no answer: wait
                    CentralMsg::Release => {
                        self.holder = self.waiting.pop_front();
                        if let Some(next) = self.holder {
                            ctx.send(next, CentralMsg::Grant);
                        }
                    }
                    CentralMsg::Grant => {
                        ctx.observe(Observation::EnterCritical);
                        ctx.set_timer(LEAVE, HOLD);
                    }
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg);
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<CentralMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                if timer == ASK {
                    ctx.observe(Observation::RequestCritical);
                    ctx.send(COORDINATOR, CentralMsg::Request);
                } else {
                    ctx.observe(Observation::ExitCritical);
                    ctx.send(COORDINATOR, CentralMsg::Release);
                    self.rounds += 1;
                    if self.rounds < ROUNDS {
                        ctx.set_timer(ASK, think_time(ctx.nodes()));
                    }
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }
        }

        fn central_node(_id: NodeId) -> Box<dyn Process<CentralMsg>> {
            Box::new(Central::default())
        }
        // END CELL
    }
}

#[cfg(test)]
mod measured_tests {
    use super::*;

    fn worst_of_last(policy: Policy, rounds: u32) -> Time {
        waits_by_policy(policy, 8, rounds, 10).last().unwrap().worst
    }

    #[test]
    fn strict_priority_starves_the_last_node_and_aging_bounds_it() {
        let waits = waits_by_policy(Policy::LowestId, 8, 3, 10);
        assert_eq!(waits.len(), 7);
        assert!(waits.iter().all(|w| w.entries == 30 && w.never == 0));
        assert!(waits[0].mean < waits[6].mean, "{waits:?}");
        // The longer the others keep asking, the longer the last one waits.
        let (short, long) = (worst_of_last(Policy::LowestId, 3), worst_of_last(Policy::LowestId, 9));
        assert!(long > 2 * short, "{short} {long}");
        for fair in [Policy::Fifo, Policy::Aging { limit: ms(200) }] {
            let (short_f, long_f) = (worst_of_last(fair, 3), worst_of_last(fair, 9));
            assert!(long_f < short_f + ms(50) && long_f < long / 2, "{fair:?}: {short_f} {long_f}");
        }
    }

    #[test]
    fn only_queued_nodes_cannot_tell_that_the_coordinator_crashed() {
        let mut queued_and_blind = 0;
        for k in 0..100 {
            let at = ms(3 * k);
            let plain = coordinator_crash(at, false, 5, k as u64);
            assert!(plain.noticed.is_empty(), "{plain:?}");
            let told = coordinator_crash(at, true, 5, k as u64);
            let blind: Vec<NodeId> = told.stuck.iter().copied().filter(|n| !told.noticed.contains(n)).collect();
            assert!(blind.iter().all(|n| told.queued.contains(n)), "{told:?}");
            queued_and_blind += usize::from(!blind.is_empty());
        }
        assert!(queued_and_blind > 10, "{queued_and_blind}");
    }
}
