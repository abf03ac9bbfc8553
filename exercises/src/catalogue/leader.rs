//! Checks and scenario helpers shared by the election exercises (notebook
//! 6): who follows whom, judged from `Observation::Leader` and the crash
//! and recovery events, for any message type.

use crate::check::{Monitor, RunEnd, Step};
use crate::faults::fmt_time;
use crate::process::{Message, Observation};
use crate::scenario::Scenario;
use crate::trace::EventKind;
use crate::{Delay, Fault, Network, NodeId, Schedule, Time};

/// The longest a message takes in the election scenarios; the task states it
/// so students can size their timeouts.
pub const MAX_DELAY: Time = 5_000;

/// A reliable network (nothing is lost outside partitions and crashes) with
/// delays between 1 ms and [`MAX_DELAY`]: timeouts are sound.
pub fn network() -> Network {
    Network { delay: Delay::Uniform { min: 1_000, max: MAX_DELAY }, ..Network::default() }
}

/// A scenario that runs long enough after its last fault for the liveness
/// deadline to pass.
pub fn scenario(name: &str, nodes: usize, faults: Vec<Fault>, deadline: Time) -> Scenario {
    let schedule = Schedule { name: name.into(), faults };
    let until = schedule.quiet_after().max(crate::ms(100)) + deadline + crate::ms(200);
    Scenario { network: network(), schedule, until, ..Scenario::new(name, nodes) }
}

fn list(nodes: &[NodeId]) -> String {
    let text: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
    match text.len() {
        0 => String::new(),
        1 => format!("node {}", text[0]),
        _ => format!("nodes {} and {}", text[..text.len() - 1].join(", "), text[text.len() - 1]),
    }
}

/// The hidden scenarios of both exercises: more nodes, random crash and recovery
/// schedules that keep some nodes up, and partitions that heal.
#[cfg(feature = "grader")]
pub fn hidden_scenarios(deadline: Time) -> Vec<super::runs::ScenarioRuns> {
    use super::runs::ScenarioRuns;
    use crate::{ms, RandomFaults};
    let mut runs = Vec::new();
    for k in 0..4u64 {
        let crashes = RandomFaults { crashes: 4, recover: true, partitions: 0, horizon: ms(500), max_down: 3 };
        let faults = Schedule::random(1000 + k, 8, &crashes).faults;
        runs.push(ScenarioRuns::hidden(scenario(&format!("8 nodes, random crashes #{k}"), 8, faults, deadline), 2));
    }
    for k in 0..3u64 {
        let split = RandomFaults { crashes: 2, recover: true, partitions: 1, horizon: ms(500), max_down: 2 };
        let faults = Schedule::random(2000 + k, 7, &split).faults;
        runs.push(ScenarioRuns::hidden(scenario(&format!("7 nodes, partition heals #{k}"), 7, faults, deadline), 2));
    }
    let everyone_but_one: Vec<Fault> = (1..6).map(|n| Fault::Crash { node: n, at: ms(100 + 20 * n as i64) }).collect();
    runs.push(ScenarioRuns::hidden(scenario("only node 0 survives", 6, everyone_but_one, deadline), 2));
    runs
}

/// Safety checks pass trivially when nothing happens; a run where no node
/// ever took a coordinator earns no points from them.
pub const NOTHING_ELECTED: &str =
    "no node ever took a coordinator (no Observation::Leader), so there is nothing to judge";

/// Whether this event is a node taking a coordinator.
pub fn is_adoption<M>(kind: &EventKind<M>) -> bool {
    matches!(kind, EventKind::Observe { what: Observation::Leader(_), .. })
}

/// Who is up and whom each node follows, from the events so far.
#[derive(Clone, Debug, Hash)]
pub struct Followers {
    pub up: Vec<bool>,
    pub follows: Vec<Option<NodeId>>,
}

impl Followers {
    pub fn new(nodes: usize) -> Self {
        Followers { up: vec![true; nodes], follows: vec![None; nodes] }
    }

    /// Returns the adoption this event is, if any: (node, leader).
    pub fn step<M>(&mut self, kind: &EventKind<M>) -> Option<(NodeId, NodeId)> {
        match kind {
            EventKind::Crash { node } | EventKind::Recover { node } => {
                // A crash loses the node's belief; a recovered node has none yet.
                self.up[*node] = matches!(kind, EventKind::Recover { .. });
                self.follows[*node] = None;
            }
            EventKind::Observe { node, what: Observation::Leader(l) } => {
                self.follows[*node] = Some(*l);
                return Some((*node, *l));
            }
            _ => {}
        }
        None
    }

    /// Every live node follows the highest live id (which follows itself).
    pub fn agreement(&self) -> Result<(), String> {
        let live: Vec<NodeId> = (0..self.up.len()).filter(|&n| self.up[n]).collect();
        let Some(&top) = live.last() else { return Ok(()) };
        if live.iter().all(|&n| self.follows[n] == Some(top)) {
            return Ok(());
        }
        // Group live nodes by whom they follow, for a short sentence.
        let mut groups: Vec<(Option<NodeId>, Vec<NodeId>)> = Vec::new();
        for &n in &live {
            match groups.iter_mut().find(|(l, _)| *l == self.follows[n]) {
                Some((_, members)) => members.push(n),
                None => groups.push((self.follows[n], vec![n])),
            }
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(l, members)| {
                let verb = if members.len() == 1 { "follows" } else { "follow" };
                match l {
                    Some(l) => format!("{} {verb} {l}", list(members)),
                    None => format!("{} {verb} nobody", list(members)),
                }
            })
            .collect();
        Err(format!("{}; node {top} is the highest live id", parts.join(", ")))
    }
}

/// Bounded liveness: some time after the last fault, exactly one
/// coordinator, the highest live id, followed by every live node; and it
/// still holds when the run ends.
#[derive(Clone, Debug, Hash)]
pub struct AgreeOnHighest {
    pub state: Followers,
    pub quiet: Time,
    pub deadline: Time,
}

pub const AGREE: &str = "all live nodes follow the highest live id";

impl AgreeOnHighest {
    pub fn new(scenario: &Scenario, deadline: Time) -> Self {
        AgreeOnHighest { state: Followers::new(scenario.nodes), quiet: scenario.schedule.quiet_after(), deadline }
    }
}

impl<M: Message> Monitor<M> for AgreeOnHighest {
    fn name(&self) -> String {
        AGREE.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        self.state.step(step.kind);
        Ok(())
    }
    fn deadline(&self) -> Option<Time> {
        Some(self.deadline)
    }
    fn settled(&self) -> Result<(), String> {
        self.state.agreement().map_err(|why| {
            format!("after the last fault (at {}) the live nodes still disagree: {why}", fmt_time(self.quiet))
        })
    }
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        self.state
            .agreement()
            .map_err(|why| format!("agreement did not last: at the end of the run ({}) {why}", fmt_time(end.end)))
    }
}

/// Safety, made fair for timeouts: once a node has been up for `settle`
/// with no partition in force, nobody may adopt a lower leader than it.
/// (Sooner than that, a node can't yet know the higher one is back.)
#[derive(Clone, Debug, Hash)]
pub struct NoLowerLeader {
    pub elected: bool,
    pub up_since: Vec<Option<Time>>,
    /// (start, end) of every partition or cut.
    pub link_faults: Vec<(Time, Time)>,
    pub settle: Time,
}

pub const NO_LOWER: &str = "nobody adopts a lower leader once a higher node has settled";

impl NoLowerLeader {
    pub fn new(scenario: &Scenario, settle: Time) -> Self {
        let link_faults = scenario
            .schedule
            .faults
            .iter()
            .filter(|f| matches!(f, Fault::Partition { .. } | Fault::Cut { .. }))
            .map(|f| (f.start(), f.end()))
            .collect();
        NoLowerLeader { elected: false, up_since: vec![Some(0); scenario.nodes], link_faults, settle }
    }
}

impl<M: Message> Monitor<M> for NoLowerLeader {
    fn name(&self) -> String {
        NO_LOWER.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        self.elected |= is_adoption(step.kind);
        let t = step.at;
        match step.kind {
            EventKind::Crash { node } => self.up_since[*node] = None,
            EventKind::Recover { node } => self.up_since[*node] = Some(t),
            EventKind::Observe { node, what: Observation::Leader(l) } => {
                let window = t - self.settle;
                if self.link_faults.iter().any(|&(s, e)| s <= t && e > window) {
                    return Ok(());
                }
                let settled =
                    (l + 1..self.up_since.len()).rev().find(|&h| self.up_since[h].is_some_and(|s| s <= window));
                if let Some(h) = settled {
                    return Err(format!(
                        "at {} node {node} adopted {l} as coordinator, but node {h} has been up since {} and \
                         reachable for more than {}: the highest live id must win",
                        fmt_time(t),
                        fmt_time(self.up_since[h].unwrap_or(0)),
                        fmt_time(self.settle)
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        if self.elected {
            Ok(())
        } else {
            Err(NOTHING_ELECTED.into())
        }
    }
}

/// A message budget: sends of one message kind stay within `per_round` for
/// each round of elections a run may need: one at the start, one per crash
/// or recovery, two per partition (when it splits and when it heals).
#[derive(Clone, Debug, Hash)]
pub struct ElectionBudget {
    pub name: &'static str,
    pub kind: &'static str,
    pub per_round: usize,
    pub rule: &'static str,
    pub rounds: usize,
    pub elected: bool,
}

impl ElectionBudget {
    pub fn rounds(scenario: &Scenario) -> usize {
        1 + scenario
            .schedule
            .faults
            .iter()
            .map(|f| match f {
                Fault::Crash { .. } | Fault::Recover { .. } => 1,
                Fault::Partition { .. } | Fault::Cut { .. } => 2,
            })
            .sum::<usize>()
    }
}

impl<M: Message> Monitor<M> for ElectionBudget {
    fn name(&self) -> String {
        self.name.into()
    }
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        self.elected |= is_adoption(step.kind);
        Ok(())
    }
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        if !self.elected {
            return Err(NOTHING_ELECTED.into());
        }
        let sent = end.counters.by_kind.get(self.kind).copied().unwrap_or(0);
        let bound = self.per_round * self.rounds;
        if sent <= bound {
            return Ok(());
        }
        Err(format!(
            "the nodes sent {sent} {} messages; this run allows {bound}: {} per round ({}) times {} round(s) \
             (one for the start, one per crash or recovery, two per partition)",
            self.kind.to_uppercase(),
            self.per_round,
            self.rule,
            self.rounds
        ))
    }
}
