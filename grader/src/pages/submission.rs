//! One submission as the instructor sees it.

use super::*;

pub(super) async fn submission_page(
    _me: Instructor,
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
) -> Response {
    let db = Arc::clone(&state.db);
    let found = blocking(move || db.with(|c| Ok((submissions::get(c, id)?, submissions::source(c, id)?)))).await;
    let (sub, source) = match found {
        Ok((Some(s), src)) => (s, src),
        Ok((None, _)) => {
            return PageError(StatusCode::NOT_FOUND, format!("There is no submission {id}.")).into_response()
        }
        Err(e) => return PageError::from(e).into_response(),
    };
    let diagram = sub
        .feedback
        .as_ref()
        .and_then(|f| f.diagram_svg.as_ref())
        .map(|d| base64::engine::general_purpose::STANDARD.encode(d));
    let ctx = context! {
        back => "/dashboard",
        s => context! { id => sub.id, exercise => sub.exercise, student_id => sub.student_id, submitted_at => sub.submitted_at,
                        late => sub.late, status => sub.status, attempt => sub.attempt },
        fb => sub.feedback, diagram, source,
    };
    render("submission.html", ctx).unwrap_or_else(|e| e.into_response())
}
