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
        // let _ = (ctx, from, msg);
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
