//! Notebook 6, election: the bully algorithm with failure detection by
//! timeouts. The coordinator sends ALIVE heartbeats; a node that stops
//! hearing them, or that comes back from a crash, holds an election:
//! ELECTION to every higher id, ANSWER back from each live one, and the
//! node that hears no answer broadcasts COORDINATOR.

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
use crate::trace::{Dest, EventKind};
use crate::{ms, Fault, NodeId, Time};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BullyMsg {
    /// "I am holding an election": sent to every higher id.
    Election,
    /// The OK: "I am alive and higher than you; I take over."
    Answer,
    /// "I am the coordinator."
    Coordinator,
    /// The coordinator's heartbeat.
    Alive,
}

/// Liveness deadline after the last fault, and the settle time of the
/// "no lower leader" check.
pub const DEADLINE: Time = ms(400);

/// A node that got an ANSWER in its current election must not declare
/// itself: a higher node is alive and takes over.
#[derive(Clone, Debug, Hash, Default)]
pub struct AnswerMeansBackOff {
    elected: bool,
    /// node -> (who answered, when), since its last ELECTION.
    answered: Vec<Option<(NodeId, Time)>>,
}

const BACK_OFF: &str = "a node that got an ANSWER does not declare itself";

impl Monitor<BullyMsg> for AnswerMeansBackOff {
    fn name(&self) -> String {
        BACK_OFF.into()
    }
    fn at_end(&mut self, _: &crate::check::RunEnd<'_>) -> Result<(), String> {
        if self.elected {
            Ok(())
        } else {
            Err(NOTHING_ELECTED.into())
        }
    }
    fn on_event(&mut self, step: &Step<'_, BullyMsg>) -> Result<(), String> {
        self.elected |= is_adoption(step.kind);
        let grow = |v: &mut Vec<Option<(NodeId, Time)>>, n: NodeId| {
            if v.len() <= n {
                v.resize(n + 1, None);
            }
        };
        match (step.kind, step.msg) {
            (EventKind::Send { from, .. }, Some(BullyMsg::Election)) => {
                grow(&mut self.answered, *from);
                self.answered[*from] = None;
            }
            (EventKind::Deliver { from, to, .. }, Some(BullyMsg::Answer)) if *from > *to => {
                grow(&mut self.answered, *to);
                self.answered[*to] = Some((*from, step.at));
            }
            // Following another node ends the election; declaring itself does not.
            (EventKind::Crash { node }, _) | (EventKind::Observe { node, what: Observation::Leader(_) }, _) if !matches!(step.kind, EventKind::Observe { node, what: Observation::Leader(l) } if l == node) =>
            {
                grow(&mut self.answered, *node);
                self.answered[*node] = None;
            }
            (EventKind::Send { from, to, .. }, Some(BullyMsg::Coordinator)) => {
                if let Some(Some((h, when))) = self.answered.get(*from) {
                    let to = match to {
                        Dest::Node(n) => format!("to node {n}"),
                        Dest::AllOthers => "to everyone".into(),
                    };
                    return Err(format!(
                        "node {from} sent COORDINATOR {to} at {}, but node {h} answered its ELECTION at {}: \
                         a node that gets an ANSWER must wait for the higher node's COORDINATOR",
                        fmt_time(step.at),
                        fmt_time(*when)
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// One clean round costs n(n-1)/2 ELECTIONs (each node to each higher
/// id). Races cost more: an ELECTION that arrives just after its receiver
/// adopted a coordinator starts another election there. So the budget is
/// twice that: each node may send to each higher id twice per round.
const BUDGET: &str = "ELECTION messages within n(n-1) per round";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "bully",
    title: "Election: the bully algorithm",
    notebook: 6,
    position: 1,
    points: 10,
    task: "Write a node for `BullyMsg` that elects the live node with the highest id as coordinator, \
           and elects again when the coordinator crashes or a node comes back.\n\n\
           - The coordinator sends `Alive` to every other node periodically. A node that hears no \
           `Alive` from its coordinator for a while suspects it has crashed and holds an election.\n\
           - To hold an election, send `Election` to every node with a higher id. A live higher node \
           replies `Answer` and holds its own election (once: a second `Election` while it is already \
           electing gets an `Answer` but starts nothing new). If no `Answer` arrives in time, you \
           have won: send `Coordinator` to everyone. If one does arrive, wait for the `Coordinator` \
           of a higher node, and start over if none comes.\n\
           - A node starts an election when the system starts and when it recovers from a crash \
           (`on_recover`: its memory is gone).\n\
           - Call `ctx.observe(Observation::Leader(id))` each time you take `id` as coordinator \
           (yourself included).\n\n\
           The network loses nothing, but crashed nodes and partitions drop messages. Every message \
           arrives between 1 ms and 5 ms after it is sent, so a reply to a request comes within 10 ms \
           or not at all: size your timeouts from that. Checks: within 400 ms of the last fault, every \
           live node follows the highest live id; no node declares itself after a higher node \
           answered it; once a higher node has been up and reachable for 400 ms nobody adopts a \
           lower one; and each round of elections costs at most n(n-1) `Election` messages, each node to each higher id at most twice \
           (one round at the start, one per crash or recovery, two per partition). Two nodes may notice \
           the crash at the same moment: the higher nodes then get two `Election`s.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: AGREE, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: BACK_OFF, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: NO_LOWER, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: BUDGET, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: super::no_variant,
};

/// Public: the coordinator crashes (every follower notices at about the
/// same moment: simultaneous detections); it comes back; it and the next
/// in line crash one after the other, mid-election.
pub fn scenarios() -> Vec<ScenarioRuns> {
    let crash = |node, at| Fault::Crash { node, at: ms(at) };
    let back = |node, at| Fault::Recover { node, at: ms(at) };
    let public = [
        ("coordinator crashes", vec![crash(4, 150)]),
        ("coordinator crashes and comes back", vec![crash(4, 150), back(4, 400)]),
        ("two crashes mid-election", vec![crash(4, 150), crash(3, 215)]),
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

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<BullyMsg>>> {
    let n = scenario.nodes;
    vec![
        Box::new(AgreeOnHighest::new(scenario, DEADLINE)),
        Box::new(AnswerMeansBackOff::default()),
        Box::new(NoLowerLeader::new(scenario, DEADLINE)),
        Box::new(ElectionBudget {
            name: BUDGET,
            kind: "Election",
            per_round: n * (n - 1),
            rule: "each node to each higher id at most twice",
            rounds: ElectionBudget::rounds(scenario),
            elected: false,
        }),
    ]
}

pub fn check(solution: Box<NodeFactory<BullyMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(), monitors, run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<BullyMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "bully",
    solution: Box<NodeFactory<BullyMsg>> = Box::new(bully_node),
    cell: {
        // BEGIN CELL
        use distlab::catalogue::bully::BullyMsg;
        use distlab::{ms, Ctx, NodeId, Observation, Process, TimerTag};

        // BEGIN SOLUTION
        const HEARTBEAT: TimerTag = 1; // as coordinator: time to send Alive
        const WATCHDOG: TimerTag = 2; // as follower: the coordinator has been silent too long
        const NO_ANSWER: TimerTag = 3; // electing: nobody higher answered, so I win
        const NO_COORDINATOR: TimerTag = 4; // answered, but the winner never announced itself

        #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, Default)]
        enum Phase {
            #[default]
            Idle,
            Electing,
            AwaitingCoordinator,
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        #[derive(Clone, Debug, Hash, Default)]
        struct Bully {
            leader: Option<NodeId>,
            // BEGIN SOLUTION
            phase: Phase,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Bully {
            fn hold_election(&mut self, ctx: &mut Ctx<BullyMsg>) {
                ctx.cancel_timer(WATCHDOG);
                ctx.cancel_timer(NO_COORDINATOR);
                let me = ctx.me();
                if me + 1 == ctx.nodes() {
                    return self.take_over(ctx); // nobody is higher
                }
                self.phase = Phase::Electing;
                for higher in me + 1..ctx.nodes() {
                    ctx.send(higher, BullyMsg::Election);
                }
                ctx.set_timer(NO_ANSWER, ms(12)); // a round trip is at most 10 ms
            }

            fn take_over(&mut self, ctx: &mut Ctx<BullyMsg>) {
                self.phase = Phase::Idle;
                self.leader = Some(ctx.me());
                ctx.observe(Observation::Leader(ctx.me()));
                ctx.broadcast(BullyMsg::Coordinator);
                ctx.set_timer(HEARTBEAT, ms(20));
            }

            fn follow(&mut self, ctx: &mut Ctx<BullyMsg>, leader: NodeId) {
                self.phase = Phase::Idle;
                self.leader = Some(leader);
                for timer in [HEARTBEAT, NO_ANSWER, NO_COORDINATOR] {
                    ctx.cancel_timer(timer);
                }
                ctx.observe(Observation::Leader(leader));
                ctx.set_timer(WATCHDOG, ms(50)); // two heartbeats missed, and then some
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<BullyMsg> for Bully {
            fn on_start(&mut self, ctx: &mut Ctx<BullyMsg>) {
                // BEGIN SOLUTION
                self.hold_election(ctx);
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, ms(1), Observation::Leader(0));
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<BullyMsg>, from: NodeId, msg: BullyMsg) {
                // BEGIN SOLUTION
                let me = ctx.me();
                match msg {
                    BullyMsg::Election if from < me => {
                        ctx.send(from, BullyMsg::Answer);
                        if self.phase == Phase::Idle {
                            self.hold_election(ctx); // a second Election starts nothing new
                        }
                    }
                    BullyMsg::Answer if self.phase == Phase::Electing => {
                        ctx.cancel_timer(NO_ANSWER);
                        self.phase = Phase::AwaitingCoordinator;
                        ctx.set_timer(NO_COORDINATOR, ms(60));
                    }
                    BullyMsg::Coordinator if from > me => self.follow(ctx, from),
                    // A lower node claims the lead while I am alive: bully it.
                    BullyMsg::Coordinator if self.phase == Phase::Idle => self.hold_election(ctx),
                    BullyMsg::Alive if self.leader == Some(from) => ctx.set_timer(WATCHDOG, ms(50)),
                    // A higher coordinator I did not know of (a partition healed).
                    BullyMsg::Alive if from > me && self.leader.is_none_or(|l| from > l) => self.follow(ctx, from),
                    _ => {}
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg);
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<BullyMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                match timer {
                    HEARTBEAT => {
                        ctx.broadcast(BullyMsg::Alive);
                        ctx.set_timer(HEARTBEAT, ms(20));
                    }
                    NO_ANSWER => self.take_over(ctx),
                    _ => self.hold_election(ctx), // WATCHDOG or NO_COORDINATOR
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }

            fn on_recover(&mut self, ctx: &mut Ctx<BullyMsg>) {
                self.on_start(ctx)
            }
        }

        fn bully_node(_id: NodeId) -> Box<dyn Process<BullyMsg>> {
            Box::new(Bully::default())
        }
        // END CELL
    }
}
