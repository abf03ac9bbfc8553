//! Notebook 9, the sequential-consistency checker: the reference agrees
//! with the source on its examples, two other correct checkers pass over
//! 200 students' seeds, and three typical mistakes are caught with the
//! history that shows them.
use std::collections::{BTreeSet, VecDeque};

use distlab::catalogue::seqcons::{self, History, Op};
use distlab::catalogue::{Run, Scope};
use distlab::Status;

mod common;
use common::{assert_all_pass, failed};

#[test]
fn the_reference_agrees_with_the_source_examples() {
    // 001110 comes from running P1, then P3, then P2.
    assert!((seqcons::reference::solution())(&seqcons::three_process([0, 0, 1, 1, 1, 0])));
    let order = seqcons::witness(&seqcons::three_process([0, 0, 1, 1, 1, 0])).unwrap();
    let by_process: Vec<usize> = order.iter().map(|(p, _)| p + 1).collect();
    assert_eq!(by_process, [1, 1, 1, 3, 3, 3, 2, 2, 2]);
    // Whoever prints last has seen all three writes: 000000 is impossible
    // (it is legal only under weaker models such as FIFO consistency).
    assert!(!(seqcons::reference::solution())(&seqcons::three_process([0; 6])));
    // The two-process program: both tests seeing 0 is the one impossible outcome.
    let two: Vec<bool> = seqcons::two_process_outputs().iter().map(seqcons::reference::solution()).collect();
    assert_eq!(two, [false, true, true, true]);
    // A read before its own process's write can't see that write.
    let own = History { processes: vec![vec![Op::Read('x', 1), Op::Write('x', 1)]] };
    assert!(!(seqcons::reference::solution())(&own));
}

#[test]
fn generated_histories_mix_consistent_and_inconsistent_ones() {
    for seed in 0..20 {
        let h = seqcons::generate(seed, seqcons::variant(seed));
        let yes = h.iter().filter(|h| (seqcons::reference::solution())(h)).count();
        assert!(yes >= 15 && h.len() - yes >= 10, "seed {seed}: {yes} of {} consistent", h.len());
    }
}

/// Correct, differently: every interleaving tried, no memory of states.
fn brute_force(h: &History) -> bool {
    fn go(h: &History, at: &mut Vec<usize>, memory: &mut Vec<(char, i64)>) -> bool {
        let mut any_left = false;
        for p in 0..h.processes.len() {
            let Some(&op) = h.processes[p].get(at[p]) else { continue };
            any_left = true;
            let value = |m: &Vec<(char, i64)>, x: char| m.iter().rev().find(|(y, _)| *y == x).map_or(0, |(_, v)| *v);
            match op {
                Op::Read(x, v) if value(memory, x) != v => continue,
                Op::Read(..) => {}
                Op::Write(x, v) => memory.push((x, v)),
            }
            at[p] += 1;
            let ok = go(h, at, memory);
            at[p] -= 1;
            if matches!(op, Op::Write(..)) {
                memory.pop();
            }
            if ok {
                return true;
            }
        }
        !any_left
    }
    go(h, &mut vec![0; h.processes.len()], &mut Vec::new())
}

/// Correct, differently: breadth first over (progress, memory) states.
fn breadth_first(h: &History) -> bool {
    type State = (Vec<usize>, Vec<(char, i64)>);
    let start: State = (vec![0; h.processes.len()], Vec::new());
    let mut seen = BTreeSet::from([start.clone()]);
    let mut queue = VecDeque::from([start]);
    while let Some((at, memory)) = queue.pop_front() {
        if at.iter().zip(&h.processes).all(|(i, ops)| *i == ops.len()) {
            return true;
        }
        for p in (0..h.processes.len()).rev() {
            let Some(op) = h.processes[p].get(at[p]) else { continue };
            let mut memory = memory.clone();
            match *op {
                Op::Read(x, v) => {
                    if memory.iter().find(|(y, _)| *y == x).map_or(0, |(_, w)| *w) != v {
                        continue;
                    }
                }
                Op::Write(x, v) => {
                    memory.retain(|(y, _)| *y != x);
                    memory.push((x, v));
                    memory.sort();
                }
            }
            let mut at = at.clone();
            at[p] += 1;
            if seen.insert((at.clone(), memory.clone())) {
                queue.push_back((at, memory));
            }
        }
    }
    false
}

#[test]
fn the_reference_and_two_other_correct_checkers_pass_over_200_seeds() {
    for seed in 0..200 {
        assert_all_pass(&seqcons::check(seqcons::reference::solution(), &Run::all(seed)));
        assert_all_pass(&seqcons::check(&brute_force, &Run::all(seed)));
        assert_all_pass(&seqcons::check(&breadth_first, &Run::all(seed)));
    }
    let report = seqcons::check(&breadth_first, &Run::all(3));
    assert_eq!(report.score(&seqcons::SPEC, Scope::All), seqcons::SPEC.points as f64);
}

/// Mistake: any order of all operations, program order ignored.
fn ignores_program_order(h: &History) -> bool {
    let ops: Vec<Op> = h.processes.iter().flatten().copied().collect();
    fn go(ops: &[Op], used: &mut Vec<bool>, memory: &mut Vec<(char, i64)>) -> bool {
        if used.iter().all(|u| *u) {
            return true;
        }
        for k in 0..ops.len() {
            if used[k] {
                continue;
            }
            let value = memory
                .iter()
                .rev()
                .find(|(y, _)| matches!(ops[k], Op::Read(x, _) | Op::Write(x, _) if x == *y))
                .map_or(0, |(_, v)| *v);
            match ops[k] {
                Op::Read(_, v) if v != value => continue,
                Op::Read(..) => {}
                Op::Write(x, v) => memory.push((x, v)),
            }
            used[k] = true;
            let ok = go(ops, used, memory);
            used[k] = false;
            if matches!(ops[k], Op::Write(..)) {
                memory.pop();
            }
            if ok {
                return true;
            }
        }
        false
    }
    go(&ops, &mut vec![false; ops.len()], &mut Vec::new())
}

/// Mistake: a read is fine if it sees 0 or any value written to its variable.
fn any_written_value(h: &History) -> bool {
    let writes: BTreeSet<(char, i64)> = h
        .processes
        .iter()
        .flatten()
        .filter_map(|op| if let Op::Write(x, v) = op { Some((*x, *v)) } else { None })
        .collect();
    h.processes.iter().flatten().all(|op| match op {
        Op::Read(x, v) => *v == 0 || writes.contains(&(*x, *v)),
        Op::Write(..) => true,
    })
}

/// Mistake: each process on its own must be explained by some order of
/// everybody's writes and its own reads, but not one order for all.
fn per_process_only(h: &History) -> bool {
    (0..h.processes.len()).all(|me| {
        let view = History {
            processes: h
                .processes
                .iter()
                .enumerate()
                .map(|(p, ops)| ops.iter().copied().filter(|op| p == me || matches!(op, Op::Write(..))).collect())
                .collect(),
        };
        (seqcons::reference::solution())(&view)
    })
}

fn assert_caught(solution: &dyn Fn(&History) -> bool, what: &str) {
    let report = seqcons::check(solution, &Run::public(1));
    let bad = failed(&report);
    assert!(!bad.is_empty(), "{what} passed");
    let v = report.verdicts.iter().find(|v| v.status == Status::Fail).unwrap();
    assert!(v.message.starts_with("you call") && v.message.contains("P1:"), "{what}: {}", v.message);
    assert!(!v.scenario.is_empty(), "the verdict names the history");
    println!("{what}: {v}");
}

#[test]
fn typical_mistakes_are_caught_with_the_history() {
    assert_caught(&ignores_program_order, "ignoring program order");
    assert_caught(&any_written_value, "any written value");
    assert_caught(&per_process_only, "per process only");
    // The per-process mistake is FIFO-like: it accepts 000000, as the source says FIFO does.
    assert!(per_process_only(&seqcons::three_process([0; 6])));
    let report = seqcons::check(&per_process_only, &Run::public(1));
    assert!(failed(&report).iter().any(|(check, _)| check == "the three-process program"));
}

#[test]
fn public_check_takes_under_a_second() {
    common::assert_quick_public_pass("seqcons", || seqcons::check(seqcons::reference::solution(), &Run::public(5)));
}

#[test]
fn the_grader_judges_a_checker_behind_a_host_like_a_local_one() {
    let connection = common::host_in_thread(|input, output| {
        let checker = seqcons::reference::solution();
        let _ = distlab::remote::serve_calls(&seqcons::dispatch(checker), input, output);
    });
    let remote = (seqcons::SPEC.check_remote)(connection, &Run::all(8));
    assert_eq!(remote.verdicts, seqcons::check(seqcons::reference::solution(), &Run::all(8)).verdicts);
}
