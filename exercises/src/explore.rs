//! The exhaustive explorer: every delivery order (and, within budgets,
//! every loss, duplicate, crash and recovery) of a small untimed system,
//! breadth first, so the first violation found has a shortest path.
//!
//! ```ignore
//! let result = Explorer::new(3, |id| Box::new(MyNode::new(id)) as Box<dyn Process<Msg>>)
//!     .monitor(MutualExclusion::default())
//!     .loss_budget(1)
//!     .max_states(1_000_000)
//!     .run();
//! assert_eq!(result.status(), Status::Pass);
//! ```
//!
//! Timers are untimed: a pending timer may fire at any point (or only when
//! no message is in flight, see [`TimerPolicy`]), and every clock reads 0
//! plus the node's own adjustments.
//!
//! Monitors see the same [`Step`](crate::check::Step)s as on a trace (with
//! payloads); `on_event` errors are violations, and `settled()` (for
//! monitors with a deadline) must hold at every quiescent state: nothing in
//! flight, no timer pending. `at_end` judges whole-run counts and is left
//! to traces.

mod canon;
mod step;

use std::collections::VecDeque;
use std::rc::Rc;

use crate::check::{Monitor, Status, Verdict, NODES_RUN_CLEANLY};
use crate::network::Network;
use crate::process::{Message, NodeFactory, Observation, Process};
use crate::scenario::Scenario;
use crate::trace::{EventKind, Stop, Trace};
use crate::world::World;
use crate::{NodeId, Time};

pub use step::{Budgets, Move, TimerPolicy, Violation};
pub(crate) use step::{Rules, State};

/// Virtual time between two steps of a path, so diagrams space them out.
pub const STEP_TIME: Time = 1000;

/// What a goal or prune predicate sees of a state.
pub struct StateView<'a, M: Message> {
    state: &'a State<M>,
    depth: usize,
}

impl<'a, M: Message> StateView<'a, M> {
    pub fn world(&self) -> &'a World<M> {
        &self.state.world
    }
    /// Messages in flight as (from, to, payload), in send order.
    pub fn in_flight(&self) -> impl Iterator<Item = (NodeId, NodeId, &'a M)> + 'a {
        self.state.flights.iter().map(|f| (f.from, f.to, &*f.msg))
    }
    /// Pending timers as (node, tag), sorted.
    pub fn timers(&self) -> &'a [(NodeId, u64)] {
        &self.state.timers
    }
    /// Distinct (node, observation) pairs made along the path. Kept only
    /// when the exploration has a goal; empty otherwise.
    pub fn observed(&self) -> &'a [(NodeId, Observation)] {
        &self.state.observed
    }
    /// Steps from the initial state.
    pub fn depth(&self) -> usize {
        self.depth
    }
}

type Predicate<M> = Box<dyn Fn(&StateView<'_, M>) -> bool>;

/// The outcome of an exploration.
#[derive(Debug)]
pub struct Exploration<M> {
    /// Distinct states found (up to symmetry, if asked).
    pub states: usize,
    /// Moves applied, including those to states already seen.
    pub transitions: usize,
    pub max_depth_reached: usize,
    /// Every reachable state (within prunes) was explored.
    pub complete: bool,
    pub violation: Option<Counterexample<M>>,
    /// Each goal, with a shortest path reaching it if one was found.
    pub goals: Vec<GoalReport<M>>,
}

impl<M> Exploration<M> {
    /// Fail with a violation; Pass only if the exploration was complete;
    /// Unknown otherwise (a limit cut it short).
    pub fn status(&self) -> Status {
        match (&self.violation, self.complete) {
            (Some(_), _) => Status::Fail,
            (None, true) => Status::Pass,
            (None, false) => Status::Unknown,
        }
    }
}

/// A shortest path to a violation.
#[derive(Debug)]
pub struct Counterexample<M> {
    pub moves: Vec<Move>,
    /// The path replayed, step `k` at virtual time `k * STEP_TIME`.
    pub trace: Trace<M>,
    pub verdict: Verdict,
    /// The path did not replay as it was explored: the verdict is the
    /// nodes' nondeterminism, and the trace shows the replay, not the path.
    pub nondeterministic: bool,
}

#[derive(Debug)]
pub struct GoalReport<M> {
    pub name: String,
    /// A shortest path to a state where the goal holds.
    pub witness: Option<Trace<M>>,
}

/// Builder and runner of an exploration.
pub struct Explorer<M: Message> {
    rules: Rules<M>,
    scenario: Scenario,
    monitors: Vec<Box<dyn Monitor<M>>>,
    goals: Vec<(String, Predicate<M>)>,
    prunes: Vec<Predicate<M>>,
    symmetric: Vec<NodeId>,
    max_states: usize,
    max_depth: usize,
}

impl<M: Message> Explorer<M> {
    pub fn new(nodes: usize, factory: impl Fn(NodeId) -> Box<dyn Process<M>> + 'static) -> Self {
        Self::with_factory(nodes, Rc::new(factory))
    }

    pub fn with_factory(nodes: usize, factory: Rc<NodeFactory<M>>) -> Self {
        let mut scenario = Scenario::new("explore", nodes);
        scenario.network = Network { fifo: false, ..Network::default() };
        Explorer {
            rules: Rules::new(nodes, factory),
            scenario,
            monitors: Vec::new(),
            goals: Vec::new(),
            prunes: Vec::new(),
            symmetric: Vec::new(),
            max_states: 1_000_000,
            max_depth: usize::MAX,
        }
    }

    /// Takes the network's `fifo` and `hardware_broadcast` from a scenario
    /// (delays, loss rates and fault schedules mean nothing here: use the
    /// budgets), and its name for traces.
    pub fn scenario(mut self, scenario: &Scenario) -> Self {
        self.rules.fifo = scenario.network.fifo;
        self.rules.hardware_broadcast = scenario.network.hardware_broadcast;
        self.scenario = Scenario { nodes: self.rules.nodes, ..scenario.clone() };
        self
    }

    pub fn fifo(mut self, fifo: bool) -> Self {
        self.rules.fifo = fifo;
        self.scenario.network.fifo = fifo;
        self
    }

    pub fn monitor(mut self, monitor: impl Monitor<M>) -> Self {
        self.monitors.push(Box::new(monitor));
        self
    }

    pub fn boxed_monitor(mut self, monitor: Box<dyn Monitor<M>>) -> Self {
        self.monitors.push(monitor);
        self
    }

    /// A state to look for; the report says whether (and how) it is reached.
    pub fn goal(mut self, name: &str, holds: impl Fn(&StateView<'_, M>) -> bool + 'static) -> Self {
        self.goals.push((name.to_owned(), Box::new(holds)));
        self.rules.track_observed = true;
        self
    }

    /// States where `cut` holds are counted but not explored further (a
    /// bound the author chooses; it doesn't make the result Unknown).
    pub fn prune(mut self, cut: impl Fn(&StateView<'_, M>) -> bool + 'static) -> Self {
        self.prunes.push(Box::new(cut));
        self
    }

    pub fn loss_budget(mut self, messages: u32) -> Self {
        self.rules.budgets.loss = messages;
        self
    }

    pub fn duplicate_budget(mut self, messages: u32) -> Self {
        self.rules.budgets.duplicate = messages;
        self
    }

    pub fn crash_budget(mut self, crashes: u32) -> Self {
        self.rules.budgets.crash = crashes;
        self
    }

    /// Whether crashed nodes may recover (default yes).
    pub fn recover(mut self, recover: bool) -> Self {
        self.rules.recover = recover;
        self
    }

    pub fn timers(mut self, policy: TimerPolicy) -> Self {
        self.rules.timers = policy;
        self
    }

    /// Treats these node ids as interchangeable (see the soundness condition
    /// in `canon.rs`: states and messages must not name them).
    ///
    /// Panics if an id is not a node of the system.
    pub fn symmetric(mut self, mut ids: Vec<NodeId>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        if let Some(bad) = ids.iter().find(|&&id| id >= self.rules.nodes) {
            panic!("symmetric node {bad} is not a node: the nodes are 0 to {}", self.rules.nodes - 1);
        }
        self.symmetric = ids;
        self
    }

    pub fn max_states(mut self, states: usize) -> Self {
        self.max_states = states;
        self
    }

    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    pub fn run(&self) -> Exploration<M> {
        Search::new(self).run()
    }

    /// Replays `moves` from the initial state, recording the trace.
    fn replay(&self, moves: &[Move]) -> (Trace<M>, Option<Violation>) {
        replay(&self.rules, &self.monitors, &self.scenario, moves)
    }

    fn fingerprint(&self, state: &State<M>, scratch: &mut Vec<(u64, NodeId)>, all: &[NodeId]) -> u64 {
        if self.symmetric.len() > 1 {
            canon::symmetric_fingerprint(state, &self.symmetric, scratch)
        } else {
            canon::fingerprint(state, all)
        }
    }
}

/// Replays `moves`, recording every event; stops after the first step that
/// violates something. A move that is not enabled on the way means the
/// nodes did something else this time: that is their failure (see
/// [`nondeterministic`]), never a panic here.
pub(crate) fn replay<M: Message>(
    rules: &Rules<M>,
    monitors: &[Box<dyn Monitor<M>>],
    scenario: &Scenario,
    moves: &[Move],
) -> (Trace<M>, Option<Violation>) {
    let mut events = Vec::new();
    let (mut state, mut violation) = rules.initial(monitors, Some(&mut events));
    let mut step = 0;
    let mut enabled = Vec::new();
    for &mv in moves {
        if violation.is_some() {
            break;
        }
        rules.enabled(&state, &mut enabled);
        if !enabled.contains(&mv) {
            violation = Some(nondeterministic(step + 1, &format!("{mv:?} was no longer possible")));
            break;
        }
        step += 1;
        violation = rules.apply(&mut state, mv, step as Time * STEP_TIME, Some(&mut events));
    }
    if violation.is_none() && state.is_quiescent() {
        violation = state.unsettled();
    }
    let stop = if events.iter().any(|e| matches!(e.kind, EventKind::Fail { .. })) {
        Stop::NodeFailed
    } else if state.is_quiescent() {
        Stop::Quiet
    } else {
        Stop::Until
    };
    let trace = Trace { scenario: scenario.clone(), seed: 0, events, end: step as Time * STEP_TIME, stop };
    (trace, violation)
}

/// The nodes' failure when the same path, replayed, goes differently: a
/// node kept something outside its state (a `static`, a clock, a random
/// source). The explorer's results mean nothing then, so it is a failure
/// of the built-in check, in words the student can act on.
pub(crate) fn nondeterministic(step: usize, what: &str) -> Violation {
    Violation {
        check: NODES_RUN_CLEANLY.into(),
        message: format!(
            "the nodes behaved differently when the same inputs were replayed (at step {step}: {what}); \
             a node's behaviour must depend only on its state and the inputs it gets, \
             not on a static variable, a clock or a random source"
        ),
        event: None,
    }
}

/// A verdict for a violation found on a path of `moves`.
pub(crate) fn verdict_of<M>(v: &Violation, trace: &Trace<M>, moves: usize, how: &str) -> Verdict {
    let event = v.event.and_then(|i| trace.events.get(i));
    let at = event.map(|e| e.at).or(Some(trace.end));
    // On the violating event's node; a quiescent state's failure names its node.
    let node = event.and_then(|e| e.node()).or_else(|| crate::check::named_node(&v.message));
    Verdict {
        check: v.check.clone(),
        status: Status::Fail,
        message: v.message.clone(),
        event: v.event,
        at,
        seed: trace.seed,
        scenario: trace.scenario.name.clone(),
        replay: format!("{how}: a path of {moves} moves (see the trace)"),
        node,
    }
}

/// The breadth-first search proper.
struct Search<'e, M: Message> {
    ex: &'e Explorer<M>,
    /// Per discovered state: its parent's index and the move from there.
    parents: Vec<(u32, Option<Move>)>,
    visited: canon::Visited,
    queue: VecDeque<(State<M>, u32, u32)>,
    scratch: Vec<(u64, NodeId)>,
    all: Vec<NodeId>,
    transitions: usize,
    max_depth_reached: usize,
    complete: bool,
    goal_hits: Vec<Option<u32>>,
}

impl<'e, M: Message> Search<'e, M> {
    fn new(ex: &'e Explorer<M>) -> Self {
        Search {
            ex,
            parents: Vec::new(),
            visited: canon::Visited::default(),
            queue: VecDeque::new(),
            scratch: Vec::new(),
            all: (0..ex.rules.nodes).collect(),
            transitions: 0,
            max_depth_reached: 0,
            complete: true,
            goal_hits: vec![None; ex.goals.len()],
        }
    }

    fn run(mut self) -> Exploration<M> {
        let (initial, violation) = self.ex.rules.initial(&self.ex.monitors, None);
        let fp = self.ex.fingerprint(&initial, &mut self.scratch, &self.all);
        self.visited.insert(fp);
        self.parents.push((u32::MAX, None));
        let violation = violation.or_else(|| self.discovered(&initial, 0, 0));
        if let Some(v) = violation {
            return self.finish(Some((0, v)));
        }
        self.queue.push_back((initial, 0, 0));
        let rules = &self.ex.rules;
        let mut moves = Vec::new();
        while let Some((state, id, depth)) = self.queue.pop_front() {
            let view = StateView { state: &state, depth: depth as usize };
            if self.ex.prunes.iter().any(|cut| cut(&view)) {
                continue;
            }
            rules.enabled(&state, &mut moves);
            if moves.is_empty() {
                continue;
            }
            if depth as usize >= self.ex.max_depth {
                self.complete = false;
                continue;
            }
            let at = (depth as Time + 1) * STEP_TIME;
            let mut parent = Some(state);
            for (i, &mv) in moves.iter().enumerate() {
                // The last successor takes the parent itself: one clone saved.
                let mut child = match i + 1 == moves.len() {
                    true => parent.take().expect("the parent is taken only once"),
                    false => parent.as_ref().expect("the parent is still here").clone(),
                };
                self.transitions += 1;
                let violation = rules.apply(&mut child, mv, at, None);
                if let Some(v) = violation {
                    let child_id = self.parents.len() as u32;
                    self.parents.push((id, Some(mv)));
                    return self.finish(Some((child_id, v)));
                }
                let fp = self.ex.fingerprint(&child, &mut self.scratch, &self.all);
                if !self.visited.insert(fp) {
                    continue;
                }
                if self.parents.len() >= self.ex.max_states {
                    self.complete = false;
                    return self.finish(None);
                }
                let child_id = self.parents.len() as u32;
                self.parents.push((id, Some(mv)));
                self.max_depth_reached = self.max_depth_reached.max(depth as usize + 1);
                if let Some(v) = self.discovered(&child, child_id, depth + 1) {
                    return self.finish(Some((child_id, v)));
                }
                self.queue.push_back((child, child_id, depth + 1));
            }
        }
        self.finish(None)
    }

    /// Checks a newly found state: liveness if quiescent, and goals.
    fn discovered(&mut self, state: &State<M>, id: u32, depth: u32) -> Option<Violation> {
        if !self.ex.goals.is_empty() {
            let view = StateView { state, depth: depth as usize };
            for (hit, (_, holds)) in self.goal_hits.iter_mut().zip(&self.ex.goals) {
                if hit.is_none() && holds(&view) {
                    *hit = Some(id);
                }
            }
        }
        if state.is_quiescent() {
            state.unsettled()
        } else {
            None
        }
    }

    fn path_to(&self, mut id: u32) -> Vec<Move> {
        let mut path = Vec::new();
        while let (parent, Some(mv)) = self.parents[id as usize] {
            path.push(mv);
            id = parent;
        }
        path.reverse();
        path
    }

    fn finish(self, violation: Option<(u32, Violation)>) -> Exploration<M> {
        let violation = violation.map(|(id, found)| {
            let moves = self.path_to(id);
            let (trace, replayed) = self.ex.replay(&moves);
            let diverged = replayed.as_ref() != Some(&found);
            let found = match replayed {
                Some(again) if again == found => found,
                // The replay noticed the divergence itself (no event to blame).
                Some(again) if again.check == NODES_RUN_CLEANLY && again.event.is_none() => again,
                _ => nondeterministic(
                    moves.len(),
                    &format!("exploring, this path ended in \"{}\"; replayed, it did not", found.message),
                ),
            };
            let verdict = verdict_of(&found, &trace, moves.len(), "explorer");
            Counterexample { moves, trace, verdict, nondeterministic: diverged }
        });
        let goals = self
            .ex
            .goals
            .iter()
            .zip(&self.goal_hits)
            .map(|((name, _), hit)| GoalReport {
                name: name.clone(),
                witness: hit.map(|id| self.ex.replay(&self.path_to(id)).0),
            })
            .collect();
        Exploration {
            states: self.parents.len(),
            transitions: self.transitions,
            max_depth_reached: self.max_depth_reached,
            complete: self.complete && violation.is_none(),
            violation,
            goals,
        }
    }
}
