//! The numeric exercises: the references reproduce the textbook where it is
//! right and disagree where it is wrong; correct solutions that differ from
//! the reference pass; typical mistakes fail with a plain-words message.
use std::collections::BTreeSet;

use distlab::catalogue::{self, hops, quorums, replicas, Run, Scope};
use distlab::Status;

mod common;
use common::{assert_all_pass, failed};

#[test]
fn the_registry_is_consistent() {
    let ids: BTreeSet<&str> = catalogue::registry().iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), catalogue::registry().len(), "ids are unique");
    let notebooks: Vec<u32> = catalogue::registry().iter().map(|e| e.notebook).collect();
    assert!(notebooks.windows(2).all(|w| w[0] <= w[1]), "the registry is in teaching order: {notebooks:?}");
    for e in catalogue::registry() {
        let names: BTreeSet<&str> = e.checks.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), e.checks.len(), "{}: check names are unique", e.id);
        assert!(e.checks.iter().any(|c| c.visibility == catalogue::Visibility::Public), "{}", e.id);
        // The items the solution expression names are defined by the scaffold.
        let inner = e.solution.rsplit(['(', '{']).next().unwrap();
        for field in inner.split(',') {
            // `item`, `&item`, or `field: &item`
            let item = field
                .rsplit(':')
                .next()
                .unwrap()
                .trim_matches(|c: char| c == ')' || c == '}' || c == '&' || c.is_whitespace());
            assert!(e.scaffold.contains(&format!("fn {item}(")), "{}: scaffold lacks fn {item}", e.id);
        }
        assert_eq!(catalogue::exercise(e.id).unwrap().id, e.id);
    }
}

#[test]
fn hops_reproduce_the_textbook_and_correct_it_for_the_torus() {
    assert_eq!(hops::simulated_worst_case(hops::Topology::Grid, 256), Ok(30));
    assert_eq!(hops::simulated_worst_case(hops::Topology::Hypercube, 256), Ok(8));
    // The textbook says 15 for the wrap-around grid; BFS says 16.
    assert_eq!(hops::simulated_worst_case(hops::Topology::Torus, 256), Ok(16));
    assert!(hops::simulated_worst_case(hops::Topology::Grid, 250).is_err());
}

fn bfs_by_hand(t: hops::Topology, n: usize) -> usize {
    // A correct solution that differs from the reference: per-dimension
    // distances summed, computed by loops rather than a formula.
    match t {
        hops::Topology::Hypercube => (0..64).take_while(|d| 1usize << d < n).count(),
        _ => {
            let k = (1..=n).find(|k| k * k >= n).unwrap();
            let ring = |a: usize, b: usize| {
                let d = a.abs_diff(b);
                if t == hops::Topology::Torus {
                    d.min(k - d)
                } else {
                    d
                }
            };
            (0..k).map(|a| ring(0, a)).max().unwrap() * 2
        }
    }
}

#[test]
fn hops_references_and_other_correct_solutions_pass_over_200_seeds() {
    for seed in 0..200 {
        assert_all_pass(&hops::check(hops::reference::solution(), &Run::all(seed)));
        assert_all_pass(&hops::check(&bfs_by_hand, &Run::all(seed)));
    }
}

#[test]
fn hops_mistakes_fail_with_the_case_and_the_right_answer() {
    fn textbook_torus(t: hops::Topology, n: usize) -> usize {
        let k = (n as f64).sqrt() as usize;
        match t {
            hops::Topology::Torus => k - 1,
            other => (hops::reference::solution())(other, n),
        }
    }
    fn sides_not_hops(t: hops::Topology, n: usize) -> usize {
        match t {
            hops::Topology::Grid => 2 * (n as f64).sqrt() as usize,
            other => (hops::reference::solution())(other, n),
        }
    }
    fn log_of_wrong_base(t: hops::Topology, n: usize) -> usize {
        match t {
            hops::Topology::Hypercube => (n as f64).log10().ceil() as usize,
            other => (hops::reference::solution())(other, n),
        }
    }
    let r = hops::check(&textbook_torus, &Run::public(1));
    assert_eq!(
        failed(&r),
        vec![(
            "torus matches BFS".to_string(),
            "for Torus with 256 CPUs you said 15 hops; BFS over the links finds 16".to_string()
        )]
    );
    assert_eq!(failed(&hops::check(&sides_not_hops, &Run::public(1)))[0].0, "grid matches BFS");
    assert_eq!(failed(&hops::check(&log_of_wrong_base, &Run::public(1)))[0].0, "hypercube matches BFS");
    fn panics(_: hops::Topology, _: usize) -> usize {
        panic!("not yet")
    }
    assert!(failed(&hops::check(&panics, &Run::public(1)))[0].1.contains("panicked: not yet"));
}

#[test]
fn the_public_scope_never_runs_hidden_checks() {
    let r = hops::check(hops::reference::solution(), &Run::public(3));
    assert!(r.verdicts.iter().all(|v| v.check != "large systems match BFS"));
    let r = hops::check(hops::reference::solution(), &Run::all(3));
    assert!(r.verdicts.iter().any(|v| v.check == "large systems match BFS"));
    assert_eq!(r.score(&hops::SPEC, Scope::All), 10.0);
}

#[test]
fn quorum_pairs_for_ten_replicas_only_1_10_to_5_6_are_legal() {
    let legal: Vec<(usize, usize)> = (1..=10)
        .map(|nr| (nr, 11 - nr))
        .filter(|&(nr, nw)| quorums::simulated_conflict(10, nr, nw).is_none())
        .collect();
    assert_eq!(legal, vec![(1, 10), (2, 9), (3, 8), (4, 7), (5, 6)]);
    match quorums::simulated_conflict(10, 6, 5) {
        Some(quorums::Conflict::TwoWrites { first, second }) => {
            assert_eq!(first.len(), 5);
            assert_eq!(second.len(), 5);
            assert!(first.iter().all(|r| !second.contains(r)));
        }
        other => panic!("expected two disjoint write quorums, got {other:?}"),
    }
}

#[test]
fn quorum_references_and_other_correct_solutions_pass_and_mistakes_fail() {
    // Written as the textbook states the two rules.
    #[allow(clippy::nonminimal_bool)]
    fn by_counting(n: usize, nr: usize, nw: usize) -> bool {
        // Correct, differently: quorums meet when they can't both fit.
        nr >= 1 && nw >= 1 && nr <= n && nw <= n && !(nr + nw <= n) && !(nw + nw <= n)
    }
    for seed in 0..200 {
        assert_all_pass(&quorums::check(quorums::reference::solution(), &Run::all(seed)));
        assert_all_pass(&quorums::check(&by_counting, &Run::all(seed)));
    }
    fn textbook(n: usize, nr: usize, nw: usize) -> bool {
        nr + nw > n
    }
    fn half_is_enough(n: usize, nr: usize, nw: usize) -> bool {
        nr + nw > n && 2 * nw >= n
    }
    fn off_by_one(n: usize, nr: usize, nw: usize) -> bool {
        nr + nw >= n && 2 * nw > n
    }
    let r = quorums::check(&textbook, &Run::public(0));
    let (check, message) = &failed(&r)[0];
    assert_eq!(check, "the ten pairs for N = 10");
    assert!(message.starts_with("you call (6, 5) legal for N=10, but write quorums"), "{message}");
    assert!(!failed(&quorums::check(&half_is_enough, &Run::public(0))).is_empty());
    let r = quorums::check(&off_by_one, &Run::all(0));
    assert!(
        failed(&r).iter().any(|(c, m)| c == "every pair for your N" && m.contains("read quorum")),
        "{:?}",
        failed(&r)
    );
}

#[test]
fn replicas_reproduce_the_textbook_by_simulation() {
    let mut rng = distlab::rng::SeededRng::new(1, 1);
    assert_eq!(replicas::simulated_replicas_needed(0.75, 0.99, &mut rng), 4);
    let a = replicas::simulated_availability(0.75, 4, &mut rng);
    assert!((a - (1.0 - 0.25f64.powi(4))).abs() < 0.002, "{a}");
}

#[test]
fn replicas_references_and_other_correct_solutions_pass_and_mistakes_fail() {
    fn by_product(p: f64, k: u32) -> f64 {
        let mut all_down = 1.0;
        for _ in 0..k {
            all_down *= 1.0 - p;
        }
        1.0 - all_down
    }
    fn by_logarithm(p: f64, target: f64) -> u32 {
        ((1.0 - target).ln() / (1.0 - p).ln() - 1e-12).ceil().max(1.0) as u32
    }
    let other = replicas::Solution { availability: &by_product, replicas_needed: &by_logarithm };
    // The variants come from a small set of (p, target); 60 seeds cover it.
    let covered: BTreeSet<String> = (0..60).map(|s| format!("{:?}", replicas::variant(s))).collect();
    assert!(covered.len() >= 10, "variants vary: {covered:?}");
    for seed in 0..60 {
        assert_all_pass(&replicas::check(replicas::reference::solution(), &Run::public(seed)));
        assert_all_pass(&replicas::check(other, &Run::public(seed)));
    }
    assert_all_pass(&replicas::check(other, &Run::all(0)));
    fn all_up(p: f64, k: u32) -> f64 {
        p.powi(k as i32)
    }
    fn one_short(p: f64, target: f64) -> u32 {
        (replicas::reference::solution().replicas_needed)(p, target) - 1
    }
    fn down_not_up(p: f64, k: u32) -> f64 {
        1.0 - p.powi(k as i32)
    }
    let bad = replicas::Solution { availability: &all_up, replicas_needed: &one_short };
    let r = replicas::check(bad, &Run::public(0));
    let checks: BTreeSet<String> = failed(&r).into_iter().map(|f| f.0).collect();
    assert_eq!(checks.len(), 2);
    assert!(failed(&r)[0].1.contains("simulated trials give"), "{:?}", failed(&r));
    let swapped = replicas::Solution {
        availability: &down_not_up,
        replicas_needed: replicas::reference::solution().replicas_needed,
    };
    assert_eq!(
        replicas::check(swapped, &Run::public(0)).results(&replicas::SPEC, Scope::Public)[0].status,
        Status::Fail
    );
}
