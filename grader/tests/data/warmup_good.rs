// A correct warm-up: node 0 pings the silent nodes every 20 ms until each
// has answered; every node answers each ping.
use std::collections::BTreeSet;

use distlab::catalogue::warmup::WarmupMsg;
use distlab::{Ctx, NodeId, Process, TimerTag};

const RETRY: TimerTag = 1;

#[derive(Clone, Debug, Hash, Default)]
struct Warmup {
    silent: BTreeSet<NodeId>,
}

impl Process<WarmupMsg> for Warmup {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        if ctx.me() == 0 {
            self.silent = ctx.peers().collect();
            self.on_timer(ctx, RETRY);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {
        match msg {
            WarmupMsg::Ping(k) => ctx.send(from, WarmupMsg::Pong(k)),
            WarmupMsg::Pong(_) => {
                self.silent.remove(&from);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<WarmupMsg>, _timer: TimerTag) {
        for &n in &self.silent {
            ctx.send(n, WarmupMsg::Ping(7));
        }
        if !self.silent.is_empty() {
            ctx.set_timer(RETRY, distlab::ms(20));
        }
    }
}

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
    Box::new(Warmup::default())
}
