use distlab::catalogue::mutex::{first_request, think_time, HOLD, ROUNDS};
use distlab::catalogue::tokenring::TokenMsg;
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

const ASK: TimerTag = 1;
const LEAVE: TimerTag = 2;

#[derive(Clone, Debug, Hash, Default)]
struct Ring {
    // BEGIN SOLUTION
    wants_in: bool,
    rounds: u32,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

// BEGIN SOLUTION
impl Ring {
    /// I hold the token: use it if I asked, else hand it on.
    fn got_token(&mut self, ctx: &mut Ctx<TokenMsg>) {
        if self.wants_in {
            self.wants_in = false;
            ctx.observe(Observation::EnterCritical);
            ctx.set_timer(LEAVE, HOLD);
        } else {
            ctx.send((ctx.me() + 1) % ctx.nodes(), TokenMsg::Token);
        }
    }
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

impl Process<TokenMsg> for Ring {
    fn on_start(&mut self, ctx: &mut Ctx<TokenMsg>) {
        // BEGIN SOLUTION
        ctx.set_timer(ASK, first_request(ctx.me()));
        if ctx.me() == 0 {
            self.got_token(ctx);
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, first_request(0), think_time(2), HOLD, ROUNDS, Observation::RequestCritical);
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<TokenMsg>, from: NodeId, msg: TokenMsg) {
        // BEGIN SOLUTION
        let (_, TokenMsg::Token) = (from, msg);
        self.got_token(ctx);
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg);
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<TokenMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        if timer == ASK {
            // The token never rests where nobody is inside: wait for it.
            ctx.observe(Observation::RequestCritical);
            self.wants_in = true;
        } else {
            ctx.observe(Observation::ExitCritical);
            self.rounds += 1;
            if self.rounds < ROUNDS {
                ctx.set_timer(ASK, think_time(ctx.nodes()));
            }
            self.got_token(ctx); // still holding it: pass it on
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }
}

fn tokenring_node(_id: NodeId) -> Box<dyn Process<TokenMsg>> {
    Box::new(Ring::default())
}
