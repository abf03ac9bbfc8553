//! Notebook 5, logical clocks: how two events relate, read from their
//! vector timestamps alone (before, after, the same event, or concurrent).
//!
//! The truth comes from the run, not from vectors: each case is a random
//! run of message passing whose events are joined by program order and by
//! send -> receive, and "a before b" means b is reachable from a in that
//! graph. The student's answer from the two vectors must match it for every
//! pair of events.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{numeric_verdict, CheckSpec, ExerciseSpec, Report, Run, Scope, Visibility};
use crate::guard::call_guarded;
use crate::rng::{Draw, SeededRng};

/// How event a relates to event b.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Causal {
    /// a happened before b.
    Before,
    /// b happened before a.
    After,
    /// a and b are the same event.
    Same,
    /// Neither happened before the other.
    Concurrent,
}

/// The student's answer: how the events stamped `a` and `b` relate.
pub type Solution<'a> = &'a dyn Fn(&[u64], &[u64]) -> Causal;

/// The checks, by name.
pub const THREE_PROCESSES: &str = "runs of three processes";
pub const YOUR_RUNS: &str = "your own runs";
pub const LARGER_RUNS: &str = "larger runs";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "causality",
    title: "Before, after or concurrent, from vector timestamps",
    notebook: 5,
    position: 4,
    points: 5,
    task: "Write `compare_stamps(a, b)`: how the event stamped with vector timestamp `a` relates to \
           the one stamped `b` (same length, one entry per process): `Causal::Before`, `After`, \
           `Same` or `Concurrent`. The checks take the stamps of every pair of events in random \
           runs and compare your answer with the run itself: a happened before b when a chain of \
           program order and messages leads from a to b.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: THREE_PROCESSES, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: YOUR_RUNS, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: LARGER_RUNS, weight: 1, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| {
        let compare = crate::remote::remote_fn::<(Vec<u64>, Vec<u64>), Causal>(&connection, "compare_stamps");
        check(&|a, b| compare((a.to_vec(), b.to_vec())), run)
    },
    variant: super::no_variant,
};

/// A run's events: each with its vector timestamp and the events it
/// directly follows (the previous one on its process, and for a receive,
/// the send).
#[derive(Clone, Debug, Default)]
pub struct History {
    pub stamps: Vec<Vec<u64>>,
    pub follows: Vec<Vec<usize>>,
}

impl History {
    /// A random run of `processes` processes with `events` events: local
    /// steps, sends, and receives of messages in flight, in random order.
    pub fn random(processes: usize, events: usize, rng: &mut impl Draw) -> History {
        let mut history = History::default();
        let mut clocks = vec![vec![0u64; processes]; processes];
        let mut last: Vec<Option<usize>> = vec![None; processes];
        // Messages in flight: (to, send event, stamp).
        let mut in_flight: Vec<(usize, usize, Vec<u64>)> = Vec::new();
        for _ in 0..events {
            let p = rng.below(processes as u64) as usize;
            let receivable: Vec<usize> = (0..in_flight.len()).filter(|&i| in_flight[i].0 == p).collect();
            let mut follows: Vec<usize> = last[p].into_iter().collect();
            let roll = rng.below(3);
            if roll == 0 && !receivable.is_empty() {
                let (_, send, stamp) = in_flight.remove(receivable[rng.below(receivable.len() as u64) as usize]);
                for (mine, theirs) in clocks[p].iter_mut().zip(&stamp) {
                    *mine = (*mine).max(*theirs);
                }
                follows.push(send);
            }
            clocks[p][p] += 1;
            let id = history.stamps.len();
            history.stamps.push(clocks[p].clone());
            history.follows.push(follows);
            last[p] = Some(id);
            if roll == 1 && processes > 1 {
                let to = (p + 1 + rng.below(processes as u64 - 1) as usize) % processes;
                in_flight.push((to, id, clocks[p].clone()));
            }
        }
        history
    }

    /// How event a relates to event b in the run: by reachability.
    pub fn relation(&self, a: usize, b: usize) -> Causal {
        if a == b {
            Causal::Same
        } else if self.reaches(a, b) {
            Causal::Before
        } else if self.reaches(b, a) {
            Causal::After
        } else {
            Causal::Concurrent
        }
    }

    fn reaches(&self, from: usize, to: usize) -> bool {
        // Events only follow earlier ones: search backwards from `to`.
        let mut seen = BTreeSet::new();
        let mut stack = vec![to];
        while let Some(e) = stack.pop() {
            for &before in &self.follows[e] {
                if before == from {
                    return true;
                }
                if before > from && seen.insert(before) {
                    stack.push(before);
                }
            }
        }
        false
    }
}

/// Cases per check: (check name, processes, events, run seeds).
fn cases(seed: u64, scope: Scope) -> Vec<(&'static str, usize, usize, Vec<u64>)> {
    let mut all = Vec::new();
    if scope.runs_public() {
        all.push((THREE_PROCESSES, 3, 12, vec![1, 2, 3]));
        let mut rng = SeededRng::new(seed, 0x6361_7573);
        let own = (0..4).map(|_| rng.next_u64()).collect();
        all.push((YOUR_RUNS, 4 + rng.below(3) as usize, 20, own));
    }
    if scope.runs_hidden() {
        all.extend(hidden_cases(seed));
    }
    all
}

super::hidden! {
    fn hidden_cases(seed: u64) -> Vec<(&'static str, usize, usize, Vec<u64>)> {
        let mut rng = SeededRng::new(seed, 0x6869_6464);
        vec![(LARGER_RUNS, 8, 60, (0..3).map(|_| rng.next_u64()).collect()), (LARGER_RUNS, 1, 5, vec![7])]
    }
}

/// The first pair of events the solution gets wrong in a run, as a message.
fn first_mistake(solution: Solution<'_>, history: &History) -> Option<String> {
    let n = history.stamps.len();
    for a in 0..n {
        for b in 0..n {
            let (sa, sb) = (&history.stamps[a], &history.stamps[b]);
            let truth = history.relation(a, b);
            match call_guarded(|| solution(sa, sb)) {
                Ok(got) if got == truth => {}
                Ok(got) => {
                    return Some(format!(
                        "for a = {sa:?} and b = {sb:?} you said {got:?}; in the run it is {truth:?}{}",
                        explain(truth)
                    ))
                }
                Err(panic) => return Some(format!("for a = {sa:?} and b = {sb:?} your function panicked: {panic}")),
            }
        }
    }
    None
}

fn explain(truth: Causal) -> &'static str {
    match truth {
        Causal::Before => " (a chain of program order and messages leads from a to b)",
        Causal::After => " (a chain of program order and messages leads from b to a)",
        Causal::Same => " (both are one event)",
        Causal::Concurrent => " (no chain of program order and messages joins them either way)",
    }
}

pub fn check(solution: Solution<'_>, run: &Run) -> Report {
    let (seed, scope) = (run.seed, run.scope);
    let mut verdicts = Vec::new();
    for (name, processes, events, run_seeds) in cases(seed, scope) {
        let mut failure = None;
        for &run_seed in &run_seeds {
            let history = History::random(processes, events, &mut SeededRng::new(run_seed, 0x7275_6e73));
            if let Some(why) = first_mistake(solution, &history) {
                failure = Some((run_seed, why));
                break;
            }
        }
        let what = format!("{processes} processes, {events} events");
        let (ok, message, case) = match failure {
            None => (true, format!("right for every pair of events in {} runs", run_seeds.len()), what),
            Some((run_seed, why)) => (false, why, format!("{what}, run {run_seed}")),
        };
        verdicts.push(numeric_verdict(name, ok, message, case, seed, SPEC.id));
    }
    Report { exercise: SPEC.id.into(), verdicts, diagram: None }
}

/// Serves the student's function to the grader (see `remote`).
pub fn host(solution: Solution<'_>) {
    crate::remote::serve_calls_stdio(&|name, args| match name {
        "compare_stamps" => crate::remote::answer(args, |(a, b): (Vec<u64>, Vec<u64>)| solution(&a, &b)),
        _ => Err(format!("no function {name}")),
    })
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "causality",
    solution: Solution<'static> = &compare_stamps,
    cell: {
        // BEGIN CELL
        use distlab::catalogue::causality::Causal;

        fn compare_stamps(a: &[u64], b: &[u64]) -> Causal {
            // BEGIN SOLUTION
            // a is before b when no entry of a is larger and some entry is smaller.
            let a_le_b = a.iter().zip(b).all(|(x, y)| x <= y);
            let b_le_a = a.iter().zip(b).all(|(x, y)| y <= x);
            match (a_le_b, b_le_a) {
                (true, true) => Causal::Same,
                (true, false) => Causal::Before,
                (false, true) => Causal::After,
                (false, false) => Causal::Concurrent,
            }
            // END SOLUTION
            // BEGIN STARTER
            // // One entry per process; compare them entry by entry.
            // let _ = (a, b);
            // Causal::Concurrent
            // END STARTER
        }
        // END CELL
    }
}
