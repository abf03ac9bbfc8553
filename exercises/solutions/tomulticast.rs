use std::collections::{BTreeMap, BTreeSet};

use distlab::catalogue::tomulticast::{ToMsg, MULTICASTS, PERIOD};
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

const NEXT: TimerTag = 1;

#[derive(Clone, Debug, Hash, Default)]
struct TotalOrder {
    // BEGIN SOLUTION
    clock: u64,
    sent: u64,
    /// The hold-back queue: (timestamp, origin) -> the origin's seq.
    queue: BTreeMap<(u64, NodeId), u64>,
    /// (origin, seq) -> the nodes known to have it (acks may overtake the message).
    seen_by: BTreeMap<(NodeId, u64), BTreeSet<NodeId>>,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

// BEGIN SOLUTION
impl TotalOrder {
    fn tick(&mut self, stamp: u64) {
        self.clock = self.clock.max(stamp) + 1;
    }

    fn seen(&mut self, origin: NodeId, seq: u64, by: NodeId) {
        self.seen_by.entry((origin, seq)).or_default().insert(by);
    }

    /// Delivers from the head while everyone has acknowledged it.
    fn deliver_ready(&mut self, ctx: &mut Ctx<ToMsg>) {
        while let Some((&(ts, origin), &seq)) = self.queue.first_key_value() {
            let acked = self.seen_by.get(&(origin, seq)).map_or(0, |s| s.len());
            if acked < ctx.nodes() {
                return;
            }
            self.queue.remove(&(ts, origin));
            self.seen_by.remove(&(origin, seq));
            ctx.observe(Observation::Deliver { origin, seq });
        }
    }
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

impl Process<ToMsg> for TotalOrder {
    fn on_start(&mut self, ctx: &mut Ctx<ToMsg>) {
        // BEGIN SOLUTION
        ctx.set_timer(NEXT, PERIOD);
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, MULTICASTS, PERIOD);
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<ToMsg>, from: NodeId, msg: ToMsg) {
        // BEGIN SOLUTION
        let me = ctx.me();
        match msg {
            ToMsg::Multicast { ts, seq } => {
                self.tick(ts);
                self.queue.insert((ts, from), seq);
                self.seen(from, seq, from);
                self.seen(from, seq, me);
                self.clock += 1;
                let ack = ToMsg::Ack { ts: self.clock, origin: from, seq };
                for peer in ctx.peers().collect::<Vec<_>>() {
                    ctx.send(peer, ack.clone());
                }
            }
            ToMsg::Ack { ts, origin, seq } => {
                self.tick(ts);
                self.seen(origin, seq, from);
            }
        }
        self.deliver_ready(ctx);
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg, Observation::Deliver { origin: 0, seq: 0 });
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<ToMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        let _ = timer;
        let me = ctx.me();
        self.sent += 1;
        self.clock += 1;
        let (ts, seq) = (self.clock, self.sent);
        self.queue.insert((ts, me), seq);
        self.seen(me, seq, me);
        for peer in ctx.peers().collect::<Vec<_>>() {
            ctx.send(peer, ToMsg::Multicast { ts, seq });
        }
        if self.sent < MULTICASTS {
            ctx.set_timer(NEXT, PERIOD);
        }
        self.deliver_ready(ctx);
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }
}

fn tomulticast_node(_id: NodeId) -> Box<dyn Process<ToMsg>> {
    Box::new(TotalOrder::default())
}
