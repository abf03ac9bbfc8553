//! The process model: what a student implements and what a node may do.
//!
//! A node is a plain struct with handlers. Handlers never touch the network
//! directly: they push actions into a [`Ctx`], and whoever drives the node
//! (the timed simulator, the exhaustive explorer, the grader) applies them.
//! That single seam is what lets one node implementation run everywhere.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::stable_hash::StableHasher;
use crate::{NodeId, Time};

/// What every exercise message type must be. Blanket-implemented: a
/// `#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]`
/// enum qualifies.
pub trait Message: Clone + Debug + Hash + Eq + Serialize + DeserializeOwned + 'static {}
impl<T: Clone + Debug + Hash + Eq + Serialize + DeserializeOwned + 'static> Message for T {}

/// A timer is named by a number the node chooses. Setting a timer that is
/// already pending moves it; there are no timer handles to keep track of.
pub type TimerTag = u64;

/// A node of a distributed algorithm.
///
/// The node's struct must derive `Clone, Debug, Hash` (see [`NodeClone`]):
/// the explorer copies and fingerprints node states. `Hash` also keeps
/// `HashMap` out of node state, whose iteration order would break
/// determinism; use `BTreeMap`/`BTreeSet` instead.
pub trait Process<M: Message>: NodeClone<M> {
    /// Called once when the system starts.
    fn on_start(&mut self, ctx: &mut Ctx<M>) {
        let _ = ctx;
    }
    /// A message from `from` arrived.
    fn on_message(&mut self, ctx: &mut Ctx<M>, from: NodeId, msg: M);
    /// A timer set with [`Ctx::set_timer`] fired.
    fn on_timer(&mut self, ctx: &mut Ctx<M>, timer: TimerTag) {
        let _ = (ctx, timer);
    }
    /// The node came back after a crash. `self` is a fresh node made by the
    /// scenario's factory (volatile state is lost); what it wrote with
    /// [`Ctx::persist`] is still readable with [`Ctx::recall`].
    fn on_recover(&mut self, ctx: &mut Ctx<M>) {
        self.on_start(ctx)
    }
}

/// Object-safe copy and fingerprint of a node. Implemented automatically for
/// every `Process` that is `Clone + Hash + Debug`; never implement it by hand.
pub trait NodeClone<M: Message>: Debug + 'static {
    fn clone_node(&self) -> Box<dyn Process<M>>;
    fn fingerprint(&self) -> u64;
}

impl<M: Message, T: Process<M> + Clone + Hash + Debug + 'static> NodeClone<M> for T {
    fn clone_node(&self) -> Box<dyn Process<M>> {
        Box::new(self.clone())
    }
    fn fingerprint(&self) -> u64 {
        let mut hasher = StableHasher::new();
        self.hash(&mut hasher);
        hasher.finish64()
    }
}

impl<M: Message> Clone for Box<dyn Process<M>> {
    fn clone(&self) -> Self {
        self.clone_node()
    }
}

/// Makes the node for an id. Used at start and again at every recovery.
pub type NodeFactory<M> = dyn Fn(NodeId) -> Box<dyn Process<M>>;

/// Something a node did that checks can see: the observable behaviour of an
/// algorithm, as opposed to its messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observation {
    /// Asked to enter the critical section.
    RequestCritical,
    EnterCritical,
    ExitCritical,
    /// This node now believes `leader` is the coordinator.
    Leader(NodeId),
    /// Delivered a multicast message to the application, named by its
    /// origin and the origin's sequence number.
    Deliver {
        origin: NodeId,
        seq: u64,
    },
    Decide(Decision),
    /// A Lamport clock value (`u64`, like every logical stamp in the course).
    Clock(u64),
    /// A vector clock value.
    Vector(Vec<u64>),
    /// A read or write of a replicated value, for register checks.
    Read {
        value: i64,
    },
    Write {
        value: i64,
    },
    /// Anything else an exercise wants to expose, as a name and a number.
    Note {
        name: String,
        value: i64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Commit,
    Abort,
}

/// An effect a handler asked for. The driver applies them in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", bound = "M: Message")]
pub enum Action<M> {
    Send {
        to: NodeId,
        msg: M,
    },
    /// To every other node. With hardware broadcast this is one message.
    Broadcast {
        msg: M,
    },
    SetTimer {
        tag: TimerTag,
        delay: Time,
    },
    CancelTimer {
        tag: TimerTag,
    },
    Observe(Observation),
    /// Move this node's clock by `delta` (clock synchronisation).
    AdjustClock {
        delta: Time,
    },
}

/// Durable storage: survives crashes. Values are JSON text so the store
/// hashes, compares and serializes like everything else.
pub type Durable = BTreeMap<String, String>;

/// What a handler sees of the world, and where it puts its actions.
pub struct Ctx<M> {
    me: NodeId,
    nodes: usize,
    clock: Time,
    durable: Durable,
    actions: Vec<Action<M>>,
}

impl<M: Message> Ctx<M> {
    pub(crate) fn new(me: NodeId, nodes: usize, clock: Time, durable: Durable, actions: Vec<Action<M>>) -> Self {
        debug_assert!(actions.is_empty());
        Ctx { me, nodes, clock, durable, actions }
    }

    pub(crate) fn into_parts(self) -> (Durable, Vec<Action<M>>) {
        (self.durable, self.actions)
    }

    /// For a node whose handler ran elsewhere (see `remote`): its durable
    /// store and actions come back and are taken over as if done here.
    pub(crate) fn take_over(&mut self, durable: Durable, actions: Vec<Action<M>>) {
        self.durable = durable;
        self.actions.extend(actions);
    }

    pub(crate) fn durable(&self) -> &Durable {
        &self.durable
    }

    /// This node's id.
    pub fn me(&self) -> NodeId {
        self.me
    }
    /// How many nodes the system has; ids are `0..nodes()`.
    pub fn nodes(&self) -> usize {
        self.nodes
    }
    /// Every node id but this one, in increasing order.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> {
        let me = self.me;
        (0..self.nodes).filter(move |&id| id != me)
    }
    /// This node's local clock reading in microseconds. It drifts and may be
    /// offset if the scenario says so; it is not the simulator's true time.
    pub fn now(&self) -> Time {
        self.clock
    }

    pub fn send(&mut self, to: NodeId, msg: M) {
        self.actions.push(Action::Send { to, msg });
    }
    /// Sends `msg` to every other node: n-1 messages, or one with hardware
    /// broadcast.
    pub fn broadcast(&mut self, msg: M) {
        self.actions.push(Action::Broadcast { msg });
    }
    /// Fires `on_timer(tag)` after `delay` microseconds of local time.
    pub fn set_timer(&mut self, tag: TimerTag, delay: Time) {
        self.actions.push(Action::SetTimer { tag, delay });
    }
    pub fn cancel_timer(&mut self, tag: TimerTag) {
        self.actions.push(Action::CancelTimer { tag });
    }
    /// Records something the checks can see.
    pub fn observe(&mut self, what: Observation) {
        self.actions.push(Action::Observe(what));
    }
    /// Moves the local clock by `delta` microseconds.
    pub fn adjust_clock(&mut self, delta: Time) {
        self.actions.push(Action::AdjustClock { delta });
    }

    /// Stores `value` durably under `key`: it survives a crash.
    pub fn persist<T: Serialize>(&mut self, key: &str, value: &T) {
        let text = serde_json::to_string(value).expect("durable values serialize to JSON");
        self.durable.insert(key.to_owned(), text);
    }
    /// Reads what [`Ctx::persist`] stored, if anything.
    pub fn recall<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.durable.get(key).and_then(|text| serde_json::from_str(text).ok())
    }
}
