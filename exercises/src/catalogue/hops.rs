//! Notebook 2, interconnects: the worst-case number of hops between two CPUs
//! on a grid, a torus (a grid with wrap-around links) and a hypercube.
//!
//! The reference builds each topology as a graph and measures its diameter
//! by breadth-first search. Note for the notebook: the textbook's answer for
//! a 16x16 torus is 15 hops; BFS says 16 (8 hops each way in a ring of 16).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{numeric_verdict, CheckSpec, ExerciseSpec, Report, Run, Scope, Visibility};
use crate::guard::call_guarded;
use crate::rng::{Draw, SeededRng};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Topology {
    /// A k x k grid; each CPU links to its up to four neighbours.
    Grid,
    /// A k x k grid whose rows and columns wrap around.
    Torus,
    /// 2^d CPUs; two are linked when their numbers differ in one bit.
    Hypercube,
}

/// The student's answer: worst-case hops for `n` CPUs on `topology`.
pub type Solution<'a> = &'a dyn Fn(Topology, usize) -> usize;

/// The checks, by name.
pub const GRID_MATCHES_BFS: &str = "grid matches BFS";
pub const TORUS_MATCHES_BFS: &str = "torus matches BFS";
pub const HYPERCUBE_MATCHES_BFS: &str = "hypercube matches BFS";
pub const LARGE_SYSTEMS_MATCH_BFS: &str = "large systems match BFS";

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "hops",
    title: "Worst-case hops on grids, tori and hypercubes",
    notebook: 2,
    position: 1,
    points: 10,
    task: "Write `worst_case_hops(topology, n)`: the largest number of hops a message needs between \
           two of `n` CPUs with optimal routing. `n` is a perfect square for `Grid` and `Torus` \
           (a k x k layout) and a power of two for `Hypercube`. Your answer is compared with a \
           breadth-first search over the simulated topology, for the textbook's 256 CPUs and for \
           sizes drawn for you.",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: GRID_MATCHES_BFS, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: TORUS_MATCHES_BFS, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: HYPERCUBE_MATCHES_BFS, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: LARGE_SYSTEMS_MATCH_BFS, weight: 2, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| {
        let hops = crate::remote::remote_fn::<(Topology, usize), usize>(&connection, "worst_case_hops");
        check(&|topology, n| hops((topology, n)), run)
    },
    variant: |seed| super::variant_json(variant(seed)),
};

/// The links of `n` CPUs arranged as `topology`, as adjacency lists.
pub fn links(topology: Topology, n: usize) -> Result<Vec<Vec<usize>>, String> {
    match topology {
        Topology::Grid | Topology::Torus => {
            let k = (n as f64).sqrt().round() as usize;
            if k * k != n || k == 0 {
                return Err(format!("{n} CPUs can't form a square grid"));
            }
            let wrap = topology == Topology::Torus;
            let at = |r: usize, c: usize| r * k + c;
            Ok((0..n)
                .map(|i| {
                    let (r, c) = (i / k, i % k);
                    let mut out = Vec::with_capacity(4);
                    let mut link = |j: usize| {
                        if j != i && !out.contains(&j) {
                            out.push(j)
                        }
                    };
                    if r > 0 {
                        link(at(r - 1, c))
                    } else if wrap {
                        link(at(k - 1, c))
                    }
                    if r + 1 < k {
                        link(at(r + 1, c))
                    } else if wrap {
                        link(at(0, c))
                    }
                    if c > 0 {
                        link(at(r, c - 1))
                    } else if wrap {
                        link(at(r, k - 1))
                    }
                    if c + 1 < k {
                        link(at(r, c + 1))
                    } else if wrap {
                        link(at(r, 0))
                    }
                    out
                })
                .collect())
        }
        Topology::Hypercube => {
            if !n.is_power_of_two() {
                return Err(format!("{n} CPUs can't form a hypercube (not a power of two)"));
            }
            let d = n.trailing_zeros();
            Ok((0..n).map(|i| (0..d).map(|b| i ^ (1 << b)).collect()).collect())
        }
    }
}

/// The diameter by breadth-first search from every CPU. Remembered per
/// size: grading asks for the same sizes again and again.
pub fn simulated_worst_case(topology: Topology, n: usize) -> Result<usize, String> {
    static KNOWN: Mutex<BTreeMap<(Topology, usize), usize>> = Mutex::new(BTreeMap::new());
    if let Some(&known) = KNOWN.lock().unwrap_or_else(|e| e.into_inner()).get(&(topology, n)) {
        return Ok(known);
    }
    let worst = breadth_first_diameter(&links(topology, n)?);
    KNOWN.lock().unwrap_or_else(|e| e.into_inner()).insert((topology, n), worst);
    Ok(worst)
}

fn breadth_first_diameter(graph: &[Vec<usize>]) -> usize {
    let n = graph.len();
    let mut worst = 0;
    let mut dist = vec![usize::MAX; n];
    let mut queue = VecDeque::new();
    for source in 0..n {
        dist.iter_mut().for_each(|d| *d = usize::MAX);
        dist[source] = 0;
        queue.push_back(source);
        while let Some(u) = queue.pop_front() {
            for &v in &graph[u] {
                if dist[v] == usize::MAX {
                    dist[v] = dist[u] + 1;
                    worst = worst.max(dist[v]);
                    queue.push_back(v);
                }
            }
        }
    }
    worst
}

/// The sizes a student is graded on, besides the textbook's 256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub grid_sides: Vec<usize>,
    pub hypercube_dimensions: Vec<u32>,
}

pub fn variant(seed: u64) -> Variant {
    let mut rng = SeededRng::new(seed, 0x686f7073);
    let mut grid_sides: Vec<usize> = (0..4).map(|_| 2 + rng.below(19) as usize).collect();
    grid_sides.push(1 + 2 * (1 + rng.below(8) as usize)); // always one odd side
    let hypercube_dimensions = (0..3).map(|_| 1 + rng.below(10) as u32).collect();
    Variant { grid_sides, hypercube_dimensions }
}

/// Cases per check: (check name, topology, CPU counts).
fn cases(seed: u64, scope: Scope) -> Vec<(&'static str, Topology, Vec<usize>)> {
    let v = variant(seed);
    let squares: Vec<usize> = std::iter::once(256).chain(v.grid_sides.iter().map(|k| k * k)).collect();
    let cubes: Vec<usize> = std::iter::once(256).chain(v.hypercube_dimensions.iter().map(|d| 1 << d)).collect();
    let mut all = Vec::new();
    if scope.runs_public() {
        all.extend([
            (GRID_MATCHES_BFS, Topology::Grid, squares.clone()),
            (TORUS_MATCHES_BFS, Topology::Torus, squares),
            (HYPERCUBE_MATCHES_BFS, Topology::Hypercube, cubes),
        ]);
    }
    if scope.runs_hidden() {
        all.extend(hidden_cases(seed));
    }
    all
}

super::hidden! {
    fn hidden_cases(seed: u64) -> Vec<(&'static str, Topology, Vec<usize>)> {
        let mut rng = SeededRng::new(seed, 0x68696464);
        let side = 23 + rng.below(10) as usize;
        vec![
            (LARGE_SYSTEMS_MATCH_BFS, Topology::Grid, vec![side * side, 1]),
            (LARGE_SYSTEMS_MATCH_BFS, Topology::Torus, vec![side * side, 1, 4]),
            (LARGE_SYSTEMS_MATCH_BFS, Topology::Hypercube, vec![1024, 1, 2]),
        ]
    }
}

pub fn check(solution: Solution<'_>, run: &Run) -> Report {
    let (seed, scope) = (run.seed, run.scope);
    let mut verdicts = Vec::new();
    for (name, topology, sizes) in cases(seed, scope) {
        let mut failure = None;
        for &n in &sizes {
            let expected = simulated_worst_case(topology, n).expect("catalogue sizes are valid");
            match call_guarded(|| solution(topology, n)) {
                Ok(got) if got == expected => {}
                Ok(got) => {
                    failure = Some((
                        n,
                        format!(
                            "for {topology:?} with {n} CPUs you said {got} hops; BFS over the links finds {expected}"
                        ),
                    ));
                    break;
                }
                Err(panic) => {
                    failure = Some((n, format!("for {topology:?} with {n} CPUs your function panicked: {panic}")));
                    break;
                }
            }
        }
        let (ok, message, case) = match failure {
            None => (true, format!("{topology:?}: right for {} sizes", sizes.len()), format!("{topology:?} {sizes:?}")),
            Some((n, why)) => (false, why, format!("{topology:?} n={n}")),
        };
        verdicts.push(numeric_verdict(name, ok, message, case, seed, SPEC.id));
    }
    Report { exercise: SPEC.id.into(), verdicts, diagram: None }
}

/// Serves the student's function to the grader (see `remote`).
pub fn host(solution: Solution<'_>) {
    crate::remote::serve_calls_stdio(&|name, args| match name {
        "worst_case_hops" => crate::remote::answer(args, |(topology, n)| solution(topology, n)),
        _ => Err(format!("no function {name}")),
    })
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "hops",
    solution: Solution<'static> = &worst_case_hops,
    cell: {
        // BEGIN CELL
        use distlab::catalogue::hops::Topology;

        fn worst_case_hops(topology: Topology, n: usize) -> usize {
            // BEGIN SOLUTION
            let side = (n as f64).sqrt().round() as usize; // k for a k x k layout
            match topology {
                // Corner to opposite corner: k-1 steps along each axis.
                Topology::Grid => 2 * (side - 1),
                // On a ring of k the farthest CPU is floor(k/2) away; once per axis.
                Topology::Torus => 2 * (side / 2),
                // Every hop fixes one address bit; at worst all d bits differ.
                Topology::Hypercube => n.trailing_zeros() as usize,
            }
            // END SOLUTION
            // BEGIN STARTER
            // // n CPUs; k x k for Grid and Torus, 2^d for Hypercube.
            // let _ = (topology, n);
            // 0
            // END STARTER
        }
        // END CELL
    }
}
