//! Notebook 11, two-phase commit. Node 0 coordinates one transaction; the
//! other nodes are participants. The coordinator asks for votes, decides
//! commit only if everyone voted yes, and tells everyone; participants
//! write their vote and the decision to the durable store, so a crash
//! loses neither.
//!
//! The lesson is the blocking case: once a participant has voted yes it
//! may not decide alone, so if the coordinator dies after collecting the
//! votes and nobody alive knows the outcome, everyone waits. The checks
//! report such a run as "blocked" (the protocol's limit, not the
//! student's bug), and the explorer finds the shortest such run.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, RunEnd, Status, Step, NODES_RUN_CLEANLY};
use crate::explore::{Explorer, TimerPolicy};
use crate::faults::fmt_time;
use crate::network::Delay;
use crate::process::{Decision, NodeFactory, Observation};
use crate::rng::{Draw, SeededRng};
use crate::scenario::Scenario;
use crate::trace::{Dest, EventKind, Trace};
use crate::{ms, Fault, Network, NodeId, Schedule, Time};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TpcMsg {
    /// Coordinator to participant: please vote on the transaction.
    Prepare,
    /// Participant to coordinator: `true` is a yes (I can commit).
    Vote(bool),
    /// The outcome: commit.
    Commit,
    /// The outcome: abort.
    Abort,
    /// "Do you know the outcome?": a waiting participant asks the
    /// coordinator and the other participants.
    Ask,
}

/// How participant `participant` votes in a system of `nodes` nodes: with
/// an even number of nodes, participant `nodes / 2` votes no; every other
/// vote is yes.
pub fn votes_yes(participant: NodeId, nodes: usize) -> bool {
    nodes % 2 == 1 || participant != nodes / 2
}

pub const ATOMICITY: &str = "atomicity: one outcome, commit only if all voted yes";
pub const VALIDITY: &str = "validity: votes as told, commit when all say yes";
pub const TERMINATION: &str = "termination (or blocked)";
pub const BLOCKING: &str = "the blocking case";

/// How long after the last fault every live node must have decided.
pub const DEADLINE: Time = ms(250);

fn who(node: NodeId) -> String {
    if node == 0 {
        "the coordinator (node 0)".into()
    } else {
        format!("participant {node}")
    }
}

fn word(d: Decision) -> &'static str {
    match d {
        Decision::Commit => "commit",
        Decision::Abort => "abort",
    }
}

/// What every monitor here tracks: votes sent, decisions observed, who is
/// up.
#[derive(Clone, Debug, Hash)]
struct Ledger {
    nodes: usize,
    /// participant -> (its last vote, when).
    votes: BTreeMap<NodeId, (bool, Time)>,
    /// Participants that ever voted no.
    said_no: BTreeSet<NodeId>,
    /// node -> its first decision and when.
    decided: BTreeMap<NodeId, (Decision, Time)>,
    down: BTreeSet<NodeId>,
    crashes: usize,
}

impl Ledger {
    fn new(nodes: usize) -> Self {
        Ledger {
            nodes,
            votes: BTreeMap::new(),
            said_no: BTreeSet::new(),
            decided: BTreeMap::new(),
            down: BTreeSet::new(),
            crashes: 0,
        }
    }

    fn see(&mut self, step: &Step<'_, TpcMsg>) {
        match (step.kind, step.msg) {
            (EventKind::Send { from, .. }, Some(TpcMsg::Vote(yes))) if *from != 0 => {
                self.votes.insert(*from, (*yes, step.at));
                if !yes {
                    self.said_no.insert(*from);
                }
            }
            (EventKind::Observe { node, what: Observation::Decide(d) }, _) => {
                self.decided.entry(*node).or_insert((*d, step.at));
            }
            (EventKind::Crash { node }, _) => {
                self.down.insert(*node);
                self.crashes += 1;
            }
            (EventKind::Recover { node }, _) => {
                self.down.remove(node);
            }
            _ => {}
        }
    }

    fn participants(&self) -> impl Iterator<Item = NodeId> {
        1..self.nodes
    }

    fn all_voted_yes(&self) -> bool {
        self.said_no.is_empty() && self.participants().all(|p| matches!(self.votes.get(&p), Some((true, _))))
    }

    fn up(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes).filter(|n| !self.down.contains(n))
    }
}

/// Safety: no two nodes decide differently, no node changes its mind, and
/// commit only once every participant has voted yes (none no).
#[derive(Clone, Debug, Hash)]
pub struct Atomicity {
    ledger: Ledger,
}

impl Atomicity {
    pub fn new(nodes: usize) -> Self {
        Atomicity { ledger: Ledger::new(nodes) }
    }
}

impl Monitor<TpcMsg> for Atomicity {
    fn name(&self) -> String {
        ATOMICITY.into()
    }
    fn on_event(&mut self, step: &Step<'_, TpcMsg>) -> Result<(), String> {
        let EventKind::Observe { node, what: Observation::Decide(d) } = step.kind else {
            self.ledger.see(step);
            return Ok(());
        };
        let (node, d, at) = (*node, *d, fmt_time(step.at));
        for (&other, &(theirs, when)) in &self.ledger.decided {
            if theirs != d && other == node {
                return Err(format!(
                    "{} decided {} at {at} after deciding {} at {}: a decision is final, also across a crash \
                     (persist it, and read it back in on_recover)",
                    who(node),
                    word(d),
                    word(theirs),
                    fmt_time(when)
                ));
            }
            if theirs != d {
                return Err(format!(
                    "{} decided {} at {at}, but {} had decided {} at {}: all nodes must reach the same outcome",
                    who(node),
                    word(d),
                    who(other),
                    word(theirs),
                    fmt_time(when)
                ));
            }
        }
        if d == Decision::Commit {
            if let Some(p) = self.ledger.said_no.iter().next() {
                return Err(format!("{} decided commit at {at}, but participant {p} voted no", who(node)));
            }
            let missing: Vec<NodeId> =
                self.ledger.participants().filter(|p| !matches!(self.ledger.votes.get(p), Some((true, _)))).collect();
            if !missing.is_empty() {
                return Err(format!(
                    "{} decided commit at {at}, but participant(s) {missing:?} had not voted yes: \
                     commit needs a yes from every participant (a missing vote means abort)",
                    who(node)
                ));
            }
        }
        self.ledger.see(step);
        Ok(())
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        // A silent system breaks no rule, but it has shown nothing either.
        if self.ledger.decided.is_empty() && !self.ledger.down.contains(&0) {
            return Err("no node ever decided, so there was nothing to judge".into());
        }
        Ok(())
    }
}

/// Participants vote as `votes_yes` says, and a run with no failure where
/// everyone votes yes ends in commit.
#[derive(Clone, Debug, Hash)]
pub struct Validity {
    ledger: Ledger,
}

impl Validity {
    pub fn new(nodes: usize) -> Self {
        Validity { ledger: Ledger::new(nodes) }
    }
}

impl Monitor<TpcMsg> for Validity {
    fn name(&self) -> String {
        VALIDITY.into()
    }
    fn on_event(&mut self, step: &Step<'_, TpcMsg>) -> Result<(), String> {
        if let (EventKind::Send { from, .. }, Some(TpcMsg::Vote(yes))) = (step.kind, step.msg) {
            let told = votes_yes(*from, self.ledger.nodes);
            // A participant that has aborted on its own may only say no.
            let aborted = matches!(self.ledger.decided.get(from), Some((Decision::Abort, _)));
            if *from != 0 && *yes != told && (*yes || !aborted) {
                let say = |b: bool| if b { "yes" } else { "no" };
                return Err(format!(
                    "participant {from} voted {} at {}, but votes_yes({from}, {}) says {}",
                    say(*yes),
                    fmt_time(step.at),
                    self.ledger.nodes,
                    say(told)
                ));
            }
        }
        self.ledger.see(step);
        Ok(())
    }
    fn at_end(&mut self, _: &RunEnd<'_>) -> Result<(), String> {
        if self.ledger.crashes == 0 && self.ledger.votes.is_empty() {
            return Err("nothing failed, yet no participant ever voted, so there were no votes to judge".into());
        }
        let everyone_yes = (1..self.ledger.nodes).all(|p| votes_yes(p, self.ledger.nodes));
        if self.ledger.crashes > 0 || !everyone_yes {
            return Ok(());
        }
        match self.ledger.decided.get(&0) {
            Some((Decision::Commit, _)) => Ok(()),
            Some((Decision::Abort, at)) => Err(format!(
                "every participant votes yes and nothing failed, yet the coordinator decided abort at {}",
                fmt_time(*at)
            )),
            None => Err("every participant votes yes and nothing failed, yet the coordinator never decided".into()),
        }
    }
}

/// Bounded liveness: after the last fault every live node decides, unless
/// the run is blocked: the coordinator is down and no live node knows the
/// outcome. A live node that knows it must be asked, so a participant may
/// wait only when nobody alive could tell it.
#[derive(Clone, Debug, Hash)]
pub struct Termination {
    ledger: Ledger,
}

impl Termination {
    pub fn new(nodes: usize) -> Self {
        Termination { ledger: Ledger::new(nodes) }
    }

    fn undecided(&self) -> Vec<NodeId> {
        self.ledger.up().filter(|n| !self.ledger.decided.contains_key(n)).collect()
    }

    /// The blocked participants, if the run is blocked: the coordinator
    /// down, live participants undecided, no live node that knows, and one
    /// of them bound by a yes vote (without one, nobody was ever stuck: a
    /// silent system is not blocked).
    fn blocked(&self) -> Option<Vec<NodeId>> {
        let waiting = self.undecided();
        let knows = self.ledger.up().any(|n| self.ledger.decided.contains_key(&n));
        let bound = waiting.iter().any(|p| matches!(self.ledger.votes.get(p), Some((true, _))));
        (self.ledger.down.contains(&0) && !waiting.is_empty() && !knows && bound).then_some(waiting)
    }
}

impl Monitor<TpcMsg> for Termination {
    fn name(&self) -> String {
        TERMINATION.into()
    }
    fn on_event(&mut self, step: &Step<'_, TpcMsg>) -> Result<(), String> {
        self.ledger.see(step);
        Ok(())
    }
    fn deadline(&self) -> Option<Time> {
        Some(DEADLINE)
    }
    fn settled(&self) -> Result<(), String> {
        let waiting = self.undecided();
        if waiting.is_empty() || self.blocked().is_some() {
            return Ok(());
        }
        let names: Vec<String> = waiting.iter().map(|&n| who(n)).collect();
        if !self.ledger.down.contains(&0) {
            return Err(format!("{} never decided, although the coordinator was up", names.join(", ")));
        }
        let Some((knower, (d, _))) = self.ledger.decided.iter().find(|(n, _)| !self.ledger.down.contains(n)) else {
            return Err(format!(
                "{} never decided; the coordinator was down, but no waiting participant had voted yes, so none \
                 was bound to wait: a participant that has not voted yes may abort on its own",
                names.join(", ")
            ));
        };
        Err(format!(
            "{} never decided; the coordinator was down, but {}, which was up, knew the outcome ({}): \
             a waiting participant must ask the others",
            names.join(", "),
            who(*knower),
            word(*d)
        ))
    }
    fn pass_note(&self) -> Option<String> {
        let waiting = self.blocked()?;
        let yes: Vec<NodeId> =
            waiting.iter().copied().filter(|p| matches!(self.ledger.votes.get(p), Some((true, _)))).collect();
        Some(format!(
            "blocked: the coordinator is down and no live node knows the outcome, so participant(s) {waiting:?} \
             wait{}. Two-phase commit blocks here by design; this is not a mistake in your code",
            if yes.is_empty() {
                String::new()
            } else {
                format!(" (those that voted yes, {yes:?}, may not decide alone)")
            }
        ))
    }
}

/// For the explorer: flags the moment the protocol blocks, when the
/// coordinator crashes after every participant voted yes and before it
/// sent any outcome.
#[derive(Clone, Debug, Hash)]
pub struct BlockingMoment {
    ledger: Ledger,
    outcome_sent: bool,
}

impl BlockingMoment {
    pub fn new(nodes: usize) -> Self {
        BlockingMoment { ledger: Ledger::new(nodes), outcome_sent: false }
    }
}

impl Monitor<TpcMsg> for BlockingMoment {
    fn name(&self) -> String {
        BLOCKING.into()
    }
    fn on_event(&mut self, step: &Step<'_, TpcMsg>) -> Result<(), String> {
        if let (EventKind::Send { from: 0, .. }, Some(TpcMsg::Commit | TpcMsg::Abort)) = (step.kind, step.msg) {
            self.outcome_sent = true;
        }
        self.ledger.see(step);
        if matches!(step.kind, EventKind::Crash { node: 0 }) && self.ledger.all_voted_yes() && !self.outcome_sent {
            return Err(
                "the coordinator crashed after every participant voted yes and before it sent the outcome".into()
            );
        }
        Ok(())
    }
}

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "twophase",
    title: "Two-phase commit",
    notebook: 11,
    position: 1,
    points: 10,
    task: "Write one node type for `TpcMsg` that acts as the coordinator when its id is 0 and as a \
           participant otherwise. There is one transaction.\n\n\
           - **Coordinator.** At start, send `Prepare` to every participant. Decide commit if every \
           participant votes yes; decide abort if one votes no or if a vote has not arrived after a \
           while (use a timer: messages take 1 to 5 ms). Record the decision with \
           `ctx.persist`, observe it with `ctx.observe(Observation::Decide(..))` and send `Commit` \
           or `Abort` to every participant. Answer `Ask` with the outcome once you know it. After a \
           crash (`on_recover`), resend a recorded decision; with none recorded, decide abort.\n\
           - **Participant.** On `Prepare`, vote `Vote(votes_yes(me, n))`. Persist the vote *before* \
           you send it. A no vote means you may abort at once. After a yes you must wait for the \
           outcome: observe and persist `Decide` when `Commit` or `Abort` arrives. If it is slow in \
           coming, send `Ask` to the coordinator and the other participants, and keep asking now and \
           then. Answer an `Ask` with the outcome if you know it; if you have not voted yet, abort and \
           answer `Abort`. After a crash, read back what you persisted: a decision stands; a yes vote \
           means asking again; no vote at all means you may abort.\n\n\
           Checks: no two nodes decide differently and commit only when every participant voted yes; \
           votes follow `votes_yes`, and all yes without failures gives commit; within 250 ms of the \
           last fault every live node has decided, unless the run is *blocked* (the coordinator is \
           down and no live node knows the outcome), which the check reports without counting it \
           against you; and the explorer looks for the shortest run that blocks.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: ATOMICITY, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: VALIDITY, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: TERMINATION, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: BLOCKING, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: |seed| super::variant_json(variant(seed)),
};

/// A student's system sizes: an odd one where everyone votes yes and an
/// even one with a no vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub all_yes_nodes: usize,
    pub one_no_nodes: usize,
}

pub fn variant(seed: u64) -> Variant {
    let mut rng = SeededRng::new(seed, 0x3270_6321);
    Variant { all_yes_nodes: [3, 5][rng.below(2) as usize], one_no_nodes: [4, 6][rng.below(2) as usize] }
}

/// A scenario; its name carries the node count, so a replay line names
/// one scenario whatever the student's variant.
fn scenario(name: &str, nodes: usize, delay: &Delay, faults: Vec<Fault>) -> Scenario {
    let name = format!("{name} ({nodes} nodes)");
    let schedule = Schedule { name: name.clone(), faults };
    let until = schedule.quiet_after() + DEADLINE + ms(100);
    Scenario {
        network: Network { delay: delay.clone(), ..Network::default() },
        schedule,
        until,
        ..Scenario::new(&name, nodes)
    }
}

/// What `run` runs: the student's scenarios, or for a replay those of
/// every variant (the replay names one of them).
fn scenarios_of(run: &Run) -> Vec<ScenarioRuns> {
    if run.only.is_none() {
        return scenarios(run.seed);
    }
    let mut all: Vec<ScenarioRuns> = Vec::new();
    for (all_yes_nodes, one_no_nodes) in [(3, 4), (5, 6)] {
        for s in scenarios_with(Variant { all_yes_nodes, one_no_nodes }) {
            if !all.iter().any(|o| o.scenario.name == s.scenario.name) {
                all.push(s);
            }
        }
    }
    all
}

/// Public: the plain cases, a participant that crashes after voting or
/// before it could, the coordinator crashing after the votes went out,
/// for good (blocked) or for a while, the coordinator crashing after it
/// decided, and participants that voted yes cut off from the coordinator's
/// outcome for a while.
pub fn scenarios(seed: u64) -> Vec<ScenarioRuns> {
    scenarios_with(variant(seed))
}

fn scenarios_with(v: Variant) -> Vec<ScenarioRuns> {
    let quick = Delay::Uniform { min: ms(1), max: ms(5) };
    // Prepare arrives by 2 ms, so a crash at 2.5 ms comes after the vote.
    let tight = Delay::Uniform { min: ms(1), max: ms(2) };
    let crash = |node, us| Fault::Crash { node, at: us };
    let back = |node, at| Fault::Recover { node, at: ms(at) };
    let public = [
        (scenario("all vote yes", v.all_yes_nodes, &quick, vec![]), 3),
        (scenario("one votes no", v.one_no_nodes, &quick, vec![]), 3),
        (
            scenario("a participant crashes after voting", v.all_yes_nodes, &tight, vec![crash(1, 2_500), back(1, 40)]),
            2,
        ),
        (scenario("a participant is down when asked", v.all_yes_nodes, &quick, vec![crash(1, 500), back(1, 60)]), 2),
        (scenario("the coordinator crashes after the votes", v.all_yes_nodes, &tight, vec![crash(0, 2_500)]), 2),
        (
            scenario(
                "the coordinator crashes and comes back",
                v.one_no_nodes,
                &tight,
                vec![crash(0, 2_500), back(0, 50)],
            ),
            2,
        ),
        // The votes are in by 10 ms, so the coordinator has decided when it
        // crashes: what it wrote down must survive.
        (
            scenario(
                "the coordinator crashes after deciding and comes back",
                v.all_yes_nodes,
                &quick,
                vec![crash(0, 15_000), back(0, 40)],
            ),
            2,
        ),
        // Prepare is in by 2 ms; then nothing from the coordinator reaches
        // a participant for a while: they voted yes and must wait, asking.
        (
            scenario(
                "the participants don't hear from the coordinator for a while",
                v.all_yes_nodes,
                &tight,
                vec![Fault::Cut { from: vec![0], to: (1..v.all_yes_nodes).collect(), start: 2_500, end: ms(150) }],
            ),
            2,
        ),
    ];
    let mut runs: Vec<ScenarioRuns> = public.into_iter().map(|(s, n)| ScenarioRuns::public(s, n)).collect();
    runs.extend(hidden_scenarios());
    runs
}

super::hidden! {
    /// Hidden: random crashes (everyone comes back) and partitions, with
    /// long-tailed delays.
    fn hidden_scenarios() -> Vec<ScenarioRuns> {
        let bounds = crate::RandomFaults { crashes: 2, recover: true, partitions: 1, horizon: ms(40), max_down: 2 };
        let delay = Delay::Exponential { min: ms(1), mean: ms(3) };
        [5, 6]
            .into_iter()
            .enumerate()
            .map(|(i, n)| {
                let faults = Schedule::random(0x2bc + i as u64, n, &bounds).faults;
                ScenarioRuns::hidden(scenario(&format!("{n} nodes, random crashes and a partition"), n, &delay, faults), 2)
            })
            .collect()
    }
}

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<TpcMsg>>> {
    let n = scenario.nodes;
    vec![Box::new(Atomicity::new(n)), Box::new(Validity::new(n)), Box::new(Termination::new(n))]
}

/// The explorer's system: a coordinator and two participants that vote
/// yes, one crash and no recovery.
pub const EXPLORE_NODES: usize = 3;
const EXPLORE_STATES: usize = 50_000;

/// Runs the explorer on the student's nodes and reports the shortest run
/// that blocks, or the shortest run that breaks atomicity if one comes
/// first.
pub fn explore_blocking(factory: Rc<NodeFactory<TpcMsg>>) -> (crate::check::Verdict, Option<Trace<TpcMsg>>) {
    let result = Explorer::with_factory(EXPLORE_NODES, factory)
        .boxed_monitor(Box::new(Atomicity::new(EXPLORE_NODES)))
        .boxed_monitor(Box::new(BlockingMoment::new(EXPLORE_NODES)))
        .crash_budget(1)
        .recover(false)
        .timers(TimerPolicy::WhenIdle)
        .max_states(EXPLORE_STATES)
        .run();
    let replay = ":check twophase (the explorer's part)".to_owned();
    match result.violation {
        // The explorer's run did not replay: that says it all, and the
        // replayed trace would only mislead.
        Some(cx) if cx.nondeterministic => {
            (crate::check::Verdict { check: BLOCKING.into(), replay, ..cx.verdict }, None)
        }
        Some(cx) if cx.verdict.check == BLOCKING => {
            let steps = describe_path(&cx.trace);
            let message = format!(
                "blocked, as two-phase commit must be: the shortest such run has {} steps: {steps}. \
                 Every participant voted yes, so none may abort alone, and only the coordinator \
                 could say commit",
                cx.moves.len()
            );
            let verdict =
                crate::check::Verdict { check: BLOCKING.into(), status: Status::Pass, message, replay, ..cx.verdict };
            (verdict, Some(cx.trace))
        }
        Some(cx) => {
            let message = format!(
                "the explorer found a run of {} steps: {}; {}",
                cx.moves.len(),
                describe_path(&cx.trace),
                cx.verdict.message
            );
            (crate::check::Verdict { check: BLOCKING.into(), message, replay, ..cx.verdict }, Some(cx.trace))
        }
        None => {
            let (status, message) = if result.complete {
                (Status::Fail, "the explorer found no run where the coordinator crashes after every participant voted yes: does the coordinator send Prepare at start, and do participants vote?".to_owned())
            } else {
                (Status::Unknown, format!("no blocking run among the first {} states", result.states))
            };
            let verdict = crate::check::Verdict {
                check: BLOCKING.into(),
                status,
                message,
                event: None,
                at: None,
                seed: 0,
                scenario: "explorer: 3 nodes, all vote yes, one crash".into(),
                replay,
                node: None,
            };
            (verdict, None)
        }
    }
}

/// The moves of an explored path in words: deliveries and crashes.
fn describe_path(trace: &Trace<TpcMsg>) -> String {
    let mut steps = Vec::new();
    for event in &trace.events {
        match &event.kind {
            EventKind::Deliver { from, to, id } => {
                let msg = trace.message(*id).map(|m| format!("{m:?}")).unwrap_or_default();
                steps.push(format!("node {to} gets {msg} from node {from}"));
            }
            EventKind::Send { from, to: Dest::Node(to), msg, .. } if matches!(msg, TpcMsg::Vote(_)) => {
                steps.push(format!("node {from} sends {msg:?} to node {to}"));
            }
            EventKind::Timer { node, tag } => steps.push(format!("node {node}'s timer {tag} fires")),
            EventKind::Crash { node } => steps.push(format!("node {node} crashes")),
            _ => {}
        }
    }
    steps.join("; ")
}

pub fn check(solution: Box<NodeFactory<TpcMsg>>, run: &Run) -> Report {
    let factory: Rc<NodeFactory<TpcMsg>> = Rc::from(solution);
    let shared = Rc::clone(&factory);
    let mut report = check_runs(SPEC.id, Box::new(move |id| shared(id)), scenarios_of(run), monitors, run);
    // A replay names one simulated run; the explorer is not one. Its check
    // is public, so a hidden-only run leaves it out.
    if run.only.is_none() && run.scope.runs_public() {
        report.verdicts.push(explore_blocking(factory).0);
    }
    report
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<TpcMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "twophase",
    solution: Box<NodeFactory<TpcMsg>> = Box::new(twophase_node),
    cell: {
        // BEGIN CELL
        use std::collections::BTreeSet;

        use distlab::catalogue::twophase::{votes_yes, TpcMsg};
        use distlab::{Ctx, Decision, NodeId, Observation, Process, TimerTag};

        // BEGIN SOLUTION
        /// Coordinator: how long to wait for the votes (messages take 1 to 5 ms).
        const VOTES_DUE: TimerTag = 1;
        /// Participant: ask around for the outcome again.
        const ASK_AGAIN: TimerTag = 2;
        const VOTE_WAIT: distlab::Time = distlab::ms(20);
        const ASK_EVERY: distlab::Time = distlab::ms(15);

        fn outcome(d: Decision) -> TpcMsg {
            match d {
                Decision::Commit => TpcMsg::Commit,
                Decision::Abort => TpcMsg::Abort,
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        #[derive(Clone, Debug, Hash, Default)]
        struct TwoPhase {
            // BEGIN SOLUTION
            /// Coordinator: the participants that voted yes.
            yes: BTreeSet<NodeId>,
            /// Participant: my vote, once cast.
            vote: Option<bool>,
            /// Either role: the outcome, once known.
            decision: Option<Decision>,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl TwoPhase {
            fn is_coordinator(ctx: &Ctx<TpcMsg>) -> bool {
                ctx.me() == 0
            }

            /// Takes decision `d` (once): stable storage first, then the world hears of it.
            fn decide(&mut self, ctx: &mut Ctx<TpcMsg>, d: Decision) {
                if self.decision.is_some() {
                    return;
                }
                self.decision = Some(d);
                ctx.persist("decision", &d);
                ctx.observe(Observation::Decide(d));
                if Self::is_coordinator(ctx) {
                    ctx.cancel_timer(VOTES_DUE);
                    ctx.broadcast(outcome(d));
                } else {
                    ctx.cancel_timer(ASK_AGAIN);
                }
            }

            fn participant_gets(&mut self, ctx: &mut Ctx<TpcMsg>, from: NodeId, msg: TpcMsg) {
                match msg {
                    TpcMsg::Prepare => {
                        // A repeated Prepare gets the same vote; after aborting on my own, only no.
                        let yes = self.vote.unwrap_or(self.decision.is_none() && votes_yes(ctx.me(), ctx.nodes()));
                        self.vote = Some(yes);
                        ctx.persist("vote", &yes); // before the vote leaves
                        ctx.send(0, TpcMsg::Vote(yes));
                        if yes {
                            ctx.set_timer(ASK_AGAIN, ASK_EVERY);
                        } else {
                            self.decide(ctx, Decision::Abort);
                        }
                    }
                    TpcMsg::Commit => self.decide(ctx, Decision::Commit),
                    TpcMsg::Abort => self.decide(ctx, Decision::Abort),
                    TpcMsg::Ask => {
                        if self.vote.is_none() {
                            // Not voted yet: I can still refuse, so the outcome is abort.
                            self.decide(ctx, Decision::Abort);
                        }
                        if let Some(d) = self.decision {
                            ctx.send(from, outcome(d));
                        }
                    }
                    TpcMsg::Vote(_) => {}
                }
            }

            fn coordinator_gets(&mut self, ctx: &mut Ctx<TpcMsg>, from: NodeId, msg: TpcMsg) {
                match msg {
                    TpcMsg::Vote(true) => {
                        self.yes.insert(from);
                        if self.yes.len() == ctx.nodes() - 1 {
                            self.decide(ctx, Decision::Commit);
                        }
                    }
                    TpcMsg::Vote(false) => self.decide(ctx, Decision::Abort),
                    TpcMsg::Ask => {
                        if let Some(d) = self.decision {
                            ctx.send(from, outcome(d));
                        }
                    }
                    _ => {}
                }
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // // One node type, two roles: node 0 coordinates, every other node participates.
        // impl TwoPhase {
        //     /// Node 0: collect the votes, decide, tell everyone, answer `Ask`.
        //     fn coordinator_gets(&mut self, ctx: &mut Ctx<TpcMsg>, from: NodeId, msg: TpcMsg) {
        //         let _ = (ctx, from, msg);
        //     }
        //
        //     /// Nodes 1..n: vote on `Prepare` (persist the vote before it leaves),
        //     /// then learn the outcome, asking around if it does not come.
        //     fn participant_gets(&mut self, ctx: &mut Ctx<TpcMsg>, from: NodeId, msg: TpcMsg) {
        //         let _ = (ctx, from, msg);
        //     }
        // }
        // END STARTER

        impl Process<TpcMsg> for TwoPhase {
            fn on_start(&mut self, ctx: &mut Ctx<TpcMsg>) {
                // BEGIN SOLUTION
                if Self::is_coordinator(ctx) {
                    ctx.broadcast(TpcMsg::Prepare);
                    ctx.set_timer(VOTES_DUE, VOTE_WAIT);
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, votes_yes(1, 3), Observation::Decide(Decision::Commit));
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<TpcMsg>, from: NodeId, msg: TpcMsg) {
                // BEGIN SOLUTION
                if Self::is_coordinator(ctx) {
                    self.coordinator_gets(ctx, from, msg);
                } else {
                    self.participant_gets(ctx, from, msg);
                }
                // END SOLUTION
                // BEGIN STARTER
                // if ctx.me() == 0 {
                //     self.coordinator_gets(ctx, from, msg);
                // } else {
                //     self.participant_gets(ctx, from, msg);
                // }
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<TpcMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                match timer {
                    // A vote is missing: a missing vote counts as no.
                    VOTES_DUE => self.decide(ctx, Decision::Abort),
                    _ if self.decision.is_none() => {
                        ctx.broadcast(TpcMsg::Ask);
                        ctx.set_timer(ASK_AGAIN, ASK_EVERY);
                    }
                    _ => {}
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }

            fn on_recover(&mut self, ctx: &mut Ctx<TpcMsg>) {
                // BEGIN SOLUTION
                self.decision = ctx.recall("decision");
                self.vote = ctx.recall("vote");
                match (self.decision, self.vote) {
                    // A decision stands; the coordinator tells everyone again.
                    (Some(d), _) => {
                        if Self::is_coordinator(ctx) {
                            ctx.broadcast(outcome(d));
                        }
                    }
                    // Voted yes, outcome unknown: only asking can help.
                    (None, Some(true)) => self.on_timer(ctx, ASK_AGAIN),
                    // A coordinator without a decision, or a participant without a yes: abort.
                    (None, _) => self.decide(ctx, Decision::Abort),
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = ctx;
                // END STARTER
            }
        }

        fn twophase_node(_id: NodeId) -> Box<dyn Process<TpcMsg>> {
            Box::new(TwoPhase::default())
        }
        // END CELL
    }
}
