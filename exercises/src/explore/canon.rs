//! State fingerprints, plain and up to a symmetry of node ids.
//!
//! Symmetry reduction treats two states as one when renaming the ids of an
//! interchangeable set turns one into the other. It is sound only when node
//! states, message payloads, timer tags and monitor states never mention
//! ids of that set (they may depend on `from`/`to`, which are renamed): a
//! node that stores "my leader is 2" breaks it.

use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::process::Message;
use crate::stable_hash::StableHasher;
use crate::NodeId;

use super::step::{payload_hash, State};

/// The keys of the visited set are already good hashes: use them as is.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else in cheaply.
        for &b in bytes {
            self.0 = (self.0 << 8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type Visited = std::collections::HashSet<u64, BuildHasherDefault<IdentityHasher>>;

/// A cheap 64-bit mixer (the splitmix64 finalizer) for combining hashes.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn combine(a: u64, b: u64) -> u64 {
    mix(a ^ b.rotate_left(23)).wrapping_add(b)
}

/// Renames node ids: identity, or a permutation of the symmetric set.
struct Renaming<'a>(Option<&'a [NodeId]>);

impl Renaming<'_> {
    fn of(&self, id: NodeId) -> u64 {
        self.0.map_or(id, |perm| perm[id]) as u64
    }
}

/// Everything but the node states, renamed: messages (as a multiset, so
/// send order doesn't matter), timers, clocks, budgets, monitors and
/// observations.
fn hash_rest<M: Message>(s: &State<M>, rename: &Renaming, node_order: &[NodeId], mut h: u64) -> u64 {
    for &old in node_order {
        h = combine(h, s.node_fps[old]);
        h = combine(h, s.clocks[old] as u64);
    }
    let mut flights = 0u64;
    for f in &s.flights {
        let key = combine(combine(rename.of(f.from), rename.of(f.to)), f.hash);
        flights = flights.wrapping_add(mix(key));
    }
    h = combine(h, flights);
    let mut timers = 0u64;
    for &(node, tag) in &s.timers {
        timers = timers.wrapping_add(mix(combine(rename.of(node), tag)));
    }
    h = combine(h, timers);
    h = combine(h, ((s.used.loss as u64) << 40) ^ ((s.used.duplicate as u64) << 20) ^ s.used.crash as u64);
    for m in &s.monitors {
        h = combine(h, m.fingerprint());
    }
    let mut observed = 0u64;
    for (node, what) in &s.observed {
        observed = observed.wrapping_add(mix(combine(rename.of(*node), payload_hash(what))));
    }
    combine(h, observed)
}

/// The state's fingerprint: equal states, equal fingerprints, in any run.
pub(crate) fn fingerprint<M: Message>(s: &State<M>, all: &[NodeId]) -> u64 {
    hash_rest(s, &Renaming(None), all, 0x5eed)
}

/// The fingerprint of a canonical renaming of `s`: the symmetric ids are
/// reassigned in order of their nodes' local signatures. Ties keep id
/// order, which loses some reduction but never soundness (the renamed state
/// is always equivalent to `s`).
pub(crate) fn symmetric_fingerprint<M: Message>(s: &State<M>, sym: &[NodeId], scratch: &mut Vec<(u64, NodeId)>) -> u64 {
    let n = s.node_fps.len();
    let in_set = |id: NodeId| sym.contains(&id);
    // The role of `id` as seen from symmetric node `me`.
    let role = |me: NodeId, id: NodeId| -> u64 {
        if id == me {
            u64::MAX
        } else if in_set(id) {
            u64::MAX - 1
        } else {
            id as u64
        }
    };
    scratch.clear();
    for &me in sym {
        let mut sig = combine(s.node_fps[me], s.clocks[me] as u64);
        let mut msgs = 0u64;
        for f in s.flights.iter().filter(|f| f.from == me || f.to == me) {
            msgs = msgs.wrapping_add(mix(combine(combine(role(me, f.from), role(me, f.to)), f.hash)));
        }
        sig = combine(sig, msgs);
        for &(_, tag) in s.timers.iter().filter(|t| t.0 == me) {
            sig = combine(sig, tag);
        }
        scratch.push((sig, me));
    }
    scratch.sort_unstable();
    // perm[old] = new; node_order[new] = old.
    let mut perm: Vec<NodeId> = (0..n).collect();
    let mut node_order: Vec<NodeId> = (0..n).collect();
    let mut slots: Vec<NodeId> = sym.to_vec();
    slots.sort_unstable();
    for (&(_, old), &new) in scratch.iter().zip(&slots) {
        perm[old] = new;
        node_order[new] = old;
    }
    let mut h = StableHasher::new();
    "symmetric".hash(&mut h);
    hash_rest(s, &Renaming(Some(&perm)), &node_order, h.finish64())
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::explore::step::{Move, Rules};
    use crate::process::{Ctx, Process};

    /// Node 0 greets everyone; the others answer. No ids in states.
    #[derive(Clone, Debug, Hash)]
    struct Greeter(u32);

    impl Process<u32> for Greeter {
        fn on_start(&mut self, ctx: &mut Ctx<u32>) {
            if ctx.me() == 0 {
                ctx.broadcast(7);
            }
        }
        fn on_message(&mut self, ctx: &mut Ctx<u32>, from: NodeId, msg: u32) {
            self.0 += 1;
            if msg == 7 {
                ctx.send(from, 8);
            }
        }
    }

    fn rules() -> Rules<u32> {
        Rules::new(3, Rc::new(|_| Box::new(Greeter(0)) as Box<dyn Process<u32>>))
    }

    #[test]
    fn in_flight_messages_hash_as_a_multiset() {
        let rules = rules();
        let (mut state, _) = rules.initial(&[], None);
        let before = fingerprint(&state, &[0, 1, 2]);
        state.flights.reverse();
        assert_eq!(fingerprint(&state, &[0, 1, 2]), before);
        state.flights.pop();
        assert_ne!(fingerprint(&state, &[0, 1, 2]), before);
    }

    #[test]
    fn renaming_symmetric_nodes_gives_the_same_fingerprint() {
        let rules = rules();
        let (start, _) = rules.initial(&[], None);
        // Deliver the greeting to node 1 in one state and to node 2 in the
        // other: mirror images under swapping 1 and 2.
        let at = |target: NodeId| {
            let k = start.flights.iter().position(|f| f.to == target).unwrap() as u32;
            let mut s = start.clone();
            rules.apply(&mut s, Move::Deliver(k), 1000, None);
            s
        };
        let (a, b) = (at(1), at(2));
        let mut scratch = Vec::new();
        assert_ne!(fingerprint(&a, &[0, 1, 2]), fingerprint(&b, &[0, 1, 2]));
        assert_eq!(symmetric_fingerprint(&a, &[1, 2], &mut scratch), symmetric_fingerprint(&b, &[1, 2], &mut scratch));
        // Node 0 is not interchangeable with the others.
        let c = {
            let mut s = a.clone();
            s.node_fps.swap(0, 1);
            s
        };
        assert_ne!(symmetric_fingerprint(&a, &[1, 2], &mut scratch), symmetric_fingerprint(&c, &[1, 2], &mut scratch));
    }
}
