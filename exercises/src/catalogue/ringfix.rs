//! Notebook 7: a token ring that survives a lost token and crashed nodes.
//! The fault-free ring of `tokenring` stops for good when one token
//! message is lost or its holder crashes, and silence cannot tell a lost
//! token from a slow one. Here every hop is answered: the sender stays
//! responsible for the token until its successor says it has passed it on
//! (`Passed`), resends it until then, and after long enough silence skips
//! the successor and sends a fresh token past it. Only the sender of the
//! last hop ever makes a new token, so a loss makes exactly one.
//!
//! The network model makes the timeouts sound: every message takes at most
//! `MAX_DELAY`, a link loses messages only while it is cut, a cut lasts at
//! most `MAX_CUT`, faults are spaced `FAULT_GAP` apart, and two neighbours
//! are never down together. The last rule is the limit of the design: the
//! node waiting for an answer is the token's only keeper, so if it crashes
//! while it waits on a crashed successor (two faults at once), the token is
//! gone and nobody may make one without risking two.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::mutex::{self, OneInside, ROUNDS, SAFETY};
use super::runs::{check_runs, ScenarioRuns, HIDDEN_CHECK};
use super::{CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::check::{Monitor, Step, NODES_RUN_CLEANLY};
use crate::faults::fmt_time;
use crate::process::{NodeFactory, Observation};
use crate::scenario::Scenario;
use crate::trace::{Dest, EventKind};
use crate::{ms, Delay, Fault, Network, NodeId, Schedule, Time};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RingMsg {
    /// The token, numbered by its hop: each pass adds one, so a resent
    /// copy of an old hop can be told from the token itself.
    Token { hop: u64 },
    /// "I have passed on (or already had) the token of this hop": the
    /// sender may forget it.
    Passed { hop: u64 },
}

/// The longest a message takes; the task states it so timeouts can be
/// sized from it.
pub const MAX_DELAY: Time = ms(5);
/// The longest a link stays cut (loses every message on it).
pub const MAX_CUT: Time = ms(15);
/// Faults (cuts, crashes, recoveries) are at least this far apart.
pub const FAULT_GAP: Time = ms(100);

pub const ONE_TOKEN: &str = "never two tokens";
pub const SERVED: &str = "every live node is served after the faults stop";
pub const PACE: &str = "the token is resent at most once per round trip";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "ringfix",
    title: "Token ring that survives a lost token and crashed nodes",
    notebook: 7,
    position: 5,
    points: 10,
    task: "Write a node for `RingMsg`: the token ring of the previous exercise, made to survive a lost \
           token and crashed nodes. Node 0 holds the token at the start (hop 0); the workload is the same \
           (`distlab::catalogue::mutex`: `first_request(i)`, `HOLD`, `think_time(n)`, `ROUNDS`, observing \
           `RequestCritical`, `EnterCritical`, `ExitCritical`). A node that recovers from a crash starts \
           its workload again, and its memory is gone except what it stored with `ctx.persist`.\n\n\
           - Each pass sends `Token { hop }` with one more than the hop you got. Until the node you sent it \
           to answers `Passed { hop }` (it sends that when it passes the token on itself, or at once for a \
           copy it has already passed or is too old), you stay responsible for it.\n\
           - Without an answer, send it again; a node that stays silent long enough has crashed: skip it \
           and send a fresh token (a higher hop) to the node after it. Try your own successor first at every \
           pass: a node that comes back rejoins the ring.\n\
           - Never accept a hop you have already seen (answer `Passed` instead), and never make a token \
           unless you are the one waiting for that answer. Once `Passed` has come, that hop is done: do not \
           send it again. A node that recovers holds no token, whatever it stored: its predecessor has made \
           a new one.\n\n\
           Assumption: two neighbouring nodes are never down at the same time. The design cannot survive \
           that: the node waiting for an answer is the token's only keeper, and if it crashes while its \
           successor is down, the token is gone for good. The scenarios keep to this rule.\n\n\
           The model makes timeouts sound: every message arrives within `MAX_DELAY` = 5 ms unless it is \
           lost; messages are lost only on a cut link or to a crashed node; a cut lasts at most `MAX_CUT` = \
           15 ms; faults are at least 100 ms apart. \
           So an answer comes within 2 × 5 ms + `HOLD` = 15 ms of sending if nothing is cut: wait a little \
           longer than that before resending, and count a successor as crashed only once it stayed silent \
           through sends spread wider than the longest cut plus one answer time (4 sends 16 ms apart are \
           enough). \
           Checks: never two nodes inside; never two tokens (a node gets a token only when nobody else \
           holds one, enters only with the newest, and sends a token only while it holds it or waits for \
           its answer); every live node gets in `ROUNDS` times after the faults stop; a node resends a hop \
           no sooner than a round trip (10 ms) after sending it.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: SAFETY, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: ONE_TOKEN, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: SERVED, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: PACE, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: NODES_RUN_CLEANLY, weight: 0, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN_CHECK, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| check(crate::remote::RemoteNode::factory(connection), run),
    variant: super::no_variant,
};

/// How long after the last fault every live node must have had its
/// `ROUNDS` entries: a recovered node starts its workload again, and each
/// crashed node costs every round a skip (a few resends).
pub fn deadline(nodes: usize) -> Time {
    ms(200) * nodes as Time
}

/// A scenario over a network with delays up to [`MAX_DELAY`] that loses
/// nothing outside the faults; it runs just past the liveness deadline.
pub fn scenario(name: &str, nodes: usize, delay: Delay, faults: Vec<Fault>) -> Scenario {
    // The task promises this spacing; timeouts sized from it are sound.
    let starts: Vec<Time> = faults.iter().map(Fault::start).collect();
    assert!(starts.windows(2).all(|w| w[1] - w[0] >= FAULT_GAP), "{name}: faults closer than FAULT_GAP");
    let schedule = Schedule { name: name.into(), faults };
    let until = schedule.quiet_after() + deadline(nodes) + ms(10);
    Scenario { network: Network { delay, ..Network::default() }, schedule, until, ..Scenario::new(name, nodes) }
}

fn cut(from: NodeId, to: NodeId, start: Time) -> Fault {
    Fault::Cut { from: vec![from], to: vec![to], start, end: start + MAX_CUT }
}

/// Public: short cuts on several links, one way each (the token or its
/// answer is lost); cuts that lose only answers, so that old copies of the
/// token reach nodes that have passed it on; crashes timed to catch the
/// node inside (the holder: its token is lost) in most runs, which come
/// back without it; crashes of nodes the ring must jump over, with and
/// without recoveries.
pub fn scenarios() -> Vec<ScenarioRuns> {
    let delay = || Delay::Uniform { min: ms(1), max: MAX_DELAY };
    let crash = |node, at| Fault::Crash { node, at: ms(at) };
    let back = |node, at| Fault::Recover { node, at: ms(at) };
    let cuts = vec![cut(1, 2, ms(40)), cut(3, 4, ms(140)), cut(2, 1, ms(240)), cut(4, 0, ms(340)), cut(0, 1, ms(440))];
    // Cuts against the ring's direction lose answers: the sender resends a
    // hop its successor has long passed on, and that copy must die there.
    let answers =
        vec![cut(1, 0, ms(30)), cut(2, 1, ms(130)), cut(3, 2, ms(230)), cut(4, 3, ms(330)), cut(0, 4, ms(430))];
    let public = [
        ("lossy links", cuts),
        ("answers lost", answers),
        // At 25 ms node 1 is inside, holding the token, in most runs; it
        // comes back without it (a new one was made past it meanwhile).
        ("node 1 crashes, usually holding the token, and comes back", vec![crash(1, 25), back(1, 225)]),
        // Node 3 is inside at 45 ms in some runs: it comes back without the token.
        ("node 3 crashes and comes back", vec![crash(3, 45), back(3, 245)]),
        ("two crashes, one comes back", vec![crash(1, 50), crash(4, 200), back(1, 400)]),
    ];
    let mut runs: Vec<ScenarioRuns> =
        public.into_iter().map(|(name, faults)| ScenarioRuns::public(scenario(name, 5, delay(), faults), 4)).collect();
    runs.extend(hidden_scenarios());
    runs
}

super::hidden! {
    /// Hidden: longer rings where every message takes the full 5 ms, cuts
    /// and crashes mixed (the first one of the holder), a node that keeps
    /// crashing, and a ring that loses every other node.
    fn hidden_scenarios() -> Vec<ScenarioRuns> {
        let slow = || Delay::Constant { us: MAX_DELAY };
        let crash = |node, at| Fault::Crash { node, at: ms(at) };
        let back = |node, at| Fault::Recover { node, at: ms(at) };
        // With every hop 5 ms, node 5 is inside (holding the token) at 90 ms.
        let mixed = vec![crash(5, 90), cut(2, 3, ms(190)), back(5, 290), cut(6, 7, ms(390)), crash(0, 490)];
        let shrink = vec![crash(1, 60), crash(3, 160), crash(5, 260), crash(7, 360)];
        let flaky = vec![crash(3, 40), back(3, 140), crash(3, 240), back(3, 340), cut(3, 4, ms(440))];
        vec![
            ScenarioRuns::hidden(scenario("8 nodes, 5 ms, cuts and crashes", 8, slow(), mixed), 2),
            ScenarioRuns::hidden(scenario("8 nodes, down to four", 8, Delay::Uniform { min: ms(1), max: MAX_DELAY }, shrink), 2),
            ScenarioRuns::hidden(scenario("7 nodes, one keeps crashing", 7, slow(), flaky), 2),
        ]
    }
}

/// Never two tokens, judged from the messages: a node holds a token from
/// the moment a `Token` no older than the newest reaches it until it sends
/// the token on or crashes. A token reaching a node while another live
/// node still holds one means a second token was made (a node that gave up
/// too early, or two nodes that both regenerated); a node may enter only
/// while it holds the newest token. Copies of older hops (resends) are
/// harmless as long as nobody acts on them.
///
/// Who may send a `Token` at all: its holder, passing it on, or the node
/// that passed a hop and still waits for its answer (resending that hop,
/// or skipping a silent successor with a fresh one). A crash ends both,
/// and so does the answer `Passed`. Anyone else sending a token has made
/// one: from an old copy it took, from memory kept through a crash, or
/// from nothing. Hop numbers often make such a token die at the next node,
/// but not always, so it fails here at once.
#[derive(Clone, Debug, Hash)]
pub struct OneToken {
    entries: usize,
    newest: u64,
    /// Live holders: node -> (hop, since).
    holders: BTreeMap<NodeId, (u64, Time)>,
    /// Nodes waiting for the answer to a hop they sent: node -> (hop, to).
    keepers: BTreeMap<NodeId, (u64, NodeId)>,
    /// Per node, the last hop that reached it, for the messages.
    got: BTreeMap<NodeId, u64>,
    /// Nodes that crashed and got no token since: when they crashed.
    crashed: BTreeMap<NodeId, Time>,
}

impl Default for OneToken {
    fn default() -> Self {
        OneToken {
            entries: 0,
            newest: 0,
            holders: BTreeMap::from([(0, (0, 0))]),
            keepers: BTreeMap::new(),
            got: BTreeMap::new(),
            crashed: BTreeMap::new(),
        }
    }
}

impl OneToken {
    /// May `from` send the token of `hop` to `to`? Updates who holds and
    /// who waits; the error says why the sender had no token to send.
    fn send(&mut self, from: NodeId, to: Option<NodeId>, hop: u64, at: Time) -> Result<(), String> {
        let to_node = to.unwrap_or(from);
        if self.holders.get(&from).is_some_and(|(held, _)| hop >= *held) {
            // Passing it on ends the holding.
            self.holders.remove(&from);
            self.keepers.insert(from, (hop, to_node));
            return Ok(());
        }
        if let Some(&(kept, kept_to)) = self.keepers.get(&from) {
            if hop == kept && to == Some(kept_to) {
                return Ok(()); // a resend of the hop it waits on
            }
            if hop >= kept {
                // A fresh token past a silent successor.
                self.keepers.insert(from, (hop, to_node));
                return Ok(());
            }
        }
        if self.holders.contains_key(&from) {
            return Ok(()); // an old copy resent by the holder: harmless
        }
        let why = match (self.crashed.get(&from), self.got.get(&from)) {
            (Some(crash), _) => format!("it crashed at {} and no token has reached it since", fmt_time(*crash)),
            (None, Some(got)) if *got < self.newest => {
                format!("the last copy that reached it was hop {got}, an old one (hop {} was already out)", self.newest)
            }
            _ => "it held none and waited for no answer".to_string(),
        };
        Err(format!(
            "node {from} sent a token (hop {hop}) to {} at {} without holding one: {why}. Only the holder may \
             pass the token, and only the node waiting for an answer may resend it or make a fresh one; a token \
             taken from an old copy, kept through a crash or made up is a second token",
            to.map(|n| format!("node {n}")).unwrap_or_else(|| "every other node".into()),
            fmt_time(at)
        ))
    }
}

impl Monitor<RingMsg> for OneToken {
    fn name(&self) -> String {
        ONE_TOKEN.into()
    }
    fn on_event(&mut self, step: &Step<'_, RingMsg>) -> Result<(), String> {
        let at = fmt_time(step.at);
        match (step.kind, step.msg) {
            (EventKind::Crash { node }, _) => {
                self.holders.remove(node);
                self.keepers.remove(node);
                self.crashed.insert(*node, step.at);
            }
            (EventKind::Send { from, to, .. }, Some(RingMsg::Token { hop })) => {
                let to = match to {
                    Dest::Node(n) => Some(*n),
                    Dest::AllOthers => None,
                };
                self.send(*from, to, *hop, step.at)?;
            }
            (EventKind::Deliver { from, to, .. }, Some(RingMsg::Passed { hop }))
                if self.keepers.get(to) == Some(&(*hop, *from)) =>
            {
                self.keepers.remove(to);
            }
            (EventKind::Deliver { from, to, .. }, Some(RingMsg::Token { hop })) => {
                self.got.insert(*to, *hop);
                self.crashed.remove(to);
                if *hop < self.newest {
                    return Ok(()); // an old copy: harmless unless acted on
                }
                if let Some((other, (held, since))) = self.holders.iter().find(|(n, _)| *n != to) {
                    return Err(format!(
                        "node {to} got a token (hop {hop}) from node {from} at {at} while node {other} still held \
                         one (hop {held}, since {}): now there are two. Only the node waiting for an answer may \
                         make a new token, and only once its successor has been silent long enough to have crashed",
                        fmt_time(*since)
                    ));
                }
                self.newest = *hop;
                self.holders.insert(*to, (*hop, step.at));
            }
            (EventKind::Observe { node, what: Observation::EnterCritical }, _) => {
                self.entries += 1;
                match (self.holders.get(node), self.got.get(node)) {
                    (Some(_), _) => {}
                    (None, Some(got)) if *got < self.newest => {
                        return Err(format!(
                            "node {node} entered the critical section at {at} without the newest token: the last \
                             token that reached it was hop {got}, and hop {} was already out. A resent, remembered \
                             or self-made token is a second token",
                            self.newest
                        ));
                    }
                    _ => {
                        return Err(format!(
                            "node {node} entered the critical section at {at} without holding the token (it had \
                             passed it on, lost it in a crash, or made one of its own)"
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, _: &crate::check::RunEnd<'_>) -> Result<(), String> {
        mutex::some_entry(self.entries)
    }
}

/// Bounded liveness after the faults: every node up at the deadline has
/// entered `ROUNDS` times since it last (re)started and is not waiting. A
/// crashed node drops out (its requests die with it); the others are
/// served only if the ring jumps over it and a lost token is made again.
#[derive(Clone, Debug, Hash)]
pub struct ServedAfterFaults {
    entries: usize,
    up: Vec<bool>,
    since_start: Vec<u32>,
    waiting: BTreeMap<NodeId, Time>,
    deadline: Time,
}

impl ServedAfterFaults {
    pub fn new(nodes: usize, deadline: Time) -> Self {
        ServedAfterFaults {
            entries: 0,
            up: vec![true; nodes],
            since_start: vec![0; nodes],
            waiting: BTreeMap::new(),
            deadline,
        }
    }
}

impl Monitor<RingMsg> for ServedAfterFaults {
    fn name(&self) -> String {
        SERVED.into()
    }
    fn on_event(&mut self, step: &Step<'_, RingMsg>) -> Result<(), String> {
        match step.kind {
            EventKind::Crash { node } | EventKind::Recover { node } => {
                self.up[*node] = matches!(step.kind, EventKind::Recover { .. });
                self.since_start[*node] = 0;
                self.waiting.remove(node);
            }
            EventKind::Observe { node, what: Observation::RequestCritical } => {
                self.waiting.entry(*node).or_insert(step.at);
            }
            EventKind::Observe { node, what: Observation::EnterCritical } => {
                self.entries += 1;
                self.waiting.remove(node);
                self.since_start[*node] += 1;
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
                "node {node} asked for the critical section at {} and was still waiting: the token was lost, or \
                 stuck behind a crashed node",
                fmt_time(*since)
            ));
        }
        let live = (0..self.up.len()).filter(|&n| self.up[n]);
        for node in live {
            let got = self.since_start[node];
            if got < ROUNDS {
                return Err(format!(
                    "node {node} got into the critical section {got} time(s) since it (re)started, not the \
                     {ROUNDS} its workload asks for"
                ));
            }
        }
        Ok(())
    }
    fn at_end(&mut self, _: &crate::check::RunEnd<'_>) -> Result<(), String> {
        mutex::some_entry(self.entries)
    }
}

/// The budget of resends: a node sends the same hop again only after a
/// round trip (`2 * MAX_DELAY`) without an answer; resending sooner only
/// floods the ring (the answer could not have come yet).
#[derive(Clone, Debug, Hash, Default)]
pub struct ResendPace {
    entries: usize,
    /// Per node, its last token send: (hop, when).
    last: BTreeMap<NodeId, (u64, Time)>,
}

impl Monitor<RingMsg> for ResendPace {
    fn name(&self) -> String {
        PACE.into()
    }
    fn on_event(&mut self, step: &Step<'_, RingMsg>) -> Result<(), String> {
        match (step.kind, step.msg) {
            (EventKind::Send { from, .. }, Some(RingMsg::Token { hop })) => {
                if let Some((last, when)) = self.last.get(from) {
                    if last == hop && step.at - when < 2 * MAX_DELAY {
                        return Err(format!(
                            "node {from} sent the token of hop {hop} again at {}, only {} after sending it at {}: \
                             an answer takes up to a round trip ({}), so wait at least that long before resending",
                            fmt_time(step.at),
                            fmt_time(step.at - when),
                            fmt_time(*when),
                            fmt_time(2 * MAX_DELAY)
                        ));
                    }
                }
                self.last.insert(*from, (*hop, step.at));
            }
            (EventKind::Observe { what: Observation::EnterCritical, .. }, _) => self.entries += 1,
            _ => {}
        }
        Ok(())
    }
    fn at_end(&mut self, _: &crate::check::RunEnd<'_>) -> Result<(), String> {
        mutex::some_entry(self.entries)
    }
}

pub fn monitors(scenario: &Scenario) -> Vec<Box<dyn Monitor<RingMsg>>> {
    let n = scenario.nodes;
    vec![
        Box::new(OneInside::default()),
        Box::new(OneToken::default()),
        Box::new(ServedAfterFaults::new(n, deadline(n))),
        Box::new(ResendPace::default()),
    ]
}

pub fn check(solution: Box<NodeFactory<RingMsg>>, run: &Run) -> Report {
    check_runs(SPEC.id, solution, scenarios(), monitors, run)
}

/// Serves the student's nodes on stdin/stdout for the grader (see `remote`).
pub fn host(solution: Box<NodeFactory<RingMsg>>) {
    crate::remote::serve_stdio(solution.as_ref())
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "ringfix",
    solution: Box<NodeFactory<RingMsg>> = Box::new(ringfix_node),
    cell: {
        // BEGIN CELL
        use distlab::catalogue::mutex::{first_request, think_time, HOLD, ROUNDS};
        use distlab::catalogue::ringfix::{RingMsg, MAX_CUT, MAX_DELAY};
        use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

        const ASK: TimerTag = 1;
        const LEAVE: TimerTag = 2;
        // BEGIN SOLUTION
        const RESEND: TimerTag = 3;
        /// An answer comes within a round trip plus a stay inside.
        const ANSWER: distlab::Time = 2 * MAX_DELAY + HOLD + 1_000;
        /// Sends before a silent successor counts as crashed: enough that
        /// one falls after the longest cut, with its answer.
        const TRIES: u32 = (MAX_CUT / ANSWER) as u32 + 4;

        /// A token I sent and nobody has answered yet.
        #[derive(Clone, Debug, Hash)]
        struct Sent {
            hop: u64,
            to: NodeId,
            tries: u32,
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        #[derive(Clone, Debug, Hash, Default)]
        struct Node {
            // BEGIN SOLUTION
            wants_in: bool,
            inside: bool,
            rounds: u32,
            /// The highest hop I have accepted (kept across crashes).
            seen: u64,
            /// I hold the token of hop `seen`, given by this node.
            holding: Option<Option<NodeId>>,
            sent: Option<Sent>,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Node {
            /// I hold the token: use it if I asked, else hand it on.
            fn use_token(&mut self, ctx: &mut Ctx<RingMsg>) {
                if self.wants_in {
                    self.wants_in = false;
                    self.inside = true;
                    ctx.observe(Observation::EnterCritical);
                    ctx.set_timer(LEAVE, HOLD);
                } else {
                    self.pass(ctx);
                }
            }

            /// Hand the token to my successor; tell whoever gave it to me.
            fn pass(&mut self, ctx: &mut Ctx<RingMsg>) {
                let Some(giver) = self.holding.take() else { return };
                if let Some(giver) = giver {
                    ctx.send(giver, RingMsg::Passed { hop: self.seen });
                }
                self.hand_to(ctx, (ctx.me() + 1) % ctx.nodes(), self.seen + 1);
            }

            fn hand_to(&mut self, ctx: &mut Ctx<RingMsg>, to: NodeId, hop: u64) {
                if to == ctx.me() {
                    // Everyone else is down: keep it, and try again.
                    self.accept(ctx, hop, None);
                    return;
                }
                self.seen = hop; // a copy of a lower hop is never taken again
                ctx.persist("seen", &self.seen);
                ctx.send(to, RingMsg::Token { hop });
                self.sent = Some(Sent { hop, to, tries: 1 });
                ctx.set_timer(RESEND, ANSWER);
            }

            fn accept(&mut self, ctx: &mut Ctx<RingMsg>, hop: u64, from: Option<NodeId>) {
                self.seen = hop;
                ctx.persist("seen", &self.seen);
                self.holding = Some(from);
                self.sent = None; // it came back: my last hop is over
                ctx.cancel_timer(RESEND);
                self.use_token(ctx);
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl Process<RingMsg> for Node {
            fn on_start(&mut self, ctx: &mut Ctx<RingMsg>) {
                // BEGIN SOLUTION
                ctx.set_timer(ASK, first_request(ctx.me()));
                if ctx.me() == 0 {
                    self.holding = Some(None);
                    self.use_token(ctx);
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, first_request(0), think_time(2), HOLD, ROUNDS, MAX_DELAY, MAX_CUT);
                // let _ = Observation::RequestCritical;
                // END STARTER
            }

            fn on_message(&mut self, ctx: &mut Ctx<RingMsg>, from: NodeId, msg: RingMsg) {
                // BEGIN SOLUTION
                match msg {
                    RingMsg::Token { hop } if hop > self.seen => self.accept(ctx, hop, Some(from)),
                    // The copy I hold now: the answer comes when I pass it.
                    RingMsg::Token { hop } if hop == self.seen && self.holding.is_some() => {}
                    // Passed on already, or too old: the sender may stop.
                    RingMsg::Token { hop } => ctx.send(from, RingMsg::Passed { hop }),
                    RingMsg::Passed { hop } => {
                        if self.sent.as_ref().is_some_and(|s| s.hop == hop && s.to == from) {
                            self.sent = None;
                            ctx.cancel_timer(RESEND);
                        }
                    }
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, from, msg);
                // END STARTER
            }

            fn on_timer(&mut self, ctx: &mut Ctx<RingMsg>, timer: TimerTag) {
                // BEGIN SOLUTION
                match timer {
                    ASK => {
                        ctx.observe(Observation::RequestCritical);
                        self.wants_in = true;
                    }
                    LEAVE => {
                        ctx.observe(Observation::ExitCritical);
                        self.inside = false;
                        self.rounds += 1;
                        if self.rounds < ROUNDS {
                            ctx.set_timer(ASK, think_time(ctx.nodes()));
                        }
                        self.pass(ctx);
                    }
                    _ => {
                        let Some(sent) = self.sent.as_mut() else { return };
                        if sent.tries < TRIES {
                            sent.tries += 1;
                            ctx.send(sent.to, RingMsg::Token { hop: sent.hop });
                            ctx.set_timer(RESEND, ANSWER);
                        } else {
                            // Silent through every send: it crashed. Jump
                            // over it with a fresh token (the only one:
                            // nobody else waits for this answer).
                            let (next, hop) = ((sent.to + 1) % ctx.nodes(), sent.hop + 1);
                            self.hand_to(ctx, next, hop);
                        }
                    }
                }
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (ctx, timer);
                // END STARTER
            }

            fn on_recover(&mut self, ctx: &mut Ctx<RingMsg>) {
                // BEGIN SOLUTION
                // The token, if I had it, died with me: my predecessor makes
                // a new one. Only the hops I saw are remembered.
                self.seen = ctx.recall("seen").unwrap_or(0);
                ctx.set_timer(ASK, first_request(ctx.me()));
                // END SOLUTION
                // BEGIN STARTER
                // let _ = ctx;
                // END STARTER
            }
        }

        fn ringfix_node(_id: NodeId) -> Box<dyn Process<RingMsg>> {
            Box::new(Node::default())
        }
        // END CELL
    }
}
