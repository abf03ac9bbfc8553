//! Cluster mode: the nodes a student wrote, the same `Box<dyn Process<M>>`
//! the simulator runs, as peers on a real network: every node has its own
//! TCP listener (or UDP socket) on 127.0.0.1, and every message crosses
//! the loopback network as bytes. Time is the wall clock, timers are real
//! waits, and the run is recorded as a [`Trace`] in the simulator's format
//! (times in microseconds since the start), so the exercise's own monitors
//! judge it and the same diagram draws it.
//!
//! Handlers run one at a time on the caller's thread, as the messages and
//! timers come; reader threads only move bytes. A crash in the scenario's
//! schedule closes the node's sockets (its listener, and every connection
//! to or from it) and drops its volatile state; messages in flight to it
//! are lost. A recovery opens new sockets and restarts the node from its
//! durable store. Partitions and cuts drop messages on arrival, as in the
//! simulator. The scenario's delay model is not used: the delays are the
//! network's own. Unlike the simulator, a run is not reproducible: that is
//! the point of running on a real network.

mod transport;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

pub use transport::Transport;
use transport::{encode, Arrival, Endpoint, Links};

use crate::faults::Fault;
use crate::process::{Message, NodeFactory, Observation, Process, TimerTag};
use crate::rng::{Draw, SeededRng, CHANNEL_BASE};
use crate::scenario::Scenario;
use crate::trace::{Dest, DropReason, Event, EventKind, MsgId, Stop, Trace};
use crate::world::{apply_actions, Effects, Input, NodePanic, World};
use crate::{NodeId, Time};

/// Why a cluster run could not start.
#[derive(Debug)]
pub struct ClusterError(pub String);

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClusterError {}

/// Runs `scenario` with the nodes `factory` makes on the real network
/// `transport` until the scenario's `until` (wall-clock microseconds) or
/// until nothing is left to happen. `seed` drives only the injected UDP
/// loss.
pub fn run<M: Message>(
    scenario: &Scenario,
    transport: Transport,
    seed: u64,
    factory: impl Fn(NodeId) -> Box<dyn Process<M>> + 'static,
) -> Result<Trace<M>, ClusterError> {
    scenario.validate().map_err(|e| ClusterError(e.to_string()))?;
    if let Transport::Udp { loss } = transport {
        if !(0.0..=1.0).contains(&loss) {
            return Err(ClusterError(format!("the loss must be a probability, not {loss}")));
        }
    }
    Cluster::new(scenario, transport, seed, Rc::new(factory))?.run()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Fault(usize),
    FaultEnd(usize),
    Timer { node: NodeId, tag: TimerTag, generation: u64 },
}

struct Cluster<'a, M: Message> {
    scenario: &'a Scenario,
    transport: Transport,
    seed: u64,
    world: World<M>,
    endpoints: Vec<Option<Endpoint>>,
    /// Each node's current address (a recovered node listens on a new port).
    addrs: Vec<SocketAddr>,
    links: Links,
    arrivals: Receiver<Arrival>,
    sender: Sender<Arrival>,
    started: Instant,
    now: Time,
    due: BinaryHeap<Reverse<(Time, u64, Due)>>,
    sequence: u64,
    timers: Vec<BTreeMap<TimerTag, u64>>,
    next_generation: u64,
    adjustments: Vec<Time>,
    /// Messages sent and neither delivered nor dropped yet, by (id, to).
    in_flight: BTreeSet<(MsgId, NodeId)>,
    loss: Vec<Option<SeededRng>>,
    events: Vec<Event<M>>,
    /// A failure of the network itself (a socket that cannot be opened).
    broken: Option<String>,
}

impl<'a, M: Message> Cluster<'a, M> {
    fn new(
        scenario: &'a Scenario,
        transport: Transport,
        seed: u64,
        factory: Rc<NodeFactory<M>>,
    ) -> Result<Self, ClusterError> {
        let n = scenario.nodes;
        let (sender, arrivals) = channel();
        let mut endpoints = Vec::with_capacity(n);
        for node in 0..n {
            let e = Endpoint::open(node, transport, sender.clone())
                .map_err(|e| ClusterError(format!("opening the socket of node {node}: {e}")))?;
            endpoints.push(Some(e));
        }
        Ok(Cluster {
            scenario,
            transport,
            seed,
            world: World::new(n, factory),
            addrs: endpoints.iter().map(|e| e.as_ref().expect("just opened").addr).collect(),
            endpoints,
            links: Links::new(transport),
            arrivals,
            sender,
            started: Instant::now(),
            now: 0,
            due: BinaryHeap::new(),
            sequence: 0,
            timers: vec![BTreeMap::new(); n],
            next_generation: 0,
            adjustments: vec![0; n],
            in_flight: BTreeSet::new(),
            loss: vec![None; n * n],
            events: Vec::new(),
            broken: None,
        })
    }

    fn run(mut self) -> Result<Trace<M>, ClusterError> {
        for (i, fault) in self.scenario.schedule.faults.iter().enumerate() {
            self.push(fault.start(), Due::Fault(i));
            if matches!(fault, Fault::Partition { .. } | Fault::Cut { .. }) {
                self.push(fault.end(), Due::FaultEnd(i));
            }
        }
        self.started = Instant::now();
        let mut failure = None;
        for node in 0..self.scenario.nodes {
            self.now = self.clock();
            self.record(EventKind::Start { node });
            if let Err(f) = self.dispatch(node, Input::Start) {
                failure = Some(f);
                break;
            }
        }
        let stop = match failure {
            Some(f) => self.fail(f),
            None => self.event_loop(),
        };
        if let Some(why) = self.broken.take() {
            return Err(ClusterError(why));
        }
        let end = self.now.min(self.scenario.until);
        Ok(Trace { scenario: self.scenario.clone(), seed: self.seed, events: self.events, end, stop })
    }

    fn event_loop(&mut self) -> Stop {
        loop {
            if self.events.len() >= self.scenario.max_events {
                return Stop::EventLimit;
            }
            self.now = self.clock();
            if self.now >= self.scenario.until {
                return Stop::Until;
            }
            let next = self.due.peek().map(|Reverse((at, _, _))| *at);
            if next.is_some_and(|at| at <= self.now) {
                let Reverse((_, _, due)) = self.due.pop().expect("peeked");
                if let Err(f) = self.handle(due) {
                    return self.fail(f);
                }
                continue;
            }
            if next.is_none() && self.in_flight.is_empty() {
                return Stop::Quiet;
            }
            let wake = next.unwrap_or(Time::MAX).min(self.scenario.until);
            let wait = Duration::from_micros((wake - self.now).max(0) as u64);
            match self.arrivals.recv_timeout(wait) {
                Ok(a) => {
                    self.now = self.clock();
                    if let Err(f) = self.arrive(a) {
                        return self.fail(f);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => unreachable!("the cluster keeps a sender"),
            }
            if self.broken.is_some() {
                return Stop::NodeFailed;
            }
        }
    }

    fn fail(&mut self, f: NodePanic) -> Stop {
        self.record(EventKind::Fail { node: f.node, handler: f.handler.to_owned(), message: f.message });
        Stop::NodeFailed
    }

    fn clock(&self) -> Time {
        self.started.elapsed().as_micros() as Time
    }

    fn push(&mut self, at: Time, due: Due) {
        self.sequence += 1;
        self.due.push(Reverse((at, self.sequence, due)));
    }

    fn record(&mut self, kind: EventKind<M>) {
        self.events.push(Event { at: self.now, kind });
    }

    fn handle(&mut self, due: Due) -> Result<(), NodePanic> {
        match due {
            Due::Fault(i) => self.fault_starts(i),
            Due::FaultEnd(i) => {
                self.record(EventKind::FaultEnd { fault: i });
                Ok(())
            }
            Due::Timer { node, tag, generation } => {
                if self.timers[node].get(&tag) != Some(&generation) {
                    return Ok(());
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
                    self.crash(node);
                }
                Ok(())
            }
            Fault::Recover { node, .. } => {
                if self.world.is_up(node) {
                    return Ok(());
                }
                match Endpoint::open(node, self.transport, self.sender.clone()) {
                    Ok(e) => {
                        self.addrs[node] = e.addr;
                        self.endpoints[node] = Some(e);
                    }
                    Err(e) => {
                        self.broken = Some(format!("reopening the socket of node {node}: {e}"));
                        return Ok(());
                    }
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

    /// The node stops: its sockets close (peers' connections to it break,
    /// connecting to it is refused), its timers and volatile state go, and
    /// what was on the way to it is lost.
    fn crash(&mut self, node: NodeId) {
        self.world.crash(node);
        self.timers[node].clear();
        self.endpoints[node] = None;
        self.links.close(node);
        self.record(EventKind::Crash { node });
        let lost: Vec<(MsgId, NodeId)> = self.in_flight.iter().copied().filter(|&(_, to)| to == node).collect();
        for (id, to) in lost {
            self.in_flight.remove(&(id, to));
            let from = self.sender_of(id);
            self.record(EventKind::Drop { id, from, to, reason: DropReason::Crashed });
        }
    }

    fn sender_of(&self, id: MsgId) -> NodeId {
        match &self.events[id].kind {
            EventKind::Send { from, .. } => *from,
            _ => unreachable!("message ids name send events"),
        }
    }

    fn arrive(&mut self, a: Arrival) -> Result<(), NodePanic> {
        let (id, to) = (a.id as MsgId, a.to);
        // Not on the way any more: it arrived after its receiver crashed.
        if !self.in_flight.remove(&(id, to)) || a.from != self.sender_of(id) {
            return Ok(());
        }
        let from = a.from;
        let blocked = self.scenario.schedule.faults.iter().any(|f| f.blocks(from, to, self.now));
        if blocked {
            self.record(EventKind::Drop { id, from, to, reason: DropReason::Partition });
            return Ok(());
        }
        let msg: M = serde_json::from_slice(&a.payload).map_err(|e| NodePanic {
            node: to,
            handler: "receiving a message",
            message: format!("the bytes from node {from} are not a message: {e}"),
        })?;
        self.record(EventKind::Deliver { id, from, to });
        self.dispatch(to, Input::Message { from, msg })
    }

    fn dispatch(&mut self, node: NodeId, input: Input<M>) -> Result<(), NodePanic> {
        let clock = self.now + self.adjustments[node];
        let mut actions = self.world.dispatch(node, clock, input)?;
        let (n, hardware) = (self.scenario.nodes, self.scenario.network.hardware_broadcast);
        let applied = apply_actions(node, n, hardware, actions.drain(..), self);
        self.world.recycle(actions);
        applied
    }

    fn transmit(&mut self, id: MsgId, from: NodeId, to: NodeId, frame: &[u8]) {
        if let Transport::Udp { loss } = self.transport {
            let channel = from * self.scenario.nodes + to;
            let seed = self.seed;
            let rng = self.loss[channel].get_or_insert_with(|| SeededRng::new(seed, CHANNEL_BASE + channel as u64));
            if rng.unit() < loss {
                self.record(EventKind::Drop { id, from, to, reason: DropReason::Loss });
                return;
            }
        }
        // A crashed receiver has no socket: a datagram would vanish and a
        // connection is refused.
        if !self.world.is_up(to) {
            self.record(EventKind::Drop { id, from, to, reason: DropReason::Crashed });
            return;
        }
        match self.links.send(from, to, self.addrs[to], frame) {
            Ok(()) => {
                self.in_flight.insert((id, to));
            }
            Err(_) => self.record(EventKind::Drop { id, from, to, reason: DropReason::Crashed }),
        }
    }
}

impl<M: Message> Effects<M> for Cluster<'_, M> {
    fn send(&mut self, from: NodeId, to: Dest, msg: M) {
        let id = self.events.len();
        let payload = match serde_json::to_vec(&msg) {
            Ok(p) => p,
            Err(e) => {
                self.broken = Some(format!("node {from} sent a message that does not serialize: {e}"));
                return;
            }
        };
        self.record(EventKind::Send { from, to, msg });
        let frame = encode(from, id as u64, &payload);
        match to {
            Dest::Node(to) => self.transmit(id, from, to, &frame),
            Dest::AllOthers => {
                for to in (0..self.scenario.nodes).filter(|&to| to != from) {
                    self.transmit(id, from, to, &frame);
                }
            }
        }
    }

    fn set_timer(&mut self, node: NodeId, tag: TimerTag, delay: Time) {
        self.next_generation += 1;
        let generation = self.next_generation;
        self.timers[node].insert(tag, generation);
        self.push(self.now + delay.max(0), Due::Timer { node, tag, generation });
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

/// One-way delivery times of a run, in microseconds, sorted: from each
/// message's send to each of its deliveries.
pub fn delivery_times<M>(trace: &Trace<M>) -> Vec<Time> {
    let mut times: Vec<Time> = trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Deliver { id, .. } => Some(e.at - trace.events[id].at),
            _ => None,
        })
        .collect();
    times.sort_unstable();
    times
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Ctx;

    #[derive(Clone, Debug, Hash)]
    struct Echo;

    impl Process<u32> for Echo {
        fn on_start(&mut self, ctx: &mut Ctx<u32>) {
            if ctx.me() == 0 {
                ctx.send(1, 1);
            }
        }
        fn on_message(&mut self, ctx: &mut Ctx<u32>, from: NodeId, msg: u32) {
            ctx.observe(Observation::Note { name: "got".into(), value: msg as i64 });
            if msg < 20 {
                ctx.send(from, msg + 1);
            }
        }
    }

    #[test]
    fn a_ping_pong_crosses_real_sockets_both_ways() {
        for transport in [Transport::Tcp, Transport::Udp { loss: 0.0 }] {
            let trace = run(&Scenario::new("echo", 2), transport, 1, |_| Box::new(Echo)).unwrap();
            assert_eq!(trace.stop, Stop::Quiet, "{transport:?}");
            let got: Vec<i64> = trace
                .observations()
                .filter_map(|(_, _, _, o)| match o {
                    Observation::Note { value, .. } => Some(*value),
                    _ => None,
                })
                .collect();
            assert_eq!(got, (1..=20).collect::<Vec<_>>(), "{transport:?}");
            let times = delivery_times(&trace);
            assert_eq!(times.len(), 20);
            assert!(times.iter().all(|&t| t >= 0));
        }
    }

    #[test]
    fn a_bad_loss_is_refused() {
        let e = run(&Scenario::new("x", 2), Transport::Udp { loss: 1.5 }, 1, |_| Box::new(Echo)).unwrap_err();
        assert!(e.to_string().contains("probability"), "{e}");
    }
}
