//! Regrades: the list, and one regrade's progress and change list (the
//! page refreshes itself while the regrade runs).

use super::*;
use crate::regrades;

/// Regrades listed, and changes listed per regrade.
const LIST: i64 = 100;
const CHANGES: i64 = 1000;

fn row(g: &regrades::RegradeRow) -> minijinja::Value {
    context! {
        id => g.id, scope => g.scope(), instructor => g.instructor, started_at => g.started_at,
        total => g.total, done => g.done, finished => g.finished(),
        exercise_url => g.exercise.as_deref().map(url_escape), exercise => g.exercise, submission_id => g.submission_id,
    }
}

pub(super) async fn regrade_list(me: Instructor, State(state): State<Arc<AppState>>) -> Response {
    let db = Arc::clone(&state.db);
    let list = match blocking(move || db.with(|c| regrades::list(c, LIST))).await {
        Ok(l) => l,
        Err(e) => return PageError::from(e).into_response(),
    };
    let rows: Vec<_> = list.iter().map(row).collect();
    render("regrades.html", context! { instructor => me.session.instructor, csrf => me.session.csrf, rows })
        .unwrap_or_else(|e| e.into_response())
}

pub(super) async fn regrade_page(me: Instructor, State(state): State<Arc<AppState>>, Path(id): Path<i64>) -> Response {
    let db = Arc::clone(&state.db);
    let found = blocking(move || {
        db.with(|c| {
            let Some(g) = regrades::progress(c, id)? else { return Ok(None) };
            Ok(Some((g, regrades::changes(c, id, CHANGES)?)))
        })
    })
    .await;
    let (g, changes) = match found {
        Ok(Some(f)) => f,
        Ok(None) => return PageError(StatusCode::NOT_FOUND, format!("There is no regrade {id}.")).into_response(),
        Err(e) => return PageError::from(e).into_response(),
    };
    let score = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "none".into());
    let changes: Vec<_> = changes
        .iter()
        .map(|ch| {
            context! {
                id => ch.submission_id, student_url => url_escape(&ch.student_id), student => ch.student_id, exercise => ch.exercise,
                old_status => ch.old_status, new_status => ch.new_status,
                old_score => score(ch.old_score), new_score => score(ch.new_score),
            }
        })
        .collect();
    let more = changes.len() as i64 >= CHANGES;
    // A regrade of the whole course (300,000 items) takes about half a
    // second to look at: such a page refreshes itself less often.
    let refresh = if g.total > 10_000 { 10 } else { 2 };
    render(
        "regrade.html",
        context! { instructor => me.session.instructor, csrf => me.session.csrf, g => row(&g), changes, more, refresh },
    )
    .unwrap_or_else(|e| e.into_response())
}
