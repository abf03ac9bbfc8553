//! Notebook 7: token ring. One token goes round the nodes; only its holder
//! may enter, and it passes the token on after leaving (or at once, if it
//! does not want in). Between one entry and the next the token may make
//! one hop or, on an idle ring, any number; a node that asks waits for at
//! most n-1 hops.
//!
//! Discussion material kept out of the public checks (reliable network): a
//! lost token stops everyone, and silence cannot tell a lost token from a
//! slow one; a crashed node breaks the ring unless the holder skips it,
//! which needs acknowledgements (the `ringfix` exercise).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::mutex::{self, EveryRequestServed, OneInside, DELAY, LIVENESS, SAFETY};
use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, Step, NODES_RUN_CLEANLY};
use crate::faults::fmt_time;
use crate::network::Delay;
use crate::process::{NodeFactory, Observation};
use crate::scenario::Scenario;
use crate::trace::{Dest, EventKind};
use crate::{ms, NodeId, Time};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenMsg {
    Token,
}

pub const RING: &str = "one token, passed on by its holder";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "tokenring",
    title: "Mutual exclusion: token ring",
    notebook: 7,
    position: 4,
    points: 10,
    task: "Write a node for `TokenMsg`. The nodes form a ring; node 0 holds the one `Token` at the \
           start. Every node follows the workload in `distlab::catalogue::mutex`: it asks \
           `first_request(i)` after it starts, stays inside for `HOLD`, waits `think_time(n)` after \
           leaving and asks again, `ROUNDS` times in all; observe `RequestCritical`, `EnterCritical` \
           and `ExitCritical` as it goes. A node enters only while it holds the token; it passes the \
           token to the next node of the ring after leaving, or at once if it does not want in. \
           Checks: never two nodes inside; every request granted by the deadline; only the holder \
           sends the token, never while inside, and passes it on at once when it does not want in; \
           a node that asks enters before the token has made n-1 more hops.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: SAFETY, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: LIVENESS, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: RING, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: DELAY, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 1, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: super::no_variant,
};

/// The token never rests, so runs end at `until`: deadlines are kept short.
pub fn scenarios() -> Vec<ScenarioRuns> {
    let small = mutex::scenario("4 nodes, 1-5 ms", 4, Delay::Uniform { min: ms(1), max: ms(5) }, false, ms(400));
    let busy = mutex::scenario("5 nodes, 1-20 ms", 5, Delay::Uniform { min: ms(1), max: ms(20) }, false, ms(1_200));
    let mut runs = vec![ScenarioRuns::public(small, 4), ScenarioRuns::public(busy, 4)];
    runs.extend(hidden_scenarios());
    runs
}

super::hidden! {
    /// Hidden: a longer ring with long-tailed delays, and a slow ring where
    /// every node is waiting for the token most of the time.
    fn hidden_scenarios() -> Vec<ScenarioRuns> {
        let many = mutex::scenario("8 nodes, long tail", 8, Delay::Exponential { min: ms(1), mean: ms(4) }, false, ms(1_500));
        let slow = mutex::scenario("6 nodes, 25 ms", 6, Delay::Constant { us: ms(25) }, true, ms(2_000));
        vec![ScenarioRuns::hidden(many, 3), ScenarioRuns::hidden(slow, 1)]
    }
}

/// Safety of the token itself: only the node holding the token sends it,
/// never while inside, and a node enters only while holding it. Node 0
/// holds it at the start; in flight, nobody does. And a holder that does
/// not want in passes it on at once: a node that sits on the token while
/// it neither asks nor is inside makes everyone else wait for nothing
/// (`IDLE_HOLD` allows a short pause).
#[derive(Clone, Debug, Hash)]
pub struct TokenRules {
    entries: usize,
    holder: Option<NodeId>,
    inside: BTreeSet<NodeId>,
    /// Nodes that asked and have not entered yet.
    asking: BTreeSet<NodeId>,
    /// The holder, while it neither asks nor is inside, and since when.
    idle: Option<(NodeId, Time)>,
}

/// How long a holder that does not want in may keep the token: the
/// textbook passes it at once; a pause shorter than a stay inside is
/// tolerated.
pub const IDLE_HOLD: Time = mutex::HOLD;

impl Default for TokenRules {
    fn default() -> Self {
        TokenRules { entries: 0, holder: Some(0), inside: BTreeSet::new(), asking: BTreeSet::new(), idle: Some((0, 0)) }
    }
}

impl TokenRules {
    fn sat_on(&self, now: Time) -> Result<(), String> {
        match self.idle {
            Some((node, since)) if now - since > IDLE_HOLD => {
                let got = if since == 0 && node == 0 {
                    "held the token from the start".to_string()
                } else {
                    format!("had the token at {}", fmt_time(since))
                };
                Err(format!(
                    "node {node} {got} and still kept it at {} without asking for the critical section: a node \
                     that does not want in must pass the token on at once (within {}), others may be waiting for it",
                    fmt_time(now),
                    fmt_time(IDLE_HOLD)
                ))
            }
            _ => Ok(()),
        }
    }
}

impl Monitor<TokenMsg> for TokenRules {
    fn name(&self) -> String {
        RING.into()
    }
    fn on_event(&mut self, step: &Step<'_, TokenMsg>) -> Result<(), String> {
        self.sat_on(step.at)?;
        let at = fmt_time(step.at);
        match step.kind {
            EventKind::Send { from, to, .. } => {
                let to = match to {
                    Dest::Node(to) => format!("node {to}"),
                    Dest::AllOthers => "everyone".into(),
                };
                if self.holder != Some(*from) {
                    let holder = match self.holder {
                        Some(h) => format!("node {h} held it"),
                        None => "it was in flight".into(),
                    };
                    return Err(format!(
                        "node {from} sent a token to {to} at {at} without holding one ({holder}): now there are two"
                    ));
                }
                if self.inside.contains(from) {
                    return Err(format!(
                        "node {from} passed the token to {to} at {at} while still inside the critical section"
                    ));
                }
                self.holder = None;
                self.idle = None;
            }
            EventKind::Deliver { to, .. } => {
                self.holder = Some(*to);
                if !self.asking.contains(to) && !self.inside.contains(to) {
                    self.idle = Some((*to, step.at));
                }
            }
            EventKind::Observe { node, what: Observation::RequestCritical } => {
                self.asking.insert(*node);
                if self.idle.is_some_and(|(n, _)| n == *node) {
                    self.idle = None;
                }
            }
            EventKind::Observe { node, what: Observation::EnterCritical } => {
                if self.holder != Some(*node) {
                    return Err(format!("node {node} entered the critical section at {at} without holding the token"));
                }
                self.asking.remove(node);
                self.inside.insert(*node);
                self.entries += 1;
            }
            EventKind::Observe { node, what: Observation::ExitCritical } => {
                self.inside.remove(node);
                if self.holder == Some(*node) && !self.asking.contains(node) {
                    self.idle = Some((*node, step.at));
                }
            }
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, end: &crate::check::RunEnd<'_>) -> Result<(), String> {
        mutex::some_entry(self.entries)?;
        self.sat_on(end.end)
    }
}

/// Delay: once a node asks, the token reaches it within n-1 hops (it may
/// have just left), so it enters before n token messages have been sent.
#[derive(Clone, Debug, Hash)]
pub struct WithinOneRound {
    entries: usize,
    nodes: usize,
    /// Per waiting node: when it asked and the hops since.
    waiting: std::collections::BTreeMap<NodeId, (Time, usize)>,
}

impl Monitor<TokenMsg> for WithinOneRound {
    fn name(&self) -> String {
        DELAY.into()
    }
    fn on_event(&mut self, step: &Step<'_, TokenMsg>) -> Result<(), String> {
        match step.kind {
            EventKind::Send { .. } => {
                for (_, hops) in self.waiting.values_mut() {
                    *hops += 1;
                }
            }
            EventKind::Observe { node, what: Observation::RequestCritical } => {
                self.waiting.entry(*node).or_insert((step.at, 0));
            }
            EventKind::Observe { node, what: Observation::EnterCritical } => {
                self.entries += 1;
                if let Some((asked, hops)) = self.waiting.remove(node) {
                    if hops > self.nodes - 1 {
                        return Err(format!(
                            "node {node} asked at {} and entered only at {}, after the token made {hops} hops: \
                             it should get in within n-1 = {} hops",
                            fmt_time(asked),
                            fmt_time(step.at),
                            self.nodes - 1
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, _: &crate::check::RunEnd<'_>) -> Result<(), String> {
        mutex::some_entry(self.entries)
    }
}

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<TokenMsg>>> {
    let n = scenario.nodes;
    vec![
        Box::new(OneInside::default()),
        Box::new(EveryRequestServed::new((0..n).collect(), mutex::deadline_of(scenario))),
        Box::new(TokenRules::default()),
        Box::new(WithinOneRound { entries: 0, nodes: n, waiting: Default::default() }),
    ]
}

pub fn check(solution: Box<NodeFactory<TokenMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(), monitors, run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<TokenMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "tokenring",
    solution: Box<NodeFactory<TokenMsg>> = Box::new(tokenring_node),
    cell: {
        // BEGIN CELL
        use distlab::catalogue::mutex::{first_request, think_time, HOLD, ROUNDS};
        use distlab::catalogue::tokenring::TokenMsg;
        use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

        const ASK: TimerTag = 1;
        const LEAVE: TimerTag = 2;

        #[derive(Clone, Debug, Hash, Default)]
        struct Ring {
            // BEGIN SOLUTION
            wants_in: bool,
            rounds: u32,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Ring {
            /// I hold the token: use it if I asked, else hand it on.
            fn got_token(&mut self, ctx: &mut Ctx<TokenMsg>) {
                if self.wants_in {
                    self.wants_in = false;
                    ctx.observe(Observation::EnterCritical);
                    ctx.set_timer(LEAVE, HOLD);
                } else {
                    ctx.send((ctx.me() + 1) % ctx.nodes(), TokenMsg::Token);
                }
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<TokenMsg> for Ring {
            fn on_start(&mut self, ctx: &mut Ctx<TokenMsg>) {
                // BEGIN SOLUTION
                ctx.set_timer(ASK, first_request(ctx.me()));
                if ctx.me() == 0 {
                    self.got_token(ctx);
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, first_request(0), think_time(2), HOLD, ROUNDS, Observation::RequestCritical);
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<TokenMsg>, from: NodeId, msg: TokenMsg) {
                // BEGIN SOLUTION
                let (_, TokenMsg::Token) = (from, msg);
                self.got_token(ctx);
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg);
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<TokenMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                if timer == ASK {
                    // The token never rests where nobody is inside: wait for it.
                    ctx.observe(Observation::RequestCritical);
                    self.wants_in = true;
                } else {
                    ctx.observe(Observation::ExitCritical);
                    self.rounds += 1;
                    if self.rounds < ROUNDS {
                        ctx.set_timer(ASK, think_time(ctx.nodes()));
                    }
                    self.got_token(ctx); // still holding it: pass it on
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }
        }

        fn tokenring_node(_id: NodeId) -> Box<dyn Process<TokenMsg>> {
            Box::new(Ring::default())
        }
        // END CELL
    }
}
