//! The warm-up exercise: the reference passes, typical mistakes fail with a
//! counterexample and a plain-words message.
#![cfg(feature = "reference")]

use std::collections::BTreeSet;

use distlab::warmup::{self, WarmupMsg};
use distlab::*;

#[test]
fn the_reference_passes_every_public_scenario_over_200_seeds() {
    let (verdicts, failing) = warmup::check(warmup::reference::factory(), 200);
    let bad: Vec<_> = verdicts.iter().filter(|v| !v.passed()).collect();
    assert!(bad.is_empty(), "{}", bad[0]);
    assert!(failing.is_none());
    assert_eq!(verdicts.len(), 2 * 200 * 3);
}

/// Pings once and never retransmits.
#[derive(Clone, Debug, Hash, Default)]
struct Hopeful;

impl Process<WarmupMsg> for Hopeful {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        if ctx.me() == 0 {
            for p in ctx.peers().collect::<Vec<_>>() {
                ctx.send(p, WarmupMsg::Ping(1));
            }
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {
        if let WarmupMsg::Ping(k) = msg {
            ctx.send(from, WarmupMsg::Pong(k));
        }
    }
}

#[test]
fn no_retransmission_fails_on_the_lossy_network_only() {
    let (verdicts, failing) = warmup::check(Box::new(|_| Box::new(Hopeful)), 20);
    let failed: BTreeSet<&str> = verdicts.iter().filter(|v| !v.passed()).map(|v| v.scenario.as_str()).collect();
    assert_eq!(failed, BTreeSet::from(["30% loss"]));
    let v = verdicts.iter().find(|v| !v.passed()).unwrap();
    assert_eq!(v.check, "node 0 hears from everyone");
    assert!(v.message.starts_with("node 0 never got a pong from node(s)"), "{}", v.message);
    assert!(v.replay.starts_with(":check warmup --scenario \"30% loss\" --seed "), "{}", v.replay);
    let trace = failing.expect("a failing trace comes back for the diagram");
    assert_eq!(trace.scenario.name, "30% loss");
}

/// Answers with the wrong number.
#[derive(Clone, Debug, Hash, Default)]
struct OffByOne;

impl Process<WarmupMsg> for OffByOne {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        Hopeful.on_start(ctx)
    }
    fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {
        if let WarmupMsg::Ping(k) = msg {
            ctx.send(from, WarmupMsg::Pong(k + 1));
        }
    }
}

#[test]
fn a_pong_that_answers_no_ping_is_a_safety_violation_at_that_send() {
    let (verdicts, failing) = warmup::check(Box::new(|_| Box::new(OffByOne)), 1);
    let v = verdicts.iter().find(|v| v.check == "every pong answers a ping").unwrap();
    assert_eq!(v.status, Status::Fail);
    assert!(v.message.contains("sent Pong(2) to node 0, which never pinged it with 2"), "{}", v.message);
    let trace = failing.unwrap();
    assert!(matches!(trace.events[v.event.unwrap()].kind, EventKind::Send { .. }));
}

#[test]
fn replay_reproduces_the_same_run() {
    let a = warmup::replay(warmup::reference::factory(), "30% loss", 7).unwrap();
    let b = warmup::replay(warmup::reference::factory(), "30% loss", 7).unwrap();
    assert_eq!(a.hash(), b.hash());
    assert!(warmup::replay(warmup::reference::factory(), "no such scenario", 7).is_none());
}
