//! What the instructor's pages summarise: per exercise, who submitted and
//! how the best scores spread; per check, how many students' best
//! submissions fail it. Read from `best_scores` (one row per student and
//! exercise) and the checks of those best submissions, never by walking
//! every submission's report.

use std::collections::BTreeMap;

use crate::db::Conn;
use crate::params;
use anyhow::Result;

/// Bars of a score histogram: equal slices of the exercise's points.
pub const BINS: usize = 10;

/// One exercise's summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ExerciseStats {
    pub id: String,
    pub title: String,
    pub points: u32,
    /// Students with at least one submission.
    pub submitters: u64,
    /// Students with a score that counts.
    pub scored: u64,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    /// Students whose counted (best) score came from a late submission.
    pub late: u64,
    /// Students per score slice, `BINS` of them (a full score is in the last).
    pub histogram: Vec<u64>,
}

/// One check's failure rate over the students' best submissions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckRate {
    pub exercise: String,
    pub name: String,
    pub failed: u64,
    pub total: u64,
}

impl CheckRate {
    pub fn failed_percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.failed as f64 / self.total as f64
        }
    }
}

/// The slice of the histogram a score falls in.
pub fn bin(score: f64, points: u32) -> usize {
    if points == 0 {
        return BINS - 1;
    }
    let f = (score / points as f64).clamp(0.0, 1.0);
    ((f * BINS as f64) as usize).min(BINS - 1)
}

/// Median of sorted values.
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Every catalogue exercise's summary, in catalogue order (`only` narrows
/// to one exercise).
pub fn exercises(c: &Conn, only: Option<&str>) -> Result<Vec<ExerciseStats>> {
    let mut scores: BTreeMap<String, (Vec<f64>, u64)> = BTreeMap::new();
    for r in c.rows(
        "SELECT exercise, score, late FROM best_scores WHERE CAST(?1 AS TEXT) IS NULL OR exercise = ?1 ORDER BY exercise, score",
        params![only],
    )? {
        let e = scores.entry(r.get(0)?).or_default();
        e.0.push(r.get(1)?);
        e.1 += r.get::<bool>(2)? as u64;
    }
    let mut submitters: BTreeMap<String, u64> = BTreeMap::new();
    for r in c.rows(
        "SELECT exercise, count(*) FROM attempt_counts WHERE CAST(?1 AS TEXT) IS NULL OR exercise = ?1 GROUP BY exercise",
        params![only],
    )? {
        submitters.insert(r.get(0)?, r.get::<i64>(1)? as u64);
    }
    let out = crate::catalogue::all()
        .iter()
        .filter(|e| only.is_none_or(|o| o == e.id))
        .map(|e| {
            let (sorted, late) = scores.remove(e.id).unwrap_or_default();
            let mut histogram = vec![0; BINS];
            for s in &sorted {
                histogram[bin(*s, e.points)] += 1;
            }
            let mean = (!sorted.is_empty()).then(|| sorted.iter().sum::<f64>() / sorted.len() as f64);
            ExerciseStats {
                id: e.id.to_owned(),
                title: e.title.to_owned(),
                points: e.points,
                submitters: submitters.get(e.id).copied().unwrap_or(0),
                scored: sorted.len() as u64,
                mean,
                median: median(&sorted),
                late,
                histogram,
            }
        })
        .collect();
    Ok(out)
}

/// Failure rate of every check over the students' best submissions that
/// ran checks, most failed first (`only` narrows to one exercise). Every
/// check of the catalogue is listed, failed by nobody or not; a name only
/// old results carry is listed too.
pub fn check_rates(c: &Conn, only: Option<&str>) -> Result<Vec<CheckRate>> {
    let mut failed: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut checked: BTreeMap<String, u64> = BTreeMap::new();
    for r in c.rows(
        "SELECT exercise, failed_checks FROM best_scores WHERE (CAST(?1 AS TEXT) IS NULL OR exercise = ?1) AND checks > 0",
        params![only],
    )? {
        let exercise: String = r.get(0)?;
        let names = r.get::<String>(1)?;
        for name in names.split('\n').filter(|n| !n.is_empty()) {
            *failed.entry((exercise.clone(), name.to_owned())).or_default() += 1;
        }
        *checked.entry(exercise).or_default() += 1;
    }
    let mut rates = Vec::new();
    for e in crate::catalogue::all().iter().filter(|e| only.is_none_or(|o| o == e.id)) {
        let total = checked.get(e.id).copied().unwrap_or(0);
        for check in e.checks {
            let failed = failed.remove(&(e.id.to_owned(), check.name.to_owned())).unwrap_or(0);
            rates.push(CheckRate { exercise: e.id.to_owned(), name: check.name.to_owned(), failed, total });
        }
    }
    for ((exercise, name), n) in failed {
        let total = checked.get(&exercise).copied().unwrap_or(n);
        rates.push(CheckRate { exercise, name, failed: n, total });
    }
    rates.sort_by(|a, b| b.failed_percent().total_cmp(&a.failed_percent()).then(b.failed.cmp(&a.failed)));
    Ok(rates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_split_the_points_evenly_and_a_full_score_is_in_the_last() {
        assert_eq!(bin(0.0, 5), 0);
        assert_eq!(bin(0.49, 5), 0);
        assert_eq!(bin(0.5, 5), 1);
        assert_eq!(bin(4.99, 5), 9);
        assert_eq!(bin(5.0, 5), 9);
        assert_eq!(bin(7.0, 5), 9, "an over-full override stays in range");
        assert_eq!(bin(-1.0, 5), 0);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, 2.0, 9.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), Some(3.0));
    }
}
