//! distlab: the course crate of a distributed-systems course.
//!
//! Students implement nodes of classic algorithms as plain structs with
//! handlers ([`Process`]). A deterministic discrete-event simulator runs
//! them over a network model whose every choice comes from one seed; monitors
//! judge the trace; an explorer tries every delivery order of small systems;
//! a space-time diagram shows what happened.
//!
//! # What a node may hold, send and persist
//!
//! - **State** (the fields of your node struct) must be `Clone`, `Debug`
//!   and `Hash`: the explorer and the grader fingerprint it. So use
//!   `BTreeMap`/`BTreeSet` rather than `HashMap`/`HashSet` (whose order is
//!   random), and [`F64`] rather than `f64` for a number with a fraction.
//!   No `static`, thread-local or global: in the grader every node is a
//!   process of its own, so nodes share nothing but messages.
//! - **Messages** are the exercise's message type (`WarmupMsg`, `RaMsg`,
//!   ...): you send what it can carry. Logical stamps (Lamport, vector,
//!   multicast, Ricart and Agrawala) are `u64`; times are [`Time`]
//!   (microseconds, `i64`; [`ms`] converts).
//! - **Durable values** ([`Ctx::persist`], [`Ctx::recall`]) survive a crash;
//!   anything `serde` can write works: std types, `distlab` types, and
//!   your own with `#[derive(serde::Serialize, serde::Deserialize)]`.
//! - **Observations** ([`Observation`], with `ctx.observe`) are what the
//!   checks see of your algorithm besides its messages.
//!
//! Module map:
//! - [`process`]: the node trait, the handler context, observations.
//! - [`network`], [`faults`], [`scenario`]: the run's conditions, as data.
//! - [`sim`]: the timed simulator; [`world`]: nodes and dispatch, shared
//!   with the explorer.
//! - [`explore`]: every interleaving of a small system, breadth first;
//!   [`minimize`]: shrinks a failing trace to a short one that still fails.
//! - [`trace`]: the record of a run, with a stable JSON form and hash.
//! - [`check`]: monitors, verdicts and counters.
//! - [`diagram`]: the space-time diagram of a trace, as SVG; [`display`]:
//!   verdict tables and reports as HTML, shown rich in notebooks.
//! - [`remote`]: student nodes in a sandboxed node host, driven by the
//!   grader's own simulator over a line protocol.
//! - [`rng`], [`stable_hash`]: seeded randomness and run-independent hashing;
//!   [`float`]: [`F64`], a float node state can hold.
//! - [`markers`]: solution markers, the student version of instructor code;
//!   [`html`]: the one HTML escaper of the project.
//! - [`catalogue`]: the exercise registry and the exercises; `catalogue::warmup`
//!   shows the shape every algorithm exercise follows.

// Lets each exercise's solution cell (`catalogue::exercise_source!`),
// written as a student writes it, compile as the crate's reference too.
extern crate self as distlab;

pub mod catalogue;
pub mod check;
pub mod cluster;
pub mod diagram;
pub mod display;
pub mod explore;
pub mod faults;
pub mod float;
pub mod guard;
pub mod html;
pub mod markers;
pub mod minimize;
pub mod network;
pub mod process;
pub mod remote;
pub mod rng;
pub mod scenario;
#[cfg(unix)]
pub mod shm;
pub mod sim;
pub mod stable_hash;
pub mod trace;
pub mod world;

/// A node's id: nodes are numbered `0..n`.
pub type NodeId = usize;

/// Virtual time in microseconds.
pub type Time = i64;

/// Milliseconds as virtual time.
pub const fn ms(millis: i64) -> Time {
    millis * 1000
}

pub use check::{check_trace, Counters, Monitor, Provenance, RunEnd, Status, Step, Verdict};
pub use diagram::{svg, Diagram, DiagramOptions, Focus, Highlight, Subject};
pub use display::{report_html, show_html, verdicts_html, verdicts_text, Html, Svg};
pub use explore::{Budgets, Counterexample, Exploration, Explorer, Move, TimerPolicy};
pub use faults::{Fault, RandomFaults, Schedule};
pub use float::F64;
pub use minimize::{minimize, minimize_with, Minimized};
pub use network::{ClockModel, Delay, Network};
pub use process::{Ctx, Decision, Message, NodeClone, Observation, Process, TimerTag};
pub use scenario::{Scenario, ScenarioError};
pub use sim::{determinism_check, simulate, simulate_with};
pub use trace::{Dest, DropReason, Event, EventKind, MsgId, Stop, Trace};

/// The serialization crate of every message, observation and durable
/// value. A submission may also name it directly (`#[derive(serde::Serialize)]`):
/// the kernel and the grader both put it beside `distlab`.
pub use serde;

/// True in the grader's own build, which has the hidden scenarios. The
/// kernel refuses to build against such a build: students run the kernel.
pub const HIDDEN_SCENARIOS_BUILT_IN: bool = cfg!(feature = "grader");
