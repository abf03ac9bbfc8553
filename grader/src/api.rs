//! The JSON API the kernel speaks: bearer auth, clear JSON errors,
//! idempotent submissions, per-student rate limit. The request and response
//! types and the contract live in `api/src/lib.rs` (see the docs of
//! `distlab-api`); this module only serves them.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use distlab_api as wire;
pub use distlab_api::{MAX_BODY, MAX_ID, MAX_SOURCE};

use crate::blocking::blocking;
use crate::server::AppState;
use crate::submissions::{self, Stored};
use crate::{auth, catalogue, deadlines, secret};

/// A request's text as an error sentence quotes it: escaped, at most 64
/// characters (error bodies never echo megabytes back).
pub fn quoted(s: &str) -> String {
    let cut: String = s.chars().take(64).collect();
    let more = if cut.len() < s.len() { "..." } else { "" };
    format!("{cut:?}{more}")
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(wire::HEALTHZ, get(healthz))
        .route(wire::EXERCISES, get(exercises))
        .route(&format!("{}/{{id}}/variant", wire::EXERCISES), get(variant))
        .route(wire::SUBMISSIONS, post(submit))
        .route(&format!("{}/{{id}}", wire::SUBMISSIONS), get(submission))
        .route(wire::GRADES, get(grades))
}

/// An error answer: status and a plain sentence.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), retry_after: None }
    }
    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {e:#}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "The grader hit an internal error; try again later.")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(wire::ErrorBody { error: self.message })).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// Whatever fails inside the grader is a 500 with a generic sentence (the
/// details go to the log, not to the student).
impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(e)
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The student behind the `Authorization: Bearer` header.
async fn student(state: &Arc<AppState>, headers: &HeaderMap) -> ApiResult<String> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Missing Authorization header: send `Authorization: Bearer <your token>`.",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "The Authorization header must be `Bearer <your token>`.")
        })?
        .to_owned();
    let db = Arc::clone(&state.db);
    blocking(move || auth::student_for_token(&db, &token)).await?.ok_or_else(|| {
        ApiError::new(StatusCode::UNAUTHORIZED, "The token is not valid: check the token file you were given.")
    })
}

/// Unknown paths get a JSON error too.
pub async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("There is nothing at {}.", uri.path()))
}

pub async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{} does not accept {method}.", uri.path()))
}

async fn healthz() -> Json<wire::Health> {
    Json(wire::Health { ok: true })
}

fn unknown_exercise(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("There is no exercise {}; GET /api/v1/exercises lists them.", quoted(id)),
    )
}

async fn exercises(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Json<Vec<wire::Exercise>>> {
    let who = student(&state, &headers).await?;
    let db = Arc::clone(&state.db);
    let list = blocking(move || {
        db.with(|c| {
            catalogue::all()
                .iter()
                .map(|e| {
                    let s = deadlines::for_student(c, &who, e.id)?;
                    Ok(wire::Exercise {
                        id: e.id.to_owned(),
                        title: e.title.to_owned(),
                        notebook: e.notebook,
                        points: e.points,
                        deadline: s.deadline.map(|d| d.to_rfc3339()),
                        late_deadline: s.late_deadline.map(|d| d.to_rfc3339()),
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
    })
    .await?;
    Ok(Json(list))
}

async fn variant(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::Variant>> {
    let who = student(&state, &headers).await?;
    let spec = catalogue::spec(&id).ok_or_else(|| unknown_exercise(&id))?;
    let seed = secret::student_seed(&state.secret, &who, spec.id);
    Ok(Json(wire::Variant { exercise: spec.id.to_owned(), seed, variant: catalogue::variant(spec, seed) }))
}

fn receipt(status: StatusCode, id: i64) -> Response {
    (status, Json(wire::Receipt { id, status: wire::Status::Queued })).into_response()
}

async fn submit(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let who = student(&state, &headers).await?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k =
                v.to_str().ok().filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()));
            let k = k.ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "The Idempotency-Key header must be 1 to 200 visible ASCII characters.",
                )
            })?;
            Some(k.to_owned())
        }
    };
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        // The body timeout (server.rs) ends a body that stalls.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::new(StatusCode::REQUEST_TIMEOUT, "The request body stalled; send it again.");
            }
            cause = c.source();
        }
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("The request body is over {} MiB.", MAX_BODY >> 20))
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("The request body is not valid UTF-8 (at byte {}).", e.valid_up_to()),
        )
    })?;
    let new: wire::NewSubmission = serde_json::from_str(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("The body must be JSON {{\"exercise\": \"<id>\", \"source\": \"<Rust code>\"}}: {e}."),
        )
    })?;
    if new.exercise.len() > MAX_ID {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The exercise id is over {MAX_ID} bytes; GET /api/v1/exercises lists them."),
        ));
    }
    let spec = catalogue::spec(&new.exercise).ok_or_else(|| unknown_exercise(&new.exercise))?;
    if new.source.len() > MAX_SOURCE {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The source is {} KiB; the limit is {} KiB.", new.source.len().div_ceil(1024), MAX_SOURCE / 1024),
        ));
    }
    // A retry of a stored submission answers at once and is not counted.
    if let Some(k) = key.clone() {
        let (db, w) = (Arc::clone(&state.db), who.clone());
        if let Some(id) = blocking(move || db.with(|c| submissions::by_key(c, &w, &k))).await? {
            return Ok(receipt(StatusCode::OK, id));
        }
    }
    let (db, limit) = (Arc::clone(&state.db), state.submission_limit);
    let exercise = spec.id;
    let stored =
        blocking(move || db.with(|c| submissions::store(c, &who, exercise, key.as_deref(), &new.source, &limit)))
            .await?;
    let (status, id) = match stored {
        Stored::Created(id) => (StatusCode::ACCEPTED, id),
        Stored::Existing(id) => (StatusCode::OK, id),
        Stored::Refused { retry_after } => {
            return Err(ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many submissions for {exercise}: try again in {retry_after} s."),
                )
            })
        }
    };
    if let Some(w) = &state.wake {
        w.notify();
    }
    Ok(receipt(status, id))
}

async fn submission(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::Submission>> {
    let who = student(&state, &headers).await?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, format!("You have no submission {}.", quoted(&id)));
    let n: i64 = id.parse().map_err(|_| not_found())?;
    let db = Arc::clone(&state.db);
    let w = who.clone();
    let found = blocking(move || {
        db.with(|c| {
            let Some(s) = submissions::get(c, n)? else { return Ok(None) };
            if s.student_id != w {
                return Ok(None);
            }
            let d = deadlines::for_student(c, &w, &s.exercise)?;
            Ok(Some((s, d.deadline_passed(chrono::Utc::now()))))
        })
    })
    .await?;
    let (s, passed) = found.ok_or_else(not_found)?;
    Ok(Json(submission_view(s, passed)?))
}

/// The caller's grades: per exercise, the best graded score and the
/// newest submissions (no feedback: one request per `:grades`, however
/// many submissions there are).
async fn grades(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Json<wire::Grades>> {
    let who = student(&state, &headers).await?;
    let db = Arc::clone(&state.db);
    let (mine, best) = blocking(move || {
        db.with(|c| Ok((submissions::list(c, Some(&who), i64::MAX)?, crate::gradebook::best_scores_of(c, &who)?)))
    })
    .await?;
    let exercises = catalogue::all()
        .iter()
        .map(|e| {
            let of_this = mine.iter().filter(|s| s.exercise == e.id);
            let best = best.get(e.id).copied();
            let submissions = of_this
                .take(wire::GRADES_SUBMISSIONS)
                .map(|s| {
                    Ok(wire::SubmissionLine {
                        id: s.id,
                        status: wire::Status::parse(&s.status)
                            .ok_or_else(|| anyhow::anyhow!("submission {} has the status {:?}", s.id, s.status))?,
                        submitted_at: s.submitted_at.clone(),
                        late: s.late,
                        score: s.score,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(wire::ExerciseGrades {
                id: e.id.to_owned(),
                title: e.title.to_owned(),
                points: e.points,
                best,
                submissions,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Json(wire::Grades { exercises }))
}

/// A submission as the API shows it to its student (and the student page).
pub fn submission_view(s: submissions::Submission, deadline_passed: bool) -> anyhow::Result<wire::Submission> {
    let status = wire::Status::parse(&s.status)
        .ok_or_else(|| anyhow::anyhow!("submission {} has the unknown status {:?}", s.id, s.status))?;
    let max = catalogue::spec(&s.exercise).map(|e| e.points as f64).unwrap_or(0.0);
    // Only a finished submission shows its report (a regrade keeps the old
    // one in the table until the new one is written).
    let fb = s.feedback.filter(|_| status.is_final()).map(|f| f.for_student(deadline_passed));
    let (score, max_score, output, tests, diagram_svg, whole_run, replay) = match fb {
        // An instructor's override is the score that counts.
        Some(f) => (s.override_score.or(f.score), f.max_score, f.output, f.tests, f.diagram_svg, f.whole_run, f.replay),
        None => (None, max, String::new(), Vec::new(), None, None, None),
    };
    Ok(wire::Submission {
        id: s.id,
        exercise: s.exercise,
        status,
        submitted_at: s.submitted_at,
        graded_at: s.graded_at,
        late: s.late,
        attempt: s.attempt,
        score,
        max_score,
        output,
        tests,
        diagram_svg,
        whole_run,
        replay,
    })
}
