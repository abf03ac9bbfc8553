//! One explorer state and how a move changes it. The explorer's search and
//! the trace minimizer both step through states with this code.

use std::hash::Hash;
use std::rc::Rc;

use crate::check::{Monitor, Step, NODES_RUN_CLEANLY};
use crate::process::{Message, NodeFactory, Observation, TimerTag};
use crate::stable_hash::StableHasher;
use crate::trace::{Dest, DropReason, Event, EventKind, MsgId};
use crate::world::{apply_actions, Effects, Input, World};
use crate::{NodeId, Time};

/// When a pending timer may fire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimerPolicy {
    /// At any point: a timeout may race any message (the sound default).
    #[default]
    Always,
    /// Only when no message is in flight: timeouts are long compared to
    /// message delays. Smaller state spaces, fewer behaviours.
    WhenIdle,
}

/// How many faults a path may contain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Budgets {
    pub loss: u32,
    pub duplicate: u32,
    pub crash: u32,
}

/// One step of a path: what the explorer chose to happen next. Indices
/// name a message by its position among the messages in flight (in send
/// order) in the state the move is taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Move {
    Deliver(u32),
    /// The network loses the message (uses the loss budget).
    Lose(u32),
    /// The network delivers the message twice (uses the duplicate budget).
    Duplicate(u32),
    Fire {
        node: NodeId,
        tag: TimerTag,
    },
    Crash(NodeId),
    Recover(NodeId),
}

/// The fixed rules of one exploration.
#[derive(Clone)]
pub(crate) struct Rules<M: Message> {
    pub nodes: usize,
    pub factory: Rc<NodeFactory<M>>,
    pub fifo: bool,
    pub hardware_broadcast: bool,
    pub budgets: Budgets,
    pub recover: bool,
    pub timers: TimerPolicy,
    /// Keep the set of observations made (only when a goal reads it: it
    /// splits states that would otherwise merge).
    pub track_observed: bool,
}

impl<M: Message> Rules<M> {
    /// Unordered channels, no faults, timers fire any time.
    pub fn new(nodes: usize, factory: Rc<NodeFactory<M>>) -> Self {
        Rules {
            nodes,
            factory,
            fifo: false,
            hardware_broadcast: false,
            budgets: Budgets::default(),
            recover: true,
            timers: TimerPolicy::Always,
            track_observed: false,
        }
    }
}

/// A message on the wire. `id` is its send event's index along the path
/// that reached this state: for traces only, never part of the state.
#[derive(Clone, Debug)]
pub(crate) struct Flight<M> {
    pub from: NodeId,
    pub to: NodeId,
    pub msg: Rc<M>,
    pub id: MsgId,
    /// Stable hash of the payload, computed once at send.
    pub hash: u64,
}

#[derive(Clone)]
pub(crate) struct State<M: Message> {
    pub world: World<M>,
    /// Cached `world.node_fingerprint(i)`: only the node that moved is
    /// rehashed.
    pub node_fps: Vec<u64>,
    /// In send order.
    pub flights: Vec<Flight<M>>,
    /// Pending timers, sorted.
    pub timers: Vec<(NodeId, TimerTag)>,
    /// Each node's own clock corrections (clocks otherwise read 0).
    pub clocks: Vec<Time>,
    pub used: Budgets,
    pub monitors: Vec<Box<dyn Monitor<M>>>,
    /// Distinct (node, observation) pairs seen, sorted; empty unless tracked.
    pub observed: Vec<(NodeId, Observation)>,
    /// Events along the path so far (not part of the state).
    pub events: usize,
}

/// Why a path failed: a monitor rejected an event, a node panicked, or a
/// liveness condition failed at a quiescent state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub check: String,
    pub message: String,
    /// The offending event's index in the path's trace, if one is to blame.
    pub event: Option<usize>,
}

impl<M: Message> State<M> {
    pub fn is_quiescent(&self) -> bool {
        self.flights.is_empty() && self.timers.is_empty()
    }

    /// Liveness at a quiescent state: every monitor with a deadline must be
    /// settled, since nothing more will happen.
    pub fn unsettled(&self) -> Option<Violation> {
        self.monitors.iter().filter(|m| m.deadline().is_some()).find_map(|m| {
            m.settled().err().map(|why| Violation {
                check: m.name(),
                message: format!("{why} (at a quiescent state: nothing left to happen)"),
                event: None,
            })
        })
    }
}

impl<M: Message> Rules<M> {
    /// Every node started, in id order.
    pub fn initial(
        &self,
        monitors: &[Box<dyn Monitor<M>>],
        record: Option<&mut Vec<Event<M>>>,
    ) -> (State<M>, Option<Violation>) {
        let n = self.nodes;
        let mut state = State {
            world: World::new(n, Rc::clone(&self.factory)),
            node_fps: vec![0; n],
            flights: Vec::new(),
            timers: Vec::new(),
            clocks: vec![0; n],
            used: Budgets::default(),
            monitors: monitors.to_vec(),
            observed: Vec::new(),
            events: 0,
        };
        let mut stepper = Stepper { rules: self, state: &mut state, at: 0, record, violation: None };
        for node in 0..n {
            stepper.emit(EventKind::Start { node }, None);
            stepper.dispatch(node, Input::Start);
        }
        let violation = stepper.violation.take();
        for node in 0..n {
            state.node_fps[node] = state.world.node_fingerprint(node);
        }
        (state, violation)
    }

    /// The moves enabled in `state`, in a fixed order, into `out`.
    pub fn enabled(&self, state: &State<M>, out: &mut Vec<Move>) {
        out.clear();
        let flights = &state.flights;
        // Identical messages give identical successors: offer the first only.
        let first_of_kind = |k: usize| {
            let f = &flights[k];
            !flights[..k].iter().any(|g| g.from == f.from && g.to == f.to && g.hash == f.hash && g.msg == f.msg)
        };
        for k in 0..flights.len() {
            let f = &flights[k];
            let blocked = self.fifo && flights[..k].iter().any(|g| g.from == f.from && g.to == f.to);
            if !blocked && first_of_kind(k) {
                out.push(Move::Deliver(k as u32));
            }
        }
        if state.used.loss < self.budgets.loss {
            out.extend((0..flights.len()).filter(|&k| first_of_kind(k)).map(|k| Move::Lose(k as u32)));
        }
        if state.used.duplicate < self.budgets.duplicate {
            out.extend((0..flights.len()).filter(|&k| first_of_kind(k)).map(|k| Move::Duplicate(k as u32)));
        }
        if self.timers == TimerPolicy::Always || flights.is_empty() {
            out.extend(state.timers.iter().map(|&(node, tag)| Move::Fire { node, tag }));
        }
        if state.used.crash < self.budgets.crash {
            out.extend((0..self.nodes).filter(|&i| state.world.is_up(i)).map(Move::Crash));
        }
        if self.recover {
            out.extend((0..self.nodes).filter(|&i| !state.world.is_up(i)).map(Move::Recover));
        }
    }

    /// Applies `mv` (which must be enabled) to `state`. Events get virtual
    /// time `at`; with `record`, they are also appended there.
    pub fn apply(
        &self,
        state: &mut State<M>,
        mv: Move,
        at: Time,
        record: Option<&mut Vec<Event<M>>>,
    ) -> Option<Violation> {
        let mut s = Stepper { rules: self, state, at, record, violation: None };
        match mv {
            Move::Deliver(k) => {
                let f = s.state.flights.remove(k as usize);
                let (id, from, to) = (f.id, f.from, f.to);
                if !s.state.world.is_up(to) {
                    let reason = DropReason::Crashed;
                    s.emit(EventKind::Drop { id, from, to, reason }, Some(&f.msg));
                } else {
                    s.emit(EventKind::Deliver { id, from, to }, Some(&f.msg));
                    let msg = Rc::try_unwrap(f.msg).unwrap_or_else(|rc| (*rc).clone());
                    s.dispatch(to, Input::Message { from, msg });
                }
            }
            Move::Lose(k) => {
                let f = s.state.flights.remove(k as usize);
                s.state.used.loss += 1;
                let reason = DropReason::Loss;
                s.emit(EventKind::Drop { id: f.id, from: f.from, to: f.to, reason }, Some(&f.msg));
            }
            Move::Duplicate(k) => {
                let f = s.state.flights[k as usize].clone();
                s.state.used.duplicate += 1;
                s.emit(EventKind::Duplicate { id: f.id, to: f.to }, Some(&f.msg));
                s.state.flights.push(f);
            }
            Move::Fire { node, tag } => {
                s.state.timers.retain(|&t| t != (node, tag));
                s.emit(EventKind::Timer { node, tag }, None);
                s.dispatch(node, Input::Timer(tag));
            }
            Move::Crash(node) => {
                s.state.world.crash(node);
                s.state.timers.retain(|&(n, _)| n != node);
                s.state.used.crash += 1;
                s.state.node_fps[node] = s.state.world.node_fingerprint(node);
                s.emit(EventKind::Crash { node }, None);
            }
            Move::Recover(node) => {
                s.emit(EventKind::Recover { node }, None);
                s.dispatch(node, Input::Recover);
            }
        }
        s.violation
    }
}

/// Applies one move's effects, feeding every event to the monitors.
struct Stepper<'a, 'r, M: Message> {
    rules: &'a Rules<M>,
    state: &'a mut State<M>,
    at: Time,
    record: Option<&'r mut Vec<Event<M>>>,
    /// The first violation in this step.
    violation: Option<Violation>,
}

impl<M: Message> Stepper<'_, '_, M> {
    /// Shows one event to the monitors (and the record) and hands it back,
    /// so a send's payload moves on without a copy.
    fn emit(&mut self, kind: EventKind<M>, msg: Option<&M>) -> EventKind<M> {
        let index = self.state.events;
        self.state.events += 1;
        if !self.state.monitors.is_empty() {
            let msg = match &kind {
                EventKind::Send { msg, .. } => Some(msg),
                _ => msg,
            };
            let step = Step { index, at: self.at, kind: &kind, msg };
            for monitor in &mut self.state.monitors {
                if let Err(message) = monitor.on_event(&step) {
                    if self.violation.is_none() {
                        self.violation = Some(Violation { check: monitor.name(), message, event: Some(index) });
                    }
                }
            }
        }
        if let Some(record) = self.record.as_deref_mut() {
            record.push(Event { at: self.at, kind: kind.clone() });
        }
        kind
    }

    fn dispatch(&mut self, node: NodeId, input: Input<M>) {
        let clock = self.state.clocks[node];
        match self.state.world.dispatch(node, clock, input) {
            Ok(mut actions) => {
                let (n, hardware) = (self.rules.nodes, self.rules.hardware_broadcast);
                let applied = apply_actions(node, n, hardware, actions.drain(..), self);
                self.state.world.recycle(actions);
                if let Err(failure) = applied {
                    self.fail(failure.node, failure.handler, failure.message);
                }
            }
            Err(failure) => self.fail(failure.node, failure.handler, failure.message),
        }
        self.state.node_fps[node] = self.state.world.node_fingerprint(node);
    }

    fn fail(&mut self, node: NodeId, handler: &str, message: String) {
        let index = self.state.events;
        let text = format!("node {node} failed in {handler}: {message}");
        self.emit(EventKind::Fail { node, handler: handler.to_owned(), message }, None);
        self.violation.get_or_insert(Violation { check: NODES_RUN_CLEANLY.into(), message: text, event: Some(index) });
    }

    fn put_in_flight(&mut self, from: NodeId, to: NodeId, msg: Rc<M>, id: MsgId, hash: u64) {
        self.state.flights.push(Flight { from, to, msg, id, hash });
    }
}

impl<M: Message> Effects<M> for Stepper<'_, '_, M> {
    fn send(&mut self, from: NodeId, to: Dest, msg: M) {
        let id = self.state.events;
        let EventKind::Send { msg, .. } = self.emit(EventKind::Send { from, to, msg }, None) else {
            unreachable!("emit hands back what it was given")
        };
        let hash = payload_hash(&msg);
        let msg = Rc::new(msg);
        match to {
            Dest::Node(to) => self.put_in_flight(from, to, msg, id, hash),
            Dest::AllOthers => {
                for to in (0..self.rules.nodes).filter(|&to| to != from) {
                    self.put_in_flight(from, to, Rc::clone(&msg), id, hash);
                }
            }
        }
    }

    fn set_timer(&mut self, node: NodeId, tag: TimerTag, _delay: Time) {
        // Untimed: only whether a timer is pending matters.
        if let Err(at) = self.state.timers.binary_search(&(node, tag)) {
            self.state.timers.insert(at, (node, tag));
        }
    }

    fn cancel_timer(&mut self, node: NodeId, tag: TimerTag) {
        if let Ok(at) = self.state.timers.binary_search(&(node, tag)) {
            self.state.timers.remove(at);
        }
    }

    fn observe(&mut self, node: NodeId, what: Observation) {
        let EventKind::Observe { what, .. } = self.emit(EventKind::Observe { node, what }, None) else {
            unreachable!("emit hands back what it was given")
        };
        if self.rules.track_observed {
            let entry = (node, what);
            if let Err(at) = self.state.observed.binary_search_by(|probe| cmp_observed(probe, &entry)) {
                self.state.observed.insert(at, entry);
            }
        }
    }

    fn adjust_clock(&mut self, node: NodeId, delta: Time) {
        self.state.clocks[node] += delta;
        self.emit(EventKind::ClockAdjust { node, delta }, None);
    }
}

pub(crate) fn payload_hash<M: Hash>(msg: &M) -> u64 {
    let mut h = StableHasher::new();
    msg.hash(&mut h);
    h.finish64()
}

/// Observations have no `Ord`; order them by node, then by stable hash,
/// then by debug text (a tie-break for hash collisions).
fn cmp_observed(a: &(NodeId, Observation), b: &(NodeId, Observation)) -> std::cmp::Ordering {
    a.0.cmp(&b.0)
        .then_with(|| payload_hash(&a.1).cmp(&payload_hash(&b.1)))
        .then_with(|| format!("{:?}", a.1).cmp(&format!("{:?}", b.1)))
}
