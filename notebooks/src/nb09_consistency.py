from generate import code, exercise, md

STEM = "09-consistency"


def cells():
    return [
        md(r"""
# 9. Consistency models

When data is replicated or cached, different processes can see writes in different
orders. A **consistency model** is a contract between the data store and the programs
that use it: it says which results of reads are allowed. Programs that keep to the
contract get the results they expect; a weaker model lets the store answer faster, and
in exchange the program must tolerate more.

We write a run down as a **history**: for each process, its reads and writes in its
own order. `W(x)1` stores 1 in x, `R(y)0` reads 0 from y, and every variable starts
at 0.

- **Sequential consistency.** There is one interleaving of *all* operations that keeps
  each process's own order, in which every read returns the latest write to its
  variable before it. All processes see the same order of all writes; what that order
  is, and how it relates to real time, is left open.
- **Causal consistency.** Only writes that may be causally related (one process read a
  value and then wrote something) must be seen in the same order by everyone;
  concurrent writes may appear in different orders at different processes.
- **FIFO (PRAM) consistency.** Only the writes of *one* process must be seen by everyone
  in the order that process issued them. Each process may merge the different writers'
  streams in its own way.

Each model allows everything the one above it allows, and more.

## The three-process program

Each process sets its own variable, then prints the other two:

| P1 | P2 | P3 |
|---|---|---|
| x = 1 | y = 1 | z = 1 |
| print(y, z) | print(x, z) | print(x, y) |

The output is the six printed digits, P1's two, then P2's, then P3's. Of the 64
strings of six bits, which can a sequentially consistent memory print? Is 001110
possible? Is 000000? And what if the memory is only FIFO consistent? The checker you
write in the exercise below answers all of these; first, a smaller program by hand.
"""),
        md(r"""
## The two-process program

| P1 | P2 |
|---|---|
| a = 1 | b = 1 |
| if (b == 0) kill(P2) | if (a == 0) kill(P1) |

Under sequential consistency the four statements run in some interleaving that keeps
each process's own order: choose the 2 positions of P1's statements among 4, so there
are C(4, 2) = 6. Here they all are, with what each test sees:
"""),
        code(r"""
let program = [["a = 1", "if (b == 0) kill(P2)"], ["b = 1", "if (a == 0) kill(P1)"]];
let mut n = 0;
for mask in 0u32..16 {
    // Bit k (from the left) set: the k-th statement run is P2's.
    if mask.count_ones() != 2 { continue; }
    n += 1;
    let (mut a, mut b) = (0, 0);
    let mut next = [0, 0];
    let mut run = Vec::new();
    let mut killed = Vec::new();
    for k in 0..4 {
        let p = ((mask >> (3 - k)) & 1) as usize;
        match (p, next[p]) {
            (0, 0) => a = 1,
            (1, 0) => b = 1,
            (0, _) => if b == 0 { killed.push("P2") },
            _ => if a == 0 { killed.push("P1") },
        }
        run.push(program[p][next[p]]);
        next[p] += 1;
    }
    let killed = if killed.is_empty() { "nobody".into() } else { killed.join(", ") };
    println!("({n}) {:<62} killed: {killed}", run.join("; "));
}
println!("{n} interleavings");

""", role="demo"),
        md(r"""
At most one process is killed, never both: whichever test runs last comes after both
assignments. (On a memory that is only FIFO consistent both could be killed: each
process may see its own assignment at once and the other one late.)

### Exercise: is this history sequentially consistent?

Write the search yourself. A depth-first search over interleavings works: at each
step, any process whose next operation is possible may go (a write always is; a read
only if it returns what memory holds). The catch is speed: the number of interleavings
grows very fast, but many of them reach the same **state**, the same progress of every
process with the same memory. Remember the states that led nowhere and never try them
twice.

The checks compare your answers with an exhaustive search on all 64 outputs of the
three-process program, the four outcomes of the two-process one, and histories
generated for your seed. After the exercise, your checker answers the questions about
the three-process program.
"""),
        *exercise("seqcons"),
        md(r"""
## The three-process program, answered by your checker

With a checker for sequential consistency, FIFO consistency comes almost free: each
process needs an interleaving of its **own** operations with the **writes** of the
others (their reads are none of its business), keeping every process's order. That is
one sequential-consistency question per process, on that process's view.
"""),
        code(r"""
use distlab::catalogue::seqcons::{three_process, two_process_outputs, History, Op};

/// FIFO consistency: every process's own view (its operations, everybody's writes)
/// can be explained by one interleaving; program order keeps each writer's writes in
/// the order it issued them.
fn fifo_consistent(h: &History) -> bool {
    (0..h.processes.len()).all(|me| {
        let view = History {
            processes: h.processes.iter().enumerate()
                .map(|(p, ops)| ops.iter().copied().filter(|op| p == me || matches!(op, Op::Write(..))).collect())
                .collect(),
        };
        is_sequentially_consistent(&view)
    })
}

/// "001110" as the six printed digits.
fn bits(s: &str) -> [i64; 6] {
    std::array::from_fn(|i| (s.as_bytes()[i] - b'0') as i64)
}

fn yes_no(legal: bool) -> &'static str {
    if legal { "legal" } else { "not legal" }
}

for s in ["001110", "000000"] {
    let h = three_process(bits(s));
    println!("{s}: sequential: {:<9}  FIFO: {}", yes_no(is_sequentially_consistent(&h)), yes_no(fifo_consistent(&h)));
}
let all: Vec<String> = (0..64).map(|k| format!("{k:06b}")).collect();
let sc = all.iter().filter(|s| is_sequentially_consistent(&three_process(bits(s)))).count();
let fifo = all.iter().filter(|s| fifo_consistent(&three_process(bits(s)))).count();
println!("of the 64 outputs: {sc} sequentially consistent, {fifo} FIFO consistent");
let both_zero = two_process_outputs().remove(0);
println!("two-process program, both tests see 0 ({both_zero}): {}", yes_no(is_sequentially_consistent(&both_zero)));
""", role="demo"),
        md(r"""
**001110 is legal** under sequential consistency: run P1 to the end (it prints 00), then
P3 (it prints 10), then P2 (11). **000000 is not**: in any single interleaving one of
the three prints comes last, after all three writes, and must print 11. Under **FIFO
consistency 000000 is legal**: each process may see its own write at once and the
others' writes late. Picture the processes running one after the other, with every
write still on its way to the other two: each finds the two other variables at 0. Each
process only ever needs an order of its own view, and in each view the other two
writes can come last. In fact the count above says that **every** one of the
64 outputs is FIFO consistent: each process writes only once, so there is no order
among one writer's writes left to respect, and each process may see each of the other
two writes before or after its prints, as it pleases. Sequential consistency allows
about a third of them.

Here causal consistency allows exactly what FIFO allows: every process writes before it
reads anything, so no write depends on a value read earlier; all three writes are
concurrent, and causality imposes no common order on them.

## All the strings H of a small history (problem 6.11)

Sequential consistency says some single string H of all operations, keeping each
process's own order, explains every read (each read returns the latest write before it
in H). Problem 6.11 asks for every such H of two processes in a figure we do not have;
the method is the same for any history, so here is one of our own: P1 does W(x)a then
W(x)c, and P2 reads a and then writes b. The cell tries every interleaving and keeps
those that explain the read.
"""),
        code(r"""
{
#[derive(Clone, Copy)]
enum Op { W(char), R(char) }
let p1 = [Op::W('a'), Op::W('c')];
let p2 = [Op::R('a'), Op::W('b')];
let show = |op: &Op| match op { Op::W(v) => format!("W(x){v}"), Op::R(v) => format!("R(x){v}") };
let mut found = Vec::new();
// An interleaving: which process goes at each of the four steps (two of each).
for mask in 0u32..16 {
    if mask.count_ones() != 2 { continue; }
    let (mut i, mut j, mut x, mut h, mut ok) = (0, 0, 'N', Vec::new(), true);
    for step in 0..4 {
        let op = if mask & (1 << step) != 0 { i += 1; p1[i - 1] } else { j += 1; p2[j - 1] };
        match op { Op::W(v) => x = v, Op::R(v) => ok &= v == x }
        h.push(show(&op));
    }
    if ok { found.push(h.join(" ")); }
}
println!("{} strings H explain the history:", found.len());
for h in &found { println!("  H = {h}"); }
};
""", role="demo"),
        md(r"""
The read of a forces W(x)a before it and W(x)c after it; where W(x)b goes relative to
W(x)c is free, so two strings remain.

## One write, two reads (problem 6.8)

Problem 6.8 gives the history W1(x)a R2(x)NIL R3(x)a (P1 writes a, P2 reads x before
anything was written to it, P3 reads a) and asks why it is not legal "for" a figure
of the textbook. We do not have that figure, so we cannot say which model or timing
it draws. What we can answer is which assumptions make the history illegal. A
constraint "this operation starts after that one ended" can be given to the checker
as program order: put both operations in one process, in that order. The cell asks
the crate's exhaustive search (`seqcons::witness`, the reference of the exercise
above) about each case, with a = 1 and NIL = 0, the initial value.

"""),
        code(r"""
{
use distlab::catalogue::seqcons::{witness, History, Op};

let (w1, r2, r3) = (Op::Write('x', 1), Op::Read('x', 0), Op::Read('x', 1));
let cases = [
    ("three processes, nothing else known", vec![vec![w1], vec![r2], vec![r3]]),
    ("R2 starts after W1 ended", vec![vec![w1, r2], vec![r3]]),
    ("R3 starts after R2 ended", vec![vec![w1], vec![r2, r3]]),
    ("all three in real time, as written", vec![vec![w1, r2, r3]]),
];
for (name, processes) in cases {
    match witness(&History { processes }) {
        Some(order) => {
            let order: Vec<String> = order.iter().map(|(_, op)| op.to_string()).collect();
            println!("{name:<36} legal, in the order {}", order.join(" "));
        }
        None => println!("{name:<36} not legal"),
    }
}
};
""", role="demo"),
        md(r"""
On its own the history is **sequentially consistent**: nothing says P2 read after P1
wrote, so the order R2(x)0 W1(x)1 R3(x)1 explains both reads. It becomes illegal exactly
when R2 must come after W1: when the operations are placed on a time axis in the order
written and the model respects real time (strict consistency, linearizability), or when
P1 and P2 are really one process. That R3 comes after R2 changes nothing.

The source's whole answer is "it violates data coherence". Coherence asks only that
all processes agree on one order of the writes to each single variable; here there is
one variable with a single write, and the first line shows an order everyone can agree
on, so coherence by itself is not violated. The answer can only be right with
something the figure adds (presumably a time axis on which R2 comes after W1), and
that is the part we leave out: without the figure we cannot tell which constraint it
draws, only which ones would make the history illegal.

## Primary-backup and your own writes (problem 6.22)

In a primary-backup store every write goes to the primary, which passes it on to the
backups. With a **nonblocking** protocol the primary confirms the write at once and
updates the backups afterwards; with a **blocking** one it confirms only once every
backup has it. Problem 6.22 asks whether the nonblocking store, sequentially
consistent as it is, still gives a client **read-your-writes**. The cell simulates a
client that writes, moves to a random replica of five (a laptop changing networks),
and reads there. Messages take 1 to 20 ms; the move takes 0 to 10 ms.
"""),
        code(r"""
use distlab::rng::{Draw, SeededRng};

let mut rng = SeededRng::new(622, 0);
let replicas = 5; // the primary and four backups
let trials = 10_000;
let (mut stale_nonblocking, mut stale_blocking) = (0, 0);
let (mut wait_nonblocking, mut wait_blocking) = (0.0, 0.0);
for _ in 0..trials {
    let to_primary = 1.0 + 19.0 * rng.unit();
    // When each backup has the write, counted from the primary's receipt.
    let arrivals: Vec<f64> = (1..replicas).map(|_| 1.0 + 19.0 * rng.unit()).collect();
    let back = 1.0 + 19.0 * rng.unit(); // the confirmation back to the client
    let slowest = arrivals.iter().cloned().fold(0.0, f64::max);
    let confirmed = [to_primary + back, to_primary + slowest + back]; // nonblocking, blocking
    let moved = 10.0 * rng.unit();
    let there = rng.below(replicas as u64) as usize; // 0 is the primary
    for (k, c) in confirmed.iter().enumerate() {
        let reaches = c + moved + 1.0 + 19.0 * rng.unit(); // the read reaches the replica
        let has_it = there == 0 || to_primary + arrivals[there - 1] <= reaches;
        if !has_it { if k == 0 { stale_nonblocking += 1 } else { stale_blocking += 1 } }
    }
    wait_nonblocking += confirmed[0];
    wait_blocking += confirmed[1];
}
let n = trials as f64;
println!("nonblocking: {:.1} % of reads miss the client's own write; a write is confirmed after {:.1} ms on average",
    100.0 * stale_nonblocking as f64 / n, wait_nonblocking / n);
println!("blocking:    {:.1} % of reads miss the client's own write; a write is confirmed after {:.1} ms on average",
    100.0 * stale_blocking as f64 / n, wait_blocking / n);
""", role="demo"),
        md(r"""
So the answer is no, as the source says: sequential consistency is about all processes
agreeing on one order, not about a client finding its own write wherever it goes next.
The nonblocking protocol confirms sooner and pays for it with reads that miss the
client's own write; the blocking one never misses, since the client hears back only when
every replica has the write, but each write waits for the slowest backup.
"""),
        md(r"""
## When may a replica forget a write? (problem 6.27)

In lazy replication each replica applies writes locally and passes them on later, in
causal order. The replica where a write began keeps it in a **write queue** until it
may forget it. Problem 6.27 asks when that is: once every replica has performed it.
The origin learns that from acknowledgements: each replica tells the others the vector
timestamp of what it has performed, and a write can go once every acknowledgement
covers its timestamp. The cell runs three replicas that write and gossip at random, and
checks that rule against a hasty one that forgets a write as soon as *one* other
replica has acknowledged it.
"""),
        code(r"""
{
use distlab::rng::{Draw, SeededRng};

const N: usize = 3;
// Per replica: what it has performed (a vector), its queue of own writes (their
// timestamps), and the newest vector each other replica has acknowledged.
struct Replica { done: [u64; N], queue: Vec<[u64; N]>, acked: [[u64; N]; N] }

for hasty in [false, true] {
    let mut rng = SeededRng::new(627, 0);
    let mut rs: Vec<Replica> = (0..N).map(|_| Replica { done: [0; N], queue: vec![], acked: [[0; N]; N] }).collect();
    let mut all_writes: Vec<(usize, [u64; N])> = Vec::new();
    let (mut forgotten, mut too_early, mut longest) = (0, 0, 0);
    for _ in 0..5_000 {
        let i = rng.below(N as u64) as usize;
        if rng.unit() < 0.3 {
            // A local write: stamped with what i has seen, one more of its own.
            let mut ts = rs[i].done;
            ts[i] += 1;
            rs[i].done = ts;
            rs[i].queue.push(ts);
            all_writes.push((i, ts));
        } else {
            // i passes its queue to j, which performs what it can in causal order
            // (writes from i in order, their dependencies already performed), then acks.
            let j = (i + 1 + rng.below(N as u64 - 1) as usize) % N;
            for w in rs[i].queue.clone() {
                let next_of_i = w[i] == rs[j].done[i] + 1;
                let deps = (0..N).all(|k| k == i || w[k] <= rs[j].done[k]);
                if next_of_i && deps { rs[j].done[i] = w[i]; }
            }
            let ack = rs[j].done;
            rs[i].acked[j] = ack;
        }
        // i forgets what the rule allows.
        let (done_all, acked) = (rs.iter().map(|r| r.done).collect::<Vec<_>>(), rs[i].acked);
        let keep: Vec<[u64; N]> = rs[i].queue.iter().cloned().filter(|w| {
            let covered = |j: usize| acked[j][i] >= w[i];
            let may_go = if hasty { (0..N).any(|j| j != i && covered(j)) } else { (0..N).all(|j| j == i || covered(j)) };
            if may_go {
                forgotten += 1;
                if (0..N).any(|j| done_all[j][i] < w[i]) { too_early += 1; }
            }
            !may_go
        }).collect();
        rs[i].queue = keep;
        longest = longest.max(rs.iter().map(|r| r.queue.len()).max().unwrap());
    }
    let rule = if hasty { "one acknowledgement is enough" } else { "every replica acknowledged" };
    println!("{rule:<30}: {} writes, {forgotten} forgotten, {too_early} before every replica had them; longest queue {longest}",
        all_writes.len());
}
};
""", role="demo"),
        md(r"""
With the rule from the source no write is forgotten before every replica has it. The
hasty rule forgets writes a third replica still lacks; nobody can send them to it any
more, and every later write from the same origin then waits behind the gap for ever,
which is why its queue grows into the hundreds. The price of the safe rule is a short
queue: a write waits for the slowest replica's acknowledgement.
"""),
        md(r"""
### Answers (instructor notes)

- 001110 under sequential consistency: legal (P1, then P3, then P2).
- 000000 under FIFO consistency: legal (each process sees the other writes late);
  under sequential consistency it is not (the last print follows all three writes).
- The six interleavings of the two-process program: C(4, 2); none kills both.
""", tags=["solution"]),
    ]
