//! What the three mutual-exclusion exercises of notebook 7 share: the
//! workload every node follows, the monitors that judge it, scenario
//! helpers, and the measured counterpart of the textbook's cost table.
//!
//! The workload lives in the node's code (timers), so every run of a
//! scenario asks for the critical section at the same moments whatever the
//! algorithm; contention comes from the number of nodes and the delays.

use std::collections::{BTreeMap, BTreeSet};

use crate::check::{Monitor, Step};
use crate::faults::fmt_time;
use crate::network::Delay;
use crate::process::{Message, Observation};
use crate::scenario::Scenario;
use crate::trace::EventKind;
use crate::{ms, Network, NodeId, Time};

/// Node `i` asks for the first time `(i + 1) * SLOT` after it starts.
pub const SLOT: Time = ms(10);
/// How long a node stays inside before it leaves.
pub const HOLD: Time = ms(5);
/// How many times every asking node enters.
pub const ROUNDS: u32 = 3;

/// When node `id` first asks, counted from its start.
pub fn first_request(id: NodeId) -> Time {
    SLOT * (id as Time + 1)
}

/// How long a node waits after leaving before it asks again.
pub fn think_time(nodes: usize) -> Time {
    SLOT * nodes as Time
}

pub const SAFETY: &str = "never two in the critical section";
pub const LIVENESS: &str = "every request is served";
pub const COST: &str = "messages per entry";
pub const DELAY: &str = "delay before entry";

/// A check that saw no entry has judged nothing: it must not pass, or a
/// node that does nothing would earn its points.
pub fn some_entry(entries: usize) -> Result<(), String> {
    if entries == 0 {
        Err("no node ever entered the critical section, so there was nothing to judge".into())
    } else {
        Ok(())
    }
}

fn observed<'a, M>(step: &Step<'a, M>) -> Option<(NodeId, &'a Observation)> {
    match step.kind {
        EventKind::Observe { node, what } => Some((*node, what)),
        _ => None,
    }
}

/// Safety: at most one node inside at any time, and a node enters only
/// after asking.
#[derive(Clone, Debug, Hash, Default)]
pub struct OneInside {
    inside: BTreeMap<NodeId, Time>,
    asked: BTreeSet<NodeId>,
    entries: usize,
}

impl<M: Message> Monitor<M> for OneInside {
    fn name(&self) -> String {
        SAFETY.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        let at = fmt_time(step.at);
        if let EventKind::Crash { node } = step.kind {
            self.inside.remove(node);
            self.asked.remove(node);
        }
        let Some((node, what)) = observed(step) else { return Ok(()) };
        match what {
            Observation::RequestCritical => {
                self.asked.insert(node);
            }
            Observation::EnterCritical => {
                if self.inside.contains_key(&node) {
                    return Err(format!(
                        "node {node} entered the critical section at {at} although it was already inside"
                    ));
                }
                if let Some((other, since)) = self.inside.iter().next() {
                    return Err(format!(
                        "node {node} entered the critical section at {at} while node {other} was still inside (since {})",
                        fmt_time(*since)
                    ));
                }
                if !self.asked.remove(&node) {
                    return Err(format!(
                        "node {node} entered the critical section at {at} without asking first (no RequestCritical)"
                    ));
                }
                self.inside.insert(node, step.at);
                self.entries += 1;
            }
            Observation::ExitCritical => {
                let was_inside = self.inside.remove(&node).is_some();
                if !was_inside {
                    return Err(format!("node {node} left the critical section at {at} without being inside"));
                }
            }
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, _: &crate::check::RunEnd<'_>) -> Result<(), String> {
        some_entry(self.entries)
    }
}

/// Safety, the part about messages: a node enters only after the messages
/// that give it permission reached it, after it asked: a Grant from the
/// coordinator (node 0), or a Reply from every other node. Without this
/// rule a node that enters whenever it likes passes every run whose
/// workload happens not to overlap (and nodes that coordinate through
/// shared memory pass everything).
#[derive(Clone, Debug, Hash)]
pub struct Permitted<M> {
    /// Is this message a permission?
    grants: fn(&M) -> bool,
    /// Every other of this many nodes must grant (Ricart-Agrawala); with
    /// `None`, node 0 alone (the coordinator).
    all_of: Option<usize>,
    /// Per asking node: when it asked, and who has granted since.
    pending: BTreeMap<NodeId, (Time, BTreeSet<NodeId>)>,
}

impl<M> Permitted<M> {
    pub fn by_coordinator(grants: fn(&M) -> bool) -> Self {
        Permitted { grants, all_of: None, pending: BTreeMap::new() }
    }
    pub fn by_everyone_else(nodes: usize, grants: fn(&M) -> bool) -> Self {
        Permitted { grants, all_of: Some(nodes), pending: BTreeMap::new() }
    }
}

impl<M: Message> Monitor<M> for Permitted<M> {
    fn name(&self) -> String {
        SAFETY.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        match step.kind {
            EventKind::Crash { node } => {
                self.pending.remove(node);
            }
            EventKind::Deliver { from, to, .. } => {
                if let (Some(msg), Some((_, granted))) = (step.msg, self.pending.get_mut(to)) {
                    if (self.grants)(msg) {
                        granted.insert(*from);
                    }
                }
            }
            EventKind::Observe { node, what: Observation::RequestCritical } => {
                self.pending.insert(*node, (step.at, BTreeSet::new()));
            }
            EventKind::Observe { node, what: Observation::EnterCritical } => {
                let Some((asked, granted)) = self.pending.remove(node) else { return Ok(()) }; // OneInside says it
                let missing: Vec<NodeId> = if let Some(nodes) = self.all_of {
                    (0..nodes).filter(|n| n != node && !granted.contains(n)).collect()
                } else if granted.contains(&0) {
                    Vec::new()
                } else {
                    vec![0]
                };
                if !missing.is_empty() {
                    let who: Vec<String> = missing.iter().map(|n| format!("node {n}")).collect();
                    return Err(format!(
                        "node {node} entered the critical section at {} without permission: since it asked at {}, \
                         no permission message had reached it from {}. A node may enter only once the messages \
                         of the algorithm say so (on the grader, nodes share nothing but messages)",
                        fmt_time(step.at),
                        fmt_time(asked),
                        who.join(", ")
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Bounded liveness: by the deadline every request has been granted and
/// every asking node has entered `ROUNDS` times.
#[derive(Clone, Debug, Hash)]
pub struct EveryRequestServed {
    askers: Vec<NodeId>,
    waiting: BTreeMap<NodeId, Time>,
    entries: BTreeMap<NodeId, u32>,
    deadline: Time,
}

impl EveryRequestServed {
    pub fn new(askers: Vec<NodeId>, deadline: Time) -> Self {
        EveryRequestServed { askers, waiting: BTreeMap::new(), entries: BTreeMap::new(), deadline }
    }
}

impl<M: Message> Monitor<M> for EveryRequestServed {
    fn name(&self) -> String {
        LIVENESS.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        match observed(step) {
            Some((node, Observation::RequestCritical)) => {
                self.waiting.entry(node).or_insert(step.at);
            }
            Some((node, Observation::EnterCritical)) => {
                self.waiting.remove(&node);
                *self.entries.entry(node).or_default() += 1;
            }
            _ => {}
        }
        Ok(())
    }
    fn deadline(&self) -> Option<Time> {
        Some(self.deadline)
    }
    fn settled(&self) -> Result<(), String> {
        if let Some((node, since)) = self.waiting.iter().next() {
            return Err(format!(
                "node {node} asked for the critical section at {} and was still waiting",
                fmt_time(*since)
            ));
        }
        for &node in &self.askers {
            let got = self.entries.get(&node).copied().unwrap_or(0);
            if got < ROUNDS {
                return Err(format!(
                    "node {node} got into the critical section {got} time(s), not the {ROUNDS} its workload asks for"
                ));
            }
        }
        Ok(())
    }
}

/// Cost: no more than `per_entry` messages per entry over the whole run
/// (the textbook's figure for the algorithm).
#[derive(Clone, Debug, Hash)]
pub struct MessagesPerEntry {
    per_entry: usize,
    entries: usize,
}

impl MessagesPerEntry {
    pub fn new(per_entry: usize) -> Self {
        MessagesPerEntry { per_entry, entries: 0 }
    }
}

impl<M: Message> Monitor<M> for MessagesPerEntry {
    fn name(&self) -> String {
        COST.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        if let Some((_, Observation::EnterCritical)) = observed(step) {
            self.entries += 1;
        }
        Ok(())
    }
    fn at_end(&mut self, end: &crate::check::RunEnd<'_>) -> Result<(), String> {
        some_entry(self.entries)?;
        let sent = end.counters.sent;
        if sent > self.per_entry * self.entries {
            let kinds: Vec<String> = end.counters.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
            return Err(format!(
                "{sent} messages ({}) for {} entries: more than the {} per entry the algorithm needs",
                kinds.join(", "),
                self.entries,
                self.per_entry
            ));
        }
        Ok(())
    }
}

/// Delay: a request made while nobody else is asking or inside, and not
/// overtaken by another request, is granted within two message delays
/// (`bound` is twice the network's longest delay). Without a longest delay
/// (exponential delays) there is nothing to check.
#[derive(Clone, Debug, Hash)]
pub struct QuickWhenAlone {
    entries: usize,
    bound: Option<Time>,
    busy: BTreeSet<NodeId>,
    alone: BTreeMap<NodeId, Time>,
}

impl QuickWhenAlone {
    pub fn new(network: &Network) -> Self {
        QuickWhenAlone {
            entries: 0,
            bound: longest_delay(network).map(|d| 2 * d),
            busy: BTreeSet::new(),
            alone: BTreeMap::new(),
        }
    }
}

/// The longest delay the network can give, if it has one.
pub fn longest_delay(network: &Network) -> Option<Time> {
    match network.delay {
        Delay::Constant { us } => Some(us),
        Delay::Uniform { max, .. } => Some(max),
        Delay::Exponential { .. } => None,
    }
}

impl<M: Message> Monitor<M> for QuickWhenAlone {
    fn name(&self) -> String {
        DELAY.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        if let Some((_, Observation::EnterCritical)) = observed(step) {
            self.entries += 1;
        }
        let Some(bound) = self.bound else { return Ok(()) };
        match observed(step) {
            Some((node, Observation::RequestCritical)) => {
                // Any other request makes the pending ones contended.
                self.alone.clear();
                if self.busy.is_empty() {
                    self.alone.insert(node, step.at);
                }
                self.busy.insert(node);
            }
            Some((node, Observation::EnterCritical)) => {
                if let Some(asked) = self.alone.remove(&node) {
                    if step.at - asked > bound {
                        return Err(format!(
                            "node {node} asked at {} with nobody else asking or inside, but entered only at {}: \
                             longer than two message delays (at most {} on this network)",
                            fmt_time(asked),
                            fmt_time(step.at),
                            fmt_time(bound)
                        ));
                    }
                }
            }
            Some((node, Observation::ExitCritical)) => {
                self.busy.remove(&node);
            }
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, _: &crate::check::RunEnd<'_>) -> Result<(), String> {
        some_entry(self.entries)
    }
}

/// A reliable (no loss, no duplicates) scenario for the mutex exercises:
/// the run lasts a little past the liveness deadline.
pub fn scenario(name: &str, nodes: usize, delay: Delay, fifo: bool, deadline: Time) -> Scenario {
    Scenario {
        network: Network { delay, fifo, ..Network::default() },
        until: deadline + ms(10),
        ..Scenario::new(name, nodes)
    }
}

/// The liveness deadline of a scenario: the run is built to last just past
/// it, so it is read back from `until`.
pub fn deadline_of(scenario: &Scenario) -> Time {
    scenario.until - ms(10)
}

/// One line of the cost table: the textbook's figures and what the
/// simulation measured with a constant-delay network.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Row {
    pub algorithm: &'static str,
    pub textbook_messages: &'static str,
    pub textbook_delay: &'static str,
    /// Messages per entry: fewest and most seen.
    pub messages: (f64, f64),
    /// Time from asking to entering, in message delays: shortest and
    /// longest seen.
    pub delay: (f64, f64),
}

/// What one run of a workload cost, read off its trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured {
    pub entries: usize,
    pub sent: usize,
    /// Per entry: time from asking to entering, in units of `delay`.
    pub waits: Vec<f64>,
    /// Per entry: messages sent (by anyone) from asking to entering. For
    /// the token ring these are the hops the entry waited for; unlike
    /// `waits` they leave out time spent inside by others.
    pub hops: Vec<usize>,
    /// Messages sent between one entry and the next (any nodes).
    pub between_entries: Vec<usize>,
}

impl Measured {
    pub fn per_entry(&self) -> f64 {
        self.sent as f64 / self.entries.max(1) as f64
    }
}

/// Runs `factory` on `nodes` nodes over a network with constant `delay`,
/// so every message takes exactly one message delay, and measures it.
/// Works on a student's node as well as on a reference.
pub fn measure<M: Message>(
    factory: Box<crate::process::NodeFactory<M>>,
    nodes: usize,
    delay: Time,
    hardware_broadcast: bool,
) -> Measured {
    let network =
        Network { delay: Delay::Constant { us: delay }, fifo: true, hardware_broadcast, ..Network::default() };
    let busy = ROUNDS as Time * (think_time(nodes) + nodes as Time * (HOLD + 2 * nodes as Time * delay));
    let scenario = Scenario { network, until: first_request(nodes) + busy, ..Scenario::new("cost table", nodes) };
    let trace = crate::sim::simulate_with(&scenario, 1, std::rc::Rc::from(factory)).expect("valid scenario");
    let mut m = Measured::default();
    let mut asked: BTreeMap<NodeId, (Time, usize)> = BTreeMap::new();
    let mut since_entry: Option<usize> = None;
    for e in &trace.events {
        match &e.kind {
            EventKind::Send { .. } => {
                m.sent += 1;
                if let Some(k) = since_entry.as_mut() {
                    *k += 1;
                }
                for (_, hops) in asked.values_mut() {
                    *hops += 1;
                }
            }
            EventKind::Observe { node, what: Observation::RequestCritical } => {
                asked.entry(*node).or_insert((e.at, 0));
            }
            EventKind::Observe { node, what: Observation::EnterCritical } => {
                m.entries += 1;
                if let Some((t, hops)) = asked.remove(node) {
                    m.waits.push((e.at - t) as f64 / delay as f64);
                    m.hops.push(hops);
                }
                if let Some(k) = since_entry.replace(0) {
                    m.between_entries.push(k);
                }
            }
            _ => {}
        }
    }
    // Messages after the last entry serve no entry; they still count in
    // `sent` (the token keeps circling), not in `between_entries`.
    m
}

#[cfg(feature = "reference")]
fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// The textbook's table, measured on the reference solutions with `nodes`
/// nodes (at least 3). Messages per entry for the centralized and
/// distributed algorithms are exact (every message serves one entry);
/// for the token ring they are the token passes between one entry and
/// the next, fewest under full contention (a 50 ms network, everyone
/// waiting) and most with a very fast network (0.1 ms) and a mostly idle
/// ring. Delays
/// are the time from asking to entering divided by the message delay,
/// over a fast (1 ms) and a slower (3 ms) network; for the token ring,
/// the hops the token made from asking to entering.
#[cfg(feature = "reference")]
pub fn message_table(nodes: usize) -> Vec<Row> {
    use super::{central, ricart, tokenring};
    let fast = [ms(1), ms(3)];
    let row = |algorithm, textbook_messages, textbook_delay, runs: Vec<Measured>| {
        let messages = min_max(runs.iter().map(Measured::per_entry));
        let delay = min_max(runs.iter().flat_map(|m| m.waits.iter().copied()));
        Row { algorithm, textbook_messages, textbook_delay, messages, delay }
    };
    let central = fast.iter().map(|&d| measure(central::reference::solution(), nodes, d, false)).collect();
    let ricart = fast.iter().map(|&d| measure(ricart::reference::solution(), nodes, d, false)).collect();
    let broadcast = fast.iter().map(|&d| measure(ricart::reference::solution(), nodes, d, true)).collect();
    // A 0.1 ms network leaves the ring idle longer between entries: the
    // faster the token, the more hops per entry, without bound.
    let sparse: Vec<Measured> =
        [100, ms(1), ms(3)].iter().map(|&d| measure(tokenring::reference::solution(), nodes, d, false)).collect();
    let crowded = measure(tokenring::reference::solution(), nodes, ms(50), false);
    let passes = min_max(sparse.iter().chain([&crowded]).flat_map(|m| m.between_entries.iter().map(|&k| k as f64)));
    // In hops, not time: a node inside holds the token for HOLD, which is
    // no message delay.
    let waits = min_max(sparse.iter().chain([&crowded]).flat_map(|m| m.hops.iter().map(|&k| k as f64)));
    vec![
        row("centralized", "3", "2", central),
        row("distributed (Ricart-Agrawala)", "2(n-1)", "2(n-1)", ricart),
        row("distributed, hardware broadcast", "1 + (n-1)", "1 + (n-1)", broadcast),
        Row {
            algorithm: "token ring",
            textbook_messages: "1 to unbounded",
            textbook_delay: "0 to n-1",
            messages: passes,
            delay: waits,
        },
    ]
}
