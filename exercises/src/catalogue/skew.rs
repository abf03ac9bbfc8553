//! Notebook 4, physical clocks: how far apart two drifting clocks get
//! between resynchronisations. The textbook's case: clocks meant to tick
//! 1000 times per ms, one ticks 990, resynchronised every minute: 600 ms.
//!
//! The reference runs the simulator's clock model (`network::ClockModel`)
//! for each clock over one resync interval, from equal readings at the
//! resync, and measures the largest gap between any two readings.

use serde::{Deserialize, Serialize};

use super::{numeric_verdict, CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::guard::call_guarded;
use crate::network::ClockModel;
use crate::rng::{Draw, SeededRng};
use crate::Time;

/// The student's answer: the worst skew in ms, given the two clocks' tick
/// rates per ms and the resync interval in seconds.
pub type Solution<'a> = &'a dyn Fn(f64, f64, f64) -> f64;

/// How often every clock is meant to tick per ms of true time.
pub const NOMINAL_TICKS_PER_MS: f64 = 1000.0;

/// The checks, by name.
pub const TEXTBOOK_DRIFTS: &str = "textbook: 990 against 1000 per ms, every minute";
pub const YOUR_OWN_CLOCKS: &str = "your own clocks";
pub const EQUAL_AND_OPPOSITE_DRIFTS: &str = "equal and opposite drifts";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "skew",
    title: "Clock skew between resynchronisations",
    notebook: 4,
    position: 1,
    points: 10,
    task: "Every clock is meant to tick 1000 times per millisecond and shows its tick count \
           divided by 1000 as the time in ms; real clocks tick a little faster or slower. Two \
           clocks are set to the same time at a resynchronisation and again every \
           `resync_every_s` seconds. Write `worst_skew_ms(ticks_per_ms_fast, ticks_per_ms_slow, \
           resync_every_s)`: the largest difference, in milliseconds, between what the two \
           clocks show before the next resynchronisation. Your answer is compared with \
           simulated drifting clocks, for the textbook's pair (1000 and 990 ticks per ms, \
           resynchronised every minute) and for clocks drawn for you.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: TEXTBOOK_DRIFTS, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: YOUR_OWN_CLOCKS, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: EQUAL_AND_OPPOSITE_DRIFTS, weight: 3, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| {
        let skew = crate::remote::remote_fn::<(f64, f64, f64), f64>(&connection, "worst_skew_ms");
        check(&|fast, slow, every| skew((fast, slow, every)), run)
    },
    variant: |seed| super::variant_json(variant(seed)),
};

/// The clock model of a clock ticking `ticks_per_ms` times per true ms,
/// set right at true time 0.
pub fn clock(ticks_per_ms: f64) -> Result<ClockModel, String> {
    let model = ClockModel { drift: ticks_per_ms / NOMINAL_TICKS_PER_MS - 1.0, offset: 0 };
    model.validate().map_err(|e| format!("{ticks_per_ms} ticks per ms: {e}"))?;
    Ok(model)
}

/// Samples per interval; the largest gap is at the end, which is always
/// sampled, but the simulation doesn't assume it.
const SAMPLES: i64 = 1000;

/// The largest gap, in ms, between any two of the clocks over one resync
/// interval, measured in simulated microseconds.
pub fn simulated_worst_skew(ticks_per_ms: &[f64], resync_every_s: f64) -> Result<f64, String> {
    let clocks = ticks_per_ms.iter().map(|&r| clock(r)).collect::<Result<Vec<_>, _>>()?;
    if !(0.0..=1e6).contains(&resync_every_s) {
        return Err(format!("a resync interval of {resync_every_s} s can't be simulated"));
    }
    let interval: Time = (resync_every_s * 1e6).round() as Time;
    let mut worst: Time = 0;
    for step in 0..=SAMPLES {
        // Just before the resync at `interval`, readings are those at the end.
        let t = (interval as i128 * step as i128 / SAMPLES as i128) as Time;
        let readings: Vec<Time> = clocks.iter().map(|c| c.reading(t)).collect();
        let (lo, hi) = (readings.iter().min(), readings.iter().max());
        if let (Some(lo), Some(hi)) = (lo, hi) {
            worst = worst.max(hi - lo);
        }
    }
    Ok(worst as f64 / 1000.0)
}

/// A relative 1e-6, plus the simulation's rounding to whole microseconds.
fn close(got: f64, simulated: f64) -> bool {
    (got - simulated).abs() <= 1e-6 * simulated.abs() + 0.0015
}

/// The student's own pairs of clocks: (fast, slow, resync seconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// One clock fast and one slow, then both slow.
    pub cases: Vec<(f64, f64, f64)>,
}

pub fn variant(seed: u64) -> Variant {
    let mut rng = SeededRng::new(seed, 0x736b6577);
    let mut interval = || [1.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 3600.0][rng.below(8) as usize];
    let (i1, i2) = (interval(), interval());
    let fast = 1000.0 + (1 + rng.below(20)) as f64;
    let slow = 1000.0 - (1 + rng.below(20)) as f64;
    let both_slow = 1000.0 - (1 + rng.below(10)) as f64;
    let slower = both_slow - (1 + rng.below(30)) as f64;
    Variant { cases: vec![(fast, slow, i1), (both_slow, slower, i2)] }
}

super::hidden! {
    fn hidden_cases() -> Vec<(f64, f64, f64)> {
        vec![(1000.0, 1000.0, 60.0), (1007.0, 1007.0, 600.0), (1010.0, 990.0, 60.0), (1200.0, 800.0, 1.0)]
    }
}

/// A hint for the commonest slips, when the answer is off by one of them.
fn hint(got: f64, simulated: f64, resync_every_s: f64) -> &'static str {
    let near = |x: f64| simulated > 0.0 && (x - simulated).abs() <= 1e-3 * simulated;
    if near(got * 1000.0) {
        " (that looks like seconds, not ms)"
    } else if near(got * resync_every_s * 1000.0) {
        " (that is the gap after one ms, not after the whole interval)"
    } else {
        ""
    }
}

pub fn check(solution: Solution<'_>, run: &Run) -> Report {
    use crate::faults::fmt_ms;
    let (seed, scope) = (run.seed, run.scope);
    let mut cases: Vec<(&'static str, (f64, f64, f64))> = Vec::new();
    if scope.runs_public() {
        cases.push((TEXTBOOK_DRIFTS, (1000.0, 990.0, 60.0)));
        cases.extend(variant(seed).cases.into_iter().map(|c| (YOUR_OWN_CLOCKS, c)));
    }
    if scope.runs_hidden() {
        cases.extend(hidden_cases().into_iter().map(|c| (EQUAL_AND_OPPOSITE_DRIFTS, c)));
    }
    let mut verdicts = Vec::new();
    for (name, (fast, slow, every)) in cases {
        let simulated = simulated_worst_skew(&[fast, slow], every).expect("catalogue clocks are valid");
        let call = format!("worst_skew_ms({fast}, {slow}, {every})");
        let (ok, message) = match call_guarded(|| solution(fast, slow, every)) {
            Ok(got) if close(got, simulated) => {
                (true, format!("{call} = {}; simulated {}", fmt_ms(got), fmt_ms(simulated)))
            }
            Ok(got) => (
                false,
                format!(
                    "{call} = {}, but two simulated clocks are {} apart at the end of the {every} s interval{}",
                    fmt_ms(got),
                    fmt_ms(simulated),
                    hint(got, simulated, every)
                ),
            ),
            Err(panic) => (false, format!("{call} panicked: {panic}")),
        };
        verdicts.push(numeric_verdict(
            name,
            ok,
            message,
            format!("fast={fast} slow={slow} every={every}s"),
            seed,
            SPEC.id,
        ));
    }
    Report { exercise: SPEC.id.into(), verdicts, diagram: None }
}

/// Serves the student's function to the grader (see `remote`).
pub fn host(solution: Solution<'_>) {
    crate::remote::serve_calls_stdio(&|name, args| match name {
        "worst_skew_ms" => crate::remote::answer(args, |(fast, slow, every)| solution(fast, slow, every)),
        _ => Err(format!("no function {name}")),
    })
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "skew",
    solution: Solution<'static> = &worst_skew_ms,
    cell: {
        // BEGIN CELL
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
        // END CELL
    }
}
