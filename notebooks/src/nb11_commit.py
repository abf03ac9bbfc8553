from generate import code, exercise, md

STEM = "11-commit"


def cells():
    return [
        md(r"""
# 11. Fault tolerance and commit

Processes crash and messages get lost. This notebook looks at two promises a group of
processes can make despite that: that **a message sent to the group reaches every
member** (reliable multicast), and that **a distributed transaction ends the same way
everywhere** (atomic commit).

## Reliable multicast

Over a network that loses messages, a multicast is made reliable by numbering the
messages and retransmitting what is missing. Receivers either acknowledge every message
(positive feedback) or report only the gaps they notice in the sequence numbers
(negative feedback, which scales better: the sender does not drown in acknowledgements
from a large group). Either way somebody must still have the message to send it again.
That does not have to be the communication layer: when the application can regenerate
the data (a file that is still on disk, a page that can be re-read), the layer may drop
its copy as soon as it has sent it.

Reliability is about *whether* a message arrives. *In which order* messages arrive is
a separate promise (notebook 5), and some applications need none: fragments of an image
that each carry their own coordinates, or the numbered pages of a book, can be put in
place in whatever order they come.

Problem 7.10 asks exactly this: must the communication layer keep a copy of every
message for retransmission? The cell sends a 1 MiB file in 1 KiB packets to 10
receivers, each packet lost on the way to each receiver with probability 0.05.
Receivers report gaps (negative feedback), and the sender repairs them. If the layer
keeps every packet until all receivers have it, it must hold what the cell prints
after each round; if it reads a lost packet back from the file instead, it keeps
nothing, and every receiver still ends up with every packet.
"""),
        code(r"""
use distlab::rng::{Draw, SeededRng};

let mut rng = SeededRng::new(710, 0);
let (packets, receivers, loss) = (1024usize, 10usize, 0.05);
// have[r][p]: receiver r holds packet p. A round sends what is missing; gaps are
// reported after each round, and acknowledged packets leave the layer's buffer.
let mut have = vec![vec![false; packets]; receivers];
let mut to_send: Vec<usize> = (0..packets).collect();
let (mut rounds, mut sent) = (0, 0);
while !to_send.is_empty() {
    rounds += 1;
    for &p in &to_send {
        for r in 0..receivers {
            if !have[r][p] {
                sent += 1;
                if rng.unit() >= loss { have[r][p] = true; }
            }
        }
    }
    // What a layer that keeps copies must still hold: packets some receiver lacks.
    to_send = (0..packets).filter(|&p| (0..receivers).any(|r| !have[r][p])).collect();
    println!("after round {rounds}: {:>4} KiB still missing at some receiver", to_send.len());
}
let all = have.iter().all(|r| r.iter().all(|&h| h));
println!("every receiver has every packet: {all}, after {sent} packet sends ({} repairs)", sent - packets * receivers);
println!("a layer that reads repairs back from the file holds 0 KiB throughout");
""", role="demo"),
        md(r"""
The same repairs reach the same receivers either way: what changes is who holds the
data meanwhile. The source's answer is right, with the condition it states: the
application must still have the data when a repair is asked for (a file on disk does;
a live video frame that is gone does not).

### FIFO and total order together (problem 7.14)

Problem 7.14 asks which delivery orders a multicast that is both FIFO-ordered and
totally ordered allows, for a figure we do not have. Take the smallest case that
makes the point: P1 multicasts m1 then m2, and P4 multicasts m3 then m4. Total order
means every member delivers the four in one and the same order; FIFO means that order
keeps m1 before m2 and m3 before m4. The cell lists the orders that remain.
"""),
        code(r"""
let msgs = ["m1", "m2", "m3", "m4"];
fn sender(m: &str) -> &'static str { if m == "m1" || m == "m2" { "P1" } else { "P4" } }
let mut orders = Vec::new();
for a in 0..4 { for b in 0..4 { for c in 0..4 { for d in 0..4 {
    let o = [a, b, c, d];
    if (0..4).all(|i| o.iter().filter(|&&x| x == i).count() == 1) {
        let pos = |name: &str| o.iter().position(|&i| msgs[i] == name).unwrap();
        // FIFO: each sender's messages in the order sent.
        if pos("m1") < pos("m2") && pos("m3") < pos("m4") {
            orders.push(o.iter().map(|&i| format!("{}({})", msgs[i], sender(msgs[i]))).collect::<Vec<_>>().join(" "));
        }
    }
}}}}
println!("{} orders keep both senders' order:", orders.len());
for o in &orders { println!("  {o}"); };
""", role="demo"),
        md(r"""
Six orders: choose where P1's two messages go among four places, C(4, 2) = 6; the
rest is forced. Total order then picks one of the six for everybody. Without FIFO,
total order alone would allow all 4! = 24.

## Retrying a request: at least once or at most once? (problem 7.7)

A client whose request gets no reply cannot tell a lost request from a lost reply. It
can **retry** until a reply comes (at-least-once: the server may run the request more
than once) or **give up** (at-most-once: the request may not have run at all). The
source's answer to problem 7.7 picks at-least-once for reading and writing files and
for compiling ("there is no harm trying over and over"), and one try for remote
banking. The cell puts numbers on that, and on a third option: retry with a **request
id** that the server remembers, so a repeat is answered from the server's memory
instead of running again. 10 000 requests, each request and each reply lost with
probability 0.1.
"""),
        code(r"""
use distlab::rng::{Draw, SeededRng};
use std::collections::BTreeSet;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Semantics { AtLeastOnce, AtMostOnce, RetryWithIds }
#[derive(Clone, Copy, Debug)]
enum Op { WriteAtOffset, Append, Deposit }

/// Runs `n` requests of one kind; returns how far the server's state is from
/// the intended one, and how many requests ran more than once or never.
fn run(op: Op, semantics: Semantics, n: u64, rng: &mut SeededRng) -> (i64, u64, u64) {
    let lost = |rng: &mut SeededRng| rng.unit() < 0.1;
    let (mut blocks, mut records, mut balance) = (BTreeSet::new(), 0i64, 0i64);
    let mut seen = BTreeSet::new(); // request ids the server already ran
    let (mut repeats, mut never) = (0, 0);
    for id in 0..n {
        let mut runs = 0;
        loop {
            if !lost(rng) {
                // The request arrives.
                if semantics != Semantics::RetryWithIds || seen.insert(id) {
                    runs += 1;
                    match op {
                        Op::WriteAtOffset => { blocks.insert(id); }
                        Op::Append => records += 1,
                        Op::Deposit => balance += 1,
                    }
                }
                if !lost(rng) { break; } // the reply arrives
            }
            if semantics == Semantics::AtMostOnce { break; } // no reply: give up
        }
        repeats += (runs > 1) as u64;
        never += (runs == 0) as u64;
    }
    let off = match op {
        Op::WriteAtOffset => n as i64 - blocks.len() as i64,
        Op::Append => records - n as i64,
        Op::Deposit => balance - n as i64,
    };
    (off, repeats, never)
}

let mut rng = SeededRng::new(7, 0);
println!("{:<16} {:<14} {:>14} {:>10} {:>10}", "semantics", "operation", "state is off by", "ran twice+", "never ran");
for semantics in [Semantics::AtLeastOnce, Semantics::AtMostOnce, Semantics::RetryWithIds] {
    for op in [Op::WriteAtOffset, Op::Append, Op::Deposit] {
        let (off, repeats, never) = run(op, semantics, 10_000, &mut rng);
        println!("{:<16} {:<14} {off:>14} {repeats:>10} {never:>10}", format!("{semantics:?}"), format!("{op:?}"));
    }
};
""", role="demo"),
        md(r"""
Writing a block at a given offset is **idempotent**: running it twice leaves the same
file, so at-least-once is harmless, and the source is right for that case (and for
compiling, which only produces the same output again). Appending is not: about one
request in ten runs twice or more (its first reply is lost, and a retry gets through),
and the file has that many extra records. So "reading and writing files" is safe to
retry only when the writes say where they go. For banking, at-most-once errs the other
way: about one deposit in ten never runs (its request was lost), and the client cannot
tell those from the ones whose reply was lost, which did run. Retrying with request ids
gets both right, every deposit exactly once, at the cost of a table of ids at the
server.

## Two-phase commit

A transaction that touched several machines must commit on all of them or on none.
One process, the **coordinator**, runs the protocol; the others are **participants**.

1. **Voting phase.** The coordinator sends `Prepare` to every participant. A participant
   that can commit writes its yes vote to stable storage and answers `Vote(yes)`; one
   that cannot answers `Vote(no)` and may abort at once.
2. **Decision phase.** If every vote is yes, the coordinator decides commit; if any vote
   is no, or a vote does not arrive in time, it decides abort. It writes the decision to
   stable storage, then sends it to everyone. A participant applies the decision it
   receives.

The write to stable storage **before** each message is what makes crashes survivable:
a recovering node reads back what it promised and acts on it.

The weak spot is the participant that has voted yes. It has given up its right to
abort on its own (the coordinator may already have decided commit), and it cannot
commit on its own either (someone else may have voted no). So it waits for the outcome.
If the coordinator crashes then, the participant can ask the others: if any of them has
the decision, or has not voted yet (and so can safely abort), the question is settled.
But if **every live participant has voted yes and none knows the decision**, nobody can
move: the protocol **blocks** until the coordinator comes back.

### Exercise: two-phase commit

One node type plays both roles: the coordinator when its id is 0, a participant
otherwise. Participant p votes `votes_yes(p, n)`. The checks run it with crashes of
participants and of the coordinator, and judge three things: **atomicity** (no two
nodes decide differently; commit only when every participant voted yes),
**validity** (votes as told; everyone yes and nothing fails gives commit) and
**termination** (every live node decides within 250 ms of the last fault) unless the
run is blocked in the sense above: that case is reported as "blocked" and does not count
against you. Finally the explorer searches a small system (coordinator and two
participants, one crash) for the shortest run that blocks.

**One node type, two roles.** The simulator builds every node from the same
`twophase_node`, so your `TwoPhase` plays both parts and tells them apart by its id:
node 0 coordinates, nodes 1 to n-1 participate. The starter already splits
`on_message` that way into `coordinator_gets` and `participant_gets`; fill those in,
then `on_start` (the coordinator sends `Prepare`), `on_timer` (a missing vote, or an
outcome that does not come) and `on_recover` (what each role does with what it
persisted).
"""),
        *exercise("twophase"),
        md(r"""
## The blocking run, found by the explorer

The last row of the check comes from the explorer, which tries every order of message
deliveries, timer firings and one crash in a system of a coordinator and two
participants that both vote yes. Here is the shortest run it finds in which the
coordinator dies holding the only copy of the outcome:
"""),
        code(r"""
use std::rc::Rc;
use distlab::catalogue::twophase::explore_blocking;

let (verdict, trace) = explore_blocking(Rc::new(twophase_node));
println!("{}", verdict.message);
if let Some(trace) = trace {
    let title = Some("two-phase commit blocks: the coordinator crashes after both yes votes".to_owned());
    distlab::Svg(distlab::svg(&trace, &distlab::DiagramOptions { title, ..Default::default() })).evcxr_display();
};
""", role="demo"),
        md(r"""
## Why a new coordinator does not help

An obvious repair: when the coordinator is gone, the participants elect a new one from
among themselves, and it finishes the job. It works whenever some survivor knows the
outcome or has not voted. It cannot work in the blocked case, and the reason is
**indistinguishability**. Take a coordinator and two participants that vote yes, and
let the coordinator and participant 1 both crash. Participant 2, the only survivor,
cannot tell these two runs apart:

- the coordinator got both votes, **committed**, and crashed; its message to
  participant 2 was lost, and participant 1 crashed too;
- participant 1 crashed before it could vote, the coordinator timed out and
  **aborted**, and again its message to participant 2 was lost before it crashed.

In both, participant 2 received `Prepare`, voted yes and heard nothing more. Whatever a
new coordinator decides from what participant 2 knows contradicts, in one of the two
runs, the decision the old coordinator wrote to stable storage, and which it will act on
when it recovers. The explorer finds both runs (the shortest of each kind) and shows
what participant 2 received in each. (The textbook's shorter version of the argument:
the new coordinator may crash too, which leaves the others exactly where they were.)
"""),
        code(r"""
use std::rc::Rc;
use distlab::catalogue::twophase::TpcMsg;
use distlab::{Decision, DropReason, EventKind, Explorer, Observation, TimerPolicy, Trace};

/// Participant 2 is the only one up, has not decided, and no outcome is on its way to
/// it; `outcome` is what the others decided.
fn stuck_after(outcome: Decision) -> impl Fn(&distlab::explore::StateView<'_, TpcMsg>) -> bool {
    move |s| {
        !s.world().is_up(0)
            && !s.world().is_up(1)
            && !s.observed().iter().any(|(n, o)| *n == 2 && matches!(o, Observation::Decide(_)))
            && s.observed().iter().any(|(n, o)| *n != 2 && *o == Observation::Decide(outcome))
            && !s.in_flight().any(|(_, to, m)| to == 2 && matches!(m, TpcMsg::Commit | TpcMsg::Abort))
    }
}

let found: distlab::Exploration<TpcMsg> = Explorer::with_factory(3, Rc::new(twophase_node))
    .crash_budget(2)
    .loss_budget(1)
    .recover(false)
    .timers(TimerPolicy::WhenIdle)
    .goal("others committed", stuck_after(Decision::Commit))
    .goal("others aborted", stuck_after(Decision::Abort))
    .max_states(200_000)
    .run();
println!("{} states explored", found.states);

/// The run in words: deliveries, losses, timers, crashes, decisions.
fn story(trace: &Trace<TpcMsg>) -> String {
    let msg = |id| trace.message(id).map(|m| format!("{m:?}")).unwrap_or_default();
    let steps: Vec<String> = trace.events.iter().filter_map(|e| match &e.kind {
        EventKind::Deliver { id, from, to } => Some(format!("{to} gets {} from {from}", msg(*id))),
        EventKind::Drop { id, to, reason: DropReason::Loss, .. } => Some(format!("{} to {to} is lost", msg(*id))),
        EventKind::Timer { node, .. } => Some(format!("{node}'s timer fires")),
        EventKind::Crash { node } => Some(format!("{node} crashes")),
        EventKind::Observe { node, what: Observation::Decide(d) } => Some(format!("{node} decides {d:?}")),
        _ => None,
    }).collect();
    steps.join("; ")
}

/// What node 2 received, in order.
fn seen_by_2(trace: &Trace<TpcMsg>) -> Vec<String> {
    trace.events.iter().filter_map(|e| match &e.kind {
        EventKind::Deliver { from, to: 2, id } => Some(format!("{:?} from node {from}", trace.message(*id)?)),
        _ => None,
    }).collect()
}
for goal in &found.goals {
    match &goal.witness {
        Some(trace) => {
            println!("{}: {}", goal.name, story(trace));
            println!("    participant 2 received only: {}\n", seen_by_2(trace).join(", "));
        }
        None => println!("{}: not reached", goal.name),
    }
};
""", role="demo"),
        md(r"""
## Three-phase commit

Three-phase commit removes the blocking case when crashes are the only failures (no
lost messages, no partitions) and some process stays up. It adds a phase between the
votes and the commit: when all votes are yes, the coordinator first sends **PreCommit**
and waits for every participant to acknowledge it, and only then sends **Commit**. The
states are arranged so that

- no state leads directly to both commit and abort, and
- a process reaches commit only from PreCommit, and the coordinator sends Commit only
  once every participant is in PreCommit.

So a group of survivors can always decide among themselves: if any of them has seen
PreCommit, everyone voted yes and nobody aborted, so they can commit; if none of them
has, nobody can have committed yet, so they can abort. Note that this is **not** a
majority vote: the survivors decide by the states they find, not by counting, and a
process that was down meanwhile adopts their decision when it comes back.

This settles problem 7.17, which asks whether committing in 3PC comes down to a
majority vote: it does not.
"""),
        md(r"""
### Answers (instructor notes)

- 2PC blocks when the coordinator is down and every live participant voted yes without
  knowing the outcome. A new coordinator cannot decide: committed and aborted runs look
  the same to the survivors (the demo shows two). The source's answer: the new
  coordinator may crash as well, and the rest are back where they started.
- 3PC is not majority voting: recovering processes move to a state consistent with the
  others' decision.
- Reliable multicast: the layer need not keep a copy if the application can resend.
""", tags=["solution"]),
    ]
