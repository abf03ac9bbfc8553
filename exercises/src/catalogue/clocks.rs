//! Shared by the Lamport and vector clock exercises (notebook 5): the fixed
//! workload every node follows, and a tracker that turns a trace into the
//! logical events the student recorded (local, send, receive), so that the
//! monitors of both exercises judge the same thing.
//!
//! The workload is fixed so that the clock values are fully determined by
//! the trace: only the network (delays, loss, duplicates) varies by seed.

use std::fmt::Debug;
use std::hash::Hash;

use crate::check::Step;
use crate::process::{Message, Observation};
use crate::trace::{Dest, EventKind, MsgId};
use crate::{ms, NodeId, Time};

/// Each node does this many tick events, then stops.
pub const TICKS: u64 = 8;

/// Time between two ticks of `me`: nodes tick at different rates so that
/// their clocks drift apart and receives have something to catch up with.
pub fn period(me: NodeId) -> Time {
    ms(2 + me as i64)
}

/// What tick `tick` (1, 2, ...) of node `me` does: `None` is a local event,
/// `Some(to)` a send of one message to `to`.
pub fn tick_target(me: NodeId, tick: u64, nodes: usize) -> Option<NodeId> {
    if tick.is_multiple_of(3) || nodes < 2 {
        None
    } else {
        Some((me + 1 + tick as usize % (nodes - 1)) % nodes)
    }
}

/// A message type of a clock exercise: it carries a stamp, and nodes record
/// stamps of the same kind.
pub trait ClockMsg: Message {
    type Stamp: Clone + Debug + Hash + PartialEq;
    /// What the observations are called in messages, e.g. "clock value".
    const WHAT: &'static str;
    fn stamp(&self) -> Self::Stamp;
    fn observed(what: &Observation) -> Option<Self::Stamp>;
}

/// One logical event as recorded by the student.
#[derive(Clone, Debug, PartialEq)]
pub enum Logical<S> {
    /// A tick: a local event, or the send that may follow it (see `Send`).
    Tick {
        node: NodeId,
        tick: u64,
        stamp: S,
    },
    /// The tick just reported at `node` was a send of message `id`, whose
    /// payload carries `stamp`.
    Send {
        node: NodeId,
        id: MsgId,
        to: NodeId,
        stamp: S,
    },
    Receive {
        node: NodeId,
        from: NodeId,
        id: MsgId,
        stamp: S,
    },
}

#[derive(Clone, Debug, Hash)]
struct Handler {
    node: NodeId,
    /// Sender and message id, when the handler handles a message.
    receive: Option<(NodeId, MsgId)>,
    recorded: u32,
    sent: bool,
    tick: u64,
}

/// Reads a trace handler by handler. Handlers run atomically, so every
/// observation and send between one handler's opening event and the next
/// belongs to it.
#[derive(Clone, Debug, Hash)]
pub struct Tracker {
    nodes: usize,
    ticks: Vec<u64>,
    open: Option<Handler>,
    /// Sends and receives recorded by the workload's rules.
    sends: usize,
    receives: usize,
}

impl Tracker {
    pub fn new(nodes: usize) -> Self {
        Tracker { nodes, ticks: vec![0; nodes], open: None, sends: 0, receives: 0 }
    }

    /// The logical event `step` completes, if any. An error says how the
    /// node broke the workload; other monitors just skip such events.
    pub fn step<M: ClockMsg>(&mut self, step: &Step<'_, M>) -> Result<Option<Logical<M::Stamp>>, String> {
        let opened = match step.kind {
            EventKind::Start { node } | EventKind::Timer { node, .. } | EventKind::Recover { node } => {
                Some((*node, None))
            }
            EventKind::Deliver { id, from, to } => Some((*to, Some((*from, *id)))),
            _ => None,
        };
        if let Some((node, receive)) = opened {
            let closed = self.close();
            self.open = Some(Handler { node, receive, recorded: 0, sent: false, tick: 0 });
            return closed.map(|_| None);
        }
        match step.kind {
            EventKind::Observe { node, what } => {
                let event = self.observe::<M>(*node, what);
                self.receives += usize::from(matches!(event, Ok(Some(Logical::Receive { .. }))));
                event
            }
            EventKind::Send { from, to, msg } => {
                let event = self.send(*from, to, msg, step.index);
                self.sends += usize::from(matches!(event, Ok(Some(Logical::Send { .. }))));
                event
            }
            _ => Ok(None),
        }
    }

    fn observe<M: ClockMsg>(&mut self, node: NodeId, what: &Observation) -> Result<Option<Logical<M::Stamp>>, String> {
        let Some(stamp) = M::observed(what) else {
            return Err(format!("node {node} recorded {what:?}; this exercise records a {} per event", M::WHAT));
        };
        let Some(h) = self.open.as_mut().filter(|h| h.node == node) else { return Ok(None) };
        h.recorded += 1;
        if let Some((from, id)) = h.receive {
            if h.recorded > 1 {
                return Err(format!(
                    "node {node} recorded {} {}s while handling one message from node {from}: a receive is one event, record it once",
                    h.recorded,
                    M::WHAT
                ));
            }
            return Ok(Some(Logical::Receive { node, from, id, stamp }));
        }
        if h.recorded > 1 {
            return Err(format!(
                "node {node} recorded two events in one timer handler: each tick is exactly one event, a local event or a send"
            ));
        }
        self.ticks[node] += 1;
        h.tick = self.ticks[node];
        if h.tick > TICKS {
            return Err(format!("node {node} recorded a tick event number {}; the workload has {TICKS} ticks", h.tick));
        }
        Ok(Some(Logical::Tick { node, tick: h.tick, stamp }))
    }

    fn send<M: ClockMsg>(
        &mut self,
        from: NodeId,
        to: &Dest,
        msg: &M,
        id: MsgId,
    ) -> Result<Option<Logical<M::Stamp>>, String> {
        let nodes = self.nodes;
        let Some(h) = self.open.as_mut().filter(|h| h.node == from) else { return Ok(None) };
        let Dest::Node(to) = *to else {
            return Err(format!(
                "node {from} broadcast a message; in this exercise each sending tick sends to one node"
            ));
        };
        if h.receive.is_some() {
            return Err(format!("node {from} sent a message to node {to} while handling a receive; only ticks send"));
        }
        if h.recorded == 0 {
            return Err(format!(
                "node {from} sent a message to node {to} without recording the send event first: record the {} of the send, then send",
                M::WHAT
            ));
        }
        if h.sent {
            return Err(format!("node {from} sent two messages in tick {}; a sending tick sends one", h.tick));
        }
        h.sent = true;
        match tick_target(from, h.tick, nodes) {
            Some(t) if t == to => Ok(Some(Logical::Send { node: from, id, to, stamp: msg.stamp() })),
            Some(t) => {
                Err(format!("node {from}'s tick {} must send to node {t} (see tick_target), not to node {to}", h.tick))
            }
            None => Err(format!(
                "node {from}'s tick {} is a local event (tick_target gives None), but it sent to node {to}",
                h.tick
            )),
        }
    }

    fn close(&mut self) -> Result<(), String> {
        let Some(h) = self.open.take() else { return Ok(()) };
        match h.receive {
            Some((from, _)) if h.recorded == 0 => Err(format!(
                "node {} received a message from node {from} but recorded nothing for it: every receive is an event",
                h.node
            )),
            None if h.recorded == 1 && !h.sent => match tick_target(h.node, h.tick, self.nodes) {
                Some(t) => Err(format!("node {}'s tick {} must send to node {t}, but it sent nothing", h.node, h.tick)),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// At the end of the run, for the properties other than the workload:
    /// they hold on recorded events only, so a run with none proves nothing
    /// and must not earn their points.
    pub fn something_recorded<M: ClockMsg>(&self) -> Result<(), String> {
        if self.ticks.iter().all(|&t| t == 0) {
            return Err(format!(
                "no node recorded a {} for any tick, so there is nothing to judge: follow the workload and record every event",
                M::WHAT
            ));
        }
        // The rules for messages (stamps, receives) are most of the lesson:
        // a run without a recorded send and receive never tested them.
        if self.sends == 0 || self.receives == 0 {
            return Err(format!(
                "no message was both sent with a recorded {0} and received with one ({1} sends, {2} receives), so the \
                 rules for messages were never put to the test: send on the ticks the workload says, and record every receive",
                M::WHAT,
                self.sends,
                self.receives
            ));
        }
        Ok(())
    }

    /// At the end of the run: the last handler is complete and every node
    /// did all its ticks.
    pub fn finish(&mut self) -> Result<(), String> {
        self.close()?;
        match (0..self.nodes).find(|&n| self.ticks[n] < TICKS) {
            Some(n) => Err(format!("node {n} recorded only {} of its {TICKS} tick events", self.ticks[n])),
            None => Ok(()),
        }
    }
}

/// The scenarios both clock exercises run: the workload is fixed, so what
/// varies is the network. Lost and duplicated messages are fine: a lost
/// message is never received, a duplicate is received twice.
pub fn scenarios() -> Vec<super::runs::ScenarioRuns> {
    use super::runs::ScenarioRuns;
    use crate::{Delay, Network, Scenario};
    let calm = Scenario {
        network: Network { delay: Delay::Uniform { min: ms(1), max: ms(6) }, fifo: true, ..Network::default() },
        until: ms(500),
        ..Scenario::new("3 nodes, FIFO links", 3)
    };
    let rough = Scenario {
        network: Network { delay: Delay::Exponential { min: ms(1), mean: ms(5) }, loss: 0.2, ..Network::default() },
        until: ms(500),
        ..Scenario::new("4 nodes, loss and reordering", 4)
    };
    let mut runs = vec![ScenarioRuns::public(calm, 3), ScenarioRuns::public(rough, 4)];
    runs.extend(hidden_scenarios());
    runs
}

#[cfg(feature = "grader")]
fn hidden_scenarios() -> Vec<super::runs::ScenarioRuns> {
    use super::runs::ScenarioRuns;
    use crate::{Delay, Fault, Network, Scenario, Schedule};
    let split = Scenario {
        network: Network { duplicate: 0.2, ..Network::default() },
        schedule: Schedule {
            name: "{0,1} cut off from the rest for a while".into(),
            faults: vec![Fault::Partition { a: vec![0, 1], b: vec![2, 3, 4], start: ms(5), end: ms(20) }],
        },
        until: ms(500),
        ..Scenario::new("5 nodes, duplicates and a partition", 5)
    };
    let wide = Scenario {
        network: Network { delay: Delay::Uniform { min: 0, max: ms(15) }, ..Network::default() },
        until: ms(500),
        ..Scenario::new("7 nodes, wide delays", 7)
    };
    let pair = Scenario { network: Network::reliable(ms(4)), until: ms(500), ..Scenario::new("2 nodes", 2) };
    vec![ScenarioRuns::hidden(split, 4), ScenarioRuns::hidden(wide, 3), ScenarioRuns::hidden(pair, 1)]
}

#[cfg(not(feature = "grader"))]
fn hidden_scenarios() -> Vec<super::runs::ScenarioRuns> {
    Vec::new()
}
