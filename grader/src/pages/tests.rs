//! The pages' access rules and forms, through the router.

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
