use std::collections::VecDeque;

use distlab::catalogue::central::CentralMsg;
use distlab::catalogue::mutex::{first_request, think_time, HOLD, ROUNDS};
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

const ASK: TimerTag = 1;
const LEAVE: TimerTag = 2;
// BEGIN SOLUTION
const COORDINATOR: NodeId = 0;
// END SOLUTION
// BEGIN STARTER
// END STARTER

#[derive(Clone, Debug, Hash, Default)]
struct Central {
    // BEGIN SOLUTION
    // Coordinator state: who is inside, who waits (first come, first served).
    holder: Option<NodeId>,
    waiting: VecDeque<NodeId>,
    // Client state: entries so far.
    rounds: u32,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

impl Process<CentralMsg> for Central {
    fn on_start(&mut self, ctx: &mut Ctx<CentralMsg>) {
        // BEGIN SOLUTION
        if ctx.me() != COORDINATOR {
            ctx.set_timer(ASK, first_request(ctx.me()));
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, first_request(1), think_time(2), HOLD, ROUNDS, Observation::RequestCritical);
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<CentralMsg>, from: NodeId, msg: CentralMsg) {
        // BEGIN SOLUTION
        match msg {
            CentralMsg::Request if self.holder.is_none() => {
                self.holder = Some(from);
                ctx.send(from, CentralMsg::Grant);
            }
            CentralMsg::Request => self.waiting.push_back(from), // no answer: wait
            CentralMsg::Release => {
                self.holder = self.waiting.pop_front();
                if let Some(next) = self.holder {
                    ctx.send(next, CentralMsg::Grant);
                }
            }
            CentralMsg::Grant => {
                ctx.observe(Observation::EnterCritical);
                ctx.set_timer(LEAVE, HOLD);
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg);
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<CentralMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        if timer == ASK {
            ctx.observe(Observation::RequestCritical);
            ctx.send(COORDINATOR, CentralMsg::Request);
        } else {
            ctx.observe(Observation::ExitCritical);
            ctx.send(COORDINATOR, CentralMsg::Release);
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

fn central_node(_id: NodeId) -> Box<dyn Process<CentralMsg>> {
    Box::new(Central::default())
}
