//! Server-rendered pages: the instructor's login and pages (one module per
//! page) and the student page. Forms carry the session's CSRF token; the session cookie is
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
use crate::{catalogue, deadlines, queue, submissions};

const COOKIE: &str = "distlab_session";
/// The login form's CSRF token (double submit: this cookie and the form's
/// hidden field must match; a cross-site post carries neither, the cookie
/// being SameSite=Strict and unreadable to other origins).
const LOGIN_COOKIE: &str = "distlab_login";

mod dashboard;
mod exercise;
mod grid;
pub mod live;
mod login;
mod overview;
mod regrade_pages;
mod roster;
mod student;
mod student_view;
mod submission;
#[cfg(test)]
mod test_kit;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_roster;
#[cfg(test)]
mod tests_submission;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/login", get(login::login_form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/dashboard", get(overview::overview))
        .route("/dashboard/gradebook", get(grid::gradebook))
        .route("/dashboard/exercises/{id}", get(exercise::exercise))
        .route("/dashboard/exercises/{id}/settings", post(exercise::save_settings))
        .route("/dashboard/exercises/{id}/extensions", post(exercise::grant_extension))
        .route("/dashboard/exercises/{id}/extensions/revoke", post(exercise::revoke_extension))
        .route("/dashboard/submissions/{id}", get(submission::submission_page))
        .route("/dashboard/submissions/{id}/override", post(submission::override_score))
        .route("/dashboard/submissions/{id}/withdraw", post(submission::withdraw_override))
        .route("/dashboard/submissions/{id}/regrade", post(submission::regrade_one))
        .route("/dashboard/students/{id}", get(student_view::student_view))
        .route("/dashboard/students/{id}/diff", get(student_view::student_diff))
        .route("/dashboard/regrades", get(regrade_pages::regrade_list))
        .route("/dashboard/regrades/{id}", get(regrade_pages::regrade_page))
        .route("/dashboard/regrade", post(dashboard::regrade))
        .route("/student", get(student::student_form).post(student::student_page))
        .route("/dashboard/roster", get(roster::roster_page))
        .route("/dashboard/roster/import", roster::import_route())
        .route("/dashboard/roster/add", post(roster::add))
        .route("/dashboard/roster/revoke", post(roster::revoke))
        .route("/dashboard/roster/reissue", post(roster::reissue))
        .route("/dashboard/export.csv", get(roster::export))
        .route("/dashboard/events", get(live::events))
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, text) in [
            ("base.html", include_str!("../../templates/base.html")),
            ("login.html", include_str!("../../templates/login.html")),
            ("overview.html", include_str!("../../templates/overview.html")),
            ("recent.html", include_str!("../../templates/recent.html")),
            ("gradebook.html", include_str!("../../templates/gradebook.html")),
            ("exercise.html", include_str!("../../templates/exercise.html")),
            ("submission.html", include_str!("../../templates/submission.html")),
            ("student.html", include_str!("../../templates/student.html")),
            ("student_view.html", include_str!("../../templates/student_view.html")),
            ("regrades.html", include_str!("../../templates/regrades.html")),
            ("regrade.html", include_str!("../../templates/regrade.html")),
            ("roster.html", include_str!("../../templates/roster.html")),
            ("tokens.html", include_str!("../../templates/tokens.html")),
            ("live.html", include_str!("../../templates/live.html")),
        ] {
            env.add_template(name, text).expect("templates parse");
        }
        env.add_filter("time", time_filter);
        env
    })
}

/// A gradebook time (RFC 3339, UTC) as people read it: to the minute, in
/// UTC here; the page's script rewrites it in the reader's time zone.
pub fn readable_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

/// `{{ t|time }}`: a `<time>` element the page's script shows in local time.
fn time_filter(value: Option<String>) -> minijinja::Value {
    let Some(t) = value.filter(|t| !t.is_empty()) else { return minijinja::Value::from("") };
    let e = distlab::html::escape;
    minijinja::Value::from_safe_string(format!("<time datetime=\"{}\">{}</time>", e(&t), e(&readable_time(&t))))
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

/// A time from a form: empty is none; RFC 3339 as typed; or a browser's
/// `datetime-local` value ("2026-12-01T23:59") in the zone `offset_minutes`
/// east of UTC, which the page's script fills in (no script: UTC).
fn parse_time(field: &str, s: &str, offset_minutes: &str) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&chrono::Utc)));
    }
    let invalid = || deadlines::Invalid(format!("the {field} {s:?} is not a date and time like 2026-12-01 23:59"));
    let local = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .ok_or_else(invalid)?;
    let minutes: i32 = match offset_minutes.trim() {
        "" => 0,
        m => m.parse().map_err(|_| deadlines::Invalid(format!("the time zone offset {m:?} is not a number")))?,
    };
    let zone = chrono::FixedOffset::east_opt(minutes * 60)
        .ok_or_else(|| deadlines::Invalid(format!("the time zone offset {minutes} min is out of range")))?;
    let t = local.and_local_timezone(zone).single().ok_or_else(invalid)?;
    Ok(Some(t.with_timezone(&chrono::Utc)))
}

/// A stored time as a `datetime-local` value in UTC (the script shows it
/// in the reader's zone).
fn local_input(t: Option<chrono::DateTime<chrono::Utc>>) -> (String, String) {
    match t {
        Some(t) => (t.format("%Y-%m-%dT%H:%M").to_string(), crate::db::rfc3339(t)),
        None => (String::new(), String::new()),
    }
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
