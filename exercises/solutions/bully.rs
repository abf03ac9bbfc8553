use distlab::catalogue::bully::BullyMsg;
use distlab::{ms, Ctx, NodeId, Observation, Process, TimerTag};

// BEGIN SOLUTION
const HEARTBEAT: TimerTag = 1; // as coordinator: time to send Alive
const WATCHDOG: TimerTag = 2; // as follower: the coordinator has been silent too long
const NO_ANSWER: TimerTag = 3; // electing: nobody higher answered, so I win
const NO_COORDINATOR: TimerTag = 4; // answered, but the winner never announced itself

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, Default)]
enum Phase {
    #[default]
    Idle,
    Electing,
    AwaitingCoordinator,
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

#[derive(Clone, Debug, Hash, Default)]
struct Bully {
    leader: Option<NodeId>,
    // BEGIN SOLUTION
    phase: Phase,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

// BEGIN SOLUTION
impl Bully {
    fn hold_election(&mut self, ctx: &mut Ctx<BullyMsg>) {
        ctx.cancel_timer(WATCHDOG);
        ctx.cancel_timer(NO_COORDINATOR);
        let me = ctx.me();
        if me + 1 == ctx.nodes() {
            return self.take_over(ctx); // nobody is higher
        }
        self.phase = Phase::Electing;
        for higher in me + 1..ctx.nodes() {
            ctx.send(higher, BullyMsg::Election);
        }
        ctx.set_timer(NO_ANSWER, ms(12)); // a round trip is at most 10 ms
    }

    fn take_over(&mut self, ctx: &mut Ctx<BullyMsg>) {
        self.phase = Phase::Idle;
        self.leader = Some(ctx.me());
        ctx.observe(Observation::Leader(ctx.me()));
        ctx.broadcast(BullyMsg::Coordinator);
        ctx.set_timer(HEARTBEAT, ms(20));
    }

    fn follow(&mut self, ctx: &mut Ctx<BullyMsg>, leader: NodeId) {
        self.phase = Phase::Idle;
        self.leader = Some(leader);
        for timer in [HEARTBEAT, NO_ANSWER, NO_COORDINATOR] {
            ctx.cancel_timer(timer);
        }
        ctx.observe(Observation::Leader(leader));
        ctx.set_timer(WATCHDOG, ms(50)); // two heartbeats missed, and then some
    }
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

impl Process<BullyMsg> for Bully {
    fn on_start(&mut self, ctx: &mut Ctx<BullyMsg>) {
        // BEGIN SOLUTION
        self.hold_election(ctx);
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, ms(1), Observation::Leader(0));
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<BullyMsg>, from: NodeId, msg: BullyMsg) {
        // BEGIN SOLUTION
        let me = ctx.me();
        match msg {
            BullyMsg::Election if from < me => {
                ctx.send(from, BullyMsg::Answer);
                if self.phase == Phase::Idle {
                    self.hold_election(ctx); // a second Election starts nothing new
                }
            }
            BullyMsg::Answer if self.phase == Phase::Electing => {
                ctx.cancel_timer(NO_ANSWER);
                self.phase = Phase::AwaitingCoordinator;
                ctx.set_timer(NO_COORDINATOR, ms(60));
            }
            BullyMsg::Coordinator if from > me => self.follow(ctx, from),
            // A lower node claims the lead while I am alive: bully it.
            BullyMsg::Coordinator if self.phase == Phase::Idle => self.hold_election(ctx),
            BullyMsg::Alive if self.leader == Some(from) => ctx.set_timer(WATCHDOG, ms(50)),
            // A higher coordinator I did not know of (a partition healed).
            BullyMsg::Alive if from > me && self.leader.is_none_or(|l| from > l) => self.follow(ctx, from),
            _ => {}
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg);
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<BullyMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        match timer {
            HEARTBEAT => {
                ctx.broadcast(BullyMsg::Alive);
                ctx.set_timer(HEARTBEAT, ms(20));
            }
            NO_ANSWER => self.take_over(ctx),
            _ => self.hold_election(ctx), // WATCHDOG or NO_COORDINATOR
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }

    fn on_recover(&mut self, ctx: &mut Ctx<BullyMsg>) {
        self.on_start(ctx)
    }
}

fn bully_node(_id: NodeId) -> Box<dyn Process<BullyMsg>> {
    Box::new(Bully::default())
}
