//! Notebook 6, election: the ring algorithm. Nodes sit on a ring in id
//! order; an ELECTION message goes round collecting the ids of live nodes,
//! skipping dead successors (each hop is acknowledged, and a silent
//! successor is passed over); when it returns to its initiator, a
//! COORDINATOR message naming the highest id goes round. A node that
//! started its own election kills competing ELECTIONs from lower ids.

use serde::{Deserialize, Serialize};

use super::leader::{
    self, is_adoption, AgreeOnHighest, ElectionBudget, NoLowerLeader, AGREE, NOTHING_ELECTED, NO_LOWER,
};
use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, Step, NODES_RUN_CLEANLY};
use crate::faults::fmt_time;
use crate::process::{NodeFactory, Observation};
use crate::scenario::Scenario;
use crate::trace::EventKind;
use crate::{ms, Fault, NodeId, Time};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RingMsg {
    /// Goes round the ring; `ids[0]` started it, each node appends itself.
    /// `tag` names this hop for the `Ack`.
    Election { tag: u64, ids: Vec<NodeId> },
    /// Goes round the ring once, naming the winner; `ids` are the nodes it
    /// has visited.
    Coordinator { tag: u64, leader: NodeId, ids: Vec<NodeId> },
    /// "Got your ring message `tag`": a successor that sends none is dead.
    Ack { tag: u64 },
    /// The coordinator's heartbeat.
    Alive,
}

pub const DEADLINE: Time = ms(500);

/// Duplicate suppression: a node that started its own election (and has
/// not adopted a coordinator since) never passes on an ELECTION begun by a
/// lower id.
#[derive(Clone, Debug, Hash, Default)]
pub struct KillsLowerElections {
    elected: bool,
    /// node -> when it started its current election.
    started: Vec<Option<Time>>,
}

const SUPPRESS: &str = "a node in its own election drops lower ELECTIONs";

impl Monitor<RingMsg> for KillsLowerElections {
    fn name(&self) -> String {
        SUPPRESS.into()
    }
    fn at_end(&mut self, _: &crate::check::RunEnd<'_>) -> Result<(), String> {
        if self.elected {
            Ok(())
        } else {
            Err(NOTHING_ELECTED.into())
        }
    }
    fn on_event(&mut self, step: &Step<'_, RingMsg>) -> Result<(), String> {
        self.elected |= is_adoption(step.kind);
        let node = match step.kind {
            EventKind::Send { from, .. } | EventKind::Crash { node: from } | EventKind::Observe { node: from, .. } => {
                *from
            }
            _ => return Ok(()),
        };
        if self.started.len() <= node {
            self.started.resize(node + 1, None);
        }
        match (step.kind, step.msg) {
            (EventKind::Send { .. }, Some(RingMsg::Election { ids, .. })) if ids.len() == 1 && ids[0] == node => {
                self.started[node] = Some(step.at);
            }
            (EventKind::Send { .. }, Some(RingMsg::Election { ids, .. })) => {
                if let (Some(since), Some(&origin)) = (self.started[node], ids.first()) {
                    if origin < node && ids.last() == Some(&node) {
                        return Err(format!(
                            "node {node} started its own election at {} but at {} passed on the ELECTION begun \
                             by node {origin}, a lower id: it should drop it, so that only the highest \
                             initiator's message goes round",
                            fmt_time(since),
                            fmt_time(step.at)
                        ));
                    }
                }
            }
            (EventKind::Crash { .. }, _) | (EventKind::Observe { what: Observation::Leader(_), .. }, _) => {
                self.started[node] = None;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Per round: the winning ELECTION goes round once (n hops, plus a try for
/// each dead node), and every killed one dies soon; 3n leaves room for
/// skips and stragglers, while n initiators that all go round cost n^2.
const BUDGET: &str = "ELECTION messages within 3n per round";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "ring",
    title: "Election: the ring algorithm",
    notebook: 6,
    position: 2,
    points: 10,
    task: "Write a node for `RingMsg` that elects the live node with the highest id. Nodes form a \
           ring in id order: the successor of node `i` is `i + 1`, and of the last node, node 0.\n\n\
           - To start an election, send `Election { ids: vec![me], .. }` to your successor. A node \
           that receives an `Election` appends its id and passes it on. When it comes back to the \
           node that started it (`ids[0]`), that node picks the highest id in `ids` and sends \
           `Coordinator` round the ring; each node takes that leader and passes it on until it has \
           been everywhere.\n\
           - Every ring hop is acknowledged: answer each `Election` and `Coordinator` with `Ack` \
           carrying the same `tag` (the sender picks tags). If your successor does not ack in time, \
           it is dead: send to the next one after it, and so on.\n\
           - Kill duplicates: if you have started an election of your own and an `Election` begun \
           by a lower id reaches you, drop it. Drop an `Election` that already lists you (its \
           initiator is gone).\n\
           - The coordinator sends `Alive` to everyone periodically; a node that stops hearing it, \
           hears `Alive` from a node higher than its leader, or recovers from a crash, starts an \
           election. If an election you started or joined does not end with a `Coordinator` in \
           time, start one again.\n\
           - Call `ctx.observe(Observation::Leader(id))` each time you take `id` as coordinator.\n\n\
           The network loses nothing, but crashed nodes and partitions drop messages; every message \
           arrives between 1 ms and 5 ms after it is sent, so an `Ack` comes within 10 ms or not at \
           all. Checks: within 500 ms of the last fault every live node follows the highest live \
           id; a node in its own election never passes on a lower `Election`; once a higher node \
           has been up and reachable for 500 ms nobody adopts a lower one; and each round of \
           elections costs at most 3n `Election` messages (one round at the start, one per crash \
           or recovery, two per partition).",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: AGREE, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: SUPPRESS, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: NO_LOWER, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: BUDGET, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: super::no_variant,
};

/// Public: the coordinator crashes (its successor must be skipped); it
/// comes back; a second node dies while the election goes round.
pub fn scenarios() -> Vec<ScenarioRuns> {
    let crash = |node, at| Fault::Crash { node, at: ms(at) };
    let back = |node, at| Fault::Recover { node, at: ms(at) };
    let public = [
        ("coordinator crashes", vec![crash(4, 150)]),
        ("coordinator crashes and comes back", vec![crash(4, 150), back(4, 450)]),
        ("two crashes mid-election", vec![crash(4, 150), crash(1, 212)]),
    ];
    let mut runs: Vec<ScenarioRuns> = public
        .into_iter()
        .map(|(name, faults)| ScenarioRuns::public(leader::scenario(name, 5, faults, DEADLINE), 3))
        .collect();
    runs.extend(hidden_scenarios());
    runs
}

super::hidden! {
    fn hidden_scenarios() -> Vec<ScenarioRuns> {
        leader::hidden_scenarios(DEADLINE)
    }
}

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<RingMsg>>> {
    vec![
        Box::new(AgreeOnHighest::new(scenario, DEADLINE)),
        Box::new(KillsLowerElections::default()),
        Box::new(NoLowerLeader::new(scenario, DEADLINE)),
        Box::new(ElectionBudget {
            name: BUDGET,
            kind: "Election",
            per_round: 3 * scenario.nodes,
            rule: "three times the ring size",
            rounds: ElectionBudget::rounds(scenario),
            elected: false,
        }),
    ]
}

pub fn check(solution: Box<NodeFactory<RingMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(), monitors, run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<RingMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "ring",
    solution: Box<NodeFactory<RingMsg>> = Box::new(ring_node),
    cell: {
        // BEGIN CELL
        use std::collections::BTreeMap;

        use distlab::catalogue::ring::RingMsg;
        use distlab::{ms, Ctx, NodeId, Observation, Process, TimerTag};

        // BEGIN SOLUTION
        const HEARTBEAT: TimerTag = 1;
        const WATCHDOG: TimerTag = 2;
        /// An election I started or joined has not ended with a Coordinator.
        const ROUND: TimerTag = 3;
        /// Hop `tag` waits for its Ack under timer `ACK_BASE + tag`.
        const ACK_BASE: TimerTag = 1_000;

        /// A ring message without its hop tag.
        #[derive(Clone, Debug, Hash, PartialEq, Eq)]
        enum Hop {
            Election(Vec<NodeId>),
            Coordinator(NodeId, Vec<NodeId>),
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        #[derive(Clone, Debug, Hash, Default)]
        struct Ring {
            leader: Option<NodeId>,
            // BEGIN SOLUTION
            /// I started an election that has not ended.
            electing: bool,
            /// I passed on someone else's election that has not ended.
            joined: bool,
            next_tag: u64,
            /// Hops sent and not yet acknowledged: tag -> (successor tried, hop).
            unacked: BTreeMap<u64, (NodeId, Hop)>,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Ring {
            /// Sends `hop` to the first node after `after`; if that is me, everyone
            /// else is dead and the hop comes straight back.
            fn forward(&mut self, ctx: &mut Ctx<RingMsg>, hop: Hop, after: NodeId) {
                let to = (after + 1) % ctx.nodes();
                if to == ctx.me() {
                    return self.handle(ctx, hop);
                }
                let tag = self.next_tag;
                self.next_tag += 1;
                let msg = match hop.clone() {
                    Hop::Election(ids) => RingMsg::Election { tag, ids },
                    Hop::Coordinator(leader, ids) => RingMsg::Coordinator { tag, leader, ids },
                };
                ctx.send(to, msg);
                self.unacked.insert(tag, (to, hop));
                ctx.set_timer(ACK_BASE + tag, ms(12));
            }

            fn watch_round(&self, ctx: &mut Ctx<RingMsg>) {
                ctx.cancel_timer(WATCHDOG);
                ctx.set_timer(ROUND, ms(25) * ctx.nodes() as i64);
            }

            fn start_election(&mut self, ctx: &mut Ctx<RingMsg>) {
                let me = ctx.me();
                self.electing = true;
                // Mine outranks the lower elections I was still handing on.
                self.unacked.retain(|_, (_, hop)| !matches!(hop, Hop::Election(ids) if ids[0] < me));
                self.watch_round(ctx);
                self.forward(ctx, Hop::Election(vec![me]), me);
            }

            fn adopt(&mut self, ctx: &mut Ctx<RingMsg>, leader: NodeId) {
                self.leader = Some(leader);
                self.electing = false;
                self.joined = false;
                ctx.cancel_timer(ROUND);
                ctx.observe(Observation::Leader(leader));
                if leader == ctx.me() {
                    ctx.cancel_timer(WATCHDOG);
                    ctx.set_timer(HEARTBEAT, ms(20));
                } else {
                    ctx.cancel_timer(HEARTBEAT);
                    ctx.set_timer(WATCHDOG, ms(50));
                }
            }

            fn handle(&mut self, ctx: &mut Ctx<RingMsg>, hop: Hop) {
                let me = ctx.me();
                match hop {
                    // My election went all the way round: the highest id on it wins.
                    Hop::Election(ids) if ids[0] == me => {
                        let winner = ids.iter().copied().max().unwrap_or(me);
                        self.adopt(ctx, winner);
                        self.forward(ctx, Hop::Coordinator(winner, vec![me]), me);
                    }
                    // Lists me but was not started by me: its starter is gone.
                    Hop::Election(ids) if ids.contains(&me) => {}
                    // Duplicate suppression: I run my own election, this one is lower.
                    Hop::Election(ids) if self.electing && ids[0] < me => {}
                    Hop::Election(mut ids) => {
                        ids.push(me);
                        self.joined = true;
                        self.watch_round(ctx);
                        self.forward(ctx, Hop::Election(ids), me);
                    }
                    Hop::Coordinator(_, ids) if ids.contains(&me) => {}
                    // It went round without me, and I am higher: elect again.
                    Hop::Coordinator(leader, _) if leader < me => {
                        if !self.electing {
                            self.start_election(ctx);
                        }
                    }
                    Hop::Coordinator(leader, mut ids) => {
                        self.adopt(ctx, leader);
                        ids.push(me);
                        self.forward(ctx, Hop::Coordinator(leader, ids), me);
                    }
                }
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<RingMsg> for Ring {
            fn on_start(&mut self, ctx: &mut Ctx<RingMsg>) {
                // BEGIN SOLUTION
                self.start_election(ctx);
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, ms(1), Observation::Leader(0));
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<RingMsg>, from: NodeId, msg: RingMsg) {
                // BEGIN SOLUTION
                match msg {
                    RingMsg::Election { tag, ids } => {
                        ctx.send(from, RingMsg::Ack { tag });
                        self.handle(ctx, Hop::Election(ids));
                    }
                    RingMsg::Coordinator { tag, leader, ids } => {
                        ctx.send(from, RingMsg::Ack { tag });
                        self.handle(ctx, Hop::Coordinator(leader, ids));
                    }
                    RingMsg::Ack { tag } => {
                        if self.unacked.get(&tag).is_some_and(|(to, _)| *to == from) {
                            self.unacked.remove(&tag);
                            ctx.cancel_timer(ACK_BASE + tag);
                        }
                    }
                    RingMsg::Alive if self.leader == Some(from) => ctx.set_timer(WATCHDOG, ms(50)),
                    RingMsg::Alive => {
                        let higher = self.leader.is_none_or(|l| from > l);
                        if higher && !self.electing && !self.joined {
                            self.start_election(ctx);
                        }
                    }
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg);
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<RingMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                match timer {
                    HEARTBEAT => {
                        ctx.broadcast(RingMsg::Alive);
                        ctx.set_timer(HEARTBEAT, ms(20));
                    }
                    WATCHDOG | ROUND => self.start_election(ctx),
                    ack_timer if ack_timer >= ACK_BASE => {
                        // The successor never acked: skip it.
                        if let Some((dead, hop)) = self.unacked.remove(&(ack_timer - ACK_BASE)) {
                            self.forward(ctx, hop, dead);
                        }
                    }
                    _ => {}
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }

            fn on_recover(&mut self, ctx: &mut Ctx<RingMsg>) {
                self.on_start(ctx)
            }
        }

        fn ring_node(_id: NodeId) -> Box<dyn Process<RingMsg>> {
            Box::new(Ring::default())
        }
        // END CELL
    }
}
