//! Rate limits over a sliding window. Submissions are counted in the
//! gradebook itself, so a restart forgets nothing; login attempts are
//! counted in memory, for a bounded number of keys (a restart only ever lets
//! a guesser wait less).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::Conn;
use crate::params;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

/// Whole seconds to wait (at least 1, at most the window) until `oldest`
/// leaves the window that ends at `now`.
fn seconds_until_out(oldest_age: Duration, window: Duration) -> u64 {
    let wait = window.saturating_sub(oldest_age).as_secs_f64().ceil() as u64;
    wait.clamp(1, window.as_secs().max(1))
}

/// Submissions per student per exercise over a sliding window, read from
/// the `submissions` table (every stored submission counts, graded or not;
/// retries of a stored idempotency key are not new rows, so they do not).
#[derive(Debug, Clone, Copy)]
pub struct SubmissionLimit {
    /// 0 disables the limit.
    pub per_window: usize,
    pub window: Duration,
}

impl SubmissionLimit {
    pub fn new(per_window: usize, window: Duration) -> Self {
        SubmissionLimit { per_window, window }
    }

    /// `None` if one more submission may be stored at `now`, else the
    /// seconds to wait. Call inside the transaction that stores it, so two
    /// concurrent requests cannot both take the last place.
    pub fn wait(&self, c: &Conn, student: &str, exercise: &str, now: DateTime<Utc>) -> Result<Option<u64>> {
        if self.per_window == 0 {
            return Ok(None);
        }
        let window = chrono::Duration::from_std(self.window).context("rate-limit window")?;
        let since = crate::db::rfc3339(now - window);
        let recent = c.query_map(
            "SELECT submitted_at FROM submissions WHERE student_id = ?1 AND exercise = ?2 AND submitted_at > ?3
             ORDER BY submitted_at DESC LIMIT ?4",
            params![student, exercise, since, self.per_window as i64],
            |r| r.get::<String>(0),
        )?;
        if recent.len() < self.per_window {
            return Ok(None);
        }
        // The oldest of the last `per_window` decides when a place frees up.
        let oldest = DateTime::parse_from_rfc3339(recent.last().expect("non-empty"))
            .with_context(|| format!("submitted_at {:?} is not RFC 3339", recent.last()))?;
        let age = (now - oldest.with_timezone(&Utc)).to_std().unwrap_or_default();
        Ok(Some(seconds_until_out(age, self.window)))
    }
}

/// Attempts per key over a sliding window, in memory, for at most
/// `max_keys` keys: a key whose window is over is dropped, and when all are
/// in use the one seen least recently goes (callers bound key length too).
pub struct RateLimit {
    per_window: usize,
    window: Duration,
    max_keys: usize,
    seen: Mutex<HashMap<(String, String), VecDeque<Instant>>>,
}

impl RateLimit {
    /// `per_window` attempts per `window`; 0 disables the limit.
    pub fn new(per_window: usize, window: Duration) -> Self {
        RateLimit { per_window, window, max_keys: 10_000, seen: Mutex::new(HashMap::new()) }
    }

    pub fn with_max_keys(self, max_keys: usize) -> Self {
        RateLimit { max_keys: max_keys.max(1), ..self }
    }

    /// Keys kept now.
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes back the last attempt counted for the key (it turned out not
    /// to be one that should count, e.g. the right password).
    pub fn forgive(&self, who: &str, what: &str) {
        let mut seen = self.seen.lock().unwrap();
        let key = (who.to_owned(), what.to_owned());
        if let Some(times) = seen.get_mut(&key) {
            times.pop_back();
            if times.is_empty() {
                seen.remove(&key);
            }
        }
    }

    /// Room for one more key: drops the keys whose window is over, then if
    /// still full the one with the oldest last attempt. O(keys), only when full.
    fn make_room(&self, seen: &mut HashMap<(String, String), VecDeque<Instant>>, now: Instant) {
        seen.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < self.window));
        if seen.len() >= self.max_keys {
            let oldest = seen.iter().min_by_key(|(_, times)| times.back().copied()).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                seen.remove(&k);
            }
        }
    }

    /// Counts an attempt, or says how long to wait (whole seconds, at
    /// least 1) before the next one is accepted.
    pub fn check(&self, who: &str, what: &str) -> Result<(), u64> {
        if self.per_window == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap();
        let key = (who.to_owned(), what.to_owned());
        if !seen.contains_key(&key) && seen.len() >= self.max_keys {
            self.make_room(&mut seen, now);
        }
        let times = seen.entry(key).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            times.pop_front();
        }
        if times.len() >= self.per_window {
            return Err(seconds_until_out(now.duration_since(times[0]), self.window));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key() {
        let r = RateLimit::new(2, Duration::from_secs(60));
        assert!(r.check("a", "x").is_ok());
        assert!(r.check("a", "x").is_ok());
        let wait = r.check("a", "x").unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(r.check("a", "y").is_ok());
        assert!(r.check("b", "x").is_ok());
        assert!(RateLimit::new(0, Duration::from_secs(60)).check("a", "x").is_ok());
    }

    #[test]
    fn keys_are_bounded_and_forgiven() {
        let r = RateLimit::new(2, Duration::from_secs(60)).with_max_keys(100);
        for i in 0..1000 {
            assert!(r.check(&format!("name{i}"), "login").is_ok());
        }
        assert_eq!(r.len(), 100, "at most max_keys keys are kept");
        // The most recent keys are the ones kept.
        assert!(r.check("name999", "login").is_ok());
        assert!(r.check("name999", "login").is_err());
        // A forgiven attempt does not count.
        let r = RateLimit::new(2, Duration::from_secs(60));
        for _ in 0..5 {
            assert!(r.check("a", "x").is_ok());
            r.forgive("a", "x");
        }
        assert!(r.is_empty());
    }

    #[test]
    fn submissions_are_counted_in_the_table_within_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::test_support::open_db(dir.path());
        let now = Utc::now();
        let add = |ago: i64, student: &str, exercise: &str| {
            let t = crate::db::rfc3339(now - chrono::Duration::seconds(ago));
            db.with(|c| {
                c.execute("INSERT INTO students (id, name, email) VALUES (?1, ?1, '') ON CONFLICT DO NOTHING", [student])?;
                c.execute(
                    "INSERT INTO submissions (student_id, exercise, source, status, submitted_at) VALUES (?1, ?2, '', 'graded', ?3)",
                    params![student, exercise, t],
                )
            })
            .unwrap();
        };
        let wait = |limit: &SubmissionLimit, student: &str| db.with(|c| limit.wait(c, student, "x", now)).unwrap();
        let limit = SubmissionLimit::new(2, Duration::from_secs(60));
        add(90, "a", "x"); // outside the window
        add(45, "a", "x");
        add(10, "b", "x");
        add(10, "a", "y");
        assert_eq!(wait(&limit, "a"), None);
        add(5, "a", "x");
        // The 45 s old one leaves the window in 15 s.
        assert_eq!(wait(&limit, "a"), Some(15));
        assert_eq!(wait(&limit, "b"), None);
        assert_eq!(wait(&SubmissionLimit::new(0, Duration::from_secs(60)), "a"), None);
    }
}
