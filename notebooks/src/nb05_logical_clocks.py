from generate import code, exercise, md

STEM = "05-logical-clocks"


def cells():
    return [
        md(r"""
# 5. Logical clocks

Physical clocks never agree exactly, yet many algorithms only need to agree on the
**order** of events. Lamport's **happens-before** relation a -> b holds when

- a and b happen on the same process and a comes first, or
- a is the sending of a message and b its receipt, or
- there is some c with a -> c and c -> b.

Two events with neither a -> b nor b -> a are **concurrent**. In the textbook's
figure of three processes, a message concurrent with message A can only run between
processes 1 and 2, and must leave and arrive before anything that A leads to: e.g. one
leaving process 2 at time 0 and arriving at process 1 at time 8.

## The workload

In all three exercises every node follows the same fixed workload
(`distlab::catalogue::clocks`): node `me` ticks every `period(me)`, `TICKS` times.
Tick k is one event: a local event, or a send of one message to
`tick_target(me, k, n)`. Each receipt is one more event. Nodes tick at different
rates, so their clocks drift apart and receipts have something to catch up with.
"""),
        code(r"""
use distlab::catalogue::clocks::{period, tick_target, TICKS};

for me in 0..3 {
    let plan: Vec<String> = (1..=TICKS)
        .map(|k| match tick_target(me, k, 3) { Some(to) => format!("->{to}"), None => "local".into() })
        .collect();
    println!("node {me}, every {} ms: {}", period(me) / 1000, plan.join(" "));
}
""", role="demo"),
        md(r"""
## Lamport clocks

Each process keeps a counter C:

1. before each local or send event, C := C + 1;
2. a message carries the sender's C;
3. on receipt of a message stamped t, C := max(C, t) + 1.

This gives the **clock condition**: if a -> b then C(a) < C(b). (The converse does not
hold: C(a) < C(b) says nothing about concurrency.) The check judges the clock condition
on every recorded event, then that stamps equal the recorded send values, and that the
values follow the rules exactly.

### Exercise: Lamport clocks

Record each event's clock with `ctx.observe(Observation::Clock(c))`, exactly once per
event, before sending.
"""),
        *exercise("lamport", r"""
use distlab::catalogue::clocks::{period, tick_target, TICKS};
use distlab::catalogue::lamport::LamportMsg;
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

const TICK: TimerTag = 1;

#[derive(Clone, Debug, Hash, Default)]
struct Lamport {
    // BEGIN SOLUTION
    clock: i64,
    ticks_done: u64,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

impl Process<LamportMsg> for Lamport {
    fn on_start(&mut self, ctx: &mut Ctx<LamportMsg>) {
        // BEGIN SOLUTION
        ctx.set_timer(TICK, period(ctx.me()));
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, period, tick_target, TICKS);
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<LamportMsg>, from: NodeId, msg: LamportMsg) {
        // BEGIN SOLUTION
        let _ = from;
        let LamportMsg::App { ts } = msg;
        self.clock = self.clock.max(ts) + 1; // jump past the sender's stamp
        ctx.observe(Observation::Clock(self.clock));
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg, Observation::Clock(0));
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<LamportMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        let _ = timer;
        self.ticks_done += 1;
        self.clock += 1;
        ctx.observe(Observation::Clock(self.clock));
        if let Some(to) = tick_target(ctx.me(), self.ticks_done, ctx.nodes()) {
            ctx.send(to, LamportMsg::App { ts: self.clock });
        }
        if self.ticks_done < TICKS {
            ctx.set_timer(TICK, period(ctx.me()));
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }
}

fn lamport_node(_id: NodeId) -> Box<dyn Process<LamportMsg>> {
    Box::new(Lamport::default())
}
"""),
        md(r"""
## Vector clocks

Lamport clocks cannot tell concurrent events apart. A **vector clock** keeps one counter
per process: V[i] is how many events of process i this process knows of.

1. before each local or send event, V[me] += 1;
2. a message carries the sender's vector;
3. on receipt, V := entrywise max(V, Vmsg), then V[me] += 1.

Now a -> b **exactly when** V(a) < V(b) (every entry <=, at least one <), and two events
are concurrent exactly when neither vector is below the other. The check recomputes
every vector from the trace and compares, and checks that your vectors order events as
happens-before does.

### Exercise: vector clocks

Record each event's vector with `ctx.observe(Observation::Vector(v))`.
"""),
        *exercise("vector", r"""
use distlab::catalogue::clocks::{period, tick_target, TICKS};
use distlab::catalogue::vector::VectorMsg;
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

const TICK: TimerTag = 1;

#[derive(Clone, Debug, Hash, Default)]
struct Vector {
    // BEGIN SOLUTION
    v: Vec<u64>,
    ticks_done: u64,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

// BEGIN SOLUTION
impl Vector {
    /// One more event of mine, recorded.
    fn event(&mut self, ctx: &mut Ctx<VectorMsg>) {
        self.v[ctx.me()] += 1;
        ctx.observe(Observation::Vector(self.v.clone()));
    }
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

impl Process<VectorMsg> for Vector {
    fn on_start(&mut self, ctx: &mut Ctx<VectorMsg>) {
        // BEGIN SOLUTION
        self.v = vec![0; ctx.nodes()];
        ctx.set_timer(TICK, period(ctx.me()));
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, period, tick_target, TICKS);
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<VectorMsg>, from: NodeId, msg: VectorMsg) {
        // BEGIN SOLUTION
        let _ = from;
        let VectorMsg::App { vt } = msg;
        for (mine, theirs) in self.v.iter_mut().zip(vt) {
            *mine = (*mine).max(theirs);
        }
        self.event(ctx);
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg, Observation::Vector(vec![]));
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<VectorMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        let _ = timer;
        self.ticks_done += 1;
        self.event(ctx);
        if let Some(to) = tick_target(ctx.me(), self.ticks_done, ctx.nodes()) {
            ctx.send(to, VectorMsg::App { vt: self.v.clone() });
        }
        if self.ticks_done < TICKS {
            ctx.set_timer(TICK, period(ctx.me()));
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }
}

fn vector_node(_id: NodeId) -> Box<dyn Process<VectorMsg>> {
    Box::new(Vector::default())
}
"""),
        md(r"""
## Totally ordered multicast

Replicas that apply the same updates in the same order stay identical. With Lamport
clocks every process can agree on one order of all multicast messages:

- stamp every message with the sender's Lamport time; order messages by
  (timestamp, sender id): the id breaks ties, so the order is total;
- each process keeps a **hold-back queue** sorted that way;
- it delivers the head of the queue only when it is sure no message with a smaller
  (timestamp, id) can still arrive.

When is it sure? Channels are reliable and FIFO, and every process's clock only grows.
So once a process has received *some* message stamped later than the head from
**every** other process, nothing smaller can follow from anyone. The textbook's version
has every receiver acknowledge each message to everyone and waits for all
acknowledgements; the acknowledgements are just a convenient supply of later-stamped
messages. **An explicit acknowledgement of every message is not strictly needed**: any
later-stamped message from each process does the job (but a process that stops
talking must still send something, or the last messages are never delivered).

### Exercise: totally ordered multicast

Every `PERIOD` each node multicasts its next message (`seq` 1 to `MULTICASTS`) to all
others and queues it for itself. Record each delivery with
`ctx.observe(Observation::Deliver { origin, seq })`, your own messages included. The
checks: all nodes deliver all messages in one order, and a multicast costs at most
(n-1) + n(n-1) messages.
"""),
        *exercise("tomulticast", r"""
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
"""),
    ]
