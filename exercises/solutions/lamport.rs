use distlab::catalogue::clocks::{period, tick_target, TICKS};
use distlab::catalogue::lamport::LamportMsg;
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

const TICK: TimerTag = 1;

#[derive(Clone, Debug, Hash, Default)]
struct Lamport {
    // BEGIN SOLUTION
    clock: u64,
    ticks_done: u64,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

impl Process<LamportMsg> for Lamport {
    fn on_start(&mut self, ctx: &mut Ctx<LamportMsg>) {
        // BEGIN SOLUTION
        ctx.set_timer(TICK, period(ctx.me()));
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, period, tick_target, TICKS);
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<LamportMsg>, from: NodeId, msg: LamportMsg) {
        // BEGIN SOLUTION
        let _ = from;
        let LamportMsg::App { ts } = msg;
        self.clock = self.clock.max(ts) + 1; // jump past the sender's stamp
        ctx.observe(Observation::Clock(self.clock));
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg, Observation::Clock(0));
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<LamportMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        let _ = timer;
        self.ticks_done += 1;
        self.clock += 1;
        ctx.observe(Observation::Clock(self.clock));
        if let Some(to) = tick_target(ctx.me(), self.ticks_done, ctx.nodes()) {
            ctx.send(to, LamportMsg::App { ts: self.clock });
        }
        if self.ticks_done < TICKS {
            ctx.set_timer(TICK, period(ctx.me()));
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }
}

fn lamport_node(_id: NodeId) -> Box<dyn Process<LamportMsg>> {
    Box::new(Lamport::default())
}
