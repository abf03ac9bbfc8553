use distlab::catalogue::cristian::{CristianMsg, RETRY, SERVER, SYNC_EVERY};
use distlab::{Ctx, NodeId, Process, TimerTag};

// BEGIN SOLUTION
const SYNC: TimerTag = 1; // time for the next periodic request
const NO_REPLY: TimerTag = 2; // the latest request went unanswered: ask again
// END SOLUTION
// BEGIN STARTER
// END STARTER

#[derive(Clone, Debug, Hash, Default)]
struct Cristian {
    // BEGIN SOLUTION
    /// The last request id handed out.
    last_id: u64,
    /// The request still waiting for its reply, with my clock when I sent it.
    waiting: Option<(u64, distlab::Time)>,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

// BEGIN SOLUTION
impl Cristian {
    /// A fresh request replaces any older one still waiting.
    fn ask(&mut self, ctx: &mut Ctx<CristianMsg>) {
        self.last_id += 1;
        self.waiting = Some((self.last_id, ctx.now()));
        ctx.send(SERVER, CristianMsg::Request { id: self.last_id });
        ctx.set_timer(NO_REPLY, RETRY);
    }
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

impl Process<CristianMsg> for Cristian {
    fn on_start(&mut self, ctx: &mut Ctx<CristianMsg>) {
        // BEGIN SOLUTION
        if ctx.me() != SERVER {
            ctx.set_timer(SYNC, SYNC_EVERY);
            self.ask(ctx);
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, SERVER, SYNC_EVERY, RETRY);
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<CristianMsg>, from: NodeId, msg: CristianMsg) {
        // BEGIN SOLUTION
        match msg {
            CristianMsg::Request { id } => ctx.send(from, CristianMsg::Reply { id, time: ctx.now() }),
            CristianMsg::Reply { id, time } => {
                // Only the first copy of the reply to the latest request counts.
                let Some((_, sent_at)) = self.waiting.filter(|&(latest, _)| latest == id) else {
                    return;
                };
                self.waiting = None;
                ctx.cancel_timer(NO_REPLY);
                let now = ctx.now();
                let estimate = time + (now - sent_at) / 2; // the server read `time` about halfway
                ctx.adjust_clock(estimate - now);
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg);
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<CristianMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        if timer == SYNC {
            ctx.set_timer(SYNC, SYNC_EVERY);
        }
        self.ask(ctx); // the periodic request, or a retry
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }
}

fn cristian_node(_id: NodeId) -> Box<dyn Process<CristianMsg>> {
    Box::new(Cristian::default())
}
