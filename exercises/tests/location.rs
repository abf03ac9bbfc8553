//! The location-service exercise: the simulation reproduces the source's
//! worst case of 2k+1 records, correct solutions that differ from the
//! reference pass, and the usual mistakes fail with a plain-words message.
use distlab::catalogue::location::{self, reference, simulated_updates};
use distlab::catalogue::{Run, Scope};

mod common;
use common::{assert_all_pass, failed, host_in_thread};

#[test]
fn the_worst_move_changes_2k_plus_1_records() {
    for depth in 1..=5 {
        for branching in 2..=3 {
            let leaves = location::leaf_domains(depth, branching).unwrap();
            let worst = (0..leaves)
                .flat_map(|from| (0..leaves).map(move |to| (from, to)))
                .map(|(from, to)| simulated_updates(depth, branching, from, to).unwrap())
                .max()
                .unwrap();
            assert_eq!(worst, 2 * depth + 1, "depth {depth}, branching {branching}");
        }
    }
}

#[test]
fn moves_that_meet_lower_change_fewer_records() {
    // Depth 3, binary: leaves 0..8. 0 and 1 share a parent (level 2), 0 and
    // 2 a grandparent (level 1), 0 and 4 only the root.
    assert_eq!(simulated_updates(3, 2, 0, 0), Ok(1));
    assert_eq!(simulated_updates(3, 2, 0, 1), Ok(3));
    assert_eq!(simulated_updates(3, 2, 0, 2), Ok(5));
    assert_eq!(simulated_updates(3, 2, 0, 4), Ok(7));
    assert_eq!(simulated_updates(3, 2, 7, 4), Ok(5));
}

#[test]
fn bad_trees_and_leaves_are_refused_with_a_reason() {
    assert!(simulated_updates(3, 1, 0, 0).unwrap_err().contains("at least 2 children"));
    assert!(simulated_updates(3, 2, 0, 8).unwrap_err().contains("numbered 0 to 7"));
    assert!(simulated_updates(200, 10, 0, 0).unwrap_err().contains("too many"));
}

/// Correct, differently: compare the leaves' digits in base `branching`
/// from the root down.
fn by_digits(depth: usize, branching: usize, from: usize, to: usize) -> usize {
    let digit = |leaf: usize, level: usize| leaf / branching.pow((depth - level) as u32) % branching;
    let shared = (1..=depth).take_while(|&level| digit(from, level) == digit(to, level)).count();
    2 * (depth - shared) + 1
}

#[test]
fn the_reference_and_another_correct_solution_pass_over_200_seeds() {
    for seed in 0..200 {
        assert_all_pass(&location::check(reference::solution(), &Run::all(seed)));
        assert_all_pass(&location::check(&by_digits, &Run::all(seed)));
    }
    let r = location::check(reference::solution(), &Run::all(3));
    assert_eq!(r.score(&location::SPEC, Scope::All), 10.0);
}

#[test]
fn usual_mistakes_fail_with_the_move_and_the_right_answer() {
    fn always_the_worst_case(depth: usize, _: usize, _: usize, _: usize) -> usize {
        2 * depth + 1
    }
    fn only_the_insert(depth: usize, b: usize, from: usize, to: usize) -> usize {
        ((reference::solution())(depth, b, from, to) - 1) / 2 + 1
    }
    fn meeting_node_twice(depth: usize, b: usize, from: usize, to: usize) -> usize {
        (reference::solution())(depth, b, from, to) + 1
    }
    fn depth_counts_levels(depth: usize, b: usize, from: usize, to: usize) -> usize {
        (reference::solution())(depth, b, from, to).saturating_sub(2).max(1)
    }
    fn nothing_when_staying(depth: usize, b: usize, from: usize, to: usize) -> usize {
        if from == to {
            0
        } else {
            (reference::solution())(depth, b, from, to)
        }
    }
    let checks = |f: &dyn Fn(usize, usize, usize, usize) -> usize| -> Vec<String> {
        failed(&location::check(f, &Run::public(1))).into_iter().map(|(c, _)| c).collect()
    };
    assert_eq!(checks(&always_the_worst_case), ["moves below the root", "a new address in the same leaf domain"]);
    assert_eq!(checks(&only_the_insert), ["moves across the root", "moves below the root"]);
    assert_eq!(checks(&meeting_node_twice).len(), 3);
    assert_eq!(checks(&depth_counts_levels), ["moves across the root", "moves below the root"]);
    assert_eq!(checks(&nothing_when_staying), ["a new address in the same leaf domain"]);

    let r = location::check(&always_the_worst_case, &Run::public(1));
    let (_, message) = &failed(&r)[0];
    assert!(message.starts_with("moving from leaf domain "), "{message}");
    assert!(message.contains("you said 7 records change; the simulated insert and delete touch "), "{message}");
    fn panics(_: usize, _: usize, _: usize, _: usize) -> usize {
        panic!("not yet")
    }
    assert!(failed(&location::check(&panics, &Run::public(1)))[0].1.contains("panicked: not yet"));
}

#[test]
fn hidden_moves_run_only_for_the_grader_and_catch_an_overflowing_answer() {
    let r = location::check(reference::solution(), &Run::public(3));
    assert!(r.verdicts.iter().all(|v| v.check != "deep and wide hierarchies"));
    // Right for the public trees of seed 3, wrong once branching^depth is large.
    fn through_floats(depth: usize, b: usize, from: usize, to: usize) -> usize {
        let size = (b as f32).powi(depth as i32);
        if size > 1e4 {
            2 * depth + 1
        } else {
            (reference::solution())(depth, b, from, to)
        }
    }
    assert_all_pass(&location::check(&through_floats, &Run::public(3)));
    let r = location::check(&through_floats, &Run::all(3));
    assert_eq!(failed(&r).iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["deep and wide hierarchies"]);
}

#[test]
fn the_grader_path_gets_the_same_verdicts() {
    let connection = host_in_thread(|input, output| {
        let dispatch = |name: &str, args| {
            assert_eq!(name, "location_updates");
            distlab::remote::answer(args, |(k, b, from, to)| (reference::solution())(k, b, from, to))
        };
        let _ = distlab::remote::serve_calls(&dispatch, input, output);
    });
    let remote = (location::SPEC.check_remote)(connection, &Run::all(5));
    let local = location::check(reference::solution(), &Run::all(5));
    assert_eq!(remote.verdicts, local.verdicts);
}
