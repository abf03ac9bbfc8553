//! What the two clock-synchronisation exercises of notebook 4 (Cristian,
//! Berkeley) share: the true readings of every node's clock, replayed from
//! the scenario's clock models and the adjustments in the trace, and the
//! drawing of a student's clocks.
//!
//! A monitor never trusts what a node says its clock shows: it recomputes
//! the reading the simulator gave the node (`ClockModel::reading` plus every
//! `ClockAdjust` so far), exactly as `sim.rs` does.

use crate::network::{ClockModel, Delay};
use crate::rng::{Draw, SeededRng};
use crate::scenario::Scenario;
use crate::trace::EventKind;
use crate::{NodeId, Time};

/// Every clock in these exercises reads about an hour at true time 0, so
/// an absolute reading is never mistaken for a small correction.
pub const BASE: Time = 3_600_000_000;

/// Slack for the simulator's rounding of drifting clocks to whole
/// microseconds.
pub const ROUNDING: Time = 5;

/// The readings of every node's clock as the simulator computes them.
#[derive(Clone, Debug, Hash)]
pub struct Readings {
    /// Drift in parts per billion and offset: `ClockModel` as hashable data.
    models: Vec<(i64, Time)>,
    adjust: Vec<Time>,
    /// Each node's adjustments when its current handler began, so a check
    /// can read a clock as the handler found it.
    at_handler_start: Vec<Time>,
    pub up: Vec<bool>,
}

impl Readings {
    pub fn new(scenario: &Scenario) -> Self {
        let models = (0..scenario.nodes)
            .map(|n| {
                let c = scenario.clock(n);
                ((c.drift * 1e9).round() as i64, c.offset)
            })
            .collect();
        let n = scenario.nodes;
        Readings { models, adjust: vec![0; n], at_handler_start: vec![0; n], up: vec![true; n] }
    }

    fn model(&self, node: NodeId) -> ClockModel {
        let (ppb, offset) = self.models[node];
        ClockModel { drift: ppb as f64 / 1e9, offset }
    }

    /// Takes in one event: adjustments, crashes and recoveries, handler starts.
    pub fn step<M>(&mut self, kind: &EventKind<M>) {
        match kind {
            EventKind::ClockAdjust { node, delta } => self.adjust[*node] += delta,
            EventKind::Crash { node } => self.up[*node] = false,
            EventKind::Recover { node } => self.up[*node] = true,
            _ => {}
        }
        if let Some(node) = handler_opened(kind) {
            self.at_handler_start[node] = self.adjust[node];
        }
    }

    /// What `node`'s clock shows at true time `t`.
    pub fn at(&self, node: NodeId, t: Time) -> Time {
        self.model(node).reading(t) + self.adjust[node]
    }

    /// What `node`'s clock showed at `t` before its current handler moved it.
    pub fn before_handler(&self, node: NodeId, t: Time) -> Time {
        self.model(node).reading(t) + self.at_handler_start[node]
    }

    /// The clock's rate error, e.g. 0.01 for 1 % fast.
    pub fn drift(&self, node: NodeId) -> f64 {
        self.model(node).drift
    }
}

/// The node whose handler an event opens, if it opens one.
pub fn handler_opened<M>(kind: &EventKind<M>) -> Option<NodeId> {
    match kind {
        EventKind::Start { node } | EventKind::Timer { node, .. } | EventKind::Recover { node } => Some(*node),
        EventKind::Deliver { to, .. } => Some(*to),
        _ => None,
    }
}

/// The shortest and longest delay of a bounded delay model. The sync
/// exercises use only bounded delays: their error bounds come from them.
pub fn delay_range(delay: &Delay) -> (Time, Time) {
    match *delay {
        Delay::Constant { us } => (us, us),
        Delay::Uniform { min, max } => (min, max),
        Delay::Exponential { .. } => panic!("the sync exercises need bounded delays"),
    }
}

/// Microseconds as milliseconds with three decimals, signed: `+4.250 ms`.
pub fn fmt_skew(us: Time) -> String {
    let sign = if us < 0 { "-" } else { "+" };
    format!("{sign}{}", crate::faults::fmt_ms(us.unsigned_abs() as f64 / 1000.0))
}

/// Clocks drawn from `seed` for `nodes` nodes: drift up to `max_drift`
/// either way and offset up to `max_offset` either way around [`BASE`].
pub fn draw_clocks(seed: u64, stream: u64, nodes: usize, max_drift: f64, max_offset: Time) -> Vec<ClockModel> {
    let mut rng = SeededRng::new(seed, stream);
    (0..nodes)
        .map(|_| {
            let drift = (rng.unit() * 2.0 - 1.0) * max_drift;
            let offset = BASE + ((rng.unit() * 2.0 - 1.0) * max_offset as f64).round() as Time;
            ClockModel { drift: (drift * 1e6).round() / 1e6, offset }
        })
        .collect()
}
