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
use std::collections::BTreeSet;

use crate::network::Delay;
use crate::process::NodeFactory;
use crate::scenario::Scenario;
use crate::{ms, NodeId, Time};

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

// Problem 5.11, measured: what a crash does to Ricart and Agrawala, with
// and without immediate answers. The node below is private: the notebook
// calls `crash_run`, a submission cannot call it a solution.

/// How the measured nodes answer a request (problem 5.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Answers {
    /// The exercise's algorithm: a reply when permitted, silence otherwise.
    Silent,
    /// Every request is answered at once, `Reply` or "deferred"; a node
    /// that answers nothing within a round trip is taken for crashed and
    /// no longer waited for.
    AtOnce,
    /// As `AtOnce`, and a node waiting on nodes that deferred it asks them
    /// every round trip whether they are still alive; one that does not
    /// answer is taken for crashed.
    AtOncePolling,
    /// As `AtOncePolling`, but the question is "do you still hold my
    /// request?": a node that came back has forgotten it, and gets it again.
    PollingRequest,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum FtMsg {
    Request {
        ts: u64,
    },
    Reply,
    Deferred,
    Ping,
    /// "I am alive", and whether I still hold your request.
    Pong {
        holds: bool,
    },
}

const ASK: crate::TimerTag = 1;
const LEAVE: crate::TimerTag = 2;
const PATIENCE: crate::TimerTag = 3;
const POLL: crate::TimerTag = 4;
/// The network of the measurement: 1 to 20 ms per message.
const SLOWEST: Time = ms(20);
/// A round trip and a little: an answer sent at once arrives within it.
const ROUND_TRIP: Time = 2 * SLOWEST + ms(1);

#[derive(Clone, Debug, Hash)]
struct Guarded {
    answers: Answers,
    clock: u64,
    /// My pending request's stamp.
    asking: Option<u64>,
    inside: bool,
    rounds: u32,
    /// Whom I owe a reply.
    owed: BTreeSet<NodeId>,
    /// Who has said yes to my request; who has deferred it; who answered
    /// my last ping.
    granted: BTreeSet<NodeId>,
    deferred_me: BTreeSet<NodeId>,
    pinged: BTreeSet<NodeId>,
    /// Nodes taken for crashed: no longer asked or waited for.
    dead: BTreeSet<NodeId>,
}

impl Guarded {
    fn try_enter(&mut self, ctx: &mut crate::Ctx<FtMsg>) {
        let me = ctx.me();
        let all = (0..ctx.nodes()).all(|n| n == me || self.granted.contains(&n) || self.dead.contains(&n));
        if self.asking.is_some() && !self.inside && all {
            self.inside = true;
            ctx.observe(crate::Observation::EnterCritical);
            ctx.set_timer(LEAVE, super::mutex::HOLD);
        }
    }
    fn declare_dead(&mut self, ctx: &mut crate::Ctx<FtMsg>, node: NodeId) {
        if self.dead.insert(node) {
            ctx.observe(crate::Observation::Note { name: "taken for crashed".into(), value: node as i64 });
        }
        self.owed.remove(&node);
        self.deferred_me.remove(&node);
        self.pinged.remove(&node);
    }
}

impl crate::Process<FtMsg> for Guarded {
    fn on_start(&mut self, ctx: &mut crate::Ctx<FtMsg>) {
        ctx.set_timer(ASK, super::mutex::first_request(ctx.me()));
    }
    fn on_message(&mut self, ctx: &mut crate::Ctx<FtMsg>, from: NodeId, msg: FtMsg) {
        let me = ctx.me();
        match msg {
            FtMsg::Request { ts } => {
                self.clock = self.clock.max(ts) + 1;
                if self.dead.remove(&from) {
                    // It is back: from now on it must agree to my entries too.
                    if let (Some(mine), false) = (self.asking, self.inside) {
                        ctx.send(from, FtMsg::Request { ts: mine });
                    }
                }
                let mine_first = self.asking.is_some_and(|mine| (mine, me) < (ts, from));
                if self.inside || mine_first {
                    self.owed.insert(from);
                    if self.answers != Answers::Silent {
                        ctx.send(from, FtMsg::Deferred);
                    }
                } else {
                    ctx.send(from, FtMsg::Reply);
                }
            }
            FtMsg::Reply => {
                self.deferred_me.remove(&from);
                self.granted.insert(from);
                self.try_enter(ctx);
            }
            FtMsg::Deferred => {
                self.deferred_me.insert(from);
            }
            FtMsg::Ping => ctx.send(from, FtMsg::Pong { holds: self.owed.contains(&from) }),
            FtMsg::Pong { holds } => {
                self.pinged.remove(&from);
                if let (false, Answers::PollingRequest, Some(ts)) = (holds, self.answers, self.asking) {
                    if self.deferred_me.contains(&from) {
                        ctx.send(from, FtMsg::Request { ts });
                    }
                }
            }
        }
    }
    fn on_timer(&mut self, ctx: &mut crate::Ctx<FtMsg>, timer: crate::TimerTag) {
        let me = ctx.me();
        match timer {
            ASK => {
                self.clock += 1;
                self.asking = Some(self.clock);
                self.granted.clear();
                self.deferred_me.clear();
                ctx.observe(crate::Observation::RequestCritical);
                for n in (0..ctx.nodes()).filter(|&n| n != me && !self.dead.contains(&n)) {
                    ctx.send(n, FtMsg::Request { ts: self.clock });
                }
                if self.answers != Answers::Silent {
                    ctx.set_timer(PATIENCE, ROUND_TRIP);
                }
                self.try_enter(ctx);
            }
            LEAVE => {
                ctx.observe(crate::Observation::ExitCritical);
                self.inside = false;
                self.asking = None;
                for n in std::mem::take(&mut self.owed) {
                    ctx.send(n, FtMsg::Reply);
                }
                self.rounds += 1;
                if self.rounds < super::mutex::ROUNDS {
                    ctx.set_timer(ASK, super::mutex::think_time(ctx.nodes()));
                }
            }
            PATIENCE => {
                // Whoever answered nothing at all is taken for crashed.
                let silent: Vec<NodeId> = (0..ctx.nodes())
                    .filter(|n| *n != me && !self.granted.contains(n) && !self.deferred_me.contains(n))
                    .collect();
                for n in silent {
                    self.declare_dead(ctx, n);
                }
                if matches!(self.answers, Answers::AtOncePolling | Answers::PollingRequest) {
                    ctx.set_timer(POLL, ROUND_TRIP);
                }
                self.try_enter(ctx);
            }
            _ => {
                // Poll: whoever missed the last ping is gone; ping the rest.
                if self.asking.is_none() || self.inside {
                    return;
                }
                for n in std::mem::take(&mut self.pinged) {
                    self.declare_dead(ctx, n);
                }
                for n in self.deferred_me.clone() {
                    ctx.send(n, FtMsg::Ping);
                    self.pinged.insert(n);
                }
                ctx.set_timer(POLL, ROUND_TRIP);
                self.try_enter(ctx);
            }
        }
    }
}

/// What one crash did to a run of Ricart and Agrawala (problem 5.11).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CrashOutcome {
    pub crashed: NodeId,
    pub at: Time,
    /// Nodes whose request the crashed node had received and not yet
    /// granted when it crashed: it had said "not yet" (or nothing).
    pub owed: Vec<NodeId>,
    /// Live nodes that asked and never got in before the run ended.
    pub stuck: Vec<NodeId>,
    /// Entries in the whole run, and whether two nodes were ever inside
    /// at once (taking a live node for crashed would do that).
    pub entries: usize,
    pub two_inside: bool,
}

/// Runs Ricart and Agrawala on `nodes` nodes (the workload of
/// [`super::mutex`], 1 to 20 ms delays) with `answers`, crashing node
/// `crashed` at `at`, for good or until `back` (it then starts afresh,
/// its memory gone).
pub fn crash_run(
    answers: Answers,
    nodes: usize,
    crashed: NodeId,
    at: Time,
    back: Option<Time>,
    seed: u64,
) -> CrashOutcome {
    use crate::trace::{Dest, EventKind};
    let network = crate::Network { delay: Delay::Uniform { min: ms(1), max: SLOWEST }, ..crate::Network::default() };
    let round = super::mutex::think_time(nodes) + nodes as Time * (super::mutex::HOLD + 4 * SLOWEST);
    let until = back.unwrap_or(0) + super::mutex::first_request(nodes) + super::mutex::ROUNDS as Time * round + ms(200);
    let mut faults = vec![crate::Fault::Crash { node: crashed, at }];
    faults.extend(back.map(|t| crate::Fault::Recover { node: crashed, at: t }));
    let schedule = crate::Schedule { name: "one crash".into(), faults };
    let scenario = Scenario { network, schedule, until, ..Scenario::new("ricart, one crash", nodes) };
    let factory = move |_| {
        Box::new(Guarded {
            answers,
            clock: 0,
            asking: None,
            inside: false,
            rounds: 0,
            owed: BTreeSet::new(),
            granted: BTreeSet::new(),
            deferred_me: BTreeSet::new(),
            pinged: BTreeSet::new(),
            dead: BTreeSet::new(),
        }) as _
    };
    let trace = crate::sim::simulate(&scenario, seed, factory).expect("a valid scenario");
    let mut owed = BTreeSet::new();
    let (mut waiting, mut inside) = (BTreeSet::new(), BTreeSet::new());
    let (mut entries, mut two_inside) = (0, false);
    for e in &trace.events {
        match &e.kind {
            EventKind::Deliver { id, from, to } if *to == crashed && e.at < at => {
                if let Some(FtMsg::Request { .. }) = trace.message(*id) {
                    owed.insert(*from);
                }
            }
            EventKind::Send { from, to: Dest::Node(to), msg: FtMsg::Reply } if *from == crashed && e.at < at => {
                owed.remove(to);
            }
            EventKind::Crash { node } => {
                waiting.remove(node);
                inside.remove(node);
            }
            EventKind::Observe { node, what } => match what {
                crate::Observation::RequestCritical => {
                    waiting.insert(*node);
                }
                crate::Observation::EnterCritical => {
                    waiting.remove(node);
                    entries += 1;
                    two_inside |= !inside.is_empty();
                    inside.insert(*node);
                }
                crate::Observation::ExitCritical => {
                    inside.remove(node);
                }
                _ => {}
            },
            _ => {}
        }
    }
    CrashOutcome {
        crashed,
        at,
        owed: owed.into_iter().collect(),
        stuck: waiting.into_iter().collect(),
        entries,
        two_inside,
    }
}

#[cfg(test)]
mod measured_tests {
    use super::*;

    /// Node 2 of 5 crashes at 0, 3, 6, ... ms (one seed each).
    fn sweep(answers: Answers, restart: Option<Time>) -> Vec<CrashOutcome> {
        (0..100).map(|k| crash_run(answers, 5, 2, ms(3 * k), restart.map(|r| ms(3 * k) + r), k as u64)).collect()
    }

    fn stuck(outcomes: &[CrashOutcome]) -> usize {
        outcomes.iter().filter(|o| !o.stuck.is_empty()).count()
    }

    #[test]
    fn answering_at_once_leaves_stuck_only_the_nodes_the_crashed_one_deferred() {
        let silent = sweep(Answers::Silent, None);
        let at_once = sweep(Answers::AtOnce, None);
        assert!(stuck(&silent) > 2 * stuck(&at_once), "{} vs {}", stuck(&silent), stuck(&at_once));
        assert!(stuck(&at_once) > 0);
        for o in &at_once {
            assert!(o.stuck.is_empty() || !o.owed.is_empty(), "{o:?}");
        }
        for o in silent.iter().chain(&at_once) {
            assert!(!o.two_inside, "{o:?}");
        }
    }

    #[test]
    fn polling_for_life_fails_on_a_quick_restart_polling_for_the_request_does_not() {
        let quick = Some(ms(10));
        assert_eq!(stuck(&sweep(Answers::AtOncePolling, None)), 0);
        assert!(stuck(&sweep(Answers::AtOncePolling, quick)) > 0);
        for restart in [None, quick] {
            let outcomes = sweep(Answers::PollingRequest, restart);
            assert_eq!(stuck(&outcomes), 0, "restart {restart:?}");
            assert!(outcomes.iter().all(|o| !o.two_inside && o.entries > 0));
        }
    }
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
