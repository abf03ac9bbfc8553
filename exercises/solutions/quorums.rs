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
