use distlab::catalogue::hops::Topology;

fn worst_case_hops(topology: Topology, n: usize) -> usize {
    let k = (n as f64).sqrt().round() as usize;
    match topology {
        Topology::Grid => 2 * (k - 1),
        Topology::Torus => 2 * (k / 2),
        Topology::Hypercube => n.trailing_zeros() as usize,
    }
}
