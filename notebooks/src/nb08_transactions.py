from generate import code, exercise, md

STEM = "08-transactions"


def cells():
    return [
        md(r"""
# 8. Transactions and locking

A transaction groups reads and writes so that they look **all or nothing** and, when
several run at once, **one after another**: the outcome must be that of some serial
order of the transactions (the schedule is *serializable*). This notebook is about the
second promise, **isolation**, and the commonest way to keep it: locks.

## Three transactions on one variable

The textbook's running example has three transactions on a shared x, each doing two
things:

| | first | then |
|---|---|---|
| T1 | x = 0 | x = x + 1 |
| T2 | x = 0 | x = x + 2 |
| T3 | x = 0 | x = x + 3 |

Run one after another, in any order, x ends at the increment of whichever ran last:
1, 2 or 3. Run without control, the steps interleave. Which final values can x take
then, and which of them are *legal*? Split each transaction into its three accesses
(write 0, read x, write what it read plus k) and try every interleaving: there are
9! / (3! 3! 3!) = 1680 of them. `locks::all_schedules` lists them, `final_value` plays
one, and `precedence_cycle` decides serializability (below).
"""),
        code(r"""
use std::collections::BTreeMap;
use distlab::catalogue::locks::{all_schedules, final_value, precedence_cycle};

let schedules = all_schedules();
// final value -> (serializable schedules, non-serializable ones, one non-serializable example)
let mut by_value: BTreeMap<i64, (usize, usize, Option<String>)> = BTreeMap::new();
for s in &schedules {
    let row = by_value.entry(final_value(s)).or_default();
    if precedence_cycle(s).is_none() {
        row.0 += 1;
    } else {
        row.1 += 1;
        if row.2.is_none() {
            row.2 = Some(s.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" "));
        }
    }
}
println!("{} interleavings", schedules.len());
println!("{:>7} {:>13} {:>17}   e.g.", "final x", "serializable", "not serializable");
for (x, (ok, bad, example)) in &by_value {
    println!("{x:>7} {ok:>13} {bad:>17}   {}", example.as_deref().unwrap_or("-"));
}
println!("{} of them serializable", schedules.iter().filter(|s| precedence_cycle(s).is_none()).count());
""", role="demo"),
        md(r"""
**Reading the table.** Every final value from 1 to 6 occurs, but only 1, 2 and 3 come
from serializable schedules; **4, 5 and 6 arise only from schedules that are not
serializable**, so they are illegal. 6 is 0 + 1 + 2 + 3: each transaction reads what
another one wrote last, and the resets never undo an increment that a later read needs.
One way is for all three resets to come first and the three read-and-add steps after
them, one transaction at a time; the example column shows another. Likewise 5 is
2 + 3 (T3 adds to what T2 left) and 4 is 1 + 3 (T3 adds to what T1 left), with the
remaining transaction's work wiped out by a reset.

The table also shows that a **legal value is no proof**: hundreds of non-serializable
schedules happen to end at 1, 2 or 3. And here only the 6 serial schedules are
serializable at all: every transaction writes x, so any two of them conflict on almost
every pair of steps.

### Serializability by the precedence graph

Two accesses of different transactions to the same item **conflict** if at least one
of them writes. For every conflicting pair, draw an edge from the transaction that went
first to the one that went second. If the graph has no cycle, ordering the transactions
along its edges gives a serial schedule with the same conflicts, hence the same reads
and the same final state: the schedule is (conflict-)serializable. A cycle such as
T1 -> T2 -> T1 means that T1 must come both before and after T2.

## Locks

A **lock manager** keeps schedules serializable by making transactions wait. The
rules for one item:

| held now | asks to read | asks to write |
|---|---|---|
| nothing | granted | granted |
| read lock(s) | granted | waits |
| a write lock | waits | waits |

Reads share; a writer is alone. Two more questions the textbook raises:

- **Upgrading** a read lock to a write lock is safe only for the **sole reader**; with
  other readers present it must wait for them (it is as if it let go and asked again for
  a write lock). If other transactions are already queued for a write, whether the
  upgrade may go ahead of them is a policy choice; here it goes first, since the
  upgrader already holds the item and everyone behind is waiting for it anyway.
- **Downgrading** a write lock to a read lock never conflicts with anything, so it can
  always be allowed (it lets waiting readers in before waiting writers).

Locks alone are not enough: a transaction that unlocks x and later locks it again
lets another transaction slip in between. **Two-phase locking** (2PL) forbids this:
first a growing phase that only acquires locks, then a shrinking phase that only
releases them. Every 2PL schedule is serializable. **Strict** 2PL releases everything
only at commit, so nobody ever reads a value that may still be rolled back (no
cascaded aborts).

### Exercise: a read/write lock manager

The checks compare your answers, call by call, with these rules on generated request
sequences, and then run T1, T2 and T3 under your locks with strict 2PL (write-lock x,
reset it, read it, write it, commit) in random interleavings. With correct locks x must
always end at 1, 2 or 3, in a serializable schedule.
"""),
        *exercise("locks"),
        md(r"""
Your lock manager against the compatibility table and the upgrade rule: each line sets
up a fresh manager, lets T1 (and T2) take what the line says, then T3 asks.
"""),
        code(r"""
use distlab::catalogue::locks::{Answer, Mode};

fn ask(setup: &[(u32, Mode)], who: u32, mode: Mode) -> Answer {
    let mut locks = lock_manager();
    for &(t, m) in setup {
        locks.request(t, 'x', m);
    }
    locks.request(who, 'x', mode)
}
use Mode::{Read, Write};
let cases: [(&str, &[(u32, Mode)], u32, Mode, &str); 8] = [
    ("x free, T3 reads", &[], 3, Read, "Granted"),
    ("x free, T3 writes", &[], 3, Write, "Granted"),
    ("T1 reads, T3 reads", &[(1, Read)], 3, Read, "Granted"),
    ("T1 reads, T3 writes", &[(1, Read)], 3, Write, "Waiting"),
    ("T1 writes, T3 reads", &[(1, Write)], 3, Read, "Waiting"),
    ("T1 writes, T3 writes", &[(1, Write)], 3, Write, "Waiting"),
    ("T3 reads alone, upgrades", &[(3, Read)], 3, Write, "Granted"),
    ("T1 and T3 read, T3 upgrades", &[(1, Read), (3, Read)], 3, Write, "Waiting"),
];
for (what, setup, who, mode, rule) in cases {
    let got = format!("{:?}", ask(setup, who, mode));
    println!("{what:<30} rule: {rule:<8} yours: {got:<8} {}", if got == rule { "" } else { "<- differs" });
}
println!("(the rule column is the table above)");
""", role="compare"),
        md(r"""
## Without locks: timestamps and optimism

Locking is *pessimistic*: it makes transactions wait in case they might conflict, and
can deadlock. Two other schemes never make anyone wait for a lock.

**Timestamp ordering.** Each transaction gets a timestamp when it starts, and every item
remembers the largest timestamps that read and wrote it. An operation that arrives "too
late" (a read of x by T when a younger transaction has already written x, or a write
when a younger one has already read or written it) aborts T, which restarts with a new
timestamp. Whatever is not aborted runs exactly as if the transactions had run serially
**in timestamp order**: the scheme guarantees serializability, and the price is aborts
instead of waits. A refinement: if T1's write of x may go ahead because the only other
write to x, by T2, has an *older* timestamp, the scheduler can still hold T1's write
until T2 commits. If T2 then aborts, its write is undone before T1's goes in, and T1 is
not caught up in T2's rollback (no cascading abort).

**Optimistic concurrency control.** Transactions run freely, buffer their writes and
remember what they read. At commit the transaction is validated: if a transaction that
committed after this one started wrote an item this one read, it aborts; otherwise its
writes are installed. Optimism pays off when conflicts are rare: nothing waits, and the
bookkeeping is cheap.

Which of the two is more restrictive? The textbook says optimistic control is: it
aborts whenever a transaction committed in the meantime changed an item this one used,
even when that transaction is the older one, which timestamp ordering would simply put
first. The cell below plays both schemes on two small pairs of transactions, over
every interleaving of their steps (`c` is the commit; a transaction's timestamp is the
time of its first step; basic timestamp ordering, backward validation).
"""),
        code(r"""
#[derive(Clone, Copy, Debug)]
enum Step { R(char), W(char), C }
use Step::{C, R, W};

/// Every order of the steps of two transactions, as which one moves at each step.
fn orders(a: usize, b: usize) -> Vec<Vec<usize>> {
    if a == 0 || b == 0 {
        return vec![vec![if a == 0 { 1 } else { 0 }; a + b]];
    }
    let mut out = Vec::new();
    for (first, rest) in [(0, orders(a - 1, b)), (1, orders(a, b - 1))] {
        out.extend(rest.into_iter().map(|o| [vec![first], o].concat()));
    }
    out
}

/// Basic timestamp ordering: does each transaction survive?
fn timestamps(txns: &[Vec<Step>; 2], order: &[usize]) -> [bool; 2] {
    let (mut ts, mut clock, mut alive, mut at) = ([0u32; 2], 0, [true; 2], [0; 2]);
    let (mut rts, mut wts) = (BTreeMap::new(), BTreeMap::new()); // item -> largest timestamp
    for &t in order {
        let step = txns[t][at[t]];
        at[t] += 1;
        if !alive[t] { continue; }
        if ts[t] == 0 { clock += 1; ts[t] = clock; }
        let x = match step { R(x) | W(x) => x, C => continue };
        let (r, w) = (*rts.get(&x).unwrap_or(&0), *wts.get(&x).unwrap_or(&0));
        match step {
            R(_) if ts[t] < w => alive[t] = false, // a younger one already wrote x
            R(_) => { rts.insert(x, ts[t].max(r)); }
            W(_) if ts[t] < r || ts[t] < w => alive[t] = false, // a younger one used x
            W(_) => { wts.insert(x, ts[t]); }
            C => {}
        }
    }
    alive
}

/// Optimistic, backward validation: does each transaction commit?
fn optimistic(txns: &[Vec<Step>; 2], order: &[usize]) -> [bool; 2] {
    let (mut start, mut reads, mut writes) = ([None; 2], [Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    let mut committed: Vec<(usize, Vec<char>)> = Vec::new(); // (when, what it wrote)
    let (mut alive, mut at) = ([true; 2], [0; 2]);
    for (k, &t) in order.iter().enumerate() {
        let step = txns[t][at[t]];
        at[t] += 1;
        start[t].get_or_insert(k);
        match step {
            R(x) => reads[t].push(x),
            W(x) => writes[t].push(x),
            C => {
                let clash = committed.iter().any(|(when, wrote)| {
                    *when > start[t].unwrap() && wrote.iter().any(|x| reads[t].contains(x))
                });
                if clash { alive[t] = false } else { committed.push((k, writes[t].clone())) }
            }
        }
    }
    alive
}

/// A scheme: which of the two transactions commit, for one interleaving.
type Scheme = dyn Fn(&[Vec<Step>; 2], &[usize]) -> [bool; 2];

for (name, txns) in [
    ("T1: W(x) c    T2: R(x) c", [vec![W('x'), C], vec![R('x'), C]]),
    ("T1: R(y) W(x) c    T2: R(x) c", [vec![R('y'), W('x'), C], vec![R('x'), C]]),
] {
    let txns = &txns;
    let all = orders(txns[0].len(), txns[1].len());
    let both = |f: &Scheme| all.iter().filter(|o| f(txns, o) == [true; 2]).count();
    let only = |f: &Scheme, g: &Scheme| {
        let o = all.iter().find(|o| f(txns, o) == [true; 2] && g(txns, o) != [true; 2]);
        o.map(|o| {
            let mut at = [0; 2];
            let word = |t: usize, step: Step| match step {
                R(x) => format!("R{}({x})", t + 1),
                W(x) => format!("W{}({x})", t + 1),
                C => format!("C{}", t + 1),
            };
            o.iter().map(|&t| { at[t] += 1; word(t, txns[t][at[t] - 1]) }).collect::<Vec<_>>().join(" ")
        })
    };
    println!("{name}: {} interleavings", all.len());
    println!("  both commit under timestamps: {}, under optimism: {}", both(&timestamps), both(&optimistic));
    println!("  only timestamps commit both, e.g.: {}", only(&timestamps, &optimistic).unwrap_or("none".into()));
    println!("  only optimism commits both, e.g.: {}\n", only(&optimistic, &timestamps).unwrap_or("none".into()));
}
println!("(Rn, Wn, Cn: a read, write, commit of transaction n)");
""", role="demo"),
        md(r"""
The first pair is the textbook's case: an older transaction writes x while a younger
one is reading it. Timestamp ordering accepts every interleaving (whichever transaction
starts first is the older, and the other's step always comes late enough for that
order); validation aborts the reader whenever the writer commits after the reader
started. The second pair turns the claim around: the younger T2 reads x
before the older T1 writes it, so timestamp ordering must abort T1 (its write comes too
late for its place in the order), while optimism lets both commit, in the order T2, T1.
Here each scheme commits both in some interleavings that the other refuses.
**Neither scheme accepts everything the other accepts**: "more restrictive" holds only
for the situation the textbook describes, not in general. Both only ever produce
serializable results; they differ in which harmless interleavings they give up on.
"""),
        md(r"""
### Answers (instructor notes)

- Legal final values of x: 1, 2, 3 (serial orders ending in T1, T2, T3). Illegal: 4,
  5, 6; the demo counts the schedules for each. 6: every reset before every read.
- Read-to-write upgrade: only for the sole reader; downgrade: always allowed.
- Timestamp ordering: serializable in timestamp order, or aborts.
- OCC vs timestamps: the textbook says OCC is more restrictive (it aborts on an overlap
  with a committed older writer that timestamps accept). The demo's second pair shows
  the converse case, so neither dominates in general.
""", tags=["solution"]),
    ]
