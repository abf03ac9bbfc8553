fn worst_skew_ms(ticks_per_ms_fast: f64, ticks_per_ms_slow: f64, resync_every_s: f64) -> f64 {
    // BEGIN SOLUTION
    // Each true ms the clocks part by (fast - slow) / 1000 ms; the gap is
    // widest at the end of the interval, resync_every_s * 1000 true ms later.
    let drift_apart_per_ms = (ticks_per_ms_fast - ticks_per_ms_slow).abs() / 1000.0;
    drift_apart_per_ms * resync_every_s * 1000.0
    // END SOLUTION
    // BEGIN STARTER
    // let _ = (ticks_per_ms_fast, ticks_per_ms_slow, resync_every_s);
    // 0.0
    // END STARTER
}
