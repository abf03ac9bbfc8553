from generate import code, exercise, md

STEM = "13-naming"


def cells():
    return [
        md(r"""
# 13. Naming: finding things that move, and knowing when nobody needs them

Two questions about names in a distributed system. First: when an entity (a mobile
process, a laptop, a replica) keeps changing its address, how do clients find its
current one, and how much does the directory have to rewrite on every move? Second:
when many machines hold references to a remote object, how does the object's home
learn that the last reference is gone, so that it can be collected?

## A hierarchical location service

Split the world into **domains**, each domain into subdomains, and so on, down to
**leaf domains** (a campus, a cell of a mobile network). The result is a tree; say it
has **depth k**: the root (the whole world) is at level 0 and the leaf domains at
level k. Every domain has a **directory node** that keeps a **location record** for each
entity inside it:

- in the leaf domain where the entity lives, the record holds its **address**;
- in every domain above, the record holds only a **pointer to the child domain** the
  entity is in.

So an entity has one record per level, a chain from the root down to its leaf. A
lookup starts at the client's own leaf and climbs until a directory node knows the
entity, then follows the pointers down: nearby entities are found without ever
asking the root.

**Moving** from leaf domain A to leaf domain B is an **insert** at B and a **delete** at
A. The insert climbs from B, creating a record at each level, until it reaches a node
that already knows the entity: the lowest common ancestor of A and B, whose pointer is
redirected towards B. The delete climbs from A, removing records, up to that same node.
How many records change?

The source answers the worst case: the insert and the delete each touch at most k + 1
records, and the root's record is counted in both, so **2k + 1**. The simulation below
runs the insert and the delete on a map of records and counts every record they write.
"""),
        code(r"""
use distlab::catalogue::location::simulated_updates;

// Depth 3, two children per directory node: leaf domains 0 to 7.
for to in 0..8 {
    println!("move 0 -> {to}: {} records change", simulated_updates(3, 2, 0, to).unwrap());
}
// The worst move for each depth, next to the source's 2k + 1.
for k in 1..=6usize {
    let leaves = 2usize.pow(k as u32);
    let worst = (0..leaves).map(|to| simulated_updates(k, 2, 0, to).unwrap()).max().unwrap();
    println!("depth {k}: worst move changes {worst:>2} records; 2k + 1 = {:>2}", 2 * k + 1);
}
""", role="demo"),
        md(r"""
The worst case agrees with 2k + 1, but most moves are cheaper: moving next door (0 to 1,
same parent) changes only three records, and a new address inside the same leaf domain
changes one. The cost depends on **where the two paths to the root meet**.

## Exercise: records changed by one move

Write `location_updates(depth, branching, from, to)`: every directory node has
`branching` children, and the leaf domains are numbered 0 to branching^depth - 1 from
left to right (so the digits of a leaf's number in base `branching` spell its path from
the root). Count the records that change when the entity moves from leaf `from` to leaf
`to`; a record written by both the insert and the delete counts once, and `from == to`
means a new address in the same leaf domain. Your answer is compared with the
simulation on moves that cross the root, moves that meet lower down, and moves inside
one leaf domain, in trees drawn for you.
"""),
        *exercise("location"),
        md(r"""
### Derivation (instructor notes)

- Dividing a leaf's number by `branching` gives its parent's position one level up.
  Climb from both leaves together; after c steps they name the same node, the lowest
  common ancestor, at level k - c.
- The insert creates c records (B's leaf up to the level just below the ancestor); the
  delete removes c records on A's side; the ancestor's record is rewritten: 2c + 1.
- Across the root c = k: 2k + 1, the source's answer. Same leaf: c = 0, one record.
- Typical mistakes: always 2k + 1 (ignores where the paths meet), c + 1 (counts only the
  insert), 2c + 2 (counts the meeting record twice), 2k - 1 (takes depth as the number
  of levels).
""", tags=["solution"]),
        md(r"""
## Your formula next to the simulation

Every move in every tree of depth 1 to 4 with 2 to 4 children per node:
"""),
        code(r"""
let mut moves = 0;
let mut wrong = Vec::new();
for depth in 1..=4usize {
    for branching in 2..=4usize {
        let leaves = branching.pow(depth as u32);
        for from in 0..leaves {
            for to in 0..leaves {
                moves += 1;
                let (yours, simulated) = (location_updates(depth, branching, from, to), simulated_updates(depth, branching, from, to).unwrap());
                if yours != simulated { wrong.push(format!("depth {depth}, {branching} children, {from} -> {to}: yours {yours}, simulated {simulated}")); }
            }
        }
    }
}
println!("{} of {moves} moves differ from the simulation", wrong.len());
for w in wrong.iter().take(8) { println!("  {w}"); }
""", role="compare"),
        md(r"""
## Distributed garbage collection

A remote object can be reclaimed once no process holds a reference to it. Plain
**reference counting** keeps a counter at the object: every new reference sends an
increment, every dropped one a decrement. Across a network that is costly and racy:
when P1 hands its reference to P2, P2 must tell the object and hear back *before* P1
may drop its own copy, or a decrement can overtake the increment and the object is
freed while P2 still uses it. Letting P1 send the increment instead does not help
(problem 4.18): P2 may drop its new copy at once, and its decrement can reach the
object before P1's increment does. Every copy costs a round trip to the object.

Problem 4.18 asks whether it helps to let P1 send the increment instead of P2. The
cell below tries every order in which the object can receive the messages of one hand-
over, P1 to P2, after which both drop their references. The count starts at 1 (P1's
reference) and must reach 0 only with the last message; reaching 0 earlier frees the
object while someone still holds it. Messages of one sender arrive in the order sent,
and "waits for" is a message sent only after the object has applied another.
"""),
        code(r"""
// One hand-over, three ways. Each message: (sender, change to the count, label).
// `after[i]` lists the messages that must reach the object before message i can.
fn early_frees(msgs: &[(&str, i64, &str)], after: &[Vec<usize>]) -> (usize, usize, Vec<String>) {
    let n = msgs.len();
    let mut orders = Vec::new();
    fn extend(n: usize, after: &[Vec<usize>], order: &mut Vec<usize>, all: &mut Vec<Vec<usize>>) {
        if order.len() == n { all.push(order.clone()); return; }
        for i in 0..n {
            if !order.contains(&i) && after[i].iter().all(|j| order.contains(j)) {
                order.push(i);
                extend(n, after, order, all);
                order.pop();
            }
        }
    }
    extend(n, after, &mut Vec::new(), &mut orders);
    let mut bad = Vec::new();
    for order in &orders {
        let mut count = 1;
        for (k, &i) in order.iter().enumerate() {
            count += msgs[i].1;
            if count == 0 && k + 1 < n {
                bad.push(order.iter().map(|&i| msgs[i].2).collect::<Vec<_>>().join(", "));
                break;
            }
        }
    }
    (orders.len(), bad.len(), bad)
}

let schemes = [
    ("P1 increments (the problem's proposal)",
     vec![("P1", 1, "P1 +1"), ("P2", -1, "P2 -1"), ("P1", -1, "P1 -1")], vec![vec![], vec![], vec![0]]),
    ("P2 increments, P1 drops at once",
     vec![("P2", 1, "P2 +1"), ("P2", -1, "P2 -1"), ("P1", -1, "P1 -1")], vec![vec![], vec![0], vec![]]),
    ("P2 increments, P1 waits for the object's ack",
     vec![("P2", 1, "P2 +1"), ("P2", -1, "P2 -1"), ("P1", -1, "P1 -1")], vec![vec![], vec![0], vec![0]]),
];
for (name, msgs, after) in &schemes {
    let (orders, bad, examples) = early_frees(msgs, after);
    println!("{name}: {bad} of {orders} delivery orders free the object early");
    for e in examples { println!("    e.g. {e}"); }
};
""", role="demo"),
        md(r"""
Only the last scheme is safe in every order: P2's increment and decrement travel on one
channel, so the decrement cannot overtake, and P1 lets go only once the increment has
landed. Moving the increment to P1 (the problem's proposal) leaves a race of its own:
P2's decrement can arrive first, as the source's answer says.

### Weighted reference counting

Give the object a **total weight** (say 2^16) and the first reference the same weight.
The invariant: the total at the object equals the sum of the weights of all live
references.

- **Copying** a reference needs no message to the object: the holder splits its weight,
  keeps half and gives the copy the other half. The sum is unchanged.
- **Deleting** a reference sends one message carrying its weight; the object subtracts it.
- The object is free **exactly when its total reaches zero**.

Copies are cheap now (one message to the new holder, none to the object). The catch:
weights halve with each copy, and a reference of weight 1 cannot be split; real systems
then add an indirection object with a fresh weight.
"""),
        code(r"""
// Weighted reference counting, one process's view per reference.
struct Object { total: u64, freed: bool }
struct Reference { holder: &'static str, weight: u64 }

fn copy(from: &mut Reference, to: &'static str) -> Reference {
    assert!(from.weight > 1, "{} holds weight 1: it cannot split it", from.holder);
    let half = from.weight / 2;
    from.weight -= half; // no message to the object
    Reference { holder: to, weight: half }
}

fn delete(object: &mut Object, r: Reference, messages: &mut u32) {
    *messages += 1; // one message to the object, carrying the weight
    object.total -= r.weight;
    object.freed = object.total == 0;
    println!("  {} drops weight {:>5}: object total {:>5}, freed: {}", r.holder, r.weight, object.total, object.freed);
}

let mut object = Object { total: 1 << 16, freed: false };
let mut owner = Reference { holder: "P0", weight: 1 << 16 };
let mut messages_to_object = 0;
let mut p1 = copy(&mut owner, "P1");
let mut p2 = copy(&mut p1, "P2");
let p3 = copy(&mut p2, "P3");
for r in [&owner, &p1, &p2, &p3] { println!("{} holds weight {}", r.holder, r.weight); }
let live: u64 = [&owner, &p1, &p2, &p3].iter().map(|r| r.weight).sum();
println!("sum of live weights {live} = object total {}", object.total);
for r in [p1, owner, p3, p2] {
    assert!(!object.freed, "freed while {} still holds a reference", r.holder);
    delete(&mut object, r, &mut messages_to_object);
}
println!("three copies and four deletes: {messages_to_object} messages to the object (plain counting: 3 more, one per copy)");
""", role="demo"),
        md(r"""
### Generation reference counting

Another way to avoid messages on copy: each reference carries a **generation** and a
count of the **copies made from it**. The first reference is generation 0. A copy of a
generation-k reference is generation k + 1, and the holder bumps its own copy counter;
again, no message. The object keeps a table G: G[k] is what it believes the number of
live references of generation k to be, starting with G[0] = 1.

Deleting a reference of generation k that made c copies sends one message: the object
does G[k] -= 1 and G[k+1] += c. It is free when every entry of G is zero.

Because messages report copies only when the *parent* is deleted, an entry can be
**negative** for a while: if a copy is deleted before the reference it was copied from,
the object learns of the deletion before it learns that the copy existed. That does not
free the object too early: the parent's entry is still positive until the parent's own
delete arrives, and that delete brings the count of its copies with it.
"""),
        code(r"""
use std::collections::BTreeMap;

// Generation reference counting: the object's table, and references.
struct Table { g: BTreeMap<u32, i64> }
struct GenRef { name: &'static str, generation: u32, copies: i64 }

impl Table {
    fn delete(&mut self, r: GenRef) {
        *self.g.entry(r.generation).or_default() -= 1;
        *self.g.entry(r.generation + 1).or_default() += r.copies;
        let free = self.g.values().all(|&n| n == 0);
        println!("  delete {} (generation {}, copies made {}): G = {:?}, free: {free}", r.name, r.generation, r.copies, self.g);
    }
}

fn copy_of(parent: &mut GenRef, name: &'static str) -> GenRef {
    parent.copies += 1; // no message to the object
    GenRef { name, generation: parent.generation + 1, copies: 0 }
}

let mut table = Table { g: BTreeMap::from([(0, 1)]) };
let mut first = GenRef { name: "P0's reference", generation: 0, copies: 0 };
let mut at_p1 = copy_of(&mut first, "P1's copy");
let at_p2 = copy_of(&mut at_p1, "P2's copy");
// The copies go away first: G[2], then G[1], drops below zero.
table.delete(at_p2);
table.delete(at_p1);
assert!(table.g.values().any(|&n| n < 0), "an entry is negative");
assert!(!table.g.values().all(|&n| n == 0), "the owner's reference keeps it alive");
table.delete(first);
assert!(table.g.values().all(|&n| n == 0), "freed once every reference is gone");
""", role="demo"),
        md(r"""
In the run above the object sees G[1] = -1 after P1's copy is deleted: it has counted
a generation-1 reference going away without ever having heard of one. Only the owner's
delete, which reports its one copy, brings G[1] back to zero. Until then G[0] = 1 keeps
the object alive: an entry below zero never lets the object go early.

Problem 4.20 asks whether the object can be collected while references of a generation
it has not heard of are still around. The source says no. One run proves little, so the
cell tries 10 000 random histories: references copied from any live reference, deleted
in any order, their delete messages delivered in any order. After every delivery it
asks whether the table says "free" while a reference is still alive.
"""),
        code(r"""
use distlab::rng::{Draw, SeededRng};
use std::collections::BTreeMap;

let mut rng = SeededRng::new(420, 0);
let (mut early, mut freed_in_time, mut lowest) = (0, 0, 0i64);
for _ in 0..10_000 {
    // Each reference: (generation, copies made, alive).
    let mut refs: Vec<(u32, i64, bool)> = vec![(0, 0, true)];
    let mut in_flight: Vec<(u32, i64)> = Vec::new(); // delete messages on their way
    let mut g: BTreeMap<u32, i64> = BTreeMap::from([(0, 1)]);
    let mut copies_left = 1 + rng.below(8);
    loop {
        let alive: Vec<usize> = (0..refs.len()).filter(|&i| refs[i].2).collect();
        if alive.is_empty() && in_flight.is_empty() { break; }
        match rng.below(3) {
            0 if copies_left > 0 && !alive.is_empty() => {
                let parent = alive[rng.below(alive.len() as u64) as usize];
                refs[parent].1 += 1; // no message
                let generation = refs[parent].0 + 1;
                refs.push((generation, 0, true));
                copies_left -= 1;
            }
            1 if !alive.is_empty() => {
                let r = alive[rng.below(alive.len() as u64) as usize];
                refs[r].2 = false;
                in_flight.push((refs[r].0, refs[r].1));
            }
            _ if !in_flight.is_empty() => {
                let (generation, copies) = in_flight.swap_remove(rng.below(in_flight.len() as u64) as usize);
                *g.entry(generation).or_default() -= 1;
                *g.entry(generation + 1).or_default() += copies;
                lowest = lowest.min(*g.values().min().unwrap());
                if g.values().all(|&n| n == 0) {
                    if refs.iter().any(|r| r.2) { early += 1 } else { freed_in_time += 1 }
                    break;
                }
            }
            _ => {}
        }
    }
}
println!("histories freed while a reference was alive: {early}");
println!("histories freed after the last reference went: {freed_in_time}");
println!("lowest table entry seen: {lowest}");
""", role="demo"),
        md(r"""
Not once, although entries went well below zero on the way: the source is right. A
simulation is evidence, not a proof. The source's argument: the delete of a
generation-k reference tells the object about every generation-(k+1) copy it made, so
a generation the object has not heard of always has a parent whose delete has not
arrived yet, and that parent is still counted in the table.
"""),
    ]
