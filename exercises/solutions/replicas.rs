fn availability(p: f64, k: u32) -> f64 {
    // BEGIN SOLUTION
    // Down only when all k are down at once: (1-p)^k.
    1.0 - (1.0 - p).powi(k as i32)
    // END SOLUTION
    // BEGIN STARTER
    // let _ = (p, k);
    // 0.0
    // END STARTER
}

fn replicas_needed(p: f64, target: f64) -> u32 {
    // BEGIN SOLUTION
    // The closed form is k = ceil(ln(1 - target) / ln(1 - p)); counting up
    // avoids its edge cases (p = 1, rounding right at the target).
    let mut k = 1;
    while availability(p, k) < target && k < 64 {
        k += 1;
    }
    k
    // END SOLUTION
    // BEGIN STARTER
    // let _ = (p, target);
    // 1
    // END STARTER
}
