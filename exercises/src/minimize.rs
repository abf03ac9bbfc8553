//! Shrinks a failing trace from random simulation into a short one that
//! fails the same check.
//!
//! The trace becomes a list of explorer moves named by content ("deliver
//! the message `m` from 2 to 0", "fire timer 7 at node 1"), since message
//! positions change once other moves are gone. Delta debugging then drops
//! chunks of that list, replaying each candidate on the explorer's step
//! function: a move no longer possible is skipped, and a candidate is kept
//! only if the same check still fails. Replays are untimed, like the
//! explorer: every clock reads 0 plus the node's own adjustments.

use std::rc::Rc;

use crate::check::{check_trace, Monitor, Provenance, Status, Verdict};
use crate::explore::{self, Budgets, Move, Rules, State, TimerPolicy, Violation, STEP_TIME};
use crate::process::{Message, NodeFactory, Process, TimerTag};
use crate::trace::{DropReason, EventKind, Trace};
use crate::{NodeId, Time};

/// A move named by what it does rather than by a position.
#[derive(Clone, Debug, PartialEq)]
enum Wish<M> {
    Deliver { from: NodeId, to: NodeId, msg: M },
    Lose { from: NodeId, to: NodeId, msg: M },
    Duplicate { from: NodeId, to: NodeId, msg: M },
    Fire { node: NodeId, tag: TimerTag },
    Crash(NodeId),
    Recover(NodeId),
}

#[derive(Debug)]
pub struct Minimized<M> {
    /// Fails the same check as the original, and is no longer.
    pub trace: Trace<M>,
    pub verdict: Verdict,
    pub moves: Vec<Move>,
    /// Replays tried while shrinking.
    pub attempts: usize,
}

/// Shrinks `trace`, which must fail one of `monitors` (or have a node
/// panic). `None` if it fails nothing, or if its failure doesn't reproduce
/// when replayed untimed.
pub fn minimize<M: Message>(
    trace: &Trace<M>,
    factory: impl Fn(NodeId) -> Box<dyn Process<M>> + 'static,
    monitors: &[Box<dyn Monitor<M>>],
) -> Option<Minimized<M>> {
    minimize_with(trace, Rc::new(factory), monitors)
}

pub fn minimize_with<M: Message>(
    trace: &Trace<M>,
    factory: Rc<NodeFactory<M>>,
    monitors: &[Box<dyn Monitor<M>>],
) -> Option<Minimized<M>> {
    let verdicts = check_trace(trace, monitors, &Provenance::of(trace, "minimize"));
    let target = verdicts.into_iter().find(|v| v.status == Status::Fail)?.check;
    let rules = Rules {
        nodes: trace.scenario.nodes,
        factory,
        fifo: trace.scenario.network.fifo,
        hardware_broadcast: trace.scenario.network.hardware_broadcast,
        budgets: Budgets { loss: u32::MAX, duplicate: u32::MAX, crash: u32::MAX },
        recover: true,
        timers: TimerPolicy::Always,
        track_observed: false,
    };
    let shrinker = Shrinker { rules, monitors, target, attempts: 0 };
    shrinker.run(trace)
}

struct Shrinker<'a, M: Message> {
    rules: Rules<M>,
    monitors: &'a [Box<dyn Monitor<M>>],
    target: String,
    attempts: usize,
}

impl<M: Message> Shrinker<'_, M> {
    fn run(mut self, original: &Trace<M>) -> Option<Minimized<M>> {
        let wishes = wishes_of(original);
        let (mut current, _) = self.attempt(&wishes)?;
        // Delta debugging: drop chunks, halving their size when none goes.
        let mut chunk = current.len().div_ceil(2).max(1);
        loop {
            let mut i = 0;
            let mut shrank = false;
            while i < current.len() {
                let end = (i + chunk).min(current.len());
                let candidate: Vec<Wish<M>> = current[..i].iter().chain(&current[end..]).cloned().collect();
                match self.attempt(&candidate) {
                    Some((used, _)) => {
                        current = used;
                        shrank = true;
                    }
                    None => i += chunk,
                }
            }
            if !shrank {
                if chunk == 1 {
                    break;
                }
                chunk = chunk.div_ceil(2);
            }
        }
        let (_, moves) = self.attempt(&current)?;
        let scenario = original.scenario.clone();
        let (mut trace, violation) = explore::replay(&self.rules, self.monitors, &scenario, &moves);
        let violation = violation.filter(|v| v.check == self.target)?;
        trace.seed = original.seed;
        if trace.events.len() > original.events.len() {
            return None; // never hand back something longer
        }
        let verdict = explore::verdict_of(&violation, &trace, moves.len(), "minimized");
        Some(Minimized { trace, verdict, moves, attempts: self.attempts })
    }

    /// Replays `wishes`; if the target check fails, the wishes actually
    /// used (up to the failure) and the moves they became.
    fn attempt(&mut self, wishes: &[Wish<M>]) -> Option<(Vec<Wish<M>>, Vec<Move>)> {
        self.attempts += 1;
        let (mut state, violation) = self.rules.initial(self.monitors, None);
        if let Some(v) = violation {
            return self.is_target(&v).then(|| (Vec::new(), Vec::new()));
        }
        let (mut used, mut moves) = (Vec::new(), Vec::new());
        for wish in wishes {
            let Some(mv) = self.resolve(&state, wish) else { continue };
            used.push(wish.clone());
            moves.push(mv);
            let at = moves.len() as Time * STEP_TIME;
            if let Some(v) = self.rules.apply(&mut state, mv, at, None) {
                return self.is_target(&v).then_some((used, moves));
            }
        }
        let v = state.is_quiescent().then(|| state.unsettled()).flatten()?;
        self.is_target(&v).then_some((used, moves))
    }

    fn is_target(&self, v: &Violation) -> bool {
        v.check == self.target
    }

    /// The move that does what `wish` names, if it is possible here.
    fn resolve(&self, state: &State<M>, wish: &Wish<M>) -> Option<Move> {
        let find = |from: NodeId, to: NodeId, msg: &M| {
            let k = state.flights.iter().position(|f| f.from == from && f.to == to && *f.msg == *msg)?;
            let blocked = self.rules.fifo && state.flights[..k].iter().any(|g| g.from == from && g.to == to);
            (!blocked).then_some(k as u32)
        };
        match wish {
            Wish::Deliver { from, to, msg } => find(*from, *to, msg).map(Move::Deliver),
            Wish::Lose { from, to, msg } => find(*from, *to, msg).map(Move::Lose),
            Wish::Duplicate { from, to, msg } => find(*from, *to, msg).map(Move::Duplicate),
            Wish::Fire { node, tag } => {
                state.timers.contains(&(*node, *tag)).then_some(Move::Fire { node: *node, tag: *tag })
            }
            Wish::Crash(node) => state.world.is_up(*node).then_some(Move::Crash(*node)),
            Wish::Recover(node) => (!state.world.is_up(*node)).then_some(Move::Recover(*node)),
        }
    }
}

/// The trace's nondeterministic choices, in order, as wishes.
fn wishes_of<M: Message>(trace: &Trace<M>) -> Vec<Wish<M>> {
    let sender = |id: usize| match &trace.events[id].kind {
        EventKind::Send { from, .. } => *from,
        _ => unreachable!("message ids name send events"),
    };
    let payload = |id: usize| trace.message(id).expect("message ids name send events").clone();
    trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            // A message that reached a crashed node is a delivery the
            // explorer turns into the same drop.
            EventKind::Deliver { id, from, to } | EventKind::Drop { id, from, to, reason: DropReason::Crashed } => {
                Some(Wish::Deliver { from, to, msg: payload(id) })
            }
            EventKind::Drop { id, from, to, .. } => Some(Wish::Lose { from, to, msg: payload(id) }),
            EventKind::Duplicate { id, to } => Some(Wish::Duplicate { from: sender(id), to, msg: payload(id) }),
            EventKind::Timer { node, tag } => Some(Wish::Fire { node, tag }),
            EventKind::Crash { node } => Some(Wish::Crash(node)),
            EventKind::Recover { node } => Some(Wish::Recover(node)),
            _ => None,
        })
        .collect()
}
