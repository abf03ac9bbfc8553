fn location_updates(depth: usize, branching: usize, from: usize, to: usize) -> usize {
    // BEGIN SOLUTION
    // Climb from both leaves one level at a time until they reach the same
    // node. Each level climbed costs a new record on B's side and a removed
    // one on A's side; the meeting node's record is redirected once.
    let _ = depth;
    let (mut a, mut b, mut climbed) = (from, to, 0);
    while a != b {
        a /= branching;
        b /= branching;
        climbed += 1;
    }
    2 * climbed + 1
    // END SOLUTION
    // BEGIN STARTER
    // // Leaf domains are numbered 0..branching^depth, left to right.
    // let _ = (depth, branching, from, to);
    // 0
    // END STARTER
}
