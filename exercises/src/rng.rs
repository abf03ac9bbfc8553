//! Seeded randomness. One seed drives everything; each consumer (the fault
//! generator, each network channel) reads its own ChaCha stream, so one
//! node's extra traffic never shifts the dice of another channel.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A source of uniform numbers.
pub trait Draw {
    fn next_u64(&mut self) -> u64;
    /// Uniform in [0, 1), 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Uniform in [0, n). `n` must be positive.
    fn below(&mut self, n: u64) -> u64 {
        // Multiply-shift: unbiased enough for simulation, and portable.
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// A portable seeded generator: the same (seed, stream) gives the same
/// numbers on every platform and in every version of this crate.
#[derive(Clone, Debug)]
pub struct SeededRng(ChaCha8Rng);

impl SeededRng {
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        SeededRng(rng)
    }
}

impl Draw for SeededRng {
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// Streams used by the simulator; channels take `CHANNEL_BASE + from*n + to`.
pub(crate) const FAULT_STREAM: u64 = 1;
pub(crate) const CHANNEL_BASE: u64 = 1 << 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_and_streams_differ() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = SeededRng::new(7, 3);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = SeededRng::new(7, 3);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = SeededRng::new(7, 4);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn unit_and_below_stay_in_range() {
        let mut r = SeededRng::new(1, 0);
        for _ in 0..10_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(r.below(6) < 6);
        }
    }
}
