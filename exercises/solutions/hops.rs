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
