//! The grader's view of the course catalogue: which exercises it can grade,
//! the `main` that turns a student's file into a node host, and the check
//! that judges that host from outside the sandbox.
//!
//! Until the catalogue's own remote-grading seam (`host_fn`, `check_remote`,
//! `variant` on `ExerciseSpec`) is on main, the algorithm exercises are
//! listed here with their message types; this module is the one place to
//! switch over.

use std::cell::RefCell;
use std::rc::Rc;

use distlab::catalogue::{self, ExerciseSpec, Report, Run};
use distlab::remote::{Connection, RemoteNode};

/// Checks the solution served behind a connection.
pub type RemoteCheck = fn(Rc<RefCell<Connection>>, &Run) -> Report;

macro_rules! algorithm {
    ($module:ident, $msg:ident) => {
        (
            stringify!($module),
            concat!("distlab::catalogue::", stringify!($module), "::host"),
            (|c, run| catalogue::$module::check(RemoteNode::<catalogue::$module::$msg>::factory(c), run))
                as RemoteCheck,
        )
    };
}

/// (exercise id, host function path, remote check).
const REMOTE: &[(&str, &str, RemoteCheck)] = &[
    algorithm!(warmup, WarmupMsg),
    algorithm!(lamport, LamportMsg),
    algorithm!(vector, VectorMsg),
    algorithm!(tomulticast, ToMsg),
    algorithm!(bully, BullyMsg),
    algorithm!(ring, RingMsg),
    algorithm!(central, CentralMsg),
    algorithm!(ricart, RaMsg),
    algorithm!(tokenring, TokenMsg),
];

/// Every exercise of the course (gradable or not yet).
pub fn all() -> &'static [ExerciseSpec] {
    catalogue::registry()
}

pub fn spec(id: &str) -> Option<&'static ExerciseSpec> {
    catalogue::exercise(id)
}

/// How the grader grades one exercise.
pub struct Gradable {
    pub spec: &'static ExerciseSpec,
    host_fn: &'static str,
    pub check: RemoteCheck,
}

impl Gradable {
    /// The whole program compiled for a submission: the student's file and a
    /// `main` that serves their solution on stdin/stdout.
    pub fn program(&self, student_source: &str) -> String {
        format!("{student_source}\n\nfn main() {{\n    {}({});\n}}\n", self.host_fn, self.spec.solution)
    }
}

pub fn gradable(id: &str) -> Option<Gradable> {
    let spec = spec(id)?;
    REMOTE.iter().find(|(e, _, _)| *e == id).map(|&(_, host_fn, check)| Gradable { spec, host_fn, check })
}

/// The student's variant parameters for a seed (none for these exercises
/// until the catalogue exposes them).
pub fn variant(_spec: &ExerciseSpec, _seed: u64) -> serde_json::Value {
    serde_json::Value::Null
}
