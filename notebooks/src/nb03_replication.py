from generate import code, exercise, md

STEM = "03-replication"


def cells():
    return [
        md(r"""
# 3. Replication and availability

## How many copies of a flaky server?

Problem 1.16 of the source: a buggy, experimental file server works **three quarters
of the time**. Suppose we keep k copies of it that fail independently, and count the
service as available whenever one copy or more is working. What is the smallest k
that keeps the service available **99 %** of the time or more?

Below, `simulated_availability` runs 200 000 trials per k: in each, every replica is
up with probability p, independently, and the trial counts as available if any one
is up.
"""),
        code(r"""
use distlab::catalogue::replicas::{simulated_availability, simulated_replicas_needed};
use distlab::rng::SeededRng;

let mut rng = SeededRng::new(1, 0);
for k in 1..=5 {
    println!("{k} replica(s): available {:.4} of the time (simulated)", simulated_availability(0.75, k, &mut rng));
}
println!("smallest k reaching 99 %: {}", simulated_replicas_needed(0.75, 0.99, &mut rng));
""", role="demo"),
        md(r"""
Three copies are not quite enough, four are. We cannot compare with the source here:
its answer to 1.16 breaks off after its first formula, (1/4)^k, in our copy. So the
4 is ours, from the simulation and from the closed form you derive next; it is not a
figure quoted from the source.

### Exercise: availability in closed form

Write `availability(p, k)`: the probability that at least one of k independent
replicas is up, each up with probability p. Then `replicas_needed(p, target)`: the
smallest k whose availability reaches the target. Hint: it is easier to compute
the probability that the service is *down*. You are graded against the Monte Carlo
simulation, for the 3/4 server and for your own p and target.
"""),
        *exercise("replicas"),
        md(r"""
### Derivation (instructor notes)

All k copies are down with probability (1-p)^k, so the availability is
1 - (1-p)^k. For p = 3/4: 1 - (1/4)^k >= 0.99 means (1/4)^k <= 1/100, so
k >= ln 100 / ln 4 = 3.32, and **k = 4** (availability 0.9961; three copies give
only 0.9844).
""", tags=["solution"]),
        code(r"""
// Your formula next to the simulation, for a few servers.
let mut rng = SeededRng::new(2, 0);
for p in [0.5, 0.75, 0.9] {
    for k in [1, 2, 4] {
        println!("p={p} k={k}: formula {:.4}  simulated {:.4}", availability(p, k), simulated_availability(p, k, &mut rng));
    }
}
""", role="compare"),
        md(r"""
## Masking faults: triple modular redundancy

A circuit passes a signal through stages A, B, C. **Triple modular redundancy** (TMR)
triplicates every stage *and* puts three **voters** after each stage. Each voter reads
the three outputs of its stage and passes on the majority, and voter j feeds copy j of
the next stage. The circuit is right when most of the final voters are right.

A failed element or voter may output anything (even something crafted to do harm:
a Byzantine failure), so we treat every failed part as wrong. Two questions from
the textbook:

1. How many failed parts (elements plus voters) can the 3-stage circuit mask when
   they sit in the luckiest places? The textbook says **six**, e.g. the top element
   and the top voter of every stage.
2. Does it generalise to five copies per stage? The textbook says yes: up to two
   faults per group.

The simulation tries fault sets: all 2^18 of them for 3 stages of 3, and a search
over per-stage counts for larger circuits.
"""),
        code(r"""
use distlab::catalogue::tmr::{masked, simulated_tmr, Faults};

for (stages, replicas) in [(3, 3), (3, 5)] {
    let facts = simulated_tmr(stages, replicas).unwrap();
    println!("{stages} stages of {replicas}: at most {} failures masked, e.g. {}", facts.max_masked, facts.max_example.describe());
    println!("    any {} failures are always masked; {} can defeat it: {}", facts.always_masked, facts.always_masked + 1, facts.smallest_defeat.describe());
}
// The textbook's example: the top element and the top voter of every stage.
let top = Faults { elements: vec![1, 1, 1], voters: vec![1, 1, 1] };
println!("textbook's six (line 1 everywhere) masked: {}", masked(3, &top));
""", role="demo"),
        md(r"""
Both textbook answers hold up, with one precision the simulation makes visible:
**six** is the most failures that can be masked in lucky places, but *two* failures
in the wrong places (two elements of one stage) already defeat the circuit. With five
copies, any two failures are masked and up to four per stage in lucky places.

### Exercise: what TMR masks

Write `tmr_max_masked(stages, replicas)`: the largest number of failed parts that the
circuit survives when they are placed as luckily as possible; and
`tmr_always_masked(stages, replicas)`: the largest k such that *any* k failures are
survived. Replicas is odd (3, 5, 7). Graded against the fault-set search for 3 x 3,
for five replicas and for a circuit drawn for you.
"""),
        *exercise("tmr"),
        md(r"""
### Derivation (instructor notes)

With r copies (r odd) a stage stays right while a strict majority of the lines into
its voters is right, so (r-1)/2 wrong lines per stage are tolerated. A failed voter
makes its output line wrong; if it sits on the same line as a failed element of the
next stage (or of its own stage), it costs nothing extra. So per stage (r-1)/2
elements plus (r-1)/2 voters: 2 (r-1)/2 S in all, **6** for 3 x 3 and 12 for 3 x 5.
Any (r-1)/2 failures, wherever they are, never reach a majority of lines in a stage;
(r+1)/2 failed elements of one stage do.
""", tags=["solution"]),
        code(r"""
for (s, r) in [(1, 3), (3, 3), (2, 5), (3, 5), (2, 7)] {
    let facts = simulated_tmr(s, r).unwrap();
    println!("{s} x {r}: max masked {} (search {}), always masked {} (search {})",
        tmr_max_masked(s, r), facts.max_masked, tmr_always_masked(s, r), facts.always_masked);
}
""", role="compare"),
    ]
