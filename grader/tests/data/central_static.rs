// Shared memory instead of messages: the "coordinator" is a static that
// every node reads and writes, and no node ever sends. In one process (the
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
}

impl Sneaky {
    fn try_enter(&mut self, ctx: &mut Ctx<CentralMsg>) {
        let mut holder = HOLDER.lock().unwrap();
        if holder.is_none() {
            *holder = Some(ctx.me());
            self.waiting = false;
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

    fn on_message(&mut self, _ctx: &mut Ctx<CentralMsg>, _from: NodeId, _msg: CentralMsg) {}

    fn on_timer(&mut self, ctx: &mut Ctx<CentralMsg>, timer: TimerTag) {
        match timer {
            ASK => {
                if !self.waiting {
                    self.waiting = true;
                    ctx.observe(Observation::RequestCritical);
                }
                self.try_enter(ctx);
            }
            _ => {
                ctx.observe(Observation::ExitCritical);
                *HOLDER.lock().unwrap() = None;
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
