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
use distlab::catalogue::quorum::{simulated_conflict, Conflict};

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
        *exercise("quorums", r"""
fn legal_quorums(n: usize, nr: usize, nw: usize) -> bool {
    // BEGIN SOLUTION
    let possible = (1..=n).contains(&nr) && (1..=n).contains(&nw);
    let read_sees_write = nr + nw > n; // no read quorum fits beside a write quorum
    let writes_meet = 2 * nw > n; // no two write quorums fit side by side
    possible && read_sees_write && writes_meet
    // END SOLUTION
    // BEGIN STARTER
    // let _ = (n, nr, nw);
    // true
    // END STARTER
}
"""),
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
## Next: a quorum-replicated register

The rules are only half of the story. The exercise that follows (added in the next
version of this notebook) has you implement a register replicated with these quorums
in the simulator: version numbers, read and write quorums, and servers that crash or
lose messages. The checks look for a read that returns anything but the latest
completed write.
"""),
    ]
