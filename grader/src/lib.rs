//! distlab-grader: the sandboxed compile and run path for student
//! submissions.
//!
//! - [`prepare::prepare`] builds the course rlib once (and copies the
//!   toolchain where sandboxes can read it).
//! - [`compile::compile`] turns a student `main.rs` into a binary with plain
//!   rustc inside the sandbox.
//! - [`run::run`] runs it in the sandbox under seccomp, with stdin from a
//!   buffer and capped output.
//!
//! Each call takes the [`sandbox::SandboxUser`] of a worker slot from a
//! [`sandbox::SlotPool`]; one slot serves one job at a time.

pub mod compile;
pub mod prepare;
pub mod release;
pub mod run;
pub mod sandbox;
mod scratch;

pub use compile::{compile, CompileOptions, CompileOutcome};
pub use prepare::{prepare, PrepareOptions, Prepared};
pub use run::{run, RunOptions};
pub use sandbox::{LimitHit, Limits, Outcome, SandboxUser, SlotPool, Termination};
