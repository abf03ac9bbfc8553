//! The nodes of a system and how an input reaches one of them. The timed
//! simulator and the untimed explorer both drive a `World`; they differ only
//! in how they choose the next input.

use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use crate::guard::{call_guarded, panic_text};
use crate::process::{Action, Ctx, Durable, Message, NodeFactory, Observation, Process, TimerTag};
use crate::stable_hash::StableHasher;
use crate::trace::Dest;
use crate::{NodeId, Time};

/// Something that happens to one node.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", bound = "M: Message")]
pub enum Input<M> {
    Start,
    Message { from: NodeId, msg: M },
    Timer(TimerTag),
    Recover,
}

/// A handler panicked: a bug in the node, reported like a failed check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePanic {
    pub node: NodeId,
    pub handler: &'static str,
    pub message: String,
}

impl std::fmt::Display for NodePanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node {} panicked in {}: {}", self.node, self.handler, self.message)
    }
}

pub struct World<M: Message> {
    factory: Rc<NodeFactory<M>>,
    /// `None` while the node is crashed. Shared between clones and copied
    /// on write: the explorer clones worlds for every successor, and a step
    /// changes one node.
    nodes: Vec<Option<Rc<dyn Process<M>>>>,
    durable: Vec<Durable>,
    /// Why a node could not be made, if its factory call panicked: the node
    /// then fails at its first input.
    unmade: Vec<Option<String>>,
    /// A reused action buffer: saves an allocation per event.
    spare: Vec<Action<M>>,
}

impl<M: Message> Clone for World<M> {
    fn clone(&self) -> Self {
        World {
            factory: Rc::clone(&self.factory),
            nodes: self.nodes.clone(),
            durable: self.durable.clone(),
            unmade: self.unmade.clone(),
            spare: Vec::new(),
        }
    }
}

impl<M: Message> World<M> {
    /// Every node made by `factory`, up and not yet started. A factory
    /// that panics (student code too) leaves the node unmade; it fails at
    /// its first input instead of taking the caller down.
    pub fn new(nodes: usize, factory: Rc<NodeFactory<M>>) -> Self {
        let made: Vec<Result<Rc<dyn Process<M>>, String>> =
            (0..nodes).map(|id| call_guarded(|| Rc::from(factory(id)))).collect();
        World {
            unmade: made.iter().map(|m| m.as_ref().err().cloned()).collect(),
            nodes: made.into_iter().map(Result::ok).collect(),
            durable: vec![Durable::new(); nodes],
            factory,
            spare: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn is_up(&self, node: NodeId) -> bool {
        self.nodes[node].is_some()
    }

    /// The node's current state, for display (None while crashed).
    pub fn node(&self, node: NodeId) -> Option<&dyn Process<M>> {
        self.nodes[node].as_deref()
    }

    /// Loses the node's volatile state; durable state stays.
    pub fn crash(&mut self, node: NodeId) {
        self.nodes[node] = None;
    }

    /// Runs one handler. The returned actions go back with [`World::recycle`]
    /// once applied. A crashed node gets nothing, except `Recover`, which
    /// makes it anew from the factory first.
    pub fn dispatch(&mut self, node: NodeId, clock: Time, input: Input<M>) -> Result<Vec<Action<M>>, NodePanic> {
        let handler = handler_name(&input);
        let failure = |handler: &'static str, message: String| NodePanic { node, handler, message };
        if matches!(input, Input::Recover) {
            let factory = Rc::clone(&self.factory);
            let made = call_guarded(|| Rc::from(factory(node))).map_err(|m| failure("making the node", m))?;
            self.nodes[node] = Some(made);
            self.unmade[node] = None;
        }
        if let Some(why) = &self.unmade[node] {
            return Err(failure("making the node", why.clone()));
        }
        let n = self.nodes.len();
        let Some(shared) = self.nodes[node].as_mut() else {
            return Ok(Vec::new());
        };
        if Rc::get_mut(shared).is_none() {
            let copy = call_guarded(|| Rc::from(shared.clone_node())).map_err(|m| failure("copying the node", m))?;
            *shared = copy;
        }
        let process = Rc::get_mut(shared).expect("a fresh copy has one owner");
        let durable = std::mem::take(&mut self.durable[node]);
        let mut ctx = Ctx::new(node, n, clock, durable, std::mem::take(&mut self.spare));
        let outcome = catch_unwind(AssertUnwindSafe(|| match input {
            Input::Start => process.on_start(&mut ctx),
            Input::Message { from, msg } => process.on_message(&mut ctx, from, msg),
            Input::Timer(tag) => process.on_timer(&mut ctx, tag),
            Input::Recover => process.on_recover(&mut ctx),
        }));
        let (durable, actions) = ctx.into_parts();
        self.durable[node] = durable;
        match outcome {
            Ok(()) => Ok(actions),
            Err(payload) => Err(NodePanic { node, handler, message: panic_text(payload.as_ref()) }),
        }
    }

    pub fn recycle(&mut self, mut actions: Vec<Action<M>>) {
        actions.clear();
        self.spare = actions;
    }

    /// A fingerprint of every node's state, durable store and up/down flag.
    pub fn fingerprint(&self) -> u64 {
        let mut h = StableHasher::new();
        self.hash_into(&mut h);
        h.finish64()
    }

    pub fn hash_into(&self, h: &mut StableHasher) {
        for (node, durable) in self.nodes.iter().zip(&self.durable) {
            match node {
                Some(p) => h.write_u64(p.fingerprint()),
                None => h.write_u8(0xde),
            }
            durable.hash(h);
        }
    }

    /// Fingerprint of one node's state (0 if crashed): symmetry reduction
    /// sorts these.
    pub fn node_fingerprint(&self, node: NodeId) -> u64 {
        let mut h = StableHasher::new();
        match &self.nodes[node] {
            Some(p) => h.write_u64(p.fingerprint()),
            None => h.write_u8(0xde),
        }
        self.durable[node].hash(&mut h);
        h.finish64()
    }
}

/// Where a node's actions land. The simulator and the explorer each
/// implement it; [`apply_actions`] holds the rules they share (address
/// checks, broadcast expansion), so both read a handler's output alike.
pub(crate) trait Effects<M> {
    /// One send event: to one node, or to all others as one hardware
    /// broadcast.
    fn send(&mut self, from: NodeId, to: Dest, msg: M);
    fn set_timer(&mut self, node: NodeId, tag: TimerTag, delay: Time);
    fn cancel_timer(&mut self, node: NodeId, tag: TimerTag);
    fn observe(&mut self, node: NodeId, what: Observation);
    fn adjust_clock(&mut self, node: NodeId, delta: Time);
}

/// Applies `node`'s actions in order. A send to a node that doesn't exist
/// stops here as the node's failure; the actions before it stay applied.
pub(crate) fn apply_actions<M: Message>(
    node: NodeId,
    nodes: usize,
    hardware_broadcast: bool,
    actions: impl IntoIterator<Item = Action<M>>,
    fx: &mut impl Effects<M>,
) -> Result<(), NodePanic> {
    for action in actions {
        match action {
            Action::Send { to, msg } => {
                if to >= nodes {
                    return Err(NodePanic {
                        node,
                        handler: "ctx.send",
                        message: format!("sent to node {to}, but the nodes are 0 to {}", nodes - 1),
                    });
                }
                fx.send(node, Dest::Node(to), msg);
            }
            Action::Broadcast { msg } if hardware_broadcast => fx.send(node, Dest::AllOthers, msg),
            Action::Broadcast { msg } => {
                for to in (0..nodes).filter(|&to| to != node) {
                    fx.send(node, Dest::Node(to), msg.clone());
                }
            }
            Action::SetTimer { tag, delay } => fx.set_timer(node, tag, delay),
            Action::CancelTimer { tag } => fx.cancel_timer(node, tag),
            Action::Observe(what) => fx.observe(node, what),
            Action::AdjustClock { delta } => fx.adjust_clock(node, delta),
        }
    }
    Ok(())
}

fn handler_name<M>(input: &Input<M>) -> &'static str {
    match input {
        Input::Start => "on_start",
        Input::Message { .. } => "on_message",
        Input::Timer(_) => "on_timer",
        Input::Recover => "on_recover",
    }
}
