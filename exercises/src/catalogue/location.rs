//! Notebook 13, naming: how many location records a hierarchical location
//! service changes when an entity moves from one leaf domain to another.
//!
//! The tree has depth `k` (the root at level 0, the leaf domains at level
//! `k`) and `b` children per directory node; leaf domains are numbered
//! 0..b^k from left to right. The reference runs the service's own insert
//! and delete on a map of records and counts the records they touch.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{numeric_verdict, CheckSpec, ExerciseSpec, Report, Run, Scope, Visibility};
use crate::guard::call_guarded;
use crate::rng::{Draw, SeededRng};

/// The student's answer: records changed when the entity moves from leaf
/// domain `from` to leaf domain `to` in a tree of depth `depth` with
/// `branching` children per node.
pub type Solution<'a> = &'a dyn Fn(usize, usize, usize, usize) -> usize;

/// The checks, by name.
pub const MOVES_ACROSS_THE_ROOT: &str = "moves across the root";
pub const MOVES_BELOW_THE_ROOT: &str = "moves below the root";
pub const SAME_LEAF_DOMAIN: &str = "a new address in the same leaf domain";
pub const DEEP_AND_WIDE_HIERARCHIES: &str = "deep and wide hierarchies";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "location",
    title: "Location records changed when an entity moves",
    notebook: 13,
    position: 1,
    points: 10,
    task: "Write `location_updates(depth, branching, from, to)`: how many location records of a \
           hierarchical location service change when an entity moves from leaf domain `from` to leaf \
           domain `to`. The root is at level 0 and the leaf domains at level `depth`; every directory \
           node has `branching` children, and the leaf domains are numbered 0 to branching^depth - 1 \
           from left to right. Moving is an insert at `to` followed by a delete at `from`; a record \
           touched by both counts once. If `from == to` the entity only got a new address in the same \
           leaf domain. Your answer is compared with a simulation of the records for moves drawn for you.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: MOVES_ACROSS_THE_ROOT, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: MOVES_BELOW_THE_ROOT, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: SAME_LEAF_DOMAIN, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: DEEP_AND_WIDE_HIERARCHIES, weight: 3, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| {
        let updates = crate::remote::remote_fn::<(usize, usize, usize, usize), usize>(&connection, "location_updates");
        check(&|depth, branching, from, to| updates((depth, branching, from, to)), run)
    },
    variant: |seed| super::variant_json(variant(seed)),
};

/// A directory node: its level (0 = root) and its position in that level.
type Node = (usize, usize);

/// What a directory node knows about the one entity: the addresses it has
/// in a leaf domain, or the children that lead to it above the leaves.
type Record = BTreeSet<usize>;

/// The location service's records for one entity, and which were written.
struct Directory {
    depth: usize,
    branching: usize,
    records: BTreeMap<Node, Record>,
    touched: BTreeSet<Node>,
}

impl Directory {
    /// The ancestor of leaf domain `leaf` at `level`.
    fn node(&self, leaf: usize, level: usize) -> Node {
        (level, leaf / self.branching.pow((self.depth - level) as u32))
    }

    /// Inserts `entry` (an address at the leaf, a child pointer above) into
    /// the records from `leaf` upwards, until a node that already knew the
    /// entity: from there up nothing changes.
    fn insert(&mut self, leaf: usize, address: usize) {
        let mut entry = address;
        for level in (0..=self.depth).rev() {
            let node = self.node(leaf, level);
            let knew = self.records.contains_key(&node);
            self.records.entry(node).or_default().insert(entry);
            self.touched.insert(node);
            if knew {
                return;
            }
            entry = node.1;
        }
    }

    /// Removes `entry` from `leaf` upwards, dropping records that become
    /// empty; stops at the first node that still knows another way.
    fn delete(&mut self, leaf: usize, address: usize) {
        let mut entry = address;
        for level in (0..=self.depth).rev() {
            let node = self.node(leaf, level);
            let Some(record) = self.records.get_mut(&node) else { return };
            record.remove(&entry);
            self.touched.insert(node);
            if !record.is_empty() {
                return;
            }
            self.records.remove(&node);
            entry = node.1;
        }
    }
}

/// The number of leaf domains of a tree, or why the tree is not valid.
pub fn leaf_domains(depth: usize, branching: usize) -> Result<usize, String> {
    if branching < 2 {
        return Err(format!("a directory node needs at least 2 children, not {branching}"));
    }
    u32::try_from(depth)
        .ok()
        .and_then(|d| branching.checked_pow(d))
        .ok_or_else(|| format!("{branching}^{depth} leaf domains are too many to number"))
}

/// Simulates the move: the entity is registered at `from`, then inserted at
/// `to` with a fresh address and deleted at `from`. Returns the number of
/// distinct records the two operations wrote.
pub fn simulated_updates(depth: usize, branching: usize, from: usize, to: usize) -> Result<usize, String> {
    let leaves = leaf_domains(depth, branching)?;
    if from >= leaves || to >= leaves {
        return Err(format!("leaf domains are numbered 0 to {}; got {from} and {to}", leaves - 1));
    }
    let mut directory = Directory { depth, branching, records: BTreeMap::new(), touched: BTreeSet::new() };
    let (old_address, new_address) = (0, 1);
    directory.insert(from, old_address);
    directory.touched.clear();
    directory.insert(to, new_address);
    directory.delete(from, old_address);
    debug_assert_eq!(directory.records.len(), depth + 1, "one record per level after the move");
    Ok(directory.touched.len())
}

/// The trees a student is graded on: (depth, branching) pairs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub trees: Vec<(usize, usize)>,
}

pub fn variant(seed: u64) -> Variant {
    let mut rng = SeededRng::new(seed, 0x6c6f63);
    let trees = (0..3).map(|_| (2 + rng.below(5) as usize, 2 + rng.below(4) as usize)).collect();
    Variant { trees }
}

/// A move whose paths meet at `level` (0 = the root, `depth` = same leaf):
/// a random leaf, and another with the same ancestor at `level` but, below
/// it, a different child.
fn move_meeting_at(rng: &mut SeededRng, depth: usize, branching: usize, level: usize) -> (usize, usize) {
    let leaves = branching.pow(depth as u32);
    let from = rng.below(leaves as u64) as usize;
    if level == depth {
        return (from, from);
    }
    let below = branching.pow((depth - level - 1) as u32); // leaves under one child of the meeting node
    let child = from / below % branching;
    let other = (child + 1 + rng.below(branching as u64 - 1) as usize) % branching;
    let base = from / (below * branching) * (below * branching);
    (from, base + other * below + rng.below(below as u64) as usize)
}

type Case = (usize, usize, usize, usize);

/// Cases per check: (check name, moves as (depth, branching, from, to)).
fn cases(seed: u64, scope: Scope) -> Vec<(&'static str, Vec<Case>)> {
    let mut rng = SeededRng::new(seed, 0x6d6f766573);
    let mut trees = vec![(3, 2)];
    trees.extend(variant(seed).trees);
    let mut across = Vec::new();
    let mut below = Vec::new();
    let mut same = Vec::new();
    for &(k, b) in &trees {
        let pick = |rng: &mut SeededRng, level| {
            let (from, to) = move_meeting_at(rng, k, b, level);
            (k, b, from, to)
        };
        across.push(pick(&mut rng, 0));
        across.push(pick(&mut rng, 0));
        for level in 1..k {
            below.push(pick(&mut rng, level));
        }
        same.push(pick(&mut rng, k));
    }
    let mut all = Vec::new();
    if scope.runs_public() {
        all.extend([(MOVES_ACROSS_THE_ROOT, across), (MOVES_BELOW_THE_ROOT, below), (SAME_LEAF_DOMAIN, same)]);
    }
    if scope.runs_hidden() {
        all.extend(hidden_cases(seed));
    }
    all
}

super::hidden! {
    fn hidden_cases(seed: u64) -> Vec<(&'static str, Vec<Case>)> {
        let mut rng = SeededRng::new(seed, 0x68696464);
        let mut moves = vec![(1, 2, 0, 1), (1, 7, 6, 6)];
        for (k, b) in [(12 + rng.below(6) as usize, 2), (8, 4 + rng.below(3) as usize), (2, 40 + rng.below(20) as usize)] {
            for _ in 0..4 {
                let level = rng.below(k as u64 + 1) as usize;
                let (from, to) = move_meeting_at(&mut rng, k, b, level);
                moves.push((k, b, from, to));
            }
        }
        vec![(DEEP_AND_WIDE_HIERARCHIES, moves)]
    }
}

pub fn check(solution: Solution<'_>, run: &Run) -> Report {
    let (seed, scope) = (run.seed, run.scope);
    let mut verdicts = Vec::new();
    for (name, moves) in cases(seed, scope) {
        let mut failure = None;
        for &(k, b, from, to) in &moves {
            let expected = simulated_updates(k, b, from, to).expect("catalogue moves are valid");
            let tree = format!("depth {k}, {b} children per node");
            let why = match call_guarded(|| solution(k, b, from, to)) {
                Ok(got) if got == expected => continue,
                Ok(got) => format!(
                    "moving from leaf domain {from} to {to} ({tree}) you said {got} records change; \
                     the simulated insert and delete touch {expected}"
                ),
                Err(panic) => {
                    format!("moving from leaf domain {from} to {to} ({tree}) your function panicked: {panic}")
                }
            };
            failure = Some((format!("depth={k} branching={b} from={from} to={to}"), why));
            break;
        }
        let (ok, message, case) = match failure {
            None => (true, format!("right for {} moves", moves.len()), format!("{} moves", moves.len())),
            Some((case, why)) => (false, why, case),
        };
        verdicts.push(numeric_verdict(name, ok, message, case, seed, SPEC.id));
    }
    Report { exercise: SPEC.id.into(), verdicts, diagram: None }
}

/// Serves the student's function to the grader (see `remote`).
pub fn host(solution: Solution<'_>) {
    crate::remote::serve_calls_stdio(&|name, args| match name {
        "location_updates" => crate::remote::answer(args, |(k, b, from, to)| solution(k, b, from, to)),
        _ => Err(format!("no function {name}")),
    })
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "location",
    solution: Solution<'static> = &location_updates,
    cell: {
        // BEGIN CELL
        fn location_updates(depth: usize, branching: usize, from: usize, to: usize) -> usize {
            // BEGIN SOLUTION
            // Climb from both leaves one level at a time until they reach the same
            // node. Each level climbed costs a new record on B's side and a removed
            // one on A's side; the meeting node's record is redirected once.
            let _ = depth;
            let (mut a, mut b, mut climbed) = (from, to, 0);
            while a != b {
                a /= branching;
                b /= branching;
                climbed += 1;
            }
            2 * climbed + 1
            // END SOLUTION
            // BEGIN STARTER
            // // Leaf domains are numbered 0..branching^depth, left to right.
            // let _ = (depth, branching, from, to);
            // 0
            // END STARTER
        }
        // END CELL
    }
}
