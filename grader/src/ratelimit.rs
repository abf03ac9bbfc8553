//! Per-student, per-exercise submission limit over a sliding window (in
//! memory: a restart forgets it, which only ever lets a student in).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimit {
    per_window: usize,
    window: Duration,
    seen: Mutex<HashMap<(String, String), VecDeque<Instant>>>,
}

impl RateLimit {
    /// `per_window` submissions per `window`; 0 disables the limit.
    pub fn new(per_window: usize, window: Duration) -> Self {
        RateLimit { per_window, window, seen: Mutex::new(HashMap::new()) }
    }

    /// Counts a submission, or says how long to wait (whole seconds, at
    /// least 1) before the next one is accepted.
    pub fn check(&self, student: &str, exercise: &str) -> Result<(), u64> {
        if self.per_window == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap();
        let times = seen.entry((student.to_owned(), exercise.to_owned())).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            times.pop_front();
        }
        if times.len() >= self.per_window {
            let wait = self.window.saturating_sub(now.duration_since(times[0]));
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_student_and_exercise() {
        let r = RateLimit::new(2, Duration::from_secs(60));
        assert!(r.check("a", "x").is_ok());
        assert!(r.check("a", "x").is_ok());
        let wait = r.check("a", "x").unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(r.check("a", "y").is_ok());
        assert!(r.check("b", "x").is_ok());
        assert!(RateLimit::new(0, Duration::from_secs(60)).check("a", "x").is_ok());
    }
}
