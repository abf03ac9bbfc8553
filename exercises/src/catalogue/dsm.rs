//! Notebook 12: page-based distributed shared memory. Node 0 is the
//! manager: it owns every page and keeps its master copy; it runs no
//! program. Nodes 1.. run a program of reads and writes on words of the
//! pages. A read needs a copy of the page: a node that has none asks the
//! manager (`Fetch`) and keeps the `Copy` it gets. A write goes to the
//! manager (`Write`), which orders the writes to a page one after the
//! other, deals with the other copies and answers `Done`.
//!
//! Two protocols pass the same checks:
//! - **write-invalidate** (the reference): the manager sends `Invalidate`
//!   to every other holder of a copy, waits for all their `Ack`s, then
//!   applies the write;
//! - **write-update**: the manager sends `Update` with the new word to
//!   every other holder and waits for all their `Ack`s before `Done`; it
//!   runs one write at a time over all pages, so every holder sees the
//!   writes in the same order.
//!
//! The checks read the trace only: every read fits one order of all
//! writes that keeps each node's program order (sequential consistency,
//! judged by a search over orders), every operation completes, and the
//! page transfers and messages stay within a factor of the most the
//! reference protocol can need for the same operations.
//!
//! `false_sharing` (feature `reference`) measures what two counters on one
//! page cost against the same counters on two pages.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, RunEnd, Step, NODES_RUN_CLEANLY};
use crate::faults::fmt_time;
use crate::process::{NodeFactory, Observation};
use crate::rng::{Draw, SeededRng};
use crate::scenario::Scenario;
use crate::trace::{Dest, EventKind};
use crate::{ms, Delay, Network, NodeId, Time};

/// The node that owns every page.
pub const MANAGER: NodeId = 0;
/// Words per page; every word starts at 0.
pub const WORDS: usize = 4;
/// A node starts its first operation `FIRST` times its id after it starts,
/// and each next one `THINK` after the previous one completed.
pub const FIRST: Time = ms(1);
pub const THINK: Time = ms(2);
/// Liveness: every operation completes within this after the last fault.
pub const DEADLINE: Time = ms(5_000);
/// A holder that has not answered an `Invalidate` or `Update` within this
/// has crashed (messages are never lost, and crashed nodes stay down): the
/// manager stops waiting for it and forgets its copy.
pub const ACK_WAIT: Time = ms(300);
/// The cost check allows this many times the reference's most.
pub const COST_FACTOR: f64 = 1.5;

/// A word of shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Addr {
    pub page: usize,
    pub word: usize,
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "page {} word {}", self.page, self.word)
    }
}

/// One operation of a node's program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    Read(Addr),
    Write(Addr, i64),
}

impl Op {
    pub fn addr(&self) -> Addr {
        match self {
            Op::Read(a) | Op::Write(a, _) => *a,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DsmMsg {
    /// Node to manager: send me a copy of `page`.
    Fetch { page: usize },
    /// Manager to node: the page's contents after `version` writes (a page
    /// transfer).
    Copy { page: usize, version: u64, data: Vec<i64> },
    /// Node to manager: please write `value` into `word` of `page`.
    Write { page: usize, word: usize, value: i64 },
    /// Manager to writer: your write is the page's write number `version`
    /// and every other copy has been dealt with.
    Done { page: usize, version: u64 },
    /// Manager to a copy holder (write-invalidate): drop your copy; write
    /// number `version` is coming.
    Invalidate { page: usize, version: u64 },
    /// Manager to a copy holder (write-update): write number `version`
    /// puts `value` into `word`.
    Update { page: usize, version: u64, word: usize, value: i64 },
    /// Copy holder to manager: `Invalidate` or `Update` number `version`
    /// of `page` is done here.
    Ack { page: usize, version: u64 },
}

impl DsmMsg {
    pub fn page(&self) -> usize {
        match self {
            DsmMsg::Fetch { page }
            | DsmMsg::Copy { page, .. }
            | DsmMsg::Write { page, .. }
            | DsmMsg::Done { page, .. }
            | DsmMsg::Invalidate { page, .. }
            | DsmMsg::Update { page, .. }
            | DsmMsg::Ack { page, .. } => *page,
        }
    }
}

// ---------------------------------------------------------------------------
// Workloads: the program of every node is a function of the system's size.

/// Rounds of the counter workload (3 nodes).
pub const COUNTER_ROUNDS: i64 = 15;
/// Rounds of the ring workload (4 nodes or more).
pub const ROUNDS: i64 = 4;

/// How many pages a system of `nodes` nodes has.
pub fn pages(nodes: usize) -> usize {
    if nodes <= 3 {
        3
    } else {
        nodes - 1
    }
}

/// When node `node` starts its first operation, counted from its start.
pub fn first_op(node: NodeId) -> Time {
    FIRST * node as Time
}

/// The program of node `node` in a system of `nodes` nodes (empty for the
/// manager).
///
/// With 3 nodes, two counters share page 0 (node 1 counts in word 0, node
/// 2 in word 1) and two more sit alone on pages 1 and 2: in each round
/// node `c` reads and writes its counter on page 0, then its counter on
/// page `c`. With more nodes, node `c`'s home page is `c - 1`; in each of
/// `ROUNDS` rounds it reads the word 0 of the previous node's page, writes
/// word 0 of its own page (its data), then a flag word on the next node's
/// page, then three times reads the flag the previous node sets on its
/// page and that node's data, and last reads one word chosen at random. Every write of
/// a program writes a value no other write writes.
pub fn program(node: NodeId, nodes: usize) -> Vec<Op> {
    if node == MANAGER || node >= nodes {
        return Vec::new();
    }
    if nodes <= 3 {
        let shared = Addr { page: 0, word: node - 1 };
        let alone = Addr { page: node, word: 0 };
        return (1..=COUNTER_ROUNDS)
            .flat_map(|k| [Op::Read(shared), Op::Write(shared, k), Op::Read(alone), Op::Write(alone, k)])
            .collect();
    }
    // The clients form a ring: node `c` reads the data of the node before
    // it (its home page, word 0) and the flag that node sets on `c`'s own
    // home page after writing the data.
    let n_pages = pages(nodes);
    let home = node - 1;
    let before = if node == 1 { nodes - 1 } else { node - 1 };
    let prev = before - 1;
    let next = (home + 1) % n_pages;
    let flag_of = |c: NodeId| 1 + c % (WORDS - 1);
    let mut rng = SeededRng::new(nodes as u64 * 1_000 + node as u64, 0x6473_6d70);
    (1..=ROUNDS)
        .flat_map(|r| {
            let value = 100 * node as i64 + 2 * r;
            let any = Addr { page: rng.below(n_pages as u64) as usize, word: rng.below(WORDS as u64) as usize };
            let flag = Op::Read(Addr { page: home, word: flag_of(before) });
            let data = Op::Read(Addr { page: prev, word: 0 });
            [
                data,
                Op::Write(Addr { page: home, word: 0 }, value - 1),
                Op::Write(Addr { page: next, word: flag_of(node) }, value),
                flag,
                data,
                flag,
                data,
                flag,
                data,
                Op::Read(any),
            ]
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Operations as the checks see them.

/// A completed operation: what it was, when it could begin (the previous
/// one's end, or the node's start) and when it ended; for a read, the
/// value returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Done {
    pub node: NodeId,
    pub k: usize,
    pub op: Op,
    pub began: Time,
    pub ended: Time,
    pub read: Option<i64>,
    pub event: usize,
}

/// Reads a trace into completed operations, by the nodes' observations.
#[derive(Clone, Debug, Hash)]
pub struct Tracker {
    programs: Vec<Vec<Op>>,
    /// Per node: its completed operations.
    pub done: Vec<Vec<Done>>,
    since: Vec<Time>,
    up: Vec<bool>,
}

impl Tracker {
    pub fn new(nodes: usize) -> Self {
        Tracker {
            programs: (0..nodes).map(|n| program(n, nodes)).collect(),
            done: vec![Vec::new(); nodes],
            since: vec![0; nodes],
            up: vec![true; nodes],
        }
    }

    /// The next operation of `node`, if any is left.
    pub fn next(&self, node: NodeId) -> Option<Op> {
        self.programs[node].get(self.done[node].len()).copied()
    }

    /// Feeds one event; returns the operation it completed, if any.
    pub fn step<M>(&mut self, step: &Step<'_, M>) -> Result<Option<Done>, String> {
        match step.kind {
            EventKind::Start { node } | EventKind::Recover { node } => {
                self.since[*node] = step.at;
                self.up[*node] = true;
            }
            EventKind::Crash { node } => self.up[*node] = false,
            EventKind::Observe { node, what } => {
                let node = *node;
                let k = self.done[node].len();
                let Some(op) = self.next(node) else {
                    return Err(if node == MANAGER {
                        format!("node {node} recorded {what:?}: the manager runs no program")
                    } else {
                        format!("node {node} recorded {what:?} after all {k} operations of its program")
                    });
                };
                let read = match (what, op) {
                    (Observation::Read { value }, Op::Read(_)) => Some(*value),
                    (Observation::Write { value }, Op::Write(_, v)) if *value == v => None,
                    _ => {
                        return Err(format!(
                            "node {node} recorded {what:?} for operation {} of its program, which is {}",
                            k + 1,
                            describe(op)
                        ))
                    }
                };
                let done = Done { node, k, op, began: self.since[node], ended: step.at, read, event: step.index };
                self.since[node] = step.at;
                self.done[node].push(done.clone());
                return Ok(Some(done));
            }
            _ => {}
        }
        Ok(None)
    }
}

fn describe(op: Op) -> String {
    match op {
        Op::Read(a) => format!("a read of {a}"),
        Op::Write(a, v) => format!("a write of {v} to {a}"),
    }
}

pub const CONSISTENT: &str = "reads fit one order of all writes";
pub const DONE: &str = "every operation completes";
pub const COST: &str = "page transfers and messages";
pub const WORKLOAD: &str = "the program is followed";

// ---------------------------------------------------------------------------
// Sequential consistency: a search over orders.

/// What the search is asked: per node, its completed operations (reads with
/// the value returned), and the node's next operation if it is a write,
/// which may or may not have taken effect yet.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub nodes: Vec<Vec<(Op, Option<i64>)>>,
    pub pending: Vec<Option<Op>>,
}

/// The search's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Order {
    /// One order of all operations, as (node, index in its list), that
    /// keeps every node's order and explains every read.
    Found(Vec<(NodeId, usize)>),
    None,
    /// The search gave up after this many states.
    TooBig(usize),
}

/// States the search may visit before it gives up.
pub const SEARCH_LIMIT: usize = 200_000;

/// Is there an order of all operations of `h` that keeps each node's order
/// and in which every read returns the latest write to its word before it
/// (0 if none)? A read that can go next is always taken at once: it changes
/// nothing, so it can't spoil an order; only the choice among writes is
/// searched, remembering the (progress, memory) states that failed.
pub fn sequential_order(h: &History) -> Order {
    let seqs: Vec<Vec<(Op, Option<i64>)>> = h
        .nodes
        .iter()
        .enumerate()
        .map(|(n, ops)| {
            let mut s = ops.clone();
            if let Some(p @ Op::Write(..)) = h.pending.get(n).copied().flatten() {
                s.push((p, None));
            }
            s
        })
        .collect();
    let needed: Vec<usize> = h.nodes.iter().map(Vec::len).collect();
    let mut search = Search { seqs: &seqs, needed: &needed, failed: BTreeSet::new(), states: 0 };
    let mut pos = vec![0; seqs.len()];
    let mut path = Vec::new();
    match search.go(&mut pos, &mut BTreeMap::new(), &mut path) {
        Some(true) => Order::Found(path),
        Some(false) => Order::None,
        None => Order::TooBig(search.states),
    }
}

/// A state of the search: how far each node is, and the memory.
type State = (Vec<usize>, Vec<(Addr, i64)>);

struct Search<'a> {
    seqs: &'a [Vec<(Op, Option<i64>)>],
    needed: &'a [usize],
    failed: BTreeSet<State>,
    states: usize,
}

impl Search<'_> {
    /// `Some(found)`, or `None` when over the limit.
    fn go(
        &mut self,
        pos: &mut Vec<usize>,
        mem: &mut BTreeMap<Addr, i64>,
        path: &mut Vec<(NodeId, usize)>,
    ) -> Option<bool> {
        let mark = path.len();
        let saved = pos.clone();
        // Take every read that can go now.
        let mut moved = true;
        while moved {
            moved = false;
            for (n, (seq, at)) in self.seqs.iter().zip(pos.iter_mut()).enumerate() {
                while let Some((Op::Read(a), Some(v))) = seq.get(*at) {
                    if mem.get(a).copied().unwrap_or(0) != *v {
                        break;
                    }
                    path.push((n, *at));
                    *at += 1;
                    moved = true;
                }
            }
        }
        if pos.iter().zip(self.needed).all(|(p, n)| p >= n) {
            return Some(true);
        }
        let key = (pos.clone(), mem.iter().map(|(a, v)| (*a, *v)).collect());
        if !self.failed.contains(&key) {
            self.states += 1;
            if self.states > SEARCH_LIMIT {
                return None;
            }
            for n in 0..self.seqs.len() {
                let Some((Op::Write(a, v), _)) = self.seqs[n].get(pos[n]).copied() else { continue };
                let old = mem.insert(a, v);
                path.push((n, pos[n]));
                pos[n] += 1;
                if self.go(pos, mem, path)? {
                    return Some(true);
                }
                pos[n] -= 1;
                path.pop();
                match old {
                    Some(o) => mem.insert(a, o),
                    None => mem.remove(&a),
                };
            }
            self.failed.insert(key);
        }
        path.truncate(mark);
        *pos = saved;
        Some(false)
    }
}

/// Sequential consistency, judged at every completed read: the reads and
/// writes so far must fit one order.
#[derive(Clone, Debug, Hash)]
pub struct Consistent {
    tracker: Tracker,
    reads: usize,
}

impl Consistent {
    pub fn new(nodes: usize) -> Self {
        Consistent { tracker: Tracker::new(nodes), reads: 0 }
    }

    fn history(&self) -> History {
        let t = &self.tracker;
        History {
            nodes: t.done.iter().map(|ops| ops.iter().map(|d| (d.op, d.read)).collect()).collect(),
            pending: (0..t.done.len()).map(|n| t.next(n)).collect(),
        }
    }

    fn explain(&self, d: &Done, value: i64) -> String {
        let a = d.op.addr();
        let head = format!(
            "node {}'s read of {a} (operation {}, ended {}) returned {value}",
            d.node,
            d.k + 1,
            fmt_time(d.ended)
        );
        let writers: Vec<(NodeId, usize)> = (0..self.tracker.done.len())
            .flat_map(|n| {
                self.tracker.programs[n]
                    .iter()
                    .enumerate()
                    .filter(move |(_, op)| **op == Op::Write(a, value))
                    .map(move |(k, _)| (n, k))
            })
            .collect();
        if value != 0 && writers.is_empty() {
            return format!("{head}, but no program writes {value} to {a}");
        }
        if let Some(&(w, k)) = writers.first() {
            if self.tracker.done[w].len() < k && self.tracker.next(w) != Some(Op::Write(a, value)) {
                return format!(
                    "{head}, written by node {w}'s operation {}, which node {w} had not begun: a value is \
                     seen only once its write has begun",
                    k + 1
                );
            }
        }
        let mine: Option<&Done> =
            self.tracker.done[d.node].iter().rev().skip(1).find(|e| e.op.addr() == a && matches!(e.op, Op::Write(..)));
        let hint = match mine {
            Some(Done { op: Op::Write(_, v), k, .. }) if *v != value => format!(
                " Node {} itself wrote {v} there in its operation {}, and nothing explains the older value \
                 coming back.",
                d.node,
                k + 1
            ),
            _ => String::new(),
        };
        format!(
            "{head}: no single order of all reads and writes so far, keeping each node's own order, lets \
             this read and the earlier ones all see the latest write. A node kept an old copy after a newer \
             write took effect, or saw a write before the writes it follows.{hint}"
        )
    }
}

impl<M: crate::Message> Monitor<M> for Consistent {
    fn name(&self) -> String {
        CONSISTENT.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        let Some(d) = self.tracker.step(step)? else { return Ok(()) };
        let Some(value) = d.read else { return Ok(()) };
        self.reads += 1;
        match sequential_order(&self.history()) {
            Order::Found(_) => Ok(()),
            Order::None => Err(self.explain(&d, value)),
            Order::TooBig(n) => Err(format!(
                "after node {}'s read at {}, the search for one order of all operations gave up after {n} \
                 states: too many reads see values in an order that is hard to explain",
                d.node,
                fmt_time(d.ended)
            )),
        }
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        if self.reads == 0 {
            return Err("no read completed, so there was nothing to judge".into());
        }
        Ok(())
    }
}

/// Observations follow the programs (the tracker's complaints).
#[derive(Clone, Debug, Hash)]
pub struct FollowsProgram {
    tracker: Tracker,
    ops: usize,
}

impl<M: crate::Message> Monitor<M> for FollowsProgram {
    fn name(&self) -> String {
        WORKLOAD.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        if self.tracker.step(step)?.is_some() {
            self.ops += 1;
        }
        Ok(())
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        if self.ops == 0 {
            return Err("no operation completed, so there was nothing to judge".into());
        }
        Ok(())
    }
}

/// Liveness: by the deadline, every node that is up has completed its
/// whole program.
#[derive(Clone, Debug, Hash)]
pub struct AllDone {
    tracker: Tracker,
    deadline: Time,
}

impl<M: crate::Message> Monitor<M> for AllDone {
    fn name(&self) -> String {
        DONE.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        let _ = self.tracker.step(step); // a broken program is WORKLOAD's to say
        Ok(())
    }
    fn deadline(&self) -> Option<Time> {
        Some(self.deadline)
    }
    fn settled(&self) -> Result<(), String> {
        let t = &self.tracker;
        for n in 0..t.done.len() {
            if let (true, Some(op)) = (t.up[n], t.next(n)) {
                return Err(format!(
                    "node {n} completed {} of its {} operations; operation {} ({}) did not complete",
                    t.done[n].len(),
                    t.programs[n].len(),
                    t.done[n].len() + 1,
                    describe(op)
                ));
            }
        }
        Ok(())
    }
}

/// The most page transfers and messages the reference protocol can need
/// for the operations of a run, read off their times: a read needs a
/// transfer only if it is the node's first read of the page, or if
/// another node's write to the page overlapped the time since the node's
/// previous read of it (only such a write can have taken its copy away);
/// a transfer costs 2 messages (`Fetch`, `Copy`), a write 2 (`Write`,
/// `Done`) plus 2 for every other node that may hold a copy (one that
/// began a read of the page before the write ended).
pub fn reference_bound(done: &[Vec<Done>]) -> (usize, usize) {
    let all: Vec<&Done> = done.iter().flatten().collect();
    let mut transfers = 0;
    let mut messages = 0;
    for d in &all {
        let page = d.op.addr().page;
        match d.op {
            Op::Read(_) => {
                let previous = done[d.node][..d.k].iter().rev().find(|e| e.op.addr().page == page && e.read.is_some());
                let needed = match previous {
                    None => true,
                    Some(p) => all.iter().any(|w| {
                        w.node != d.node
                            && matches!(w.op, Op::Write(a, _) if a.page == page)
                            && w.ended >= p.began
                            && w.began <= d.ended
                    }),
                };
                if needed {
                    transfers += 1;
                    messages += 2;
                }
            }
            Op::Write(..) => {
                let holders: BTreeSet<NodeId> = all
                    .iter()
                    .filter(|r| r.node != d.node && r.read.is_some() && r.op.addr().page == page && r.began <= d.ended)
                    .map(|r| r.node)
                    .collect();
                messages += 2 + 2 * holders.len();
            }
        }
    }
    (transfers, messages)
}

/// Cost: page transfers (`Copy` messages) and all messages at most
/// `COST_FACTOR` times the reference's most for the same operations.
#[derive(Clone, Debug, Hash)]
pub struct Cost {
    tracker: Tracker,
    transfers: usize,
}

impl<M: crate::Message> Monitor<M> for Cost {
    fn name(&self) -> String {
        COST.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        if let EventKind::Send { msg, .. } = step.kind {
            if crate::check::message_kind(msg) == "Copy" {
                self.transfers += 1;
            }
        }
        let _ = self.tracker.step(step);
        Ok(())
    }
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        let ops: usize = self.tracker.done.iter().map(Vec::len).sum();
        if ops == 0 {
            return Err("no operation completed, so there was nothing to count".into());
        }
        let (t, m) = reference_bound(&self.tracker.done);
        let allowed = |x: usize| (x as f64 * COST_FACTOR).floor() as usize;
        if self.transfers > allowed(t) {
            return Err(format!(
                "{} page transfers (Copy) for {ops} operations; the reference needs at most {t} here and \
                 {COST_FACTOR} times that is allowed: keep a copy until it is invalidated (or updated), and \
                 read from it",
                self.transfers
            ));
        }
        if end.counters.sent > allowed(m) {
            let kinds: Vec<String> = end.counters.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
            return Err(format!(
                "{} messages ({}) for {ops} operations; the reference needs at most {m} here and {COST_FACTOR} \
                 times that is allowed: send Invalidate or Update only to nodes that hold a copy",
                end.counters.sent,
                kinds.join(", ")
            ));
        }
        Ok(())
    }
}

/// Only the manager answers requests, and only nodes ask: a message sent
/// the wrong way is a workload violation.
fn direction(msg: &DsmMsg) -> bool {
    matches!(msg, DsmMsg::Fetch { .. } | DsmMsg::Write { .. } | DsmMsg::Ack { .. })
}

/// Messages go between the manager and the other nodes, the right way.
#[derive(Clone, Debug, Hash, Default)]
pub struct Routed;

impl Monitor<DsmMsg> for Routed {
    fn name(&self) -> String {
        WORKLOAD.into()
    }
    fn on_event(&mut self, step: &Step<'_, DsmMsg>) -> Result<(), String> {
        if let EventKind::Send { from, to, msg } = step.kind {
            let to_manager = *to == Dest::Node(MANAGER);
            let ok = if direction(msg) { to_manager && *from != MANAGER } else { *from == MANAGER && !to_manager };
            if !ok {
                return Err(format!(
                    "node {from} sent {} to {to}: Fetch, Write and Ack go from a node to the manager (node \
                     {MANAGER}); Copy, Done, Invalidate and Update go from the manager to a node",
                    crate::check::message_kind(msg)
                ));
            }
        }
        Ok(())
    }
}

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<DsmMsg>>> {
    let n = scenario.nodes;
    vec![
        Box::new(Consistent::new(n)),
        Box::new(AllDone { tracker: Tracker::new(n), deadline: DEADLINE }),
        Box::new(Cost { tracker: Tracker::new(n), transfers: 0 }),
        Box::new(FollowsProgram { tracker: Tracker::new(n), ops: 0 }),
        Box::new(Routed),
    ]
}

// ---------------------------------------------------------------------------
// Scenarios and the spec.

/// The student's own system: how many nodes run programs, and how long
/// messages take at most (they are reordered freely below that).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub nodes: usize,
    pub max_delay_ms: i64,
}

pub fn variant(seed: u64) -> Variant {
    let mut rng = SeededRng::new(seed, 0x6473_6d76);
    Variant { nodes: 4 + rng.below(2) as usize, max_delay_ms: 10 + rng.below(21) as i64 }
}

fn scenario(name: &str, nodes: usize, delay: Delay) -> Scenario {
    Scenario {
        network: Network { delay, ..Network::default() },
        until: DEADLINE + ms(50),
        ..Scenario::new(name, nodes)
    }
}

pub fn scenarios(seed: u64) -> Vec<ScenarioRuns> {
    let v = variant(seed);
    let max = ms(v.max_delay_ms);
    let shared =
        scenario(&format!("{} nodes, 1-{} ms", v.nodes, v.max_delay_ms), v.nodes, Delay::Uniform { min: ms(1), max });
    let counters = scenario("counters, 1-10 ms", 3, Delay::Uniform { min: ms(1), max: ms(10) });
    let tail = scenario(
        &format!("{} nodes, long tail", v.nodes),
        v.nodes,
        Delay::Exponential { min: ms(1), mean: ms(v.max_delay_ms / 2) },
    );
    let mut runs =
        vec![ScenarioRuns::public(shared, 3), ScenarioRuns::public(tail, 3), ScenarioRuns::public(counters, 2)];
    runs.extend(hidden_scenarios());
    runs
}

super::hidden! {
    /// Hidden: more nodes with long-tailed delays, and a slow network where
    /// most requests wait in the manager's queue.
    fn hidden_scenarios() -> Vec<ScenarioRuns> {
        let many = scenario("6 nodes, long tail", 6, Delay::Exponential { min: ms(1), mean: ms(8) });
        let slow = scenario("5 nodes, 5-40 ms", 5, Delay::Uniform { min: ms(5), max: ms(40) });
        let mut crash = scenario("5 nodes, node 4 crashes", 5, Delay::Uniform { min: ms(1), max: ms(20) });
        crash.schedule = crate::Schedule { name: "node 4 crashes".into(), faults: vec![crate::Fault::Crash { node: 4, at: ms(90) }] };
        crash.until = crash.schedule.quiet_after() + DEADLINE + ms(50);
        vec![ScenarioRuns::hidden(many, 2), ScenarioRuns::hidden(slow, 2), ScenarioRuns::hidden(crash, 2)]
    }
}

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "dsm",
    title: "Distributed shared memory with pages",
    notebook: 12,
    position: 1,
    points: 10,
    task: "Write a node for `DsmMsg`. Memory is `pages(ctx.nodes())` pages of `WORDS` words, all 0 at \
           first. Node `MANAGER` (0) owns every page: it keeps the master copy, knows who holds copies, \
           and runs no program. Every other node `i` runs `program(i, ctx.nodes())` one operation at a \
           time: the first `first_op(i)` after it starts, each next one `THINK` after the previous one \
           completed. A read completes with `Observation::Read { value }`, a write of `v` with \
           `Observation::Write { value: v }`.\n\n\
           - **Read**: from your copy of the page if you have one; else send `Fetch` to the manager, \
           which adds you to the page's holders and answers `Copy` with its version; keep the copy.\n\
           - **Write**: send `Write` to the manager and wait for `Done`; if you hold a copy of the page, \
           put your write into it then (the manager does not take your own copy away).\n\
           - **Holder**: on `Invalidate`, drop your copy; on `Update`, put the word into your copy if \
           you have one; answer `Ack` either way.\n\
           - **Manager**: one write per page at a time, in the order they come; while a write is under \
           way, queue the page's `Fetch` and `Write` requests. For a write, either send `Invalidate` to \
           every other holder and apply the write once all have answered `Ack` (write-invalidate), or \
           send them `Update` and wait for their `Ack`s, running one write at a time over all pages \
           (write-update). Then bump the page's version and answer `Done`. A node other than the \
           manager may crash for good: a holder that has not answered within `ACK_WAIT` is gone; stop waiting for it and \
           forget its copy.\n\n\
           Messages take from 1 ms to a few tens of ms and overtake each other: a `Copy` can arrive after \
           the `Invalidate` or `Update` that follows it. Keep the highest version you were told to drop \
           or update per page; a `Copy` older than that may answer the read that asked for it, but must \
           not be kept.\n\n\
           Checks: every read fits one order of all writes that keeps each node's program order; every \
           operation completes; page transfers and messages at most `COST_FACTOR` times the most the \
           reference protocol can need for the same operations; nodes follow their programs and only \
           the manager answers requests.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: CONSISTENT, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: DONE, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: COST, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: WORKLOAD, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: |seed| super::variant_json(variant(seed)),
};

pub fn check(solution: Box<NodeFactory<DsmMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(run.seed), monitors, run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<DsmMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// ---------------------------------------------------------------------------
// The false-sharing experiment.

/// What one set of pages cost in a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// `Copy` messages: whole pages sent.
    pub transfers: usize,
    /// All messages about these pages.
    pub messages: usize,
}

/// The counter workload (3 nodes) run once: the two counters that share
/// page 0, against the two counters alone on pages 1 and 2. Both pairs
/// see the same increments in the same run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FalseSharing {
    pub increments: i64,
    pub same_page: Counts,
    pub separate_pages: Counts,
}

/// Counts per page group of a trace: page 0, and pages 1 and 2.
pub fn counts_by_page(trace: &crate::Trace<DsmMsg>) -> FalseSharing {
    let mut same = Counts::default();
    let mut separate = Counts::default();
    for e in &trace.events {
        if let EventKind::Send { msg, .. } = &e.kind {
            let c = if msg.page() == 0 { &mut same } else { &mut separate };
            c.messages += 1;
            if matches!(msg, DsmMsg::Copy { .. }) {
                c.transfers += 1;
            }
        }
    }
    FalseSharing { increments: 2 * COUNTER_ROUNDS, same_page: same, separate_pages: separate }
}

/// Runs the counter workload with `factory` (1-10 ms delays, `seed`).
pub fn false_sharing_with(factory: Box<NodeFactory<DsmMsg>>, seed: u64) -> FalseSharing {
    let s = scenario("false sharing", 3, Delay::Uniform { min: ms(1), max: ms(10) });
    let trace = crate::sim::simulate_with(&s, seed, std::rc::Rc::from(factory)).expect("valid scenario");
    counts_by_page(&trace)
}

/// The experiment with the reference protocol.
#[cfg(feature = "reference")]
pub fn false_sharing(seed: u64) -> FalseSharing {
    false_sharing_with(reference::solution(), seed)
}

/// A small bar chart of the experiment: transfers and messages, one page
/// shared against two pages.
pub fn false_sharing_svg(f: &FalseSharing) -> String {
    use std::fmt::Write;
    let bars = [
        ("transfers, one page", f.same_page.transfers, "#D55E00"),
        ("transfers, two pages", f.separate_pages.transfers, "#0072B2"),
        ("messages, one page", f.same_page.messages, "#D55E00"),
        ("messages, two pages", f.separate_pages.messages, "#0072B2"),
    ];
    let top = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let (w, h, left, row) = (460.0, 40.0 + 34.0 * bars.len() as f64, 150.0, 34.0);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>\n\
         <text x=\"10\" y=\"20\" font-weight=\"bold\">{}</text>\n",
        crate::html::escape(&format!("False sharing: {} increments per pair of counters", f.increments))
    );
    for (i, (label, value, colour)) in bars.iter().enumerate() {
        let y = 34.0 + row * i as f64;
        let len = (w - left - 60.0) * *value as f64 / top;
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{left}\" y=\"{y}\" width=\"{len:.1}\" height=\"22\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{}\">{value}</text>",
            left - 8.0,
            y + 15.0,
            crate::html::escape(label),
            left + len + 6.0,
            y + 15.0
        );
    }
    out.push_str("</svg>\n");
    out
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "dsm",
    solution: Box<NodeFactory<DsmMsg>> = Box::new(dsm_node),
    cell: {
        // BEGIN CELL
        use distlab::catalogue::dsm::{first_op, pages, program, DsmMsg, Op, ACK_WAIT, MANAGER, THINK, WORDS};
        use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

        const NEXT_OP: TimerTag = 1;
        // BEGIN SOLUTION
        /// Manager: timer `GIVE_UP + page` ends the wait for a page's acks.
        const GIVE_UP: TimerTag = 100;
        use std::collections::{BTreeMap, BTreeSet, VecDeque};

        /// The manager's view of one page.
        #[derive(Clone, Debug, Hash, Default)]
        struct Page {
            data: Vec<i64>,
            version: u64,
            holders: BTreeSet<NodeId>,
            /// The write under way: (writer, word, value), and the holders still to answer.
            writing: Option<(NodeId, usize, i64)>,
            waiting: BTreeSet<NodeId>,
            /// Requests that came during a write, in order.
            queue: VecDeque<(NodeId, DsmMsg)>,
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        #[derive(Clone, Debug, Hash, Default)]
        struct Dsm {
            // BEGIN SOLUTION
            /// Manager: every page.
            pages: Vec<Page>,
            /// Node: operations completed, the copies kept (version, words), and per
            /// page the highest version it was told to drop.
            done: usize,
            copies: BTreeMap<usize, (u64, Vec<i64>)>,
            dropped: BTreeMap<usize, u64>,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Dsm {
            fn current(&self, ctx: &Ctx<DsmMsg>) -> Option<Op> {
                program(ctx.me(), ctx.nodes()).get(self.done).copied()
            }

            fn complete(&mut self, ctx: &mut Ctx<DsmMsg>, result: Observation) {
                ctx.observe(result);
                self.done += 1;
                if self.current(ctx).is_some() {
                    ctx.set_timer(NEXT_OP, THINK);
                }
            }

            /// Node: start the current operation.
            fn start(&mut self, ctx: &mut Ctx<DsmMsg>) {
                match self.current(ctx) {
                    Some(Op::Read(a)) => match self.copies.get(&a.page) {
                        Some((_, data)) => {
                            let value = data[a.word];
                            self.complete(ctx, Observation::Read { value });
                        }
                        None => ctx.send(MANAGER, DsmMsg::Fetch { page: a.page }),
                    },
                    Some(Op::Write(a, value)) => {
                        ctx.send(MANAGER, DsmMsg::Write { page: a.page, word: a.word, value })
                    }
                    None => {}
                }
            }

            /// Manager: serve one request, or queue it behind a write under way.
            fn serve(&mut self, ctx: &mut Ctx<DsmMsg>, from: NodeId, msg: DsmMsg) {
                let page = &mut self.pages[msg.page()];
                if page.writing.is_some() {
                    page.queue.push_back((from, msg));
                    return;
                }
                match msg {
                    DsmMsg::Fetch { page: p } => {
                        page.holders.insert(from);
                        ctx.send(from, DsmMsg::Copy { page: p, version: page.version, data: page.data.clone() });
                    }
                    DsmMsg::Write { page: p, word, value } => {
                        page.writing = Some((from, word, value));
                        page.waiting = page.holders.iter().copied().filter(|&h| h != from).collect();
                        for &h in &page.waiting {
                            ctx.send(h, DsmMsg::Invalidate { page: p, version: page.version + 1 });
                        }
                        if !page.waiting.is_empty() {
                            ctx.set_timer(GIVE_UP + p as TimerTag, ACK_WAIT);
                        }
                        self.finish_write(ctx, p);
                    }
                    _ => {}
                }
            }

            /// Manager: once every other copy is gone, apply the write and serve the queue.
            fn finish_write(&mut self, ctx: &mut Ctx<DsmMsg>, p: usize) {
                let page = &mut self.pages[p];
                let Some((writer, word, value)) = page.writing else { return };
                if !page.waiting.is_empty() {
                    return;
                }
                page.writing = None;
                ctx.cancel_timer(GIVE_UP + p as TimerTag);
                page.data[word] = value;
                page.version += 1;
                ctx.send(writer, DsmMsg::Done { page: p, version: page.version });
                while let Some((from, msg)) = self.pages[p].queue.pop_front() {
                    self.serve(ctx, from, msg);
                    if self.pages[p].writing.is_some() {
                        break;
                    }
                }
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<DsmMsg> for Dsm {
            fn on_start(&mut self, ctx: &mut Ctx<DsmMsg>) {
                // BEGIN SOLUTION
                if ctx.me() == MANAGER {
                    let page = Page { data: vec![0; WORDS], ..Page::default() };
                    self.pages = vec![page; pages(ctx.nodes())];
                } else if self.current(ctx).is_some() {
                    ctx.set_timer(NEXT_OP, first_op(ctx.me()));
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, first_op(1), pages(3), program(1, 3), MANAGER, THINK, WORDS, ACK_WAIT, Op::Read);
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<DsmMsg>, from: NodeId, msg: DsmMsg) {
                // BEGIN SOLUTION
                match msg {
                    DsmMsg::Fetch { .. } | DsmMsg::Write { .. } => self.serve(ctx, from, msg),
                    DsmMsg::Ack { page, version } => {
                        let pg = &mut self.pages[page];
                        if pg.writing.is_some() && version == pg.version + 1 {
                            pg.waiting.remove(&from);
                            pg.holders.remove(&from);
                            self.finish_write(ctx, page);
                        }
                    }
                    DsmMsg::Copy { page, version, data } => {
                        let Some(Op::Read(a)) = self.current(ctx) else { return };
                        if a.page != page || self.copies.contains_key(&page) {
                            return;
                        }
                        // An older copy than one we were told to drop answers this read only.
                        if version >= self.dropped.get(&page).copied().unwrap_or(0) {
                            self.copies.insert(page, (version, data.clone()));
                        }
                        self.complete(ctx, Observation::Read { value: data[a.word] });
                    }
                    DsmMsg::Invalidate { page, version } => {
                        self.copies.remove(&page);
                        let d = self.dropped.entry(page).or_default();
                        *d = (*d).max(version);
                        ctx.send(MANAGER, DsmMsg::Ack { page, version });
                    }
                    DsmMsg::Done { page, version } => {
                        let Some(Op::Write(a, value)) = self.current(ctx) else { return };
                        if let Some(copy) = self.copies.get_mut(&page) {
                            copy.0 = version;
                            copy.1[a.word] = value;
                        }
                        self.complete(ctx, Observation::Write { value });
                    }
                    DsmMsg::Update { .. } => {} // write-invalidate sends none
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg, Observation::Read { value: 0 });
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<DsmMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                if timer == NEXT_OP {
                    self.start(ctx);
                } else if let Some(p) = timer.checked_sub(GIVE_UP).map(|p| p as usize) {
                    // The holders still silent have crashed: their copies are gone.
                    if let Some(page) = self.pages.get_mut(p) {
                        for h in std::mem::take(&mut page.waiting) {
                            page.holders.remove(&h);
                        }
                        self.finish_write(ctx, p);
                    }
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }
        }

        fn dsm_node(_id: NodeId) -> Box<dyn Process<DsmMsg>> {
            Box::new(Dsm::default())
        }
        // END CELL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: Addr = Addr { page: 0, word: 0 };
    const Y: Addr = Addr { page: 1, word: 0 };

    fn h(nodes: Vec<Vec<(Op, Option<i64>)>>, pending: Vec<Option<Op>>) -> History {
        History { nodes, pending }
    }

    #[test]
    fn both_flags_unseen_fits_no_order() {
        // Each node sets its own flag, then reads the other's: both 0 is impossible.
        let both_zero = h(
            vec![
                vec![(Op::Write(X, 1), None), (Op::Read(Y), Some(0))],
                vec![(Op::Write(Y, 1), None), (Op::Read(X), Some(0))],
            ],
            vec![None, None],
        );
        assert_eq!(sequential_order(&both_zero), Order::None);
        let one_saw = h(
            vec![
                vec![(Op::Write(X, 1), None), (Op::Read(Y), Some(0))],
                vec![(Op::Write(Y, 1), None), (Op::Read(X), Some(1))],
            ],
            vec![None, None],
        );
        assert!(matches!(sequential_order(&one_saw), Order::Found(order) if order.len() == 4));
    }

    #[test]
    fn a_pending_write_may_be_seen_or_not() {
        let seen = h(vec![vec![], vec![(Op::Read(X), Some(5))]], vec![Some(Op::Write(X, 5)), None]);
        assert!(matches!(sequential_order(&seen), Order::Found(_)));
        let unseen = h(vec![vec![], vec![(Op::Read(X), Some(0))]], vec![Some(Op::Write(X, 5)), None]);
        assert!(matches!(sequential_order(&unseen), Order::Found(_)));
        let never_written = h(vec![vec![], vec![(Op::Read(X), Some(7))]], vec![Some(Op::Write(X, 5)), None]);
        assert_eq!(sequential_order(&never_written), Order::None);
    }

    #[test]
    fn data_before_flag_must_be_seen_after_the_flag() {
        // Node 0 writes data then flag; node 1 sees the flag, then old data.
        let stale = h(
            vec![
                vec![(Op::Write(X, 1), None), (Op::Write(Y, 1), None)],
                vec![(Op::Read(Y), Some(1)), (Op::Read(X), Some(0))],
            ],
            vec![None, None],
        );
        assert_eq!(sequential_order(&stale), Order::None);
    }

    #[test]
    fn programs_write_distinct_values_per_word() {
        for nodes in 3..8 {
            let mut seen = BTreeSet::new();
            for node in 0..nodes {
                for op in program(node, nodes) {
                    if let Op::Write(a, v) = op {
                        assert!(seen.insert((a, v)), "{nodes} nodes: {v} written twice to {a}");
                        assert!(a.page < pages(nodes) && a.word < WORDS);
                    }
                }
            }
        }
    }
}
