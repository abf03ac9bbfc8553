//! The nodes of a system and how an input reaches one of them. The timed
//! simulator and the untimed explorer both drive a `World`; they differ only
//! in how they choose the next input.

use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use crate::process::{Action, Ctx, Durable, Message, NodeFactory, Process, TimerTag};
use crate::stable_hash::StableHasher;
use crate::{NodeId, Time};

/// Something that happens to one node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
    /// `None` while the node is crashed.
    nodes: Vec<Option<Box<dyn Process<M>>>>,
    durable: Vec<Durable>,
    /// A reused action buffer: saves an allocation per event.
    spare: Vec<Action<M>>,
}

impl<M: Message> Clone for World<M> {
    fn clone(&self) -> Self {
        World {
            factory: Rc::clone(&self.factory),
            nodes: self.nodes.clone(),
            durable: self.durable.clone(),
            spare: Vec::new(),
        }
    }
}

impl<M: Message> World<M> {
    /// Every node made by `factory`, up and not yet started.
    pub fn new(nodes: usize, factory: Rc<NodeFactory<M>>) -> Self {
        World {
            nodes: (0..nodes).map(|id| Some(factory(id))).collect(),
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
        if matches!(input, Input::Recover) {
            self.nodes[node] = Some((self.factory)(node));
        }
        let n = self.nodes.len();
        let Some(process) = self.nodes[node].as_mut() else {
            return Ok(Vec::new());
        };
        let durable = std::mem::take(&mut self.durable[node]);
        let mut ctx = Ctx::new(node, n, clock, durable, std::mem::take(&mut self.spare));
        let handler = handler_name(&input);
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

fn handler_name<M>(input: &Input<M>) -> &'static str {
    match input {
        Input::Start => "on_start",
        Input::Message { .. } => "on_message",
        Input::Timer(_) => "on_timer",
        Input::Recover => "on_recover",
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}
