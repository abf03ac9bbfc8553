//! The student's own page: their submissions and feedback, from their token.

use super::*;

pub(super) async fn student_form() -> PageResult {
    render("student.html", context! {})
}

#[derive(Deserialize)]
pub(super) struct TokenForm {
    token: String,
}

/// The student's own submissions and feedback (hidden checks redacted
/// until their deadline), from their token.
pub(super) async fn student_page(State(state): State<Arc<AppState>>, Form(f): Form<TokenForm>) -> PageResult {
    if f.token.len() > 2 * MAX_FIELD {
        let mut r = render("student.html", context! { error => format!("A token is {MAX_FIELD} characters.") })?;
        *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        return Ok(r);
    }
    let db = Arc::clone(&state.db);
    let found = blocking(move || {
        let Some(who) = auth::student_for_token(&db, f.token.trim())? else { return Ok(None) };
        db.with(|c| {
            let mut out = Vec::new();
            for s in submissions::list_with_reports(c, &who, 200)? {
                let passed = deadlines::for_student(c, &who, &s.exercise)?.deadline_passed(chrono::Utc::now());
                out.push(crate::api::submission_view(s, passed)?);
            }
            Ok(Some((who, out)))
        })
    })
    .await?;
    let Some((who, subs)) = found else {
        let mut r = render("student.html", context! { error => "That token is not valid." })?;
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(r);
    };
    // The template reads the API's own fields, plus the diagram as base64
    // for its data URI.
    let subs: Vec<_> = subs
        .into_iter()
        .map(|s| {
            let diagram = s.diagram_svg.as_ref().map(|d| base64::engine::general_purpose::STANDARD.encode(d));
            let whole = s.whole_run.as_ref().map(|w| base64::engine::general_purpose::STANDARD.encode(&w.svg));
            context! { diagram, whole, ..minijinja::Value::from_serialize(&s) }
        })
        .collect();
    render("student.html", context! { student => who, submissions => subs })
}
