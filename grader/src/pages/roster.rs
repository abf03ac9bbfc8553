//! The roster: the students with their live tokens and submissions; import
//! a class list from the page, add one student, revoke or reissue a
//! student's tokens. New tokens are shown once, on the page that answers
//! the form (and its printable sheet), and stored only as hashes. Also the
//! gradebook's CSV download.

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Query};
use axum::routing::MethodRouter;

use super::*;
use crate::{gradebook, roster};

/// Largest roster file the page takes (a class of thousands is ~100 KiB).
pub(super) const MAX_UPLOAD: usize = 1 << 20;

/// The import route, with a body limit just over the file's (the form's
/// other fields and the multipart framing are small).
pub(super) fn import_route() -> MethodRouter<Arc<AppState>> {
    post(import).layer(DefaultBodyLimit::max(MAX_UPLOAD + 16 * 1024))
}

#[derive(Deserialize, Default)]
pub(super) struct RosterQuery {
    message: Option<String>,
}

pub(super) async fn roster_page(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Query(q): Query<RosterQuery>,
) -> Response {
    page(&state, &me.session, q.message.map(|m| (m, false)), None).await
}

/// The roster page with a notice on top (`true`: an error) and, after a
/// failed add, what was typed.
async fn page(
    state: &Arc<AppState>,
    session: &Session,
    notice: Option<(String, bool)>,
    typed: Option<AddForm>,
) -> Response {
    let db = Arc::clone(&state.db);
    let students = match blocking(move || db.with(|c| roster::list(c))).await {
        Ok(s) => s,
        Err(e) => return PageError::from(e).into_response(),
    };
    let students: Vec<_> = students
        .into_iter()
        .map(|s| {
            context! { id => s.id, name => s.name, email => s.email, tokens => s.tokens, submissions => s.submissions }
        })
        .collect();
    let (message, error) = notice.map(|(m, e)| (Some(m), e)).unwrap_or((None, false));
    let typed = typed.map(|f| context! { id => f.id, name => f.name, email => f.email });
    render(
        "roster.html",
        context! {
            instructor => session.instructor, csrf => session.csrf, students, message, error,
            max_upload => MAX_UPLOAD / 1024,
            typed => typed.unwrap_or_else(|| context! { id => "", name => "", email => "" }),
        },
    )
    .unwrap_or_else(|e| e.into_response())
}

/// A roster form that did not go through: the page again with why, 400 for
/// input to fix, 500 (said plainly) for a failed write.
async fn failed(
    state: &Arc<AppState>,
    session: &Session,
    what: &str,
    e: anyhow::Error,
    typed: Option<AddForm>,
) -> Response {
    let (status, text) = match e.downcast_ref::<deadlines::Invalid>() {
        Some(invalid) => (StatusCode::BAD_REQUEST, format!("Could not {what}: {invalid}. Nothing was stored.")),
        None => {
            tracing::error!("could not {what}: {e:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Could not {what}: the gradebook could not be written ({e:#}). Nothing was stored; try again."),
            )
        }
    };
    let mut r = page(state, session, Some((text, true)), typed).await;
    if r.status().is_success() {
        *r.status_mut() = status;
    }
    r
}

fn roster_back(message: &str) -> Response {
    Redirect::to(&format!("/dashboard/roster?message={}", url_escape(message))).into_response()
}

/// The page that shows new tokens, once: never cached, never stored.
fn show_tokens(session: &Session, what: &str, issued: &[roster::Issued]) -> Response {
    let tokens: Vec<_> = issued.iter().map(|i| context! { id => i.id, name => i.name, token => i.token }).collect();
    match render("tokens.html", context! { instructor => session.instructor, csrf => session.csrf, what, tokens }) {
        Ok(mut r) => {
            let h = r.headers_mut();
            h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            h.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
            r
        }
        Err(e) => e.into_response(),
    }
}

fn upload_error(e: MultipartError) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_big();
    }
    PageError(StatusCode::BAD_REQUEST, format!("The upload could not be read ({}).", e.body_text())).into_response()
}

fn too_big() -> Response {
    PageError(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "The roster file is over {} KiB; nothing was imported. Split the class list into smaller files.",
            MAX_UPLOAD / 1024
        ),
    )
    .into_response()
}

/// `POST /dashboard/roster/import`: a multipart form with `csrf` and the
/// `roster` file (CSV, header `id,name,email`). All rows or none.
pub(super) async fn import(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(e) => {
            return PageError(StatusCode::BAD_REQUEST, format!("The import is not a file upload ({}).", e.body_text()))
                .into_response()
        }
    };
    let (mut csrf, mut file) = (None, None);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return upload_error(e),
        };
        match field.name() {
            Some("csrf") => match field.text().await {
                Ok(t) => csrf = Some(t),
                Err(e) => return upload_error(e),
            },
            Some("roster") => match field.bytes().await {
                Ok(b) => file = Some(b),
                Err(e) => return upload_error(e),
            },
            _ => {}
        }
    }
    if let Err(e) = me.check_csrf(csrf.as_deref().unwrap_or("")) {
        return e.into_response();
    }
    let Some(file) = file else {
        let e = deadlines::Invalid("the form had no file; choose a CSV file".into());
        return failed(&state, &me.session, "import the roster", e.into(), None).await;
    };
    if file.len() > MAX_UPLOAD {
        return too_big();
    }
    let rows = match roster::parse(&file) {
        Ok(rows) => rows,
        Err(e) => return failed(&state, &me.session, "import the roster", e.into(), None).await,
    };
    let db = Arc::clone(&state.db);
    match blocking(move || db.with(|c| roster::store(c, &rows, |_| Ok(())))).await {
        Ok(issued) => {
            let what = format!("Imported {} student(s).", issued.len());
            show_tokens(&me.session, &what, &issued)
        }
        Err(e) => failed(&state, &me.session, "import the roster", e, None).await,
    }
}

#[derive(Deserialize)]
pub(super) struct AddForm {
    csrf: String,
    id: String,
    name: String,
    email: String,
}

pub(super) async fn add(me: Instructor, State(state): State<Arc<AppState>>, Form(f): Form<AddForm>) -> Response {
    if let Err(e) = me.check_csrf(&f.csrf) {
        return e.into_response();
    }
    let row = match roster::Row::new("the new student", &f.id, &f.name, &f.email) {
        Ok(row) => row,
        Err(e) => return failed(&state, &me.session, "add the student", e.into(), Some(f)).await,
    };
    let db = Arc::clone(&state.db);
    match blocking(move || db.with(|c| roster::add(c, &row))).await {
        Ok(issued) => show_tokens(&me.session, &format!("Added student {}.", issued.id), &[issued]),
        Err(e) => failed(&state, &me.session, "add the student", e, Some(f)).await,
    }
}

#[derive(Deserialize)]
pub(super) struct StudentForm {
    csrf: String,
    student: String,
}

/// Revokes every token of a student: the old ones fail from now on.
pub(super) async fn revoke(me: Instructor, State(state): State<Arc<AppState>>, Form(f): Form<StudentForm>) -> Response {
    if let Err(e) = me.check_csrf(&f.csrf) {
        return e.into_response();
    }
    if let Some(r) = too_long(&[("student", &f.student)]) {
        return r;
    }
    let (db, student) = (Arc::clone(&state.db), f.student.clone());
    match blocking(move || db.with(|c| roster::revoke(c, &student))).await {
        Ok(n) => roster_back(&format!("Revoked {n} token(s) of {}.", f.student)),
        Err(e) => failed(&state, &me.session, "revoke the tokens", e, None).await,
    }
}

/// Revokes every token of a student and issues one new one, shown once.
pub(super) async fn reissue(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Form(f): Form<StudentForm>,
) -> Response {
    if let Err(e) = me.check_csrf(&f.csrf) {
        return e.into_response();
    }
    if let Some(r) = too_long(&[("student", &f.student)]) {
        return r;
    }
    let (db, student) = (Arc::clone(&state.db), f.student.clone());
    match blocking(move || db.with(|c| roster::reissue(c, &student))).await {
        Ok(issued) => show_tokens(
            &me.session,
            &format!("Reissued the token of {} (the old ones no longer work).", issued.id),
            &[issued],
        ),
        Err(e) => failed(&state, &me.session, "reissue the token", e, None).await,
    }
}

/// `GET /dashboard/export.csv`: the Canvas CSV of `distlab-grader export`.
pub(super) async fn export(_me: Instructor, State(state): State<Arc<AppState>>) -> PageResult {
    let db = Arc::clone(&state.db);
    let csv = blocking(move || {
        db.with(|c| {
            let mut out = Vec::new();
            gradebook::write_csv(c, &mut out)?;
            Ok(out)
        })
    })
    .await?;
    let name = format!("distlab-grades-{}.csv", chrono::Utc::now().format("%Y-%m-%d"));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        csv,
    )
        .into_response())
}
