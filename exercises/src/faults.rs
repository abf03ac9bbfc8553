//! Faults as data: crashes, recoveries and partitions at given times.

use serde::{Deserialize, Serialize};

use crate::rng::{Draw, SeededRng, FAULT_STREAM};
use crate::{NodeId, Time};

/// One fault. A crash without a later recovery is crash-stop.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The node stops; its volatile state and pending timers are lost and
    /// messages that reach it are dropped.
    Crash { node: NodeId, at: Time },
    /// The node restarts from its durable state.
    Recover { node: NodeId, at: Time },
    /// No message between a node of `a` and a node of `b`, either way,
    /// arrives while `start <= t < end`.
    Partition { a: Vec<NodeId>, b: Vec<NodeId>, start: Time, end: Time },
    /// Messages from `from` to `to` (one way only) are lost while
    /// `start <= t < end`.
    Cut { from: Vec<NodeId>, to: Vec<NodeId>, start: Time, end: Time },
}

impl Fault {
    /// When the fault takes effect.
    pub fn start(&self) -> Time {
        match *self {
            Fault::Crash { at, .. } | Fault::Recover { at, .. } => at,
            Fault::Partition { start, .. } | Fault::Cut { start, .. } => start,
        }
    }

    /// When the fault stops changing the system.
    pub fn end(&self) -> Time {
        match *self {
            Fault::Crash { at, .. } | Fault::Recover { at, .. } => at,
            Fault::Partition { end, .. } | Fault::Cut { end, .. } => end,
        }
    }

    /// Whether this fault blocks a message from `from` to `to` arriving at `t`.
    pub fn blocks(&self, from: NodeId, to: NodeId, t: Time) -> bool {
        match self {
            Fault::Partition { a, b, start, end } => {
                *start <= t
                    && t < *end
                    && ((a.contains(&from) && b.contains(&to)) || (b.contains(&from) && a.contains(&to)))
            }
            Fault::Cut { from: f, to: d, start, end } => {
                *start <= t && t < *end && f.contains(&from) && d.contains(&to)
            }
            _ => false,
        }
    }

    /// A short description for messages and diagrams.
    pub fn describe(&self) -> String {
        match self {
            Fault::Crash { node, at } => format!("node {node} crashes at {}", fmt_time(*at)),
            Fault::Recover { node, at } => format!("node {node} recovers at {}", fmt_time(*at)),
            Fault::Partition { a, b, start, end } => {
                format!("partition {a:?} | {b:?} from {} to {}", fmt_time(*start), fmt_time(*end))
            }
            Fault::Cut { from, to, start, end } => {
                format!("link {from:?} -> {to:?} cut from {} to {}", fmt_time(*start), fmt_time(*end))
            }
        }
    }

    fn validate(&self, nodes: usize) -> Result<(), String> {
        let check_node = |node: NodeId| {
            if node >= nodes {
                Err(format!("unknown node {node}: the system has nodes 0 to {}", nodes.saturating_sub(1)))
            } else {
                Ok(())
            }
        };
        match self {
            Fault::Crash { node, at } | Fault::Recover { node, at } => {
                check_node(*node)?;
                if *at < 0 {
                    return Err(format!("negative time {at} us"));
                }
            }
            Fault::Partition { a: x, b: y, start, end } | Fault::Cut { from: x, to: y, start, end } => {
                for &node in x.iter().chain(y) {
                    check_node(node)?;
                }
                if x.is_empty() || y.is_empty() {
                    return Err("both sides must name at least one node".into());
                }
                if let Some(node) = x.iter().find(|n| y.contains(n)) {
                    return Err(format!("node {node} is on both sides"));
                }
                if *start < 0 {
                    return Err(format!("negative start time {start} us"));
                }
                if end <= start {
                    return Err(format!("it ends at {end} us, not after it starts at {start} us"));
                }
            }
        }
        Ok(())
    }
}

/// A named list of faults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Schedule {
    pub name: String,
    pub faults: Vec<Fault>,
}

/// Bounds for a random schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomFaults {
    pub crashes: usize,
    /// Whether crashed nodes come back.
    pub recover: bool,
    pub partitions: usize,
    /// Faults happen in `[0, horizon)`.
    pub horizon: Time,
    /// How many nodes may be down at once (keeps a majority alive if the
    /// exercise needs one).
    pub max_down: usize,
}

impl Default for RandomFaults {
    fn default() -> Self {
        RandomFaults { crashes: 1, recover: true, partitions: 1, horizon: 200_000, max_down: 1 }
    }
}

impl Schedule {
    pub fn none() -> Self {
        Schedule { name: "no faults".into(), faults: Vec::new() }
    }

    /// A schedule drawn from `seed`: the same seed gives the same faults.
    pub fn random(seed: u64, nodes: usize, bounds: &RandomFaults) -> Schedule {
        let mut rng = SeededRng::new(seed, FAULT_STREAM);
        let mut faults = Vec::new();
        let horizon = bounds.horizon.max(2);
        // Crash windows are kept apart so at most `max_down` overlap.
        let mut windows: Vec<(Time, Time)> = Vec::new();
        for _ in 0..bounds.crashes {
            if nodes == 0 || bounds.max_down == 0 {
                break;
            }
            let node = rng.below(nodes as u64) as NodeId;
            let at = rng.below(horizon as u64 / 2) as Time;
            let back = at + 1 + rng.below(horizon as u64 / 2) as Time;
            let down_then = windows.iter().filter(|(s, e)| *s < back && at < *e).count();
            let already = faults.iter().any(|f| matches!(f, Fault::Crash { node: n, .. } if *n == node));
            if down_then >= bounds.max_down || already {
                continue;
            }
            faults.push(Fault::Crash { node, at });
            if bounds.recover {
                faults.push(Fault::Recover { node, at: back });
                windows.push((at, back));
            } else {
                windows.push((at, Time::MAX));
            }
        }
        for _ in 0..bounds.partitions {
            if nodes < 2 {
                break;
            }
            let mut a = Vec::new();
            let mut b = Vec::new();
            for node in 0..nodes {
                if rng.below(2) == 0 {
                    a.push(node)
                } else {
                    b.push(node)
                }
            }
            if a.is_empty() || b.is_empty() {
                continue;
            }
            let start = rng.below(horizon as u64 / 2) as Time;
            let end = start + 1 + rng.below(horizon as u64 / 2) as Time;
            faults.push(Fault::Partition { a, b, start, end });
        }
        faults.sort_by_key(|f| f.start());
        Schedule { name: format!("random faults (seed {seed})"), faults }
    }

    /// The time after which no fault changes the system any more.
    pub fn quiet_after(&self) -> Time {
        self.faults.iter().map(Fault::end).max().unwrap_or(0)
    }

    pub fn validate(&self, nodes: usize) -> Result<(), String> {
        for (i, fault) in self.faults.iter().enumerate() {
            fault.validate(nodes).map_err(|why| format!("fault {} ({}): {why}", i + 1, kind_name(fault)))?;
        }
        Ok(())
    }
}

fn kind_name(fault: &Fault) -> &'static str {
    match fault {
        Fault::Crash { .. } => "crash",
        Fault::Recover { .. } => "recover",
        Fault::Partition { .. } => "partition",
        Fault::Cut { .. } => "cut",
    }
}

/// Microseconds as a short human string: `12.5 ms`, `3 s`.
pub fn fmt_time(us: Time) -> String {
    if us % 1_000_000 == 0 && us != 0 {
        format!("{} s", us / 1_000_000)
    } else {
        fmt_ms(us as f64 / 1000.0)
    }
}

/// Milliseconds as a person writes them: at most three decimals, without
/// trailing zeros ("68400 ms", not "68399.99999999999 ms"; "4.924 ms").
/// Every time or duration in a message goes through this or [`fmt_time`].
pub fn fmt_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return format!("{ms} ms");
    }
    let text = format!("{ms:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let text = if text == "-0" { "0" } else { text };
    format!("{text} ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_a_person_writes_them() {
        assert_eq!(fmt_ms(68399.99999999999), "68400 ms");
        assert_eq!(fmt_ms(4.924), "4.924 ms");
        assert_eq!(fmt_ms(-0.0001), "0 ms");
        assert_eq!(fmt_time(4_924), "4.924 ms");
        assert_eq!(fmt_time(30_000), "30 ms");
        assert_eq!(fmt_time(2_000_000), "2 s");
        assert_eq!(fmt_time(0), "0 ms");
        assert_eq!(fmt_time(1_500), "1.5 ms");
    }
}
