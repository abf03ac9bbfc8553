// Shared memory instead of messages: the messages are only for show (the
// coordinator grants every request at once, with no queue); who may go in
// is decided by a static every node reads and writes. In one process (the
// notebook's :check) this passes; with one process per node it cannot.
use distlab::catalogue::central::CentralMsg;
use distlab::catalogue::mutex::{first_request, think_time, HOLD, ROUNDS};
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};
use std::sync::Mutex;

static HOLDER: Mutex<Option<NodeId>> = Mutex::new(None);

const ASK: TimerTag = 1;
const LEAVE: TimerTag = 2;

#[derive(Clone, Debug, Hash, Default)]
struct Sneaky {
    rounds: u32,
    waiting: bool,
    granted: bool,
}

impl Sneaky {
    fn try_enter(&mut self, ctx: &mut Ctx<CentralMsg>) {
        if !self.granted {
            return;
        }
        let mut holder = HOLDER.lock().unwrap();
        if holder.is_none() {
            *holder = Some(ctx.me());
            self.waiting = false;
            self.granted = false;
            ctx.observe(Observation::EnterCritical);
            ctx.set_timer(LEAVE, HOLD);
        } else {
            ctx.set_timer(ASK, 50);
        }
    }
}

impl Process<CentralMsg> for Sneaky {
    fn on_start(&mut self, ctx: &mut Ctx<CentralMsg>) {
        if ctx.me() == 0 {
            *HOLDER.lock().unwrap() = None; // a fresh run
        } else {
            ctx.set_timer(ASK, first_request(ctx.me()));
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<CentralMsg>, from: NodeId, msg: CentralMsg) {
        match msg {
            CentralMsg::Request => ctx.send(from, CentralMsg::Grant),
            CentralMsg::Grant => {
                self.granted = true;
                self.try_enter(ctx);
            }
            CentralMsg::Release => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<CentralMsg>, timer: TimerTag) {
        match timer {
            ASK => {
                if !self.waiting {
                    self.waiting = true;
                    ctx.observe(Observation::RequestCritical);
                    ctx.send(0, CentralMsg::Request);
                } else {
                    self.try_enter(ctx);
                }
            }
            _ => {
                ctx.observe(Observation::ExitCritical);
                *HOLDER.lock().unwrap() = None;
                ctx.send(0, CentralMsg::Release);
                self.rounds += 1;
                if self.rounds < ROUNDS {
                    ctx.set_timer(ASK, think_time(ctx.nodes()));
                }
            }
        }
    }
}

fn central_node(_id: NodeId) -> Box<dyn Process<CentralMsg>> {
    Box::new(Sneaky::default())
}
