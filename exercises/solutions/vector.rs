use distlab::catalogue::clocks::{period, tick_target, TICKS};
use distlab::catalogue::vector::VectorMsg;
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

const TICK: TimerTag = 1;

#[derive(Clone, Debug, Hash, Default)]
struct Vector {
    // BEGIN SOLUTION
    v: Vec<u64>,
    ticks_done: u64,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

// BEGIN SOLUTION
impl Vector {
    /// One more event of mine, recorded.
    fn event(&mut self, ctx: &mut Ctx<VectorMsg>) {
        self.v[ctx.me()] += 1;
        ctx.observe(Observation::Vector(self.v.clone()));
    }
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

impl Process<VectorMsg> for Vector {
    fn on_start(&mut self, ctx: &mut Ctx<VectorMsg>) {
        // BEGIN SOLUTION
        self.v = vec![0; ctx.nodes()];
        ctx.set_timer(TICK, period(ctx.me()));
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, period, tick_target, TICKS);
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<VectorMsg>, from: NodeId, msg: VectorMsg) {
        // BEGIN SOLUTION
        let _ = from;
        let VectorMsg::App { vt } = msg;
        for (mine, theirs) in self.v.iter_mut().zip(vt) {
            *mine = (*mine).max(theirs);
        }
        self.event(ctx);
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg, Observation::Vector(vec![]));
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<VectorMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        let _ = timer;
        self.ticks_done += 1;
        self.event(ctx);
        if let Some(to) = tick_target(ctx.me(), self.ticks_done, ctx.nodes()) {
            ctx.send(to, VectorMsg::App { vt: self.v.clone() });
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

fn vector_node(_id: NodeId) -> Box<dyn Process<VectorMsg>> {
    Box::new(Vector::default())
}
