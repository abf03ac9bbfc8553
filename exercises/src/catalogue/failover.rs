//! Notebook 7: the centralized coordinator again, now allowed to crash.
//! Every node follows the mutual-exclusion workload and can coordinate.
//! A waiting node that hears nothing asks the coordinator whether it is
//! alive; with no answer it holds a bully election (highest id wins, a
//! recovering higher id takes over). The new coordinator knows nothing of
//! the old queue, so it first lets the old coordinator's grants land, then
//! polls every node: "do you hold it, want it, or neither?".
//!
//! A crash releases the critical section: the node loses its volatile
//! state, the workload's included, and the safety check forgets it was
//! inside. A node that recovers starts its workload from the beginning.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::leader::{self, AgreeOnHighest};
use super::mutex::{self, OneInside, ROUNDS, SAFETY};
use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, RunEnd, Step, NODES_RUN_CLEANLY};
use crate::faults::fmt_time;
use crate::process::{NodeFactory, Observation};
use crate::scenario::Scenario;
use crate::trace::EventKind;
use crate::{ms, Fault, NodeId, Time};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailoverMsg {
    /// To the coordinator: may I enter?
    Request,
    /// From the coordinator: you may enter.
    Grant,
    /// To the coordinator: I have left.
    Release,
    /// To the coordinator, from a node tired of waiting: are you still there?
    AreYouAlive,
    /// The coordinator's answer: yes, keep waiting.
    Alive,
    /// Bully: "I am holding an election", to every higher id.
    Election,
    /// Bully: "I am alive and higher than you; I take over."
    Answer,
    /// Bully: "I am the coordinator."
    Coordinator,
    /// From a new coordinator (or one checking on its holder): what do you need?
    Poll,
    /// The answer to a poll.
    State(Need),
}

/// Where a node stands with the critical section, as it answers a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Need {
    /// I am inside.
    Holding,
    /// I asked and have not been granted yet.
    Wanting,
    Nothing,
}

/// The longest a message takes in this exercise's scenarios: a reply to a
/// request comes within twice this, or never (the network loses nothing;
/// only crashed nodes drop messages).
pub const MAX_DELAY: Time = leader::MAX_DELAY;

/// How long a node stays inside: longer than in `central`, so that a
/// coordinator can fail, and a new one take over, while someone is inside.
pub const HOLD: Time = ms(20);

/// How long after the last fault the system must have settled.
pub const DEADLINE: Time = ms(800);

pub const LIVENESS: &str = "every request of a live node is served after the faults stop";
pub const AGREE: &str = "one coordinator in the end: the highest live id, followed by all";
pub const COST: &str = "messages within the budget";

/// Messages allowed per entry into the critical section: Request, Grant,
/// Release, plus a few probes while waiting in a queue.
pub const PER_ENTRY: usize = 10;
/// Messages allowed per round of elections and polling, per pair of nodes
/// (a round at the start and one per crash or recovery).
pub const PER_ROUND: usize = 4;

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "failover",
    title: "Centralized mutual exclusion with a failing coordinator",
    notebook: 7,
    position: 2,
    points: 10,
    task: "Write a node for `FailoverMsg`. Every node follows the workload of the `central` exercise \
           (`first_request`, `think_time`, `ROUNDS`, with the same observations), but stays inside for \
           `failover::HOLD` (20 ms), and any node can be the coordinator: the live node with the \
           highest id, found by a bully election (`Election` to every higher id, `Answer` back, \
           `Coordinator` to everyone; call `ctx.observe(Observation::Leader(id))` each time you take \
           `id` as coordinator). The coordinator grants one node at a time, itself included (it sends \
           itself `Request`, and gets `Grant` like anyone: a node enters only after a `Grant` reached \
           it).\n\nCoordinators and clients crash and recover. A crash takes a node out of the critical \
           section and wipes its memory; a recovering node starts its workload from the beginning and \
           holds an election (a recovering higher id takes over).\n- A node that has waited a while for \
           its grant sends `AreYouAlive` to its coordinator, which answers `Alive`; no answer means the \
           coordinator is gone: hold an election.\n- A new coordinator knows nothing of the queue. \
           Before granting anything it waits until any `Grant` of the previous coordinator has landed, \
           then sends `Poll` to every node; each answers `State(Holding)`, `State(Wanting)` or \
           `State(Nothing)`. The holder it learns of must leave before anyone else enters.\n- A holder \
           that crashes never sends `Release`: the coordinator should check on a holder that stays too \
           long.\n\nMessages take between 1 ms and `MAX_DELAY` (5 ms) and are never lost between live \
           nodes, so a question gets its answer within `2 * MAX_DELAY` or never: derive every timeout \
           from that. Every fault comes while some node still has requests to make, so a waiting node \
           is there to notice it. Checks: never two nodes inside, and none without a `Grant` since it \
           asked; within `DEADLINE` (800 ms) of the last fault every live node has made its `ROUNDS` \
           entries since it (re)started and nobody waits; then exactly one coordinator, the highest \
           live id, followed by every live node; and at most `PER_ENTRY` (10) messages per entry plus \
           `PER_ROUND` (4) per pair of nodes for each round of elections (one at the start, one per \
           crash or recovery).",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: SAFETY, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: LIVENESS, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: AGREE, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: COST, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: super::no_variant,
};

/// Safety, the part about messages: a node enters only after a `Grant`
/// reached it since it asked. Without it, nodes that enter whenever they
/// like pass the runs where requests happen not to overlap.
#[derive(Clone, Debug, Hash, Default)]
pub struct GrantBeforeEntry {
    /// Asking node -> (when it asked, whether a Grant has reached it since).
    pending: BTreeMap<NodeId, (Time, bool)>,
}

impl Monitor<FailoverMsg> for GrantBeforeEntry {
    fn name(&self) -> String {
        SAFETY.into()
    }
    fn on_event(&mut self, step: &Step<'_, FailoverMsg>) -> Result<(), String> {
        match step.kind {
            EventKind::Crash { node } => {
                self.pending.remove(node);
            }
            EventKind::Deliver { to, .. } if step.msg == Some(&FailoverMsg::Grant) => {
                if let Some((_, granted)) = self.pending.get_mut(to) {
                    *granted = true;
                }
            }
            EventKind::Observe { node, what: Observation::RequestCritical } => {
                self.pending.insert(*node, (step.at, false));
            }
            EventKind::Observe { node, what: Observation::EnterCritical } => {
                if let Some((asked, false)) = self.pending.remove(node) {
                    return Err(format!(
                        "node {node} entered the critical section at {} without a Grant: none had reached it \
                         since it asked at {}",
                        fmt_time(step.at),
                        fmt_time(asked)
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Bounded liveness after the faults: by the deadline no live node waits,
/// and every live node has entered `ROUNDS` times since it last started
/// (a crash wipes the workload; the recovered node starts it again).
#[derive(Clone, Debug, Hash)]
pub struct ServedAfterFaults {
    up: Vec<bool>,
    waiting: BTreeMap<NodeId, Time>,
    entries: Vec<u32>,
    quiet: Time,
}

impl ServedAfterFaults {
    pub fn new(scenario: &Scenario) -> Self {
        ServedAfterFaults {
            up: vec![true; scenario.nodes],
            waiting: BTreeMap::new(),
            entries: vec![0; scenario.nodes],
            quiet: scenario.schedule.quiet_after(),
        }
    }
}

impl Monitor<FailoverMsg> for ServedAfterFaults {
    fn name(&self) -> String {
        LIVENESS.into()
    }
    fn on_event(&mut self, step: &Step<'_, FailoverMsg>) -> Result<(), String> {
        match step.kind {
            EventKind::Crash { node } => {
                self.up[*node] = false;
                self.waiting.remove(node);
            }
            EventKind::Recover { node } => {
                self.up[*node] = true;
                self.entries[*node] = 0;
            }
            EventKind::Observe { node, what: Observation::RequestCritical } => {
                self.waiting.entry(*node).or_insert(step.at);
            }
            EventKind::Observe { node, what: Observation::EnterCritical } => {
                self.waiting.remove(node);
                self.entries[*node] += 1;
            }
            _ => {}
        }
        Ok(())
    }
    fn deadline(&self) -> Option<Time> {
        Some(DEADLINE)
    }
    fn settled(&self) -> Result<(), String> {
        if let Some((node, since)) = self.waiting.iter().next() {
            return Err(format!(
                "node {node} asked for the critical section at {} and was still waiting {} after the last \
                 fault (at {})",
                fmt_time(*since),
                fmt_time(DEADLINE),
                fmt_time(self.quiet)
            ));
        }
        if let Some(node) = (0..self.up.len()).find(|&n| self.up[n] && self.entries[n] < ROUNDS) {
            return Err(format!(
                "node {node} got into the critical section {} time(s) since it last started, not the {ROUNDS} \
                 its workload asks for",
                self.entries[node]
            ));
        }
        Ok(())
    }
}

/// Cost: every message sent, against `PER_ENTRY` per entry plus
/// `PER_ROUND` per pair of nodes for each round of elections.
#[derive(Clone, Debug, Hash)]
pub struct Budget {
    entries: usize,
    pairs: usize,
    rounds: usize,
}

impl Budget {
    pub fn new(scenario: &Scenario) -> Self {
        let rounds = 1 + scenario.schedule.faults.len();
        Budget { entries: 0, pairs: scenario.nodes * (scenario.nodes - 1) / 2, rounds }
    }
}

impl Monitor<FailoverMsg> for Budget {
    fn name(&self) -> String {
        COST.into()
    }
    fn on_event(&mut self, step: &Step<'_, FailoverMsg>) -> Result<(), String> {
        if let EventKind::Observe { what: Observation::EnterCritical, .. } = step.kind {
            self.entries += 1;
        }
        Ok(())
    }
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        mutex::some_entry(self.entries)?;
        let bound = PER_ENTRY * self.entries + PER_ROUND * self.pairs * self.rounds;
        let sent = end.counters.sent;
        if sent <= bound {
            return Ok(());
        }
        let kinds: Vec<String> = end.counters.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
        Err(format!(
            "the nodes sent {sent} messages ({}); this run allows {bound}: {PER_ENTRY} for each of {} entries \
             plus {PER_ROUND} per pair of nodes ({}) for each of {} round(s) of elections",
            kinds.join(", "),
            self.entries,
            self.pairs,
            self.rounds
        ))
    }
}

fn crash(node: NodeId, at: i64) -> Fault {
    Fault::Crash { node, at: ms(at) }
}

fn back(node: NodeId, at: i64) -> Fault {
    Fault::Recover { node, at: ms(at) }
}

/// Public, 5 nodes, all faults while the workload is busy (so a waiting
/// node is there to notice): the coordinator crashes; it comes back and
/// takes over from node 3; the next in line crashes too; a client crashes
/// and comes back.
pub fn scenarios() -> Vec<ScenarioRuns> {
    let public = [
        ("coordinator crashes", vec![crash(4, 45)]),
        ("coordinator crashes and comes back", vec![crash(4, 45), back(4, 140)]),
        ("two coordinators crash", vec![crash(4, 45), crash(3, 95)]),
        ("a client crashes, the coordinator too", vec![crash(2, 32), crash(4, 60), back(2, 120), back(4, 170)]),
    ];
    let mut runs: Vec<ScenarioRuns> = public
        .into_iter()
        .map(|(name, faults)| ScenarioRuns::public(leader::scenario(name, 5, faults, DEADLINE), 3))
        .collect();
    runs.extend(hidden_scenarios());
    runs
}

super::hidden! {
    /// Hidden: more nodes and random crash and recovery schedules early in
    /// the workload, and a coordinator that crashes and recovers twice.
    fn hidden_scenarios() -> Vec<ScenarioRuns> {
        use crate::{RandomFaults, Schedule};
        let mut runs = Vec::new();
        for k in 0..3u64 {
            let crashes = RandomFaults { crashes: 3, recover: true, partitions: 0, horizon: ms(150), max_down: 2 };
            let faults = Schedule::random(3000 + k, 7, &crashes).faults;
            let name = format!("7 nodes, random crashes #{k}");
            runs.push(ScenarioRuns::hidden(leader::scenario(&name, 7, faults, DEADLINE), 2));
        }
        let twice = vec![crash(5, 40), back(5, 90), crash(5, 130), crash(4, 140), back(5, 200)];
        runs.push(ScenarioRuns::hidden(leader::scenario("6 nodes, coordinator crashes twice", 6, twice, DEADLINE), 2));
        runs
    }
}

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<FailoverMsg>>> {
    vec![
        Box::new(OneInside::default()),
        Box::new(GrantBeforeEntry::default()),
        Box::new(ServedAfterFaults::new(scenario)),
        Box::new(AgreeOnHighestAs(AgreeOnHighest::new(scenario, DEADLINE))),
        Box::new(Budget::new(scenario)),
    ]
}

/// The election exercises' agreement check under this exercise's name.
#[derive(Clone, Debug, Hash)]
pub struct AgreeOnHighestAs(pub AgreeOnHighest);

impl Monitor<FailoverMsg> for AgreeOnHighestAs {
    fn name(&self) -> String {
        AGREE.into()
    }
    fn on_event(&mut self, step: &Step<'_, FailoverMsg>) -> Result<(), String> {
        Monitor::<FailoverMsg>::on_event(&mut self.0, step)
    }
    fn deadline(&self) -> Option<Time> {
        Monitor::<FailoverMsg>::deadline(&self.0)
    }
    fn settled(&self) -> Result<(), String> {
        Monitor::<FailoverMsg>::settled(&self.0)
    }
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        if !self.0.state.follows.iter().any(Option::is_some) && self.0.state.up.iter().any(|&u| u) {
            return Err(leader::NOTHING_ELECTED.into());
        }
        Monitor::<FailoverMsg>::at_end(&mut self.0, end)
    }
}

pub fn check(solution: Box<NodeFactory<FailoverMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(), monitors, run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<FailoverMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "failover",
    solution: Box<NodeFactory<FailoverMsg>> = Box::new(failover_node),
    cell: {
        // BEGIN CELL
        use std::collections::{BTreeSet, VecDeque};

        use distlab::catalogue::failover::{FailoverMsg, Need, HOLD, MAX_DELAY};
        use distlab::catalogue::mutex::{first_request, think_time, ROUNDS};
        use distlab::{ms, Ctx, NodeId, Observation, Process, Time, TimerTag};

        const ASK: TimerTag = 1; // workload: time to ask
        const LEAVE: TimerTag = 2; // workload: time to leave
        // BEGIN SOLUTION
        const PROBE: TimerTag = 3; // waiting: time to ask the coordinator whether it is alive
        const NO_ALIVE: TimerTag = 4; // the coordinator did not answer the probe
        const NO_ANSWER: TimerTag = 5; // electing: nobody higher answered, so I win
        const NO_COORDINATOR: TimerTag = 6; // answered, but the winner never announced itself
        const POLL: TimerTag = 7; // new coordinator: the old one's grants have landed
        const POLL_DONE: TimerTag = 8; // whoever has not answered the poll is down
        const CHECK_HOLDER: TimerTag = 9; // the holder should have released by now

        // A question is answered within two message delays, or never.
        const ROUND_TRIP: Time = 2 * MAX_DELAY + ms(2);
        const PATIENCE: Time = ms(30);
        // A granted node's Release arrives within a delay, the hold and a delay.
        const HOLDER_TIME: Time = HOLD + ROUND_TRIP + ms(3);

        #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, Default)]
        enum Phase {
            #[default]
            Idle,
            Electing,
            AwaitingCoordinator,
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        #[derive(Clone, Debug, Hash, Default)]
        struct Failover {
            // BEGIN SOLUTION
            // Client: entries so far, and where I stand.
            rounds: u32,
            wanting: bool,
            inside: bool,
            // Election.
            leader: Option<NodeId>,
            phase: Phase,
            // Coordinator: granting only once the poll is over.
            ready: bool,
            holder: Option<NodeId>,
            waiting: VecDeque<NodeId>,
            unanswered: BTreeSet<NodeId>,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Failover {
            fn coordinating(&self, ctx: &Ctx<FailoverMsg>) -> bool {
                self.leader == Some(ctx.me())
            }

            fn hold_election(&mut self, ctx: &mut Ctx<FailoverMsg>) {
                ctx.cancel_timer(NO_ALIVE);
                ctx.cancel_timer(NO_COORDINATOR);
                let me = ctx.me();
                if me + 1 == ctx.nodes() {
                    return self.take_over(ctx); // nobody is higher
                }
                self.phase = Phase::Electing;
                for higher in me + 1..ctx.nodes() {
                    ctx.send(higher, FailoverMsg::Election);
                }
                ctx.set_timer(NO_ANSWER, ROUND_TRIP);
            }

            fn take_over(&mut self, ctx: &mut Ctx<FailoverMsg>) {
                self.phase = Phase::Idle;
                ctx.observe(Observation::Leader(ctx.me()));
                ctx.broadcast(FailoverMsg::Coordinator);
                if self.coordinating(ctx) {
                    return; // re-elected: my queue is still right
                }
                self.leader = Some(ctx.me());
                self.ready = false;
                self.holder = None;
                self.waiting.clear();
                // Whoever coordinated before stops when my Coordinator reaches it; its
                // last grants land within a delay after that. Poll only then.
                ctx.set_timer(POLL, ROUND_TRIP);
            }

            fn follow(&mut self, ctx: &mut Ctx<FailoverMsg>, leader: NodeId) {
                self.phase = Phase::Idle;
                for timer in [NO_ANSWER, NO_COORDINATOR, NO_ALIVE, POLL, POLL_DONE, CHECK_HOLDER] {
                    ctx.cancel_timer(timer);
                }
                self.leader = Some(leader);
                self.ready = false;
                self.holder = None;
                self.waiting.clear();
                self.unanswered.clear();
                ctx.observe(Observation::Leader(leader));
                if self.wanting {
                    ctx.send(leader, FailoverMsg::Request); // my last request may have died with the old one
                }
            }

            fn poll(&mut self, ctx: &mut Ctx<FailoverMsg>, whom: Vec<NodeId>) {
                self.ready = false;
                for &node in &whom {
                    ctx.send(node, FailoverMsg::Poll);
                }
                self.unanswered = whom.into_iter().collect();
                ctx.set_timer(POLL_DONE, ROUND_TRIP);
            }

            fn poll_done(&mut self, ctx: &mut Ctx<FailoverMsg>) {
                ctx.cancel_timer(POLL_DONE);
                // Silence means a crash, and a crash releases the section.
                if self.holder.is_some_and(|h| self.unanswered.contains(&h)) {
                    self.holder = None;
                }
                let silent = std::mem::take(&mut self.unanswered);
                self.waiting.retain(|n| !silent.contains(n));
                self.ready = true;
                if self.holder.is_some() {
                    ctx.set_timer(CHECK_HOLDER, HOLDER_TIME);
                }
                self.grant_next(ctx);
            }

            fn grant_next(&mut self, ctx: &mut Ctx<FailoverMsg>) {
                if !self.ready || self.holder.is_some() {
                    return;
                }
                if let Some(next) = self.waiting.pop_front() {
                    self.holder = Some(next);
                    ctx.send(next, FailoverMsg::Grant);
                    ctx.set_timer(CHECK_HOLDER, HOLDER_TIME);
                }
            }

            fn enqueue(&mut self, node: NodeId) {
                if !self.waiting.contains(&node) {
                    self.waiting.push_back(node);
                }
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<FailoverMsg> for Failover {
            fn on_start(&mut self, ctx: &mut Ctx<FailoverMsg>) {
                // BEGIN SOLUTION
                ctx.set_timer(ASK, first_request(ctx.me()));
                self.hold_election(ctx);
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, first_request(1), think_time(2), HOLD, ROUNDS, MAX_DELAY, ms(1));
                // let _ = (Observation::RequestCritical, Need::Nothing);
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<FailoverMsg>, from: NodeId, msg: FailoverMsg) {
                // BEGIN SOLUTION
                let me = ctx.me();
                match msg {
                    // Coordinator.
                    FailoverMsg::Request if self.coordinating(ctx) => {
                        self.enqueue(from);
                        self.grant_next(ctx);
                    }
                    FailoverMsg::Release if self.coordinating(ctx) && self.holder == Some(from) => {
                        ctx.cancel_timer(CHECK_HOLDER);
                        self.holder = None;
                        self.grant_next(ctx);
                    }
                    FailoverMsg::AreYouAlive if self.coordinating(ctx) => ctx.send(from, FailoverMsg::Alive),
                    FailoverMsg::State(need) if self.coordinating(ctx) && self.unanswered.contains(&from) => {
                        self.unanswered.remove(&from);
                        if need == Need::Holding {
                            self.holder = Some(from);
                            self.waiting.retain(|&n| n != from);
                        } else {
                            if self.holder == Some(from) {
                                self.holder = None; // it left (its Release is still on the way)
                            }
                            if need == Need::Wanting {
                                self.enqueue(from);
                            }
                        }
                        if self.unanswered.is_empty() {
                            self.poll_done(ctx);
                        }
                    }
                    // Client.
                    FailoverMsg::Grant if self.wanting => {
                        self.wanting = false;
                        self.inside = true;
                        ctx.cancel_timer(NO_ALIVE);
                        ctx.observe(Observation::EnterCritical);
                        ctx.set_timer(LEAVE, HOLD);
                    }
                    // A grant I no longer need: give it back at once.
                    FailoverMsg::Grant => ctx.send(from, FailoverMsg::Release),
                    FailoverMsg::Alive => ctx.cancel_timer(NO_ALIVE),
                    FailoverMsg::Poll => {
                        // Only a new coordinator polls everyone, after any older claim
                        // has landed: if I follow a lower one, its Coordinator crossed this one's.
                        if from > me && self.leader.is_none_or(|l| from > l) {
                            self.follow(ctx, from);
                        }
                        let need = if self.inside {
                            Need::Holding
                        } else if self.wanting {
                            Need::Wanting
                        } else {
                            Need::Nothing
                        };
                        ctx.send(from, FailoverMsg::State(need));
                    }
                    // Election.
                    FailoverMsg::Election if from < me => {
                        ctx.send(from, FailoverMsg::Answer);
                        if self.coordinating(ctx) && self.phase == Phase::Idle {
                            // Only a node higher than me could replace me, and it would say so.
                            ctx.send(from, FailoverMsg::Coordinator);
                        } else if self.phase == Phase::Idle {
                            self.hold_election(ctx);
                        }
                    }
                    FailoverMsg::Answer if self.phase == Phase::Electing => {
                        ctx.cancel_timer(NO_ANSWER);
                        self.phase = Phase::AwaitingCoordinator;
                        ctx.set_timer(NO_COORDINATOR, ms(60));
                    }
                    FailoverMsg::Coordinator if from > me => self.follow(ctx, from),
                    // A lower node claims the lead while I am alive: bully it.
                    FailoverMsg::Coordinator if self.phase == Phase::Idle => self.hold_election(ctx),
                    _ => {}
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg);
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<FailoverMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                match timer {
                    ASK => {
                        ctx.observe(Observation::RequestCritical);
                        self.wanting = true;
                        if let Some(leader) = self.leader {
                            ctx.send(leader, FailoverMsg::Request);
                        } // else the election's winner polls me
                        ctx.set_timer(PROBE, PATIENCE);
                    }
                    LEAVE => {
                        ctx.observe(Observation::ExitCritical);
                        self.inside = false;
                        if let Some(leader) = self.leader {
                            ctx.send(leader, FailoverMsg::Release);
                        }
                        self.rounds += 1;
                        if self.rounds < ROUNDS {
                            ctx.set_timer(ASK, think_time(ctx.nodes()));
                        }
                    }
                    PROBE if self.wanting => {
                        if let (Some(leader), Phase::Idle) = (self.leader, self.phase) {
                            ctx.send(leader, FailoverMsg::AreYouAlive);
                            ctx.set_timer(NO_ALIVE, ROUND_TRIP);
                        }
                        ctx.set_timer(PROBE, PATIENCE);
                    }
                    NO_ANSWER => self.take_over(ctx),
                    NO_ALIVE | NO_COORDINATOR => self.hold_election(ctx),
                    POLL => self.poll(ctx, (0..ctx.nodes()).collect()),
                    POLL_DONE => self.poll_done(ctx),
                    CHECK_HOLDER => {
                        if let Some(holder) = self.holder {
                            self.poll(ctx, vec![holder]);
                        }
                    }
                    _ => {}
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }
        }

        fn failover_node(_id: NodeId) -> Box<dyn Process<FailoverMsg>> {
            Box::new(Failover::default())
        }
        // END CELL
    }
}
