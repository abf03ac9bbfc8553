use std::collections::BTreeMap;

use distlab::catalogue::ring::RingMsg;
use distlab::{ms, Ctx, NodeId, Observation, Process, TimerTag};

// BEGIN SOLUTION
const HEARTBEAT: TimerTag = 1;
const WATCHDOG: TimerTag = 2;
/// An election I started or joined has not ended with a Coordinator.
const ROUND: TimerTag = 3;
/// Hop `tag` waits for its Ack under timer `ACK_BASE + tag`.
const ACK_BASE: TimerTag = 1_000;

/// A ring message without its hop tag.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Hop {
    Election(Vec<NodeId>),
    Coordinator(NodeId, Vec<NodeId>),
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

#[derive(Clone, Debug, Hash, Default)]
struct Ring {
    leader: Option<NodeId>,
    // BEGIN SOLUTION
    /// I started an election that has not ended.
    electing: bool,
    /// I passed on someone else's election that has not ended.
    joined: bool,
    next_tag: u64,
    /// Hops sent and not yet acknowledged: tag -> (successor tried, hop).
    unacked: BTreeMap<u64, (NodeId, Hop)>,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

// BEGIN SOLUTION
impl Ring {
    /// Sends `hop` to the first node after `after`; if that is me, everyone
    /// else is dead and the hop comes straight back.
    fn forward(&mut self, ctx: &mut Ctx<RingMsg>, hop: Hop, after: NodeId) {
        let to = (after + 1) % ctx.nodes();
        if to == ctx.me() {
            return self.handle(ctx, hop);
        }
        let tag = self.next_tag;
        self.next_tag += 1;
        let msg = match hop.clone() {
            Hop::Election(ids) => RingMsg::Election { tag, ids },
            Hop::Coordinator(leader, ids) => RingMsg::Coordinator { tag, leader, ids },
        };
        ctx.send(to, msg);
        self.unacked.insert(tag, (to, hop));
        ctx.set_timer(ACK_BASE + tag, ms(12));
    }

    fn watch_round(&self, ctx: &mut Ctx<RingMsg>) {
        ctx.cancel_timer(WATCHDOG);
        ctx.set_timer(ROUND, ms(25) * ctx.nodes() as i64);
    }

    fn start_election(&mut self, ctx: &mut Ctx<RingMsg>) {
        let me = ctx.me();
        self.electing = true;
        // Mine outranks the lower elections I was still handing on.
        self.unacked.retain(|_, (_, hop)| !matches!(hop, Hop::Election(ids) if ids[0] < me));
        self.watch_round(ctx);
        self.forward(ctx, Hop::Election(vec![me]), me);
    }

    fn adopt(&mut self, ctx: &mut Ctx<RingMsg>, leader: NodeId) {
        self.leader = Some(leader);
        self.electing = false;
        self.joined = false;
        ctx.cancel_timer(ROUND);
        ctx.observe(Observation::Leader(leader));
        if leader == ctx.me() {
            ctx.cancel_timer(WATCHDOG);
            ctx.set_timer(HEARTBEAT, ms(20));
        } else {
            ctx.cancel_timer(HEARTBEAT);
            ctx.set_timer(WATCHDOG, ms(50));
        }
    }

    fn handle(&mut self, ctx: &mut Ctx<RingMsg>, hop: Hop) {
        let me = ctx.me();
        match hop {
            // My election went all the way round: the highest id on it wins.
            Hop::Election(ids) if ids[0] == me => {
                let winner = ids.iter().copied().max().unwrap_or(me);
                self.adopt(ctx, winner);
                self.forward(ctx, Hop::Coordinator(winner, vec![me]), me);
            }
            // Lists me but was not started by me: its starter is gone.
            Hop::Election(ids) if ids.contains(&me) => {}
            // Duplicate suppression: I run my own election, this one is lower.
            Hop::Election(ids) if self.electing && ids[0] < me => {}
            Hop::Election(mut ids) => {
                ids.push(me);
                self.joined = true;
                self.watch_round(ctx);
                self.forward(ctx, Hop::Election(ids), me);
            }
            Hop::Coordinator(_, ids) if ids.contains(&me) => {}
            // It went round without me, and I am higher: elect again.
            Hop::Coordinator(leader, _) if leader < me => {
                if !self.electing {
                    self.start_election(ctx);
                }
            }
            Hop::Coordinator(leader, mut ids) => {
                self.adopt(ctx, leader);
                ids.push(me);
                self.forward(ctx, Hop::Coordinator(leader, ids), me);
            }
        }
    }
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

impl Process<RingMsg> for Ring {
    fn on_start(&mut self, ctx: &mut Ctx<RingMsg>) {
        // BEGIN SOLUTION
        self.start_election(ctx);
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, ms(1), Observation::Leader(0));
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<RingMsg>, from: NodeId, msg: RingMsg) {
        // BEGIN SOLUTION
        match msg {
            RingMsg::Election { tag, ids } => {
                ctx.send(from, RingMsg::Ack { tag });
                self.handle(ctx, Hop::Election(ids));
            }
            RingMsg::Coordinator { tag, leader, ids } => {
                ctx.send(from, RingMsg::Ack { tag });
                self.handle(ctx, Hop::Coordinator(leader, ids));
            }
            RingMsg::Ack { tag } => {
                if self.unacked.get(&tag).is_some_and(|(to, _)| *to == from) {
                    self.unacked.remove(&tag);
                    ctx.cancel_timer(ACK_BASE + tag);
                }
            }
            RingMsg::Alive if self.leader == Some(from) => ctx.set_timer(WATCHDOG, ms(50)),
            RingMsg::Alive => {
                let higher = self.leader.is_none_or(|l| from > l);
                if higher && !self.electing && !self.joined {
                    self.start_election(ctx);
                }
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg);
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<RingMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        match timer {
            HEARTBEAT => {
                ctx.broadcast(RingMsg::Alive);
                ctx.set_timer(HEARTBEAT, ms(20));
            }
            WATCHDOG | ROUND => self.start_election(ctx),
            ack_timer if ack_timer >= ACK_BASE => {
                // The successor never acked: skip it.
                if let Some((dead, hop)) = self.unacked.remove(&(ack_timer - ACK_BASE)) {
                    self.forward(ctx, hop, dead);
                }
            }
            _ => {}
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }

    fn on_recover(&mut self, ctx: &mut Ctx<RingMsg>) {
        self.on_start(ctx)
    }
}

fn ring_node(_id: NodeId) -> Box<dyn Process<RingMsg>> {
    Box::new(Ring::default())
}
