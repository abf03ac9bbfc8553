//! What the pages' router tests share: a gradebook with student s1 and a
//! logged-in instructor, and requests sent through the router.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use super::*;
use crate::db::Db;
use crate::ratelimit::{RateLimit, SubmissionLimit};

pub(super) struct Kit {
    pub app: Router,
    pub db: Arc<Db>,
    /// Student s1's token.
    pub token: String,
    /// The instructor's session cookie ("name=value") and its CSRF token.
    pub cookie: String,
    pub csrf: String,
}

/// A gradebook with student s1 named `name` and instructor "prof" logged in.
pub(super) fn kit(dir: &std::path::Path, name: &str) -> Kit {
    let db = Arc::new(crate::test_support::open_db(dir));
    let token = db
        .with(|c| {
            c.execute("INSERT INTO students (id, name, email) VALUES ('s1', ?1, 'ada@x')", [name])?;
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
    Kit { app: routes().with_state(state), db, token, cookie: format!("{COOKIE}={session}"), csrf }
}

/// The response's status, headers and body.
pub(super) async fn send_raw(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let r = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let body = axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// The response's status, redirect target and body.
pub(super) async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Option<String>, String) {
    let (status, headers, body) = send_raw(app, req).await;
    (status, headers.get(header::LOCATION).map(|l| l.to_str().unwrap().to_owned()), body)
}

pub(super) fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::get(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::empty()).unwrap()
}

/// A form post, as a browser encodes it.
pub(super) fn post_form(path: &str, headers: &[(&str, &str)], fields: &[(&str, &str)]) -> Request<Body> {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", url_escape(v))).collect();
    let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body.join("&"))).unwrap()
}
