//! Credentials: student bearer tokens (random, stored as sha256), instructor
//! passwords (argon2) and instructor sessions (random id, stored hashed, with
//! a CSRF token for forms).

use crate::params;
use anyhow::{Context, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{now_rfc3339, now_secs, Db};

/// Longest instructor name, at `instructor add` and at the login form (the
/// login limiter keys on names: unbounded names were unbounded memory).
pub const MAX_NAME: usize = 64;
/// Longest password the login form accepts.
pub const MAX_PASSWORD: usize = 1024;

/// How long an instructor session lasts.
pub const SESSION_SECS: i64 = 8 * 3600;

/// 32 random bytes as hex: a bearer token, session id or CSRF token.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Tokens have 256 bits of entropy, so a fast hash is enough at rest.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a new token for `student` and returns it (shown once).
pub fn issue_token(c: &crate::db::Conn, student: &str) -> Result<String> {
    let token = random_token();
    c.execute(
        "INSERT INTO tokens (hash, student_id, created_at) VALUES (?1, ?2, ?3)",
        params![token_hash(&token), student, now_rfc3339()],
    )?;
    Ok(token)
}

/// The student a bearer token belongs to.
pub fn student_for_token(db: &Db, token: &str) -> Result<Option<String>> {
    let hash = token_hash(token);
    db.with(|c| c.query_opt("SELECT student_id FROM tokens WHERE hash = ?1", [hash], |r| r.get(0)))
}

pub fn hash_password(password: &str) -> Result<String> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| anyhow::anyhow!("making a salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?
        .to_string())
}

/// Adds or replaces an instructor.
pub fn add_instructor(db: &Db, name: &str, password: &str) -> Result<()> {
    anyhow::ensure!(!name.trim().is_empty(), "the instructor name is empty");
    anyhow::ensure!(name.len() <= MAX_NAME, "the instructor name is longer than {MAX_NAME} bytes");
    anyhow::ensure!(!name.chars().any(char::is_control), "the instructor name has control characters");
    anyhow::ensure!(password.len() <= MAX_PASSWORD, "the password is longer than {MAX_PASSWORD} bytes");
    anyhow::ensure!(password.len() >= 8, "the password must have at least 8 characters");
    let hash = hash_password(password)?;
    db.with(|c| {
        c.execute(
            "INSERT INTO instructors (name, password_hash) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash",
            params![name, hash],
        )
        .context("storing the instructor")?;
        Ok(())
    })
}

/// Checks a password (argon2 is slow on purpose: call off the async runtime).
pub fn check_password(db: &Db, name: &str, password: &str) -> Result<bool> {
    let stored: Option<String> =
        db.with(|c| c.query_opt("SELECT password_hash FROM instructors WHERE name = ?1", [name], |r| r.get(0)))?;
    // An unknown name is checked against a dummy hash of the same parameters,
    // so it takes as long as a known one: timing does not tell which names exist.
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
    let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
    let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
    Ok(known && ok)
}

/// Makes the dummy hash now (at start), so the first unknown name is not
/// slower than a known one.
pub fn warm_up() {
    dummy_hash();
}

/// A hash of a random password, made once per process like any stored one.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_token()).expect("argon2 hashes a fresh password"))
}

/// A logged-in instructor.
#[derive(Debug, Clone)]
pub struct Session {
    pub instructor: String,
    pub csrf: String,
}

/// Starts a session; returns the cookie value.
pub fn create_session(db: &Db, instructor: &str) -> Result<String> {
    let id = random_token();
    db.with(|c| {
        c.execute("DELETE FROM sessions WHERE expires_at < ?1", [now_secs()])?;
        c.execute(
            "INSERT INTO sessions (hash, instructor, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash(&id), instructor, random_token(), now_secs() + SESSION_SECS],
        )?;
        Ok(())
    })?;
    Ok(id)
}

pub fn session(db: &Db, id: &str) -> Result<Option<Session>> {
    let hash = token_hash(id);
    db.with(|c| {
        c.query_opt(
            "SELECT instructor, csrf FROM sessions WHERE hash = ?1 AND expires_at >= ?2",
            params![hash, now_secs()],
            |r| Ok(Session { instructor: r.get(0)?, csrf: r.get(1)? }),
        )
    })
}

pub fn end_session(db: &Db, id: &str) -> Result<()> {
    db.with(|c| {
        c.execute("DELETE FROM sessions WHERE hash = ?1", [token_hash(id)])?;
        Ok(())
    })
}

/// Constant-time comparison for CSRF tokens.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
