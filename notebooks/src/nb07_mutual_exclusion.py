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

Two questions about this design are measured after the exercise: what else the
coordinator could do than first come, first served (problem 5.9), and whether its
crash brings everything down (problem 5.10).

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
### Another grant policy (problem 5.9)

Problem 5.9 asks for another rule than "first in the queue" for the coordinator. The
source suggests priorities: give every request a level and grant the highest first.
The cell runs the centralized algorithm on the simulator with 8 nodes (node 0
coordinates, 1 to 20 ms per message, so requests pile up in the queue) under three
rules: first come, first served; strict priority, where the lowest id goes first;
and the same priority with **aging**, where a request that has waited more than
200 ms goes before all others. Each client asks 3 times, then 9 times, over 20 runs.
The coordinator and the measurement are `distlab::catalogue::central::waits_by_policy`.
"""),
        code(r"""
{
use distlab::catalogue::central::{waits_by_policy, Policy};

let policies = [
    ("first come, first served", Policy::Fifo),
    ("lowest id first", Policy::LowestId),
    ("lowest id, aging at 200 ms", Policy::Aging { limit: distlab::ms(200) }),
];
for rounds in [3, 9] {
    println!("8 nodes asking {rounds} times each, 20 runs: mean / longest wait in ms");
    println!("  {:<27} {}", "node:", (1..8).map(|n| format!("{n:^9}")).collect::<String>());
    for (name, policy) in policies {
        let row: String = waits_by_policy(policy, 8, rounds, 20)
            .iter()
            .map(|w| format!("{:>4}/{:<4}", w.mean / 1000, w.worst / 1000))
            .collect();
        println!("  {name:<27} {row}");
    }
}
};
""", role="demo"),
        md(r"""
First come, first served treats everyone alike: every node's longest wait stays
between 120 and 160 ms, and asking 9 times instead of 3 changes nothing. Strict
priority does what it promises for node 1 (a mean wait of about 30 ms instead of 67
to 87), and makes node 7 pay: its longest wait is 420 ms with 3 rounds and 1227 ms
with 9. The low node waits as long as the higher ones keep asking, so with enough demand it
**starves**. The source's answer stops at "grant the highest priority first" and
does not mention this; a priority rule needs something like aging to stay live. With
aging the last nodes' longest wait is about 265 ms in both runs: bounded, at the
price of part of the top nodes' advantage.

### Does a coordinator crash bring the system down? (problem 5.10)

A node that waits in the queue hears nothing from the coordinator, and a crashed
coordinator says nothing either: the two look the same. The source's answer changes
the protocol first: the coordinator answers every request at once, with a grant or
with "queued, wait". Then a request that gets no answer within a round trip means
the coordinator is gone, and that node can start an election. The source concludes
that a crash is survivable when nobody is inside and nobody is queued.

The cell crashes the coordinator of 5 nodes (1 to 20 ms per message) at 100
moments, 3 ms apart, while the clients are still asking, once with the exercise's
protocol and once with immediate answers. It sorts the crashes by the coordinator's
state at that moment and counts the runs in which some node is left waiting for ever,
and whether each such node could tell (a request of its own went unanswered).
`distlab::catalogue::central::coordinator_crash` runs one crash.
"""),
        code(r"""
{
use distlab::catalogue::central::coordinator_crash;
use distlab::ms;

let states = ["nobody inside or queued", "one node granted, no queue", "someone queued"];
for answer_at_once in [false, true] {
    // Per state at the crash: how many crashes, then how they ended.
    let mut table = [[0; 4]; 3];
    for k in 0..100 {
        let o = coordinator_crash(ms(3 * k), answer_at_once, 5, k as u64);
        let state = if !o.queued.is_empty() { 2 } else if o.holder.is_some() { 1 } else { 0 };
        let outcome = if o.stuck.is_empty() {
            1
        } else if o.stuck.iter().all(|n| o.noticed.contains(n)) {
            2
        } else {
            3
        };
        table[state][0] += 1;
        table[state][outcome] += 1;
    }
    let name = if answer_at_once { "answers every request at once" } else { "answers only with Grant (the exercise)" };
    println!("coordinator {name}:");
    println!("  {:<28} {:>7} {:>14} {:>20} {:>20}", "at the crash", "crashes", "nobody stuck", "stuck, all can tell", "stuck, some cannot");
    for (s, row) in states.iter().zip(table) {
        println!("  {s:<28} {:>7} {:>14} {:>20} {:>20}", row[0], row[1], row[2], row[3]);
    }
}
};
""", role="demo"),
        md(r"""
With the exercise's protocol every crash while work remains strands nodes, and none
of them can tell: the system is down whatever the coordinator's state (only the 2
crashes after the last request harm nobody). With immediate answers the split is
exactly the queue. When nobody is queued, every node left waiting can tell,
**including when a node was inside** or had its grant on the way. The source's
condition also asks that nobody be inside; for noticing the crash that is not
needed, since the holder stops nobody from noticing. It only means the next
coordinator must find out who is inside before it grants anything. When someone is queued, the queued nodes were told to wait
and cannot tell a dead coordinator from a long queue: 84 crashes out of 84.

Both gaps close without stable storage. The source has the coordinator write every
request to disk, so that its successor can read the queue back; but that disk is on
the crashed machine, out of reach until it comes back (unless it is shared or
replicated, which is a harder problem). Instead, queued nodes can ask the coordinator
from time to time whether it is still there, and a new coordinator can rebuild the
queue by asking every node. That is the next exercise.
"""),
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
solution. A weakness, measured after the exercise: a crashed node never replies,
and silence means "wait", so one crash blocks everyone.

### Exercise: Ricart and Agrawala
"""),
        *exercise("ricart"),
        md(r"""
### A crash among the voters (problem 5.11)

Ricart and Agrawala's algorithm needs a yes from every other node, and a crashed node
never says yes. The remedy in the text is to answer every request at once, "yes" or
"not yet", so that silence means a crash: a node that answers nothing within a round
trip is taken for crashed and no longer waited for. Problem 5.11 asks whether that
can still fail. The source's answer: a node that said "not yet" and then crashed
leaves the asker waiting for a yes that never comes; the asker should wake up now and
then and poll the nodes that said "not yet" to see whether they are still running.

The cell runs four designs on 5 nodes (1 to 20 ms per message) and crashes node 2 at
100 moments, 3 ms apart, once for good and once with a restart 10 ms later (a quick
reboot: the node comes back with its memory gone). It counts the runs in which some
live node waits for ever, and how many of those had a request the crashed node had
not yet said yes to ("owed"). `distlab::catalogue::ricart::crash_run` runs one crash.
"""),
        code(r"""
{
use distlab::catalogue::ricart::{crash_run, Answers};
use distlab::ms;

let designs = [
    ("silent when it must wait (the exercise)", Answers::Silent),
    ("answers at once: yes or not yet", Answers::AtOnce),
    ("  and polls those that said not yet", Answers::AtOncePolling),
    ("  and asks them: do you hold my request?", Answers::PollingRequest),
];
println!("node 2 of 5 crashes at one of 100 moments; runs in which some node waits for ever:");
println!("  {:<42} {:>14} {:>22}", "", "stays down", "restarts after 10 ms");
for (name, answers) in designs {
    let mut cols = Vec::new();
    for restart in [None, Some(ms(10))] {
        let runs: Vec<_> = (0..100)
            .map(|k| crash_run(answers, 5, 2, ms(3 * k), restart.map(|r| ms(3 * k) + r), k as u64))
            .collect();
        assert!(runs.iter().all(|o| !o.two_inside), "two nodes inside");
        let stuck = runs.iter().filter(|o| !o.stuck.is_empty()).count();
        let owed = runs.iter().filter(|o| !o.stuck.is_empty() && !o.owed.is_empty()).count();
        cols.push(format!("{stuck:>3} ({owed} owed)"));
    }
    println!("  {name:<42} {:>14} {:>22}", cols[0], cols[1]);
}
println!("(owed: the crashed node held a request it had not said yes to; never two nodes inside)");
};
""", role="demo"),
        md(r"""
Silence as "wait" strands someone in 89 of the 100 crashes. Answering at once leaves
only the 17 crashes in which the crashed node owed a yes: the case the source names,
confirmed. Polling the nodes that said "not yet" removes those too,
as long as the crashed node stays down. A node that **restarts** before the next poll
answers it: it is running, so the poll is satisfied, but it has forgotten the request
it deferred, and the asker waits for ever again (17 of 100). The source's remedy asks
the wrong question. The poll must ask "do you still hold my request?", and a node
that says no gets the request again: with that, no run is stuck. All of this assumes
a bound on message delay; without one, a slow node is taken for crashed, and the
asker enters without its yes.
"""),
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
cut link (for at most `MAX_CUT` = 15 ms) or a crashed receiver loses messages; and
faults are at least 100 ms apart. From these you size the timeouts: an answer comes
within a round trip plus one stay inside (2 × 5 ms + `HOLD`), and a successor that is
alive answers one of the resends you make once the cut is over.

**The exercise assumes that two neighbouring nodes are never down at the same time**,
and every scenario keeps to it. This is the limit of the design, not a detail: if
the one node responsible crashes while it waits on a crashed successor, the token is
gone and nobody may safely make another. Real systems add a slower second line of
defence (an election of who regenerates), and pay for it with the same question of
lost or slow.

### Exercise: token ring with a lost token and crashed nodes

The checks count tokens from the messages, not from what your nodes say: a token that
reaches a node while another live node still holds one, an entry with a resent or
remembered copy, or a token sent by a node that neither holds it nor waits for its
answer, is a second token. Two ways to make one by accident: taking an old copy that
arrives after you passed the hop on (its answer was lost, so it was resent), and
storing the token with `ctx.persist` so that a node that crashed holding it hands it
on after it recovers (its predecessor has made a new one by then).
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
