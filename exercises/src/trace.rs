//! The record of a run: every event with its virtual time, in a stable JSON
//! form with a stable hash. Checks, diagrams and the grader all read this.

use serde::{Deserialize, Serialize};

use crate::process::{Observation, TimerTag};
use crate::scenario::Scenario;
use crate::stable_hash::hash_hex;
use crate::{NodeId, Time};

/// A message is named by the index of its `Send` event in the trace.
pub type MsgId = usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dest {
    Node(NodeId),
    /// Every node but the sender, as one hardware broadcast.
    AllOthers,
}

/// As messages say it: "node 0", "every other node" (never `Node(0)`).
impl std::fmt::Display for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dest::Node(n) => write!(f, "node {n}"),
            Dest::AllOthers => f.write_str("every other node"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The network lost it.
    Loss,
    /// A partition or cut link was in force when it arrived.
    Partition,
    /// The receiver was down when it arrived.
    Crashed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind<M> {
    Start {
        node: NodeId,
    },
    Send {
        from: NodeId,
        to: Dest,
        msg: M,
    },
    /// The network will deliver message `id` to `to` twice.
    Duplicate {
        id: MsgId,
        to: NodeId,
    },
    Deliver {
        id: MsgId,
        from: NodeId,
        to: NodeId,
    },
    Drop {
        id: MsgId,
        from: NodeId,
        to: NodeId,
        reason: DropReason,
    },
    Timer {
        node: NodeId,
        tag: TimerTag,
    },
    Crash {
        node: NodeId,
    },
    Recover {
        node: NodeId,
    },
    /// Fault number `fault` of the scenario's schedule starts or ends
    /// (partitions and cuts; crashes have their own events).
    FaultStart {
        fault: usize,
    },
    FaultEnd {
        fault: usize,
    },
    Observe {
        node: NodeId,
        what: Observation,
    },
    ClockAdjust {
        node: NodeId,
        delta: Time,
    },
    /// A handler panicked or asked for something impossible; the run stops.
    Fail {
        node: NodeId,
        handler: String,
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event<M> {
    pub at: Time,
    #[serde(flatten)]
    pub kind: EventKind<M>,
}

impl<M> Event<M> {
    /// The node at which this event happens, for diagrams and checks.
    pub fn node(&self) -> Option<NodeId> {
        match self.kind {
            EventKind::Start { node }
            | EventKind::Timer { node, .. }
            | EventKind::Crash { node }
            | EventKind::Recover { node }
            | EventKind::Observe { node, .. }
            | EventKind::ClockAdjust { node, .. }
            | EventKind::Fail { node, .. } => Some(node),
            EventKind::Send { from, .. } => Some(from),
            EventKind::Deliver { to, .. } | EventKind::Drop { to, .. } | EventKind::Duplicate { to, .. } => Some(to),
            EventKind::FaultStart { .. } | EventKind::FaultEnd { .. } => None,
        }
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Virtual time reached the scenario's `until`.
    Until,
    /// Nothing was left to happen.
    Quiet,
    /// The event limit was hit; later properties are unknown.
    EventLimit,
    /// A node failed (see the trace's last event).
    NodeFailed,
}

/// Why a run stopped, as a clause of a sentence ("the run stopped because ...").
impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Until => f.write_str("its time was up"),
            Stop::Quiet => f.write_str("nothing was left to happen"),
            Stop::EventLimit => f.write_str("it hit the event limit"),
            Stop::NodeFailed => write!(
                f,
                "a node failed (see the check '{}': fix that first, it is the cause)",
                crate::check::NODES_RUN_CLEANLY
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace<M> {
    pub scenario: Scenario,
    pub seed: u64,
    pub events: Vec<Event<M>>,
    /// The virtual time the run stopped at.
    pub end: Time,
    pub stop: Stop,
}

impl<M: Serialize> Trace<M> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a trace always serializes")
    }

    /// A hash of the JSON form: equal traces, equal hashes, in any process.
    pub fn hash(&self) -> String {
        hash_hex(self.to_json().as_bytes())
    }
}

impl<M> Trace<M> {
    /// The payload of message `id`.
    pub fn message(&self, id: MsgId) -> Option<&M> {
        match &self.events.get(id)?.kind {
            EventKind::Send { msg, .. } => Some(msg),
            _ => None,
        }
    }

    /// Every observation, in order, with the event index it came from.
    pub fn observations(&self) -> impl Iterator<Item = (usize, Time, NodeId, &Observation)> {
        self.events.iter().enumerate().filter_map(|(i, e)| match &e.kind {
            EventKind::Observe { node, what } => Some((i, e.at, *node, what)),
            _ => None,
        })
    }

    /// How many messages were sent (a hardware broadcast counts once).
    pub fn messages_sent(&self) -> usize {
        self.events.iter().filter(|e| matches!(e.kind, EventKind::Send { .. })).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_read_as_words() {
        assert_eq!(Dest::Node(0).to_string(), "node 0");
        assert_eq!(Dest::AllOthers.to_string(), "every other node");
        assert!(!Stop::NodeFailed.to_string().contains("NodeFailed"));
    }
}
