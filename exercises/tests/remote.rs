//! Nodes behind the node-host protocol behave exactly like local nodes, and
//! a host that panics, dies or prints garbage fails the run, never passes it.
use std::io::{Read, Write};
use std::thread;

use distlab::catalogue::warmup::{self, WarmupMsg};
use distlab::catalogue::{Run, Scope};
use distlab::check::NODES_RUN_CLEANLY;
use distlab::remote::{serve, Connection, RemoteNode};
use distlab::*;

/// A node host in a thread, serving what `make` builds; `budget` cuts its
/// input off after that many bytes, as if the sandbox killed it.
fn host_thread(make: fn(NodeId) -> Box<dyn Process<WarmupMsg>>, budget: u64) -> Box<process::NodeFactory<WarmupMsg>> {
    let (to_host_reader, to_host_writer) = std::io::pipe().unwrap();
    let (from_host_reader, from_host_writer) = std::io::pipe().unwrap();
    thread::spawn(move || {
        let _ = serve(&make, to_host_reader.take(budget), from_host_writer);
    });
    RemoteNode::factory(Connection::new(Box::new(from_host_reader), Box::new(to_host_writer)))
}

fn reference_node(_: NodeId) -> Box<dyn Process<WarmupMsg>> {
    (warmup::reference::solution())(0)
}

#[test]
fn a_remote_run_is_the_same_run_as_a_local_one() {
    for seed in 0..20 {
        for scenario in ["clean network", "30% loss"] {
            let s = warmup::scenarios().into_iter().find(|s| s.scenario.name == scenario).unwrap().scenario;
            let local = simulate_with(&s, seed, std::rc::Rc::from(warmup::reference::solution())).unwrap();
            let remote = simulate_with(&s, seed, std::rc::Rc::from(host_thread(reference_node, u64::MAX))).unwrap();
            assert_eq!(local.hash(), remote.hash(), "seed {seed}, {scenario}");
        }
    }
    let report = warmup::check(host_thread(reference_node, u64::MAX), &Run::public(4));
    assert_eq!(report.score(&warmup::SPEC, Scope::Public), 4.0);
}

#[derive(Clone, Debug, Hash)]
struct Panicky;

impl Process<WarmupMsg> for Panicky {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        if ctx.me() == 0 {
            ctx.broadcast(WarmupMsg::Ping(0));
        }
    }
    fn on_message(&mut self, _: &mut Ctx<WarmupMsg>, _: NodeId, _: WarmupMsg) {
        panic!("ping handling not written yet")
    }
}

#[test]
fn a_panic_in_the_host_fails_the_node_with_its_message() {
    let report = warmup::check(host_thread(|_| Box::new(Panicky), u64::MAX), &Run::replay("clean network", 1));
    let v = report.verdicts.iter().find(|v| v.check == NODES_RUN_CLEANLY).unwrap();
    assert_eq!(v.status, Status::Fail);
    assert!(v.message.contains("ping handling not written yet"), "{}", v.message);
    // Nothing else passes by default once a node has failed.
    assert_eq!(report.score(&warmup::SPEC, Scope::Public), 0.0);
}

#[test]
fn a_host_that_dies_mid_run_fails_the_run_and_scores_nothing() {
    let report = warmup::check(host_thread(reference_node, 900), &Run::replay("30% loss", 2));
    let v = report.verdicts.iter().find(|v| v.check == NODES_RUN_CLEANLY).unwrap();
    assert_eq!(v.status, Status::Fail);
    assert!(v.message.contains("stopped answering"), "{}", v.message);
    assert!(report.verdicts.iter().all(|v| !v.passed()));
}

#[test]
fn a_forged_all_passed_answer_scores_zero_with_a_reason() {
    let (to_host_reader, to_host_writer) = std::io::pipe().unwrap();
    let (from_host_reader, mut from_host_writer) = std::io::pipe().unwrap();
    thread::spawn(move || {
        let mut requests = to_host_reader;
        let _ = from_host_writer.write_all(b"ALL CHECKS PASSED: score 5/5\n");
        // Keep reading, so the grader's requests never meet a closed pipe.
        let _ = std::io::copy(&mut requests, &mut std::io::sink());
    });
    let factory = RemoteNode::factory(Connection::new(Box::new(from_host_reader), Box::new(to_host_writer)));
    let report = warmup::check(factory, &Run::public(1));
    assert_eq!(report.score(&warmup::SPEC, Scope::Public), 0.0);
    let v = report.verdicts.iter().find(|v| v.check == NODES_RUN_CLEANLY).unwrap();
    assert!(v.message.contains("broke the protocol"), "{}", v.message);
}

#[test]
fn the_explorer_sees_the_same_state_space_through_the_host() {
    let local = Explorer::new(3, |id| (warmup::reference::solution())(id)).max_states(20_000).run();
    let remote =
        Explorer::with_factory(3, std::rc::Rc::from(host_thread(reference_node, u64::MAX))).max_states(20_000).run();
    assert_eq!(local.states, remote.states);
    assert_eq!(local.transitions, remote.transitions);
    assert!(local.states > 10);
}

/// A function host in a thread serving `dispatch`, as the sandboxed
/// binary of a numeric exercise would.
fn function_host(
    dispatch: fn(&str, serde_json::Value) -> distlab::remote::Answer,
) -> std::rc::Rc<std::cell::RefCell<Connection>> {
    let (to_host_reader, to_host_writer) = std::io::pipe().unwrap();
    let (from_host_reader, from_host_writer) = std::io::pipe().unwrap();
    thread::spawn(move || {
        let _ = distlab::remote::serve_calls(&dispatch, to_host_reader, from_host_writer);
    });
    Connection::new(Box::new(from_host_reader), Box::new(to_host_writer))
}

#[test]
fn a_numeric_solution_behind_a_function_host_is_judged_like_a_local_one() {
    use distlab::catalogue::hops;
    fn right(name: &str, args: serde_json::Value) -> distlab::remote::Answer {
        assert_eq!(name, "worst_case_hops");
        distlab::remote::answer(args, |(t, n)| (hops::reference::solution())(t, n))
    }
    let remote = (hops::SPEC.check_remote)(function_host(right), &Run::all(5));
    let local = hops::check(hops::reference::solution(), &Run::all(5));
    assert_eq!(remote.score(&hops::SPEC, Scope::All), hops::SPEC.points as f64);
    assert_eq!(remote.verdicts, local.verdicts);

    fn panics(_: &str, _: serde_json::Value) -> distlab::remote::Answer {
        panic!("hops not written yet")
    }
    let report = (hops::SPEC.check_remote)(function_host(panics), &Run::public(5));
    assert_eq!(report.score(&hops::SPEC, Scope::Public), 0.0);
    assert!(report.verdicts[0].message.contains("hops not written yet"), "{}", report.verdicts[0].message);
}

#[test]
fn a_function_host_that_prints_a_verdict_scores_zero() {
    use distlab::catalogue::skew;
    let (to_host_reader, to_host_writer) = std::io::pipe().unwrap();
    let (from_host_reader, mut from_host_writer) = std::io::pipe().unwrap();
    thread::spawn(move || {
        let mut requests = to_host_reader;
        let _ = from_host_writer.write_all(b"{\"reply\":\"value\",\"value\":\"all checks passed\"}\n");
        // Keep reading, so the grader's requests never meet a closed pipe.
        let _ = std::io::copy(&mut requests, &mut std::io::sink());
    });
    let connection = Connection::new(Box::new(from_host_reader), Box::new(to_host_writer));
    let report = (skew::SPEC.check_remote)(connection, &Run::all(2));
    assert_eq!(report.score(&skew::SPEC, Scope::All), 0.0);
    assert!(report.verdicts.iter().all(|v| !v.passed()));
    assert!(report.verdicts[0].message.contains("broke the protocol"), "{}", report.verdicts[0].message);
}
