//! A scenario: everything about a run except the nodes' code and the seed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::faults::Schedule;
use crate::network::{ClockModel, Network};
use crate::Time;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub nodes: usize,
    pub network: Network,
    /// One clock per node; empty means every clock is perfect.
    pub clocks: Vec<ClockModel>,
    pub schedule: Schedule,
    /// The run stops at this true time (microseconds).
    pub until: Time,
    /// The run stops after this many events, whatever the time: a guard
    /// against nodes that chatter forever with zero delay.
    pub max_events: usize,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "default".into(),
            nodes: 3,
            network: Network::default(),
            clocks: Vec::new(),
            schedule: Schedule::none(),
            until: 1_000_000,
            max_events: 1_000_000,
        }
    }
}

/// Why a scenario can't run. Its text says what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub scenario: String,
    pub reason: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid scenario '{}': {}", self.scenario, self.reason)
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    pub fn new(name: &str, nodes: usize) -> Self {
        Scenario { name: name.into(), nodes, ..Scenario::default() }
    }

    /// Reads a scenario from JSON and validates it.
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = serde_json::from_str(text)
            .map_err(|e| ScenarioError { scenario: "(unparsed)".into(), reason: e.to_string() })?;
        scenario.validate()?;
        Ok(scenario)
    }

    pub fn validate(&self) -> Result<(), ScenarioError> {
        let fail = |reason: String| Err(ScenarioError { scenario: self.name.clone(), reason });
        if self.nodes == 0 {
            return fail("a system needs at least one node".into());
        }
        if self.until <= 0 {
            return fail(format!("'until' must be positive, not {} us", self.until));
        }
        if !self.clocks.is_empty() && self.clocks.len() != self.nodes {
            return fail(format!("{} clocks given for {} nodes", self.clocks.len(), self.nodes));
        }
        if let Err(why) = self.network.validate() {
            return fail(format!("network: {why}"));
        }
        for (node, clock) in self.clocks.iter().enumerate() {
            if let Err(why) = clock.validate() {
                return fail(format!("clock of node {node}: {why}"));
            }
        }
        if let Err(why) = self.schedule.validate(self.nodes) {
            return fail(format!("schedule '{}': {why}", self.schedule.name));
        }
        Ok(())
    }

    pub fn clock(&self, node: usize) -> ClockModel {
        self.clocks.get(node).cloned().unwrap_or_default()
    }
}
