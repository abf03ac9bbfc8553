//! The vector-timestamp comparison: the reference and a differently
//! written answer pass over hundreds of student seeds; the usual mistakes
//! fail with a message that names the two stamps.

use distlab::catalogue::causality::{self, Causal, History};
use distlab::catalogue::{Report, Run, Scope};
use distlab::rng::SeededRng;

mod common;
use common::{assert_all_pass, failed};

/// Correct, differently: count the entries where a is smaller and larger.
fn by_counting(a: &[u64], b: &[u64]) -> Causal {
    let smaller = a.iter().zip(b).filter(|(x, y)| x < y).count();
    let larger = a.iter().zip(b).filter(|(x, y)| x > y).count();
    match (smaller, larger) {
        (0, 0) => Causal::Same,
        (_, 0) => Causal::Before,
        (0, _) => Causal::After,
        _ => Causal::Concurrent,
    }
}

/// "At most in every entry" taken as before, equal stamps included.
fn equal_is_before(a: &[u64], b: &[u64]) -> Causal {
    if a.iter().zip(b).all(|(x, y)| x <= y) {
        Causal::Before
    } else if a.iter().zip(b).all(|(x, y)| y <= x) {
        Causal::After
    } else {
        Causal::Concurrent
    }
}

/// Sums compared as if they were Lamport times: never concurrent.
fn by_sums(a: &[u64], b: &[u64]) -> Causal {
    let (x, y): (u64, u64) = (a.iter().sum(), b.iter().sum());
    match x.cmp(&y) {
        std::cmp::Ordering::Less => Causal::Before,
        std::cmp::Ordering::Greater => Causal::After,
        std::cmp::Ordering::Equal => Causal::Same,
    }
}

/// One smaller entry taken as enough for "before".
fn any_smaller(a: &[u64], b: &[u64]) -> Causal {
    if a == b {
        Causal::Same
    } else if a.iter().zip(b).any(|(x, y)| x < y) {
        Causal::Before
    } else {
        Causal::After
    }
}

fn report(solution: causality::Solution<'_>, run: &Run) -> Report {
    causality::check(solution, run)
}

#[test]
fn correct_answers_pass_over_200_seeds() {
    for seed in 0..200 {
        assert_all_pass(&report(causality::reference::solution(), &Run::all(seed)));
        assert_all_pass(&report(&by_counting, &Run::all(seed)));
    }
}

#[test]
fn each_mistake_fails_a_public_check_and_names_the_stamps() {
    for (name, mistake) in [
        ("equal is before", &equal_is_before as causality::Solution<'_>),
        ("sums", &by_sums),
        ("any smaller entry", &any_smaller),
    ] {
        let r = report(mistake, &Run::public(5));
        let failures = failed(&r);
        assert!(!failures.is_empty(), "{name} passed");
        assert!(r.score(&causality::SPEC, Scope::Public) < causality::SPEC.points as f64, "{name}");
        assert!(failures.iter().any(|(_, message)| message.contains("for a = [")), "{name}: {failures:?}");
    }
}

#[test]
fn the_runs_truth_agrees_with_the_vector_rule() {
    // The reachability the checks trust, against the textbook's rule, on
    // runs the checks never use.
    for run_seed in 0..50 {
        let history = History::random(4, 25, &mut SeededRng::new(run_seed, 99));
        let n = history.stamps.len();
        for a in 0..n {
            for b in 0..n {
                assert_eq!(
                    history.relation(a, b),
                    by_counting(&history.stamps[a], &history.stamps[b]),
                    "run {run_seed}"
                );
            }
        }
    }
}
