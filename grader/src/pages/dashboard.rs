//! The dashboard and its forms: deadlines, extensions, regrade.

use super::*;

#[derive(Deserialize, Default)]
pub(super) struct DashboardQuery {
    message: Option<String>,
}

pub(super) async fn dashboard(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    axum::extract::Query(q): axum::extract::Query<DashboardQuery>,
) -> Response {
    let notice = q.message.map(|text| Notice { text, error: false });
    dashboard_page(&state, &me.session, notice, Typed::default()).await
}

/// The line above the dashboard: a confirmation, or why a form failed.
pub(super) struct Notice {
    text: String,
    error: bool,
}

/// What the instructor typed into a form that did not go through: the
/// dashboard shows it again instead of the stored values.
#[derive(Default)]
pub(super) struct Typed {
    settings: Option<SettingsForm>,
    extension: Option<ExtensionForm>,
}

pub(super) async fn dashboard_page(state: &Arc<AppState>, session: &Session, notice: Option<Notice>, typed: Typed) -> Response {
    let db = Arc::clone(&state.db);
    let kept = typed.settings;
    let data = blocking(move || {
        db.with(|c| {
            let students = gradebook::students(c)?;
            let scores = gradebook::best_scores(c)?;
            let exercises = catalogue::all();
            let grid: Vec<_> = students
                .iter()
                .map(|st| {
                    let cells: Vec<String> = exercises
                        .iter()
                        .map(|e| {
                            scores.get(&(st.id.clone(), e.id.to_owned())).map(|v| format!("{v:.2}")).unwrap_or_default()
                        })
                        .collect();
                    let total: f64 =
                        exercises.iter().filter_map(|e| scores.get(&(st.id.clone(), e.id.to_owned()))).sum();
                    context! { id => st.id, name => st.name, cells => cells, total => format!("{total:.2}") }
                })
                .collect();
            let ex: Vec<_> = exercises
                .iter()
                .map(|e| {
                    if let Some(f) = kept.as_ref().filter(|f| f.exercise == e.id) {
                        return Ok(context! {
                            id => e.id, title => e.title, points => e.points,
                            deadline => f.deadline, late_deadline => f.late_deadline, late_penalty => f.late_penalty,
                        });
                    }
                    let set = deadlines::settings(c, e.id)?;
                    Ok(context! {
                        id => e.id, title => e.title, points => e.points,
                        deadline => set.deadline.map(|d| d.to_rfc3339()).unwrap_or_default(),
                        late_deadline => set.late_deadline.map(|d| d.to_rfc3339()).unwrap_or_default(),
                        late_penalty => set.late_penalty,
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            let subs: Vec<_> = submissions::list(c, None, 100)?
                .into_iter()
                .map(|s| {
                    context! {
                        id => s.id, student => s.student_id, exercise => s.exercise, status => s.status,
                        score => s.score.map(|v| format!("{v:.2}")).unwrap_or_default(),
                        summary => s.summary.unwrap_or_default(),
                        submitted_at => s.submitted_at, late => s.late,
                    }
                })
                .collect();
            Ok((grid, ex, subs, queue::pending(c)?))
        })
    })
    .await;
    let (grid, ex, subs, pending) = match data {
        Ok(d) => d,
        Err(e) => return PageError::from(e).into_response(),
    };
    let ext = typed.extension.map(|f| context! { student => f.student, exercise => f.exercise, until => f.until });
    let (message, error) = notice.map(|n| (Some(n.text), n.error)).unwrap_or((None, false));
    render(
        "dashboard.html",
        context! {
            instructor => session.instructor, csrf => session.csrf, grid, exercises => ex, submissions => subs, pending,
            message, error, ext => ext.unwrap_or_else(|| context! { student => "", exercise => "", until => "" }),
        },
    )
    .unwrap_or_else(|e| e.into_response())
}

/// A dashboard form that did not go through: the dashboard again, with the
/// reason on top and the typed values in place. `Invalid` input is the
/// instructor's to fix (400); anything else is a failed write (500).
pub(super) async fn form_failed(state: &Arc<AppState>, session: &Session, what: &str, e: anyhow::Error, typed: Typed) -> Response {
    let (status, text) = match e.downcast_ref::<deadlines::Invalid>() {
        Some(invalid) => (StatusCode::BAD_REQUEST, format!("Could not {what}: {invalid}.")),
        None => {
            tracing::error!("could not {what}: {e:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "Could not {what}: the gradebook could not be written ({e:#}). Nothing was changed; try again."
                ),
            )
        }
    };
    let mut r = dashboard_page(state, session, Some(Notice { text, error: true }), typed).await;
    if r.status().is_success() {
        *r.status_mut() = status;
    }
    r
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    csrf: String,
    exercise: String,
    deadline: String,
    late_deadline: String,
    late_penalty: String,
}

/// An empty field is no deadline; anything else must be RFC 3339.
pub(super) async fn save_settings(me: Instructor, State(state): State<Arc<AppState>>, Form(f): Form<SettingsForm>) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let fields = [
        ("exercise", f.exercise.as_str()),
        ("deadline", &f.deadline),
        ("late deadline", &f.late_deadline),
        ("late penalty", &f.late_penalty),
    ];
    if let Some(r) = too_long(&fields) {
        return r;
    }
    let parsed = (|| {
        let spec = parse_exercise(&f.exercise)?;
        let penalty = match f.late_penalty.trim() {
            "" => 0.0,
            p => p.parse::<f64>().map_err(|_| deadlines::Invalid(format!("the late penalty {p:?} is not a number")))?,
        };
        let s = deadlines::Settings {
            deadline: parse_time("deadline", &f.deadline)?,
            late_deadline: parse_time("late deadline", &f.late_deadline)?,
            late_penalty: penalty,
        };
        anyhow::Ok((spec.id, s))
    })();
    let written = match parsed {
        Ok((id, s)) => {
            let db = Arc::clone(&state.db);
            blocking(move || db.with(|c| deadlines::set_settings(c, id, &s))).await.map(|()| id)
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(id) => back_with(&format!("Saved the deadlines of {id}.")),
        Err(e) => {
            let what = format!("save the deadlines of {}", f.exercise);
            form_failed(&state, &me.session, &what, e, Typed { settings: Some(f), ..Typed::default() }).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ExtensionForm {
    csrf: String,
    student: String,
    exercise: String,
    until: String,
}

pub(super) async fn grant_extension(me: Instructor, State(state): State<Arc<AppState>>, Form(f): Form<ExtensionForm>) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    if let Some(r) = too_long(&[("student", &f.student), ("exercise", &f.exercise), ("until", &f.until)]) {
        return r;
    }
    let parsed = (|| {
        let spec = parse_exercise(&f.exercise)?;
        let until = parse_time("date", &f.until)?.ok_or_else(|| deadlines::Invalid("the date is empty".into()))?;
        anyhow::Ok((spec.id, until))
    })();
    let written = match parsed {
        Ok((id, until)) => {
            let (db, student) = (Arc::clone(&state.db), f.student.trim().to_owned());
            blocking(move || db.with(|c| deadlines::set_extension(c, &student, id, until))).await.map(|()| (id, until))
        }
        Err(e) => Err(e),
    };
    match written {
        Ok((id, until)) => {
            back_with(&format!("Extension for {} on {} until {}.", f.student.trim(), id, until.to_rfc3339()))
        }
        Err(e) => {
            let typed = Typed { extension: Some(f), ..Typed::default() };
            form_failed(&state, &me.session, "grant the extension", e, typed).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RegradeForm {
    csrf: String,
    exercise: String,
}

pub(super) async fn regrade(me: Instructor, State(state): State<Arc<AppState>>, Form(f): Form<RegradeForm>) -> Response {
    if let Err(r) = me.check_csrf(&f.csrf) {
        return r.into_response();
    }
    if let Some(r) = too_long(&[("exercise", &f.exercise)]) {
        return r;
    }
    let db = Arc::clone(&state.db);
    let scope = match f.exercise.as_str() {
        "" => queue::RegradeScope::All,
        e => queue::RegradeScope::Exercise(e.to_owned()),
    };
    let instructor = me.session.instructor.clone();
    let r = blocking(move || db.with(|c| queue::enqueue_regrade(c, &scope, &instructor))).await;
    if let Some(w) = &state.wake {
        w.notify();
    }
    match r {
        Ok(r) => Redirect::to(&format!("/dashboard/regrades/{}", r.id)).into_response(),
        Err(e) => form_failed(&state, &me.session, "queue the regrade", e, Typed::default()).await,
    }
}
