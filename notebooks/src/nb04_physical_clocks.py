from generate import code, exercise, md

STEM = "04-physical-clocks"


def cells():
    return [
        md(r"""
# 4. Physical clocks: drift and skew

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
        *exercise("skew", r"""
fn worst_skew_ms(ticks_per_ms_fast: f64, ticks_per_ms_slow: f64, resync_every_s: f64) -> f64 {
    // BEGIN SOLUTION
    // Each true ms the clocks part by (fast - slow) / 1000 ms; the gap is
    // widest at the end of the interval, resync_every_s * 1000 true ms later.
    let drift_apart_per_ms = (ticks_per_ms_fast - ticks_per_ms_slow).abs() / 1000.0;
    drift_apart_per_ms * resync_every_s * 1000.0
    // END SOLUTION
    // BEGIN STARTER
    // let _ = (ticks_per_ms_fast, ticks_per_ms_slow, resync_every_s);
    // 0.0
    // END STARTER
}
"""),
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
## Keeping clocks together: Cristian and Berkeley

Knowing the skew bound tells you how often to resynchronise. Two classic ways:

- **Cristian's algorithm**: a client asks a time server for the time and sets its clock
  to the answer plus half the round trip, since the answer was already that old when it
  arrived. Several tries, keeping the one with the shortest round trip, tighten the
  estimate.
- **The Berkeley algorithm**: there is no UTC source. A daemon polls every machine's
  clock, estimates each one's offset (again correcting for the round trip), averages
  them, ignoring clocks that are far off, and tells every machine how much to adjust,
  forwards or backwards, so that all agree on the average.

Both are exercises in the simulator (graded on the skew they achieve under message
delay); they are added to this notebook in the next version of the course.
"""),
    ]
