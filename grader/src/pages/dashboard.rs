//! The regrade form (one exercise or all).

use super::*;

#[derive(Deserialize)]
pub(super) struct RegradeForm {
    csrf: String,
    exercise: String,
}

pub(super) async fn regrade(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Form(f): Form<RegradeForm>,
) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    if let Some(r) = too_long(&[("exercise", &f.exercise)]) {
        return r;
    }
    let db = Arc::clone(&state.db);
    let scope = match f.exercise.as_str() {
        "" => queue::RegradeScope::All,
        e => queue::RegradeScope::Exercise(e.to_owned()),
    };
    let instructor = me.session.instructor.clone();
    let r = blocking(move || db.with(|c| queue::enqueue_regrade(c, &scope, &instructor))).await;
    if let Some(w) = &state.wake {
        w.notify();
    }
    match r {
        Ok(r) => back_with(&format!("{} submission(s) queued for regrading.", r.queued)),
        Err(e) => PageError::from(e.context("queueing the regrade")).into_response(),
    }
}
