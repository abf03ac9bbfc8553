//! The exercise catalogue: the one list of exercises that the kernel and the
//! grader read. Nothing else lists exercises.
//!
//! Each exercise module offers the same shape:
//! - the types of the student's solution (a function signature, or a message
//!   enum and `Process` nodes),
//! - `variant(seed)`: the student's own parameters, derived from a seed the
//!   caller passes in (the grader derives it from the student id),
//! - `check(solution, seed, scope) -> Report`: runs the checks of that scope
//!   and returns non-generic verdicts, so neither the kernel nor the grader
//!   instantiates generic code,
//! - a reference solution behind the `reference` feature.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::check::{Status, Verdict};
use crate::remote::Connection;

// Shared by several exercises: workloads, monitors, runners, rendering.
pub mod clocks;
pub mod leader;
pub mod mutex;
pub mod render;
pub mod runs;
pub mod timesync;

// One module per exercise, named by its id. Each ends with its one source,
// `exercise_source!` (build.rs checks this list against those).
pub mod berkeley;
pub mod bully;
pub mod causality;
pub mod central;
pub mod cristian;
pub mod dsm;
pub mod failover;
pub mod hops;
pub mod lamport;
pub mod location;
pub mod locks;
pub mod quorums;
pub mod register;
pub mod replicas;
pub mod ricart;
pub mod ring;
pub mod ringfix;
pub mod seqcons;
pub mod skew;
pub mod tmr;
pub mod tokenring;
pub mod tomulticast;
pub mod twophase;
pub mod vector;
pub mod warmup;

// `ALL` (every exercise's spec) and `reference_report`, written by build.rs.
include!(concat!(env!("OUT_DIR"), "/exercises.rs"));

/// An exercise's one source: the notebook's solution cell, written once at
/// the end of the exercise's module, between `// BEGIN CELL` and
/// `// END CELL`, with its solution regions marked as in the notebooks.
/// From it come:
/// - `SCAFFOLD`: the cell without its solution regions (build.rs strips
///   them with `markers`, as the release step does for the notebook);
/// - `SOLUTION`: the expression naming the student's solution, which the
///   kernel and the grader pass to `check` and `host` (`$ty` is the type of
///   `check`'s solution parameter); `CHECK_FN`, `HOST_FN`;
/// - `reference` (feature `reference`): the cell compiled, with
///   `reference::solution()`, that expression, and `reference::check(run)`;
/// - the notebook's solution cell (notebooks/generate.py copies the lines).
macro_rules! exercise_source {
    (id: $id:literal, solution: $ty:ty = $solution:expr, cell: { $($cell:tt)* }) => {
        /// The code a student starts from: the cell without its solutions.
        pub const SCAFFOLD: &str = include_str!(concat!(env!("OUT_DIR"), "/scaffolds/", $id, ".rs"));
        /// The item the student's code must define, as `check` takes it.
        pub const SOLUTION: &str = stringify!($solution);
        /// Paths of this module's `check` and `host`, for generated code.
        pub const CHECK_FN: &str = concat!("distlab::catalogue::", $id, "::check");
        pub const HOST_FN: &str = concat!("distlab::catalogue::", $id, "::host");
        #[cfg(feature = "reference")]
        type ReferenceSolution = $ty;
        /// The reference solution: the notebook's solution cell, compiled.
        #[cfg(feature = "reference")]
        pub mod reference {
            $($cell)*

            pub fn solution() -> super::ReferenceSolution {
                $solution
            }

            pub fn check(run: &super::Run) -> super::Report {
                super::check(solution(), run)
            }
        }
    };
}
pub(crate) use exercise_source;

/// Hidden test material (scenarios, cases): the function as written in a
/// grader build; in a student build the same signature, returning nothing,
/// so no hidden case is ever compiled into a student's binary.
macro_rules! hidden {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[cfg(feature = "grader")]
        fn $name($($arg: $ty),*) $(-> $ret)? $body

        #[cfg(not(feature = "grader"))]
        fn $name($(_: $ty),*) $(-> $ret)? {
            Default::default()
        }
    };
}
pub(crate) use hidden;

/// Who sees a check's details before the deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Run by `:check` in the notebook; full feedback.
    Public,
    /// Run only by the grader; pass/fail only until the deadline.
    Hidden,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CheckSpec {
    pub name: &'static str,
    pub weight: u32,
    pub visibility: Visibility,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct ExerciseSpec {
    /// Short, stable id: `:check hops`.
    pub id: &'static str,
    pub title: &'static str,
    pub notebook: u32,
    /// Its place among the exercises of its notebook, from 1.
    pub position: u32,
    pub points: u32,
    /// What to implement, in Markdown.
    pub task: &'static str,
    /// The code a student starts from: compiles, does nothing useful, fails
    /// the checks.
    pub scaffold: &'static str,
    /// The item the student's code must define; the kernel and grader pass
    /// it to the exercise's `check`.
    pub solution: &'static str,
    /// Path of the exercise's `check(solution, &Run) -> Report`, for code
    /// that the kernel and grader generate.
    pub check_fn: &'static str,
    /// Path of the exercise's `host(solution)`: the whole `main` of a
    /// submission, which serves the student's code to the grader from
    /// inside the sandbox (see `remote`).
    pub host_fn: &'static str,
    pub checks: &'static [CheckSpec],
    /// The grader's side: checks the solution served by a host process
    /// behind `connection`, with the same `check` that `:check` runs.
    #[serde(skip)]
    pub check_remote: fn(Rc<RefCell<Connection>>, &Run) -> Report,
    /// The student's own parameters for a seed, as JSON (null where the
    /// exercise has none).
    #[serde(skip)]
    pub variant: fn(u64) -> serde_json::Value,
}

impl ExerciseSpec {
    pub fn check_spec(&self, name: &str) -> Option<&'static CheckSpec> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Whether a check's details (message, scenario, replay, diagram) may
    /// be shown before the deadline: not for a hidden check.
    pub fn shows_details(&self, check: &str) -> bool {
        self.check_spec(check).is_none_or(|c| c.visibility == Visibility::Public)
    }

    /// The Rust expression that checks the student's solution for `run`
    /// (a `catalogue::Run` expression) and evaluates to a `Report`.
    pub fn check_call(&self, run: &str) -> String {
        format!("{}({}, &{})", self.check_fn, self.solution, run)
    }

    /// The body of a submission's `main`: serve the student's solution.
    pub fn host_call(&self) -> String {
        format!("{}({})", self.host_fn, self.solution)
    }
}

/// Which checks to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Public,
    /// Only what `Public` leaves out: hidden scenarios, cases and checks.
    /// The grader runs it in a process of its own, so nothing a hidden run
    /// sees can reach public feedback; such a report has no diagram.
    Hidden,
    /// Public and hidden. Hidden checks exist only in a build with the
    /// `grader` feature; a student build can't see or run them.
    All,
}

impl Scope {
    pub fn includes(self, visibility: Visibility) -> bool {
        match visibility {
            Visibility::Public => self.runs_public(),
            Visibility::Hidden => self.runs_hidden(),
        }
    }

    /// Whether public scenarios, cases and checks run.
    pub fn runs_public(self) -> bool {
        self != Scope::Hidden
    }

    /// Whether hidden scenarios, cases and checks run.
    pub fn runs_hidden(self) -> bool {
        self != Scope::Public
    }
}

/// What to check: the student's seed (their variant and run seeds), the
/// scope, and optionally one run to replay exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub seed: u64,
    pub scope: Scope,
    pub only: Option<Only>,
}

/// One scenario with one run seed, as a verdict's replay line names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Only {
    pub scenario: String,
    pub seed: u64,
}

impl Run {
    /// What `:check` runs: the public checks for this seed.
    pub fn public(seed: u64) -> Self {
        Run { seed, scope: Scope::Public, only: None }
    }
    /// Public and hidden checks in one run.
    pub fn all(seed: u64) -> Self {
        Run { seed, scope: Scope::All, only: None }
    }
    /// Only the hidden checks: what the grader runs apart from the public
    /// ones (`public` followed by `hidden` gives the verdicts of `all`).
    pub fn hidden(seed: u64) -> Self {
        Run { seed, scope: Scope::Hidden, only: None }
    }
    /// One run, as a replay line names it.
    pub fn replay(scenario: &str, seed: u64) -> Self {
        Run { seed, scope: Scope::Public, only: Some(Only { scenario: scenario.into(), seed }) }
    }
    /// One run, as a replay line names it, for the student whose seed is
    /// `student`: exercises whose scenarios depend on the student's variant
    /// (cristian, berkeley, register) need it to rebuild the same scenario.
    pub fn replay_for(student: u64, scenario: &str, seed: u64) -> Self {
        Run { seed: student, ..Run::replay(scenario, seed) }
    }
}

/// The outcome of checking one solution: verdicts (several runs may
/// report on the same check) and, for a failure, the diagram to show.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Report {
    pub exercise: String,
    pub verdicts: Vec<Verdict>,
    /// The first failing run (a window around its violation, and the whole
    /// run), where the exercise has runs to draw.
    pub diagram: Option<crate::diagram::Diagram>,
}

/// One check's result over all its runs: it passes only if every run does,
/// and an unknown run makes it unknown, never a pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub status: Status,
    pub weight: u32,
    pub visibility: Visibility,
    pub runs: usize,
    /// The first run that did not pass, if any.
    pub first_problem: Option<Verdict>,
}

impl Report {
    /// The verdict a student reads first: the root cause among the public
    /// verdicts ([`crate::check::lead_verdict`]). Its run is the one the
    /// report's diagram draws, and its replay line is the report's.
    pub fn lead(&self, spec: &ExerciseSpec) -> Option<&Verdict> {
        crate::check::lead_verdict(&self.verdicts, |v| spec.shows_details(&v.check))
    }

    /// One result per check of `scope`: the check of [`Report::lead`] first,
    /// the others in the spec's order.
    pub fn results(&self, spec: &ExerciseSpec, scope: Scope) -> Vec<CheckResult> {
        let mut results = self.results_in_spec_order(spec, scope);
        if let Some(lead) = self.lead(spec) {
            if let Some(at) = results.iter().position(|r| r.name == lead.check) {
                let mut first = results.remove(at);
                first.first_problem = Some(lead.clone());
                results.insert(0, first);
            }
        }
        results
    }

    fn results_in_spec_order(&self, spec: &ExerciseSpec, scope: Scope) -> Vec<CheckResult> {
        spec.checks
            .iter()
            .filter(|c| scope.includes(c.visibility))
            .map(|c| {
                let runs: Vec<&Verdict> = self.verdicts.iter().filter(|v| v.check == c.name).collect();
                let first_fail = runs.iter().find(|v| v.status == Status::Fail);
                let first_unknown = runs.iter().find(|v| v.status == Status::Unknown);
                let status = if runs.is_empty() {
                    Status::Unknown
                } else if first_fail.is_some() {
                    Status::Fail
                } else if first_unknown.is_some() {
                    Status::Unknown
                } else {
                    Status::Pass
                };
                CheckResult {
                    name: c.name.to_owned(),
                    status,
                    weight: c.weight,
                    visibility: c.visibility,
                    runs: runs.len(),
                    first_problem: first_fail.or(first_unknown).map(|v| (*v).clone()),
                }
            })
            .collect()
    }

    /// Points earned: each passing check earns its share of the exercise's
    /// points, by weight.
    pub fn score(&self, spec: &ExerciseSpec, scope: Scope) -> f64 {
        let results = self.results(spec, scope);
        let total: u32 = spec.checks.iter().map(|c| c.weight).sum();
        let earned: u32 = results.iter().filter(|r| r.status == Status::Pass).map(|r| r.weight).sum();
        if total == 0 {
            0.0
        } else {
            spec.points as f64 * earned as f64 / total as f64
        }
    }
}

/// Every exercise, in teaching order: by notebook, then by position.
pub fn registry() -> &'static [ExerciseSpec] {
    static REGISTRY: std::sync::OnceLock<Vec<ExerciseSpec>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut all: Vec<ExerciseSpec> = ALL.iter().map(|s| **s).collect();
        all.sort_by_key(|s| (s.notebook, s.position));
        all
    })
}

pub fn exercise(id: &str) -> Option<&'static ExerciseSpec> {
    registry().iter().find(|e| e.id == id)
}

/// `ExerciseSpec::variant` of an exercise whose parameters don't vary.
pub fn no_variant(_seed: u64) -> serde_json::Value {
    serde_json::Value::Null
}

/// `ExerciseSpec::variant` of an exercise with a `variant(seed)` function.
pub(crate) fn variant_json<V: Serialize>(variant: V) -> serde_json::Value {
    serde_json::to_value(variant).expect("variants encode")
}

/// A verdict for a numeric check, where there is no trace: the "scenario"
/// names the parameters tried.
pub(crate) fn numeric_verdict(
    check: &str,
    ok: bool,
    message: String,
    case: String,
    seed: u64,
    exercise: &str,
) -> Verdict {
    Verdict {
        check: check.to_owned(),
        status: if ok { Status::Pass } else { Status::Fail },
        message,
        event: None,
        at: None,
        seed,
        scenario: case,
        replay: format!(":check {exercise} --seed {seed}"),
        node: None,
    }
}
