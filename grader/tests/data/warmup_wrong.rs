// Wrong on a lossy network: node 0 pings once and never again.
use distlab::catalogue::warmup::WarmupMsg;
use distlab::{Ctx, NodeId, Process};

#[derive(Clone, Debug, Hash, Default)]
struct Once;

impl Process<WarmupMsg> for Once {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        if ctx.me() == 0 {
            ctx.broadcast(WarmupMsg::Ping(1));
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {
        if let WarmupMsg::Ping(k) = msg {
            ctx.send(from, WarmupMsg::Pong(k));
        }
    }
}

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
    Box::new(Once)
}
