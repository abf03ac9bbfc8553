//! distlab-grader: the grading service.
//!
//! Sandbox and compile path:
//! - [`prepare::prepare`] builds the course rlib once (and copies the
//!   toolchain where sandboxes can read it).
//! - [`compile::compile`] turns a student `main.rs` into a binary with plain
//!   rustc inside the sandbox.
//! - [`run::run`] runs it in the sandbox under seccomp, with stdin from a
//!   buffer and capped output; [`run::start_host`] runs it as a node host
//!   with its stdin/stdout piped to the grader.
//!
//! Service: [`server`] (HTTP [`api`] and [`pages`], [`worker`] pool over
//! the SQLite [`queue`]), grading of one submission in [`grading`], the
//! gradebook in [`db`], [`submissions`], [`deadlines`], [`gradebook`].

pub mod api;
pub mod auth;
pub mod blocking;
pub mod cache;
pub mod catalogue;
pub mod charts;
pub mod commands;
pub mod compile;
pub mod course_sources;
pub mod db;
pub mod deadlines;
pub mod feedback;
pub mod gradebook;
pub mod grading;
pub mod highlight;
pub mod overrides;
pub mod pages;
pub mod pg_cluster;
pub mod prepare;
pub mod queue;
pub mod ratelimit;
pub mod regrades;
pub mod release;
pub mod roster;
pub mod run;
pub mod sandbox;
mod scratch;
pub mod secret;
pub mod server;
pub mod stamp;
pub mod stats;
pub mod submissions;
#[cfg(test)]
mod test_support;
pub mod worker;

pub use compile::{compile, CompileOptions, CompileOutcome};
pub use prepare::{prepare, PrepareOptions, Prepared};
pub use run::{run, RunOptions};
pub use sandbox::{LimitHit, Limits, Outcome, SandboxUser, SlotPool, Termination};
