//! Notebook 9, consistency models: is a history of reads and writes
//! sequentially consistent? It is when one interleaving of all operations,
//! keeping each process's own order, explains every read: each read returns
//! the latest write to its variable before it in that interleaving (or 0,
//! the initial value, if none).
//!
//! The reference searches the interleavings exhaustively, remembering the
//! (progress of every process, memory) states already tried. The
//! syllabus's example is the three-process program where each process sets
//! its own variable to 1 and prints the other two: 001110 is legal, 000000
//! is not (someone prints last, after all three writes).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{numeric_verdict, CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::guard::call_guarded;
use crate::rng::{Draw, SeededRng};

/// One operation of a process on a shared variable; every variable starts
/// at 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    /// `Write(x, v)`: the process stored `v` in `x`.
    Write(char, i64),
    /// `Read(x, v)`: the process read `v` from `x`.
    Read(char, i64),
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Write(x, v) => write!(f, "W({x}){v}"),
            Op::Read(x, v) => write!(f, "R({x}){v}"),
        }
    }
}

/// What each process did, in its own order: `processes[i]` is process
/// P`i+1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct History {
    pub processes: Vec<Vec<Op>>,
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, ops) in self.processes.iter().enumerate() {
            let ops: Vec<String> = ops.iter().map(Op::to_string).collect();
            write!(f, "{}P{}: {}", if i > 0 { "; " } else { "" }, i + 1, ops.join(" "))?;
        }
        Ok(())
    }
}

/// The student's checker.
pub type Solution<'a> = &'a dyn Fn(&History) -> bool;

/// One interleaving that explains every read, as (process index, op), if
/// there is one: the reference verdict with its evidence.
pub fn witness(history: &History) -> Option<Vec<(usize, Op)>> {
    let mut tried = BTreeSet::new();
    let mut at = vec![0; history.processes.len()];
    let mut memory = Vec::new();
    let mut path = Vec::new();
    search(history, &mut at, &mut memory, &mut path, &mut tried).then_some(path)
}

/// (progress of each process, memory) states already searched.
type Tried = BTreeSet<(Vec<usize>, Vec<(char, i64)>)>;

/// Depth-first: extend the interleaving by the next op of some process
/// whose op is possible now. `memory` holds (variable, latest value),
/// sorted, so equal states compare equal.
fn search(
    h: &History,
    at: &mut Vec<usize>,
    memory: &mut Vec<(char, i64)>,
    path: &mut Vec<(usize, Op)>,
    tried: &mut Tried,
) -> bool {
    if at.iter().zip(&h.processes).all(|(&i, ops)| i == ops.len()) {
        return true;
    }
    if !tried.insert((at.clone(), memory.clone())) {
        return false;
    }
    for p in 0..h.processes.len() {
        let Some(&op) = h.processes[p].get(at[p]) else { continue };
        let saved = memory.clone();
        match op {
            Op::Read(x, v) => {
                let now = memory.iter().find(|(y, _)| *y == x).map_or(0, |(_, v)| *v);
                if now != v {
                    continue;
                }
            }
            Op::Write(x, v) => {
                memory.retain(|(y, _)| *y != x);
                memory.push((x, v));
                memory.sort_unstable();
            }
        }
        at[p] += 1;
        path.push((p, op));
        if search(h, at, memory, path, tried) {
            return true;
        }
        path.pop();
        at[p] -= 1;
        *memory = saved;
    }
    false
}

pub(crate) fn reference_verdict(history: &History) -> bool {
    witness(history).is_some()
}

/// The checks, by name.
pub const THE_THREE_PROCESS_PROGRAM: &str = "the three-process program";
pub const THE_TWO_PROCESS_PROGRAM: &str = "the two-process program";
pub const GENERATED_HISTORIES: &str = "generated histories";
pub const LARGER_GENERATED_HISTORIES: &str = "larger generated histories";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "seqcons",
    title: "Is this history sequentially consistent?",
    notebook: 9,
    position: 1,
    points: 10,
    task: "Write `is_sequentially_consistent(history)`. A `History` lists, for each process, the \
           reads and writes it did in its own order (`Op::Write('x', 1)` stored 1 in `x`; \
           `Op::Read('y', 0)` read 0 from `y`; every variable starts at 0). The history is \
           sequentially consistent when the operations of all processes can be put in one \
           sequence that keeps each process's own order and in which every read returns the value \
           of the latest write to that variable before it (0 if there is none).\n\n\
           Your answers are compared with an exhaustive search: on every output of the \
           three-process program from the notebook (each process sets its own variable to 1, then \
           reads the other two), and on histories generated for your seed.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: THE_THREE_PROCESS_PROGRAM, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: THE_TWO_PROCESS_PROGRAM, weight: 1, visibility: Visibility::Public },
        CheckSpec { name: GENERATED_HISTORIES, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: LARGER_GENERATED_HISTORIES, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| {
        let remote = crate::remote::remote_fn::<History, bool>(&connection, "is_sequentially_consistent");
        check(&|h: &History| remote(h.clone()), run)
    },
    variant: |seed| super::variant_json(variant(seed)),
};

/// The three-process program with outputs `bits` (P1 prints y z, P2 prints
/// x z, P3 prints x y, in that order).
pub fn three_process(bits: [i64; 6]) -> History {
    let [a, b, c, d, e, f] = bits;
    History {
        processes: vec![
            vec![Op::Write('x', 1), Op::Read('y', a), Op::Read('z', b)],
            vec![Op::Write('y', 1), Op::Read('x', c), Op::Read('z', d)],
            vec![Op::Write('z', 1), Op::Read('x', e), Op::Read('y', f)],
        ],
    }
}

/// All 64 outputs of the three-process program.
pub fn three_process_outputs() -> Vec<History> {
    (0..64u32).map(|k| three_process(std::array::from_fn(|i| ((k >> (5 - i)) & 1) as i64))).collect()
}

/// The two-process program: each sets its own flag, then tests the
/// other's; four outcomes, of which "both saw 0" is impossible.
pub fn two_process_outputs() -> Vec<History> {
    (0..4)
        .map(|k| History {
            processes: vec![
                vec![Op::Write('a', 1), Op::Read('b', k >> 1)],
                vec![Op::Write('b', 1), Op::Read('a', k & 1)],
            ],
        })
        .collect()
}

/// How a student's generated histories look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub processes: usize,
    pub max_ops: usize,
    pub variables: usize,
    pub histories: usize,
}

pub fn variant(seed: u64) -> Shape {
    let mut rng = SeededRng::new(seed, 0x5e9c_0de5);
    Shape { processes: 2 + rng.below(2) as usize, max_ops: 3, variables: 2 + rng.below(2) as usize, histories: 60 }
}

/// Histories drawn from `seed`, half consistent and half not (as far as
/// a few tries allow): a random program run in a random interleaving gives
/// a consistent history; changing one read to another value some write
/// produced (or 0) mostly gives one that is not. Writes store 1 or
/// distinct values.
pub fn generate(seed: u64, shape: Shape) -> Vec<History> {
    let mut rng = SeededRng::new(seed, 0x6869_7374);
    (0..shape.histories)
        .map(|k| {
            let want = k % 2 == 0;
            let mut h = one_history(&mut rng, shape, !want);
            for _ in 0..50 {
                if reference_verdict(&h) == want {
                    break;
                }
                h = one_history(&mut rng, shape, !want);
            }
            h
        })
        .collect()
}

fn one_history(rng: &mut SeededRng, shape: Shape, tampered: bool) -> History {
    let vars: Vec<char> = "xyzw".chars().take(shape.variables.clamp(1, 4)).collect();
    let distinct = rng.below(2) == 0;
    let mut next_value = 0;
    let mut processes: Vec<Vec<Op>> = (0..shape.processes)
        .map(|_| {
            (0..1 + rng.below(shape.max_ops as u64))
                .map(|_| {
                    let x = vars[rng.below(vars.len() as u64) as usize];
                    if rng.below(2) == 0 {
                        next_value += 1;
                        Op::Write(x, if distinct { next_value } else { 1 })
                    } else {
                        Op::Read(x, 0)
                    }
                })
                .collect()
        })
        .collect();
    // Run it in a random interleaving to fill in what each read saw.
    let mut at = vec![0; processes.len()];
    let mut memory: Vec<(char, i64)> = Vec::new();
    loop {
        let ready: Vec<usize> = (0..processes.len()).filter(|&p| at[p] < processes[p].len()).collect();
        if ready.is_empty() {
            break;
        }
        let p = ready[rng.below(ready.len() as u64) as usize];
        match &mut processes[p][at[p]] {
            Op::Write(x, v) => {
                memory.retain(|(y, _)| y != x);
                memory.push((*x, *v));
            }
            Op::Read(x, v) => *v = memory.iter().find(|(y, _)| y == x).map_or(0, |(_, v)| *v),
        }
        at[p] += 1;
    }
    if tampered {
        tamper(&mut processes, rng);
    }
    History { processes }
}

/// Changes one read to another value its variable could hold.
fn tamper(processes: &mut [Vec<Op>], rng: &mut SeededRng) {
    let reads: Vec<(usize, usize)> = processes
        .iter()
        .enumerate()
        .flat_map(|(p, ops)| {
            ops.iter().enumerate().filter(|(_, op)| matches!(op, Op::Read(..))).map(move |(i, _)| (p, i))
        })
        .collect();
    if reads.is_empty() {
        return;
    }
    let (p, i) = reads[rng.below(reads.len() as u64) as usize];
    let Op::Read(x, seen) = processes[p][i] else { return };
    let mut values: Vec<i64> = processes
        .iter()
        .flatten()
        .filter_map(|op| match op {
            Op::Write(y, v) if *y == x && *v != seen => Some(*v),
            _ => None,
        })
        .collect();
    if seen != 0 {
        values.push(0);
    }
    values.sort_unstable();
    values.dedup();
    if !values.is_empty() {
        processes[p][i] = Op::Read(x, values[rng.below(values.len() as u64) as usize]);
    }
}

fn judge(solution: Solution<'_>, cases: &[History]) -> Result<String, (String, String)> {
    for h in cases {
        let said = call_guarded(|| solution(h))
            .map_err(|panic| (format!("your function panicked on {h}: {panic}"), h.to_string()))?;
        match (said, witness(h)) {
            (true, None) => {
                return Err((
                    format!(
                        "you call {h} sequentially consistent, but no single order of all operations that keeps \
                         each process's own order lets every read see the latest write"
                    ),
                    h.to_string(),
                ))
            }
            (false, Some(order)) => {
                let order: Vec<String> = order.iter().map(|(p, op)| format!("P{}:{op}", p + 1)).collect();
                return Err((
                    format!(
                        "you call {h} not sequentially consistent, but this order keeps every process's own \
                         order and explains every read: {}",
                        order.join(" ")
                    ),
                    h.to_string(),
                ));
            }
            _ => {}
        }
    }
    let legal = cases.iter().filter(|h| reference_verdict(h)).count();
    Ok(format!("right on all {} histories ({legal} consistent, {} not)", cases.len(), cases.len() - legal))
}

pub fn check(solution: Solution<'_>, run: &Run) -> Report {
    let seed = run.seed;
    let shape = variant(seed);
    let mut cases = Vec::new();
    if run.scope.runs_public() {
        cases.extend([
            (THE_THREE_PROCESS_PROGRAM, "all 64 outputs".to_owned(), three_process_outputs()),
            (THE_TWO_PROCESS_PROGRAM, "all 4 outcomes".to_owned(), two_process_outputs()),
            (GENERATED_HISTORIES, format!("{shape:?}"), generate(seed, shape)),
        ]);
    }
    if run.scope.runs_hidden() {
        cases.extend(hidden_cases(seed));
    }
    let verdicts = cases
        .into_iter()
        .map(|(name, about, histories)| match judge(solution, &histories) {
            Ok(msg) => numeric_verdict(name, true, msg, about, seed, SPEC.id),
            Err((msg, case)) => numeric_verdict(name, false, msg, case, seed, SPEC.id),
        })
        .collect();
    Report { exercise: SPEC.id.into(), verdicts, diagram: None }
}

/// Serves the student's checker to the grader (see `remote`).
pub fn host(solution: Solution<'_>) {
    crate::remote::serve_calls_stdio(&dispatch(solution))
}

/// The host's answer to one call.
pub fn dispatch(solution: Solution<'_>) -> impl Fn(&str, serde_json::Value) -> crate::remote::Answer + '_ {
    move |name, args| match name {
        "is_sequentially_consistent" => crate::remote::answer(args, |h: History| solution(&h)),
        _ => Err(format!("no function {name}")),
    }
}

super::hidden! {
    fn hidden_cases(seed: u64) -> Vec<(&'static str, String, Vec<History>)> {
        let shape = Shape { processes: 4, max_ops: 3, variables: 2, histories: 40 };
        vec![(LARGER_GENERATED_HISTORIES, format!("{shape:?}"), generate(seed ^ 0x4849_4444, shape))]
    }
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "seqcons",
    solution: Solution<'static> = &is_sequentially_consistent,
    cell: {
        // BEGIN CELL
        use std::collections::{BTreeMap, BTreeSet};

        use distlab::catalogue::seqcons::{History, Op};

        fn is_sequentially_consistent(history: &History) -> bool {
            // BEGIN SOLUTION
            let mut next = vec![0; history.processes.len()];
            explains(history, &mut next, &mut BTreeMap::new(), &mut BTreeSet::new())
            // END SOLUTION
            // BEGIN STARTER
            // let _ = (history, Op::Read('x', 0));
            // true
            // END STARTER
        }

        // BEGIN SOLUTION
        /// (next operation of every process, memory): a state of the search.
        type State = (Vec<usize>, BTreeMap<char, i64>);

        /// Can the remaining operations (process p from `next[p]` on) be interleaved so that
        /// every read sees the latest write, starting from `memory`?
        fn explains(
            h: &History,
            next: &mut Vec<usize>,
            memory: &mut BTreeMap<char, i64>,
            dead_ends: &mut BTreeSet<State>,
        ) -> bool {
            if next.iter().zip(&h.processes).all(|(&k, ops)| k == ops.len()) {
                return true;
            }
            if dead_ends.contains(&(next.clone(), memory.clone())) {
                return false;
            }
            for p in 0..h.processes.len() {
                let Some(&op) = h.processes[p].get(next[p]) else { continue };
                let mut undo = None;
                match op {
                    Op::Read(x, v) => {
                        if memory.get(&x).copied().unwrap_or(0) != v {
                            continue; // this read cannot come next
                        }
                    }
                    Op::Write(x, v) => undo = Some((x, memory.insert(x, v))),
                }
                next[p] += 1;
                let found = explains(h, next, memory, dead_ends);
                next[p] -= 1;
                match undo {
                    Some((x, Some(old))) => {
                        memory.insert(x, old);
                    }
                    Some((x, None)) => {
                        memory.remove(&x);
                    }
                    None => {}
                }
                if found {
                    return true;
                }
            }
            dead_ends.insert((next.clone(), memory.clone()));
            false
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER
        // END CELL
    }
}
