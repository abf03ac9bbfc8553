//! Server-rendered pages: instructor login and dashboard (grid, submissions,
//! one report with its diagram, deadlines, extensions, regrade) and the
//! student page. Forms carry the session's CSRF token; the session cookie is
//! HttpOnly and SameSite=Strict. Diagrams are shown as `<img>` data URIs so
//! no SVG content ever runs as part of the page.

use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use base64::Engine;
use minijinja::{context, Environment};
use serde::Deserialize;

use crate::auth::{self, Session};
use crate::blocking::blocking;
use crate::server::AppState;
use crate::{catalogue, deadlines, gradebook, queue, submissions};

const COOKIE: &str = "distlab_session";
/// The login form's CSRF token (double submit: this cookie and the form's
/// hidden field must match; a cross-site post carries neither, the cookie
/// being SameSite=Strict and unreadable to other origins).
const LOGIN_COOKIE: &str = "distlab_login";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/dashboard", get(dashboard))
        .route("/dashboard/submissions/{id}", get(submission_page))
        .route("/dashboard/settings", post(save_settings))
        .route("/dashboard/extension", post(grant_extension))
        .route("/dashboard/regrade", post(regrade))
        .route("/student", get(student_form).post(student_page))
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, text) in [
            ("base.html", include_str!("../templates/base.html")),
            ("login.html", include_str!("../templates/login.html")),
            ("dashboard.html", include_str!("../templates/dashboard.html")),
            ("submission.html", include_str!("../templates/submission.html")),
            ("student.html", include_str!("../templates/student.html")),
        ] {
            env.add_template(name, text).expect("templates parse");
        }
        env
    })
}

/// A page error: a short HTML sentence.
struct PageError(StatusCode, String);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body =
            format!("<!doctype html><p>{}</p><p><a href=\"/dashboard\">back</a></p>", distlab::html::escape(&self.1));
        (self.0, Html(body)).into_response()
    }
}

fn internal(e: impl std::fmt::Display) -> PageError {
    tracing::error!("page error: {e:#}");
    PageError(StatusCode::INTERNAL_SERVER_ERROR, "The grader hit an internal error.".into())
}

/// A failure inside the grader is logged and shown as the generic sentence.
impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> Self {
        internal(e)
    }
}

type PageResult = Result<Response, PageError>;

/// Longest value of any dashboard form field (ids, RFC 3339 times, numbers).
const MAX_FIELD: usize = 64;

/// Every form field is short: an oversize one is refused with a clear
/// error, never stored, parsed or echoed back.
fn too_long(fields: &[(&str, &str)]) -> Option<Response> {
    let (name, _) = fields.iter().find(|(_, v)| v.len() > MAX_FIELD)?;
    Some(
        PageError(StatusCode::PAYLOAD_TOO_LARGE, format!("The {name} field is over {MAX_FIELD} bytes."))
            .into_response(),
    )
}

fn render(name: &str, ctx: minijinja::Value) -> PageResult {
    let html = templates().get_template(name).and_then(|t| t.render(ctx)).map_err(internal)?;
    Ok(Html(html).into_response())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// The logged-in instructor. As a handler argument it guards the handler:
/// a request without a live session cookie (none, expired, or only a
/// student's bearer token) is sent to the login page before the handler
/// runs.
pub struct Instructor {
    /// The session cookie's value (logout ends that session).
    cookie: String,
    pub session: Session,
}

impl FromRequestParts<Arc<AppState>> for Instructor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Response> {
        let Some(id) = cookie(&parts.headers, COOKIE) else { return Err(Redirect::to("/login").into_response()) };
        let (db, lookup) = (Arc::clone(&state.db), id.clone());
        match blocking(move || auth::session(&db, &lookup)).await {
            Ok(Some(session)) => Ok(Instructor { cookie: id, session }),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

impl Instructor {
    /// A form post must also carry the session's CSRF token.
    fn check_csrf(&self, csrf: &str) -> Result<(), PageError> {
        if auth::same_secret(&self.session.csrf, csrf) {
            return Ok(());
        }
        Err(PageError(
            StatusCode::FORBIDDEN,
            "The form is stale or forged (CSRF token mismatch); reload the page.".into(),
        ))
    }
}

async fn login_form(headers: HeaderMap) -> Response {
    let token = cookie(&headers, LOGIN_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(auth::random_token);
    login_page(&token, None, StatusCode::OK)
}

/// The login page with its CSRF token in the form and in the cookie.
fn login_page(token: &str, error: Option<String>, status: StatusCode) -> Response {
    let mut r = match render("login.html", context! { csrf => token, error }) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    *r.status_mut() = status;
    let c = format!("{LOGIN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=3600");
    r.headers_mut().insert(header::SET_COOKIE, c.parse().expect("hex cookie"));
    r
}

#[derive(Deserialize)]
struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// A name as the log shows it: escaped (a newline or escape code cannot
/// forge a log line) and at most 64 characters.
fn log_safe(s: &str) -> String {
    crate::api::quoted(s)
}

/// Guessing is limited without letting anyone lock the instructor out:
/// - attempts are counted per (client address, name) and per client over
///   all names, before the slow check (so parallel posts cannot slip past),
///   and the right password takes its attempt back: only the guesser's own
///   address is ever refused, and another address's failures never stop
///   someone who knows the password;
/// - argon2 runs for at most `LOGIN_CHECKS` logins at a time over all
///   clients: a global slow-down that bounds the guess rate of many
///   addresses together (and the CPU they take from grading), where others
///   wait their turn rather than being refused.
async fn login(
    State(state): State<Arc<AppState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let token = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if token.is_empty() || !auth::same_secret(&token, &f.csrf) {
        return PageError(
            StatusCode::FORBIDDEN,
            "The login form is stale or forged (CSRF token mismatch); reload the login page.".into(),
        )
        .into_response();
    }
    if f.name.len() > auth::MAX_NAME || f.password.len() > auth::MAX_PASSWORD {
        let error = format!(
            "The name is limited to {} bytes and the password to {} bytes.",
            auth::MAX_NAME,
            auth::MAX_PASSWORD
        );
        return login_page(&token, Some(error), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let client = peer.ip().to_string();
    let counted = state.login_rate.check(&client, &f.name).and_then(|()| {
        state.login_client_rate.check(&client, "").inspect_err(|_| state.login_rate.forgive(&client, &f.name))
    });
    if let Err(wait) = counted {
        return login_page(
            &token,
            Some(format!("Too many attempts: try again in {wait} s.")),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let Ok(_turn) = state.login_checks.acquire().await else {
        return internal("login semaphore closed").into_response();
    };
    let db = Arc::clone(&state.db);
    let name = f.name.clone();
    let id = blocking(move || {
        if auth::check_password(&db, &f.name, &f.password)? {
            Ok(Some(auth::create_session(&db, &f.name)?))
        } else {
            Ok(None)
        }
    })
    .await;
    let id = match id {
        Ok(id) => id,
        Err(e) => return PageError::from(e).into_response(),
    };
    let Some(id) = id else {
        tracing::warn!(instructor = %log_safe(&name), %client, "failed login");
        return login_page(&token, Some("Wrong name or password.".into()), StatusCode::UNAUTHORIZED);
    };
    state.login_rate.forgive(&client, &name);
    state.login_client_rate.forgive(&client, "");
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}", auth::SESSION_SECS);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/dashboard")).into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(me: Instructor, State(state): State<Arc<AppState>>, Form(f): Form<CsrfForm>) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let clear = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let db = Arc::clone(&state.db);
    if let Err(e) = blocking(move || auth::end_session(&db, &me.cookie)).await {
        // The cookie is cleared all the same, but the session would still
        // work elsewhere: say so rather than pretend.
        tracing::error!("ending a session: {e:#}");
        let msg = "Could not end the session in the gradebook; it stays valid until it expires. Try again.";
        return ([(header::SET_COOKIE, clear)], PageError(StatusCode::INTERNAL_SERVER_ERROR, msg.into()))
            .into_response();
    }
    ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response()
}

#[derive(Deserialize, Default)]
struct DashboardQuery {
    message: Option<String>,
}

async fn dashboard(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    axum::extract::Query(q): axum::extract::Query<DashboardQuery>,
) -> Response {
    let notice = q.message.map(|text| Notice { text, error: false });
    dashboard_page(&state, &me.session, notice, Typed::default()).await
}

/// The line above the dashboard: a confirmation, or why a form failed.
struct Notice {
    text: String,
    error: bool,
}

/// What the instructor typed into a form that did not go through: the
/// dashboard shows it again instead of the stored values.
#[derive(Default)]
struct Typed {
    settings: Option<SettingsForm>,
    extension: Option<ExtensionForm>,
}

async fn dashboard_page(state: &Arc<AppState>, session: &Session, notice: Option<Notice>, typed: Typed) -> Response {
    let db = Arc::clone(&state.db);
    let kept = typed.settings;
    let data = blocking(move || {
        db.with(|c| {
            let students = gradebook::students(c)?;
            let scores = gradebook::best_scores(c)?;
            let exercises = catalogue::all();
            let grid: Vec<_> = students
                .iter()
                .map(|st| {
                    let cells: Vec<String> = exercises
                        .iter()
                        .map(|e| {
                            scores.get(&(st.id.clone(), e.id.to_owned())).map(|v| format!("{v:.2}")).unwrap_or_default()
                        })
                        .collect();
                    let total: f64 =
                        exercises.iter().filter_map(|e| scores.get(&(st.id.clone(), e.id.to_owned()))).sum();
                    context! { id => st.id, name => st.name, cells => cells, total => format!("{total:.2}") }
                })
                .collect();
            let ex: Vec<_> = exercises
                .iter()
                .map(|e| {
                    if let Some(f) = kept.as_ref().filter(|f| f.exercise == e.id) {
                        return Ok(context! {
                            id => e.id, title => e.title, points => e.points,
                            deadline => f.deadline, late_deadline => f.late_deadline, late_penalty => f.late_penalty,
                        });
                    }
                    let set = deadlines::settings(c, e.id)?;
                    Ok(context! {
                        id => e.id, title => e.title, points => e.points,
                        deadline => set.deadline.map(|d| d.to_rfc3339()).unwrap_or_default(),
                        late_deadline => set.late_deadline.map(|d| d.to_rfc3339()).unwrap_or_default(),
                        late_penalty => set.late_penalty,
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            let subs: Vec<_> = submissions::list(c, None, 100)?
                .into_iter()
                .map(|s| {
                    context! {
                        id => s.id, student => s.student_id, exercise => s.exercise, status => s.status,
                        score => s.score.map(|v| format!("{v:.2}")).unwrap_or_default(),
                        summary => s.summary.unwrap_or_default(),
                        submitted_at => s.submitted_at, late => s.late,
                    }
                })
                .collect();
            Ok((grid, ex, subs, queue::pending(c)?))
        })
    })
    .await;
    let (grid, ex, subs, pending) = match data {
        Ok(d) => d,
        Err(e) => return PageError::from(e).into_response(),
    };
    let ext = typed.extension.map(|f| context! { student => f.student, exercise => f.exercise, until => f.until });
    let (message, error) = notice.map(|n| (Some(n.text), n.error)).unwrap_or((None, false));
    render(
        "dashboard.html",
        context! {
            instructor => session.instructor, csrf => session.csrf, grid, exercises => ex, submissions => subs, pending,
            message, error, ext => ext.unwrap_or_else(|| context! { student => "", exercise => "", until => "" }),
        },
    )
    .unwrap_or_else(|e| e.into_response())
}

/// A dashboard form that did not go through: the dashboard again, with the
/// reason on top and the typed values in place. `Invalid` input is the
/// instructor's to fix (400); anything else is a failed write (500).
async fn form_failed(state: &Arc<AppState>, session: &Session, what: &str, e: anyhow::Error, typed: Typed) -> Response {
    let (status, text) = match e.downcast_ref::<deadlines::Invalid>() {
        Some(invalid) => (StatusCode::BAD_REQUEST, format!("Could not {what}: {invalid}.")),
        None => {
            tracing::error!("could not {what}: {e:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "Could not {what}: the gradebook could not be written ({e:#}). Nothing was changed; try again."
                ),
            )
        }
    };
    let mut r = dashboard_page(state, session, Some(Notice { text, error: true }), typed).await;
    if r.status().is_success() {
        *r.status_mut() = status;
    }
    r
}

async fn submission_page(_me: Instructor, State(state): State<Arc<AppState>>, Path(id): Path<i64>) -> Response {
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

#[derive(Deserialize)]
struct SettingsForm {
    csrf: String,
    exercise: String,
    deadline: String,
    late_deadline: String,
    late_penalty: String,
}

/// An empty field is no deadline; anything else must be RFC 3339.
fn parse_time(field: &str, s: &str) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| {
        deadlines::Invalid(format!("the {field} {s:?} is not an RFC 3339 time like 2026-12-01T23:59:00Z ({e})"))
    })?;
    Ok(Some(t.with_timezone(&chrono::Utc)))
}

fn parse_exercise(id: &str) -> anyhow::Result<&'static distlab::catalogue::ExerciseSpec> {
    Ok(catalogue::spec(id).ok_or_else(|| deadlines::Invalid(format!("there is no exercise {id:?}")))?)
}

fn back_with(message: &str) -> Response {
    let q: String = url_escape(message);
    Redirect::to(&format!("/dashboard?message={q}")).into_response()
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn save_settings(me: Instructor, State(state): State<Arc<AppState>>, Form(f): Form<SettingsForm>) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let fields = [
        ("exercise", f.exercise.as_str()),
        ("deadline", &f.deadline),
        ("late deadline", &f.late_deadline),
        ("late penalty", &f.late_penalty),
    ];
    if let Some(r) = too_long(&fields) {
        return r;
    }
    let parsed = (|| {
        let spec = parse_exercise(&f.exercise)?;
        let penalty = match f.late_penalty.trim() {
            "" => 0.0,
            p => p.parse::<f64>().map_err(|_| deadlines::Invalid(format!("the late penalty {p:?} is not a number")))?,
        };
        let s = deadlines::Settings {
            deadline: parse_time("deadline", &f.deadline)?,
            late_deadline: parse_time("late deadline", &f.late_deadline)?,
            late_penalty: penalty,
        };
        anyhow::Ok((spec.id, s))
    })();
    let written = match parsed {
        Ok((id, s)) => {
            let db = Arc::clone(&state.db);
            blocking(move || db.with(|c| deadlines::set_settings(c, id, &s))).await.map(|()| id)
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(id) => back_with(&format!("Saved the deadlines of {id}.")),
        Err(e) => {
            let what = format!("save the deadlines of {}", f.exercise);
            form_failed(&state, &me.session, &what, e, Typed { settings: Some(f), ..Typed::default() }).await
        }
    }
}

#[derive(Deserialize)]
struct ExtensionForm {
    csrf: String,
    student: String,
    exercise: String,
    until: String,
}

async fn grant_extension(me: Instructor, State(state): State<Arc<AppState>>, Form(f): Form<ExtensionForm>) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    if let Some(r) = too_long(&[("student", &f.student), ("exercise", &f.exercise), ("until", &f.until)]) {
        return r;
    }
    let parsed = (|| {
        let spec = parse_exercise(&f.exercise)?;
        let until = parse_time("date", &f.until)?.ok_or_else(|| deadlines::Invalid("the date is empty".into()))?;
        anyhow::Ok((spec.id, until))
    })();
    let written = match parsed {
        Ok((id, until)) => {
            let (db, student) = (Arc::clone(&state.db), f.student.trim().to_owned());
            blocking(move || db.with(|c| deadlines::set_extension(c, &student, id, until))).await.map(|()| (id, until))
        }
        Err(e) => Err(e),
    };
    match written {
        Ok((id, until)) => {
            back_with(&format!("Extension for {} on {} until {}.", f.student.trim(), id, until.to_rfc3339()))
        }
        Err(e) => {
            let typed = Typed { extension: Some(f), ..Typed::default() };
            form_failed(&state, &me.session, "grant the extension", e, typed).await
        }
    }
}

#[derive(Deserialize)]
struct RegradeForm {
    csrf: String,
    exercise: String,
}

async fn regrade(me: Instructor, State(state): State<Arc<AppState>>, Form(f): Form<RegradeForm>) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    if let Some(r) = too_long(&[("exercise", &f.exercise)]) {
        return r;
    }
    let db = Arc::clone(&state.db);
    let exercise = Some(f.exercise.clone()).filter(|e| !e.is_empty());
    let r = blocking(move || db.with(|c| queue::enqueue_regrade(c, exercise.as_deref()))).await;
    if let Some(w) = &state.wake {
        w.notify();
    }
    match r {
        Ok(n) => back_with(&format!("{n} submission(s) queued for regrading.")),
        Err(e) => form_failed(&state, &me.session, "queue the regrade", e, Typed::default()).await,
    }
}

async fn student_form() -> PageResult {
    render("student.html", context! {})
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

/// The student's own submissions and feedback (hidden checks redacted
/// until their deadline), from their token.
async fn student_page(State(state): State<Arc<AppState>>, Form(f): Form<TokenForm>) -> PageResult {
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
            context! { diagram, ..minijinja::Value::from_serialize(&s) }
        })
        .collect();
    render("student.html", context! { student => who, submissions => subs })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::db::Db;
    use crate::ratelimit::{RateLimit, SubmissionLimit};

    /// A gradebook with student s1 (returns their token) and a logged-in
    /// instructor (returns the session cookie and its CSRF token).
    fn setup(dir: &std::path::Path) -> (Router, Arc<Db>, String, String, String) {
        let db = Arc::new(Db::open(&dir.join("db.sqlite")).unwrap());
        let token = db
            .with(|c| {
                c.execute("INSERT INTO students (id, name, email) VALUES ('s1', 'Ada', 'ada@x')", [])?;
                auth::issue_token(c, "s1")
            })
            .unwrap();
        auth::add_instructor(&db, "prof", "correct horse battery").unwrap();
        let session = auth::create_session(&db, "prof").unwrap();
        let csrf = auth::session(&db, &session).unwrap().unwrap().csrf;
        let state = Arc::new(AppState {
            db: Arc::clone(&db),
            secret: vec![7; 32],
            submission_limit: SubmissionLimit::new(0, Duration::from_secs(60)),
            login_rate: RateLimit::new(5, Duration::from_secs(60)),
            login_client_rate: RateLimit::new(30, Duration::from_secs(60)),
            login_checks: tokio::sync::Semaphore::new(1),
            wake: None,
        });
        (routes().with_state(state), db, token, format!("{COOKIE}={session}"), csrf)
    }

    async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Option<String>, String) {
        let r = app.clone().oneshot(req).await.unwrap();
        let loc = r.headers().get(header::LOCATION).map(|l| l.to_str().unwrap().to_owned());
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap();
        (status, loc, String::from_utf8(body.to_vec()).unwrap())
    }

    fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::get(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    fn post(path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Request<Body> {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", url_escape(v))).collect();
        let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        b.body(Body::from(body.join("&"))).unwrap()
    }

    #[tokio::test]
    async fn instructor_pages_send_strangers_and_students_to_the_login() {
        let dir = tempfile::tempdir().unwrap();
        let (app, db, token, cookie, csrf) = setup(dir.path());
        let bearer = format!("Bearer {token}");
        for headers in [
            vec![],
            vec![("authorization", bearer.as_str())],
            vec![("cookie", "distlab_session=0000")],
            vec![("cookie", "other=1")],
        ] {
            for path in ["/dashboard", "/dashboard/submissions/1"] {
                let (s, loc, _) = send(&app, get(path, &headers)).await;
                assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/login")), "{path} {headers:?}");
            }
        }
        // A student's token with a well-formed form changes nothing either.
        let settings = [
            ("csrf", csrf.as_str()),
            ("exercise", "warmup"),
            ("deadline", "2030-01-01T00:00:00Z"),
            ("late_deadline", ""),
            ("late_penalty", "0"),
        ];
        let mut req = post("/dashboard/settings", None, &settings);
        req.headers_mut().insert(header::AUTHORIZATION, bearer.parse().unwrap());
        let (s, loc, _) = send(&app, req).await;
        assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/login")));
        assert!(db.with(|c| deadlines::settings(c, "warmup")).unwrap().deadline.is_none());
        // The instructor's own session gets the page, and a CSRF mismatch is refused.
        let (s, _, html) = send(&app, get("/dashboard", &[("cookie", &cookie)])).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("Logged in as prof"));
        let mut forged = settings;
        forged[0].1 = "forged";
        let (s, _, _) = send(&app, post("/dashboard/settings", Some(&cookie), &forged)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, loc, _) = send(&app, post("/dashboard/settings", Some(&cookie), &settings)).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(loc.unwrap().contains("Saved"));
    }

    #[tokio::test]
    async fn a_failed_form_says_why_and_keeps_what_was_typed() {
        let dir = tempfile::tempdir().unwrap();
        let (app, db, _, cookie, csrf) = setup(dir.path());
        let send_form = |deadline: &str, penalty: &str| {
            let fields = [
                ("csrf", csrf.as_str()),
                ("exercise", "warmup"),
                ("deadline", deadline),
                ("late_deadline", ""),
                ("late_penalty", penalty),
            ];
            post("/dashboard/settings", Some(&cookie), &fields)
        };
        // Input the instructor must fix: 400, the reason, the typed text.
        let (s, _, html) = send(&app, send_form("next friday", "0.1")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(html.contains("class=\"error\"") && html.contains("RFC 3339"), "{html}");
        assert!(html.contains("value=\"next friday\"") && html.contains("value=\"0.1\""), "{html}");
        let (s, _, html) = send(&app, send_form("2030-01-01T00:00:00Z", "2")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(html.contains("between 0 and 1") && html.contains("value=\"2\""), "{html}");
        // A write the gradebook refuses: 500, said plainly, typed text kept.
        db.with(|c| {
            c.execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON exercise_settings BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
            )?;
            Ok(())
        })
        .unwrap();
        let (s, _, html) = send(&app, send_form("2030-01-01T00:00:00Z", "0.25")).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(html.contains("could not be written") && html.contains("disk on fire"), "{html}");
        assert!(html.contains("value=\"2030-01-01T00:00:00Z\"") && html.contains("value=\"0.25\""), "{html}");
        assert!(db.with(|c| deadlines::settings(c, "warmup")).unwrap().deadline.is_none());
        // An extension for nobody: the fields stay filled in.
        let ext =
            [("csrf", csrf.as_str()), ("student", "s9"), ("exercise", "warmup"), ("until", "2030-02-01T00:00:00Z")];
        let (s, _, html) = send(&app, post("/dashboard/extension", Some(&cookie), &ext)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(html.contains("no student") && html.contains("value=\"s9\""), "{html}");
        assert!(html.contains("<option selected>warmup</option>"), "{html}");
    }
}
