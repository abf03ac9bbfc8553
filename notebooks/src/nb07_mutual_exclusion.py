from generate import code, exercise, md

STEM = "07-mutual-exclusion"


def cells():
    return [
        md(r"""
# 7. Mutual exclusion without shared memory

Locks, semaphores and monitors all assume memory that every process can see. Across
machines there is none: whoever wants a resource that lives on the network must
**ask by message**. Three ways to do it, all with the same workload
(`distlab::catalogue::mutex`): node i first asks `first_request(i)` after it starts,
stays inside for `HOLD`, waits `think_time(n)` after leaving and asks again, `ROUNDS`
times. A node reports what it does with `ctx.observe(...)`: `RequestCritical` when it
asks, `EnterCritical`, `ExitCritical`.

Every exercise is checked for: **never two nodes inside** (safety), **every request
served** by a deadline (liveness), and cost: messages per entry and the delay before
entry, against the textbook's table:

| algorithm | messages per entry | delay before entry (in message delays) |
|---|---|---|
| centralized | 3 | 2 |
| distributed (Ricart and Agrawala) | 2(n-1) | 2(n-1) |
| token ring | 1 to unbounded | 0 to n-1 |

At the end of the notebook your three solutions are measured on the simulator and set
next to this table.

## 1. A central coordinator

One process, the coordinator, owns the resource. A node sends `Request` and waits;
the coordinator answers `Grant` if the resource is free, and otherwise queues the
request **without answering**. On leaving, the node sends `Release`, and the
coordinator grants the next in the queue. Three messages per entry, two message delays
from asking to entering when nobody else is inside.

Variations worth discussing:

- **Priorities**: instead of first come, first served, the coordinator may grant the
  queued request with the highest priority first.
- **Coordinator crash**: a queued node cannot tell a crashed coordinator from a long
  queue, because it hears nothing in both cases. If the coordinator answered every
  request at once (grant or "denied, wait"), a crash with nobody inside and nobody
  queued would be noticed by the next requester, which could start an election. A new
  coordinator also needs the queue: it can poll every node, or the old one can have
  logged each request to stable storage before answering.

### Exercise: the centralized algorithm

Messages: `CentralMsg::Request` (to the coordinator: may I enter?),
`CentralMsg::Grant` (from the coordinator: go ahead) and `CentralMsg::Release` (to the
coordinator: I have left).

- **Node 0** is the coordinator and never asks for the critical section itself. It
  remembers who is inside, grants a `Request` at once when nobody is, and otherwise
  queues the asker (first come, first served) without answering. On `Release` it
  grants the next node in the queue, if any.
- **Nodes 1 to n-1** follow the workload of `distlab::catalogue::mutex`, driven by
  their own timers: at `first_request(me)` after starting, observe
  `Observation::RequestCritical` and send `Request` to node 0; on `Grant`, observe
  `Observation::EnterCritical` and stay inside for `HOLD`; then observe
  `Observation::ExitCritical`, send `Release`, wait `think_time(n)` and ask again,
  `ROUNDS` times in all.

The checks: never two nodes inside at once; every request granted by the scenario's
deadline; at most 3 messages per entry; and a request made while nobody else wants in
is granted within two message delays.
"""),
        *exercise("central"),
        md(r"""
### When the coordinator fails

The centralized algorithm puts all its knowledge in one process. If that process
crashes, the queue and the name of the process inside go with it, and the waiting nodes
hear nothing, exactly as they would in a long queue. Recovering takes three steps.

1. **Noticing.** A node that has waited a while asks the coordinator `AreYouAlive`.
   Messages take at most `MAX_DELAY`, so an answer comes within `2 * MAX_DELAY` or not
   at all; no answer means the coordinator is gone. (This is sound only because the
   scenarios bound the delay and lose no message between live nodes. On a real network a
   slow coordinator looks exactly like a dead one.)
2. **Choosing a successor.** The node that noticed holds a bully election, as in
   notebook 6: the live node with the highest id wins and announces itself. A node that
   recovers holds one too, so a higher id that comes back takes over from a lower one.
3. **Rebuilding the state.** The new coordinator knows nothing of the old queue. It asks
   every node with `Poll`, and each answers whether it is inside, waiting or neither.
   Until the answers are in, it grants nothing: someone may still be inside on the old
   coordinator's grant, and a second grant would put two nodes in.

Two timing details make step 3 safe. The old coordinator, if it is still alive (a
higher id took over), may have sent a `Grant` just before it learned of its successor;
the new coordinator waits for such a grant to land before it polls, so the poll sees the
node inside. And a node that crashes inside never sends `Release`: the coordinator
checks on a holder that stays too long, and silence again means a crash.

What does a crash inside the critical section mean? Here, the node leaves it: it loses
its memory, the resource (think of a lock held in that process's memory) is free again,
and the checks count the node out. A node that recovers starts its workload over.

### Exercise: failover

Every node now asks for the critical section and any node can coordinate. Messages:
`Request`, `Grant`, `Release` as before, also to itself when the coordinator wants in;
`AreYouAlive` and `Alive` for the probe; `Election`, `Answer` and `Coordinator` for the
election; `Poll` and its answer `State(Need::Holding | Need::Wanting | Need::Nothing)`.

- The workload is the one of `central`, with one change: a node stays inside for
  `failover::HOLD` (20 ms), long enough for a coordinator to fail while someone is
  inside.
- Messages take between 1 ms and `MAX_DELAY` (5 ms). Derive every timeout from that: a
  question is answered within `2 * MAX_DELAY`, a granted node has released within
  `HOLD + 2 * MAX_DELAY`.
- Call `ctx.observe(Observation::Leader(id))` each time you take `id` as coordinator.
- Two announcements can cross: a lower node claims the lead just as a higher one comes
  back, and a third node hears them in the wrong order. Something later than both must
  set it right; the new coordinator's poll is a natural candidate.
- Every fault in the scenarios comes while some node still has requests to make, so
  a waiting node is there to notice it.

The checks: never two nodes inside, and nobody enters without a `Grant`; within
`DEADLINE` of the last fault no live node waits and each has made its `ROUNDS` entries
since it last started; then one coordinator, the highest live id, followed by every live
node; and the messages stay within a budget (per entry, plus per election round).
"""),
        *exercise("failover"),
        md(r"""
## 2. Fully distributed: Ricart and Agrawala

No coordinator: a node that wants in asks **everyone** and enters once **all** the
others have said yes. Which request came first is decided by Lamport timestamps, with
the node id appended to break ties (as the bakery algorithm does with ticket numbers),
so that every node orders any two requests the same way.

On receiving a `Request { ts }` a node updates its clock and:

- replies at once if it is neither inside nor asking;
- **defers** the reply if it is inside;
- if it is asking too, compares (its own stamp, its id) with (ts, sender): the older
  request wins; the younger one's owner replies at once, the older one defers.

Deferred replies go out on leaving. Cost: n-1 requests and n-1 replies per entry. On
a LAN with **hardware broadcast** the n-1 requests become one broadcast. The source
(problem 5.12) gives the delay, 1 + (n-1) message times (one broadcast, then n-1
replies), and says one "exit broadcast" is enough on leaving; it never totals the
messages. Counting them ourselves: an entry nobody competes with costs the request
broadcast plus n-1 replies, 1 + (n-1) = n, and needs no exit message at all, since
nobody was kept waiting. Only the replies a node deferred go out on leaving, and those
are addressed to the nodes that wait, one message each in our model; a single exit
broadcast would replace them only if every other node had been waiting.

In the measurements below, a network with hardware broadcast counts a `ctx.broadcast`
as **one** message. So send your requests with `ctx.broadcast`: a loop of `ctx.send`
is n-1 messages on any network, and the broadcast row would show 2(n-1) for your
solution. A weakness to discuss: a
crashed node never replies, and silence means "wait", so one crash blocks everyone.
Answering every request at once (with "yes" or "no, later") makes crashes detectable,
but a node that said "no" and then crashed still blocks the asker, unless the asker
polls the nodes that said no.

### Exercise: Ricart and Agrawala
"""),
        *exercise("ricart"),
        md(r"""
### Several critical sections (problem 5.13)

Ricart and Agrawala's algorithm guards one critical section; a system with several
runs one instance per section, each deciding on its own. Can the instances deadlock?
Only through how the processes use them. The cell below explores every interleaving of
two processes and two sections, A and B, each run as its own mutual-exclusion instance
(a process that asks for a held section waits until it is released), and counts the
interleavings that end with both processes waiting for ever.
"""),
        code(r"""
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Step { Enter(char), Leave(char) }
use Step::{Enter, Leave};

/// Every interleaving of the two programs; returns (finished, deadlocked) counts.
fn explore(programs: [&[Step]; 2]) -> (usize, usize) {
    fn go(programs: [&[Step]; 2], pc: [usize; 2], held: &mut BTreeSet<(char, usize)>, out: &mut (usize, usize)) {
        let mut moved = false;
        for p in 0..2 {
            let Some(&step) = programs[p].get(pc[p]) else { continue };
            let mut next = pc;
            next[p] += 1;
            match step {
                Enter(s) if held.iter().any(|&(h, _)| h == s) => continue, // held by the other: wait
                Enter(s) => {
                    moved = true;
                    held.insert((s, p));
                    go(programs, next, held, out);
                    held.remove(&(s, p));
                }
                Leave(s) => {
                    moved = true;
                    held.remove(&(s, p));
                    go(programs, next, held, out);
                    held.insert((s, p));
                }
            }
        }
        if !moved {
            let done = pc[0] == programs[0].len() && pc[1] == programs[1].len();
            if done { out.0 += 1 } else { out.1 += 1 }
        }
    }
    let mut out = (0, 0);
    go(programs, [0, 0], &mut BTreeSet::new(), &mut out);
    out
}

let one_at_a_time: [&[Step]; 2] = [&[Enter('A'), Leave('A'), Enter('B'), Leave('B')], &[Enter('B'), Leave('B'), Enter('A'), Leave('A')]];
let nested_same_order: [&[Step]; 2] = [&[Enter('A'), Enter('B'), Leave('B'), Leave('A')], &[Enter('A'), Enter('B'), Leave('B'), Leave('A')]];
let nested_opposite: [&[Step]; 2] = [&[Enter('A'), Enter('B'), Leave('B'), Leave('A')], &[Enter('B'), Enter('A'), Leave('A'), Leave('B')]];
for (name, programs) in [("one section at a time", one_at_a_time), ("nested, same order", nested_same_order), ("nested, opposite orders", nested_opposite)] {
    let (finished, stuck) = explore(programs);
    println!("{name:<24} {finished:>3} interleavings finish, {stuck:>3} deadlock");
};
""", role="demo"),
        md(r"""
This agrees with the source's answer: the algorithm adds no deadlock of its own, since
each section is decided independently. A process that holds one section while asking
for another can deadlock with a process that takes them in the other order, exactly as
with locks; taking sections in one fixed order, or one at a time, rules it out.

## 3. Token ring

The nodes form a logical ring, and one **token** circulates: only its holder may
enter. A node that gets the token and wants in enters, and passes the token to its
successor when it leaves; a node that does not want in passes it on at once. Safety is
easy (one token, one node inside) and nobody starves: a node that asks waits at most
until the token has made n-1 more hops. Messages per entry, though, range from 1 (every
node wants in) to unbounded (the token circles an idle ring forever).

Problems to discuss: the **token can be lost** (a crashed holder, a lost message), and
silence cannot tell a lost token from a slow one; a **crashed node breaks the ring**
unless each hop is acknowledged and the holder skips a silent successor.

### Exercise: token ring

Node 0 holds the token at the start.
"""),
        *exercise("tokenring"),
        md(r"""
## 4. A token ring that survives faults

The ring above trusts the network with its one token. Lose one message, or crash the
node that holds the token, and every node waits forever: nobody is wrong, they are all
waiting for a token that no longer exists. Making a new one is the obvious cure and the
dangerous one. A node that has not seen the token for a while cannot know whether it is
lost or only slow (held by a node inside, or on a long hop); if it makes a new one and
the old one was merely late, there are two tokens and two nodes may enter. Worse, if
every node that notices the silence makes one, a single loss gives several.

So the question is not "when is the token lost?" but "**who** may decide that it is?".
Give that job to exactly one node at a time: the node that sent the last hop. It stays
responsible for the token until its successor answers `Passed` (sent when the successor
hands the token on, or at once for a copy it has already handed on). Until then it
resends the token now and then; the hops are numbered, so a copy can be told from the
token and a node never takes the same hop twice. If the successor stays silent through
every resend, it has crashed, and the sender, and only the sender, jumps over it with a
fresh token to the next node. A crashed node is skipped this way on every round; trying
the successor first each time lets it rejoin when it comes back. A node that recovers
has lost its memory, the token included, which is right: its predecessor has already
made a new one.

"Silent through every resend" only means "crashed" if the network promises something.
Here it does: every message arrives within `MAX_DELAY` = 5 ms unless it is lost; only a
cut link (for at most `MAX_CUT` = 15 ms) or a crashed receiver loses messages; faults
are at least 100 ms apart, and two neighbours are never down at once. From these you
size the timeouts: an answer comes within a round trip plus one stay inside (2 × 5 ms +
`HOLD`), and a successor that is alive answers one of the resends you make once the cut
is over. The last rule is the limit of the design: if the one node responsible crashes
while it waits on a crashed successor, the token is gone and nobody may safely make
another. Real systems add a slower second line of defence (an election of who
regenerates), and pay for it with the same question of lost or slow.

### Exercise: token ring with a lost token and crashed nodes

The checks count tokens from the messages, not from what your nodes say: a token that
reaches a node while another live node still holds one, or an entry with a resent or
remembered copy, is a second token.
"""),
        *exercise("ringfix"),
        md(r"""
## The cost table, measured

`mutex::measure` runs a node on a network where every message takes exactly one
message delay, and reads messages and waiting times off the trace. Here with your three
solutions, 5 nodes, next to the textbook's figures. For the token ring the "messages per
entry" are the token hops between one entry and the next (on a fast and on a slow
network), and the delay is counted in hops.
"""),
        code(r"""
use distlab::catalogue::mutex::measure;
use distlab::ms;

fn span(xs: &[f64]) -> (f64, f64) {
    xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

let n = 5;
let runs = [
    ("centralized", "3", "2", measure(Box::new(central_node), n, ms(1), false)),
    ("Ricart and Agrawala", "2(n-1) = 8", "2(n-1) = 8", measure(Box::new(ricart_node), n, ms(1), false)),
    ("  with hardware broadcast", "not given", "1+(n-1) = 5", measure(Box::new(ricart_node), n, ms(1), true)),
];
println!("{:<26} {:>12} {:>8}   {:>12} {:>12}", "n = 5", "textbook", "measured", "textbook", "measured");
for (name, msgs, delay, m) in &runs {
    let (lo, hi) = span(&m.waits);
    println!("{name:<26} {msgs:>12} {:>8.2}   {delay:>12} {lo:>5.1}..{hi:<5.1}", m.per_entry());
}
let fast = measure(Box::new(tokenring_node), n, 100, false); // 0.1 ms hops: the ring is mostly idle
let slow = measure(Box::new(tokenring_node), n, ms(50), false); // everyone waits for the token
let passes: Vec<f64> = fast.between_entries.iter().chain(&slow.between_entries).map(|&k| k as f64).collect();
let hops: Vec<f64> = fast.hops.iter().chain(&slow.hops).map(|&k| k as f64).collect();
let ((p_lo, p_hi), (h_lo, h_hi)) = (span(&passes), span(&hops));
println!("{:<26} {:>12} {:>8}   {:>12} {:>12}", "token ring (in hops)", "1..unbounded", format!("{p_lo}..{p_hi}"), "0..n-1 = 4", format!("{h_lo}..{h_hi}"));
""", role="compare"),
        md(r"""
Reading the table: the textbook's delays are worst cases under its accounting. The
centralized algorithm needs exactly 3 messages per entry and, when the resource is
free, exactly 2 message delays (request, grant); waiting in the queue adds more. Ricart
and Agrawala's algorithm sends 2(n-1) messages per entry but, with requests going out
in parallel, waits only 2 message delays when nobody competes: the textbook's 2(n-1)
counts the replies as if they came one after another. With hardware broadcast the
request is one message, so an entry costs n (our count; the source gives no total). On the token ring, the faster the token
relative to the workload, the more hops it makes per entry, without bound; and a node
never waits for more than n-1 hops.
"""),
    ]
