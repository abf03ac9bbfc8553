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

pub const PONG_ANSWERS_PING: &str = "every pong answers a ping";
pub const EVERYONE_ANSWERS: &str = "node 0 hears from everyone";

/// A pong answers a ping: `Pong(k)` from a to b only after a got `Ping(k)`
/// from b; and some pong was sent, or there was no answer to judge.
#[derive(Clone, Debug, Hash, Default)]
pub struct PongAnswersPing {
    pinged: BTreeSet<(NodeId, NodeId, u64)>,
    pongs: usize,
}

impl Monitor<WarmupMsg> for PongAnswersPing {
    fn name(&self) -> String {
        PONG_ANSWERS_PING.into()
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
        EVERYONE_ANSWERS.into()
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
    position: 1,
    points: 5,
    task: "Write a node for `WarmupMsg`. Node 0 must get a `Pong` from every other node; every \
           node answers each `Ping(k)` with `Pong(k)` to its sender. Messages get lost, so node 0 \
           must send again (use a timer) until each node has answered.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: PONG_ANSWERS_PING, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: EVERYONE_ANSWERS, weight: 2, visibility: Visibility::Public },
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

super::hidden! {
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

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "warmup",
    solution: Box<NodeFactory<WarmupMsg>> = Box::new(warmup_node),
    cell: {
        // BEGIN CELL
        use std::collections::BTreeSet;

        use distlab::catalogue::warmup::WarmupMsg;
        use distlab::{ms, Ctx, NodeId, Process, TimerTag};

        const RETRY: TimerTag = 1;

        #[derive(Clone, Debug, Hash, Default)]
        struct Warmup {
            // BEGIN SOLUTION
            /// Nodes node 0 has not heard a pong from yet.
            silent: BTreeSet<NodeId>,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Warmup {
            fn ping_silent(&mut self, ctx: &mut Ctx<WarmupMsg>) {
                for &node in &self.silent {
                    ctx.send(node, WarmupMsg::Ping(node as u64));
                }
                if !self.silent.is_empty() {
                    ctx.set_timer(RETRY, ms(20)); // well above a round trip
                }
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<WarmupMsg> for Warmup {
            fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
                // BEGIN SOLUTION
                if ctx.me() == 0 {
                    self.silent = ctx.peers().collect();
                    self.ping_silent(ctx);
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = ctx;
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {
                // BEGIN SOLUTION
                match msg {
                    WarmupMsg::Ping(k) => ctx.send(from, WarmupMsg::Pong(k)),
                    WarmupMsg::Pong(_) => {
                        self.silent.remove(&from);
                    }
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg);
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<WarmupMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                if timer == RETRY {
                    self.ping_silent(ctx);
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }
        }

        fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
            Box::new(Warmup::default())
        }
        // END CELL
    }
}
