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
    self, EveryRequestServed, MessagesPerEntry, OneInside, Permitted, QuickWhenAlone, COST, DELAY, LIVENESS, SAFETY,
};
use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, NODES_RUN_CLEANLY};
use crate::ms;
use crate::network::Delay;
use crate::process::NodeFactory;
use crate::scenario::Scenario;

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
