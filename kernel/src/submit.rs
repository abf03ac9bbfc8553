//! `:submit ID`: outbox first, then the grader; wait for the grade with a
//! progress line that updates in place; show score and per-test feedback.

use crate::errors::KernelError;
use crate::grader_client::{Client, ClientError, Login};
use crate::outbox::{Outbox, Pending};
use serde_json::Value;
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

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// 4xx answers that will never turn into a success by sending again.
fn permanent(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Status {
            code: 400 | 404 | 413 | 415 | 422,
            ..
        }
    )
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
        screen.show(
            text(format!(
                "warning: an outbox file could not be read and was left alone: {p}"
            )),
            None,
            false,
        );
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

/// The whole of `:submit`: returns the grade as rich output.
pub fn submit(
    exercise: &str,
    source: &str,
    login: &Login,
    outbox: &Outbox,
    screen: &mut dyn Screen,
) -> Result<BTreeMap<String, String>, KernelError> {
    let client = Client::new(login);
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
            format!(
                "could not write the outbox in {} ({e}); nothing was sent",
                outbox.dir().display()
            ),
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
    let report = wait_for_grade(&client, exercise, id, screen)?;
    Ok(result_display(&report))
}

fn progress(exercise: &str, id: u64, status: &str, waited: Duration) -> BTreeMap<String, String> {
    let t = format!(
        "Submission #{id} ({exercise}): {status} (waiting {} s)",
        waited.as_secs()
    );
    BTreeMap::from([
        (
            "text/html".to_owned(),
            format!(
                "<p style=\"font-family:sans-serif;margin:4px 0\">&#8987; {}</p>",
                esc(&t)
            ),
        ),
        ("text/plain".to_owned(), t),
    ])
}

fn terminal(status: &str) -> bool {
    matches!(status, "graded" | "compile_error" | "error")
}

fn wait_for_grade(client: &Client, exercise: &str, id: u64, screen: &mut dyn Screen) -> Result<Value, KernelError> {
    let display_id = format!("distlab-submit-{id}-{}", uuid::Uuid::new_v4());
    let start = Instant::now();
    screen.show(
        progress(exercise, id, "queued", Duration::ZERO),
        Some(&display_id),
        false,
    );
    let mut delay = Duration::from_millis(300);
    let mut last = String::from("queued");
    loop {
        match client.submission(id) {
            Ok(v) => {
                let status = v["status"].as_str().unwrap_or("unknown").to_owned();
                if terminal(&status) {
                    screen.show(
                        progress(exercise, id, &status, start.elapsed()),
                        Some(&display_id),
                        true,
                    );
                    return Ok(v);
                }
                last = status;
            }
            Err(e @ ClientError::Status { code: 401 | 404, .. }) => {
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

fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "-".into(),
    }
}

/// The grade as HTML and text: score, overall output, one row per test,
/// the diagram of the first failing public run.
pub fn result_display(r: &Value) -> BTreeMap<String, String> {
    let status = r["status"].as_str().unwrap_or("unknown");
    let head = format!(
        "Submission #{} ({}): {status}, score {} of {}{}",
        r["id"],
        r["exercise"].as_str().unwrap_or("?"),
        num(&r["score"]),
        num(&r["max_score"]),
        if r["late"].as_bool() == Some(true) {
            " (late)"
        } else {
            ""
        }
    );
    let output = r["output"].as_str().unwrap_or("").trim();
    let mut plain = format!("{head}\n");
    let mut html = format!(
        "<div class=\"distlab-grade\" style=\"font-family:sans-serif\"><h4 style=\"margin:4px 0\">{}</h4>\n",
        esc(&head)
    );
    if !output.is_empty() {
        plain.push_str(&format!("{output}\n"));
        html.push_str(&format!(
            "<pre style=\"margin:4px 0;white-space:pre-wrap\">{}</pre>\n",
            esc(output)
        ));
    }
    let tests = r["tests"].as_array().cloned().unwrap_or_default();
    if !tests.is_empty() {
        html.push_str(
            "<table style=\"border-collapse:collapse\"><tr><th style=\"text-align:left;padding:2px 8px\">test</th>\
             <th style=\"padding:2px 8px\">status</th><th style=\"padding:2px 8px\">score</th>\
             <th style=\"text-align:left;padding:2px 8px\">output</th></tr>\n",
        );
    }
    for t in &tests {
        let name = t["name"].as_str().unwrap_or("?");
        let st = t["status"].as_str().unwrap_or("?");
        let out = t["output"].as_str().unwrap_or("").trim();
        let mark = if st == "passed" { "✔" } else { "✘" };
        let score = format!("{}/{}", num(&t["score"]), num(&t["max_score"]));
        plain.push_str(&format!(
            "  {mark} {name}: {st}, {score}{}\n",
            if out.is_empty() {
                String::new()
            } else {
                format!(" — {out}")
            }
        ));
        let colour = if st == "passed" { "#009E73" } else { "#D55E00" };
        html.push_str(&format!(
            "<tr><td style=\"padding:2px 8px\">{}</td><td style=\"padding:2px 8px;color:{colour}\">{mark} {}</td>\
             <td style=\"padding:2px 8px\">{}</td><td style=\"padding:2px 8px\"><pre style=\"margin:0;white-space:pre-wrap\">{}</pre></td></tr>\n",
            esc(name),
            esc(st),
            esc(&score),
            esc(out)
        ));
    }
    if !tests.is_empty() {
        html.push_str("</table>\n");
    }
    if let Some(replay) = r["replay"].as_str() {
        plain.push_str(&format!("replay the first failing run with: {replay}\n"));
        html.push_str(&format!(
            "<p style=\"margin:4px 0\">Replay the first failing run: <code>{}</code></p>\n",
            esc(replay)
        ));
    }
    if let Some(svg) = r["diagram_svg"].as_str() {
        html.push_str(&format!("<div style=\"overflow:auto;max-height:85vh\">\n{svg}</div>\n"));
    }
    html.push_str("</div>\n");
    BTreeMap::from([("text/html".to_owned(), html), ("text/plain".to_owned(), plain)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn grade_shows_score_tests_and_diagram() {
        let r = json!({"id": 7, "exercise": "warmup", "status": "graded", "late": false, "score": 2.5,
            "max_score": 5.0, "output": "1 of 2 checks failed",
            "tests": [{"name": "pong <answers>", "status": "passed", "score": 2.5, "max_score": 2.5, "output": ""},
                      {"name": "hears all", "status": "failed", "score": 0, "max_score": 2.5, "output": "node 3 silent"}],
            "diagram_svg": "<svg id=\"d\"></svg>", "replay": ":check warmup --scenario \"x\" --seed 1"});
        let d = result_display(&r);
        assert!(d["text/plain"].starts_with("Submission #7 (warmup): graded, score 2.50 of 5"));
        assert!(d["text/plain"].contains("✘ hears all: failed, 0/2.50 — node 3 silent"));
        assert!(d["text/html"].contains("pong &lt;answers&gt;"));
        assert!(d["text/html"].contains("<svg id=\"d\"></svg>"));
        assert!(d["text/html"].contains("--seed 1"));
    }

    #[test]
    fn compile_errors_show_their_output() {
        let r = json!({"id": 1, "exercise": "hops", "status": "compile_error", "score": null, "max_score": 4,
            "output": "error[E0425]: cannot find value `x`", "tests": []});
        let d = result_display(&r);
        assert!(d["text/plain"].contains("compile_error, score - of 4"));
        assert!(d["text/plain"].contains("E0425"));
    }
}
