//! Notebook 3, replication and availability: a server is up with
//! probability p; how available are k replicas, and how many are needed
//! for a target? The textbook's case: p = 3/4 and 99 % need 4 replicas.
//!
//! The reference simulates failing replicas (Monte Carlo) and compares.

use serde::{Deserialize, Serialize};

use super::{numeric_verdict, CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::guard::call_guarded;
use crate::rng::{Draw, SeededRng};

/// The student's two functions.
#[derive(Clone, Copy)]
pub struct Solution<'a> {
    /// Probability that at least one of `k` replicas is up.
    pub availability: &'a dyn Fn(f64, u32) -> f64,
    /// The smallest number of replicas whose availability reaches `target`.
    pub replicas_needed: &'a dyn Fn(f64, f64) -> u32,
}

/// The checks, by name.
pub const AVAILABILITY_MATCHES_THE_SIMULATION: &str = "availability matches the simulation";
pub const REPLICAS_NEEDED_MATCHES_THE_SIMULATION: &str = "replicas needed matches the simulation";
pub const EXTREME_PROBABILITIES: &str = "extreme probabilities";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "replicas",
    title: "Replicas for a target availability",
    notebook: 3,
    position: 1,
    points: 10,
    task: "Write `availability(p, k)`, the probability that at least one of `k` independent \
           replicas is up when each is up with probability `p`, and `replicas_needed(p, target)`, \
           the smallest `k` whose availability is at least `target`. Both are compared with a \
           simulation of failing replicas, for the textbook's server (up 3/4 of the time, 99 %) \
           and for your own p and target.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: AVAILABILITY_MATCHES_THE_SIMULATION, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: REPLICAS_NEEDED_MATCHES_THE_SIMULATION, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: EXTREME_PROBABILITIES, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| {
        let availability = crate::remote::remote_fn::<(f64, u32), f64>(&connection, "availability");
        let replicas_needed = crate::remote::remote_fn::<(f64, f64), u32>(&connection, "replicas_needed");
        check(
            Solution {
                availability: &|p, k| availability((p, k)),
                replicas_needed: &|p, target| replicas_needed((p, target)),
            },
            run,
        )
    },
    variant: |seed| super::variant_json(variant(seed)),
};

/// Trials per Monte Carlo estimate.
const TRIALS: u32 = 200_000;

/// The fraction of `TRIALS` trials in which at least one of `k` replicas,
/// each up with probability `p`, was up.
pub fn simulated_availability(p: f64, k: u32, rng: &mut impl Draw) -> f64 {
    let up = (0..TRIALS).filter(|_| (0..k).any(|_| rng.unit() < p)).count();
    up as f64 / TRIALS as f64
}

/// Four standard deviations of the estimate, plus rounding slack.
fn tolerance(a: f64) -> f64 {
    4.0 * (a * (1.0 - a) / TRIALS as f64).sqrt() + 1e-4
}

/// The smallest k whose simulated availability reaches `target`.
pub fn simulated_replicas_needed(p: f64, target: f64, rng: &mut impl Draw) -> u32 {
    (1..=64).find(|&k| simulated_availability(p, k, rng) >= target).unwrap_or(64)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub p: f64,
    pub target: f64,
}

/// A (p, target) whose answer the simulation decides clearly: the
/// availability of the neighbouring k's is far from the target compared
/// with the simulation's noise.
pub fn variant(seed: u64) -> Variant {
    let mut rng = SeededRng::new(seed, 0x61766169);
    loop {
        let p: f64 = [0.5, 0.6, 0.65, 0.7, 0.8, 0.85, 0.9][rng.below(7) as usize];
        let target = [0.9, 0.95, 0.98, 0.99, 0.995][rng.below(5) as usize];
        let exact = |k: i32| 1.0 - (1.0 - p).powi(k);
        let k = (1..64).find(|&k| exact(k) >= target).unwrap();
        if exact(k) - target > 3.0 * tolerance(target) && target - exact(k - 1) > 3.0 * tolerance(target) {
            return Variant { p, target };
        }
    }
}

pub fn check(solution: Solution<'_>, run: &Run) -> Report {
    let (seed, scope) = (run.seed, run.scope);
    let v = variant(seed);
    let mut verdicts = Vec::new();
    let mut cases: Vec<(&'static str, f64, u32)> = Vec::new();
    let mut targets: Vec<(&'static str, f64, f64)> = Vec::new();
    if scope.runs_public() {
        cases.extend([
            (AVAILABILITY_MATCHES_THE_SIMULATION, 0.75, 4),
            (AVAILABILITY_MATCHES_THE_SIMULATION, v.p, 1),
            (AVAILABILITY_MATCHES_THE_SIMULATION, v.p, 3),
        ]);
        targets.extend([
            (REPLICAS_NEEDED_MATCHES_THE_SIMULATION, 0.75, 0.99),
            (REPLICAS_NEEDED_MATCHES_THE_SIMULATION, v.p, v.target),
        ]);
    }
    if scope.runs_hidden() {
        hidden_cases(&mut cases, &mut targets);
    }
    for (name, p, k) in cases {
        // One stream per case, so a case simulates the same whichever
        // others run with it (public and hidden run apart in the grader).
        let mut rng = case_rng(seed, name, p, k as f64);
        let simulated = simulated_availability(p, k, &mut rng);
        let (ok, message) = match call_guarded(|| (solution.availability)(p, k)) {
            Ok(a) if (a - simulated).abs() <= tolerance(simulated) => {
                (true, format!("availability({p}, {k}) = {a:.5}; simulated {simulated:.5}"))
            }
            Ok(a) => {
                (false, format!("availability({p}, {k}) = {a:.5}, but {TRIALS} simulated trials give {simulated:.5}"))
            }
            Err(panic) => (false, format!("availability({p}, {k}) panicked: {panic}")),
        };
        verdicts.push(numeric_verdict(name, ok, message, format!("p={p} k={k}"), seed, SPEC.id));
    }
    for (name, p, target) in targets {
        let mut rng = case_rng(seed, name, p, target);
        let simulated = simulated_replicas_needed(p, target, &mut rng);
        let (ok, message) = match call_guarded(|| (solution.replicas_needed)(p, target)) {
            Ok(k) if k == simulated => (true, format!("replicas_needed({p}, {target}) = {k}, as simulated")),
            Ok(k) => (false, format!("replicas_needed({p}, {target}) = {k}, but the simulation needs {simulated}")),
            Err(panic) => (false, format!("replicas_needed({p}, {target}) panicked: {panic}")),
        };
        verdicts.push(numeric_verdict(name, ok, message, format!("p={p} target={target}"), seed, SPEC.id));
    }
    Report { exercise: SPEC.id.into(), verdicts, diagram: None }
}

/// The random stream of one case, named by its check and parameters.
fn case_rng(seed: u64, check: &str, a: f64, b: f64) -> SeededRng {
    let mut h = crate::stable_hash::StableHasher::new();
    std::hash::Hash::hash(&(check, a.to_bits(), b.to_bits()), &mut h);
    SeededRng::new(seed, h.finish64())
}

/// Serves the student's functions to the grader (see `remote`).
pub fn host(solution: Solution<'_>) {
    crate::remote::serve_calls_stdio(&|name, args| match name {
        "availability" => crate::remote::answer(args, |(p, k)| (solution.availability)(p, k)),
        "replicas_needed" => crate::remote::answer(args, |(p, target)| (solution.replicas_needed)(p, target)),
        _ => Err(format!("no function {name}")),
    })
}

super::hidden! {
    fn hidden_cases(cases: &mut Vec<(&'static str, f64, u32)>, targets: &mut Vec<(&'static str, f64, f64)>) {
        let name = EXTREME_PROBABILITIES;
        cases.extend([(name, 1.0, 1), (name, 0.0, 5), (name, 0.5, 0)]);
        targets.push((name, 1.0, 0.99));
    }
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "replicas",
    solution: Solution<'static> = distlab::catalogue::replicas::Solution { availability: &availability, replicas_needed: &replicas_needed },
    cell: {
        // BEGIN CELL
        fn availability(p: f64, k: u32) -> f64 {
            // BEGIN SOLUTION
            // Down only when all k are down at once: (1-p)^k.
            1.0 - (1.0 - p).powi(k as i32)
            // END SOLUTION
            // BEGIN STARTER
            // let _ = (p, k);
            // 0.0
            // END STARTER
        }

        fn replicas_needed(p: f64, target: f64) -> u32 {
            // BEGIN SOLUTION
            // The closed form is k = ceil(ln(1 - target) / ln(1 - p)); counting up
            // avoids its edge cases (p = 1, rounding right at the target).
            let mut k = 1;
            while availability(p, k) < target && k < 64 {
                k += 1;
            }
            k
            // END SOLUTION
            // BEGIN STARTER
            // let _ = (p, target);
            // 1
            // END STARTER
        }
        // END CELL
    }
}
