//! Notebook 10: a register replicated on N servers by voting. Nodes
//! `0..N` are replicas holding a versioned value; the last `CLIENTS` nodes
//! are clients that read and write through quorums: a read asks NR replicas
//! and returns the value with the highest version; a write first learns the
//! highest version from NR replicas, then stores version + 1 at NW replicas.
//! With NR + NW > N every read quorum meets every write quorum; with
//! NW > N/2 any two write quorums meet.
//!
//! What "a read returns the latest write" means here (regularity, stated in
//! the task too): a read may return the value of any write that overlaps it
//! in time, or of the last write that finished before it began, but never a
//! value that a finished write had overwritten before the read began: if
//! write A finished before write B began, and B finished before the read
//! began, the read must not return A's value (nor the initial 0 once any
//! write has finished). That is what the textbook's voting gives; it is not
//! atomicity: two reads overlapping one write may see new then old, unless
//! the reads write back what they return (allowed, not required).
//!
//! An operation begins with the client's first request for it (requests
//! carry the operation's number) and ends when the client records its result
//! (`Observation::Read` or `Observation::Write`).

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
use crate::{ms, Delay, Fault, Network, NodeId, Schedule, Time};

/// A version: writes by different clients never share one, and the order
/// is total (counter first, then the writer's id).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    pub counter: u64,
    pub writer: NodeId,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RegisterMsg {
    /// Client to replica: which version do you hold? `op` is the client's
    /// operation number (1, 2, ...).
    Query { op: u64 },
    /// Replica to client: my version and value.
    Reply { op: u64, version: Version, value: i64 },
    /// Client to replica: keep this value if its version is newer than yours.
    Store { op: u64, version: Version, value: i64 },
    /// Replica to client: stored (or already had something newer).
    Stored { op: u64 },
}

/// How many clients there are: the last `CLIENTS` node ids.
pub const CLIENTS: usize = 3;
/// Operations per client.
pub const OPS: u64 = 6;
/// The register's value before any write.
pub const INITIAL: i64 = 0;
/// A client's first operation starts this long after its start (plus 1 ms
/// per client index), and each next one this long after the previous ended.
pub const FIRST: Time = ms(2);
pub const THINK: Time = ms(3);
/// The longest a message takes in every scenario: a reply comes within
/// twice this or not at all.
pub const MAX_DELAY: Time = ms(10);
/// Liveness: after the last fault, every client finishes within this.
pub const DEADLINE: Time = ms(1_000);

/// How many replicas a system of `nodes` nodes has.
pub fn replicas(nodes: usize) -> usize {
    nodes - CLIENTS
}

/// One operation of the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    Read,
    Write(i64),
}

/// Operation `k` (1, 2, ... `OPS`) of client number `client` (0, 1, 2:
/// node `replicas + client`): reads and writes alternate, and every write
/// writes its own value.
pub fn operation(client: usize, k: u64) -> Op {
    if (client as u64 + k) % 2 == 1 {
        Op::Write(100 * (client as i64 + 1) + k as i64)
    } else {
        Op::Read
    }
}

/// When client number `client` starts its first operation.
pub fn first_op(client: usize) -> Time {
    FIRST + ms(client as i64)
}

pub const LATEST: &str = "every read returns the latest finished write";
pub const QUORUMS: &str = "read and write quorums overlap";
pub const DONE: &str = "every operation finishes";
pub const WORKLOAD: &str = "the workload is followed";

/// An operation as the checks see it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OpRecord {
    pub client: NodeId,
    pub k: u64,
    pub op: Op,
    pub began: Time,
    /// Replicas whose `Reply` / `Stored` for this operation reached the
    /// client before it finished.
    pub replies: BTreeSet<NodeId>,
    pub acks: BTreeSet<NodeId>,
}

/// Something the tracker saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpEvent {
    Began(OpRecord),
    /// Finished at the step's time; for a read, with the value returned.
    Finished(OpRecord, Option<i64>),
}

#[derive(Clone, Debug, Hash, Default)]
struct Current {
    done: u64,
    open: Option<OpRecord>,
}

/// Reads a trace into operations: when each began and finished and which
/// replies it had. Errors say how a client broke the workload.
#[derive(Clone, Debug, Hash)]
pub struct Tracker {
    replicas: usize,
    clients: Vec<Current>,
}

impl Tracker {
    pub fn new(nodes: usize) -> Self {
        Tracker { replicas: replicas(nodes), clients: vec![Current::default(); CLIENTS] }
    }

    fn client(&self, node: NodeId) -> Option<usize> {
        node.checked_sub(self.replicas).filter(|&c| c < CLIENTS)
    }

    pub fn all_done(&self) -> Result<(), String> {
        for (c, cur) in self.clients.iter().enumerate() {
            if cur.done < OPS {
                let node = self.replicas + c;
                let next = cur.done + 1;
                let what = describe(operation(c, next));
                let state = match &cur.open {
                    Some(r) => format!("began at {} and is still waiting", fmt_time(r.began)),
                    None => "never began".into(),
                };
                return Err(format!(
                    "node {node} finished {} of its {OPS} operations; operation {next} ({what}) {state}: resend to \
                     the replicas that don't answer; a quorum of them is up",
                    cur.done
                ));
            }
        }
        Ok(())
    }

    pub fn step(&mut self, step: &Step<'_, RegisterMsg>) -> Result<Option<OpEvent>, String> {
        match (step.kind, step.msg) {
            (EventKind::Send { from, to, .. }, Some(msg)) => {
                let Some(c) = self.client(*from) else { return Ok(None) };
                let op = match msg {
                    RegisterMsg::Query { op } | RegisterMsg::Store { op, .. } => *op,
                    _ => return Err(format!("client node {from} sent {msg:?}: only replicas send that")),
                };
                if !matches!(to, Dest::Node(r) if *r < self.replicas) {
                    return Err(format!(
                        "client node {from} sent {msg:?} to {to}: requests go to replicas (nodes 0 to {})",
                        self.replicas - 1
                    ));
                }
                let cur = &mut self.clients[c];
                let next = cur.done + 1;
                if op > next || op == 0 {
                    return Err(format!(
                        "node {from} sent {msg:?} while its operation {next} was next: number requests with the \
                         operation they serve (1, 2, ...), and record each result before starting the next"
                    ));
                }
                if op == next && cur.open.is_none() && next <= OPS {
                    let record = OpRecord {
                        client: *from,
                        k: next,
                        op: operation(c, next),
                        began: step.at,
                        replies: BTreeSet::new(),
                        acks: BTreeSet::new(),
                    };
                    cur.open = Some(record.clone());
                    return Ok(Some(OpEvent::Began(record)));
                }
            }
            (EventKind::Deliver { from, to, .. }, Some(msg)) => {
                let Some(c) = self.client(*to) else { return Ok(None) };
                let Some(open) = self.clients[c].open.as_mut() else {
                    return Ok(None);
                };
                match msg {
                    RegisterMsg::Reply { op, .. } if *op == open.k => {
                        open.replies.insert(*from);
                    }
                    RegisterMsg::Stored { op } if *op == open.k => {
                        open.acks.insert(*from);
                    }
                    _ => {}
                }
            }
            (EventKind::Observe { node, what }, _) => {
                let Some(c) = self.client(*node) else {
                    return Err(format!("replica {node} recorded {what:?}: only clients record reads and writes"));
                };
                let cur = &mut self.clients[c];
                let next = cur.done + 1;
                if next > OPS {
                    return Err(format!("node {node} recorded {what:?} after all its {OPS} operations"));
                }
                let expected = operation(c, next);
                let read = match (what, expected) {
                    (Observation::Read { value }, Op::Read) => Some(*value),
                    (Observation::Write { value }, Op::Write(v)) if *value == v => None,
                    _ => {
                        return Err(format!(
                            "node {node} recorded {what:?} for its operation {next}, which is {} (see `operation`)",
                            describe(expected)
                        ))
                    }
                };
                let Some(record) = cur.open.take() else {
                    return Err(format!(
                        "node {node} recorded the result of its operation {next} before asking any replica"
                    ));
                };
                cur.done = next;
                return Ok(Some(OpEvent::Finished(record, read)));
            }
            _ => {}
        }
        Ok(None)
    }
}

/// A version in words: "3 by node 7".
fn show(v: Version) -> String {
    if v == Version::default() {
        "0 (the initial one)".into()
    } else {
        format!("{} by node {}", v.counter, v.writer)
    }
}

fn describe(op: Op) -> String {
    match op {
        Op::Read => "a read".into(),
        Op::Write(v) => format!("a write of {v}"),
    }
}

/// Regularity, as in the module's doc.
#[derive(Clone, Debug, Hash)]
pub struct ReadsLatest {
    tracker: Tracker,
    /// Per value: who writes it, when the write began and when it finished.
    writes: BTreeMap<i64, (NodeId, Time, Option<Time>)>,
    /// Per value: the version its writer stored it with.
    versions: BTreeMap<i64, Version>,
    /// Per replica: the newest version delivered to it in a `Store`, when,
    /// and whether it has crashed since.
    holds: BTreeMap<NodeId, (Version, Time, bool)>,
    reads: usize,
}

impl ReadsLatest {
    pub fn new(nodes: usize) -> Self {
        ReadsLatest {
            tracker: Tracker::new(nodes),
            writes: BTreeMap::new(),
            versions: BTreeMap::new(),
            holds: BTreeMap::new(),
            reads: 0,
        }
    }

    /// A replica never answers with an older version than one it was
    /// sent: not after a crash (its pair is durable), not after a late
    /// `Store` of an older version (it keeps the newer one).
    fn replica_step(&mut self, step: &Step<'_, RegisterMsg>) -> Result<(), String> {
        let replicas = self.tracker.replicas;
        match (step.kind, step.msg) {
            (EventKind::Send { from, .. }, Some(RegisterMsg::Store { version, value, .. })) if *from >= replicas => {
                self.versions.entry(*value).or_insert(*version);
            }
            (EventKind::Deliver { to, .. }, Some(RegisterMsg::Store { version, .. })) if *to < replicas => {
                let held = self.holds.entry(*to).or_insert((*version, step.at, false));
                if *version > held.0 {
                    *held = (*version, step.at, false);
                }
            }
            (EventKind::Crash { node }, _) => {
                if let Some(held) = self.holds.get_mut(node) {
                    held.2 = true;
                }
            }
            (EventKind::Send { from, to, .. }, Some(RegisterMsg::Reply { version, value, .. })) if *from < replicas => {
                let Some(&(newest, when, crashed)) = self.holds.get(from) else { return Ok(()) };
                if *version < newest {
                    let since = if crashed {
                        " It crashed in between: keep the pair with `ctx.persist` when you store it and read it back \
                         with `ctx.recall` in `on_recover`"
                    } else {
                        " A replica keeps the pair only if the `Store`'s version is newer than the one it holds"
                    };
                    let to = match to {
                        Dest::Node(n) => format!("node {n}"),
                        Dest::AllOthers => "everyone".into(),
                    };
                    return Err(format!(
                        "replica {from} answered {to} at {} with version {} (value {value}), but at {} it had been \
                         sent version {}: a replica must never go back to an older version, or a \
                         read can miss a finished write.{since}",
                        fmt_time(step.at),
                        show(*version),
                        fmt_time(when),
                        show(newest)
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn judge_read(&self, r: &OpRecord, value: i64, at: Time) -> Result<(), String> {
        let reader = format!("node {}'s read (began {}, finished {})", r.client, fmt_time(r.began), fmt_time(at));
        // When the write of `value` finished; the initial value "finished"
        // before everything.
        let finished = if value == INITIAL {
            Time::MIN
        } else {
            match self.writes.get(&value) {
                Some(&(_, _, finished)) => finished.unwrap_or(Time::MAX),
                None => return Err(format!("{reader} returned {value}, which no write had begun to write")),
            }
        };
        let newer = self
            .writes
            .iter()
            .filter(|(_, &(_, began, done))| began > finished && done.is_some_and(|d| d < r.began))
            .max_by_key(|(_, &(_, _, done))| done);
        if let Some((v, &(writer, began, done))) = newer {
            let (old, after) = if value == INITIAL {
                ("the initial value".to_string(), String::new())
            } else {
                (format!("{value}"), format!(", after the write of {value} had finished ({})", fmt_time(finished)))
            };
            return Err(format!(
                "{reader} returned {old}; but node {writer}'s write of {v} ran from {} to {}{after}, all before the \
                 read began: the read must return {v} or something newer. Return the value with the highest \
                 version among NR replies",
                fmt_time(began),
                fmt_time(done.unwrap_or_default())
            ));
        }
        // The voting algorithm gives more than the times say: a read returns
        // a version at least as new as that of every write finished before
        // it began (a read quorum meets every finished write's quorum).
        let mine = if value == INITIAL { Some(Version::default()) } else { self.versions.get(&value).copied() };
        if let Some(mine) = mine {
            let newer = self
                .writes
                .iter()
                .filter(|(_, &(_, _, done))| done.is_some_and(|d| d < r.began))
                .filter_map(|(v, &(writer, _, done))| Some((*v, writer, done?, *self.versions.get(v)?)))
                .filter(|&(_, _, _, version)| version > mine)
                .max_by_key(|&(_, _, _, version)| version);
            if let Some((v, writer, done, version)) = newer {
                let old = if value == INITIAL { "the initial value".to_string() } else { format!("{value}") };
                return Err(format!(
                    "{reader} returned {old} (version {}); but node {writer}'s write of {v}, with the newer \
                     version {}, had finished at {}, before the read began: the read must return {v} or \
                     something newer. Return the value with the highest version among NR replies (compare whole \
                     `Version`s: counter, then writer)",
                    show(mine),
                    show(version),
                    fmt_time(done)
                ));
            }
        }
        Ok(())
    }
}

impl Monitor<RegisterMsg> for ReadsLatest {
    fn name(&self) -> String {
        LATEST.into()
    }
    fn on_event(&mut self, step: &Step<'_, RegisterMsg>) -> Result<(), String> {
        self.replica_step(step)?;
        match self.tracker.step(step) {
            Ok(Some(OpEvent::Began(r))) => {
                if let Op::Write(v) = r.op {
                    self.writes.insert(v, (r.client, r.began, None));
                }
            }
            Ok(Some(OpEvent::Finished(r, read))) => match (r.op, read) {
                (Op::Write(v), _) => {
                    if let Some(w) = self.writes.get_mut(&v) {
                        w.2 = Some(step.at);
                    }
                }
                (Op::Read, Some(value)) => {
                    self.reads += 1;
                    self.judge_read(&r, value, step.at)?;
                }
                _ => {}
            },
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        if self.reads == 0 {
            return Err("no read ever finished, so there was nothing to judge".into());
        }
        Ok(())
    }
}

/// The quorums a client waited for: every write heard from more than N/2
/// replicas, and every read (and every write's version query) plus every
/// write's acknowledgements make more than N.
#[derive(Clone, Debug, Hash)]
pub struct QuorumsOverlap {
    tracker: Tracker,
    replicas: usize,
    /// The smallest write quorum and read quorum seen so far, with who.
    smallest_write: Option<(usize, NodeId, u64)>,
    smallest_read: Option<(usize, NodeId, u64)>,
    finished: usize,
}

impl QuorumsOverlap {
    pub fn new(nodes: usize) -> Self {
        QuorumsOverlap {
            tracker: Tracker::new(nodes),
            replicas: replicas(nodes),
            smallest_write: None,
            smallest_read: None,
            finished: 0,
        }
    }

    fn judge(&mut self, r: &OpRecord) -> Result<(), String> {
        let n = self.replicas;
        let who = format!("node {}'s operation {} ({})", r.client, r.k, describe(r.op));
        let read_quorum = r.replies.len();
        if let Op::Write(_) = r.op {
            let w = r.acks.len();
            if 2 * w <= n {
                return Err(format!(
                    "{who} finished after acknowledgements from {w} replica(s) {:?}; with N = {n} a write must be \
                     stored by more than N/2, so that any two writes meet at some replica",
                    r.acks
                ));
            }
            if self.smallest_write.is_none_or(|s| w < s.0) {
                self.smallest_write = Some((w, r.client, r.k));
            }
        }
        if self.smallest_read.is_none_or(|s| read_quorum < s.0) {
            self.smallest_read = Some((read_quorum, r.client, r.k));
        }
        if let (Some((nr, rc, rk)), Some((nw, wc, wk))) = (self.smallest_read, self.smallest_write) {
            if nr + nw <= n {
                return Err(format!(
                    "node {rc}'s operation {rk} took the highest version from {nr} replica(s), and node {wc}'s write \
                     (operation {wk}) was stored at {nw}: {nr} + {nw} is not more than N = {n}, so a read can miss \
                     a finished write entirely (NR + NW > N)"
                ));
            }
        }
        Ok(())
    }
}

impl Monitor<RegisterMsg> for QuorumsOverlap {
    fn name(&self) -> String {
        QUORUMS.into()
    }
    fn on_event(&mut self, step: &Step<'_, RegisterMsg>) -> Result<(), String> {
        if let Ok(Some(OpEvent::Finished(r, _))) = self.tracker.step(step) {
            self.finished += 1;
            self.judge(&r)?;
        }
        Ok(())
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        if self.finished == 0 {
            return Err("no operation ever finished, so there were no quorums to judge".into());
        }
        // The overlap NR + NW > N needs a write quorum to compare with.
        if self.smallest_write.is_none() {
            return Err("no write ever finished, so there was no write quorum to judge".into());
        }
        Ok(())
    }
}

/// Bounded liveness: within `DEADLINE` of the last fault every client has
/// finished all its operations.
#[derive(Clone, Debug, Hash)]
pub struct AllFinish {
    tracker: Tracker,
}

impl Monitor<RegisterMsg> for AllFinish {
    fn name(&self) -> String {
        DONE.into()
    }
    fn on_event(&mut self, step: &Step<'_, RegisterMsg>) -> Result<(), String> {
        let _ = self.tracker.step(step);
        Ok(())
    }
    fn deadline(&self) -> Option<Time> {
        Some(DEADLINE)
    }
    fn settled(&self) -> Result<(), String> {
        self.tracker.all_done()
    }
}

/// The workload: requests numbered by operation, results recorded in order.
#[derive(Clone, Debug, Hash)]
pub struct FollowsWorkload {
    tracker: Tracker,
}

impl Monitor<RegisterMsg> for FollowsWorkload {
    fn name(&self) -> String {
        WORKLOAD.into()
    }
    fn on_event(&mut self, step: &Step<'_, RegisterMsg>) -> Result<(), String> {
        self.tracker.step(step).map(|_| ())
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        self.tracker.all_done()
    }
}

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<RegisterMsg>>> {
    let n = scenario.nodes;
    vec![
        Box::new(ReadsLatest::new(n)),
        Box::new(QuorumsOverlap::new(n)),
        Box::new(AllFinish { tracker: Tracker::new(n) }),
        Box::new(FollowsWorkload { tracker: Tracker::new(n) }),
    ]
}

/// The student's own system: how many replicas, how lossy the network, and
/// which replica crashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub replicas: usize,
    /// Percent of messages lost in the faulty scenario.
    pub loss_percent: u32,
    pub crashes: NodeId,
}

pub fn variant(seed: u64) -> Variant {
    let mut rng = SeededRng::new(seed, 0x7265_6769);
    let replicas = 3 + rng.below(5) as usize;
    Variant { replicas, loss_percent: 10 + rng.below(11) as u32, crashes: rng.below(replicas as u64) as NodeId }
}

/// Delays in every scenario: 1 ms to `MAX_DELAY`.
pub const DELAY: Delay = Delay::Uniform { min: ms(1), max: MAX_DELAY };

fn scenario(name: &str, replicas: usize, network: Network, faults: Vec<Fault>) -> Scenario {
    let schedule = Schedule { name: name.into(), faults };
    let until = schedule.quiet_after() + DEADLINE + ms(50);
    Scenario { network, schedule, until, ..Scenario::new(name, replicas + CLIENTS) }
}

pub fn scenarios(seed: u64) -> Vec<ScenarioRuns> {
    let v = variant(seed);
    let calm = scenario("no faults", v.replicas, Network { delay: DELAY, ..Network::default() }, Vec::new());
    let lossy = Network { delay: DELAY, loss: v.loss_percent as f64 / 100.0, ..Network::default() };
    let faults = vec![Fault::Crash { node: v.crashes, at: ms(30) }, Fault::Recover { node: v.crashes, at: ms(55) }];
    let crash = scenario("lossy, a replica crashes and recovers", v.replicas, lossy, faults);
    let mut runs = vec![ScenarioRuns::public(calm, 3), ScenarioRuns::public(crash, 4)];
    runs.extend(hidden_scenarios(&v));
    runs
}

super::hidden! {
    /// Hidden: replicas that never come back (a minority), a partition that
    /// cuts a minority off, duplicates, and the smallest and a larger system.
    fn hidden_scenarios(v: &Variant) -> Vec<ScenarioRuns> {
        let rough = Network { delay: DELAY, loss: 0.15, duplicate: 0.2, ..Network::default() };
        let n = v.replicas.max(5);
        let gone = vec![Fault::Crash { node: 0, at: ms(10) }, Fault::Crash { node: n - 1, at: ms(40) }];
        let gone = scenario("two replicas crash for good", n, rough.clone(), gone);
        let split = vec![Fault::Partition { a: vec![0], b: (1..n + CLIENTS).collect(), start: ms(5), end: ms(120) }];
        let split = scenario("a replica cut off, then back with old data", n, rough.clone(), split);
        let churn: Vec<Fault> = (0..3)
            .flat_map(|r| {
                [
                    Fault::Crash { node: r, at: ms(10 + 40 * r as i64) },
                    Fault::Recover { node: r, at: ms(45 + 40 * r as i64) },
                ]
            })
            .collect();
        let churn = scenario("3 replicas, crashes one after another", 3, rough, churn);
        vec![ScenarioRuns::hidden(gone, 2), ScenarioRuns::hidden(split, 2), ScenarioRuns::hidden(churn, 2)]
    }
}

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "register",
    title: "A register replicated by voting",
    notebook: 10,
    position: 2,
    points: 10,
    task: "Write a node for `RegisterMsg`. Nodes `0..N` are replicas (`N = replicas(ctx.nodes())`); \
           the last `CLIENTS` nodes are clients. Pick a read quorum NR and a write quorum NW with \
           NR + NW > N and NW > N/2.\n\n\
           - **Replica**: hold a `Version` and a value (initially `Version::default()` and `INITIAL`). \
           Answer `Query { op }` with `Reply { op, version, value }`. On `Store { op, version, value }`, \
           keep the pair if `version` is newer than yours, and answer `Stored { op }` either way. Replicas \
           crash and come back: keep the pair with `ctx.persist` and read it back in `on_recover`.\n\
           - **Client** number `c` (node `N + c`) runs operations `k = 1..=OPS` of `operation(c, k)` one \
           after the other: the first `first_op(c)` after start, each next one `THINK` after the previous \
           finished. Every request carries its operation's number `op = k`; ignore replies for other \
           operations. A **read** sends `Query` and, once NR replicas replied, records \
           `Observation::Read { value }` with the value of the highest version among the replies. A \
           **write** of `v` first queries NR replicas for the highest version, then sends `Store` with \
           `Version { counter: highest.counter + 1, writer: me }` and records `Observation::Write { value: v }` \
           once NW replicas answered `Stored`.\n\n\
           Messages take up to `MAX_DELAY`, some are lost, and replicas crash (never a majority at once): \
           resend to replicas that haven't answered after a while.\n\n\
           Checks: no read returns a value that a finished write had overwritten before the read began \
           (if write A finished before write B began and B finished before the read began, the read must \
           not return A's value); every write is stored by more than N/2 replicas and every read quorum \
           plus every write quorum exceed N; within 1 s of the last fault every operation has finished; \
           requests are numbered by operation and results recorded in the workload's order.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: LATEST, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: QUORUMS, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: DONE, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: WORKLOAD, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: |seed| super::variant_json(variant(seed)),
};

pub fn check(solution: Box<NodeFactory<RegisterMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(run.seed), monitors, run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<RegisterMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "register",
    solution: Box<NodeFactory<RegisterMsg>> = Box::new(register_node),
    cell: {
        // BEGIN CELL
        use distlab::catalogue::register::{first_op, operation, replicas, Op, RegisterMsg, Version, CLIENTS, INITIAL, OPS, THINK};
        use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

        // BEGIN SOLUTION
        use std::collections::BTreeMap;

        use distlab::catalogue::register::MAX_DELAY;
        use distlab::ms;

        const NEXT_OP: TimerTag = 1; // client: time to start the next operation
        const RESEND: TimerTag = 2; // client: ask the replicas that have not answered again
        const HELD: &str = "version and value"; // replica: survives a crash

        /// (NR, NW) for n replicas: the smallest majority for writes, and the
        /// smallest read quorum that meets every write quorum.
        fn quorums(n: usize) -> (usize, usize) {
            let nw = n / 2 + 1;
            (n + 1 - nw, nw)
        }

        #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, Default)]
        enum Phase {
            #[default]
            Idle,
            /// Collecting versions: a read, or the first half of a write.
            Querying,
            /// Storing this version: the second half of a write.
            Storing(Version),
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        #[derive(Clone, Debug, Hash, Default)]
        struct Register {
            // BEGIN SOLUTION
            /// Replica: the newest version seen and its value.
            version: Version,
            value: i64,
            /// Client: operations finished, where the current one stands, and the
            /// answers to its current phase, by replica.
            done: u64,
            phase: Phase,
            answers: BTreeMap<NodeId, (Version, i64)>,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Register {
            fn client_number(ctx: &Ctx<RegisterMsg>) -> usize {
                ctx.me() - replicas(ctx.nodes())
            }

            /// The operation under way (numbered from 1).
            fn current(&self, ctx: &Ctx<RegisterMsg>) -> (u64, Op) {
                let k = self.done + 1;
                (k, operation(Self::client_number(ctx), k))
            }

            /// Sends this phase's request to every replica that has not answered it yet.
            fn ask_silent_replicas(&mut self, ctx: &mut Ctx<RegisterMsg>) {
                let (op, what) = self.current(ctx);
                let request = match (self.phase, what) {
                    (Phase::Storing(version), Op::Write(value)) => RegisterMsg::Store { op, version, value },
                    _ => RegisterMsg::Query { op },
                };
                for replica in (0..replicas(ctx.nodes())).filter(|r| !self.answers.contains_key(r)) {
                    ctx.send(replica, request.clone());
                }
                // A reply comes within two message delays, or it was lost.
                ctx.set_timer(RESEND, 2 * MAX_DELAY + ms(1));
            }

            fn enter(&mut self, ctx: &mut Ctx<RegisterMsg>, phase: Phase) {
                self.phase = phase;
                self.answers.clear();
                self.ask_silent_replicas(ctx);
            }

            fn finish(&mut self, ctx: &mut Ctx<RegisterMsg>, result: Observation) {
                ctx.observe(result);
                ctx.cancel_timer(RESEND);
                self.phase = Phase::Idle;
                self.done += 1;
                if self.done < OPS {
                    ctx.set_timer(NEXT_OP, THINK);
                }
            }

            fn on_answer(&mut self, ctx: &mut Ctx<RegisterMsg>, from: NodeId, msg: RegisterMsg) {
                let (nr, nw) = quorums(replicas(ctx.nodes()));
                let (k, what) = self.current(ctx);
                match (msg, self.phase) {
                    (RegisterMsg::Reply { op, version, value }, Phase::Querying) if op == k => {
                        self.answers.insert(from, (version, value));
                        if self.answers.len() < nr {
                            return;
                        }
                        let (newest, value) = self.answers.values().copied().max().expect("a quorum of answers");
                        match what {
                            Op::Read => self.finish(ctx, Observation::Read { value }),
                            Op::Write(_) => {
                                let version = Version { counter: newest.counter + 1, writer: ctx.me() };
                                self.enter(ctx, Phase::Storing(version));
                            }
                        }
                    }
                    (RegisterMsg::Stored { op }, Phase::Storing(_)) if op == k => {
                        self.answers.insert(from, (Version::default(), INITIAL));
                        if let (true, Op::Write(value)) = (self.answers.len() >= nw, what) {
                            self.finish(ctx, Observation::Write { value });
                        }
                    }
                    _ => {} // an answer to an earlier phase or operation
                }
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<RegisterMsg> for Register {
            fn on_start(&mut self, ctx: &mut Ctx<RegisterMsg>) {
                // BEGIN SOLUTION
                if ctx.me() < replicas(ctx.nodes()) {
                    self.value = INITIAL;
                } else if Self::client_number(ctx) < CLIENTS {
                    ctx.set_timer(NEXT_OP, first_op(Self::client_number(ctx)));
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, first_op(0), operation(0, 1), replicas(CLIENTS + 1), Op::Read, Version::default(), INITIAL, OPS, THINK);
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<RegisterMsg>, from: NodeId, msg: RegisterMsg) {
                // BEGIN SOLUTION
                match msg {
                    RegisterMsg::Query { op } => {
                        ctx.send(from, RegisterMsg::Reply { op, version: self.version, value: self.value });
                    }
                    RegisterMsg::Store { op, version, value } => {
                        if version > self.version {
                            (self.version, self.value) = (version, value);
                            ctx.persist(HELD, &(version, value));
                        }
                        ctx.send(from, RegisterMsg::Stored { op }); // stored, or held something newer
                    }
                    answer => self.on_answer(ctx, from, answer),
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg, Observation::Read { value: 0 });
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<RegisterMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                match timer {
                    NEXT_OP => self.enter(ctx, Phase::Querying),
                    _ if self.phase != Phase::Idle => self.ask_silent_replicas(ctx),
                    _ => {}
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }

            fn on_recover(&mut self, ctx: &mut Ctx<RegisterMsg>) {
                self.on_start(ctx);
                // BEGIN SOLUTION
                if let Some((version, value)) = ctx.recall(HELD) {
                    (self.version, self.value) = (version, value);
                }
                // END SOLUTION
                // BEGIN STARTER
                // END STARTER
            }
        }

        fn register_node(_id: NodeId) -> Box<dyn Process<RegisterMsg>> {
            Box::new(Register::default())
        }
        // END CELL
    }
}
