//! The pages' access rules and forms, through the router.

use axum::body::Body;
use axum::http::Request;

use super::test_kit::{get, kit, post_form, send};
use super::*;
use crate::db::Db;

/// The kit as a tuple: (router, gradebook, s1's token, session cookie, CSRF token).
fn setup(dir: &std::path::Path) -> (Router, Arc<Db>, String, String, String) {
    let k = kit(dir, "Ada");
    (k.app, k.db, k.token, k.cookie, k.csrf)
}

fn post(path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Request<Body> {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
    post_form(path, &headers, fields)
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
        for path in ["/dashboard", "/dashboard/gradebook", "/dashboard/exercises/warmup", "/dashboard/submissions/1"] {
            let (s, loc, _) = send(&app, get(path, &headers)).await;
            assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/login")), "{path} {headers:?}");
        }
    }
    // A student's token with a well-formed form changes nothing either.
    let settings =
        [("csrf", csrf.as_str()), ("deadline", "2030-01-01T00:00:00Z"), ("late_deadline", ""), ("late_penalty", "0")];
    let mut req = post("/dashboard/exercises/warmup/settings", None, &settings);
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
    let (s, _, _) = send(&app, post("/dashboard/exercises/warmup/settings", Some(&cookie), &forged)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, loc, _) = send(&app, post("/dashboard/exercises/warmup/settings", Some(&cookie), &settings)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.unwrap().contains("Saved"));
}

#[tokio::test]
async fn a_failed_form_says_why_and_keeps_what_was_typed() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db, _, cookie, csrf) = setup(dir.path());
    let send_form = |deadline: &str, penalty: &str| {
        let fields =
            [("csrf", csrf.as_str()), ("deadline", deadline), ("late_deadline", ""), ("late_penalty", penalty)];
        post("/dashboard/exercises/warmup/settings", Some(&cookie), &fields)
    };
    // Input the instructor must fix: 400, the reason, the typed text.
    let (s, _, html) = send(&app, send_form("next friday", "0.1")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("class=\"error\"") && html.contains("is not a date and time"), "{html}");
    assert!(html.contains("value=\"next friday\"") && html.contains("value=\"0.1\""), "{html}");
    let (s, _, html) = send(&app, send_form("2030-01-01T00:00:00Z", "2")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("between 0 and 1") && html.contains("value=\"2\""), "{html}");
    // A write the gradebook refuses: 500, said plainly, typed text kept.
    db.with(|c| {
        c.execute_batch(match c.backend() {
            crate::db::Backend::Sqlite => {
                "CREATE TRIGGER refuse BEFORE INSERT ON exercise_settings BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"
            }
            crate::db::Backend::Postgres => {
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'disk on fire'; END $$;
                 CREATE TRIGGER refuse BEFORE INSERT ON exercise_settings FOR EACH ROW EXECUTE FUNCTION refuse();"
            }
        })
    })
    .unwrap();
    let (s, _, html) = send(&app, send_form("2030-01-01T00:00:00Z", "0.25")).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(html.contains("could not be written") && html.contains("disk on fire"), "{html}");
    assert!(html.contains("value=\"2030-01-01T00:00:00Z\"") && html.contains("value=\"0.25\""), "{html}");
    assert!(db.with(|c| deadlines::settings(c, "warmup")).unwrap().deadline.is_none());
    // An extension for nobody: the fields stay filled in.
    let ext = [("csrf", csrf.as_str()), ("student", "s9"), ("until", "2030-02-01T00:00:00Z")];
    let (s, _, html) = send(&app, post("/dashboard/exercises/warmup/extensions", Some(&cookie), &ext)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("no student") && html.contains("value=\"s9\""), "{html}");
}

#[tokio::test]
async fn the_gradebook_sorts_filters_and_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db, _, cookie, _) = setup(dir.path());
    db.with(|c| {
        c.execute("INSERT INTO students (id, name, email) VALUES ('s2', '<script>alert(1)</script>', '')", ())?;
        c.execute("INSERT INTO students (id, name, email) VALUES ('s3', 'Grace', '')", ())?;
        Ok(())
    })
    .unwrap();
    crate::test_support::graded(&db, "warmup", "s1", 2.0);
    crate::test_support::graded(&db, "warmup", "s2", 5.0);
    crate::test_support::graded(&db, "warmup", "s3", 4.0);
    let order = |html: &str| -> Vec<String> {
        html.match_indices("data-student=\"")
            .map(|(i, m)| html[i + m.len()..].split('"').next().unwrap().to_owned())
            .collect()
    };
    let (s, _, html) = send(&app, get("/dashboard/gradebook?sort=warmup&dir=desc", &[("cookie", &cookie)])).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(order(&html), ["s2", "s3", "s1"], "best warmup first");
    assert!(!html.contains("<script>alert") && html.contains("&lt;script&gt;alert(1)&lt;"), "{html}");
    let (_, _, html) = send(&app, get("/dashboard/gradebook?sort=name", &[("cookie", &cookie)])).await;
    assert_eq!(order(&html), ["s2", "s1", "s3"], "'<script>' < 'ada' < 'grace'");
    let (_, _, html) = send(&app, get("/dashboard/gradebook?q=GRA", &[("cookie", &cookie)])).await;
    assert_eq!(order(&html), ["s3"], "filter by name, any case");
    // The overview and the exercise page summarise the same scores.
    let (s, _, html) = send(&app, get("/dashboard", &[("cookie", &cookie)])).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("<svg class=\"histogram\"") && html.contains("3.67 / 5"), "mean of 2, 5 and 4: {html}");
    assert!(html.contains("67 %") && html.contains("pong answers ping"), "2 of 3 fail the check: {html}");
    let (s, _, html) =
        send(&app, get("/dashboard/exercises/warmup?failing=pong%20answers%20ping", &[("cookie", &cookie)])).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(html.matches("/dashboard/submissions/").count(), 2, "the two failing best submissions: {html}");
    let (s, _, _) = send(&app, get("/dashboard/exercises/nope", &[("cookie", &cookie)])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deadlines_typed_in_the_instructors_zone_are_stored_in_utc() {
    let dir = tempfile::tempdir().unwrap();
    let (app, db, _, cookie, csrf) = setup(dir.path());
    // 12:00 in New York in January (UTC-5), as the page's script sends it.
    let fields = [
        ("csrf", csrf.as_str()),
        ("deadline", "2030-01-15T12:00"),
        ("deadline_offset", "-300"),
        ("late_deadline", "2030-07-15T12:00"),
        ("late_deadline_offset", "-240"),
        ("late_penalty", "0.5"),
    ];
    let (s, loc, _) = send(&app, post("/dashboard/exercises/warmup/settings", Some(&cookie), &fields)).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{loc:?}");
    let set = db.with(|c| deadlines::settings(c, "warmup")).unwrap();
    assert_eq!(set.deadline.unwrap().to_rfc3339(), "2030-01-15T17:00:00+00:00");
    assert_eq!(set.late_deadline.unwrap().to_rfc3339(), "2030-07-15T16:00:00+00:00");
    // Shown back as UTC for the script to localise.
    let (_, _, html) = send(&app, get("/dashboard/exercises/warmup", &[("cookie", &cookie)])).await;
    assert!(html.contains("value=\"2030-01-15T17:00\" data-utc=\"2030-01-15T17:00:00.000000Z\""), "{html}");
    // A grant and a revoke.
    let ext = [("csrf", csrf.as_str()), ("student", "s1"), ("until", "2030-02-01T09:30"), ("until_offset", "60")];
    let (s, _, _) = send(&app, post("/dashboard/exercises/warmup/extensions", Some(&cookie), &ext)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let granted = db.with(|c| deadlines::extensions(c, "warmup")).unwrap();
    assert_eq!(granted.len(), 1);
    assert!(granted[0].until.starts_with("2030-02-01T08:30:00"), "{granted:?}");
    let revoke = [("csrf", csrf.as_str()), ("student", "s1")];
    let (s, loc, _) = send(&app, post("/dashboard/exercises/warmup/extensions/revoke", Some(&cookie), &revoke)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.unwrap().contains("Revoked"));
    assert!(db.with(|c| deadlines::extensions(c, "warmup")).unwrap().is_empty());
    // Nonsense offsets are refused with the typed values kept.
    let bad = [
        ("csrf", csrf.as_str()),
        ("deadline", "2030-01-15T12:00"),
        ("deadline_offset", "99999"),
        ("late_deadline", ""),
        ("late_penalty", ""),
    ];
    let (s, _, html) = send(&app, post("/dashboard/exercises/warmup/settings", Some(&cookie), &bad)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("out of range") && html.contains("value=\"2030-01-15T12:00\""), "{html}");
}
