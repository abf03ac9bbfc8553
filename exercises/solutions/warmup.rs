use std::collections::BTreeSet;

use distlab::catalogue::warmup::WarmupMsg;
use distlab::{ms, Ctx, NodeId, Process, TimerTag};

const RETRY: TimerTag = 1;

#[derive(Clone, Debug, Hash, Default)]
struct Warmup {
    // BEGIN SOLUTION
    /// Nodes node 0 has not heard a pong from yet.
    silent: BTreeSet<NodeId>,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

// BEGIN SOLUTION
impl Warmup {
    fn ping_silent(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        for &node in &self.silent {
            ctx.send(node, WarmupMsg::Ping(node as u64));
        }
        if !self.silent.is_empty() {
            ctx.set_timer(RETRY, ms(20)); // well above a round trip
        }
    }
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

impl Process<WarmupMsg> for Warmup {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        // BEGIN SOLUTION
        if ctx.me() == 0 {
            self.silent = ctx.peers().collect();
            self.ping_silent(ctx);
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = ctx;
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {
        // BEGIN SOLUTION
        match msg {
            WarmupMsg::Ping(k) => ctx.send(from, WarmupMsg::Pong(k)),
            WarmupMsg::Pong(_) => {
                self.silent.remove(&from);
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg);
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<WarmupMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        if timer == RETRY {
            self.ping_silent(ctx);
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }
}

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
    Box::new(Warmup::default())
}
