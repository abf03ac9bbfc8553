//! The course secret (made at first start, kept in the database) and the
//! per-student seeds derived from it.

use anyhow::Result;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::db::Db;

/// Loads the course secret, creating it on first use.
pub fn course_secret(db: &Db) -> Result<Vec<u8>> {
    db.with(|c| {
        // Processes starting together (a server and its workers) may all
        // offer one: the first stored wins, and everyone reads that one.
        let mut offer = vec![0u8; 32];
        rand::rng().fill_bytes(&mut offer);
        c.execute("INSERT INTO meta (key, value) VALUES ('course_secret', ?1) ON CONFLICT DO NOTHING", [offer])?;
        c.query_row("SELECT value FROM meta WHERE key = 'course_secret'", (), |r| r.get(0))
    })
}

/// A student's seed for an exercise: HMAC-SHA256(secret, student || 0 ||
/// exercise), first 8 bytes big-endian. The 0 byte keeps ("ab","c") and
/// ("a","bc") apart.
pub fn student_seed(secret: &[u8], student: &str, exercise: &str) -> u64 {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(student.as_bytes());
    mac.update(&[0]);
    mac.update(exercise.as_bytes());
    let bytes = mac.finalize().into_bytes();
    u64::from_be_bytes(bytes[..8].try_into().expect("32-byte MAC"))
}

#[cfg(test)]
mod tests {
    use super::student_seed;

    #[test]
    fn seeds_differ_per_student_exercise_and_secret() {
        let a = student_seed(b"k1", "s1", "warmup");
        assert_eq!(a, student_seed(b"k1", "s1", "warmup"));
        assert_ne!(a, student_seed(b"k1", "s2", "warmup"));
        assert_ne!(a, student_seed(b"k1", "s1", "lamport"));
        assert_ne!(a, student_seed(b"k2", "s1", "warmup"));
        assert_ne!(student_seed(b"k", "ab", "c"), student_seed(b"k", "a", "bc"));
    }
}
