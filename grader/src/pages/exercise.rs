//! One exercise: its checks with pass rates, the spread of best scores, the
//! submissions (all, or the best ones failing a check), its deadlines in the
//! instructor's time zone, and the extensions granted on it (revocable).

use super::*;
use crate::{charts, stats};

/// Submissions per page.
const PAGE_ROWS: i64 = 50;

#[derive(Deserialize, Default)]
pub(super) struct ExerciseQuery {
    message: Option<String>,
    /// Only the best submissions failing this check.
    failing: Option<String>,
    #[serde(default)]
    page: i64,
}

/// The line above the page: a confirmation, or why a form failed.
pub(super) struct Notice {
    text: String,
    error: bool,
}

/// What the instructor typed into a form that did not go through: the page
/// shows it again instead of the stored values.
#[derive(Default)]
pub(super) struct Typed {
    settings: Option<SettingsForm>,
    extension: Option<ExtensionForm>,
}

pub(super) async fn exercise(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ExerciseQuery>,
) -> Response {
    let notice = q.message.clone().map(|text| Notice { text, error: false });
    exercise_page(&state, &me.session, &id, &q, notice, Typed::default()).await
}

async fn exercise_page(
    state: &Arc<AppState>,
    session: &Session,
    id: &str,
    q: &ExerciseQuery,
    notice: Option<Notice>,
    typed: Typed,
) -> Response {
    let Some(spec) = catalogue::spec(id) else {
        return PageError(StatusCode::NOT_FOUND, format!("There is no exercise {id:?}.")).into_response();
    };
    if let Some(r) = too_long(&[("check", q.failing.as_deref().unwrap_or_default())]) {
        return r;
    }
    let db = Arc::clone(&state.db);
    let (failing, page) = (q.failing.clone().filter(|f| !f.is_empty()), q.page.max(0));
    let filter = failing.clone();
    let data = blocking(move || {
        db.with(|c| {
            let st = stats::exercises(c, Some(spec.id))?.pop().unwrap_or_default();
            let rates = stats::check_rates(c, Some(spec.id))?;
            let subs = submissions::list_for_exercise(c, spec.id, filter.as_deref(), PAGE_ROWS + 1, page * PAGE_ROWS)?;
            Ok((st, rates, subs, deadlines::settings(c, spec.id)?, deadlines::extensions(c, spec.id)?))
        })
    })
    .await;
    let (st, rates, mut subs, set, exts) = match data {
        Ok(d) => d,
        Err(e) => return PageError::from(e).into_response(),
    };
    let more = subs.len() as i64 > PAGE_ROWS;
    subs.truncate(PAGE_ROWS as usize);
    // The catalogue's checks in order, each with its rate over best submissions.
    let checks: Vec<_> = spec
        .checks
        .iter()
        .map(|c| {
            let r = rates.iter().find(|r| r.name == c.name);
            let (failed, total) = r.map(|r| (r.failed, r.total)).unwrap_or((0, 0));
            let passed = total - failed;
            let pct = if total == 0 { None } else { Some(100.0 * passed as f64 / total as f64) };
            context! {
                name => c.name, weight => c.weight, hidden => matches!(c.visibility, distlab::catalogue::Visibility::Hidden),
                passed, failed, total, percent => pct.map(|p| format!("{p:.0}")),
                heat => super::overview::heat_class(pct.map_or(0.0, |p| 100.0 - p)),
                href => format!("?failing={}", url_escape(c.name)), selected => failing.as_deref() == Some(c.name),
            }
        })
        .collect();
    let histogram = charts::histogram(&st.histogram, st.points, &format!("best scores of {}", spec.id));
    let (deadline, late_deadline, late_penalty) = match &typed.settings {
        Some(f) => {
            ((f.deadline.clone(), String::new()), (f.late_deadline.clone(), String::new()), f.late_penalty.clone())
        }
        None => (local_input(set.deadline), local_input(set.late_deadline), set.late_penalty.to_string()),
    };
    let ext_typed = typed.extension.map(|f| context! { student => f.student, until => f.until });
    let page_link = |p: i64| {
        let f = failing.as_deref().map(|f| format!("&failing={}", url_escape(f))).unwrap_or_default();
        format!("?page={p}{f}")
    };
    let (message, error) = notice.map(|n| (Some(n.text), n.error)).unwrap_or((None, false));
    render(
        "exercise.html",
        context! {
            instructor => session.instructor, csrf => session.csrf, message, error,
            e => context! { id => spec.id, title => spec.title, points => spec.points },
            stats => context! {
                mean => st.mean.map(|m| format!("{m:.2}")), median => st.median.map(|m| format!("{m:.2}")),
                ..minijinja::Value::from_serialize(&st)
            },
            histogram => minijinja::Value::from_safe_string(histogram),
            checks, failing, recent => subs.iter().map(super::overview::submission_row).collect::<Vec<_>>(),
            prev => (page > 0).then(|| page_link(page - 1)), next => more.then(|| page_link(page + 1)),
            deadline => deadline.0, deadline_utc => deadline.1,
            late_deadline => late_deadline.0, late_deadline_utc => late_deadline.1, late_penalty,
            extensions => exts, ext => ext_typed.unwrap_or_else(|| context! { student => "", until => "" }),
        },
    )
    .unwrap_or_else(|e| e.into_response())
}

/// A form of this page that did not go through: the page again, with the
/// reason on top and the typed values in place. `Invalid` input is the
/// instructor's to fix (400); anything else is a failed write (500).
async fn form_failed(
    state: &Arc<AppState>,
    session: &Session,
    exercise: &str,
    what: &str,
    e: anyhow::Error,
    typed: Typed,
) -> Response {
    let (status, text) = match e.downcast_ref::<deadlines::Invalid>() {
        Some(invalid) => (StatusCode::BAD_REQUEST, format!("Could not {what}: {invalid}.")),
        None => {
            tracing::error!("could not {what}: {e:#}");
            let text = format!(
                "Could not {what}: the gradebook could not be written ({e:#}). Nothing was changed; try again."
            );
            (StatusCode::INTERNAL_SERVER_ERROR, text)
        }
    };
    let mut r =
        exercise_page(state, session, exercise, &ExerciseQuery::default(), Some(Notice { text, error: true }), typed)
            .await;
    if r.status().is_success() {
        *r.status_mut() = status;
    }
    r
}

fn back_to(exercise: &str, message: &str) -> Response {
    Redirect::to(&format!("/dashboard/exercises/{}?message={}", url_escape(exercise), url_escape(message)))
        .into_response()
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    csrf: String,
    deadline: String,
    #[serde(default)]
    deadline_offset: String,
    late_deadline: String,
    #[serde(default)]
    late_deadline_offset: String,
    late_penalty: String,
}

pub(super) async fn save_settings(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Form(f): Form<SettingsForm>,
) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let fields = [
        ("exercise", id.as_str()),
        ("deadline", &f.deadline),
        ("late deadline", &f.late_deadline),
        ("late penalty", &f.late_penalty),
        ("time zone offset", &f.deadline_offset),
        ("time zone offset", &f.late_deadline_offset),
    ];
    if let Some(r) = too_long(&fields) {
        return r;
    }
    let Some(spec) = catalogue::spec(&id) else {
        return PageError(StatusCode::NOT_FOUND, format!("There is no exercise {id:?}.")).into_response();
    };
    let parsed = (|| {
        let penalty = match f.late_penalty.trim() {
            "" => 0.0,
            p => p.parse::<f64>().map_err(|_| deadlines::Invalid(format!("the late penalty {p:?} is not a number")))?,
        };
        anyhow::Ok(deadlines::Settings {
            deadline: parse_time("deadline", &f.deadline, &f.deadline_offset)?,
            late_deadline: parse_time("late deadline", &f.late_deadline, &f.late_deadline_offset)?,
            late_penalty: penalty,
        })
    })();
    let written = match parsed {
        Ok(s) => {
            let db = Arc::clone(&state.db);
            blocking(move || db.with(|c| deadlines::set_settings(c, spec.id, &s))).await
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => back_to(spec.id, &format!("Saved the deadlines of {}.", spec.id)),
        Err(e) => {
            let what = format!("save the deadlines of {}", spec.id);
            form_failed(&state, &me.session, spec.id, &what, e, Typed { settings: Some(f), ..Typed::default() }).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ExtensionForm {
    csrf: String,
    student: String,
    until: String,
    #[serde(default)]
    until_offset: String,
}

pub(super) async fn grant_extension(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Form(f): Form<ExtensionForm>,
) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    if let Some(r) = too_long(&[
        ("exercise", &id),
        ("student", &f.student),
        ("until", &f.until),
        ("time zone offset", &f.until_offset),
    ]) {
        return r;
    }
    let Some(spec) = catalogue::spec(&id) else {
        return PageError(StatusCode::NOT_FOUND, format!("There is no exercise {id:?}.")).into_response();
    };
    let parsed = parse_time("date", &f.until, &f.until_offset)
        .and_then(|t| t.ok_or_else(|| deadlines::Invalid("the date is empty".into()).into()));
    let written = match parsed {
        Ok(until) => {
            let (db, student) = (Arc::clone(&state.db), f.student.trim().to_owned());
            blocking(move || db.with(|c| deadlines::set_extension(c, &student, spec.id, until))).await.map(|()| until)
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(until) => back_to(
            spec.id,
            &format!(
                "Extension for {} on {} until {}.",
                f.student.trim(),
                spec.id,
                readable_time(&crate::db::rfc3339(until))
            ),
        ),
        Err(e) => {
            let typed = Typed { extension: Some(f), ..Typed::default() };
            form_failed(&state, &me.session, spec.id, "grant the extension", e, typed).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RevokeForm {
    csrf: String,
    student: String,
}

pub(super) async fn revoke_extension(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Form(f): Form<RevokeForm>,
) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    if let Some(r) = too_long(&[("exercise", &id), ("student", &f.student)]) {
        return r;
    }
    let Some(spec) = catalogue::spec(&id) else {
        return PageError(StatusCode::NOT_FOUND, format!("There is no exercise {id:?}.")).into_response();
    };
    let (db, student) = (Arc::clone(&state.db), f.student.clone());
    match blocking(move || db.with(|c| deadlines::revoke_extension(c, &student, spec.id))).await {
        Ok(true) => back_to(spec.id, &format!("Revoked the extension of {} on {}.", f.student, spec.id)),
        Ok(false) => back_to(spec.id, &format!("{} had no extension on {}.", f.student, spec.id)),
        Err(e) => form_failed(&state, &me.session, spec.id, "revoke the extension", e, Typed::default()).await,
    }
}
