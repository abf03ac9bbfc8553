//! The TMR and clock-skew exercises: the references reproduce the textbook,
//! correct solutions that differ from the reference pass, and typical
//! mistakes fail with a plain-words message.
use std::collections::BTreeSet;

use distlab::catalogue::{self, skew, tmr, Run, Scope};

mod common;
use common::{assert_all_pass, failed};

#[test]
fn both_are_registered_in_teaching_order() {
    let ids: Vec<&str> = catalogue::registry().iter().map(|e| e.id).collect();
    let at = |id: &str| ids.iter().position(|x| *x == id).unwrap_or_else(|| panic!("{id} is registered"));
    assert_eq!(at("tmr"), at("replicas") + 1);
    assert_eq!(at("skew"), at("tmr") + 1);
    for spec in [&tmr::SPEC, &skew::SPEC] {
        assert_eq!(spec.checks.iter().map(|c| c.weight).sum::<u32>(), 10);
        assert_eq!(spec.points, 10);
    }
}

#[test]
fn tmr_reproduces_the_textbook() {
    let facts = tmr::simulated_tmr(3, 3).unwrap();
    assert_eq!((facts.max_masked, facts.always_masked), (6, 1));
    assert!(tmr::masked(3, &facts.max_example));
    assert!(!tmr::masked(3, &facts.smallest_defeat));
    assert_eq!(facts.smallest_defeat.count(), 2);
    // The textbook's example: the whole top row (element 1 and voter 1 of
    // every stage) fails, and two of the three final outputs are right.
    let top_row = tmr::Faults { elements: vec![1; 3], voters: vec![1; 3] };
    assert!(tmr::masked(3, &top_row));
    assert_eq!(
        top_row.describe(),
        "stage 1: elements 1, voters 1; stage 2: elements 1, voters 1; stage 3: elements 1, voters 1"
    );
    // One more anywhere breaks it.
    let mut more = top_row.clone();
    more.voters[2] |= 2;
    assert!(!tmr::masked(3, &more));
    // The search by counts places the failures on the top row.
    let counted = tmr::counted_search(3, 3).unwrap();
    assert_eq!(counted.max_example, top_row);
}

#[test]
fn tmr_with_five_replicas_masks_two_faults_per_group() {
    for stages in 1..=4 {
        let facts = tmr::simulated_tmr(stages, 5).unwrap();
        assert_eq!(facts.always_masked, 2, "{stages} stages");
        assert_eq!(facts.max_masked, 4 * stages, "{stages} stages");
    }
}

#[test]
fn tmr_exhaustive_and_counted_searches_agree() {
    for (s, r) in [(1, 1), (2, 1), (1, 2), (2, 2), (1, 3), (2, 3), (3, 3), (1, 4), (2, 4), (1, 5), (2, 5), (1, 6)] {
        let a = tmr::exhaustive_search(s, r).unwrap();
        let b = tmr::counted_search(s, r).unwrap();
        assert_eq!((a.max_masked, a.always_masked), (b.max_masked, b.always_masked), "{s} x {r}");
        assert!(tmr::masked(r, &b.max_example) && b.max_example.count() == b.max_masked);
        assert!(!tmr::masked(r, &b.smallest_defeat) && b.smallest_defeat.count() == b.always_masked + 1);
    }
    assert!(tmr::exhaustive_search(0, 3).is_err());
}

#[test]
fn tmr_reference_and_other_correct_solutions_pass_over_200_seeds() {
    // Correct, differently: the minority per stage, found by counting.
    fn by_loops(stages: usize, replicas: usize) -> usize {
        let minority = (0..replicas).filter(|k| 2 * (replicas - k) > replicas).count() - 1;
        (0..stages).map(|_| minority + minority).sum()
    }
    fn always_by_loop(_: usize, replicas: usize) -> usize {
        (0..=replicas).take_while(|k| 2 * k < replicas).count() - 1
    }
    // Correct, differently: an odd R is 2m + 1.
    fn by_halving(stages: usize, replicas: usize) -> usize {
        stages * (replicas - 1 - (replicas - 1) % 2)
    }
    fn always_by_halving(_: usize, replicas: usize) -> usize {
        replicas.saturating_sub(1) / 2
    }
    let others = [
        tmr::Solution { tmr_max_masked: &by_loops, tmr_always_masked: &always_by_loop },
        tmr::Solution { tmr_max_masked: &by_halving, tmr_always_masked: &always_by_halving },
    ];
    let variants: BTreeSet<String> = (0..200).map(|s| format!("{:?}", tmr::variant(s))).collect();
    assert_eq!(variants.len(), 15, "every (S, R) appears: {variants:?}");
    for seed in 0..200 {
        assert_all_pass(&tmr::check(tmr::reference::solution(), &Run::all(seed)));
        for other in others {
            assert_all_pass(&tmr::check(other, &Run::all(seed)));
        }
    }
    assert_eq!(tmr::check(tmr::reference::solution(), &Run::all(0)).score(&tmr::SPEC, Scope::All), 10.0);
}

#[test]
fn tmr_mistakes_fail_with_a_plain_words_message() {
    // Counts the elements that may fail, not the voters.
    fn elements_only(stages: usize, replicas: usize) -> usize {
        (replicas - 1) / 2 * stages
    }
    // R failures, not a minority of R.
    fn all_replicas(_: usize, replicas: usize) -> usize {
        replicas
    }
    // One stage's worth for the whole circuit.
    fn per_circuit(_: usize, replicas: usize) -> usize {
        2 * ((replicas - 1) / 2)
    }
    let right = tmr::reference::solution();
    let r = tmr::check(tmr::Solution { tmr_max_masked: &elements_only, ..right }, &Run::public(1));
    assert_eq!(
        failed(&r)[0],
        (
            "textbook circuit: 3 stages of 3".to_string(),
            "tmr_max_masked(3, 3) = 3, but the circuit survives these 6 failures: \
             stage 1: elements 1, voters 1; stage 2: elements 1, voters 1; stage 3: elements 1, voters 1"
                .to_string()
        ),
        "{:?}",
        failed(&r)
    );
    let r = tmr::check(tmr::Solution { tmr_always_masked: &all_replicas, ..right }, &Run::public(1));
    let (check, message) = &failed(&r)[0];
    assert_eq!(check, "textbook circuit: 3 stages of 3");
    assert!(
        message.starts_with("tmr_always_masked(3, 3) = 3, but these 2 failures defeat the circuit: stage 1:"),
        "{message}"
    );
    let r = tmr::check(tmr::Solution { tmr_max_masked: &per_circuit, ..right }, &Run::public(1));
    let checks: BTreeSet<String> = failed(&r).into_iter().map(|f| f.0).collect();
    assert!(
        checks.contains("textbook circuit: 3 stages of 3") && checks.contains("five replicas per stage"),
        "{checks:?}"
    );
    assert!(failed(&r)[0].1.starts_with("tmr_max_masked(3, 3) = 2, but the circuit survives these 6 failures"));
    fn too_many(stages: usize, replicas: usize) -> usize {
        (tmr::reference::solution().tmr_max_masked)(stages, replicas) + 1
    }
    let r = tmr::check(tmr::Solution { tmr_max_masked: &too_many, ..right }, &Run::public(1));
    assert_eq!(failed(&r)[0].1, "tmr_max_masked(3, 3) = 7, but no placement of more than 6 failures is masked");
    fn panics(_: usize, _: usize) -> usize {
        panic!("not yet")
    }
    let r = tmr::check(tmr::Solution { tmr_max_masked: &panics, tmr_always_masked: &panics }, &Run::public(1));
    assert!(failed(&r)[0].1.contains("panicked: not yet"));
    // The public scope never runs the hidden edge cases.
    let r = tmr::check(right, &Run::public(1));
    assert!(r.verdicts.iter().all(|v| v.check != "one stage or one replica"));
}

#[test]
fn skew_reproduces_the_textbook_by_simulation() {
    assert_eq!(skew::simulated_worst_skew(&[1000.0, 990.0], 60.0), Ok(600.0));
    assert_eq!(skew::simulated_worst_skew(&[1000.0, 1000.0], 60.0), Ok(0.0));
    // Three clocks: the fastest and the slowest set the skew.
    let three = skew::simulated_worst_skew(&[1005.0, 990.0, 1000.0], 60.0).unwrap();
    assert!((three - 900.0).abs() <= 0.002, "{three}");
    assert!(skew::simulated_worst_skew(&[1600.0, 1000.0], 1.0).is_err());
    assert!(((skew::reference::solution())(1000.0, 990.0, 60.0) - 600.0).abs() < 1e-9);
}

#[test]
fn skew_reference_and_other_correct_solutions_pass_over_200_seeds() {
    // Correct, differently: each clock's error from true time, then the gap.
    fn by_errors(fast: f64, slow: f64, every_s: f64) -> f64 {
        let every_ms = every_s * 1000.0;
        let shows = |rate: f64| every_ms * rate / 1000.0;
        (shows(fast) - shows(slow)).abs()
    }
    // Correct, differently: the textbook's "ms lost per second" route.
    fn per_second(fast: f64, slow: f64, every_s: f64) -> f64 {
        let ticks_apart_per_s = (fast - slow) * 1000.0;
        let ms_apart_per_s = ticks_apart_per_s / 1000.0;
        ms_apart_per_s * every_s
    }
    let variants: BTreeSet<String> = (0..200).map(|s| format!("{:?}", skew::variant(s))).collect();
    assert!(variants.len() > 150, "variants vary");
    for seed in 0..200 {
        for v in &skew::variant(seed).cases {
            assert!(v.0 > v.1 && v.0 != 1000.0, "{v:?}");
        }
        assert_all_pass(&skew::check(skew::reference::solution(), &Run::all(seed)));
        assert_all_pass(&skew::check(&by_errors, &Run::all(seed)));
        assert_all_pass(&skew::check(&per_second, &Run::all(seed)));
    }
    assert_eq!(skew::check(skew::reference::solution(), &Run::all(0)).score(&skew::SPEC, Scope::All), 10.0);
}

#[test]
fn skew_mistakes_fail_with_a_plain_words_message() {
    fn no_interval(fast: f64, slow: f64, _: f64) -> f64 {
        (fast - slow) / 1000.0
    }
    fn in_seconds(fast: f64, slow: f64, every_s: f64) -> f64 {
        (fast - slow) * every_s / 1000.0
    }
    // Measures the drift against the fast clock rather than against the
    // 1000 ticks a clock should make. For the textbook's pair the fast
    // clock is the right one, so this is exact there (within tolerance);
    // the student's own clocks, where the fast one runs fast, catch it.
    fn fast_as_denominator(fast: f64, slow: f64, every_s: f64) -> f64 {
        (fast - slow) / fast * every_s * 1000.0
    }
    let r = skew::check(&no_interval, &Run::public(1));
    assert_eq!(
        failed(&r)[0],
        (
            "textbook: 990 against 1000 per ms, every minute".to_string(),
            "worst_skew_ms(1000, 990, 60) = 0.01 ms, but two simulated clocks are 600 ms apart at the end of the 60 s \
             interval (that is the gap after one ms, not after the whole interval)"
                .to_string()
        )
    );
    let r = skew::check(&in_seconds, &Run::public(1));
    assert_eq!(failed(&r)[0].0, "textbook: 990 against 1000 per ms, every minute");
    assert!(failed(&r)[0].1.starts_with("worst_skew_ms(1000, 990, 60) = 0.6 ms, but"), "{:?}", failed(&r));
    assert!(failed(&r)[0].1.ends_with("(that looks like seconds, not ms)"));
    for seed in 0..50 {
        let r = skew::check(&fast_as_denominator, &Run::public(seed));
        let checks: BTreeSet<String> = failed(&r).into_iter().map(|f| f.0).collect();
        assert_eq!(checks, BTreeSet::from(["your own clocks".to_string()]), "seed {seed}");
    }
    fn panics(_: f64, _: f64, _: f64) -> f64 {
        panic!("not yet")
    }
    assert!(failed(&skew::check(&panics, &Run::public(1)))[0].1.contains("panicked: not yet"));
    let r = skew::check(skew::reference::solution(), &Run::public(1));
    assert!(r.verdicts.iter().all(|v| v.check != "equal and opposite drifts"));
    // Hidden: equal rates, and clocks off in opposite directions.
    fn ignores_direction(fast: f64, slow: f64, every_s: f64) -> f64 {
        (fast.max(1000.0) - slow.max(1000.0)).abs().max((fast.min(1000.0) - slow.min(1000.0)).abs()) / 1000.0
            * every_s
            * 1000.0
    }
    let r = skew::check(&ignores_direction, &Run::all(1));
    assert!(
        failed(&r).iter().any(|(c, m)| c == "equal and opposite drifts" && m.contains("worst_skew_ms(1010, 990, 60)")),
        "{:?}",
        failed(&r)
    );
}
