//! Notebook 5: vector clocks. Same workload as the Lamport exercise; every
//! event records its vector timestamp.
//!
//! Vector clocks are fully determined by the trace, so the monitor
//! recomputes them and reports the first difference. A second check asks
//! only for what vector clocks are for: a happens before b exactly when
//! V(a) < V(b), so concurrent events have incomparable vectors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::clocks::{self, ClockMsg, Logical, Tracker};
use super::runs::{check_runs, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, RunEnd, Step, NODES_RUN_CLEANLY};
use crate::process::{NodeFactory, Observation};
use crate::trace::{EventKind, MsgId};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VectorMsg {
    /// An application message stamped with the vector of its send.
    App { vt: Vec<u64> },
}

impl ClockMsg for VectorMsg {
    type Stamp = Vec<u64>;
    const WHAT: &'static str = "vector";
    fn stamp(&self) -> Vec<u64> {
        let VectorMsg::App { vt } = self;
        vt.clone()
    }
    fn observed(what: &Observation) -> Option<Vec<u64>> {
        match what {
            Observation::Vector(v) => Some(v.clone()),
            _ => None,
        }
    }
}

pub const WORKLOAD: &str = "the workload is followed";
pub const EXACT: &str = "vector timestamps are exact";
pub const CONSISTENT: &str = "vectors order events as happens-before does";
pub const STAMPS: &str = "messages carry the send's vector";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Property {
    Workload,
    Exact,
    Consistent,
    Stamps,
}

/// `a < b`: every entry at most, and not equal.
fn before(a: &[u64], b: &[u64]) -> bool {
    a.len() == b.len() && a != b && a.iter().zip(b).all(|(x, y)| x <= y)
}

#[derive(Clone, Debug, Hash)]
struct Past {
    what: String,
    recorded: Vec<u64>,
    rule: Vec<u64>,
}

#[derive(Clone, Debug, Hash)]
pub struct VectorCheck {
    property: Property,
    nodes: usize,
    tracker: Tracker,
    last: Vec<Option<Vec<u64>>>,
    /// Each node's vector by the rules: happens-before, for the consistency
    /// check.
    rule: Vec<Vec<u64>>,
    /// Each node's vector as the node keeps it (its last record, or more
    /// after a larger send): the exact check judges each event against
    /// this, so a wrong entry is blamed once, where it first appears.
    actual: Vec<Vec<u64>>,
    sends: BTreeMap<MsgId, Sent>,
    /// Every event so far, for the consistency check.
    past: Vec<Past>,
}

/// Per message: the recorded vector of its send, the vector by the rules,
/// and the vector it carries.
type Sent = (Option<Vec<u64>>, Vec<u64>, Vec<u64>);

/// `a` raised entrywise to `b` where both have the same length.
fn merged(a: &[u64], b: &[u64]) -> Vec<u64> {
    if a.len() != b.len() {
        return a.to_vec();
    }
    a.iter().zip(b).map(|(x, y)| *x.max(y)).collect()
}

/// `v` with 1 added to entry `node`.
fn bumped(mut v: Vec<u64>, node: usize) -> Vec<u64> {
    v[node] += 1;
    v
}

/// One event to judge: what it is, the vector recorded, the vector the
/// node's own clock gives, and why, and the vector by the rules.
struct Judged {
    node: usize,
    stamp: Vec<u64>,
    what: String,
    expected: Vec<u64>,
    why: String,
    rule: Vec<u64>,
}

impl VectorCheck {
    fn new(property: Property, nodes: usize) -> Self {
        VectorCheck {
            property,
            nodes,
            tracker: Tracker::new(nodes),
            last: vec![None; nodes],
            rule: vec![vec![0; nodes]; nodes],
            actual: vec![vec![0; nodes]; nodes],
            sends: BTreeMap::new(),
            past: Vec::new(),
        }
    }

    fn judge(&mut self, event: Logical<Vec<u64>>) -> Result<(), String> {
        let judged = match event {
            Logical::Send { node, id, to, stamp } => return self.send(node, id, to, stamp),
            Logical::Tick { node, tick, stamp } => self.tick(node, tick, stamp),
            Logical::Receive { node, from, id, stamp } => match self.receive(node, from, id, stamp.clone()) {
                Some(judged) => judged,
                None => {
                    // A message outside the workload: nothing to judge, but
                    // the node's vector still moves.
                    self.follow(node, stamp);
                    return Ok(());
                }
            },
        };
        self.exact(&judged)?;
        self.consistent(&judged)?;
        let Judged { node, stamp, rule, .. } = judged;
        self.rule[node] = rule;
        self.follow(node, stamp);
        Ok(())
    }

    fn send(&mut self, node: usize, id: MsgId, to: usize, stamp: Vec<u64>) -> Result<(), String> {
        let recorded = self.last[node].clone();
        if self.property == Property::Stamps && recorded.as_ref() != Some(&stamp) {
            return Err(format!(
                "node {node} recorded {} for its send to node {to} but stamped the message with {stamp:?}: \
                 a message carries the vector of its send event",
                recorded.map_or("nothing".into(), |r| format!("{r:?}"))
            ));
        }
        // A node that ticked again before sending has at least that vector.
        self.actual[node] = merged(&self.actual[node], &stamp);
        self.sends.insert(id, (recorded, self.rule[node].clone(), stamp));
        Ok(())
    }

    fn tick(&self, node: usize, tick: u64, stamp: Vec<u64>) -> Judged {
        let why = format!(
            "its vector was {:?}; a local or send event adds 1 to the node's own entry (entry {node}) and changes \
             nothing else",
            self.actual[node]
        );
        Judged {
            node,
            stamp,
            what: format!("node {node}'s tick {tick}"),
            expected: bumped(self.actual[node].clone(), node),
            why,
            rule: bumped(self.rule[node].clone(), node),
        }
    }

    fn receive(&self, node: usize, from: usize, id: MsgId, stamp: Vec<u64>) -> Option<Judged> {
        let (_, by_rule, carried) = self.sends.get(&id)?;
        let why = format!(
            "it got a message stamped {carried:?} from node {from} while its vector was {:?}; a receive takes the \
             entrywise max with the message's vector, then adds 1 to the node's own entry (entry {node})",
            self.actual[node]
        );
        Some(Judged {
            node,
            stamp,
            what: format!("node {node}'s receive from node {from}"),
            expected: bumped(merged(&self.actual[node], carried), node),
            why,
            rule: bumped(merged(&self.rule[node], by_rule), node),
        })
    }

    fn exact(&self, j: &Judged) -> Result<(), String> {
        if self.property != Property::Exact {
            return Ok(());
        }
        let Judged { stamp, what, expected, why, .. } = j;
        if stamp.len() != self.nodes {
            return Err(format!(
                "{what} recorded {stamp:?}, with {} entries: a vector has one entry per node ({})",
                stamp.len(),
                self.nodes
            ));
        }
        if stamp != expected {
            return Err(format!("{what} recorded {stamp:?} instead of {expected:?}: {why}"));
        }
        Ok(())
    }

    fn consistent(&mut self, j: &Judged) -> Result<(), String> {
        if self.property != Property::Consistent {
            return Ok(());
        }
        let Judged { stamp, what, rule, .. } = j;
        for p in &self.past {
            let truly = before(&p.rule, rule);
            if truly && !before(&p.recorded, stamp) {
                return Err(format!(
                    "{} ({:?}) happens before {what} ({stamp:?}), but the vectors don't show it: the later \
                     event's vector must be at least as large in every entry, and larger in one",
                    p.what, p.recorded
                ));
            }
            if !truly && (before(&p.recorded, stamp) || before(stamp, &p.recorded)) {
                return Err(format!(
                    "{} ({:?}) and {what} ({stamp:?}) are concurrent, but one vector is below the other, which \
                     claims one happened before the other",
                    p.what, p.recorded
                ));
            }
        }
        self.past.push(Past { what: what.clone(), recorded: stamp.clone(), rule: rule.clone() });
        Ok(())
    }

    /// `stamp`, recorded by `node`, is its vector from now on (when it has
    /// the right length), even if the workload did not ask for it.
    fn follow(&mut self, node: usize, stamp: Vec<u64>) {
        if stamp.len() == self.nodes {
            self.actual[node] = stamp.clone();
        }
        self.last[node] = Some(stamp);
    }
}

impl Monitor<VectorMsg> for VectorCheck {
    fn name(&self) -> String {
        match self.property {
            Property::Workload => WORKLOAD,
            Property::Exact => EXACT,
            Property::Consistent => CONSISTENT,
            Property::Stamps => STAMPS,
        }
        .into()
    }
    fn on_event(&mut self, step: &Step<'_, VectorMsg>) -> Result<(), String> {
        match self.tracker.step(step) {
            Err(why) if self.property == Property::Workload => Err(why),
            Ok(Some(event)) => self.judge(event),
            _ => {
                if let EventKind::Observe { node, what: Observation::Vector(v) } = step.kind {
                    self.follow(*node, v.clone());
                }
                Ok(())
            }
        }
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        match self.tracker.finish() {
            Err(why) if self.property == Property::Workload => Err(why),
            _ => self.tracker.something_recorded::<VectorMsg>(),
        }
    }
}

pub fn monitors(nodes: usize) -> Vec<Box<dyn Monitor<VectorMsg>>> {
    [Property::Exact, Property::Consistent, Property::Stamps, Property::Workload]
        .into_iter()
        .map(|p| Box::new(VectorCheck::new(p, nodes)) as Box<dyn Monitor<VectorMsg>>)
        .collect()
}

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "vector",
    title: "Vector clocks",
    notebook: 5,
    position: 2,
    points: 10,
    task: "Write a node for `VectorMsg` that keeps a vector clock (one entry per node, all 0 at the \
           start) and records the vector of every event with `ctx.observe(Observation::Vector(v))`.\n\n\
           **Workload**: the same as in the Lamport exercise (`distlab::catalogue::clocks`): node `me` \
           ticks every `period(me)`, `TICKS` times; tick `k` is a local event if `tick_target(me, k, n)` \
           is `None`, else a send of one `VectorMsg::App { vt }` to the node it names. Each received \
           message is one receive event.\n\n\
           **Rules**: before a local or send event, add 1 to your own entry; record the vector; a send \
           carries the recorded vector. On a receive, take the entrywise maximum of your vector and the \
           message's, then add 1 to your own entry, and record it. One record per event, before sending.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: EXACT, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: CONSISTENT, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: STAMPS, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: WORKLOAD, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: super::no_variant,
};

pub fn check(solution: Box<NodeFactory<VectorMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, clocks::scenarios(), |s| monitors(s.nodes), run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<VectorMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "vector",
    solution: Box<NodeFactory<VectorMsg>> = Box::new(vector_node),
    cell: {
        // BEGIN CELL
        use distlab::catalogue::clocks::{period, tick_target, TICKS};
        use distlab::catalogue::vector::VectorMsg;
        use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

        const TICK: TimerTag = 1;

        #[derive(Clone, Debug, Hash, Default)]
        struct Vector {
            // BEGIN SOLUTION
            v: Vec<u64>,
            ticks_done: u64,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Vector {
            /// One more event of mine, recorded.
            fn event(&mut self, ctx: &mut Ctx<VectorMsg>) {
                self.v[ctx.me()] += 1;
                ctx.observe(Observation::Vector(self.v.clone()));
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<VectorMsg> for Vector {
            fn on_start(&mut self, ctx: &mut Ctx<VectorMsg>) {
                // BEGIN SOLUTION
                self.v = vec![0; ctx.nodes()];
                ctx.set_timer(TICK, period(ctx.me()));
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, period, tick_target, TICKS);
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<VectorMsg>, from: NodeId, msg: VectorMsg) {
                // BEGIN SOLUTION
                let _ = from;
                let VectorMsg::App { vt } = msg;
                for (mine, theirs) in self.v.iter_mut().zip(vt) {
                    *mine = (*mine).max(theirs);
                }
                self.event(ctx);
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg, Observation::Vector(vec![]));
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<VectorMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                let _ = timer;
                self.ticks_done += 1;
                self.event(ctx);
                if let Some(to) = tick_target(ctx.me(), self.ticks_done, ctx.nodes()) {
                    ctx.send(to, VectorMsg::App { vt: self.v.clone() });
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

        fn vector_node(_id: NodeId) -> Box<dyn Process<VectorMsg>> {
            Box::new(Vector::default())
        }
        // END CELL
    }
}
