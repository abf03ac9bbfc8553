//! Deadlines, the late rule and per-student extensions.
//!
//! Up to the deadline (or the student's extension) a submission counts in
//! full; up to the late deadline it loses `late_penalty` (a fraction); after
//! that it scores nothing. Times are RFC 3339 strings in the database.

use crate::db::Conn;
use crate::params;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

/// One exercise's settings.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Settings {
    pub deadline: Option<DateTime<Utc>>,
    pub late_deadline: Option<DateTime<Utc>>,
    /// Fraction of the score taken off a late submission, 0..=1.
    pub late_penalty: f64,
}

fn parse(s: Option<String>) -> anyhow::Result<Option<DateTime<Utc>>> {
    Ok(s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok()).map(|d| d.with_timezone(&Utc)))
}

pub fn settings(c: &Conn, exercise: &str) -> Result<Settings> {
    Ok(c.query_opt(
        "SELECT deadline, late_deadline, late_penalty FROM exercise_settings WHERE exercise = ?1",
        [exercise],
        |r| Ok(Settings { deadline: parse(r.get(0)?)?, late_deadline: parse(r.get(1)?)?, late_penalty: r.get(2)? }),
    )?
    .unwrap_or_default())
}

/// A setting the instructor entered that cannot be stored as given (the
/// pages tell it apart from a failed write by downcasting).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

pub fn set_settings(c: &Conn, exercise: &str, s: &Settings) -> Result<()> {
    if !(0.0..=1.0).contains(&s.late_penalty) {
        return Err(Invalid("the late penalty must be between 0 and 1".into()).into());
    }
    if let (Some(d), Some(l)) = (s.deadline, s.late_deadline) {
        if l < d {
            return Err(Invalid("the late deadline is before the deadline".into()).into());
        }
    }
    c.execute(
        "INSERT INTO exercise_settings (exercise, deadline, late_deadline, late_penalty) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (exercise) DO UPDATE SET deadline = excluded.deadline,
             late_deadline = excluded.late_deadline, late_penalty = excluded.late_penalty",
        params![exercise, s.deadline.map(|d| d.to_rfc3339()), s.late_deadline.map(|d| d.to_rfc3339()), s.late_penalty],
    )
    .context("storing the exercise settings")?;
    Ok(())
}

pub fn set_extension(c: &Conn, student: &str, exercise: &str, until: DateTime<Utc>) -> Result<()> {
    let n: i64 = c.query_row("SELECT count(*) FROM students WHERE id = ?1", [student], |r| r.get(0))?;
    if n != 1 {
        return Err(Invalid(format!("there is no student {student:?}")).into());
    }
    c.execute(
        "INSERT INTO extensions (student_id, exercise, deadline) VALUES (?1, ?2, ?3)
         ON CONFLICT (student_id, exercise) DO UPDATE SET deadline = excluded.deadline",
        params![student, exercise, until.to_rfc3339()],
    )?;
    Ok(())
}

/// An extension as the exercise page lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Extension {
    pub student_id: String,
    pub name: String,
    pub until: String,
}

/// The extensions granted on one exercise, by student id.
pub fn extensions(c: &Conn, exercise: &str) -> Result<Vec<Extension>> {
    c.query_map(
        "SELECT e.student_id, s.name, e.deadline FROM extensions e JOIN students s ON s.id = e.student_id
         WHERE e.exercise = ?1 ORDER BY e.student_id",
        [exercise],
        |r| Ok(Extension { student_id: r.get(0)?, name: r.get(1)?, until: r.get(2)? }),
    )
}

/// Takes an extension back; false when there was none.
pub fn revoke_extension(c: &Conn, student: &str, exercise: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM extensions WHERE student_id = ?1 AND exercise = ?2", params![student, exercise])? > 0)
}

/// The deadlines that apply to one student (an extension moves both the
/// deadline and, if earlier, the late deadline).
pub fn for_student(c: &Conn, student: &str, exercise: &str) -> Result<Settings> {
    let mut s = settings(c, exercise)?;
    let ext: Option<String> = c.query_opt(
        "SELECT deadline FROM extensions WHERE student_id = ?1 AND exercise = ?2",
        params![student, exercise],
        |r| r.get(0),
    )?;
    if let Some(ext) = parse(ext)? {
        s.deadline = Some(s.deadline.map_or(ext, |d| d.max(ext)));
        s.late_deadline = s.late_deadline.map(|l| l.max(ext));
    }
    Ok(s)
}

/// How the late rule treats a submission made at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lateness {
    pub late: bool,
    /// Fraction taken off the score.
    pub penalty: f64,
    /// A sentence for the result, when late.
    pub note: Option<String>,
}

impl Settings {
    pub fn lateness(&self, at: DateTime<Utc>) -> Lateness {
        match self.deadline {
            Some(d) if at > d => match self.late_deadline {
                Some(l) if at <= l => Lateness {
                    late: true,
                    penalty: self.late_penalty,
                    note: Some(format!(
                        "Submitted after the deadline ({}): {:.0}% late penalty.",
                        d.to_rfc3339(),
                        self.late_penalty * 100.0
                    )),
                },
                _ => Lateness {
                    late: true,
                    penalty: 1.0,
                    note: Some(format!(
                        "Submitted after the last accepted time ({}): it does not count.",
                        self.late_deadline.unwrap_or(d).to_rfc3339()
                    )),
                },
            },
            _ => Lateness { late: false, penalty: 0.0, note: None },
        }
    }

    pub fn deadline_passed(&self, now: DateTime<Utc>) -> bool {
        self.deadline.is_some_and(|d| now > d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn late_rule() {
        let s = Settings {
            deadline: Some(t("2026-01-10T00:00:00Z")),
            late_deadline: Some(t("2026-01-12T00:00:00Z")),
            late_penalty: 0.25,
        };
        assert_eq!(s.lateness(t("2026-01-09T00:00:00Z")).penalty, 0.0);
        let l = s.lateness(t("2026-01-11T00:00:00Z"));
        assert!(l.late && l.penalty == 0.25);
        assert_eq!(s.lateness(t("2026-01-13T00:00:00Z")).penalty, 1.0);
        assert!(!Settings::default().lateness(t("2030-01-01T00:00:00Z")).late);
    }
}
