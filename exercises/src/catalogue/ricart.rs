//! Notebook 7: Ricart and Agrawala's distributed mutual exclusion. A node
//! that wants in asks everyone, stamping the request with its Lamport time;
//! it enters once all others have answered. A node answers at once unless
//! it is inside, or it wants in too and its own request is older; then it
//! defers the answer until it leaves. Equal stamps are ordered by node id,
//! so any two requests compare the same way at every node.
//!
//! Cost: n-1 requests and n-1 replies per entry (with hardware broadcast
//! the requests are one message). Discussion material: a crashed node never
//! answers, and silence looks like "wait", so one crash blocks everyone.

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
pub enum RaMsg {
    /// "I want in", stamped with the sender's Lamport time at asking.
    Request { ts: u64 },
    /// "Go ahead, as far as I am concerned."
    Reply,
}

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "ricart",
    title: "Mutual exclusion: Ricart and Agrawala",
    notebook: 7,
    position: 3,
    points: 10,
    task: "Write a node for `RaMsg`. Every node follows the workload in `distlab::catalogue::mutex`: it \
           asks `first_request(i)` after it starts, stays inside for `HOLD`, waits `think_time(n)` \
           after leaving and asks again, `ROUNDS` times in all; observe `RequestCritical`, \
           `EnterCritical` and `ExitCritical` as it goes. To ask, stamp a `Request` with your Lamport \
           clock and send it to every other node; enter once every other node has sent `Reply`. On a \
           `Request`, update your clock and reply at once, unless you are inside or you are asking \
           and your own request is older: compare (stamp, node id) so that ties are broken the same \
           way everywhere. Deferred replies go out when you leave. Checks: never two nodes inside; \
           every request granted by the deadline; at most 2(n-1) messages per entry; a request made \
           while nobody else wants in is granted within two message delays.",
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

/// Public: a small fast system, and a slower one where requests cross in
/// flight and equal stamps happen.
pub fn scenarios() -> Vec<ScenarioRuns> {
    let small = mutex::scenario("4 nodes, 1-5 ms", 4, Delay::Uniform { min: ms(1), max: ms(5) }, false, ms(400));
    let busy = mutex::scenario("5 nodes, 1-20 ms", 5, Delay::Uniform { min: ms(1), max: ms(20) }, false, ms(1_500));
    let mut runs = vec![ScenarioRuns::public(small, 4), ScenarioRuns::public(busy, 4)];
    runs.extend(hidden_scenarios());
    runs
}

super::hidden! {
    /// Hidden: more nodes with long-tailed delays, and hardware broadcast on a
    /// slow network (the bound stays 2(n-1), so sending one by one passes).
    fn hidden_scenarios() -> Vec<ScenarioRuns> {
        let many = mutex::scenario("7 nodes, long tail", 7, Delay::Exponential { min: ms(1), mean: ms(6) }, false, ms(2_000));
        let mut hw = mutex::scenario("6 nodes, broadcast, 5-30 ms", 6, Delay::Uniform { min: ms(5), max: ms(30) }, false, ms(2_500));
        hw.network.hardware_broadcast = true;
        vec![ScenarioRuns::hidden(many, 3), ScenarioRuns::hidden(hw, 2)]
    }
}

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<RaMsg>>> {
    let n = scenario.nodes;
    vec![
        Box::new(OneInside::default()),
        Box::new(Permitted::by_everyone_else(scenario.nodes, |m| *m == RaMsg::Reply)),
        Box::new(EveryRequestServed::new((0..n).collect(), mutex::deadline_of(scenario))),
        Box::new(MessagesPerEntry::new(2 * (n - 1))),
        Box::new(QuickWhenAlone::new(&scenario.network)),
    ]
}

pub fn check(solution: Box<NodeFactory<RaMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(), monitors, run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<RaMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "ricart",
    solution: Box<NodeFactory<RaMsg>> = Box::new(ricart_node),
    cell: {
        // BEGIN CELL
        use std::collections::BTreeSet;

        use distlab::catalogue::mutex::{first_request, think_time, HOLD, ROUNDS};
        use distlab::catalogue::ricart::RaMsg;
        use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

        const ASK: TimerTag = 1;
        const LEAVE: TimerTag = 2;

        #[derive(Clone, Debug, Hash, Default)]
        struct Ricart {
            // BEGIN SOLUTION
            clock: u64,
            /// The stamp of my pending request, while I am asking.
            asking: Option<u64>,
            inside: bool,
            replies: BTreeSet<NodeId>,
            deferred: Vec<NodeId>,
            rounds: u32,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Ricart {
            fn enter_if_everyone_agreed(&mut self, ctx: &mut Ctx<RaMsg>) {
                if self.asking.is_some() && self.replies.len() == ctx.nodes() - 1 {
                    self.asking = None;
                    self.inside = true;
                    ctx.observe(Observation::EnterCritical);
                    ctx.set_timer(LEAVE, HOLD);
                }
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<RaMsg> for Ricart {
            fn on_start(&mut self, ctx: &mut Ctx<RaMsg>) {
                // BEGIN SOLUTION
                ctx.set_timer(ASK, first_request(ctx.me()));
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, first_request(0), think_time(2), HOLD, ROUNDS, Observation::RequestCritical);
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<RaMsg>, from: NodeId, msg: RaMsg) {
                // BEGIN SOLUTION
                match msg {
                    RaMsg::Request { ts } => {
                        self.clock = self.clock.max(ts) + 1;
                        // (stamp, id) pairs order all requests the same way everywhere.
                        let mine_is_older = self.asking.is_some_and(|mine| (mine, ctx.me()) < (ts, from));
                        if self.inside || mine_is_older {
                            self.deferred.push(from);
                        } else {
                            ctx.send(from, RaMsg::Reply);
                        }
                    }
                    RaMsg::Reply => {
                        self.replies.insert(from);
                        self.enter_if_everyone_agreed(ctx);
                    }
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg);
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<RaMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                if timer == ASK {
                    self.clock += 1;
                    self.asking = Some(self.clock);
                    self.replies.clear();
                    ctx.observe(Observation::RequestCritical);
                    ctx.broadcast(RaMsg::Request { ts: self.clock });
                    self.enter_if_everyone_agreed(ctx); // alone in the system
                } else {
                    self.inside = false;
                    ctx.observe(Observation::ExitCritical);
                    for node in std::mem::take(&mut self.deferred) {
                        ctx.send(node, RaMsg::Reply);
                    }
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

        fn ricart_node(_id: NodeId) -> Box<dyn Process<RaMsg>> {
            Box::new(Ricart::default())
        }
        // END CELL
    }
}
