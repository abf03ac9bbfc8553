from generate import code, exercise, md

STEM = "04-physical-clocks"


def cells():
    return [
        md(r"""
# 4. Physical clocks: drift, skew and synchronisation

A computer's clock counts the ticks of a crystal. Two crystals never tick at exactly
the same rate, so two clocks set to the same time drift apart: the gap between their
readings is the **skew**. Clocks are therefore resynchronised regularly, e.g. from a
time server broadcasting UTC; between two resynchronisations the skew grows.

The textbook's machines: both clocks are meant to tick **1000 times per millisecond**.
One does; the other ticks only **990 times**. UTC updates arrive **once a minute**.
What is the largest skew?

In the simulator every node has a `ClockModel` (a drift and an offset): a clock with
drift -0.01 shows 990 ms when 1000 ms of true time have passed. `simulated_worst_skew`
runs the clocks from one resynchronisation to the next and measures the widest gap.
"""),
        code(r"""
use distlab::catalogue::skew::{clock, simulated_worst_skew};

let slow = clock(990.0).unwrap();
println!("after 1 s of true time the slow clock shows {} us", slow.reading(1_000_000));
println!("worst skew over a minute: {} ms (the textbook says 600 ms)", simulated_worst_skew(&[1000.0, 990.0], 60.0).unwrap());
""", role="demo"),
        md(r"""
The simulation agrees with the textbook: 600 ms. The skew is largest just before the
next update, since the gap only grows in between.

### Exercise: the skew bound

Write `worst_skew_ms(ticks_per_ms_fast, ticks_per_ms_slow, resync_every_s)`: the
largest difference in milliseconds between two clocks that are set equal at every
resynchronisation, given their tick rates (nominal: 1000 per ms) and the interval in
seconds. Mind the units: the answer is in ms, the interval in s. Graded against the
simulated clocks, for the textbook's pair and for clocks drawn for you (one fast and
one slow, or both slow).
"""),
        *exercise("skew"),
        md(r"""
### Derivation (instructor notes)

The slow clock loses 10 ticks in every 1000, i.e. 1 %: 10 ms per second of true time.
In 60 s that is 600 ms. In general the two readings part at
|f - s| / 1000 ms per true ms, for 1000 T true ms between updates:
skew = |f - s| T ms with T in seconds.
""", tags=["solution"]),
        code(r"""
for (fast, slow, every) in [(1000.0, 990.0, 60.0), (1010.0, 995.0, 10.0), (999.0, 980.0, 3600.0)] {
    println!("{fast} vs {slow} every {every} s: formula {:.3} ms, simulated {:.3} ms",
        worst_skew_ms(fast, slow, every), simulated_worst_skew(&[fast, slow], every).unwrap());
}
""", role="compare"),
        md(r"""
## Keeping clocks together

The bound tells you how often clocks must be resynchronised to stay within a given
skew. Resynchronising means reading another clock over the network, and a message
takes time: by the time a reading arrives it is already stale, by an amount nobody
knows exactly. The two algorithms below differ in whom they trust.

In the simulator a node reads its own clock with `ctx.now()` (a drifting, offset
clock: the node never sees the true time) and moves it with `ctx.adjust_clock(delta)`.
The adjustment is a jump, possibly backwards. A real system would rather slow a fast
clock down for a while, because programs that read the time expect it never to go
back; the simulator has no such slewing, and the checks judge only the skew.

## 1. Cristian's algorithm: ask a time server

One machine, the **time server**, has a clock we trust (say it receives UTC). Every
other machine, a client, regularly asks it for the time:

1. the client notes its own clock, T0, and sends a request;
2. the server answers with its clock reading, T, when the request arrives;
3. the reply reaches the client at T1 on the client's clock.

T was read somewhere during the round trip T1 - T0. If the request and the reply take
about equally long, T was read halfway, so the client sets its clock to
**T + (T1 - T0) / 2**. How wrong can that be? If one-way delays lie between dmin and
dmax, the halfway guess is off by at most **(dmax - dmin) / 2**, plus what the client's
own clock drifts during the round trip. After the correction, the two clocks part
again at the difference of their rates until the next request.

Two details matter on a real network. A reply can be lost: the client asks again
after a timeout, with a new request id. A reply can arrive twice, or late, after the
client has asked again: only the reply to the **latest** request is used, once;
applying an older one would pair a server time with the wrong T0.

### Exercise: Cristian's algorithm

Node 0 is the server (exact clock); the clients' clocks drift by up to 2 % either way
and start up to 200 ms off. Ask at start and every `SYNC_EVERY` (100 ms of your own
clock); ask again if `RETRY` (30 ms) passes without the answer. Messages take 2 to 12
ms each way, so a correction may be off by up to 5 ms, and some are lost or doubled.

What the checks look for, on every run: after the reply to its latest request reaches
a client, that client's true skew from the server stays within 5 ms plus what the two
clocks drift apart since (the monitor recomputes every clock from the scenario; it
never believes what a node says its clock shows); every client asks at least every
`SYNC_EVERY + RETRY`; and at most two messages per sync, plus two for each message
the network lost or doubled.
"""),
        *exercise("cristian"),
        md(r"""
### What your clients' clocks did

The cell below runs your node in the exercise's first public scenario and, every
50 ms of true time, prints how far each client's clock is from the server's (the true
readings, recomputed from the clock models and the adjustments in the trace). Before
the first reply a client is as far off as it started; afterwards it should stay within
a few ms, creeping away between syncs at its drift rate (2 % of 100 ms is 2 ms) and
snapping back at each reply. The diagram shows the first requests, replies and clock
adjustments.
"""),
        code(r"""
use distlab::catalogue::{cristian, timesync::Readings};
use distlab::{ms, simulate, DiagramOptions, Svg};

let scenario = cristian::scenarios(2024).remove(0).scenario;
let trace = simulate(&scenario, 1, cristian_node).expect("a valid scenario");
println!("true time | skew of each client from the server, ms");
{
    // A block: evcxr keeps no variable that borrows from another.
    let mut readings = Readings::new(&scenario);
    let mut events = trace.events.iter().peekable();
    for t in (0..=scenario.until).step_by(ms(50) as usize) {
        while let Some(e) = events.next_if(|e| e.at <= t) {
            readings.step(&e.kind);
        }
        let skews: Vec<String> = (1..scenario.nodes)
            .map(|c| format!("{:+9.3}", (readings.at(c, t) - readings.at(0, t)) as f64 / 1000.0))
            .collect();
        println!("{:>6} ms | {}", t / 1000, skews.join(" "));
    }
}
let options = DiagramOptions { max_events: 40, title: Some("Cristian: the first requests".into()), ..Default::default() };
Svg(distlab::svg(&trace, &options))
""", role="demo"),
        md(r"""
## 2. The Berkeley algorithm: agree on an average

Sometimes no machine has UTC and none is trusted more than the others; what matters is
that they **agree**. In the Berkeley algorithm a **time daemon** polls every machine
for its clock from time to time. For each answer it estimates that machine's offset
from its own clock, correcting for the round trip as Cristian's algorithm does:
reply + half the round trip - its own clock now. It averages the offsets, its own
(zero) included, and tells every machine how far to move: the average minus that
machine's offset. The daemon moves its own clock by the average too.

Three choices make it work in practice:

- **Outliers are left out.** A clock that is wildly off (a broken crystal, a machine
  just booted) would drag the average with it. Offsets further than a threshold from
  the daemon's clock are not averaged, but their machines are still corrected.
- **Corrections are changes, not times.** A time would be stale by the message's delay
  when it arrives; "move by +3.2 ms" is right whenever it arrives. A machine applies
  each round's change once: a second copy of the same correction must not move the
  clock again.
- **Nobody is waited for.** The daemon collects answers for a short while, then works
  with what it has: a crashed machine or a lost message costs that machine one round,
  not everybody.

### Exercise: the Berkeley algorithm

Node 0 is the daemon. Poll at start and then every `POLL_EVERY` (100 ms of the
daemon's clock), average after `WAIT` (20 ms), leave out clocks more than `THRESHOLD`
(100 ms) from the daemon's. In your variant the daemon's clock starts 40 to 70 ms
ahead of the others (so forgetting to count it shows), the machines drift by up to
0.2 %, and one machine starts 300 to 500 ms off. Messages take 2 to 6 ms, so one
offset estimate may be off by up to 2 ms.

What the checks look for: every correction the daemon sends aims at the average of the
sane clocks that answered this round, the daemon's own included (within twice the
estimation error); each correction a machine applies lands near the daemon's clock;
corrections are small changes, applied once, exactly as sent, and only to machines
that answered; within 1 s of the last fault every live machine has been corrected
again and all clocks agree; at most three messages (poll, answer, correction) per
machine per round.
"""),
        *exercise("berkeley"),
        md(r"""
### Where the clocks ended up

The same kind of table for your Berkeley nodes, in the exercise's first public
scenario: every 100 ms of true time, each clock's distance from the mean of all
clocks but the outlier. At 0 ms the daemon is tens of ms ahead and the outlier
hundreds of ms away; after the first round everyone, the outlier included, should sit
within a few ms of the others. The daemon's clock moves too: nobody's clock is the
reference here.
"""),
        code(r"""
use distlab::catalogue::{berkeley, timesync::Readings};
use distlab::{ms, simulate};

let variant = berkeley::variant(2024);
let scenario = berkeley::scenarios(2024).remove(0).scenario;
let trace = simulate(&scenario, 1, berkeley_node).expect("a valid scenario");
println!("node {} is the outlier; node 0 the daemon", variant.outlier);
println!("true time | each clock minus the mean of all clocks but the outlier, ms");
{
    let mut readings = Readings::new(&scenario);
    let mut events = trace.events.iter().peekable();
    let sane: Vec<usize> = (0..scenario.nodes).filter(|&n| n != variant.outlier).collect();
    for t in (0..=scenario.until).step_by(ms(100) as usize) {
        while let Some(e) = events.next_if(|e| e.at <= t) {
            readings.step(&e.kind);
        }
        let mean = sane.iter().map(|&n| readings.at(n, t) as f64).sum::<f64>() / sane.len() as f64;
        let offsets: Vec<String> =
            (0..scenario.nodes).map(|n| format!("{:+9.3}", (readings.at(n, t) as f64 - mean) / 1000.0)).collect();
        println!("{:>6} ms | {}", t / 1000, offsets.join(" "));
    }
};
""", role="demo"),
    ]
