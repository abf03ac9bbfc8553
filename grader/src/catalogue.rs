//! The grader's view of the course catalogue: the `main` that turns a
//! student's file into a node host, the check that judges that host from
//! outside the sandbox, and the student's variant. All of it comes from the
//! catalogue's remote-grading seam (`host_fn`, `check_remote`, `variant` on
//! `ExerciseSpec`); nothing here is per exercise.

use std::cell::RefCell;
use std::rc::Rc;

use distlab::catalogue::{self, ExerciseSpec, Report, Run};
use distlab::remote::Connection;

/// Checks the solution served behind a connection.
pub type RemoteCheck = fn(Rc<RefCell<Connection>>, &Run) -> Report;

/// Every exercise of the course.
pub fn all() -> &'static [ExerciseSpec] {
    catalogue::registry()
}

pub fn spec(id: &str) -> Option<&'static ExerciseSpec> {
    catalogue::exercise(id)
}

/// How the grader grades one exercise.
pub struct Gradable {
    pub spec: &'static ExerciseSpec,
    pub check: RemoteCheck,
}

impl Gradable {
    /// The whole program compiled for a submission: the student's file and a
    /// `main` that serves their solution on stdin/stdout.
    pub fn program(&self, student_source: &str) -> String {
        format!("{student_source}\n\nfn main() {{\n    {};\n}}\n", self.spec.host_call())
    }
}

pub fn gradable(id: &str) -> Option<Gradable> {
    let spec = spec(id)?;
    Some(Gradable { spec, check: spec.check_remote })
}

/// The student's variant parameters for a seed (null where none).
pub fn variant(spec: &ExerciseSpec, seed: u64) -> serde_json::Value {
    (spec.variant)(seed)
}
