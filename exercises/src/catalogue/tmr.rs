//! Notebook 3, fault masking by triple modular redundancy (and its
//! generalisation to R replicas): how many failed components a circuit of
//! replicated elements and voters can mask.
//!
//! The circuit has S stages. A stage has R elements and R voters. Every
//! voter of a stage reads all R element outputs of that stage and passes on
//! the majority; voter j feeds element j of the next stage. The first stage
//! reads a correct input. The circuit works when a majority of the last
//! stage's voters is right. A failed element or voter is Byzantine: it may
//! say anything, so we assume it says the wrong thing.
//!
//! The reference simulates the circuit for a set of failed components and
//! searches the fault sets: exhaustively for small circuits (3 x 3 is 2^18
//! sets), and for larger ones over per-stage counts, which is exact because
//! the R lines are interchangeable. A voter that sees a tie is counted as
//! wrong (the worst case), so only strict majorities of right values help.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{numeric_verdict, CheckSpec, ExerciseSpec, Report, Run, Scope, Visibility};
use crate::guard::call_guarded;
use crate::rng::{Draw, SeededRng};

/// The student's two functions, both taking (stages, replicas).
#[derive(Clone, Copy)]
pub struct Solution<'a> {
    /// The most failed components (elements plus voters) that some
    /// placement still masks.
    pub tmr_max_masked: &'a dyn Fn(usize, usize) -> usize,
    /// The largest k such that every placement of k failures is masked.
    pub tmr_always_masked: &'a dyn Fn(usize, usize) -> usize,
}

/// The checks, by name.
pub const TEXTBOOK_CIRCUIT: &str = "textbook circuit: 3 stages of 3";
pub const FIVE_REPLICAS_PER_STAGE: &str = "five replicas per stage";
pub const YOUR_OWN_CIRCUIT: &str = "your own circuit";
pub const ONE_STAGE_OR_ONE_REPLICA: &str = "one stage or one replica";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "tmr",
    title: "Masking failures with triple modular redundancy",
    notebook: 3,
    position: 2,
    points: 10,
    task: "A circuit has `stages` stages; each stage has `replicas` copies of its element and as \
           many voters. Every voter of a stage reads all the element outputs of that stage and \
           feeds the majority to one element of the next stage; the circuit is right when most \
           of the last stage's voters are. A failed element or voter can output anything, so \
           count it as wrong. Write `tmr_max_masked(stages, replicas)`: the largest number of \
           failed components (elements and voters together) that the circuit survives when they \
           sit in the luckiest places; and `tmr_always_masked(stages, replicas)`: the largest k \
           such that the circuit survives any k failures, wherever they are. Your answers are \
           compared with a search over simulated fault sets, for the textbook's three stages of \
           three, for five replicas, and for a circuit drawn for you.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: TEXTBOOK_CIRCUIT, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: FIVE_REPLICAS_PER_STAGE, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: YOUR_OWN_CIRCUIT, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: ONE_STAGE_OR_ONE_REPLICA, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| {
        let max = crate::remote::remote_fn::<(usize, usize), usize>(&connection, "tmr_max_masked");
        let always = crate::remote::remote_fn::<(usize, usize), usize>(&connection, "tmr_always_masked");
        check(Solution { tmr_max_masked: &|s, r| max((s, r)), tmr_always_masked: &|s, r| always((s, r)) }, run)
    },
    variant: |seed| super::variant_json(variant(seed)),
};

/// Failed components, per stage, as bit masks over the R lines (bit j is
/// element j or voter j).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    pub elements: Vec<u64>,
    pub voters: Vec<u64>,
}

impl Faults {
    pub fn none(stages: usize) -> Self {
        Faults { elements: vec![0; stages], voters: vec![0; stages] }
    }

    pub fn count(&self) -> usize {
        self.elements.iter().chain(&self.voters).map(|m| m.count_ones() as usize).sum()
    }

    /// "stage 1: element 1, voter 1; stage 2: ...", numbering from 1.
    pub fn describe(&self) -> String {
        let ones =
            |m: u64| (0..64).filter(|j| m >> j & 1 == 1).map(|j| (j + 1).to_string()).collect::<Vec<_>>().join(" ");
        let stages: Vec<String> = (0..self.elements.len())
            .filter(|&s| self.elements[s] | self.voters[s] != 0)
            .map(|s| {
                let mut parts = Vec::new();
                if self.elements[s] != 0 {
                    parts.push(format!("elements {}", ones(self.elements[s])));
                }
                if self.voters[s] != 0 {
                    parts.push(format!("voters {}", ones(self.voters[s])));
                }
                format!("stage {}: {}", s + 1, parts.join(", "))
            })
            .collect();
        if stages.is_empty() {
            "no failures".into()
        } else {
            stages.join("; ")
        }
    }
}

fn all_lines(replicas: usize) -> u64 {
    (1u64 << replicas) - 1
}

fn validate(stages: usize, replicas: usize) -> Result<(), String> {
    if stages == 0 || replicas == 0 {
        return Err(format!("a circuit needs at least one stage and one replica, not {stages} x {replicas}"));
    }
    if replicas > 63 {
        return Err(format!("{replicas} replicas: at most 63 are simulated"));
    }
    Ok(())
}

/// Simulates the circuit with `faults` failed: is the output still right?
pub fn masked(replicas: usize, faults: &Faults) -> bool {
    let all = all_lines(replicas);
    let right_majority = |wrong: u64| 2 * (replicas - (wrong & all).count_ones() as usize) > replicas;
    // The lines that carry a wrong value into the next stage.
    let mut wrong: u64 = 0;
    for (elements, voters) in faults.elements.iter().zip(&faults.voters) {
        let wrong_elements = wrong | elements;
        wrong = if right_majority(wrong_elements) { voters & all } else { all };
    }
    right_majority(wrong)
}

/// What the search finds for one circuit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmrFacts {
    pub max_masked: usize,
    /// A placement of `max_masked` failures that is masked.
    pub max_example: Faults,
    pub always_masked: usize,
    /// A placement of `always_masked + 1` failures that is not masked.
    pub smallest_defeat: Faults,
}

/// Every fault set of a small circuit: 2^(2 R S) of them.
pub fn exhaustive_search(stages: usize, replicas: usize) -> Result<TmrFacts, String> {
    validate(stages, replicas)?;
    let bits = 2 * replicas * stages;
    if bits > 24 {
        return Err(format!("{stages} x {replicas} has 2^{bits} fault sets: too many to try"));
    }
    let all = all_lines(replicas);
    let unpack = |set: u64| {
        let mut f = Faults::none(stages);
        for s in 0..stages {
            f.elements[s] = set >> (2 * replicas * s) & all;
            f.voters[s] = set >> (2 * replicas * s + replicas) & all;
        }
        f
    };
    let (mut best, mut best_set) = (0, 0u64);
    let (mut defeat, mut defeat_set) = (usize::MAX, 0u64);
    for set in 0..1u64 << bits {
        let n = set.count_ones() as usize;
        if n <= best && n >= defeat {
            continue;
        }
        if masked(replicas, &unpack(set)) {
            if n > best {
                (best, best_set) = (n, set);
            }
        } else if n < defeat {
            (defeat, defeat_set) = (n, set);
        }
    }
    Ok(TmrFacts {
        max_masked: best,
        max_example: unpack(best_set),
        always_masked: defeat - 1,
        smallest_defeat: unpack(defeat_set),
    })
}

/// One stage's failures, in counts: `a` elements on lines that already carry
/// a wrong value, `b` elements on right lines, `v` voters.
type StageCounts = (usize, usize, usize);

/// The search over per-stage counts. Lines are interchangeable, so what a
/// stage passes on depends only on how many lines are wrong; the fault set
/// is rebuilt by putting the failures on the lowest-numbered lines.
pub fn counted_search(stages: usize, replicas: usize) -> Result<TmrFacts, String> {
    validate(stages, replicas)?;
    let r = replicas;
    let right = |wrong: usize| 2 * (r - wrong) > r;
    // For each number of wrong lines after the stages so far: the most and
    // the fewest failures that lead there, with their per-stage counts.
    let mut most: Vec<Option<(usize, Vec<StageCounts>)>> = vec![None; r + 1];
    let mut fewest = most.clone();
    most[0] = Some((0, Vec::new()));
    fewest[0] = Some((0, Vec::new()));
    for _ in 0..stages {
        let mut next_most: Vec<Option<(usize, Vec<StageCounts>)>> = vec![None; r + 1];
        let mut next_fewest = next_most.clone();
        for w in 0..=r {
            for a in 0..=w {
                for b in 0..=r - w {
                    for v in 0..=r {
                        let out = if right(w + b) { v } else { r };
                        if let Some((n, path)) = &most[w] {
                            if next_most[out].as_ref().is_none_or(|(m, _)| n + a + b + v > *m) {
                                let mut p = path.clone();
                                p.push((a, b, v));
                                next_most[out] = Some((n + a + b + v, p));
                            }
                        }
                        if let Some((n, path)) = &fewest[w] {
                            if next_fewest[out].as_ref().is_none_or(|(m, _)| n + a + b + v < *m) {
                                let mut p = path.clone();
                                p.push((a, b, v));
                                next_fewest[out] = Some((n + a + b + v, p));
                            }
                        }
                    }
                }
            }
        }
        most = next_most;
        fewest = next_fewest;
    }
    let pick = |table: &[Option<(usize, Vec<StageCounts>)>], ok: bool, better: fn(usize, usize) -> bool| {
        (0..=r)
            .filter(|&w| right(w) == ok)
            .filter_map(|w| table[w].clone())
            .reduce(|x, y| if better(y.0, x.0) { y } else { x })
            .expect("some placement reaches each outcome")
    };
    let (max_masked, max_path) = pick(&most, true, |a, b| a > b);
    let (defeat, defeat_path) = pick(&fewest, false, |a, b| a < b);
    Ok(TmrFacts {
        max_masked,
        max_example: place(r, &max_path),
        always_masked: defeat - 1,
        smallest_defeat: place(r, &defeat_path),
    })
}

fn place(replicas: usize, path: &[StageCounts]) -> Faults {
    let lines = |from: usize, n: usize| ((1u64 << n) - 1) << from;
    let mut f = Faults::none(path.len());
    let mut wrong = 0;
    for (s, &(a, b, v)) in path.iter().enumerate() {
        f.elements[s] = lines(0, a) | lines(wrong, b);
        f.voters[s] = lines(0, v);
        wrong = if 2 * (replicas - wrong - b) > replicas { v } else { replicas };
    }
    f
}

/// The search for one circuit: exhaustive where that is cheap, by counts
/// otherwise. Remembered per size: grading asks for the same sizes often.
pub fn simulated_tmr(stages: usize, replicas: usize) -> Result<TmrFacts, String> {
    static KNOWN: Mutex<BTreeMap<(usize, usize), TmrFacts>> = Mutex::new(BTreeMap::new());
    if let Some(known) = KNOWN.lock().unwrap_or_else(|e| e.into_inner()).get(&(stages, replicas)) {
        return Ok(known.clone());
    }
    let facts = if 2 * stages * replicas <= 18 {
        exhaustive_search(stages, replicas)?
    } else {
        counted_search(stages, replicas)?
    };
    debug_assert!(masked(replicas, &facts.max_example) && !masked(replicas, &facts.smallest_defeat));
    KNOWN.lock().unwrap_or_else(|e| e.into_inner()).insert((stages, replicas), facts.clone());
    Ok(facts)
}

/// The student's own circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub stages: usize,
    pub replicas: usize,
}

pub fn variant(seed: u64) -> Variant {
    let mut rng = SeededRng::new(seed, 0x746d7220);
    let stages = 1 + rng.below(5) as usize;
    let replicas = [3, 5, 7][rng.below(3) as usize];
    Variant { stages, replicas }
}

fn cases(seed: u64, scope: Scope) -> Vec<(&'static str, usize, usize)> {
    let v = variant(seed);
    let mut all = Vec::new();
    if scope.runs_public() {
        all.extend([
            (TEXTBOOK_CIRCUIT, 3, 3),
            (FIVE_REPLICAS_PER_STAGE, 3, 5),
            (FIVE_REPLICAS_PER_STAGE, 1, 5),
            (YOUR_OWN_CIRCUIT, v.stages, v.replicas),
        ]);
    }
    if scope.runs_hidden() {
        all.extend(hidden_cases());
    }
    all
}

super::hidden! {
    fn hidden_cases() -> Vec<(&'static str, usize, usize)> {
        let name = ONE_STAGE_OR_ONE_REPLICA;
        vec![(name, 1, 3), (name, 1, 7), (name, 4, 1), (name, 1, 1)]
    }
}

pub fn check(solution: Solution<'_>, run: &Run) -> Report {
    let (seed, scope) = (run.seed, run.scope);
    let mut verdicts = Vec::new();
    for (name, s, r) in cases(seed, scope) {
        let facts = simulated_tmr(s, r).expect("catalogue circuits are valid");
        let case = format!("stages={s} replicas={r}");
        let (ok, message) = match call_guarded(|| (solution.tmr_max_masked)(s, r)) {
            Ok(got) if got == facts.max_masked => {
                (true, format!("tmr_max_masked({s}, {r}) = {got}, as the search finds"))
            }
            Ok(got) if got < facts.max_masked => (
                false,
                format!(
                    "tmr_max_masked({s}, {r}) = {got}, but the circuit survives these {} failures: {}",
                    facts.max_masked,
                    facts.max_example.describe()
                ),
            ),
            Ok(got) => (
                false,
                format!(
                    "tmr_max_masked({s}, {r}) = {got}, but no placement of more than {} failures is masked",
                    facts.max_masked
                ),
            ),
            Err(panic) => (false, format!("tmr_max_masked({s}, {r}) panicked: {panic}")),
        };
        verdicts.push(numeric_verdict(name, ok, message, case.clone(), seed, SPEC.id));
        let (ok, message) = match call_guarded(|| (solution.tmr_always_masked)(s, r)) {
            Ok(got) if got == facts.always_masked => {
                (true, format!("tmr_always_masked({s}, {r}) = {got}, as the search finds"))
            }
            Ok(got) if got > facts.always_masked => (
                false,
                format!(
                    "tmr_always_masked({s}, {r}) = {got}, but these {} failures defeat the circuit: {}",
                    facts.always_masked + 1,
                    facts.smallest_defeat.describe()
                ),
            ),
            Ok(got) => (
                false,
                format!(
                    "tmr_always_masked({s}, {r}) = {got}, but every placement of {} failures is masked",
                    facts.always_masked
                ),
            ),
            Err(panic) => (false, format!("tmr_always_masked({s}, {r}) panicked: {panic}")),
        };
        verdicts.push(numeric_verdict(name, ok, message, case, seed, SPEC.id));
    }
    Report { exercise: SPEC.id.into(), verdicts, diagram: None }
}

/// Serves the student's functions to the grader (see `remote`).
pub fn host(solution: Solution<'_>) {
    crate::remote::serve_calls_stdio(&|name, args| match name {
        "tmr_max_masked" => crate::remote::answer(args, |(s, r)| (solution.tmr_max_masked)(s, r)),
        "tmr_always_masked" => crate::remote::answer(args, |(s, r)| (solution.tmr_always_masked)(s, r)),
        _ => Err(format!("no function {name}")),
    })
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "tmr",
    solution: Solution<'static> = distlab::catalogue::tmr::Solution { tmr_max_masked: &tmr_max_masked, tmr_always_masked: &tmr_always_masked },
    cell: {
        // BEGIN CELL
        fn tmr_max_masked(stages: usize, replicas: usize) -> usize {
            // BEGIN SOLUTION
            // Per stage, a minority of the copies may fail, and the voters on the
            // same lines too: they only feed copies that are wrong anyway.
            let minority = (replicas - 1) / 2;
            2 * minority * stages
            // END SOLUTION
            // BEGIN STARTER
            // let _ = (stages, replicas);
            // 0
            // END STARTER
        }

        fn tmr_always_masked(stages: usize, replicas: usize) -> usize {
            // BEGIN SOLUTION
            // A minority anywhere leaves a right majority on every stage; one more,
            // all on the elements of one stage, outvotes the right copies.
            let _ = stages;
            (replicas - 1) / 2
            // END SOLUTION
            // BEGIN STARTER
            // let _ = (stages, replicas);
            // 0
            // END STARTER
        }
        // END CELL
    }
}
