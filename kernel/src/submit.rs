//! `:submit ID`: outbox first, then the grader; wait for the grade with a
//! progress line that updates in place; show score and per-test feedback.

use crate::errors::KernelError;
use crate::grader_client::{Client, ClientError, Login};
use crate::outbox::{Outbox, Pending};
use distlab::diagram::{Diagram, WholeRun};
use distlab::html::escape as esc;
use distlab_api::{CheckStatus, Submission};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long `:submit` waits for a grade before it gives up waiting.
pub const WAIT: Duration = Duration::from_secs(120);

/// What the submission flow needs from the kernel.
pub trait Screen {
    /// Show `data`; with `update`, replace what was shown under `display_id`.
    fn show(&mut self, data: BTreeMap<String, String>, display_id: Option<&str>, update: bool);
    /// The student asked to stop (interrupt).
    fn interrupted(&self) -> bool;
}

fn text(t: String) -> BTreeMap<String, String> {
    BTreeMap::from([("text/plain".to_owned(), t)])
}

/// 4xx answers that will never turn into a success by sending again.
fn permanent(e: &ClientError) -> bool {
    matches!(e, ClientError::Status { code: 400 | 404 | 413 | 415 | 422, .. })
}

/// Send what earlier `:submit`s left in the outbox, oldest first. Stops at
/// the first failure that is not about the entry itself (grader down, bad
/// token): the rest waits for the next try.
fn send_pending(
    client: &Client,
    outbox: &Outbox,
    except: Option<&Pending>,
    screen: &mut dyn Screen,
) -> Result<(), ClientError> {
    let (pending, problems) = outbox.pending();
    let pending = pending.into_iter().filter(|p| except.is_none_or(|e| e.path != p.path));
    for p in problems {
        screen.show(text(format!("warning: an outbox file could not be read and was left alone: {p}")), None, false);
    }
    for p in pending {
        match client.submit(&p.entry.exercise, &p.entry.source, &p.entry.idempotency_key) {
            Ok(id) => {
                let _ = outbox.ack(&p);
                screen.show(
                    text(format!(
                        "Sent the {} submission kept in the outbox since {}: submission #{id}.",
                        p.entry.exercise, p.entry.created
                    )),
                    None,
                    false,
                );
            }
            Err(e) if permanent(&e) => {
                let kept = set_aside(outbox, &p);
                screen.show(
                    text(format!(
                        "The {} submission from {} was refused: {e}. It is kept in {} and will not be sent again.",
                        p.entry.exercise,
                        p.entry.created,
                        kept.display()
                    )),
                    None,
                    false,
                );
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Move a refused entry to `outbox/refused/`, so it no longer blocks.
fn set_aside(outbox: &Outbox, p: &Pending) -> std::path::PathBuf {
    let dir = outbox.dir().join("refused");
    let to = dir.join(p.path.file_name().unwrap_or_default());
    match std::fs::create_dir_all(&dir).and_then(|_| std::fs::rename(&p.path, &to)) {
        Ok(()) => to,
        Err(_) => p.path.clone(),
    }
}

/// The whole of `:submit`: the grade replaces the progress line on screen.
pub fn submit(
    exercise: &str,
    source: &str,
    login: &Login,
    outbox: &Outbox,
    screen: &mut dyn Screen,
) -> Result<(), KernelError> {
    let client = Client::new(login)
        .map_err(|e| KernelError::new("SubmitFailed", format!("{e}; nothing was sent (your cell is unchanged)")))?;
    let kept = |why: String| {
        KernelError::new(
            "SubmitFailed",
            format!(
                "{why}\nYour source is safe: it is kept in the outbox ({}) and will be sent first on your next \
                 :submit.",
                outbox.dir().display()
            ),
        )
    };
    let entry = outbox.put(exercise, source, client.base()).map_err(|e| {
        KernelError::new(
            "SubmitFailed",
            format!("could not write the outbox in {} ({e}); nothing was sent", outbox.dir().display()),
        )
    })?;
    if let Err(e) = send_pending(&client, outbox, Some(&entry), screen) {
        return Err(kept(e.to_string()));
    }
    let id = match client.submit(exercise, source, &entry.entry.idempotency_key) {
        Ok(id) => id,
        Err(e) => return Err(kept(e.to_string())),
    };
    let _ = outbox.ack(&entry);
    wait_for_grade(&client, exercise, id, screen)?;
    Ok(())
}

fn progress(exercise: &str, id: i64, status: &str, waited: Duration) -> BTreeMap<String, String> {
    let t = format!("Submission #{id} ({exercise}): {status}, waiting for the grade ({} s)", waited.as_secs());
    BTreeMap::from([
        ("text/html".to_owned(), format!("<p style=\"font-family:sans-serif;margin:4px 0\">{}</p>", esc(&t))),
        ("text/plain".to_owned(), t),
    ])
}

fn wait_for_grade(
    client: &Client,
    exercise: &str,
    id: i64,
    screen: &mut dyn Screen,
) -> Result<Submission, KernelError> {
    let display_id = format!("distlab-submit-{id}-{}", uuid::Uuid::new_v4());
    let start = Instant::now();
    screen.show(progress(exercise, id, "queued", Duration::ZERO), Some(&display_id), false);
    let mut delay = Duration::from_millis(300);
    let mut last = String::from("queued");
    loop {
        match client.submission(id) {
            Ok(v) => {
                if v.status.is_final() {
                    // The grade takes the progress line's place.
                    screen.show(result_display(&v), Some(&display_id), true);
                    return Ok(v);
                }
                last = v.status.to_string();
            }
            // Asking again would get the same answer: say so now rather
            // than after two minutes of polling.
            Err(e @ (ClientError::Status { code: 401 | 404, .. } | ClientError::BadResponse(_))) => {
                return Err(KernelError::new(
                    "SubmitFailed",
                    format!("submission #{id} was stored, but its status cannot be read: {e}"),
                ))
            }
            Err(e) => last = format!("{last}; the grader did not answer ({e}), trying again"),
        }
        screen.show(progress(exercise, id, &last, start.elapsed()), Some(&display_id), true);
        let gave_up = |why: &str| {
            KernelError::new(
                "SubmitPending",
                format!(
                    "{why} Submission #{id} is stored on the grader ({}) and will be graded; its result shows on \
                     the grader's pages for your submissions.",
                    client.base()
                ),
            )
        };
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if screen.interrupted() {
                return Err(gave_up("Stopped waiting for the grade."));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if start.elapsed() >= WAIT {
            return Err(gave_up(&format!("No grade after {} s.", WAIT.as_secs())));
        }
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

pub fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "-".into(),
    }
}

/// Table cells: JupyterLab right-aligns table cells unless told otherwise;
/// short columns (status, score) never wrap, long ones (name, output) may.
const CELL: &str = "style=\"text-align:left;vertical-align:top;padding:2px 8px;white-space:nowrap\"";
const WRAP: &str = "style=\"text-align:left;vertical-align:top;padding:2px 8px\"";

/// The grade as HTML and text: score, overall output, one row per test,
/// the diagram of the first failing public run.
pub fn result_display(r: &Submission) -> BTreeMap<String, String> {
    let head = format!(
        "Submission #{} ({}): {}, score {} of {}{}",
        r.id,
        r.exercise,
        r.status,
        num(r.score),
        num(Some(r.max_score)),
        if r.late { " (late)" } else { "" }
    );
    let output = r.output.trim();
    let mut plain = format!("{head}\n");
    let mut html = format!(
        "<div class=\"distlab-grade\" style=\"font-family:sans-serif\"><h4 style=\"margin:4px 0\">{}</h4>\n",
        esc(&head)
    );
    if !output.is_empty() {
        plain.push_str(&format!("{output}\n"));
        html.push_str(&format!("<pre style=\"margin:4px 0;white-space:pre-wrap\">{}</pre>\n", esc(output)));
    }
    let tests = &r.tests;
    if !tests.is_empty() {
        html.push_str(&format!(
            "<table style=\"border-collapse:collapse\"><tr><th {CELL}>test</th><th {CELL}>status</th>\
             <th {CELL}>score</th><th {CELL}>output</th></tr>\n"
        ));
    }
    for t in tests {
        let (name, st, out) = (t.name.as_str(), t.status.as_str(), t.output.trim());
        let passed = t.status == CheckStatus::Passed;
        let mark = if passed { "✔" } else { "✘" };
        let score = format!("{}/{}", num(Some(t.score)), num(Some(t.max_score)));
        plain.push_str(&format!(
            "  {mark} {name}: {st}, {score}{}\n",
            if out.is_empty() { String::new() } else { format!(" — {out}") }
        ));
        let colour = if passed { "#009E73" } else { "#D55E00" };
        html.push_str(&format!(
            "<tr><td {WRAP}>{}</td><td {CELL}><span style=\"color:{colour}\">{mark} {}</span></td>\
             <td {CELL}>{}</td><td {WRAP}><pre style=\"margin:0;white-space:pre-wrap\">{}</pre></td></tr>\n",
            esc(name),
            esc(st),
            esc(&score),
            esc(out)
        ));
    }
    if !tests.is_empty() {
        html.push_str("</table>\n");
    }
    if let Some(replay) = &r.replay {
        plain.push_str(&format!("replay the run of the first failing row with: {replay}\n"));
        html.push_str(&format!(
            "<p style=\"margin:4px 0\">Replay the run of the first failing row: <code>{}</code></p>\n",
            esc(replay)
        ));
    }
    if let Some(svg) = &r.diagram_svg {
        // The same window-then-toggle layout as `:check` draws.
        let whole = r.whole_run.as_ref().map(|w| Box::new(WholeRun { summary: w.summary.clone(), svg: w.svg.clone() }));
        html.push_str(&Diagram { svg: svg.clone(), whole }.html());
    }
    html.push_str("</div>\n");
    BTreeMap::from([("text/html".to_owned(), html), ("text/plain".to_owned(), plain)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grader_client::decode;
    use serde_json::json;
    use std::io::{Read, Write};

    fn submission(v: serde_json::Value) -> Submission {
        serde_json::from_value(v).expect("a grader-shaped submission")
    }

    #[test]
    fn grade_shows_score_tests_and_diagram() {
        let r = submission(json!({"id": 7, "exercise": "warmup", "status": "graded", "late": false,
            "submitted_at": "2030-01-01T00:00:00+00:00", "graded_at": "2030-01-01T00:00:02+00:00", "attempt": 1,
            "score": 2.5, "max_score": 5.0, "output": "1 of 2 checks failed",
            "tests": [{"name": "pong <answers>", "status": "passed", "score": 2.5, "max_score": 2.5, "output": "",
                       "visibility": "visible"},
                      {"name": "hears all", "status": "failed", "score": 0, "max_score": 2.5,
                       "output": "node 3 silent", "visibility": "after_due_date"}],
            "diagram_svg": "<svg id=\"d\"></svg>", "replay": ":check warmup --scenario \"x\" --seed 1"}));
        let d = result_display(&r);
        assert!(d["text/plain"].starts_with("Submission #7 (warmup): graded, score 2.50 of 5"));
        assert!(d["text/plain"].contains("✘ hears all: failed, 0/2.50 — node 3 silent"));
        assert!(d["text/html"].contains("pong &lt;answers&gt;"));
        assert!(d["text/html"].contains("<svg id=\"d\"></svg>"));
        assert!(d["text/html"].contains("--seed 1"));
        assert!(!d["text/html"].contains("<details"), "no whole run, no toggle");
    }

    #[test]
    fn a_windowed_diagram_has_the_whole_run_behind_a_toggle() {
        let r = submission(json!({"id": 8, "exercise": "warmup", "status": "graded", "late": false,
            "submitted_at": "2030-01-01T00:00:00+00:00", "graded_at": null, "score": 0.0, "max_score": 5.0,
            "output": "", "tests": [], "diagram_svg": "<svg id=\"w\"></svg>", "replay": null,
            "whole_run": {"summary": "Show the whole run (103 events)", "svg": "<svg id=\"all\"></svg>"}}));
        let html = &result_display(&r)["text/html"];
        let window = html.find("<svg id=\"w\">").expect("the window");
        let toggle = html.find("<details").expect("the toggle");
        assert!(window < toggle && html[toggle..].contains("Show the whole run (103 events)"), "{html}");
        assert!(html[toggle..].contains("<svg id=\"all\">"), "{html}");
    }

    #[test]
    fn compile_errors_show_their_output() {
        let r = submission(json!({"id": 1, "exercise": "hops", "status": "compile_error", "late": false,
            "submitted_at": "2030-01-01T00:00:00+00:00", "graded_at": null, "score": null, "max_score": 4,
            "output": "error[E0425]: cannot find value `x`", "tests": [], "diagram_svg": null, "replay": null}));
        let d = result_display(&r);
        assert!(d["text/plain"].contains("compile_error, score - of 4"));
        assert!(d["text/plain"].contains("E0425"));
    }

    #[test]
    fn a_garbled_answer_is_named_not_guessed() {
        let e = decode::<Submission>("GET /api/v1/submissions/3", r#"{"id": 3, "status": "teleported"}"#).unwrap_err();
        assert!(matches!(e, ClientError::BadResponse(_)));
        let said = e.to_string();
        assert!(said.starts_with("the grader answered something this kernel does not understand: "), "{said}");
        assert!(said.contains("GET /api/v1/submissions/3") && said.contains("teleported"), "{said}");
        let html = decode::<Submission>("GET /x", &format!("<html>{}</html>", "x".repeat(500))).unwrap_err();
        assert!(html.to_string().contains("<html>xxx") && html.to_string().len() < 400, "{html}");
    }

    struct Quiet;

    impl Screen for Quiet {
        fn show(&mut self, _: BTreeMap<String, String>, _: Option<&str>, _: bool) {}
        fn interrupted(&self) -> bool {
            false
        }
    }

    /// A one-request HTTP server that answers 200 with `body`.
    fn answer_once(body: &'static str) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(reply.as_bytes()).unwrap();
        });
        url
    }

    #[test]
    fn an_answer_of_another_shape_stops_the_wait_with_a_clear_error() {
        // A grader that speaks of a status this kernel has never heard of.
        let url = answer_once(r#"{"id": 5, "exercise": "warmup", "status": "archived", "late": false}"#);
        let client = Client::new(&Login { url, token: "t".into() }).unwrap();
        let t = Instant::now();
        let e = wait_for_grade(&client, "warmup", 5, &mut Quiet).unwrap_err();
        assert_eq!(e.ename, "SubmitFailed");
        assert!(e.evalue.contains("submission #5 was stored"), "{}", e.evalue);
        assert!(e.evalue.contains("does not understand") && e.evalue.contains("archived"), "{}", e.evalue);
        assert!(t.elapsed() < Duration::from_secs(10), "no polling until the timeout");
    }
}
