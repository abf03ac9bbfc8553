//! The grader's HTTP API as types: what `distlab-grader` serialises and the
//! kernel (`distlab-kernel`) deserialises. Both depend on this crate, so a
//! field renamed on one side no longer compiles on the other. The wire
//! format is plain JSON; the field names below are the contract.
//!
//! # Endpoints
//!
//! Every `/api/v1/...` request needs `Authorization: Bearer <token>` (the
//! student's token from the roster import). Every error is a JSON
//! [`ErrorBody`] `{"error": "<a sentence>"}`; text from the request is
//! quoted escaped and cut to 64 characters.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /healthz` (no auth) | 200 [`Health`] |
//! | `GET /api/v1/exercises` | 200, a list of [`Exercise`] with this student's deadlines |
//! | `GET /api/v1/exercises/{id}/variant` | 200 [`Variant`]: the student's own seed, HMAC-SHA256(course secret, student, exercise); 404 for an unknown exercise |
//! | `POST /api/v1/submissions`, body [`NewSubmission`] | 202 [`Receipt`] once stored and queued (committed before the answer); 200 [`Receipt`] for a retry |
//! | `GET /api/v1/submissions/{id}` | 200 [`Submission`]; 404 unless it is the caller's own |
//! | `GET /api/v1/grades` | 200 [`Grades`]: the caller's best score and submissions per exercise |
//!
//! # Error codes
//!
//! - 400: malformed JSON, a missing or mistyped field, a body that is not
//!   UTF-8, a bad `Idempotency-Key`;
//! - 401: no `Authorization` header, not `Bearer ...`, or an unknown token
//!   (with `WWW-Authenticate: Bearer`);
//! - 404: unknown exercise, someone else's or no such submission, unknown
//!   path; 405: a method the path does not take;
//! - 408: the request body stalled;
//! - 413: source over [`MAX_SOURCE`], exercise id over [`MAX_ID`] bytes,
//!   body over [`MAX_BODY`];
//! - 429: over the rate limit, with `Retry-After: <seconds>`;
//! - 500: the grader's own fault; the sentence says to try again later.
//!
//! # Idempotency
//!
//! `POST /api/v1/submissions` takes an optional `Idempotency-Key` header (1
//! to 200 visible ASCII characters). A key this student used before stores
//! nothing new and answers 200 with the first submission's id, so a client
//! may resend after a lost answer without submitting twice. The kernel
//! sends one key per outbox entry.
//!
//! # Rate limit
//!
//! Submissions per student per exercise over a sliding minute (10 by
//! default, `serve --rate-limit N`, 0 turns it off), counted in the
//! gradebook so a restart forgets nothing. Retries of a stored key do not
//! count. Over the limit: 429, nothing stored, `Retry-After` in seconds.

use serde::{Deserialize, Serialize};

/// Largest accepted source, in bytes of UTF-8.
pub const MAX_SOURCE: usize = 256 * 1024;
/// Largest request body (JSON escaping can grow a source several-fold).
pub const MAX_BODY: usize = 2 * 1024 * 1024;
/// Longest exercise id accepted (ids are short words).
pub const MAX_ID: usize = 64;

/// `GET /healthz` path.
pub const HEALTHZ: &str = "/healthz";
/// `GET` the exercise list.
pub const EXERCISES: &str = "/api/v1/exercises";
/// `POST` a submission.
pub const SUBMISSIONS: &str = "/api/v1/submissions";

/// Path of one exercise's variant (the student's seed).
pub fn variant_path(exercise: &str) -> String {
    format!("{EXERCISES}/{exercise}/variant")
}

/// The caller's own grades.
pub const GRADES: &str = "/api/v1/grades";

/// Path of one submission.
pub fn submission_path(id: i64) -> String {
    format!("{SUBMISSIONS}/{id}")
}

/// Every error answer: a sentence meant for the student.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// `GET /healthz`: the grader is up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub ok: bool,
}

/// One exercise of the course, with the caller's own deadlines (an
/// extension already applied). Times are RFC 3339; `None` means no deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exercise {
    pub id: String,
    pub title: String,
    /// The notebook that introduces it.
    pub notebook: u32,
    pub points: u32,
    pub deadline: Option<String>,
    pub late_deadline: Option<String>,
}

/// `GET /api/v1/grades`: every exercise of the course, in teaching order,
/// with the caller's best graded score and their submissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grades {
    pub exercises: Vec<ExerciseGrades>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExerciseGrades {
    pub id: String,
    pub title: String,
    pub points: u32,
    /// The best score over graded submissions (the late rule is in each
    /// score), as the gradebook counts it; `None` before the first grade.
    pub best: Option<f64>,
    /// Newest first, at most [`GRADES_SUBMISSIONS`] of them.
    pub submissions: Vec<SubmissionLine>,
}

/// How many submissions per exercise `GET /api/v1/grades` lists.
pub const GRADES_SUBMISSIONS: usize = 20;

/// One submission in [`Grades`], without its feedback
/// (`GET /api/v1/submissions/{id}` has that).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionLine {
    pub id: i64,
    pub status: Status,
    /// RFC 3339.
    pub submitted_at: String,
    pub late: bool,
    pub score: Option<f64>,
}

/// The caller's variant of an exercise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub exercise: String,
    /// The student's own seed: stable per (student, exercise).
    pub seed: u64,
    /// Exercise-specific parameters derived from the seed (often null).
    pub variant: serde_json::Value,
}

/// `POST /api/v1/submissions` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSubmission {
    pub exercise: String,
    /// The Rust source of the exercise cell.
    pub source: String,
}

/// The answer to a stored (or already stored) submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub id: i64,
    /// Always [`Status::Queued`] today, even for a retry of a graded one.
    pub status: Status,
}

/// Where a submission is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    /// Checked; `score` and `tests` are final.
    Graded,
    /// Did not compile: not counted as an attempt, no score.
    CompileError,
    /// The grader could not judge it (or refused it); `output` says why.
    Error,
}

impl Status {
    /// The word on the wire (and in the gradebook's `status` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Graded => "graded",
            Status::CompileError => "compile_error",
            Status::Error => "error",
        }
    }

    /// The inverse of [`Status::as_str`].
    pub fn parse(s: &str) -> Option<Status> {
        [Status::Queued, Status::Running, Status::Graded, Status::CompileError, Status::Error]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// No further change is coming: a client can stop polling.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Graded | Status::CompileError | Status::Error)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A submission as its student sees it: the Gradescope results.json shape
/// plus our fields. Before the result, `score` is null, `output` empty and
/// `tests` empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub id: i64,
    pub exercise: String,
    pub status: Status,
    /// RFC 3339.
    pub submitted_at: String,
    pub graded_at: Option<String>,
    /// Submitted after the deadline (the late rule is in `score`).
    pub late: bool,
    /// Graded submissions of this exercise so far, this one included; null
    /// for anything not graded.
    #[serde(default)]
    pub attempt: Option<i64>,
    /// Null until graded, and for a compile error.
    pub score: Option<f64>,
    pub max_score: f64,
    /// The overall message (a summary line, or the compiler's errors).
    pub output: String,
    pub tests: Vec<TestResult>,
    /// The space-time diagram of the run of the first failing row (public
    /// runs only), as SVG.
    pub diagram_svg: Option<String>,
    /// When `diagram_svg` is only the window of a long run around the
    /// violation: the whole run, for a toggle below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whole_run: Option<WholeRun>,
    /// The `:check ...` line that replays that same run.
    pub replay: Option<String>,
}

/// The whole run behind a diagram that shows a window of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WholeRun {
    /// The toggle's words ("Show the whole run (103 events)").
    pub summary: String,
    pub svg: String,
}

/// One check's row in a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub name: String,
    pub score: f64,
    pub max_score: f64,
    pub status: CheckStatus,
    /// Its first problem with the replay line, or a pass note; for a hidden
    /// check before the deadline, only a sentence saying so.
    pub output: String,
    pub visibility: Visibility,
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    Failed,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
        }
    }
}

/// When a check's details are shown (Gradescope's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// A public check: always in full.
    Visible,
    /// A hidden check: status and score only until the deadline.
    AfterDueDate,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::AfterDueDate => "after_due_date",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A graded submission exactly as the grader sends it.
    fn graded() -> serde_json::Value {
        json!({
            "id": 12, "exercise": "warmup", "status": "graded",
            "submitted_at": "2030-01-01T00:00:00+00:00", "graded_at": "2030-01-01T00:00:03+00:00",
            "late": false, "attempt": 2, "score": 2.0, "max_score": 5.0,
            "output": "1 of 2 checks passed: 2.00 of 5 points.",
            "tests": [
                {"name": "every pong answers a ping", "score": 2.0, "max_score": 2.0, "status": "passed",
                 "output": "passed (40 runs)", "visibility": "visible"},
                {"name": "no pong twice", "score": 0.0, "max_score": 3.0, "status": "failed",
                 "output": "Details of hidden checks are shown after the deadline.", "visibility": "after_due_date"}
            ],
            "diagram_svg": "<svg/>", "replay": ":check warmup --scenario \"s\" --seed 9"
        })
    }

    #[test]
    fn a_graded_submission_round_trips_unchanged() {
        let s: Submission = serde_json::from_value(graded()).unwrap();
        assert_eq!(s.status, Status::Graded);
        assert_eq!(s.tests[1].visibility, Visibility::AfterDueDate);
        assert_eq!(s.tests[0].status, CheckStatus::Passed);
        assert_eq!(serde_json::to_value(&s).unwrap(), graded());
    }

    #[test]
    fn a_queued_submission_and_the_small_bodies_round_trip() {
        let queued = json!({"id": 3, "exercise": "hops", "status": "queued", "submitted_at": "t",
            "graded_at": null, "late": false, "attempt": null, "score": null, "max_score": 4.0,
            "output": "", "tests": [], "diagram_svg": null, "replay": null});
        let s: Submission = serde_json::from_value(queued.clone()).unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), queued);
        round_trip::<Receipt>(json!({"id": 3, "status": "queued"}));
        round_trip::<Health>(json!({"ok": true}));
        round_trip::<ErrorBody>(json!({"error": "no"}));
        round_trip::<NewSubmission>(json!({"exercise": "warmup", "source": "fn f() {}"}));
        round_trip::<Variant>(json!({"exercise": "warmup", "seed": 4242, "variant": null}));
        round_trip::<Vec<Exercise>>(json!([{"id": "warmup", "title": "Warm-up", "notebook": 1, "points": 5,
            "deadline": "2031-01-15T23:59:00Z", "late_deadline": null}]));
    }

    fn round_trip<T: Serialize + serde::de::DeserializeOwned>(v: serde_json::Value) {
        let t: T = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(t).unwrap(), v);
    }

    #[test]
    fn unknown_words_and_missing_fields_are_errors() {
        let mut v = graded();
        v["status"] = json!("teleported");
        let e = serde_json::from_value::<Submission>(v).unwrap_err().to_string();
        assert!(e.contains("teleported"), "{e}");
        let mut v = graded();
        v.as_object_mut().unwrap().remove("tests");
        assert!(serde_json::from_value::<Submission>(v).unwrap_err().to_string().contains("tests"));
        // Older graders (and test doubles) may leave out `attempt`.
        let mut v = graded();
        v.as_object_mut().unwrap().remove("attempt");
        assert_eq!(serde_json::from_value::<Submission>(v).unwrap().attempt, None);
    }

    #[test]
    fn status_words() {
        for s in [Status::Queued, Status::Running, Status::Graded, Status::CompileError, Status::Error] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
        assert_eq!(Status::parse("nope"), None);
        assert!(Status::Graded.is_final() && !Status::Running.is_final());
        assert_eq!(serde_json::to_value(Visibility::AfterDueDate).unwrap(), json!("after_due_date"));
        assert_eq!(serde_json::to_value(CheckStatus::Failed).unwrap(), json!("failed"));
    }

    #[test]
    fn paths() {
        assert_eq!(variant_path("warmup"), "/api/v1/exercises/warmup/variant");
        assert_eq!(submission_path(7), "/api/v1/submissions/7");
    }
}
