from generate import code, exercise, md

STEM = "06-election"


def cells():
    return [
        md(r"""
# 6. Electing a coordinator

Many algorithms lean on one process as coordinator: a lock server, a sequencer, the
owner of a queue. When it crashes, the others must agree on a successor, and the usual
rule is: **the live process with the highest id wins**. Every process knows the ids of
the others, but not which of them are alive.

A crash can only be noticed by silence, so both algorithms here use **timeouts**: the
coordinator sends `Alive` heartbeats, and a node that hears nothing for a while
suspects a crash. In the scenarios every message takes between 1 and 5 ms, so a reply
comes within 10 ms or not at all; pick timeouts comfortably above that.

Both exercises are judged on the same properties, under crashes and recoveries:

- within a deadline after the last fault, **every live node follows the highest live
  id** (observed with `ctx.observe(Observation::Leader(id))`), and that lasts;
- once a higher node has been up and reachable for a while, nobody adopts a lower one;
- the number of `Election` messages per round stays within a budget.

## The bully algorithm

A node P that suspects the coordinator (or has just started or recovered):

1. sends `Election` to every node with a **higher** id;
2. if nobody answers in time, P wins: it sends `Coordinator` to everyone;
3. a higher node that gets `Election` replies `Answer` (it takes over) and holds its own
   election, unless it is already holding one;
4. P, once answered, waits for the `Coordinator` message, and starts again if none comes.

A node that comes back from a crash holds an election at once; if it has the highest
id it "bullies" its way to the top.

**Two nodes detect the crash at once.** Both send `Election` to all higher nodes, so
each higher node gets two. That is harmless: it answers both, but starts only one
election of its own (the second `Election` finds it already electing). The election
proceeds as usual, and the budget allows for it: at most n(n-1) `Election`s per round.

### Exercise: the bully algorithm
"""),
        *exercise("bully", r"""
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
"""),
        md(r"""
## The ring algorithm

The nodes sit on a logical ring in id order (after the last comes node 0). To elect:

1. a node sends `Election` carrying the list `[its id]` to its successor;
2. every node appends its own id and passes the message on; if the successor is dead
   (no `Ack` in time), it skips to the next one, and so on round the ring;
3. when the message is back at the node that started it, the list holds every live
   node; the starter picks the highest id and sends `Coordinator` round the ring once.

**Killing duplicate elections.** When several nodes start at once, several `Election`
messages circulate. That is harmless but wasteful. Each node can kill some: a node that
has started an election of its own and receives an `Election` begun by a **lower** id
simply drops it; one begun by a higher id is passed on as usual. So only the election
with the highest starter survives, and the others die on the way. (A node drops an
`Election` that already lists it, too: its starter is gone.) The budget is 3n
`Election` messages per round.

### Exercise: the ring algorithm
"""),
        *exercise("ring", r"""
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
"""),
        md(r"""
## Questions to think about

- In the bully algorithm, what happens to the message count when the node with the
  *lowest* id notices the crash first? When the second highest does?
- In the ring, suppose two elections start at once and you do not kill duplicates. Do
  both finish? Do they agree? What does it cost?
- Both algorithms trust timeouts. What goes wrong if the network is sometimes slower
  than the timeout assumes?
"""),
    ]
