//! Properties of runs and the verdicts they give.
//!
//! A [`Monitor`] watches events one at a time. It can reject an event
//! (a safety property: "never two nodes in the critical section"), demand a
//! condition by a deadline after the faults stop (bounded liveness: "every
//! live node knows the leader within 2 s"), and judge the run at its end
//! (counts against a bound). The same monitors run on simulator traces, on
//! every path of the explorer, and in the grader.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::faults::fmt_time;
use crate::process::Message;
use crate::stable_hash::StableHasher;
use crate::trace::{Event, EventKind, Stop, Trace};
use crate::{NodeId, Time};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// Not decided (the run stopped too early). Never counts as a pass.
    Unknown,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Unknown => "unknown",
        })
    }
}

/// The result of one check on one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub check: String,
    pub status: Status,
    /// A plain sentence: what held, or what went wrong and where.
    pub message: String,
    /// Index of the first violating event in the trace, if any.
    pub event: Option<usize>,
    pub at: Option<Time>,
    pub seed: u64,
    pub scenario: String,
    /// One line that reruns exactly this run.
    pub replay: String,
    /// The node a failure is about, where the diagram marks it: the node of
    /// the violating event, or the first node a violation judged over the
    /// whole run names ("node 0 never got a pong").
    #[serde(default)]
    pub node: Option<NodeId>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.status == Status::Pass
    }

    /// The same verdict about `node`, when there is one.
    fn about(self, node: Option<NodeId>) -> Verdict {
        Verdict { node: node.or(self.node), ..self }
    }
}

/// Words that name a node by its number in violation sentences.
const NODE_WORDS: [&str; 6] = ["node", "participant", "replica", "client", "machine", "process"];

/// The first node `text` names ("node 3", "participant 2", "node 1's"):
/// a violation sentence names the node it is about first, so that is
/// where a failure found at the end of a run (or at a deadline) is marked.
pub fn named_node(text: &str) -> Option<NodeId> {
    let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).collect();
    words.windows(2).find_map(|pair| {
        let named = NODE_WORDS.iter().any(|w| pair[0].eq_ignore_ascii_case(w));
        named.then(|| pair[1].parse().ok()).flatten()
    })
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.status, self.check, self.message)?;
        if self.status != Status::Pass {
            write!(f, " (scenario '{}', seed {}; replay: {})", self.scenario, self.seed, self.replay)?;
        }
        Ok(())
    }
}

/// One event as a monitor sees it: the payload of a message event is at
/// hand, whether the event comes from a trace or from the explorer.
pub struct Step<'a, M> {
    pub index: usize,
    pub at: Time,
    pub kind: &'a EventKind<M>,
    pub msg: Option<&'a M>,
}

/// How a run ended, for end-of-run judgements.
pub struct RunEnd<'a> {
    pub end: Time,
    pub stop: Stop,
    pub nodes: usize,
    /// Nodes up at the end.
    pub up: &'a [bool],
    pub counters: &'a Counters,
}

/// A property of runs. Monitors derive `Clone, Hash, Debug` (the explorer
/// copies and fingerprints them along every path).
pub trait Monitor<M: Message>: MonitorClone<M> {
    fn name(&self) -> String;
    /// Sees every event in order; an error is a violation at this event.
    fn on_event(&mut self, step: &Step<'_, M>) -> Result<(), String> {
        let _ = step;
        Ok(())
    }
    /// For bounded liveness: how long after the last fault [`Monitor::settled`]
    /// must hold.
    fn deadline(&self) -> Option<Time> {
        None
    }
    /// The liveness condition, judged once at the deadline (or at a
    /// quiescent end before it; in the explorer, at every state where
    /// nothing is left to happen).
    fn settled(&self) -> Result<(), String> {
        Ok(())
    }
    /// Judged when the run ends.
    fn at_end(&mut self, end: &RunEnd<'_>) -> Result<(), String> {
        let _ = end;
        Ok(())
    }
    /// What a passing verdict says, when "held throughout the run" would
    /// hide something the student should read (e.g. a run that blocked as
    /// the algorithm must).
    fn pass_note(&self) -> Option<String> {
        None
    }
}

pub trait MonitorClone<M: Message>: fmt::Debug + 'static {
    fn clone_monitor(&self) -> Box<dyn Monitor<M>>;
    fn fingerprint(&self) -> u64;
}

impl<M: Message, T: Monitor<M> + Clone + Hash + fmt::Debug + 'static> MonitorClone<M> for T {
    fn clone_monitor(&self) -> Box<dyn Monitor<M>> {
        Box::new(self.clone())
    }
    fn fingerprint(&self) -> u64 {
        let mut h = StableHasher::new();
        self.hash(&mut h);
        h.finish64()
    }
}

impl<M: Message> Clone for Box<dyn Monitor<M>> {
    fn clone(&self) -> Self {
        self.clone_monitor()
    }
}

/// Message counts of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Messages sent; a hardware broadcast counts once.
    pub sent: usize,
    pub delivered: usize,
    pub dropped: usize,
    pub duplicated: usize,
    /// Sends per message kind (the enum variant's name).
    pub by_kind: BTreeMap<String, usize>,
    /// Sends per sender.
    pub by_node: BTreeMap<usize, usize>,
}

impl Counters {
    pub fn of<M: Message>(trace: &Trace<M>) -> Counters {
        let mut c = Counters::default();
        for event in &trace.events {
            match &event.kind {
                EventKind::Send { from, msg, .. } => {
                    c.sent += 1;
                    *c.by_kind.entry(message_kind(msg)).or_default() += 1;
                    *c.by_node.entry(*from).or_default() += 1;
                }
                EventKind::Deliver { .. } => c.delivered += 1,
                EventKind::Drop { .. } => c.dropped += 1,
                EventKind::Duplicate { .. } => c.duplicated += 1,
                _ => {}
            }
        }
        c
    }
}

/// The variant name of a message: `Request { ts: 3 }` gives `Request`.
pub fn message_kind<M: fmt::Debug>(msg: &M) -> String {
    let text = format!("{msg:?}");
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    text[..end].to_owned()
}

/// Where a run came from, for verdicts: the one-line replay is built here.
#[derive(Clone, Debug)]
pub struct Provenance {
    pub scenario: String,
    pub seed: u64,
    pub replay: String,
}

impl Provenance {
    pub fn of<M>(trace: &Trace<M>, replay: impl Into<String>) -> Self {
        Provenance { scenario: trace.scenario.name.clone(), seed: trace.seed, replay: replay.into() }
    }

    fn verdict(&self, check: String, status: Status, message: String, event: Option<(usize, Time)>) -> Verdict {
        let node = if status == Status::Fail { named_node(&message) } else { None };
        Verdict {
            check,
            status,
            message,
            event: event.map(|e| e.0),
            at: event.map(|e| e.1),
            seed: self.seed,
            scenario: self.scenario.clone(),
            replay: self.replay.clone(),
            node,
        }
    }
}

/// Name of the built-in check that fails when a node panics.
pub const NODES_RUN_CLEANLY: &str = "nodes run without panicking";

/// Judges a trace with each monitor; one verdict per monitor, plus one for
/// the nodes' own failures.
pub fn check_trace<M: Message>(trace: &Trace<M>, monitors: &[Box<dyn Monitor<M>>], from: &Provenance) -> Vec<Verdict> {
    let counters = Counters::of(trace);
    let up = nodes_up_at_end(trace);
    let mut verdicts: Vec<Verdict> =
        monitors.iter().map(|monitor| judge(trace, monitor.clone(), &counters, &up, from)).collect();
    let failure = trace.events.iter().enumerate().find_map(|(i, e)| match &e.kind {
        EventKind::Fail { node, handler, message } => {
            Some((i, e.at, format!("node {node} failed in {handler}: {message}")))
        }
        _ => None,
    });
    verdicts.push(match failure {
        Some((i, at, text)) => from.verdict(NODES_RUN_CLEANLY.into(), Status::Fail, text, Some((i, at))),
        None => from.verdict(NODES_RUN_CLEANLY.into(), Status::Pass, "no handler panicked".into(), None),
    });
    verdicts
}

/// The verdict a student should read first among those `shown`: the root
/// cause of what went wrong. A failed node comes first (a panic or a bad
/// send stops the run, so every other verdict of that run is a consequence);
/// else, in the first run with a failure, the failure at the earliest event
/// (later violations may follow from it); else the first unknown. Rows,
/// the diagram and the replay line of a report all follow this one choice.
pub fn lead_verdict(verdicts: &[Verdict], shown: impl Fn(&Verdict) -> bool) -> Option<&Verdict> {
    let candidates: Vec<&Verdict> = verdicts.iter().filter(|v| !v.passed() && shown(v)).collect();
    let failed = |v: &&&Verdict| v.status == Status::Fail;
    if let Some(crash) = candidates.iter().filter(failed).find(|v| v.check == NODES_RUN_CLEANLY) {
        return Some(crash);
    }
    if let Some(first) = candidates.iter().find(failed) {
        let same_run = |v: &&&Verdict| v.scenario == first.scenario && v.seed == first.seed;
        // `min_by_key` keeps the first of equals: ties go to monitor order.
        return candidates
            .iter()
            .filter(failed)
            .filter(same_run)
            .min_by_key(|v| v.event.unwrap_or(usize::MAX))
            .copied();
    }
    candidates.first().copied()
}

fn judge<M: Message>(
    trace: &Trace<M>,
    mut monitor: Box<dyn Monitor<M>>,
    counters: &Counters,
    up: &[bool],
    from: &Provenance,
) -> Verdict {
    let name = monitor.name();
    let due = monitor.deadline().map(|d| trace.scenario.schedule.quiet_after() + d);
    let mut liveness_judged = false;
    for (index, event) in trace.events.iter().enumerate() {
        if let Some(due) = due.filter(|&due| !liveness_judged && event.at > due) {
            liveness_judged = true;
            if let Err(why) = monitor.settled() {
                let text = format!("{why} (by {}, the deadline after the last fault)", fmt_time(due));
                return from.verdict(name, Status::Fail, text, Some((index, due)));
            }
        }
        let step = Step { index, at: event.at, kind: &event.kind, msg: payload(trace, event) };
        if let Err(why) = monitor.on_event(&step) {
            return from.verdict(name, Status::Fail, why, Some((index, event.at))).about(event.node());
        }
    }
    if let Some(due) = due.filter(|_| !liveness_judged) {
        // A run that went quiet has reached its final state early; one cut
        // short by the clock, the event limit or a failure has not.
        if trace.end < due && trace.stop != Stop::Quiet {
            let text = format!(
                "not judged: the run stopped at {} because {}, before the deadline {}",
                fmt_time(trace.end),
                trace.stop,
                fmt_time(due)
            );
            return from.verdict(name, Status::Unknown, text, None);
        }
        if let Err(why) = monitor.settled() {
            let text = format!("{why} (by {}, the deadline after the last fault)", fmt_time(due));
            return from.verdict(name, Status::Fail, text, Some((trace.events.len().saturating_sub(1), due)));
        }
    }
    let end = RunEnd { end: trace.end, stop: trace.stop, nodes: trace.scenario.nodes, up, counters };
    match monitor.at_end(&end) {
        Err(why) => from.verdict(name, Status::Fail, why, Some((trace.events.len().saturating_sub(1), trace.end))),
        Ok(()) if trace.stop == Stop::EventLimit => from.verdict(
            name,
            Status::Unknown,
            format!("no violation in {} events, but the event limit cut the run short", trace.events.len()),
            None,
        ),
        // A run cut short by a failed node proves nothing about the rest:
        // a program that answers nothing must not pass by saying nothing.
        Ok(()) if trace.stop == Stop::NodeFailed => from.verdict(
            name,
            Status::Unknown,
            format!(
                "not judged: no violation before the run stopped at {} because {}",
                fmt_time(trace.end),
                trace.stop
            ),
            None,
        ),
        Ok(()) => {
            let note = monitor.pass_note().unwrap_or_else(|| "held throughout the run".into());
            from.verdict(name, Status::Pass, note, None)
        }
    }
}

fn payload<'a, M>(trace: &'a Trace<M>, event: &'a Event<M>) -> Option<&'a M> {
    match &event.kind {
        EventKind::Send { msg, .. } => Some(msg),
        EventKind::Deliver { id, .. } | EventKind::Drop { id, .. } | EventKind::Duplicate { id, .. } => {
            trace.message(*id)
        }
        _ => None,
    }
}

/// Which nodes are up when the trace ends.
pub fn nodes_up_at_end<M>(trace: &Trace<M>) -> Vec<bool> {
    let mut up = vec![true; trace.scenario.nodes];
    for event in &trace.events {
        match event.kind {
            EventKind::Crash { node } => up[node] = false,
            EventKind::Recover { node } => up[node] = true,
            _ => {}
        }
    }
    up
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(check: &str, status: Status, scenario: &str, event: Option<usize>) -> Verdict {
        Verdict {
            check: check.into(),
            status,
            message: String::new(),
            event,
            at: None,
            seed: 1,
            scenario: scenario.into(),
            replay: format!("replay {scenario}"),
            node: None,
        }
    }

    #[test]
    fn the_lead_is_a_crash_else_the_earliest_failure_of_the_first_failing_run() {
        let unknown = v("a", Status::Unknown, "s0", None);
        let late = v("a", Status::Fail, "s1", Some(40));
        let early = v("b", Status::Fail, "s1", Some(7));
        let other_run = v("c", Status::Fail, "s2", Some(1));
        let crash = v(NODES_RUN_CLEANLY, Status::Fail, "s3", Some(90));
        let all = |vs: &[&Verdict]| vs.iter().map(|v| (*v).clone()).collect::<Vec<_>>();
        let lead = |vs: Vec<Verdict>| lead_verdict(&vs, |_| true).cloned();
        assert_eq!(lead(all(&[&unknown, &late, &early, &other_run])), Some(early.clone()));
        assert_eq!(lead(all(&[&unknown, &late, &early, &other_run, &crash])), Some(crash.clone()));
        assert_eq!(lead(all(&[&unknown])), Some(unknown.clone()));
        let hidden = |x: &Verdict| x.check != "b";
        assert_eq!(lead_verdict(&all(&[&late, &early]), hidden), Some(&late));
    }

    #[test]
    fn the_first_node_a_sentence_names_is_its_subject() {
        assert_eq!(named_node("node 0 never got a pong from node(s) [1, 3]"), Some(0));
        assert_eq!(named_node("node 12's read returned 3"), Some(12));
        assert_eq!(named_node("participant 2, participant 3 never decided"), Some(2));
        assert_eq!(named_node("client node 4 sent Read"), Some(4));
        assert_eq!(named_node("Node 1 entered"), Some(1));
    }

    #[test]
    fn a_sentence_about_the_whole_run_names_no_node() {
        assert_eq!(named_node("no node ever sent a Pong, so there was no answer to judge"), None);
        assert_eq!(named_node("nodes 1 and 2 disagree"), None);
        assert_eq!(named_node("31 messages for 3 entries"), None);
        assert_eq!(named_node("node(s) [1, 2] are silent"), None);
    }
}
