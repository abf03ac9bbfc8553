//! One submission as the instructor sees it: highlighted source, compile
//! output or the checks (seed and replay line each), the first failure's
//! diagram, timings, the override form and its audit list, and a regrade
//! of this one submission.

use super::*;

use crate::overrides::{self, MAX_COMMENT};

#[derive(Deserialize, Default)]
pub(super) struct PageQuery {
    message: Option<String>,
}

pub(super) async fn submission_page(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<PageQuery>,
) -> Response {
    let notice = q.message.map(|m| (m, false));
    page(&state, &me, id, notice, OverrideTyped::default(), StatusCode::OK).await
}

/// What the override form held when it failed.
#[derive(Default)]
pub(super) struct OverrideTyped {
    score: String,
    comment: String,
}

/// "3.2 s", "4 min 12 s", "2 h 5 min": the time from `from` to `to`.
pub(super) fn readable_span(from: Option<&str>, to: Option<&str>) -> Option<String> {
    let parse = |t: Option<&str>| chrono::DateTime::parse_from_rfc3339(t?).ok();
    let ms = (parse(to)? - parse(from)?).num_milliseconds();
    if ms < 0 {
        return None;
    }
    let s = ms as f64 / 1000.0;
    Some(if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {} s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{} h {} min", ms / 3_600_000, (ms / 60_000) % 60)
    })
}

/// The seed and the replay line in a check's output, if it failed.
fn seed_and_replay(output: &str) -> (String, String) {
    let seed = output
        .lines()
        .find_map(|l| l.split_once("seed ").map(|(_, s)| s.split_whitespace().next().unwrap_or("").to_owned()))
        .unwrap_or_default();
    let replay = output.lines().find_map(|l| l.strip_prefix("replay: ")).unwrap_or("").to_owned();
    (seed, replay)
}

fn score_text(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_default()
}

async fn page(
    state: &Arc<AppState>,
    me: &Instructor,
    id: i64,
    notice: Option<(String, bool)>,
    typed: OverrideTyped,
    status: StatusCode,
) -> Response {
    let db = Arc::clone(&state.db);
    let found = blocking(move || {
        db.with(|c| {
            let Some(sub) = submissions::get(c, id)? else { return Ok(None) };
            let source = submissions::source(c, id)?.unwrap_or_default();
            let name: Option<String> =
                c.query_opt("SELECT name FROM students WHERE id = ?1", [&sub.student_id], |r| r.get(0))?;
            Ok(Some((sub, source, name.unwrap_or_default(), overrides::of(c, id)?)))
        })
    })
    .await;
    let (sub, source, name, audit) = match found {
        Ok(Some(f)) => f,
        Ok(None) => return PageError(StatusCode::NOT_FOUND, format!("There is no submission {id}.")).into_response(),
        Err(e) => return PageError::from(e).into_response(),
    };
    let points = catalogue::spec(&sub.exercise).map(|s| s.points as f64);
    let fb = sub.feedback.as_ref();
    let diagram = fb.and_then(|f| f.diagram_svg.as_ref()).map(|d| base64::engine::general_purpose::STANDARD.encode(d));
    let whole_run = fb.and_then(|f| f.whole_run.as_ref()).map(|w| {
        context! { summary => w.summary, svg => base64::engine::general_purpose::STANDARD.encode(&w.svg) }
    });
    let checks: Vec<_> = fb
        .map(|f| {
            f.tests
                .iter()
                .map(|t| {
                    let (seed, replay) = seed_and_replay(&t.output);
                    context! {
                        name => t.name, score => format!("{:.2}", t.score), max_score => format!("{:.2}", t.max_score),
                        status => t.status.as_str(), visibility => t.visibility.as_str(), output => t.output, seed, replay,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let audit: Vec<_> = audit
        .into_iter()
        .map(|o| {
            context! {
                score => o.score.map(|v| format!("{v:.2}")).unwrap_or_else(|| "withdrawn".into()),
                comment => o.comment, instructor => o.instructor, created_at => o.created_at,
            }
        })
        .collect();
    let (message, error) = notice.map(|(m, e)| (Some(m), e)).unwrap_or((None, false));
    let ctx = context! {
        instructor => me.session.instructor, csrf => me.session.csrf, message, error,
        s => context! {
            id => sub.id, exercise_url => url_escape(&sub.exercise), student_url => url_escape(&sub.student_id),
            exercise => sub.exercise, student_id => sub.student_id, student_name => name,
            submitted_at => sub.submitted_at, started_at => sub.started_at, graded_at => sub.graded_at,
            queue_wait => readable_span(Some(&sub.submitted_at), sub.started_at.as_deref()),
            grading_time => readable_span(sub.started_at.as_deref(), sub.graded_at.as_deref()),
            late => sub.late, status => sub.status, attempt => sub.attempt,
            counted => score_text(sub.score), graded_score => score_text(fb.and_then(|f| f.score)),
            override_score => score_text(sub.override_score), overridden => sub.override_score.is_some(),
            points => points.map(|p| format!("{p}")).unwrap_or_default(),
        },
        output => fb.map(|f| f.output.clone()), replay => fb.and_then(|f| f.replay.clone()),
        checks, diagram, whole_run, audit, source => crate::highlight::to_html(&source),
        typed => context! { score => typed.score, comment => typed.comment },
    };
    let mut r = render("submission.html", ctx).unwrap_or_else(|e| e.into_response());
    if r.status().is_success() {
        *r.status_mut() = status;
    }
    r
}

#[derive(Deserialize)]
pub(super) struct OverrideForm {
    csrf: String,
    #[serde(default)]
    score: String,
    #[serde(default)]
    comment: String,
}

/// Why an override (or withdrawal) was refused, with its status code.
struct Refused(StatusCode, String);

fn exists(c: &crate::db::Conn, id: i64) -> anyhow::Result<Option<String>> {
    c.query_opt("SELECT exercise FROM submissions WHERE id = ?1", [id], |r| r.get(0))
}

pub(super) async fn override_score(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
    Form(f): Form<OverrideForm>,
) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let checked =
        (|| {
            if f.score.len() > MAX_FIELD {
                return Err(Refused(StatusCode::PAYLOAD_TOO_LARGE, format!("the score is over {MAX_FIELD} bytes")));
            }
            if f.comment.chars().count() > MAX_COMMENT {
                return Err(Refused(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the comment is over {MAX_COMMENT} characters"),
                ));
            }
            let score: f64 =
                f.score.trim().parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| {
                    Refused(StatusCode::BAD_REQUEST, format!("the score {:?} is not a number", f.score))
                })?;
            if f.comment.trim().is_empty() {
                return Err(Refused(StatusCode::BAD_REQUEST, "a comment saying why is required".into()));
            }
            Ok(score)
        })();
    let db = Arc::clone(&state.db);
    let (instructor, comment) = (me.session.instructor.clone(), f.comment.trim().to_owned());
    let result = match checked {
        Err(r) => Err(r),
        Ok(score) => blocking(move || {
            db.with(|c| {
                let Some(exercise) = exists(c, id)? else {
                    return Ok(Err(Refused(StatusCode::NOT_FOUND, format!("there is no submission {id}"))));
                };
                let max = catalogue::spec(&exercise).map_or(f64::INFINITY, |s| s.points as f64);
                if !(0.0..=max).contains(&score) {
                    return Ok(Err(Refused(StatusCode::BAD_REQUEST, format!("the score must be between 0 and {max}"))));
                }
                overrides::add(c, id, Some(score), &comment, &instructor)?;
                Ok(Ok(score))
            })
        })
        .await
        .unwrap_or_else(|e| {
            Err(Refused(StatusCode::INTERNAL_SERVER_ERROR, format!("the gradebook could not be written ({e:#})")))
        }),
    };
    match result {
        Ok(score) => {
            let q = url_escape(&format!("Score overridden to {score:.2}."));
            Redirect::to(&format!("/dashboard/submissions/{id}?message={q}")).into_response()
        }
        Err(Refused(StatusCode::NOT_FOUND, why)) => {
            PageError(StatusCode::NOT_FOUND, format!("Could not override: {why}.")).into_response()
        }
        Err(Refused(status, why)) => {
            // An oversize field is not echoed back; the other one is.
            let fits = |v: String, max: usize| if v.chars().count() > max { String::new() } else { v };
            let typed = OverrideTyped { score: fits(f.score, MAX_FIELD), comment: fits(f.comment, MAX_COMMENT) };
            page(&state, &me, id, Some((format!("Could not override the score: {why}."), true)), typed, status).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

/// Withdraws the override in force: a new row without a score.
pub(super) async fn withdraw_override(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let db = Arc::clone(&state.db);
    let instructor = me.session.instructor.clone();
    let result = blocking(move || {
        db.with(|c| {
            if exists(c, id)?.is_none() {
                return Ok(Err(StatusCode::NOT_FOUND));
            }
            let in_force: Option<Option<f64>> = c.query_opt(
                "SELECT score FROM overrides WHERE submission_id = ?1 ORDER BY id DESC LIMIT 1",
                [id],
                |r| r.get(0),
            )?;
            if !matches!(in_force, Some(Some(_))) {
                return Ok(Err(StatusCode::BAD_REQUEST));
            }
            overrides::add(c, id, None, "withdrawn", &instructor)?;
            Ok(Ok(()))
        })
    })
    .await;
    match result {
        Ok(Ok(())) => {
            let q = url_escape("Override withdrawn; the graded score counts again.");
            Redirect::to(&format!("/dashboard/submissions/{id}?message={q}")).into_response()
        }
        Ok(Err(StatusCode::NOT_FOUND)) => {
            PageError(StatusCode::NOT_FOUND, format!("There is no submission {id}.")).into_response()
        }
        Ok(Err(status)) => {
            let why = "Could not withdraw: this submission has no override in force.".to_owned();
            page(&state, &me, id, Some((why, true)), OverrideTyped::default(), status).await
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// Regrades this one submission and shows the regrade's page.
pub(super) async fn regrade_one(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let db = Arc::clone(&state.db);
    let instructor = me.session.instructor.clone();
    let r = blocking(move || {
        db.with(|c| {
            if exists(c, id)?.is_none() {
                return Ok(None);
            }
            Ok(Some(queue::enqueue_regrade(c, &queue::RegradeScope::Submission(id), &instructor)?))
        })
    })
    .await;
    if let Some(w) = &state.wake {
        w.notify();
    }
    match r {
        Ok(Some(r)) => Redirect::to(&format!("/dashboard/regrades/{}", r.id)).into_response(),
        Ok(None) => PageError(StatusCode::NOT_FOUND, format!("There is no submission {id}.")).into_response(),
        Err(e) => PageError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_failure_lines_read_as_people_write_them() {
        fn t(s: &str) -> Option<&str> {
            Some(s)
        }
        assert_eq!(readable_span(t("2026-12-01T10:00:00Z"), t("2026-12-01T10:00:03.2Z")).as_deref(), Some("3.2 s"));
        assert_eq!(readable_span(t("2026-12-01T10:00:00Z"), t("2026-12-01T10:04:12Z")).as_deref(), Some("4 min 12 s"));
        assert_eq!(readable_span(t("2026-12-01T10:00:00Z"), t("2026-12-01T12:05:00Z")).as_deref(), Some("2 h 5 min"));
        assert_eq!(readable_span(t("2026-12-01T10:00:00Z"), None), None);
        assert_eq!(readable_span(t("2026-12-01T10:00:01Z"), t("2026-12-01T10:00:00Z")), None);
        let out = "node 0 never got a pong\nscenario 'lossy', seed 42\nreplay: replay(\"warmup\", 42)";
        assert_eq!(seed_and_replay(out), ("42".into(), "replay(\"warmup\", 42)".into()));
        assert_eq!(seed_and_replay("passed (3 runs)"), (String::new(), String::new()));
    }
}
