from generate import code, exercise, md

STEM = "02-interconnects"


def cells():
    return [
        md(r"""
# 2. Interconnects: how far apart can two CPUs be?

A multicomputer links its CPUs by point-to-point wires; a message between two CPUs
that are not neighbours is forwarded CPU by CPU. Each step is a **hop**, and with
the best route the *worst* pair of CPUs sets the longest delay a message can
suffer: the **diameter** of the interconnect.

Three layouts of **256 CPUs**:

- a **grid** of 16 x 16: every CPU wired to the neighbours above, below, left and right;
- the same grid with **wrap-around** links: the ends of every row and every column are
  wired together (a **torus**);
- a **hypercube**: 256 = 2^8 CPUs, numbered in binary; two CPUs are wired when their
  numbers differ in exactly one bit.

The textbook's printed answers are 30 hops for the grid, 15 for the wrap-around
grid and 8 for the hypercube. Let the simulation decide: `simulated_worst_case`
builds each topology as a graph and runs breadth-first search from every CPU.
"""),
        code(r"""
use distlab::catalogue::hops::{simulated_worst_case, Topology};

// The textbook's printed answers for 256 CPUs, next to breadth-first search.
for (topology, textbook) in [(Topology::Grid, 30), (Topology::Torus, 15), (Topology::Hypercube, 8)] {
    let bfs = simulated_worst_case(topology, 256).unwrap();
    let verdict = if bfs == textbook { "agrees" } else { "WRONG in the textbook" };
    println!("{:<10} textbook {textbook:>2}   BFS {bfs:>2}   {verdict}", format!("{topology:?}"));
}
""", role="demo"),
        md(r"""
**The source is wrong about the torus.** In a ring of 16 CPUs the farthest CPU is 8
steps away, whichever way round you go (going one way takes 8, the other way 8 too).
A torus is a ring in each direction, so the worst pair is 8 + 8 = **16** hops apart,
not 15. No square torus can have 15 as its diameter: a ring of k CPUs has diameter
floor(k/2) (a ring of 15 has 7, not 15), so a k x k torus has 2 floor(k/2), always an
even number. Reaching 15 takes rings of different sizes, such as a 15 x 16 torus
(7 + 8), which has 240 CPUs, not 256.

## Exercise: the diameter for any size

Write `worst_case_hops(topology, n)` for `n` CPUs: a perfect square (k x k) for the
grid and the torus, a power of two for the hypercube. Think about one dimension
first: how far apart are the ends of a line of k CPUs, and of a ring of k CPUs?
Then combine the dimensions. Your function is graded against breadth-first search
for 256 CPUs and for sizes drawn for you (including odd sides).
"""),
        *exercise("hops"),
        md(r"""
### Derivation (instructor notes)

- Line of k CPUs: the ends are k-1 hops apart. A k x k grid routes along rows and
  columns independently, so the diameter is 2(k-1); for 256 CPUs, 30.
- Ring of k CPUs: going the shorter way round, the farthest CPU is floor(k/2) away.
  The torus is a ring per axis: 2 floor(k/2); for k = 16 that is **16**, not the
  printed 15.
- Hypercube of 2^d CPUs: a hop flips one bit, and CPU 00..0 and CPU 11..1 differ in
  all d bits: d hops; for 256 CPUs, 8.
""", tags=["solution"]),
        md(r"""
## Your formula next to the simulation

Every side from 2 to 20, and every hypercube up to 2^10 CPUs:
"""),
        code(r"""
let mut wrong = Vec::new();
for k in 2..=20 {
    for topology in [Topology::Grid, Topology::Torus] {
        let (formula, bfs) = (worst_case_hops(topology, k * k), simulated_worst_case(topology, k * k).unwrap());
        if formula != bfs { wrong.push(format!("{topology:?} {k}x{k}: formula {formula}, BFS {bfs}")); }
    }
}
for d in 0..=10 {
    let (formula, bfs) = (worst_case_hops(Topology::Hypercube, 1 << d), simulated_worst_case(Topology::Hypercube, 1 << d).unwrap());
    if formula != bfs { wrong.push(format!("hypercube 2^{d}: formula {formula}, BFS {bfs}")); }
}
println!("{} sizes differ from BFS", wrong.len());
for w in wrong.iter().take(8) { println!("  {w}"); }
""", role="compare"),
    ]
