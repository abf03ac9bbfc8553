//! Server-rendered pages: instructor login and dashboard (grid, submissions,
//! one report with its diagram, deadlines, extensions, regrade) and the
//! student page. Forms carry the session's CSRF token; the session cookie is
//! HttpOnly and SameSite=Strict. Diagrams are shown as `<img>` data URIs so
//! no SVG content ever runs as part of the page.

use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use base64::Engine;
use minijinja::{context, Environment};
use serde::Deserialize;

use crate::auth::{self, Session};
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
        let body = format!("<!doctype html><p>{}</p><p><a href=\"/dashboard\">back</a></p>", minijinja_escape(&self.1));
        (self.0, Html(body)).into_response()
    }
}

fn minijinja_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn internal(e: impl std::fmt::Display) -> PageError {
    tracing::error!("page error: {e:#}");
    PageError(StatusCode::INTERNAL_SERVER_ERROR, "The grader hit an internal error.".into())
}

type PageResult = Result<Response, PageError>;

/// Longest value of any dashboard form field (ids, RFC 3339 times, numbers).
const MAX_FIELD: usize = 64;

/// Every form field is short: an oversize one is refused with a clear
/// error, never stored, parsed or echoed back.
fn too_long(fields: &[(&str, &str)]) -> Option<Response> {
    let (name, _) = fields.iter().find(|(_, v)| v.len() > MAX_FIELD)?;
    Some(PageError(StatusCode::PAYLOAD_TOO_LARGE, format!("The {name} field is over {MAX_FIELD} bytes.")).into_response())
}

fn render(name: &str, ctx: minijinja::Value) -> PageResult {
    let html = templates().get_template(name).and_then(|t| t.render(ctx)).map_err(internal)?;
    Ok(Html(html).into_response())
}

async fn blocking<R: Send + 'static>(f: impl FnOnce() -> anyhow::Result<R> + Send + 'static) -> Result<R, PageError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?.map_err(internal)
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// The logged-in instructor, or a redirect to the login page.
async fn session(state: &Arc<AppState>, headers: &HeaderMap) -> Result<Session, Response> {
    let Some(id) = cookie(headers, COOKIE) else { return Err(Redirect::to("/login").into_response()) };
    let db = Arc::clone(&state.db);
    match blocking(move || auth::session(&db, &id)).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(Redirect::to("/login").into_response()),
        Err(e) => Err(e.into_response()),
    }
}

/// A form post: the session plus a matching CSRF token.
async fn form_session(state: &Arc<AppState>, headers: &HeaderMap, csrf: &str) -> Result<Session, Response> {
    let s = session(state, headers).await?;
    if !auth::same_secret(&s.csrf, csrf) {
        return Err(PageError(
            StatusCode::FORBIDDEN,
            "The form is stale or forged (CSRF token mismatch); reload the page.".into(),
        )
        .into_response());
    }
    Ok(s)
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
        return login_page(&token, Some(format!("Too many attempts: try again in {wait} s.")), StatusCode::TOO_MANY_REQUESTS);
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
        Err(e) => return e.into_response(),
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

async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    if let Err(r) = form_session(&state, &headers, &f.csrf).await {
        return r;
    }
    if let Some(id) = cookie(&headers, COOKIE) {
        let db = Arc::clone(&state.db);
        let _ = blocking(move || auth::end_session(&db, &id)).await;
    }
    let clear = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response()
}

#[derive(Deserialize, Default)]
struct DashboardQuery {
    message: Option<String>,
}

async fn dashboard(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<DashboardQuery>,
) -> Response {
    let s = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let db = Arc::clone(&state.db);
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
        Err(e) => return e.into_response(),
    };
    render(
        "dashboard.html",
        context! { instructor => s.instructor, csrf => s.csrf, grid, exercises => ex, submissions => subs, pending, message => q.message },
    )
    .unwrap_or_else(|e| e.into_response())
}

async fn submission_page(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    if let Err(r) = session(&state, &headers).await {
        return r;
    }
    let db = Arc::clone(&state.db);
    let found = blocking(move || db.with(|c| Ok((submissions::get(c, id)?, submissions::source(c, id)?)))).await;
    let (sub, source) = match found {
        Ok((Some(s), src)) => (s, src),
        Ok((None, _)) => {
            return PageError(StatusCode::NOT_FOUND, format!("There is no submission {id}.")).into_response()
        }
        Err(e) => return e.into_response(),
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

fn parse_time(field: &str, s: &str) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|e| anyhow::anyhow!("{field} {s:?} is not an RFC 3339 time like 2026-12-01T23:59:00Z ({e})"))?;
    Ok(Some(t.with_timezone(&chrono::Utc)))
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

async fn save_settings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(f): Form<SettingsForm>,
) -> Response {
    if let Err(r) = form_session(&state, &headers, &f.csrf).await {
        return r;
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
    let db = Arc::clone(&state.db);
    let r = blocking(move || {
        let spec = catalogue::spec(&f.exercise).ok_or_else(|| anyhow::anyhow!("no exercise {:?}", f.exercise))?;
        let penalty = if f.late_penalty.trim().is_empty() { 0.0 } else { f.late_penalty.trim().parse::<f64>()? };
        let s = deadlines::Settings {
            deadline: parse_time("deadline", &f.deadline)?,
            late_deadline: parse_time("late deadline", &f.late_deadline)?,
            late_penalty: penalty,
        };
        db.with(|c| deadlines::set_settings(c, spec.id, &s))?;
        Ok(format!("Saved the deadlines of {}.", spec.id))
    })
    .await;
    match r {
        Ok(m) => back_with(&m),
        Err(_) => back_with("Could not save: check the times (RFC 3339) and the penalty (0 to 1)."),
    }
}

#[derive(Deserialize)]
struct ExtensionForm {
    csrf: String,
    student: String,
    exercise: String,
    until: String,
}

async fn grant_extension(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(f): Form<ExtensionForm>,
) -> Response {
    if let Err(r) = form_session(&state, &headers, &f.csrf).await {
        return r;
    }
    if let Some(r) = too_long(&[("student", &f.student), ("exercise", &f.exercise), ("until", &f.until)]) {
        return r;
    }
    let db = Arc::clone(&state.db);
    let r = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let spec =
            catalogue::spec(&f.exercise).ok_or_else(|| anyhow::anyhow!("there is no exercise {:?}", f.exercise))?;
        let until = parse_time("the date", &f.until)?.ok_or_else(|| anyhow::anyhow!("the date is empty"))?;
        db.with(|c| deadlines::set_extension(c, f.student.trim(), spec.id, until))?;
        Ok(format!("Extension for {} on {} until {}.", f.student.trim(), spec.id, until.to_rfc3339()))
    })
    .await;
    match r {
        Ok(Ok(m)) => back_with(&m),
        Ok(Err(e)) => back_with(&format!("Could not grant the extension: {e}")),
        Err(e) => internal(e).into_response(),
    }
}

#[derive(Deserialize)]
struct RegradeForm {
    csrf: String,
    exercise: String,
}

async fn regrade(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(f): Form<RegradeForm>) -> Response {
    if let Err(r) = form_session(&state, &headers, &f.csrf).await {
        return r;
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
        Err(e) => e.into_response(),
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
                out.push(crate::api::submission_json(s, passed));
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
    let subs: Vec<_> = subs
        .into_iter()
        .map(|mut v| {
            let d = v
                .get("diagram_svg")
                .and_then(|d| d.as_str())
                .map(|d| base64::engine::general_purpose::STANDARD.encode(d));
            v["diagram"] = serde_json::json!(d);
            minijinja::Value::from_serialize(&v)
        })
        .collect();
    render("student.html", context! { student => who, submissions => subs })
}
