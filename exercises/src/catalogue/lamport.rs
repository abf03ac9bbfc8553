//! Notebook 5: Lamport clocks. Every node runs the fixed workload of
//! [`super::clocks`] and records the Lamport time of each of its events.
//!
//! The rule is fixed in the task (add 1 before every event; a receive takes
//! max(own, stamp) + 1), so the values are determined by the trace and the
//! monitor can recompute them. The clock condition is checked separately,
//! so a solution with another valid rule still earns that part.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::clocks::{self, ClockMsg, Logical, Tracker};
use super::runs::{check_runs, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, RunEnd, Step, NODES_RUN_CLEANLY};
use crate::process::{NodeFactory, Observation};
use crate::trace::{EventKind, MsgId};
use crate::NodeId;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LamportMsg {
    /// An application message stamped with the Lamport time of its send.
    App { ts: u64 },
}

impl ClockMsg for LamportMsg {
    type Stamp = u64;
    const WHAT: &'static str = "clock value";
    fn stamp(&self) -> u64 {
        let LamportMsg::App { ts } = self;
        *ts
    }
    fn observed(what: &Observation) -> Option<u64> {
        match what {
            Observation::Clock(c) => Some(*c),
            _ => None,
        }
    }
}

pub const WORKLOAD: &str = "the workload is followed";
pub const CONDITION: &str = "clock condition";
pub const STAMPS: &str = "messages carry the send's clock";
pub const EXACT: &str = "clock values follow the rules";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Property {
    Workload,
    Condition,
    Stamps,
    Exact,
}

/// One monitor per property; all share the tracker and differ only in what
/// they reject.
#[derive(Clone, Debug, Hash)]
pub struct LamportCheck {
    property: Property,
    tracker: Tracker,
    /// Each node's last recorded value.
    last: Vec<Option<u64>>,
    /// Each node's clock as the node itself keeps it: its last recorded
    /// value (even one the workload did not ask for), or a larger stamp it
    /// sent since. The rules are judged against this, not against values
    /// recomputed from the start, so a wrong value is blamed once, at the
    /// event where it first appears, and later events are described with the
    /// clock the node really had.
    clock: Vec<u64>,
    /// Per message: sender, recorded value of the send, stamp it carries.
    sends: BTreeMap<MsgId, (NodeId, Option<u64>, u64)>,
}

impl LamportCheck {
    fn new(property: Property, nodes: usize) -> Self {
        LamportCheck {
            property,
            tracker: Tracker::new(nodes),
            last: vec![None; nodes],
            clock: vec![0; nodes],
            sends: BTreeMap::new(),
        }
    }

    fn judge(&mut self, event: Logical<u64>) -> Result<(), String> {
        match event {
            Logical::Tick { node, tick, stamp } => self.tick(node, tick, stamp),
            Logical::Send { node, id, to, stamp } => self.send(node, id, to, stamp),
            Logical::Receive { node, from, id, stamp } => self.receive(node, from, id, stamp),
        }
    }

    fn tick(&mut self, node: NodeId, tick: u64, stamp: u64) -> Result<(), String> {
        let p = self.property;
        if p == Property::Condition {
            if let Some(prev) = self.last[node].filter(|&prev| stamp <= prev) {
                return Err(format!(
                    "node {node} recorded {stamp} for tick {tick} after {prev} for its previous event: \
                     each event must get a larger value than the one before it on the same node"
                ));
            }
        }
        let before = self.clock[node];
        let expected = before + 1;
        if p == Property::Exact && stamp != expected {
            return Err(format!(
                "node {node}'s tick {tick} (a local or send event): its clock was {before}, and it recorded {stamp} \
                 instead of {expected}: a local or send event adds exactly 1 to the clock"
            ));
        }
        self.clock[node] = stamp;
        self.last[node] = Some(stamp);
        Ok(())
    }

    fn send(&mut self, node: NodeId, id: MsgId, to: NodeId, stamp: u64) -> Result<(), String> {
        let recorded = self.last[node];
        if self.property == Property::Stamps && recorded != Some(stamp) {
            return Err(format!(
                "node {node} recorded {} for its send to node {to} but stamped the message with {stamp}: \
                 a message carries the clock value of its send event",
                recorded.map_or("nothing".into(), |r| r.to_string())
            ));
        }
        // A node that ticked again before sending has at least that clock;
        // a stale stamp does not set it back.
        self.clock[node] = self.clock[node].max(stamp);
        self.sends.insert(id, (node, recorded, stamp));
        Ok(())
    }

    fn receive(&mut self, node: NodeId, from: NodeId, id: MsgId, stamp: u64) -> Result<(), String> {
        let p = self.property;
        let before = self.clock[node];
        let Some(&(_, sent, carried)) = self.sends.get(&id) else {
            // A message outside the workload: nothing to judge, but the
            // node's clock still moves.
            self.clock[node] = stamp;
            self.last[node] = Some(stamp);
            return Ok(());
        };
        if p == Property::Condition {
            if let Some(prev) = self.last[node].filter(|&prev| stamp <= prev) {
                return Err(format!(
                    "node {node} recorded {stamp} for a receive from node {from} after {prev} for its previous \
                     event: each event must get a larger value than the one before it on the same node"
                ));
            }
            if let Some(sent) = sent.filter(|&s| stamp <= s) {
                return Err(format!(
                    "node {node} received a message from node {from} whose send was recorded as {sent} while its \
                     clock was {before}, then recorded {stamp}: the send happened before the receive, so the \
                     receive needs a larger value; on receipt the clock must jump past the message's timestamp"
                ));
            }
        }
        let expected = before.max(carried) + 1;
        if p == Property::Exact && stamp != expected {
            return Err(format!(
                "node {node} received a message stamped {carried} from node {from} while its clock was {before}, \
                 then recorded {stamp}; the rule gives max({before}, {carried}) + 1 = {expected}"
            ));
        }
        self.clock[node] = stamp;
        self.last[node] = Some(stamp);
        Ok(())
    }
}

impl LamportCheck {
    /// A value recorded outside the workload (an extra event, which the
    /// workload check reports) still is the node's clock from then on.
    fn follow(&mut self, step: &Step<'_, LamportMsg>) {
        if let EventKind::Observe { node, what: Observation::Clock(c) } = step.kind {
            self.clock[*node] = *c;
            self.last[*node] = Some(*c);
        }
    }
}

impl Monitor<LamportMsg> for LamportCheck {
    fn name(&self) -> String {
        match self.property {
            Property::Workload => WORKLOAD,
            Property::Condition => CONDITION,
            Property::Stamps => STAMPS,
            Property::Exact => EXACT,
        }
        .into()
    }
    fn on_event(&mut self, step: &Step<'_, LamportMsg>) -> Result<(), String> {
        match self.tracker.step(step) {
            Err(why) if self.property == Property::Workload => Err(why),
            Ok(Some(event)) => self.judge(event),
            _ => {
                self.follow(step);
                Ok(())
            }
        }
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        match self.tracker.finish() {
            Err(why) if self.property == Property::Workload => Err(why),
            _ => self.tracker.something_recorded::<LamportMsg>(),
        }
    }
}

pub fn monitors(nodes: usize) -> Vec<Box<dyn Monitor<LamportMsg>>> {
    [Property::Condition, Property::Stamps, Property::Exact, Property::Workload]
        .into_iter()
        .map(|p| Box::new(LamportCheck::new(p, nodes)) as Box<dyn Monitor<LamportMsg>>)
        .collect()
}

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "lamport",
    title: "Lamport clocks",
    notebook: 5,
    position: 1,
    points: 10,
    task: "Write a node for `LamportMsg` that keeps a Lamport clock (starting at 0) and records the \
           clock value of every event with `ctx.observe(Observation::Clock(c))`.\n\n\
           **Workload** (fixed; see `distlab::catalogue::clocks`): node `me` ticks every `period(me)`, \
           `TICKS` times in all (use a timer). Tick `k` (counting from 1) is one event: if \
           `tick_target(me, k, n)` is `None` it is a local event; if it is `Some(to)` it is a send of \
           one `LamportMsg::App { ts }` to `to`. Each received message is one receive event.\n\n\
           **Rules**: before a local or send event, add 1 to the clock; record it; a send then carries \
           the recorded value as `ts`. On a receive, set the clock to `max(clock, ts) + 1` and record it. \
           Record exactly one value per event, before sending.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: CONDITION, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: STAMPS, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: EXACT, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: WORKLOAD, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: super::no_variant,
};

pub fn check(solution: Box<NodeFactory<LamportMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, clocks::scenarios(), |s| monitors(s.nodes), run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<LamportMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "lamport",
    solution: Box<NodeFactory<LamportMsg>> = Box::new(lamport_node),
    cell: {
        // BEGIN CELL
        use distlab::catalogue::clocks::{period, tick_target, TICKS};
        use distlab::catalogue::lamport::LamportMsg;
        use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

        const TICK: TimerTag = 1;

        #[derive(Clone, Debug, Hash, Default)]
        struct Lamport {
            // BEGIN SOLUTION
            clock: u64,
            ticks_done: u64,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        impl Process<LamportMsg> for Lamport {
            fn on_start(&mut self, ctx: &mut Ctx<LamportMsg>) {
                // BEGIN SOLUTION
                ctx.set_timer(TICK, period(ctx.me()));
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, period, tick_target, TICKS);
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<LamportMsg>, from: NodeId, msg: LamportMsg) {
                // BEGIN SOLUTION
                let _ = from;
                let LamportMsg::App { ts } = msg;
                self.clock = self.clock.max(ts) + 1; // jump past the sender's stamp
                ctx.observe(Observation::Clock(self.clock));
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg, Observation::Clock(0));
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<LamportMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                let _ = timer;
                self.ticks_done += 1;
                self.clock += 1;
                ctx.observe(Observation::Clock(self.clock));
                if let Some(to) = tick_target(ctx.me(), self.ticks_done, ctx.nodes()) {
                    ctx.send(to, LamportMsg::App { ts: self.clock });
                }
                if self.ticks_done < TICKS {
                    ctx.set_timer(TICK, period(ctx.me()));
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }
        }

        fn lamport_node(_id: NodeId) -> Box<dyn Process<LamportMsg>> {
            Box::new(Lamport::default())
        }
        // END CELL
    }
}
