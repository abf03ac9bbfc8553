use std::collections::BTreeSet;

use distlab::catalogue::mutex::{first_request, think_time, HOLD, ROUNDS};
use distlab::catalogue::ricart::RaMsg;
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

const ASK: TimerTag = 1;
const LEAVE: TimerTag = 2;

#[derive(Clone, Debug, Hash, Default)]
struct Ricart {
    // BEGIN SOLUTION
    clock: u64,
    /// The stamp of my pending request, while I am asking.
    asking: Option<u64>,
    inside: bool,
    replies: BTreeSet<NodeId>,
    deferred: Vec<NodeId>,
    rounds: u32,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

// BEGIN SOLUTION
impl Ricart {
    fn enter_if_everyone_agreed(&mut self, ctx: &mut Ctx<RaMsg>) {
        if self.asking.is_some() && self.replies.len() == ctx.nodes() - 1 {
            self.asking = None;
            self.inside = true;
            ctx.observe(Observation::EnterCritical);
            ctx.set_timer(LEAVE, HOLD);
        }
    }
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

impl Process<RaMsg> for Ricart {
    fn on_start(&mut self, ctx: &mut Ctx<RaMsg>) {
        // BEGIN SOLUTION
        ctx.set_timer(ASK, first_request(ctx.me()));
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, first_request(0), think_time(2), HOLD, ROUNDS, Observation::RequestCritical);
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<RaMsg>, from: NodeId, msg: RaMsg) {
        // BEGIN SOLUTION
        match msg {
            RaMsg::Request { ts } => {
                self.clock = self.clock.max(ts) + 1;
                // (stamp, id) pairs order all requests the same way everywhere.
                let mine_is_older = self.asking.is_some_and(|mine| (mine, ctx.me()) < (ts, from));
                if self.inside || mine_is_older {
                    self.deferred.push(from);
                } else {
                    ctx.send(from, RaMsg::Reply);
                }
            }
            RaMsg::Reply => {
                self.replies.insert(from);
                self.enter_if_everyone_agreed(ctx);
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg);
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<RaMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        if timer == ASK {
            self.clock += 1;
            self.asking = Some(self.clock);
            self.replies.clear();
            ctx.observe(Observation::RequestCritical);
            ctx.broadcast(RaMsg::Request { ts: self.clock });
            self.enter_if_everyone_agreed(ctx); // alone in the system
        } else {
            self.inside = false;
            ctx.observe(Observation::ExitCritical);
            for node in std::mem::take(&mut self.deferred) {
                ctx.send(node, RaMsg::Reply);
            }
            self.rounds += 1;
            if self.rounds < ROUNDS {
                ctx.set_timer(ASK, think_time(ctx.nodes()));
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }
}

fn ricart_node(_id: NodeId) -> Box<dyn Process<RaMsg>> {
    Box::new(Ricart::default())
}
