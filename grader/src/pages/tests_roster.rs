//! The roster page, its import, tokens and sheet, the CSV download and the
//! live events stream, through the router.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use futures_util::StreamExt;
use tower::ServiceExt;

use super::test_kit::{get, kit, post_form, send_raw as send, Kit as Fixture};
use super::*;
use crate::db::Db;
use crate::feedback::Feedback;
use crate::ratelimit::SubmissionLimit;

/// A gradebook with student s1 (Ada) and a logged-in instructor.
fn setup(dir: &std::path::Path) -> Fixture {
    kit(dir, "Ada")
}

fn post(path: &str, headers: &[(&str, &str)], fields: &[(&str, &str)]) -> Request<Body> {
    post_form(path, headers, fields)
}

const BOUNDARY: &str = "roster-test-boundary-7f3a";

/// The import form as a browser sends it.
fn upload(headers: &[(&str, &str)], csrf: &str, file: &[u8]) -> Request<Body> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{BOUNDARY}\r\n\
         Content-Disposition: form-data; name=\"roster\"; filename=\"class.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let mut b = Request::post("/dashboard/roster/import")
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body)).unwrap()
}

/// (students, tokens) in the gradebook.
fn counts(db: &Db) -> (i64, i64) {
    db.with(|c| {
        Ok((
            c.query_row("SELECT count(*) FROM students", (), |r| r.get(0))?,
            c.query_row("SELECT count(*) FROM tokens", (), |r| r.get(0))?,
        ))
    })
    .unwrap()
}

/// The 64-hex-digit tokens in a page.
fn tokens_in(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in html.match_indices("<code class=\"token\">") {
        let t = &html[i + "<code class=\"token\">".len()..][..64];
        out.push(t.to_owned());
    }
    out
}

#[tokio::test]
async fn roster_routes_send_strangers_and_students_to_the_login_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = setup(dir.path());
    let bearer = format!("Bearer {}", f.token);
    let before = counts(&f.db);
    for headers in [vec![], vec![("authorization", bearer.as_str())], vec![("cookie", "distlab_session=0000")]] {
        let csrf = f.csrf.as_str();
        let requests = [
            get("/dashboard/roster", &headers),
            get("/dashboard/export.csv", &headers),
            get("/dashboard/events", &headers),
            upload(&headers, csrf, b"id,name,email\ns2,Bob,b@x\n"),
            post("/dashboard/roster/add", &headers, &[("csrf", csrf), ("id", "s3"), ("name", "C"), ("email", "")]),
            post("/dashboard/roster/revoke", &headers, &[("csrf", csrf), ("student", "s1")]),
            post("/dashboard/roster/reissue", &headers, &[("csrf", csrf), ("student", "s1")]),
        ];
        for req in requests {
            let what = format!("{} {} {headers:?}", req.method(), req.uri());
            let (s, h, _) = send(&f.app, req).await;
            assert_eq!(s, StatusCode::SEE_OTHER, "{what}");
            assert_eq!(h.get(header::LOCATION).unwrap(), "/login", "{what}");
        }
    }
    assert_eq!(counts(&f.db), before);
    assert_eq!(auth::student_for_token(&f.db, &f.token).unwrap().as_deref(), Some("s1"));
    // A forged form from a logged-in instructor's browser changes nothing either.
    let me = [("cookie", f.cookie.as_str())];
    let (s, _, _) = send(&f.app, upload(&me, "forged", b"id,name,email\ns2,Bob,b@x\n")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for path in ["/dashboard/roster/revoke", "/dashboard/roster/reissue"] {
        let (s, _, _) = send(&f.app, post(path, &me, &[("csrf", "forged"), ("student", "s1")])).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let add = [("csrf", "forged"), ("id", "s3"), ("name", "C"), ("email", "")];
    let (s, _, _) = send(&f.app, post("/dashboard/roster/add", &me, &add)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(counts(&f.db), before);
}

#[tokio::test]
async fn an_imported_roster_shows_each_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = setup(dir.path());
    let me = [("cookie", f.cookie.as_str())];
    let csv = "id,name,email\ns2,Bob,bob@x\ns3,Cy,cy@x\ns1,Ada Lovelace,ada@y\n";
    let (s, h, html) = send(&f.app, upload(&me, &f.csrf, csv.as_bytes())).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert!(html.contains("Imported 3 student(s)"), "{html}");
    let tokens = tokens_in(&html);
    assert_eq!(tokens.len(), 3, "{html}");
    for (t, id) in tokens.iter().zip(["s2", "s3", "s1"]) {
        assert_eq!(auth::student_for_token(&f.db, t).unwrap().as_deref(), Some(id));
        // The sheet links carry the token in the fragment only.
        assert!(html.contains(&format!("href=\"/student#token={t}\"")), "{html}");
    }
    // s1 keeps the old token too, with the new name.
    assert_eq!(auth::student_for_token(&f.db, &f.token).unwrap().as_deref(), Some("s1"));
    let (s, _, page) = send(&f.app, get("/dashboard/roster", &me)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Ada Lovelace") && page.contains("cy@x"), "{page}");
    assert!(page.contains("href=\"/dashboard/students/s2\""), "{page}");
    for t in &tokens {
        assert!(!page.contains(t.as_str()), "a token is shown again");
    }
    assert!(page.contains("<tr data-student=\"s1\">"), "{page}");
    // Only hashes are stored.
    let stored: Vec<String> =
        f.db.with(|c| {
            let rows = c.query_map("SELECT hash FROM tokens", (), |r| r.get(0))?;
            Ok(rows)
        })
        .unwrap();
    assert!(tokens.iter().all(|t| !stored.contains(t)));
}

#[tokio::test]
async fn a_bad_roster_says_which_row_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = setup(dir.path());
    let me = [("cookie", f.cookie.as_str())];
    let before = counts(&f.db);
    let cases: [(&[u8], &str); 7] = [
        (b"", "the file is empty"),
        (b"id,name,email\n", "no students"),
        (b"id,name\ns2,Bob\n", "row 1 (the header) has no email column"),
        (b"id,name,email\ns2,Bob,b@x\ns 3,Cy,c@x\n", "row 3: student id &quot;s 3&quot;"),
        (b"id,name,email\ns2,Bob,b@x\ns2,Cy,c@x\n", "row 3: student id s2 is already on row 2"),
        (b"id,name,email\ns2,Bob,b@x\ns3,C\xe9cile,c@x\n", "row 3 is not UTF-8"),
        (b"id,name,email\ns2,Bob\n", "row 2: 2 field(s) where the header has 3"),
    ];
    for (csv, says) in cases {
        let (s, _, html) = send(&f.app, upload(&me, &f.csrf, csv)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{says}: {html}");
        assert!(html.contains("class=\"error\"") && html.contains(says), "{says}: {html}");
        assert!(html.contains("Nothing was stored"), "{html}");
        assert_eq!(counts(&f.db), before, "{says}");
    }
}

#[tokio::test]
async fn an_oversize_roster_is_refused_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let f = setup(dir.path());
    let me = [("cookie", f.cookie.as_str())];
    let before = counts(&f.db);
    let mut csv = b"id,name,email\n".to_vec();
    let mut i = 0;
    while csv.len() <= roster::MAX_UPLOAD + 20_000 {
        csv.extend_from_slice(format!("s{i},Student number {i},s{i}@example.org\n").as_bytes());
        i += 1;
    }
    let (s, _, html) = send(&f.app, upload(&me, &f.csrf, &csv)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{html}");
    assert!(html.contains("over 1024 KiB"), "{html}");
    // Just under the body limit but over the file's: the same answer.
    csv.truncate(roster::MAX_UPLOAD + 100);
    let (s, _, html) = send(&f.app, upload(&me, &f.csrf, &csv)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{html}");
    assert_eq!(counts(&f.db), before);
}

#[tokio::test]
async fn names_stay_text_in_the_page_the_sheet_and_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let f = setup(dir.path());
    let me = [("cookie", f.cookie.as_str())];
    let csv = "id,name,email\nx1,<script>alert(1)</script>,=cmd|' /C calc'!A0\nx2,=HYPERLINK(\"http://evil\"),+x@y\n";
    let (s, _, sheet) = send(&f.app, upload(&me, &f.csrf, csv.as_bytes())).await;
    assert_eq!(s, StatusCode::OK, "{sheet}");
    let (_, _, page) = send(&f.app, get("/dashboard/roster", &me)).await;
    for html in [&sheet, &page] {
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "{html}");
    }
    let (s, h, body) = send(&f.app, get("/dashboard/export.csv", &me)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get(header::CONTENT_TYPE).unwrap().to_str().unwrap().starts_with("text/csv"));
    let disposition = h.get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap();
    let today = chrono::Utc::now().format("%Y-%m-%d");
    assert_eq!(disposition, format!("attachment; filename=\"distlab-grades-{today}.csv\""));
    let mut rows = csv::Reader::from_reader(body.as_bytes());
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    let x1 = rows.iter().find(|r| &r[2] == "x1").unwrap();
    assert_eq!(&x1[0], "<script>alert(1)</script>");
    assert_eq!(&x1[3], "'=cmd|' /C calc'!A0");
    let x2 = rows.iter().find(|r| &r[2] == "x2").unwrap();
    assert_eq!(&x2[0], "'=HYPERLINK(\"http://evil\")");
    assert_eq!(&x2[3], "'+x@y");
    // The same bytes as the CLI's export.
    let path = dir.path().join("export.csv");
    f.db.with(|c| crate::gradebook::export_csv(c, &path)).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), body);
}

#[tokio::test]
async fn revoke_and_reissue_end_the_old_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let f = setup(dir.path());
    let me = [("cookie", f.cookie.as_str())];
    let (s, _, html) =
        send(&f.app, post("/dashboard/roster/reissue", &me, &[("csrf", &f.csrf), ("student", "s1")])).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    let new = tokens_in(&html);
    assert_eq!(new.len(), 1);
    assert_eq!(auth::student_for_token(&f.db, &f.token).unwrap(), None);
    assert_eq!(auth::student_for_token(&f.db, &new[0]).unwrap().as_deref(), Some("s1"));
    let (s, h, _) = send(&f.app, post("/dashboard/roster/revoke", &me, &[("csrf", &f.csrf), ("student", "s1")])).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let to = h.get(header::LOCATION).unwrap().to_str().unwrap().to_owned();
    assert!(to.starts_with("/dashboard/roster?message=Revoked%201%20token"), "{to}");
    assert_eq!(auth::student_for_token(&f.db, &new[0]).unwrap(), None);
    let (_, _, page) = send(&f.app, get(&to, &me)).await;
    assert!(page.contains("Revoked 1 token(s) of s1."), "{page}");
    assert!(page.contains("<td class=\"num tokens\">0</td>"), "{page}");
    // Nobody to revoke: said, nothing changed.
    let (s, _, html) =
        send(&f.app, post("/dashboard/roster/revoke", &me, &[("csrf", &f.csrf), ("student", "s9")])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("there is no student"), "{html}");
}

#[tokio::test]
async fn one_student_is_added_by_form() {
    let dir = tempfile::tempdir().unwrap();
    let f = setup(dir.path());
    let me = [("cookie", f.cookie.as_str())];
    let form = |id: &'static str, name: &'static str| {
        post("/dashboard/roster/add", &me, &[("csrf", &f.csrf), ("id", id), ("name", name), ("email", "n@x")])
    };
    let (s, _, html) = send(&f.app, form("s2", "Bob")).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    let t = tokens_in(&html);
    assert_eq!(auth::student_for_token(&f.db, &t[0]).unwrap().as_deref(), Some("s2"));
    // Taken id and bad id: the page says why and keeps what was typed.
    let (s, _, html) = send(&f.app, form("s1", "Someone Else")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("already on the roster") && html.contains("value=\"Someone Else\""), "{html}");
    let (s, _, html) = send(&f.app, form("bad id", "Carl")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains("value=\"bad id\"") && html.contains("value=\"Carl\""), "{html}");
    assert_eq!(counts(&f.db), (2, 2));
}

/// Reads an SSE body for `wait` at most, or until `until` is in it.
async fn read_events(body: Body, wait: Duration, until: &str) -> String {
    let mut stream = body.into_data_stream();
    let mut text = String::new();
    let _ = tokio::time::timeout(wait, async {
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if !until.is_empty() && text.contains(until) {
                break;
            }
        }
    })
    .await;
    text
}

fn grade(db: &Db, student: &str) -> i64 {
    db.with(|c| {
        let crate::submissions::Stored::Created(id) = submissions::store(
            c,
            student,
            "warmup",
            None,
            "fn main() {}",
            &SubmissionLimit::new(0, Duration::from_secs(60)),
        )?
        else {
            panic!("not stored")
        };
        let claimed = queue::claim(c, "w1")?.unwrap();
        assert_eq!(claimed.submission_id, id);
        let fb = Feedback {
            score: Some(0.75),
            max_score: 1.0,
            output: "ok <b>fine</b>\nsecond line".into(),
            tests: vec![],
            diagram_svg: None,
            whole_run: None,
            replay: None,
            hidden_failed: Default::default(),
        };
        assert!(queue::complete(c, "w1", id, queue::Verdict::Graded, false, &fb)?);
        Ok(id)
    })
    .unwrap()
}

#[tokio::test]
async fn the_events_stream_sends_each_grading_once_after_its_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let f = setup(dir.path());
    let me = [("cookie", f.cookie.as_str())];
    let old = grade(&f.db, "s1");
    // A stream opened now starts after what is already graded.
    let r = f.app.clone().oneshot(get("/dashboard/events", &me)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get(header::CONTENT_TYPE).unwrap().to_str().unwrap().starts_with("text/event-stream"));
    let reading = tokio::spawn(read_events(r.into_body(), Duration::from_secs(10), "event: graded"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = grade(&f.db, "s1");
    let text = reading.await.unwrap();
    assert!(text.contains("event: pending\n") && text.contains("data: 0\n"), "{text}");
    let graded: Vec<&str> = text.split("\n\n").filter(|e| e.contains("event: graded")).collect();
    assert_eq!(graded.len(), 1, "{text}");
    let data = graded[0].lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let data: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(data["id"], id);
    assert_ne!(data["id"], old);
    assert_eq!(data["student"], "s1");
    assert_eq!(data["exercise"], "warmup");
    assert_eq!(data["status"], "graded");
    assert_eq!(data["score"], "0.75");
    assert_eq!(data["summary"], "ok <b>fine</b>");
    let cursor = graded[0].lines().find_map(|l| l.strip_prefix("id: ")).unwrap().to_owned();
    assert!(cursor.ends_with(&format!("/{id}")), "{cursor}");
    // From the beginning, both; after the cursor (query or Last-Event-ID), none.
    let r = f.app.clone().oneshot(get("/dashboard/events?after=%2F0", &me)).await.unwrap();
    let text = read_events(r.into_body(), Duration::from_millis(1500), "").await;
    assert_eq!(text.matches("event: graded").count(), 2, "{text}");
    let after = format!("/dashboard/events?after={}", url_escape(&cursor));
    let r = f.app.clone().oneshot(get(&after, &me)).await.unwrap();
    let text = read_events(r.into_body(), Duration::from_millis(1500), "").await;
    assert!(text.contains("event: pending") && !text.contains("event: graded"), "{text}");
    let headers = [("cookie", f.cookie.as_str()), ("last-event-id", cursor.as_str())];
    let r = f.app.clone().oneshot(get("/dashboard/events?after=%2F0", &headers)).await.unwrap();
    let text = read_events(r.into_body(), Duration::from_millis(1500), "").await;
    assert!(text.contains("event: pending") && !text.contains("event: graded"), "{text}");
    // Past the cap on open streams: 503, with a retry hint.
    let held = live::STREAMS.try_acquire_many(live::STREAMS.available_permits() as u32).unwrap();
    let (s, h, body) = send(&f.app, get("/dashboard/events", &me)).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(h.contains_key(header::RETRY_AFTER) && body.contains("Too many live pages"), "{body}");
    drop(held);
}
