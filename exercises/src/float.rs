//! [`F64`]: a float a node can keep in its state.
//!
//! Node state must be `Hash` (the explorer and the grader fingerprint it),
//! and `f64` is not. `F64` hashes its bits, with `-0.0` taken as `0.0` so
//! that values that compare equal hash alike.

use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// An `f64` that is `Hash`: derive `Hash` on a node that holds one.
/// `F64(x).0` (or `f64::from`) gives the number back.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct F64(pub f64);

impl Hash for F64 {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let x = if self.0 == 0.0 { 0.0f64 } else { self.0 };
        x.to_bits().hash(state);
    }
}

impl From<f64> for F64 {
    fn from(x: f64) -> Self {
        F64(x)
    }
}

impl From<F64> for f64 {
    fn from(x: F64) -> Self {
        x.0
    }
}

impl std::fmt::Display for F64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use std::hash::{Hash, Hasher};

    use super::F64;
    use crate::stable_hash::StableHasher;

    fn stable_hash(x: &F64) -> u64 {
        let mut h = StableHasher::new();
        x.hash(&mut h);
        h.finish()
    }

    #[test]
    fn equal_values_hash_alike_and_different_ones_differ() {
        assert_eq!(stable_hash(&F64(0.0)), stable_hash(&F64(-0.0)));
        assert_eq!(stable_hash(&F64(1.5)), stable_hash(&F64(1.5)));
        assert_ne!(stable_hash(&F64(1.5)), stable_hash(&F64(2.5)));
        assert_eq!(serde_json::to_string(&F64(2.5)).unwrap(), "2.5");
    }
}
