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
