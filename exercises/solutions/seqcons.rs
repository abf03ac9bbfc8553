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
