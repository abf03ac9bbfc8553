fn tmr_max_masked(stages: usize, replicas: usize) -> usize {
    // BEGIN SOLUTION
    // Per stage, a minority of the copies may fail, and the voters on the
    // same lines too: they only feed copies that are wrong anyway.
    let minority = (replicas - 1) / 2;
    2 * minority * stages
    // END SOLUTION
    // BEGIN STARTER
    // let _ = (stages, replicas);
    // 0
    // END STARTER
}

fn tmr_always_masked(stages: usize, replicas: usize) -> usize {
    // BEGIN SOLUTION
    // A minority anywhere leaves a right majority on every stage; one more,
    // all on the elements of one stage, outvotes the right copies.
    let _ = stages;
    (replicas - 1) / 2
    // END SOLUTION
    // BEGIN STARTER
    // let _ = (stages, replicas);
    // 0
    // END STARTER
}
