use distlab::catalogue::berkeley::{BerkeleyMsg, DAEMON, POLL_EVERY, THRESHOLD, WAIT};
use distlab::{Ctx, NodeId, Process, TimerTag};

// BEGIN SOLUTION
use std::collections::BTreeMap;

use distlab::Time;

const POLL: TimerTag = 1; // daemon: start a round
const AVERAGE: TimerTag = 2; // daemon: stop waiting for answers
const APPLIED: &str = "last applied round"; // machine: survives a crash
// END SOLUTION
// BEGIN STARTER
// END STARTER

#[derive(Clone, Debug, Hash, Default)]
struct Berkeley {
    // BEGIN SOLUTION
    /// Daemon: the current round and my clock when I polled for it.
    round: u64,
    polled_at: Time,
    /// Daemon: this round's offset estimates, machine clock minus mine.
    offsets: BTreeMap<NodeId, Time>,
    /// Machine: the newest round whose correction I applied.
    applied: u64,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

// BEGIN SOLUTION
impl Berkeley {
    fn poll(&mut self, ctx: &mut Ctx<BerkeleyMsg>) {
        self.round += 1;
        self.polled_at = ctx.now();
        self.offsets.clear();
        ctx.broadcast(BerkeleyMsg::Poll { round: self.round });
        ctx.set_timer(AVERAGE, WAIT);
        ctx.set_timer(POLL, POLL_EVERY);
    }

    /// Moves everyone who answered, and me, to the average of the sane clocks.
    fn correct(&mut self, ctx: &mut Ctx<BerkeleyMsg>) {
        if self.offsets.is_empty() {
            return; // nobody answered: nothing to average this round
        }
        let sane: Vec<Time> =
            std::iter::once(0).chain(self.offsets.values().copied().filter(|o| o.abs() <= THRESHOLD)).collect();
        let average = sane.iter().sum::<Time>() / sane.len() as Time;
        for (&machine, &offset) in &self.offsets {
            ctx.send(machine, BerkeleyMsg::Adjust { round: self.round, delta: average - offset });
        }
        ctx.adjust_clock(average);
        self.offsets.clear();
    }
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

impl Process<BerkeleyMsg> for Berkeley {
    fn on_start(&mut self, ctx: &mut Ctx<BerkeleyMsg>) {
        // BEGIN SOLUTION
        if ctx.me() == DAEMON {
            self.poll(ctx);
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, DAEMON, POLL_EVERY, THRESHOLD, WAIT);
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<BerkeleyMsg>, from: NodeId, msg: BerkeleyMsg) {
        // BEGIN SOLUTION
        match msg {
            BerkeleyMsg::Poll { round } => ctx.send(from, BerkeleyMsg::Clock { round, time: ctx.now() }),
            BerkeleyMsg::Clock { round, time } if round == self.round => {
                let now = ctx.now();
                // The machine read its clock about halfway through the round trip.
                let offset = time + (now - self.polled_at) / 2 - now;
                self.offsets.entry(from).or_insert(offset); // a second copy is older news
            }
            BerkeleyMsg::Adjust { round, delta } if round > self.applied => {
                self.applied = round;
                ctx.persist(APPLIED, &round);
                ctx.adjust_clock(delta);
            }
            _ => {} // an answer from an old round, or a correction already applied
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg);
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<BerkeleyMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        match timer {
            POLL => self.poll(ctx),
            _ => self.correct(ctx),
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }

    fn on_recover(&mut self, ctx: &mut Ctx<BerkeleyMsg>) {
        // BEGIN SOLUTION
        self.applied = ctx.recall(APPLIED).unwrap_or(0);
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER
        self.on_start(ctx)
    }
}

fn berkeley_node(_id: NodeId) -> Box<dyn Process<BerkeleyMsg>> {
    Box::new(Berkeley::default())
}
