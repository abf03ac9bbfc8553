//! The course overview, the instructor's first page: per exercise who
//! submitted and how the scores spread, the checks that fail most across
//! the class, and the newest submissions (kept live by `live.html`).

use super::*;
use crate::{charts, stats};

/// Checks listed in the class heat map.
const HEAT_MAP_ROWS: usize = 20;
/// Rows of the newest submissions.
const RECENT: i64 = 30;

#[derive(Deserialize, Default)]
pub(super) struct OverviewQuery {
    message: Option<String>,
}

pub(super) async fn overview(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    axum::extract::Query(q): axum::extract::Query<OverviewQuery>,
) -> Response {
    let db = Arc::clone(&state.db);
    let data = blocking(move || {
        db.with(|c| {
            let ex = stats::exercises(c, None)?;
            let mut rates = stats::check_rates(c, None)?;
            rates.retain(|r| r.failed > 0);
            rates.truncate(HEAT_MAP_ROWS);
            // The live stream starts right after the newest grading this page shows.
            let cursor = super::live::Cursor::now(c)?.encode();
            let recent = submissions::list(c, None, RECENT)?;
            Ok((ex, rates, recent, queue::pending(c)?, cursor))
        })
    })
    .await;
    let (ex, rates, recent, pending, live_cursor) = match data {
        Ok(d) => d,
        Err(e) => return PageError::from(e).into_response(),
    };
    let exercises: Vec<_> = ex
        .iter()
        .map(|e| {
            let svg = charts::histogram(&e.histogram, e.points, &format!("best scores of {}", e.id));
            context! {
                histogram => minijinja::Value::from_safe_string(svg),
                mean => e.mean.map(|m| format!("{m:.2}")), median => e.median.map(|m| format!("{m:.2}")),
                ..minijinja::Value::from_serialize(e)
            }
        })
        .collect();
    let heat: Vec<_> = rates
        .iter()
        .map(|r| {
            let pct = r.failed_percent();
            context! {
                exercise => r.exercise, name => r.name, failed => r.failed, total => r.total,
                percent => format!("{pct:.0}"), heat => heat_class(pct),
                href => format!("/dashboard/exercises/{}?failing={}", url_escape(&r.exercise), url_escape(&r.name)),
            }
        })
        .collect();
    let recent: Vec<_> = recent.iter().map(submission_row).collect();
    render(
        "overview.html",
        context! {
            instructor => me.session.instructor, csrf => me.session.csrf, message => q.message,
            exercises, heat, recent, pending, live_cursor,
        },
    )
    .unwrap_or_else(|e| e.into_response())
}

/// A colour step for a failure (or score) percentage: h0 (none) .. h4 (most).
pub(super) fn heat_class(percent: f64) -> &'static str {
    match percent {
        p if p >= 60.0 => "h4",
        p if p >= 40.0 => "h3",
        p if p >= 20.0 => "h2",
        p if p > 0.0 => "h1",
        _ => "h0",
    }
}

/// One line of a submissions table (the same columns `live.html` adds).
pub(super) fn submission_row(s: &submissions::Submission) -> minijinja::Value {
    context! {
        id => s.id, student => s.student_id, exercise => s.exercise, status => s.status,
        score => s.score.map(|v| format!("{v:.2}")).unwrap_or_default(),
        overridden => s.override_score.is_some(),
        summary => s.summary.clone().unwrap_or_default(),
        submitted_at => s.submitted_at, late => s.late,
    }
}
