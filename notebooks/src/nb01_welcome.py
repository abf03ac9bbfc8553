from generate import code, exercise, md

STEM = "01-welcome"


def cells():
    return [
        md(r"""
# 1. Welcome: how this course works

Every notebook in this course runs **Rust** on the `distlab` kernel. The course crate,
`distlab`, is already loaded: a simulator of distributed systems that is fully
deterministic. A run is decided by a *seed*: message delays, losses, duplicates,
crashes and partitions all come from it, so a run you saw once can be replayed
exactly.

The loop for every exercise:

1. **Read** the task (`:exercise ID` shows it with starter code).
2. **Write** your code in the cell that begins with `// exercise: ID`. Keep that first
   line: it tells the kernel and the grader which cell is your answer. Keep the whole
   answer in that one cell (helpers and structs too) and run it: each time it runs
   without an error, the kernel remembers it as your answer. A kernel restart
   forgets, so run the cell again after one.
3. **Check locally** with `:check ID`: your code runs against the public scenarios,
   and you get one row per check, with the seed and a replay line for each failure.
   Paste a replay line (`:check ID --scenario "..." --seed N`) to rerun exactly that run.
4. **Submit** with `:submit ID`. The kernel sends the cell it remembers; the grader
   compiles it in a sandbox and runs the same checks on *your own* parameters and
   seeds, plus hidden scenarios. Your source is saved on your machine first and
   removed only once the grader has it, so a server that is down loses nothing:
   the next `:submit` sends it.

Cells run top to bottom; a definition (a `fn`, a `struct`) stays available to later cells.
A cell that panics shows an error; fix it and run it again.
"""),
        code(r"""
// A first cell: ordinary Rust. The last expression is the cell's value.
let nodes = 4;
let links = nodes * (nodes - 1) / 2;
println!("{nodes} nodes, fully connected: {links} links");
links
"""),
        md(r"""
## Logging in

Submitting needs an account on the course server. `:login` on its own tells you
whether this kernel is logged in, and as whom; it is safe to run any time. If it
says you are not, run `:login URL TOKEN` once, with the address and the personal
token your instructor gave you (for example `:login https://distlab.example.org
3f9c...`). The kernel keeps them in a file only you can read. Where the course
environment logs you in for you, there is nothing to do.

`:grades` shows your submissions and best scores, as the course server keeps them.
"""),
        code(":login", role="login"),
        md(r"""
## Nodes, messages and handlers

A distributed algorithm here is a **node**: a struct that implements
`Process<M>`, where `M` is the message type the exercise fixes. The simulator calls
the node's handlers:

| handler | called when |
|---|---|
| `on_start(ctx)` | the system starts |
| `on_message(ctx, from, msg)` | a message arrives |
| `on_timer(ctx, tag)` | a timer the node set goes off |
| `on_recover(ctx)` | the node comes back after a crash (its memory is gone) |

Handlers never touch the network. They ask the context `ctx` to act:
`ctx.send(to, msg)`, `ctx.broadcast(msg)`, `ctx.set_timer(tag, delay)`,
`ctx.observe(...)` (tell the checks what you did: entered a critical section, took
a leader, delivered a message). `ctx.me()` is your id, `ctx.nodes()` how many nodes
there are, `ctx.peers()` everyone else. Time is virtual, in microseconds:
`ms(5)` is five milliseconds.

Node state must derive `Clone, Debug, Hash`; use `BTreeMap`/`BTreeSet`, not
`HashMap`, so every run with the same seed is the same run.

## Warm-up: ping everyone over a lossy network

Node 0 must hear a `Pong` from every other node. Every node answers `Ping(k)`
with `Pong(k)`. The catch: the network loses 30 % of the messages in one
scenario, so a single round of pings is not enough. Node 0 must keep asking the
nodes it has not heard from, on a timer, until all have answered.

First, see what a wrong answer looks like. This node answers pings, but node 0
pings everyone once and never again:
"""),
        code(r"""
use distlab::catalogue::warmup::WarmupMsg;
use distlab::{Ctx, NodeId, Process};

#[derive(Clone, Debug, Hash, Default)]
struct PingOnce;

impl Process<WarmupMsg> for PingOnce {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        if ctx.me() == 0 {
            for peer in ctx.peers().collect::<Vec<_>>() {
                ctx.send(peer, WarmupMsg::Ping(peer as u64));
            }
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {
        if let WarmupMsg::Ping(k) = msg {
            ctx.send(from, WarmupMsg::Pong(k));
        }
    }
}

let report = distlab::catalogue::warmup::check(Box::new(|_| Box::new(PingOnce)), &distlab::catalogue::Run::public(7));
distlab::catalogue::render::show(&report);
""", role="demo"),
        md(r"""
How to read the report:

- Each **row** is one check; a check passes only if every run of it passes.
- A failing row names the **scenario** and the **seed** of the first run that
  failed, and a **replay** line: run exactly that line to see that run again.
- The **space-time diagram** draws that run: one vertical line per node, time
  flowing down, an arrow per message. A lost message is a dashed red line ending in
  an X; the event where the check failed is highlighted (hover any mark for details). Here you can see a ping lost on the way and node 0
  doing nothing about it.

The replay line works because a run is fixed by its scenario and its seed: the
same two give the same run, event for event. Here is the failing run of `PingOnce`
again, alone, taken from the report above. The same check fails at the same event
and the diagram is the same one. (For your own solution you would just paste the
replay line: it reruns your solution cell's node.)
"""),
        code(r"""
use distlab::catalogue::{exercise, warmup, Run};

let spec = exercise("warmup").unwrap();
let first = report.lead(spec).expect("PingOnce fails a check").clone();
println!("replaying scenario {:?} with seed {}", first.scenario, first.seed);
let again = warmup::check(Box::new(|_| Box::new(PingOnce)), &Run::replay(&first.scenario, first.seed));
let same = again.lead(spec).expect("the replay fails too").clone();
println!("same check: {}, same message: {}, same event: {}",
    same.check == first.check, same.message == first.message, same.event == first.event);
distlab::catalogue::render::show(&again);
""", role="demo"),
        md(r"""
Now write the real thing. Node 0 remembers who is still silent and, on a timer,
pings them again; everyone answers pings.
"""),
        *exercise("warmup"),
        md(r"""
## What a node may hold, send and keep

The same rules hold in every exercise:

- **State.** Your node struct derives `Clone, Debug, Hash`: the checker
  fingerprints states to explore them. Use `BTreeMap` and `BTreeSet` (their
  order is fixed) rather than `HashMap` and `HashSet`, and `distlab::F64` for a
  number with a fraction (`f64` has no `Hash`).
- **Nothing shared.** No `static`, no thread-local: on the grader every node
  is a process of its own, so nodes learn about each other only through
  messages.
- **Messages** are the exercise's message type. Logical stamps are `u64`;
  times are microseconds (`distlab::Time`, and `ms(20)` is 20 ms).
- **Durable values.** `ctx.persist(key, &value)` survives a crash and
  `ctx.recall(key)` reads it back after `on_recover`. Any type `serde` can
  write works, your own too: derive `serde::Serialize` and
  `serde::Deserialize` on it, as below.
"""),
        code(r"""
use distlab::F64;

#[derive(Clone, Debug, Hash, PartialEq, serde::Serialize, serde::Deserialize)]
struct Progress {
    round: u64,
    estimate: F64,
}

// A node would keep it with `ctx.persist("progress", &progress)` and get it
// back with `ctx.recall::<Progress>("progress")`.
let progress = Progress { round: 3, estimate: F64(0.25) };
println!("{progress:?}, estimate {}", f64::from(progress.estimate));
""", role="demo"),
        md(r"""
## What comes next

| notebook | topic |
|---|---|
| 2 | interconnects: worst-case hops on grids, tori and hypercubes |
| 3 | replication and availability; triple modular redundancy |
| 4 | physical clocks: drift and skew |
| 5 | logical clocks: Lamport, vector clocks, totally ordered multicast |
| 6 | election: bully and ring |
| 7 | mutual exclusion: central coordinator, Ricart and Agrawala, token ring |
| 8 | transactions: locks, serializable schedules, timestamps and optimistic control |
| 9 | consistency models: sequential, FIFO and causal histories |
| 10 | quorums: which read and write quorums the voting rules allow |
| 11 | fault tolerance and commit: reliable multicast, two- and three-phase commit |
| 12 | sockets, your nodes on a real network, shared memory between processes (the DSM exercise is in preparation) |
| 13 | naming and distributed garbage collection |

Every number in these notebooks is computed twice: by the formula you derive and by
a simulation. Where the textbook's printed answer and the simulation disagree, we
say so: the simulation wins.
"""),
    ]
