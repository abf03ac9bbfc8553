//! Notebook 10, quorums: which (read quorum, write quorum) pairs does the
//! voting algorithm allow for N replicas?
//!
//! The reference searches every quorum exhaustively for two that miss each
//! other: two write quorums (concurrent writes both succeed) or a read and
//! a write quorum (a read misses the latest write). Note for the notebook:
//! the textbook lists all ten pairs (1,10) .. (10,1) for N = 10 as legal;
//! only (1,10) to (5,6) are. For (6,5) the search shows two disjoint write
//! quorums.

use serde::{Deserialize, Serialize};

use super::{numeric_verdict, CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::guard::call_guarded;
use crate::rng::{Draw, SeededRng};

/// The student's answer: may `n` replicas use read quorum `nr` and write
/// quorum `nw`?
pub type Solution<'a> = &'a dyn Fn(usize, usize, usize) -> bool;

/// The checks, by name.
pub const TEN_PAIRS_FOR_N_10: &str = "the ten pairs for N = 10";
pub const EVERY_PAIR_FOR_YOUR_N: &str = "every pair for your N";
pub const EVERY_PAIR_FOR_SMALL_N: &str = "every pair for small N";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "quorums",
    title: "Legal read and write quorums",
    notebook: 10,
    position: 1,
    points: 10,
    task: "Write `legal_quorums(n, nr, nw)`: may a file replicated on `n` servers use read quorum \
           `nr` and write quorum `nw` under the voting algorithm? A pair is legal when every read \
           quorum meets every write quorum and any two write quorums meet. Your answers are \
           compared with an exhaustive search for two quorums that miss each other.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: TEN_PAIRS_FOR_N_10, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: EVERY_PAIR_FOR_YOUR_N, weight: 4, visibility: Visibility::Public },
        CheckSpec { name: EVERY_PAIR_FOR_SMALL_N, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| {
        let legal = crate::remote::remote_fn::<(usize, usize, usize), bool>(&connection, "legal_quorums");
        check(&|n, nr, nw| legal((n, nr, nw)), run)
    },
    variant: |seed| super::variant_json(variant(seed)),
};

/// Why a pair is illegal: two quorums that share no replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Conflict {
    TwoWrites {
        first: Vec<usize>,
        second: Vec<usize>,
    },
    ReadMissesWrite {
        read: Vec<usize>,
        write: Vec<usize>,
    },
    /// A quorum larger than the number of replicas, or empty.
    Impossible,
}

/// Searches every quorum of size `a` for one whose complement holds a whole
/// quorum of size `b`: a pair that doesn't intersect.
fn disjoint_pair(n: usize, a: usize, b: usize) -> Option<(Vec<usize>, Vec<usize>)> {
    let full: u32 = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
    let mut set: u32 = (1u32 << a) - 1; // the first a-subset, then Gosper's hack
    while set <= full {
        let rest = full & !set;
        if rest.count_ones() as usize >= b {
            let second: Vec<usize> = members(rest).into_iter().take(b).collect();
            return Some((members(set), second));
        }
        let c = set & set.wrapping_neg();
        let r = set + c;
        if r == 0 || c == 0 {
            break;
        }
        set = (((r ^ set) >> 2) / c) | r;
    }
    None
}

fn members(set: u32) -> Vec<usize> {
    (0..32).filter(|i| set & (1 << i) != 0).collect()
}

/// The exhaustive verdict on a pair: `None` when it is legal.
pub fn simulated_conflict(n: usize, nr: usize, nw: usize) -> Option<Conflict> {
    assert!(n <= 20, "exhaustive search is for small n");
    if nr == 0 || nw == 0 || nr > n || nw > n {
        return Some(Conflict::Impossible);
    }
    if let Some((first, second)) = disjoint_pair(n, nw, nw) {
        return Some(Conflict::TwoWrites { first, second });
    }
    disjoint_pair(n, nr, nw).map(|(read, write)| Conflict::ReadMissesWrite { read, write })
}

/// The N a student gets besides the textbook's 10.
pub fn variant(seed: u64) -> usize {
    5 + SeededRng::new(seed, 0x71756f72).below(9) as usize
}

fn judge(solution: Solution<'_>, n: usize, pairs: &[(usize, usize)]) -> Result<String, (String, String)> {
    for &(nr, nw) in pairs {
        let truth = simulated_conflict(n, nr, nw);
        let case = format!("N={n} (NR, NW)=({nr}, {nw})");
        let said = call_guarded(|| solution(n, nr, nw))
            .map_err(|panic| (format!("your function panicked for N={n}, NR={nr}, NW={nw}: {panic}"), case.clone()))?;
        match (said, truth) {
            (true, Some(conflict)) => {
                let why = match conflict {
                    Conflict::TwoWrites { first, second } => format!(
                        "write quorums {first:?} and {second:?} share no replica, so two writes can both succeed"
                    ),
                    Conflict::ReadMissesWrite { read, write } => {
                        format!("read quorum {read:?} misses write quorum {write:?}, so a read can return stale data")
                    }
                    Conflict::Impossible => "a quorum must have between 1 and N members".into(),
                };
                return Err((format!("you call ({nr}, {nw}) legal for N={n}, but {why}"), case));
            }
            (false, None) => {
                return Err((format!("you call ({nr}, {nw}) illegal for N={n}, but every pair of write quorums and every read/write pair share a replica"), case));
            }
            _ => {}
        }
    }
    Ok(format!("right for all {} pairs with N={n}", pairs.len()))
}

fn all_pairs(n: usize) -> Vec<(usize, usize)> {
    (1..=n).flat_map(|nr| (1..=n).map(move |nw| (nr, nw))).collect()
}

pub fn check(solution: Solution<'_>, run: &Run) -> Report {
    let (seed, scope) = (run.seed, run.scope);
    let ten: Vec<(usize, usize)> = (1..=10).map(|nr| (nr, 11 - nr)).collect();
    let mut cases = Vec::new();
    if scope.runs_public() {
        cases.extend([(TEN_PAIRS_FOR_N_10, 10, ten), (EVERY_PAIR_FOR_YOUR_N, variant(seed), all_pairs(variant(seed)))]);
    }
    if scope.runs_hidden() {
        cases.extend(hidden_cases());
    }
    let verdicts = cases
        .into_iter()
        .map(|(name, n, pairs)| match judge(solution, n, &pairs) {
            Ok(msg) => numeric_verdict(name, true, msg, format!("N={n}"), seed, SPEC.id),
            Err((msg, case)) => numeric_verdict(name, false, msg, case, seed, SPEC.id),
        })
        .collect();
    Report { exercise: SPEC.id.into(), verdicts, diagram: None }
}

/// Serves the student's function to the grader (see `remote`).
pub fn host(solution: Solution<'_>) {
    crate::remote::serve_calls_stdio(&|name, args| match name {
        "legal_quorums" => crate::remote::answer(args, |(n, nr, nw)| solution(n, nr, nw)),
        _ => Err(format!("no function {name}")),
    })
}

/// A named case: the check, N, and the pairs to ask about.
type Case = (&'static str, usize, Vec<(usize, usize)>);

super::hidden! {
    fn hidden_cases() -> Vec<Case> {
        (1..=4).map(|n| (EVERY_PAIR_FOR_SMALL_N, n, all_pairs(n))).collect()
    }
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "quorums",
    solution: Solution<'static> = &legal_quorums,
    cell: {
        // BEGIN CELL
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
        // END CELL
    }
}
