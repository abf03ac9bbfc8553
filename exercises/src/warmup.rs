//! The welcome notebook's warm-up: node 0 pings every other node and must
//! hear a pong from each, over a network that loses messages. It teaches
//! the handler model, timers for retransmission, and reading a verdict.
//!
//! Also the shape every exercise follows: the message type and the checks
//! live here, monomorphized in this crate, and a student's file only calls
//! the non-generic [`check`].

use std::collections::BTreeSet;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::check::{check_trace, Monitor, Provenance, Step};
use crate::process::{NodeFactory, Process};
use crate::scenario::Scenario;
use crate::sim::simulate_with;
use crate::trace::{EventKind, Trace};
use crate::{ms, Network, NodeId, Time, Verdict};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WarmupMsg {
    Ping(u64),
    Pong(u64),
}

/// A pong answers a ping: `Pong(k)` from a to b only after a got `Ping(k)`
/// from b.
#[derive(Clone, Debug, Hash, Default)]
pub struct PongAnswersPing {
    pinged: BTreeSet<(NodeId, NodeId, u64)>,
}

impl Monitor<WarmupMsg> for PongAnswersPing {
    fn name(&self) -> String {
        "every pong answers a ping".into()
    }
    fn on_event(&mut self, step: &Step<'_, WarmupMsg>) -> Result<(), String> {
        match (step.kind, step.msg) {
            (EventKind::Deliver { from, to, .. }, Some(WarmupMsg::Ping(k))) => {
                self.pinged.insert((*to, *from, *k));
            }
            (EventKind::Send { from, to: crate::Dest::Node(to), .. }, Some(WarmupMsg::Pong(k))) => {
                if !self.pinged.contains(&(*from, *to, *k)) {
                    return Err(format!("node {from} sent Pong({k}) to node {to}, which never pinged it with {k}"));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Node 0 hears a pong from every node that is up, within the deadline.
#[derive(Clone, Debug, Hash)]
pub struct EveryoneAnswers {
    answered: BTreeSet<NodeId>,
    nodes: usize,
    deadline: Time,
}

impl Monitor<WarmupMsg> for EveryoneAnswers {
    fn name(&self) -> String {
        "node 0 hears from everyone".into()
    }
    fn on_event(&mut self, step: &Step<'_, WarmupMsg>) -> Result<(), String> {
        if let (EventKind::Deliver { from, to: 0, .. }, Some(WarmupMsg::Pong(_))) = (step.kind, step.msg) {
            self.answered.insert(*from);
        }
        Ok(())
    }
    fn deadline(&self) -> Option<Time> {
        Some(self.deadline)
    }
    fn settled(&self) -> Result<(), String> {
        let missing: Vec<NodeId> = (1..self.nodes).filter(|n| !self.answered.contains(n)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("node 0 never got a pong from node(s) {missing:?}"))
        }
    }
}

/// The public scenarios: a clean network and a lossy one.
pub fn scenarios() -> Vec<Scenario> {
    let clean = Scenario { network: Network::reliable(ms(2)), until: ms(500), ..Scenario::new("clean network", 4) };
    let lossy = Scenario {
        network: Network { loss: 0.3, ..Network::default() },
        until: ms(2_000),
        ..Scenario::new("30% loss", 4)
    };
    vec![clean, lossy]
}

pub fn monitors(nodes: usize) -> Vec<Box<dyn Monitor<WarmupMsg>>> {
    vec![
        Box::new(PongAnswersPing::default()),
        Box::new(EveryoneAnswers { answered: BTreeSet::new(), nodes, deadline: ms(400) }),
    ]
}

/// Runs every public scenario with `seeds` seeds and judges each run.
/// Returns the verdicts and the trace of the first failing run, if any.
pub fn check(factory: Box<NodeFactory<WarmupMsg>>, seeds: u64) -> (Vec<Verdict>, Option<Trace<WarmupMsg>>) {
    let factory: Rc<NodeFactory<WarmupMsg>> = Rc::from(factory);
    let mut verdicts = Vec::new();
    let mut failing = None;
    for scenario in scenarios() {
        for seed in 0..seeds {
            let trace = simulate_with(&scenario, seed, Rc::clone(&factory)).expect("public scenarios are valid");
            let replay = format!(":check warmup --scenario \"{}\" --seed {seed}", scenario.name);
            let run = check_trace(&trace, &monitors(scenario.nodes), &Provenance::of(&trace, replay));
            if failing.is_none() && run.iter().any(|v| !v.passed()) {
                failing = Some(trace);
            }
            verdicts.extend(run);
        }
    }
    (verdicts, failing)
}

/// Reruns one public scenario with one seed, exactly.
pub fn replay(factory: Box<NodeFactory<WarmupMsg>>, scenario: &str, seed: u64) -> Option<Trace<WarmupMsg>> {
    let scenario = scenarios().into_iter().find(|s| s.name == scenario)?;
    simulate_with(&scenario, seed, Rc::from(factory)).ok()
}

/// A reference solution: ping everyone, retransmit to the silent every
/// 20 ms, answer every ping.
#[cfg(feature = "reference")]
pub mod reference {
    use super::*;
    use crate::{Ctx, TimerTag};

    #[derive(Clone, Debug, Hash, Default)]
    pub struct Pinger {
        waiting: BTreeSet<NodeId>,
    }

    const RETRY: TimerTag = 1;

    impl Process<WarmupMsg> for Pinger {
        fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
            if ctx.me() == 0 {
                self.waiting = ctx.peers().collect();
                self.on_timer(ctx, RETRY);
            }
        }
        fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {
            match msg {
                WarmupMsg::Ping(k) => ctx.send(from, WarmupMsg::Pong(k)),
                WarmupMsg::Pong(_) => {
                    self.waiting.remove(&from);
                }
            }
        }
        fn on_timer(&mut self, ctx: &mut Ctx<WarmupMsg>, _: TimerTag) {
            for &node in &self.waiting {
                ctx.send(node, WarmupMsg::Ping(node as u64));
            }
            if !self.waiting.is_empty() {
                ctx.set_timer(RETRY, ms(20));
            }
        }
    }

    pub fn factory() -> Box<NodeFactory<WarmupMsg>> {
        Box::new(|_| Box::new(Pinger::default()))
    }
}
