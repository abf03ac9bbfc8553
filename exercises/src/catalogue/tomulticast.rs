//! Notebook 5: totally ordered multicast with Lamport timestamps. Every
//! node multicasts a few messages; all nodes must deliver all of them, in
//! one order.
//!
//! The algorithm assumes reliable FIFO channels, so every scenario has
//! them and none loses messages; what varies is delays and node counts.
//! Both textbook delivery rules pass: wait for an acknowledgement of the
//! head message from everyone, or for any later-stamped message from
//! everyone (an explicit ack of each message is not strictly needed).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, RunEnd, Step, NODES_RUN_CLEANLY};
use crate::network::ClockModel;
use crate::process::{NodeFactory, Observation};
use crate::scenario::Scenario;
use crate::trace::EventKind;
use crate::{ms, Delay, Network, NodeId, Time};

/// Each node multicasts this many messages, numbered 1, 2, ...
pub const MULTICASTS: u64 = 3;
/// Every node multicasts its next message every `PERIOD`: all nodes at
/// the same moments, so equal timestamps are common.
pub const PERIOD: Time = ms(4);

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ToMsg {
    /// Message number `seq` of its sender, stamped with the sender's
    /// Lamport time.
    Multicast { ts: u64, seq: u64 },
    /// An acknowledgement, stamped with the acknowledging node's Lamport
    /// time, of message `seq` of node `origin`.
    Ack { ts: u64, origin: NodeId, seq: u64 },
}

pub const ORDER: &str = "one total order";
pub const ALL: &str = "every multicast is delivered everywhere";
pub const COST: &str = "messages per multicast";

/// How long after the start every node must have delivered everything.
const DEADLINE: Time = ms(500);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Property {
    Order,
    All,
    Cost,
}

#[derive(Clone, Debug, Hash)]
pub struct ToCheck {
    property: Property,
    nodes: usize,
    /// (origin, seq) of every message multicast so far.
    multicast: BTreeSet<(NodeId, u64)>,
    /// The one order: the k-th message delivered anywhere, and who first
    /// delivered it k-th.
    order: Vec<(NodeId, u64, NodeId)>,
    delivered: Vec<Vec<(NodeId, u64)>>,
}

fn nth(k: usize) -> String {
    let suffix = match (k % 10, k % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{k}{suffix}")
}

impl ToCheck {
    fn deliver(&mut self, node: NodeId, origin: NodeId, seq: u64) -> Result<(), String> {
        let mine = &mut self.delivered[node];
        if mine.contains(&(origin, seq)) {
            return Err(format!("node {node} delivered message #{seq} of node {origin} a second time"));
        }
        if origin >= self.nodes || (origin != node && !self.multicast.contains(&(origin, seq))) {
            return Err(format!("node {node} delivered message #{seq} of node {origin}, which was never multicast"));
        }
        let k = mine.len();
        mine.push((origin, seq));
        match self.order.get(k) {
            None => self.order.push((origin, seq, node)),
            Some(&(o, s, first)) if (o, s) != (origin, seq) => {
                return Err(format!(
                    "node {node} delivered message #{seq} of node {origin} as its {} message, but node {first} \
                     delivered message #{s} of node {o} {}: all nodes must deliver in one order",
                    nth(k + 1),
                    nth(k + 1)
                ))
            }
            Some(_) => {}
        }
        Ok(())
    }
}

impl Monitor<ToMsg> for ToCheck {
    fn name(&self) -> String {
        match self.property {
            Property::Order => ORDER,
            Property::All => ALL,
            Property::Cost => COST,
        }
        .into()
    }
    fn on_event(&mut self, step: &Step<'_, ToMsg>) -> Result<(), String> {
        match (step.kind, step.msg) {
            (EventKind::Send { from, .. }, Some(ToMsg::Multicast { seq, .. })) => {
                self.multicast.insert((*from, *seq));
            }
            (EventKind::Observe { node, what: Observation::Deliver { origin, seq } }, _) => {
                let verdict = self.deliver(*node, *origin, *seq);
                if self.property == Property::Order {
                    return verdict;
                }
            }
            _ => {}
        }
        Ok(())
    }
    fn deadline(&self) -> Option<Time> {
        (self.property == Property::All).then_some(DEADLINE)
    }
    fn settled(&self) -> Result<(), String> {
        let every: Vec<(NodeId, u64)> = (0..self.nodes).flat_map(|o| (1..=MULTICASTS).map(move |s| (o, s))).collect();
        if let Some((o, s)) = every.iter().find(|m| !self.multicast.contains(m)) {
            return Err(format!("node {o} never multicast its message #{s}"));
        }
        for (node, got) in self.delivered.iter().enumerate() {
            let missing: Vec<String> =
                every.iter().filter(|m| !got.contains(m)).map(|(o, s)| format!("#{s} of node {o}")).collect();
            if !missing.is_empty() {
                return Err(format!(
                    "node {node} delivered {} of the {} multicasts; it never delivered {}",
                    got.len(),
                    every.len(),
                    missing.join(", ")
                ));
            }
        }
        Ok(())
    }
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        let n = self.nodes;
        // A check that saw nothing happen has judged nothing.
        if self.property == Property::Order && self.delivered.iter().filter(|d| d.len() >= 2).count() < 2 {
            return Err(
                "fewer than two nodes delivered two or more multicasts, so there was no order to compare".into()
            );
        }
        if self.property == Property::Cost && self.multicast.is_empty() {
            return Err("no node ever multicast a message, so the message bound had nothing to bound".into());
        }
        let per = (n - 1) + n * (n - 1);
        let count = self.multicast.len();
        let bound = per * count;
        if self.property == Property::Cost && end.counters.sent > bound {
            return Err(format!(
                "the run sent {} messages for {count} multicasts among {n} nodes; a multicast needs at most \
                 (n-1) + n(n-1) = {per} (the message to every other node, then at most one acknowledgement from each \
                 node to each other node), so at most {bound}",
                end.counters.sent
            ));
        }
        Ok(())
    }
}

pub fn monitors(nodes: usize) -> Vec<Box<dyn Monitor<ToMsg>>> {
    [Property::Order, Property::All, Property::Cost]
        .into_iter()
        .map(|property| {
            Box::new(ToCheck {
                property,
                nodes,
                multicast: BTreeSet::new(),
                order: Vec::new(),
                delivered: vec![Vec::new(); nodes],
            }) as Box<dyn Monitor<ToMsg>>
        })
        .collect()
}

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "tomulticast",
    title: "Totally ordered multicast with Lamport timestamps",
    notebook: 5,
    position: 3,
    points: 10,
    task: "Write a node for `ToMsg` so that every node delivers every multicast message, and all nodes \
           deliver them in the same order.\n\n\
           **Workload**: every `PERIOD`, each node multicasts its next message (`seq` = 1, 2, ... up to \
           `MULTICASTS`): it sends `ToMsg::Multicast { ts, seq }` to every other node and also queues \
           the message for itself. Record each delivery to the application with \
           `ctx.observe(Observation::Deliver { origin, seq })`, including your own messages.\n\n\
           **Algorithm**: keep a Lamport clock and stamp every message you send with it. Keep received \
           messages in a hold-back queue ordered by (timestamp, origin id): the id breaks ties. \
           Acknowledge each received multicast to every node with `ToMsg::Ack`. Deliver the head of the \
           queue only once you know no message with a smaller (timestamp, id) can still arrive: when \
           every node has acknowledged it, or, which is enough, when you have received from every other \
           node some message stamped later. Channels are reliable and FIFO. A multicast may cost at most \
           (n-1) + n(n-1) messages.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: ORDER, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: ALL, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: COST, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: super::no_variant,
};

fn fifo(delay: Delay) -> Network {
    Network { delay, fifo: true, ..Network::default() }
}

pub fn scenarios() -> Vec<ScenarioRuns> {
    let calm = Scenario {
        network: fifo(Delay::Uniform { min: ms(1), max: ms(8) }),
        until: ms(1_000),
        ..Scenario::new("3 nodes, FIFO links", 3)
    };
    let slow = Scenario {
        network: fifo(Delay::Exponential { min: ms(1), mean: ms(6) }),
        until: ms(1_000),
        ..Scenario::new("4 nodes, slow FIFO links", 4)
    };
    // Timers run on drifting clocks: the nodes multicast out of step, so a
    // node may acknowledge a message before it multicasts its own next one.
    let skewed = |nodes: usize, drift: &[f64]| Scenario {
        network: fifo(Delay::Uniform { min: ms(1), max: ms(8) }),
        clocks: drift.iter().map(|&drift| ClockModel { drift, offset: 0 }).collect(),
        until: ms(1_000),
        ..Scenario::new(&format!("{nodes} nodes out of step (drifting clocks)"), nodes)
    };
    let mut runs = vec![
        ScenarioRuns::public(calm, 3),
        ScenarioRuns::public(slow, 4),
        ScenarioRuns::public(skewed(3, &[0.0, -0.45, 0.45]), 8),
        ScenarioRuns::public(skewed(4, &[0.0, -0.45, 0.45, 0.3]), 4),
    ];
    runs.extend(hidden_scenarios());
    runs
}

super::hidden! {
    fn hidden_scenarios() -> Vec<ScenarioRuns> {
        let wide = Scenario {
            network: fifo(Delay::Uniform { min: 0, max: ms(20) }),
            until: ms(1_000),
            ..Scenario::new("5 nodes, wide delays", 5)
        };
        let pair = Scenario { network: fifo(Delay::Uniform { min: 0, max: ms(5) }), until: ms(1_000), ..Scenario::new("2 nodes", 2) };
        let many = Scenario {
            network: fifo(Delay::Exponential { min: 0, mean: ms(3) }),
            until: ms(1_000),
            ..Scenario::new("6 nodes, bursty delays", 6)
        };
        vec![ScenarioRuns::hidden(wide, 3), ScenarioRuns::hidden(pair, 2), ScenarioRuns::hidden(many, 2)]
    }
}

pub fn check(solution: Box<NodeFactory<ToMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(), |s| monitors(s.nodes), run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<ToMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "tomulticast",
    solution: Box<NodeFactory<ToMsg>> = Box::new(tomulticast_node),
    cell: {
        // BEGIN CELL
        use std::collections::{BTreeMap, BTreeSet};

        use distlab::catalogue::tomulticast::{ToMsg, MULTICASTS, PERIOD};
        use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

        const NEXT: TimerTag = 1;

        #[derive(Clone, Debug, Hash, Default)]
        struct TotalOrder {
            // BEGIN SOLUTION
            clock: u64,
            sent: u64,
            /// The hold-back queue: (timestamp, origin) -> the origin's seq.
            queue: BTreeMap<(u64, NodeId), u64>,
            /// (origin, seq) -> the nodes known to have it (acks may overtake the message).
            seen_by: BTreeMap<(NodeId, u64), BTreeSet<NodeId>>,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl TotalOrder {
            fn tick(&mut self, stamp: u64) {
                self.clock = self.clock.max(stamp) + 1;
            }

            fn seen(&mut self, origin: NodeId, seq: u64, by: NodeId) {
                self.seen_by.entry((origin, seq)).or_default().insert(by);
            }

            /// Delivers from the head while everyone has acknowledged it.
            fn deliver_ready(&mut self, ctx: &mut Ctx<ToMsg>) {
                while let Some((&(ts, origin), &seq)) = self.queue.first_key_value() {
                    let acked = self.seen_by.get(&(origin, seq)).map_or(0, |s| s.len());
                    if acked < ctx.nodes() {
                        return;
                    }
                    self.queue.remove(&(ts, origin));
                    self.seen_by.remove(&(origin, seq));
                    ctx.observe(Observation::Deliver { origin, seq });
                }
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<ToMsg> for TotalOrder {
            fn on_start(&mut self, ctx: &mut Ctx<ToMsg>) {
                // BEGIN SOLUTION
                ctx.set_timer(NEXT, PERIOD);
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, MULTICASTS, PERIOD);
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<ToMsg>, from: NodeId, msg: ToMsg) {
                // BEGIN SOLUTION
                let me = ctx.me();
                match msg {
                    ToMsg::Multicast { ts, seq } => {
                        self.tick(ts);
                        self.queue.insert((ts, from), seq);
                        self.seen(from, seq, from);
                        self.seen(from, seq, me);
                        self.clock += 1;
                        let ack = ToMsg::Ack { ts: self.clock, origin: from, seq };
                        for peer in ctx.peers().collect::<Vec<_>>() {
                            ctx.send(peer, ack.clone());
                        }
                    }
                    ToMsg::Ack { ts, origin, seq } => {
                        self.tick(ts);
                        self.seen(origin, seq, from);
                    }
                }
                self.deliver_ready(ctx);
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg, Observation::Deliver { origin: 0, seq: 0 });
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<ToMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                let _ = timer;
                let me = ctx.me();
                self.sent += 1;
                self.clock += 1;
                let (ts, seq) = (self.clock, self.sent);
                self.queue.insert((ts, me), seq);
                self.seen(me, seq, me);
                for peer in ctx.peers().collect::<Vec<_>>() {
                    ctx.send(peer, ToMsg::Multicast { ts, seq });
                }
                if self.sent < MULTICASTS {
                    ctx.set_timer(NEXT, PERIOD);
                }
                self.deliver_ready(ctx);
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }
        }

        fn tomulticast_node(_id: NodeId) -> Box<dyn Process<ToMsg>> {
            Box::new(TotalOrder::default())
        }
        // END CELL
    }
}
