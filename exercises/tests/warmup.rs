//! The warm-up exercise: the reference passes, typical mistakes fail with a
//! counterexample and a plain-words message.
use std::collections::BTreeSet;

use distlab::catalogue::runs::HIDDEN_CHECK;
use distlab::catalogue::warmup::{self, WarmupMsg};
use distlab::catalogue::{Run, Scope};
use distlab::*;

#[test]
fn the_reference_passes_every_public_scenario_over_200_seeds() {
    for seed in 0..200 {
        let report = warmup::check(warmup::reference::solution(), &Run::all(seed));
        let bad: Vec<_> = report.verdicts.iter().filter(|v| !v.passed()).collect();
        assert!(bad.is_empty(), "{}", bad[0]);
        assert!(report.diagram.is_none());
        assert_eq!(report.score(&warmup::SPEC, Scope::All), 5.0);
    }
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
    let report = warmup::check(Box::new(|_| Box::new(Hopeful)), &Run::public(3));
    let failed: BTreeSet<&str> = report.verdicts.iter().filter(|v| !v.passed()).map(|v| v.scenario.as_str()).collect();
    assert_eq!(failed, BTreeSet::from(["30% loss"]));
    let v = report.verdicts.iter().find(|v| !v.passed()).unwrap();
    assert_eq!(v.check, "node 0 hears from everyone");
    assert!(v.message.starts_with("node 0 never got a pong from node(s)"), "{}", v.message);
    assert!(v.replay.starts_with(":check warmup --scenario \"30% loss\" --seed "), "{}", v.replay);
    let svg = report.diagram.as_deref().expect("a failing run comes back as a diagram");
    assert!(svg.starts_with("<svg") && svg.contains("30% loss"));
    // The replay line reruns exactly that run and fails the same way.
    let seed: u64 = v.replay.rsplit(' ').next().unwrap().parse().unwrap();
    let again = warmup::check(Box::new(|_| Box::new(Hopeful)), &Run::replay("30% loss", seed));
    assert_eq!(again.verdicts.iter().find(|x| !x.passed()).unwrap(), v);
    assert_eq!(again.verdicts.len(), 3);
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
    let report = warmup::check(Box::new(|_| Box::new(OffByOne)), &Run::public(1));
    let v = report.verdicts.iter().find(|v| v.check == "every pong answers a ping").unwrap();
    assert_eq!(v.status, Status::Fail);
    assert!(v.message.contains("sent Pong(2) to node 0, which never pinged it with 2"), "{}", v.message);
    assert!(report.diagram.unwrap().contains("never pinged it"), "the diagram names the violation");
}

#[test]
fn hidden_scenarios_run_only_in_the_grader_scope_and_stay_terse() {
    let public = warmup::check(Box::new(|_| Box::new(Hopeful)), &Run::public(1));
    assert!(public.verdicts.iter().all(|v| v.check != HIDDEN_CHECK));
    let all = warmup::check(Box::new(|_| Box::new(Hopeful)), &Run::all(1));
    let hidden: Vec<_> = all.verdicts.iter().filter(|v| v.check == HIDDEN_CHECK).collect();
    assert_eq!(hidden.len(), 5 * 3);
    assert!(hidden.iter().any(|v| !v.passed()));
    let results = all.results(&warmup::SPEC, Scope::All);
    assert_eq!(results.iter().find(|r| r.name == HIDDEN_CHECK).unwrap().status, Status::Fail);
    // Pongs are always right: that check alone earns its 2 of 5 points.
    assert_eq!(all.score(&warmup::SPEC, Scope::All), 2.0);
}

/// A replay line of a hidden scenario (the instructor's page shows them)
/// says, in the notebook, that the scenario runs only on the grader.
#[test]
fn replaying_a_scenario_that_is_not_here_says_why() {
    let report = warmup::check(warmup::reference::solution(), &Run::replay("lossy, one node down", 42));
    assert!(!report.verdicts.is_empty());
    for v in &report.verdicts {
        assert_eq!(v.status, Status::Unknown, "{v:?}");
        assert!(v.message.contains("hidden scenarios run only on the grader"), "{}", v.message);
        assert_eq!(v.seed, 42);
    }
    assert_eq!(report.score(&warmup::SPEC, Scope::Public), 0.0);
    // A public scenario still replays as before.
    let clean = warmup::check(warmup::reference::solution(), &Run::replay("clean network", 42));
    assert!(clean.verdicts.iter().all(|v| v.passed()));
}
