//! The submission, student and regrade pages through the router: access
//! rules, the override form's every refusal, and escaping.

use axum::body::Body;
use axum::http::Request;

use super::test_kit::{get, kit, post_form, send, Kit};
use super::*;
use crate::db::Db;
use crate::gradebook;
use crate::overrides::tests::{grade, graded};

const XSS: &str = "<script>alert(1)</script>";

/// A gradebook with student s1 (returns their token), two graded
/// submissions of s1 and one of s2 on warmup, and a logged-in instructor.
struct Setup {
    app: Router,
    db: Arc<Db>,
    token: String,
    cookie: String,
    csrf: String,
    subs: [i64; 3],
}

fn setup(dir: &std::path::Path) -> Setup {
    let Kit { app, db, token, cookie, csrf } = kit(dir, &format!("Ada {XSS}"));
    let subs = db
        .with(|c| {
            Ok([
                graded(c, "s1", "warmup", &format!("fn main() {{\n    let s = \"{XSS}\"; // {XSS}\n}}\n"), Some(1.0)),
                graded(c, "s1", "warmup", "fn main() {\n    println!(\"two\");\n}\n", None),
                graded(c, "s2", "warmup", "fn other() {}\n", Some(2.0)),
            ])
        })
        .unwrap();
    Setup { app, db, token, cookie, csrf, subs }
}

fn post(path: &str, headers: &[(&str, &str)], fields: &[(&str, &str)]) -> Request<Body> {
    post_form(path, headers, fields)
}

/// Rows in the tables the pages write.
fn writes(db: &Db) -> (i64, i64, i64) {
    db.with(|c| {
        let n = |t: &str| c.query_row(&format!("SELECT count(*) FROM {t}"), (), |r| r.get::<i64>(0));
        Ok((n("overrides")?, n("regrades")?, n("jobs")?))
    })
    .unwrap()
}

#[tokio::test]
async fn every_page_and_form_sends_strangers_and_students_to_the_login() {
    let dir = tempfile::tempdir().unwrap();
    let t = setup(dir.path());
    let [a, b, _] = t.subs;
    t.db.with(|c| queue::enqueue_regrade(c, &queue::RegradeScope::Submission(a), "prof")).unwrap();
    t.db.with(|c| {
        grade(c, a, Some(1.0));
        Ok(())
    })
    .unwrap();
    let before = writes(&t.db);
    let bearer = format!("Bearer {}", t.token);
    for headers in [vec![], vec![("authorization", bearer.as_str())], vec![("cookie", "distlab_session=0000")]] {
        for path in [
            format!("/dashboard/submissions/{a}"),
            "/dashboard/students/s1".into(),
            format!("/dashboard/students/s1/diff?a={a}&b={b}"),
            "/dashboard/regrades".into(),
            "/dashboard/regrades/1".into(),
        ] {
            let (s, loc, _) = send(&t.app, get(&path, &headers)).await;
            assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/login")), "{path} {headers:?}");
        }
        for (path, fields) in [
            ("override", vec![("csrf", t.csrf.as_str()), ("score", "3"), ("comment", "why")]),
            ("withdraw", vec![("csrf", t.csrf.as_str())]),
            ("regrade", vec![("csrf", t.csrf.as_str())]),
        ] {
            let path = format!("/dashboard/submissions/{a}/{path}");
            let (s, loc, _) = send(&t.app, post(&path, &headers, &fields)).await;
            assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/login")), "{path} {headers:?}");
        }
        let exercise = [("csrf", t.csrf.as_str()), ("exercise", "warmup")];
        let (s, loc, _) = send(&t.app, post("/dashboard/regrade", &headers, &exercise)).await;
        assert_eq!((s, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/login")));
    }
    assert_eq!(writes(&t.db), before);
    // The instructor gets each page; a forged form is refused and writes nothing.
    let me = [("cookie", t.cookie.as_str())];
    for path in [
        format!("/dashboard/submissions/{a}"),
        "/dashboard/students/s1".into(),
        "/dashboard/regrades".into(),
        "/dashboard/regrades/1".into(),
    ] {
        let (s, _, html) = send(&t.app, get(&path, &me)).await;
        assert_eq!(s, StatusCode::OK, "{path}: {html}");
        assert!(html.contains("Logged in as prof"), "{path}");
    }
    for (path, fields) in [
        ("override", vec![("csrf", "forged"), ("score", "3"), ("comment", "why")]),
        ("withdraw", vec![("csrf", "forged")]),
        ("regrade", vec![("csrf", "forged")]),
    ] {
        let (s, _, _) = send(&t.app, post(&format!("/dashboard/submissions/{a}/{path}"), &me, &fields)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(writes(&t.db), before);
}

#[tokio::test]
async fn an_override_is_audited_counted_and_withdrawn_and_bad_input_is_refused_with_the_text_kept() {
    let dir = tempfile::tempdir().unwrap();
    let t = setup(dir.path());
    let [a, _, other] = t.subs;
    let me = [("cookie", t.cookie.as_str())];
    let points = catalogue::spec("warmup").unwrap().points;
    let over = |score: &str, comment: &str| {
        post(
            &format!("/dashboard/submissions/{a}/override"),
            &me,
            &[("csrf", t.csrf.as_str()), ("score", score), ("comment", comment)],
        )
    };
    let too_high = (points + 1).to_string();
    for (score, comment, status, says) in [
        ("lots", "a reason", StatusCode::BAD_REQUEST, "not a number"),
        ("NaN", "a reason", StatusCode::BAD_REQUEST, "not a number"),
        ("-1", "a reason", StatusCode::BAD_REQUEST, "between 0 and"),
        (too_high.as_str(), "a reason", StatusCode::BAD_REQUEST, "between 0 and"),
        ("1", "   ", StatusCode::BAD_REQUEST, "comment saying why is required"),
    ] {
        let (s, _, html) = send(&t.app, over(score, comment)).await;
        assert_eq!(s, status, "{score} {comment}: {html}");
        assert!(html.contains(says) && html.contains("class=\"error\""), "{html}");
        assert!(html.contains(&format!("value=\"{score}\"")), "typed score kept: {html}");
        assert!(html.contains(&format!(">{comment}</textarea>")), "typed comment kept");
    }
    let long = "x".repeat(2001);
    let (s, _, html) = send(&t.app, over("1.5", &long)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(html.contains("over 2000 characters") && !html.contains(&long) && html.contains("value=\"1.5\""));
    let (s, _, html) = send(&t.app, over(&"9".repeat(65), "a reason")).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(html.contains("over 64 bytes") && !html.contains(&"9".repeat(65)) && html.contains(">a reason</textarea>"));
    let (s, _, html) = send(
        &t.app,
        post(
            "/dashboard/submissions/999/override",
            &me,
            &[("csrf", t.csrf.as_str()), ("score", "1"), ("comment", "x")],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{html}");
    // Withdrawing with nothing in force is refused too.
    let (s, _, html) =
        send(&t.app, post(&format!("/dashboard/submissions/{a}/withdraw"), &me, &[("csrf", t.csrf.as_str())])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("no override in force"));
    assert_eq!(writes(&t.db).0, 0);
    let (s, _, _) = send(&t.app, get("/dashboard/submissions/999", &me)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The happy path: a row with who and why; the counted score changes.
    let comment = format!("rescued {XSS}");
    let (s, loc, _) = send(&t.app, over(&points.to_string(), &comment)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    assert!(loc.starts_with(&format!("/dashboard/submissions/{a}?message=")), "{loc}");
    let (s, _, html) = send(&t.app, get(&loc, &me)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&format!("<strong id=\"counted\">{:.2}</strong>", points as f64)), "{html}");
    assert!(html.contains("id=\"audit\"") && html.contains("<td>prof</td>") && html.contains("rescued &lt;script&gt;"));
    assert!(html.contains("Score overridden"));
    let best = t.db.with(|c| gradebook::best_scores(c)).unwrap();
    assert_eq!(best[&("s1".to_string(), "warmup".to_string())], points as f64);
    let results: f64 =
        t.db.with(|c| c.query_row("SELECT score FROM results WHERE submission_id = ?1", [a], |r| r.get(0))).unwrap();
    assert_eq!(results, 1.0, "the result itself is untouched");
    // Withdrawn: a second row; the graded score counts again.
    let (s, _, _) =
        send(&t.app, post(&format!("/dashboard/submissions/{a}/withdraw"), &me, &[("csrf", t.csrf.as_str())])).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, html) = send(&t.app, get(&format!("/dashboard/submissions/{a}"), &me)).await;
    assert!(html.contains("<strong id=\"counted\">1.00</strong>") && html.contains(">withdrawn<"), "{html}");
    assert_eq!(writes(&t.db).0, 2);
    assert_eq!(t.db.with(|c| gradebook::best_scores(c)).unwrap()[&("s2".to_string(), "warmup".to_string())], 2.0);
    let _ = other;

    // Regrading this one submission: a regrade of one, and its page.
    let (s, loc, _) =
        send(&t.app, post(&format!("/dashboard/submissions/{a}/regrade"), &me, &[("csrf", t.csrf.as_str())])).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    assert!(loc.starts_with("/dashboard/regrades/"), "{loc}");
    let (s, _, html) = send(&t.app, get(&loc, &me)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("0 of 1 done") && html.contains("http-equiv=\"refresh\""), "{html}");
    t.db.with(|c| {
        grade(c, a, Some(3.0));
        Ok(())
    })
    .unwrap();
    let (_, _, html) = send(&t.app, get(&loc, &me)).await;
    assert!(html.contains("1 of 1 done") && !html.contains("http-equiv=\"refresh\""), "{html}");
    assert!(
        html.contains("1.00 -&gt; 3.00") && html.contains(&format!("href=\"/dashboard/submissions/{a}\"")),
        "{html}"
    );
    let (_, _, html) = send(&t.app, get("/dashboard/regrades", &me)).await;
    assert!(html.contains("submission ") && html.contains("<td>prof</td>"), "{html}");
    // The dashboard's regrade form goes to the new regrade's page too.
    let (s, loc, _) =
        send(&t.app, post("/dashboard/regrade", &me, &[("csrf", t.csrf.as_str()), ("exercise", "warmup")])).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.unwrap().starts_with("/dashboard/regrades/"));
}

#[tokio::test]
async fn student_text_stays_text_and_the_student_page_diffs_their_own_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let t = setup(dir.path());
    let [a, b, other] = t.subs;
    let me = [("cookie", t.cookie.as_str())];
    let (s, _, html) = send(&t.app, get(&format!("/dashboard/submissions/{a}"), &me)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!html.contains(XSS) && !html.contains("<script>alert"), "{html}");
    assert!(html.contains("Ada &lt;script&gt;") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("<span class=\"ln\">2</span>"), "line numbers: {html}");
    // The compile error's output is shown as such.
    let (_, _, html) = send(&t.app, get(&format!("/dashboard/submissions/{b}"), &me)).await;
    assert!(html.contains("id=\"compile-output\"") && html.contains("mismatched types"), "{html}");

    let (s, _, html) = send(&t.app, get("/dashboard/students/s1", &me)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!html.contains("<script>alert") && html.contains("Ada &lt;script&gt;"), "{html}");
    assert!(html.contains(&format!("href=\"/dashboard/submissions/{a}\"")) && html.contains("<svg class=\"chart\""));
    assert!(html.contains("compile_error") && !html.contains(&format!("#{other}<")), "{html}");
    let (s, _, html) = send(&t.app, get(&format!("/dashboard/students/s1/diff?a={a}&b={b}"), &me)).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("<span class=\"add\">+    println!(&quot;two&quot;);</span>"), "{html}");
    assert!(html.contains("<span class=\"del\">-    let s = &quot;&lt;script&gt;"), "{html}");
    // Another student's submission, nonsense, and nobody.
    for q in [format!("a={a}&b={other}"), format!("a={a}&b=x"), format!("a={a}"), "a=999&b=998".into()] {
        let (s, _, html) = send(&t.app, get(&format!("/dashboard/students/s1/diff?{q}"), &me)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {html}");
    }
    let (s, _, _) = send(&t.app, get("/dashboard/students/nobody", &me)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_windowed_diagram_shows_the_whole_run_behind_a_toggle_on_both_pages() {
    let dir = tempfile::tempdir().unwrap();
    let t = setup(dir.path());
    let [a, _, _] = t.subs;
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let summary = format!("Show the whole run (103 events) {XSS}");
    t.db.with(|c| {
        let json: String = c.query_row("SELECT report FROM results WHERE submission_id = ?1", [a], |r| r.get(0))?;
        let mut fb: crate::feedback::Feedback = serde_json::from_str(&json)?;
        fb.diagram_svg = Some("<svg id=\"window\"/>".into());
        fb.whole_run = Some(distlab_api::WholeRun { summary: summary.clone(), svg: "<svg id=\"all\"/>".into() });
        c.execute(
            "UPDATE results SET report = ?1 WHERE submission_id = ?2",
            crate::params![serde_json::to_string(&fb)?, a],
        )?;
        Ok(())
    })
    .unwrap();
    let me = [("cookie", t.cookie.as_str())];
    let (s, _, html) = send(&t.app, get(&format!("/dashboard/submissions/{a}"), &me)).await;
    assert_eq!(s, StatusCode::OK);
    let window = html.find(&b64("<svg id=\"window\"/>")).expect("the window");
    let toggle = html.find("<details id=\"whole-run\">").expect("the toggle");
    assert!(window < toggle && html[toggle..].contains(&b64("<svg id=\"all\"/>")), "{html}");
    assert!(html.contains("Show the whole run (103 events) &lt;script&gt;") && !html.contains(XSS), "{html}");

    let (s, _, html) = send(&t.app, post("/student", &[], &[("token", t.token.as_str())])).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    let toggle = html.find("<details class=\"whole-run\">").expect("the student's toggle");
    assert!(html[toggle..].contains(&b64("<svg id=\"all\"/>")) && !html.contains(XSS), "{html}");
}
