//! The timed simulator: virtual time, an event queue, and a network whose
//! every choice comes from the seed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::rc::Rc;

use crate::faults::Fault;
use crate::network::ClockModel;
use crate::process::{Message, NodeFactory, Observation, Process, TimerTag};
use crate::rng::{SeededRng, CHANNEL_BASE};
use crate::scenario::{Scenario, ScenarioError};
use crate::trace::{Dest, DropReason, Event, EventKind, MsgId, Stop, Trace};
use crate::world::{apply_actions, Effects, Input, NodePanic, World};
use crate::{NodeId, Time};

/// Runs `scenario` with the nodes `factory` makes, every random choice drawn
/// from `seed`. The same arguments give the same trace, always.
pub fn simulate<M: Message>(
    scenario: &Scenario,
    seed: u64,
    factory: impl Fn(NodeId) -> Box<dyn Process<M>> + 'static,
) -> Result<Trace<M>, ScenarioError> {
    simulate_with(scenario, seed, Rc::new(factory))
}

/// [`simulate`] with a shared factory (no boxing of the closure again).
pub fn simulate_with<M: Message>(
    scenario: &Scenario,
    seed: u64,
    factory: Rc<NodeFactory<M>>,
) -> Result<Trace<M>, ScenarioError> {
    scenario.validate()?;
    Ok(Sim::new(scenario, seed, factory).run())
}

/// Runs the seed twice and compares trace hashes: a node that reads the
/// wall clock, a `HashMap` order or a thread-local RNG shows up here.
pub fn determinism_check<M: Message>(
    scenario: &Scenario,
    seed: u64,
    factory: Rc<NodeFactory<M>>,
) -> Result<String, String> {
    let first = simulate_with(scenario, seed, Rc::clone(&factory)).map_err(|e| e.to_string())?;
    let second = simulate_with(scenario, seed, factory).map_err(|e| e.to_string())?;
    let (a, b) = (first.hash(), second.hash());
    if a == b {
        return Ok(a);
    }
    let at = first.events.iter().zip(&second.events).position(|(x, y)| x != y);
    Err(format!(
        "the same seed {seed} gave two different runs (trace hashes {a} and {b}){}; \
         node code must not depend on anything but its inputs",
        at.map(|i| format!(", first differing at event {i}")).unwrap_or_default()
    ))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    Start(NodeId),
    Fault(usize),
    FaultEnd(usize),
    Deliver { id: MsgId, from: NodeId, to: NodeId },
    Timer { node: NodeId, tag: TimerTag, generation: u64 },
}

struct Sim<'a, M: Message> {
    scenario: &'a Scenario,
    world: World<M>,
    clocks: Vec<ClockModel>,
    /// Each node's own corrections to its clock.
    adjustments: Vec<Time>,
    now: Time,
    /// (time, tie-break sequence, what): earlier first, then first queued.
    queue: BinaryHeap<Reverse<(Time, u64, Pending)>>,
    sequence: u64,
    /// One generator per directed channel, made when first used.
    channels: Vec<Option<SeededRng>>,
    seed: u64,
    /// Latest arrival time per channel, for FIFO.
    last_arrival: Vec<Time>,
    /// The generation of each pending timer; a queued timer whose generation
    /// no longer matches was moved or cancelled.
    timers: Vec<BTreeMap<TimerTag, u64>>,
    next_generation: u64,
    /// Partitions and cuts, the only faults that block links.
    link_faults: Vec<&'a Fault>,
    events: Vec<Event<M>>,
}

impl<'a, M: Message> Sim<'a, M> {
    fn new(scenario: &'a Scenario, seed: u64, factory: Rc<NodeFactory<M>>) -> Self {
        let n = scenario.nodes;
        Sim {
            scenario,
            world: World::new(n, factory),
            clocks: (0..n).map(|i| scenario.clock(i)).collect(),
            adjustments: vec![0; n],
            now: 0,
            queue: BinaryHeap::new(),
            sequence: 0,
            channels: vec![None; n * n],
            seed,
            last_arrival: vec![0; n * n],
            timers: vec![BTreeMap::new(); n],
            next_generation: 0,
            link_faults: scenario
                .schedule
                .faults
                .iter()
                .filter(|f| matches!(f, Fault::Partition { .. } | Fault::Cut { .. }))
                .collect(),
            events: Vec::new(),
        }
    }

    fn run(mut self) -> Trace<M> {
        for node in 0..self.scenario.nodes {
            self.push(0, Pending::Start(node));
        }
        for (i, fault) in self.scenario.schedule.faults.iter().enumerate() {
            self.push(fault.start(), Pending::Fault(i));
            if matches!(fault, Fault::Partition { .. } | Fault::Cut { .. }) {
                self.push(fault.end(), Pending::FaultEnd(i));
            }
        }
        let stop = loop {
            if self.events.len() >= self.scenario.max_events {
                break Stop::EventLimit;
            }
            let Some(Reverse((at, _, pending))) = self.queue.pop() else {
                break Stop::Quiet;
            };
            if at > self.scenario.until {
                self.now = self.scenario.until;
                break Stop::Until;
            }
            self.now = at;
            if let Err(failure) = self.handle(pending) {
                self.record(EventKind::Fail {
                    node: failure.node,
                    handler: failure.handler.to_owned(),
                    message: failure.message,
                });
                break Stop::NodeFailed;
            }
        };
        Trace { scenario: self.scenario.clone(), seed: self.seed, events: self.events, end: self.now, stop }
    }

    fn push(&mut self, at: Time, what: Pending) {
        self.sequence += 1;
        self.queue.push(Reverse((at, self.sequence, what)));
    }

    fn record(&mut self, kind: EventKind<M>) {
        self.events.push(Event { at: self.now, kind });
    }

    fn clock_of(&self, node: NodeId) -> Time {
        self.clocks[node].reading(self.now) + self.adjustments[node]
    }

    fn handle(&mut self, pending: Pending) -> Result<(), NodePanic> {
        match pending {
            Pending::Start(node) => {
                self.record(EventKind::Start { node });
                self.dispatch(node, Input::Start)
            }
            Pending::Fault(i) => self.fault_starts(i),
            Pending::FaultEnd(i) => {
                self.record(EventKind::FaultEnd { fault: i });
                Ok(())
            }
            Pending::Deliver { id, from, to } => self.arrive(id, from, to),
            Pending::Timer { node, tag, generation } => {
                if self.timers[node].get(&tag) != Some(&generation) {
                    return Ok(()); // moved or cancelled since
                }
                self.timers[node].remove(&tag);
                self.record(EventKind::Timer { node, tag });
                self.dispatch(node, Input::Timer(tag))
            }
        }
    }

    fn fault_starts(&mut self, i: usize) -> Result<(), NodePanic> {
        match self.scenario.schedule.faults[i] {
            Fault::Crash { node, .. } => {
                if self.world.is_up(node) {
                    self.world.crash(node);
                    self.timers[node].clear();
                    self.record(EventKind::Crash { node });
                }
                Ok(())
            }
            Fault::Recover { node, .. } => {
                if self.world.is_up(node) {
                    return Ok(());
                }
                self.record(EventKind::Recover { node });
                self.dispatch(node, Input::Recover)
            }
            Fault::Partition { .. } | Fault::Cut { .. } => {
                self.record(EventKind::FaultStart { fault: i });
                Ok(())
            }
        }
    }

    fn arrive(&mut self, id: MsgId, from: NodeId, to: NodeId) -> Result<(), NodePanic> {
        let reason = if self.link_faults.iter().any(|f| f.blocks(from, to, self.now)) {
            Some(DropReason::Partition)
        } else if !self.world.is_up(to) {
            Some(DropReason::Crashed)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.record(EventKind::Drop { id, from, to, reason });
            return Ok(());
        }
        self.record(EventKind::Deliver { id, from, to });
        let msg = match &self.events[id].kind {
            EventKind::Send { msg, .. } => msg.clone(),
            _ => unreachable!("message ids name send events"),
        };
        self.dispatch(to, Input::Message { from, msg })
    }

    fn dispatch(&mut self, node: NodeId, input: Input<M>) -> Result<(), NodePanic> {
        let clock = self.clock_of(node);
        let mut actions = self.world.dispatch(node, clock, input)?;
        let (n, hardware) = (self.scenario.nodes, self.scenario.network.hardware_broadcast);
        let applied = apply_actions(node, n, hardware, actions.drain(..), self);
        self.world.recycle(actions);
        applied
    }

    /// Puts one copy (or two, or none) of message `id` on the wire to `to`.
    fn transmit(&mut self, id: MsgId, from: NodeId, to: NodeId) {
        let channel = from * self.scenario.nodes + to;
        let seed = self.seed;
        let rng = self.channels[channel].get_or_insert_with(|| SeededRng::new(seed, CHANNEL_BASE + channel as u64));
        let fate = self.scenario.network.fate(rng);
        if fate.lost {
            self.record(EventKind::Drop { id, from, to, reason: DropReason::Loss });
            return;
        }
        self.schedule_arrival(id, from, to, fate.first);
        if let Some(second) = fate.second {
            self.record(EventKind::Duplicate { id, to });
            self.schedule_arrival(id, from, to, second);
        }
    }

    fn schedule_arrival(&mut self, id: MsgId, from: NodeId, to: NodeId, delay: Time) {
        let mut at = self.now + delay;
        if self.scenario.network.fifo {
            let channel = from * self.scenario.nodes + to;
            at = at.max(self.last_arrival[channel]);
            self.last_arrival[channel] = at;
        }
        self.push(at, Pending::Deliver { id, from, to });
    }
}

impl<M: Message> Effects<M> for Sim<'_, M> {
    fn send(&mut self, from: NodeId, to: Dest, msg: M) {
        let id = self.events.len();
        self.record(EventKind::Send { from, to, msg });
        match to {
            Dest::Node(to) => self.transmit(id, from, to),
            Dest::AllOthers => {
                for to in (0..self.scenario.nodes).filter(|&to| to != from) {
                    self.transmit(id, from, to);
                }
            }
        }
    }

    fn set_timer(&mut self, node: NodeId, tag: TimerTag, delay: Time) {
        let span = self.clocks[node].true_span(delay.max(0));
        self.next_generation += 1;
        let generation = self.next_generation;
        self.timers[node].insert(tag, generation);
        self.push(self.now + span, Pending::Timer { node, tag, generation });
    }

    fn cancel_timer(&mut self, node: NodeId, tag: TimerTag) {
        self.timers[node].remove(&tag);
    }

    fn observe(&mut self, node: NodeId, what: Observation) {
        self.record(EventKind::Observe { node, what });
    }

    fn adjust_clock(&mut self, node: NodeId, delta: Time) {
        self.adjustments[node] += delta;
        self.record(EventKind::ClockAdjust { node, delta });
    }
}
