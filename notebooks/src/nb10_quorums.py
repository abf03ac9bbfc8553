from generate import code, exercise, md

STEM = "10-quorums"


def cells():
    return [
        md(r"""
# 10. Quorums: how many replicas to read and to write

A file is replicated on **N = 10 servers**. With the **voting** scheme (Gifford's
quorum-based protocol) a client may read only after collecting a **read quorum** of
NR servers, and write only after collecting a **write quorum** of NW servers; every
copy carries a version number, and a read returns the copy with the highest version
in its quorum. Two properties make this safe:

- every read quorum must overlap every write quorum, so a read always sees at least
  one copy of the latest write;
- every two write quorums must overlap, so two writes cannot both succeed on
  disjoint sets of servers and leave two different "latest" versions.

The textbook asks which (NR, NW) pairs are allowed for N = 10 and answers with all
ten pairs (1, 10), (2, 9), ..., (10, 1). The simulation below searches, for each pair,
every quorum of servers for two that miss each other.
"""),
        code(r"""
use distlab::catalogue::quorums::{simulated_conflict, Conflict};

for nr in 1..=10 {
    let nw = 11 - nr;
    match simulated_conflict(10, nr, nw) {
        None => println!("({nr}, {nw}): legal"),
        Some(Conflict::TwoWrites { first, second }) => {
            println!("({nr}, {nw}): ILLEGAL: write quorums {first:?} and {second:?} share no server")
        }
        Some(other) => println!("({nr}, {nw}): ILLEGAL: {other:?}"),
    }
}
""", role="demo"),
        md(r"""
**The source's answer is wrong for half of the pairs.** Only **(1, 10) to (5, 6)**
are legal. From (6, 5) on, the write quorum is 5 or fewer out of 10, and the search
shows two write quorums with no server in common, e.g. servers 0-4 and 5-9 for
(6, 5): two clients can both write "successfully" to disjoint halves. The textbook
checked only the first rule (NR + NW > N) and forgot the second (NW > N/2).

### Exercise: the voting rules

Write `legal_quorums(n, nr, nw)`: may `n` replicas use read quorum `nr` and write
quorum `nw`? Graded against the exhaustive search, for the ten pairs above and for
every pair for an N drawn for you.
"""),
        *exercise("quorums"),
        md(r"""
### Derivation (instructor notes)

Two sets of sizes a and b drawn from N servers are forced to overlap exactly when
they cannot fit side by side: a + b > N. Read/write: NR + NW > N. Write/write:
NW + NW > N, i.e. NW > N/2. For N = 10 and NR + NW = 11 the second rule leaves
NW >= 6: (1, 10), (2, 9), (3, 8), (4, 7), (5, 6).
""", tags=["solution"]),
        code(r"""
// Your rule next to the exhaustive search, for every pair up to N = 12.
let mut differ = 0;
for n in 1..=12 {
    for nr in 1..=n {
        for nw in 1..=n {
            if legal_quorums(n, nr, nw) != simulated_conflict(n, nr, nw).is_none() { differ += 1; }
        }
    }
}
println!("{differ} of 650 pairs differ from the search");
""", role="compare"),
        md(r"""
## A register replicated by voting

The rules are half of the story; the other half is the protocol that uses the quorums.
A **register** holds one value that clients read and overwrite. It lives on N replicas,
and each replica keeps the value together with a **version**. The versions order the
writes: a version is a counter plus the writer's id, so two clients that write at the
same time still get different versions, and every replica ranks them the same way.

- **Read**: ask the replicas, wait for NR of them to answer, and return the value with
  the highest version among those answers. Since every write quorum meets every read
  quorum, at least one answer carries the latest finished write.
- **Write** of v: first learn the highest version from NR replicas (like a read), then
  send v with version (highest counter + 1, me) and wait until NW replicas have stored
  it. A replica keeps a value only if its version is newer than the one it holds, and
  acknowledges either way, so old or doubled messages never undo a newer write.

Replicas crash and come back: what a replica stored must survive the crash (in the
simulator, `ctx.persist` and `ctx.recall`), or a recovered replica would answer with an
old version and a read quorum could miss the latest write. Messages get lost: a client
resends its request to the replicas that have not answered yet, until it has its
quorum. With NW > N/2, a majority must be up for writes to finish; the scenarios never
crash more than a minority.

**What "the latest write" means.** Reads and writes take time, and they overlap. The
check asks for **regular** reads: a read may return the value of any write that runs
at the same time as the read, or of the last write that finished before the read
began, but never a value that had already been overwritten before the read began. For
example, if write A finished, then write B ran and finished, and only then the read
began, the read must not return A's value (nor the initial 0). Voting gives exactly
that. It does not give more: two reads that both overlap one write may see the new
value and then the old one (a read that writes back what it returns would prevent it;
allowed, not required).

### Exercise: the voting register

Nodes `0..N` are replicas (`N = replicas(ctx.nodes())`, 3 to 7 in your variant), and
the last `CLIENTS` (3) nodes are clients. Client number c runs the `OPS` (6) operations
`operation(c, 1..=6)`, reads and writes alternating, the first `first_op(c)` after its
start and each next one `THINK` after the previous finished. Every request carries the
number of the operation it serves, so that late answers to an earlier operation can be
recognised and ignored. A client records each result with `ctx.observe`:
`Observation::Read { value }` or `Observation::Write { value }`.

What the checks look for: no read returns a value that a finished write had
overwritten before the read began; every write is acknowledged by more than N/2
replicas and every read quorum plus every write quorum exceeds N; within 1 s of the
last fault every operation has finished; requests are numbered by operation, and
results are recorded in the workload's order. The public scenarios are a calm network
and a lossy one in which one replica crashes and recovers.
"""),
        *exercise("register"),
        md(r"""
### The history of a run

Each operation of your clients in one run of the lossy scenario with a crash: when it
began (its first request) and finished (the recorded result), how many replicas had
answered its version query and (for writes) acknowledged its store by then, and what a
read returned. Look for reads that overlap a write: either value may come back. The
table is read off the trace with the checks' own `Tracker`.
"""),
        code(r"""
use distlab::catalogue::register::{self, Op, OpEvent, Tracker};
use distlab::{simulate, EventKind, Fault, Step};

let scenario = register::scenarios(2024).remove(1).scenario;
let trace = simulate(&scenario, 1, register_node).expect("a valid scenario");
let variant = register::variant(2024);
println!("{}: N = {} replicas, {} % of messages lost", scenario.name, variant.replicas, variant.loss_percent);
for fault in &scenario.schedule.faults {
    match fault {
        Fault::Crash { node, at } => println!("replica {node} crashes at {} ms", at / 1000),
        Fault::Recover { node, at } => println!("replica {node} recovers at {} ms", at / 1000),
        other => println!("{other:?}"),
    }
}
println!("client op  kind        began  finished  queried  stored  read");
let mut tracker = Tracker::new(scenario.nodes);
let mut finished = 0;
for (index, e) in trace.events.iter().enumerate() {
    let msg = match &e.kind {
        EventKind::Send { msg, .. } => Some(msg),
        EventKind::Deliver { id, .. } => trace.message(*id),
        _ => None,
    };
    if let Ok(Some(OpEvent::Finished(r, read))) = tracker.step(&Step { index, at: e.at, kind: &e.kind, msg }) {
        finished += 1;
        let kind = match r.op { Op::Read => "read".to_string(), Op::Write(v) => format!("write {v}") };
        let stored = if r.acks.is_empty() { "-".to_string() } else { r.acks.len().to_string() };
        let read = read.map(|v| v.to_string()).unwrap_or_default();
        println!("{:>6} {:>2}  {kind:<9} {:>6.1} {:>9.1} {:>8} {stored:>7}  {read}",
            r.client, r.k, r.began as f64 / 1000.0, e.at as f64 / 1000.0, r.replies.len());
    }
}
println!("{finished} operations finished (times in ms)");
""", role="demo"),
    ]
