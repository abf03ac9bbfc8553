//! The welcome notebook's warm-up: node 0 pings every other node and must
//! hear a pong from each, over a network that loses messages. It teaches
//! the handler model, timers for retransmission, and reading a verdict.
//!
//! Also the shape every exercise follows: the message type and the checks
//! live here, monomorphized in this crate, and a student's file only calls
//! the non-generic [`check`], and the runner in `runs` does the rest.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, Step, NODES_RUN_CLEANLY};
use crate::process::NodeFactory;
use crate::scenario::Scenario;
use crate::trace::EventKind;
use crate::{ms, Network, NodeId, Time};
#[cfg(feature = "grader")]
use crate::{Fault, Schedule};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WarmupMsg {
    Ping(u64),
    Pong(u64),
}

/// A pong answers a ping: `Pong(k)` from a to b only after a got `Ping(k)`
/// from b; and some pong was sent, or there was no answer to judge.
#[derive(Clone, Debug, Hash, Default)]
pub struct PongAnswersPing {
    pinged: BTreeSet<(NodeId, NodeId, u64)>,
    pongs: usize,
}

impl Monitor<WarmupMsg> for PongAnswersPing {
    fn name(&self) -> String {
        "every pong answers a ping".into()
    }
    fn on_event(&mut self, step: &Step<'_, WarmupMsg>) -> Result<(), String> {
        match (step.kind, step.msg) {
            (EventKind::Deliver { from, to, .. }, Some(WarmupMsg::Ping(k))) => {
                self.pinged.insert((*to, *from, *k));
            }
            (EventKind::Send { from, to: crate::Dest::Node(to), .. }, Some(WarmupMsg::Pong(k))) => {
                if !self.pinged.contains(&(*from, *to, *k)) {
                    return Err(format!("node {from} sent Pong({k}) to node {to}, which never pinged it with {k}"));
                }
                self.pongs += 1;
            }
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, _: &crate::check::RunEnd<'_>) -> Result<(), String> {
        if self.pongs == 0 {
            return Err("no node ever sent a Pong, so there was no answer to judge".into());
        }
        Ok(())
    }
}

/// Node 0 hears a pong from every node that is up, within the deadline.
#[derive(Clone, Debug, Hash)]
pub struct EveryoneAnswers {
    answered: BTreeSet<NodeId>,
    nodes: usize,
    deadline: Time,
}

impl Monitor<WarmupMsg> for EveryoneAnswers {
    fn name(&self) -> String {
        "node 0 hears from everyone".into()
    }
    fn on_event(&mut self, step: &Step<'_, WarmupMsg>) -> Result<(), String> {
        if let (EventKind::Deliver { from, to: 0, .. }, Some(WarmupMsg::Pong(_))) = (step.kind, step.msg) {
            self.answered.insert(*from);
        }
        Ok(())
    }
    fn deadline(&self) -> Option<Time> {
        Some(self.deadline)
    }
    fn settled(&self) -> Result<(), String> {
        let missing: Vec<NodeId> = (1..self.nodes).filter(|n| !self.answered.contains(n)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("node 0 never got a pong from node(s) {missing:?}"))
        }
    }
}

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "warmup",
    title: "Warm-up: ping everyone over a lossy network",
    notebook: 1,
    points: 5,
    task: "Write a node for `WarmupMsg`. Node 0 must get a `Pong` from every other node; every \
           node answers each `Ping(k)` with `Pong(k)` to its sender. Messages get lost, so node 0 \
           must send again (use a timer) until each node has answered.",
    scaffold: "use distlab::catalogue::warmup::WarmupMsg;\n\
               use distlab::{Ctx, NodeId, Process, TimerTag};\n\n\
               #[derive(Clone, Debug, Hash, Default)]\n\
               struct Warmup {}\n\n\
               impl Process<WarmupMsg> for Warmup {\n    \
               fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {\n        \
               let _ = ctx;\n    }\n\n    \
               fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {\n        \
               let _ = (ctx, from, msg);\n    }\n\n    \
               fn on_timer(&mut self, ctx: &mut Ctx<WarmupMsg>, timer: TimerTag) {\n        \
               let _ = (ctx, timer);\n    }\n}\n\n\
               fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {\n    \
               Box::new(Warmup::default())\n}\n",
    solution: "Box::new(warmup_node)",
    check_fn: "distlab::catalogue::warmup::check",
    host_fn: "distlab::catalogue::warmup::host",
    checks: &[
        CheckSpec { name: "every pong answers a ping", weight: 2, visibility: Visibility::Public },
        CheckSpec { name: "node 0 hears from everyone", weight: 2, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 1, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: super::no_variant,
};

/// The scenarios: a clean network and a lossy one in public, a crash in
/// hidden.
pub fn scenarios() -> Vec<ScenarioRuns> {
    let clean = Scenario { network: Network::reliable(ms(2)), until: ms(500), ..Scenario::new("clean network", 4) };
    let lossy = Scenario {
        network: Network { loss: 0.3, ..Network::default() },
        until: ms(2_000),
        ..Scenario::new("30% loss", 4)
    };
    let mut runs = vec![ScenarioRuns::public(clean, 1), ScenarioRuns::public(lossy, 5)];
    runs.extend(hidden_scenarios());
    runs
}

#[cfg(feature = "grader")]
fn hidden_scenarios() -> Vec<ScenarioRuns> {
    let down = Scenario {
        network: Network { loss: 0.3, duplicate: 0.2, ..Network::default() },
        schedule: Schedule {
            name: "node 2 down for a while".into(),
            faults: vec![Fault::Crash { node: 2, at: ms(1) }, Fault::Recover { node: 2, at: ms(150) }],
        },
        until: ms(3_000),
        ..Scenario::new("lossy, one node down", 5)
    };
    vec![ScenarioRuns::hidden(down, 5)]
}

#[cfg(not(feature = "grader"))]
fn hidden_scenarios() -> Vec<ScenarioRuns> {
    Vec::new()
}

pub fn monitors(nodes: usize) -> Vec<Box<dyn Monitor<WarmupMsg>>> {
    vec![
        Box::new(PongAnswersPing::default()),
        Box::new(EveryoneAnswers { answered: BTreeSet::new(), nodes, deadline: ms(400) }),
    ]
}

pub fn check(solution: Box<NodeFactory<WarmupMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(), |s| monitors(s.nodes), run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<WarmupMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

/// A reference solution: ping everyone, retransmit to the silent every
/// 20 ms, answer every ping.
#[cfg(feature = "reference")]
pub mod reference {
    use super::*;
    use crate::{Ctx, Process, TimerTag};

    #[derive(Clone, Debug, Hash, Default)]
    pub struct Pinger {
        waiting: BTreeSet<NodeId>,
    }

    const RETRY: TimerTag = 1;

    impl Process<WarmupMsg> for Pinger {
        fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
            if ctx.me() == 0 {
                self.waiting = ctx.peers().collect();
                self.on_timer(ctx, RETRY);
            }
        }
        fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {
            match msg {
                WarmupMsg::Ping(k) => ctx.send(from, WarmupMsg::Pong(k)),
                WarmupMsg::Pong(_) => {
                    self.waiting.remove(&from);
                }
            }
        }
        fn on_timer(&mut self, ctx: &mut Ctx<WarmupMsg>, _: TimerTag) {
            for &node in &self.waiting {
                ctx.send(node, WarmupMsg::Ping(node as u64));
            }
            if !self.waiting.is_empty() {
                ctx.set_timer(RETRY, ms(20));
            }
        }
    }

    pub fn factory() -> Box<NodeFactory<WarmupMsg>> {
        Box::new(|_| Box::new(Pinger::default()))
    }
}
