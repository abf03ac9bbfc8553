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

Two events with neither a -> b nor b -> a are **concurrent**. We call a message
concurrent with a message A when their sendings are concurrent. Problem 5.3
of the source asks for such a message in a figure of its own, which you do not have
here. A small case of our own: A is process 0's first event, a message to process 1,
and process 2's first event sends a message M to process 1 as well. Neither sender had
heard from anyone when it sent, so neither sending happens before the other: M is
concurrent with A, whichever of the two process 1 receives first. The vector-clock
exercise at the end of this notebook decides such questions from the timestamps alone;
here is that small case stamped by hand.
"""),
        code(r"""
{
// Vector stamps of the small case: entry k counts process k's events seen so far.
let send_a = [1, 0, 0]; // process 0's first event
let send_m = [0, 0, 1]; // process 2's first event
let recv_a = [1, 1, 0]; // process 1 receives A first...
let recv_m = [1, 2, 1]; // ...then M
let before = |x: [u32; 3], y: [u32; 3]| x.iter().zip(&y).all(|(a, b)| a <= b) && x != y;
println!("send A before send M: {}, send M before send A: {}", before(send_a, send_m), before(send_m, send_a));
println!("send M before receive A: {}, send A before receive M: {}", before(send_m, recv_a), before(send_a, recv_m));
};
""", role="demo"),
        md(r"""
Neither sending comes before the other: the two messages are concurrent. Their
receipts are not: process 1 takes one of them first, so one sending always happens
before the other message's receipt (here A's). Concurrency of two messages says
nothing about the order in which a common receiver gets them.

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

The one message type is `LamportMsg::App { ts }`: an application message carrying
the Lamport time of its send. Record each event's clock with
`ctx.observe(Observation::Clock(c))`, exactly once per event, before sending.
"""),
        *exercise("lamport"),
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

The one message type is `VectorMsg::App { vt }`: an application message carrying the
vector of its send. Record each event's vector with
`ctx.observe(Observation::Vector(v))`.
"""),
        *exercise("vector"),
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

Two message types: `ToMsg::Multicast { ts, seq }`, message number `seq` of its
sender stamped with the sender's Lamport time, and `ToMsg::Ack { ts, origin, seq }`,
an acknowledgement of message `seq` of node `origin`, stamped with the acknowledging
node's time. Every `PERIOD` each node multicasts its next message (`seq` 1 to
`MULTICASTS`) to all others and queues it for itself. Record each delivery with
`ctx.observe(Observation::Deliver { origin, seq })`, your own messages included. The
checks: all nodes deliver all messages in one order, and a multicast costs at most
(n-1) + n(n-1) messages.
"""),
        *exercise("tomulticast"),
        md(r"""
### With a sequencer instead (problem 6.24)

Lamport timestamps are one way to agree on an order; another is a **sequencer**, one
process that hands out consecutive numbers. Problem 6.24 compares three ways to use
one: (1) send the operation to the sequencer, which numbers it and multicasts it;
(2) multicast the operation, and let the sequencer multicast its number afterwards;
(3) first get a number from the sequencer, then multicast the operation with it.

The source's answer counts one point-to-point message for (3), the one carrying the
number. That leaves out the request for the number: the sender must ask before the
sequencer can answer, so (3) costs two point-to-point messages. The cell counts all
three for a group of n processes (the sender and the sequencer among them), with a
multicast sent as n-1 separate messages or as one hardware multicast, and the bytes
of an operation of 1 KiB carried each way.
"""),
        code(r"""
// Messages and bytes per ordered operation, for each way of using a sequencer.
const OP: u64 = 1024; // bytes of one operation
const NUMBER: u64 = 8; // bytes of a sequence number or a request for one
fn costs(n: u64, hardware: bool) -> [(u64, u64); 3] {
    let fan = if hardware { 1 } else { n - 1 }; // messages of one multicast
    [
        (1 + fan, OP + fan * (OP + NUMBER)),    // (1) to the sequencer, then its multicast
        (2 * fan, fan * OP + fan * NUMBER),      // (2) the operation, then the number, both multicast
        (2 + fan, 2 * NUMBER + fan * (OP + NUMBER)), // (3) ask, get the number, multicast both
    ]
}
println!("{:>4} {:>9}   {:>16} {:>16} {:>16}", "n", "multicast", "(1) via seq.", "(2) two mcasts", "(3) number first");
for n in [4, 16] {
    for hardware in [false, true] {
        let c = costs(n, hardware);
        let cell = |(m, b): (u64, u64)| format!("{m:>3} msg {:>5.1} KiB", b as f64 / 1024.0);
        println!("{n:>4} {:>9}   {} {} {}", if hardware { "hardware" } else { "n-1 sends" }, cell(c[0]), cell(c[1]), cell(c[2]));
    }
};
""", role="demo"),
        md(r"""
Without hardware multicast, (1) needs the fewest messages but carries every operation
twice, once to the sequencer and once to everyone: the sequencer's link carries all the
traffic. (2) sends the operation only once, but doubles the number of messages. (3)
keeps the sequencer's load to small messages at the price of one more round trip before
the operation can leave.

### Exercise: before, after or concurrent?

Vector clocks are worth their size because they answer a question Lamport clocks
cannot: given the timestamps of two events, did one happen before the other, or
are they concurrent? Write `compare_stamps(a, b)`. Event a happened before b when
a chain of steps on one process and messages leads from a to b; then a's vector
is at most b's in every entry, and smaller in at least one. If neither vector is
at most the other, the events are concurrent.

The checks do not compare your vectors with other vectors: they build random runs,
stamp every event, and ask your function about every pair of events, comparing
the answer with the chains in the run itself.
"""),
        *exercise("causality"),
    ]
