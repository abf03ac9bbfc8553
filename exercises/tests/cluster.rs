//! Cluster mode: the references of three exercises run as peers over real
//! TCP on loopback and pass their own monitors, crashes included; a crash
//! closes the node's sockets and shows in the trace; datagrams with loss
//! show their drops, and what they do to an algorithm that trusts its
//! links.

use distlab::catalogue::{bully, ricart, twophase};
use distlab::cluster::{self, Transport};
use distlab::*;

/// Runs `scenario` over the network and judges it with `monitors`; every
/// verdict must pass.
fn passes_on<M: Message>(
    transport: Transport,
    scenario: &Scenario,
    factory: Box<process::NodeFactory<M>>,
    monitors: &[Box<dyn Monitor<M>>],
) -> Trace<M> {
    let trace = cluster::run(scenario, transport, 7, factory).unwrap();
    let verdicts = check_trace(&trace, monitors, &Provenance::of(&trace, "cluster run"));
    for v in &verdicts {
        assert_eq!(v.status, Status::Pass, "{}: {} failed: {}", scenario.name, v.check, v.message);
    }
    trace
}

#[test]
fn ricart_agrawala_passes_its_checks_over_tcp() {
    for runs in ricart::scenarios().into_iter().filter(|r| !r.hidden) {
        let trace =
            passes_on(Transport::Tcp, &runs.scenario, ricart::reference::solution(), &ricart::monitors(&runs.scenario));
        assert!(trace.messages_sent() > 0);
        // Real time: loopback delivers in well under the simulated 1 ms.
        let times = cluster::delivery_times(&trace);
        assert!(times[times.len() / 2] < 50_000, "median one-way {} us", times[times.len() / 2]);
    }
}

#[test]
fn bully_elects_over_tcp_through_crashes_and_a_recovery() {
    for runs in bully::scenarios().into_iter().filter(|r| !r.hidden) {
        let trace =
            passes_on(Transport::Tcp, &runs.scenario, bully::reference::solution(), &bully::monitors(&runs.scenario));
        assert!(trace.events.iter().any(|e| matches!(e.kind, EventKind::Crash { node: 4 })), "{}", runs.scenario.name);
    }
}

/// Every public scenario but the cut link: its window is sized to the
/// simulated delays (it opens just after the votes would arrive), and on
/// loopback the timing it was built around does not happen.
#[test]
fn two_phase_commit_decides_over_tcp_with_crashes() {
    let crashes_only = |r: &catalogue::runs::ScenarioRuns| {
        !r.hidden && r.scenario.schedule.faults.iter().all(|f| matches!(f, Fault::Crash { .. } | Fault::Recover { .. }))
    };
    let runs: Vec<_> = twophase::scenarios(0).into_iter().filter(crashes_only).collect();
    assert!(runs.iter().filter(|r| !r.scenario.schedule.faults.is_empty()).count() >= 3, "crash scenarios run");
    for runs in runs {
        passes_on(Transport::Tcp, &runs.scenario, twophase::reference::solution(), &twophase::monitors(&runs.scenario));
    }
}

/// The crashed coordinator's sockets are gone: whatever its peers send it
/// afterwards is refused or lost, and the trace says so.
#[test]
fn a_crash_closes_the_nodes_connections_and_the_trace_shows_it() {
    let runs = bully::scenarios().into_iter().find(|r| r.scenario.name == "coordinator crashes").unwrap();
    let trace = cluster::run(&runs.scenario, Transport::Tcp, 7, bully::reference::solution()).unwrap();
    let crash = trace.events.iter().position(|e| matches!(e.kind, EventKind::Crash { node: 4 })).expect("a crash");
    assert!(trace.events[crash].at >= 150_000, "at the scheduled time, on the wall clock");
    let after = &trace.events[crash..];
    assert!(!after.iter().any(|e| matches!(e.kind, EventKind::Deliver { to: 4, .. })), "nothing reaches node 4");
    let refused =
        after.iter().filter(|e| matches!(e.kind, EventKind::Drop { to: 4, reason: DropReason::Crashed, .. })).count();
    let sent_to_4 = after
        .iter()
        .filter(|e| {
            matches!(e.kind, EventKind::Send { to: Dest::Node(4), .. } | EventKind::Send { to: Dest::AllOthers, .. })
        })
        .count();
    assert!(sent_to_4 > 0 && refused >= sent_to_4, "{refused} of {sent_to_4} messages to node 4 dropped as crashed");
}

/// Datagrams: the injected loss shows as drops; Ricart and Agrawala,
/// which trusts its links, then leaves someone waiting for a lost reply.
#[test]
fn datagrams_with_loss_show_drops_and_break_an_algorithm_that_trusts_its_links() {
    let runs = ricart::scenarios().into_iter().next().unwrap();
    let trace = cluster::run(&runs.scenario, Transport::Udp { loss: 0.3 }, 3, ricart::reference::solution()).unwrap();
    let lost =
        trace.events.iter().filter(|e| matches!(e.kind, EventKind::Drop { reason: DropReason::Loss, .. })).count();
    let delivered = trace.events.iter().filter(|e| matches!(e.kind, EventKind::Deliver { .. })).count();
    assert!(lost > 0 && delivered > 0, "lost {lost}, delivered {delivered}");
    let verdicts = check_trace(&trace, &ricart::monitors(&runs.scenario), &Provenance::of(&trace, "udp"));
    assert!(verdicts.iter().any(|v| v.status != Status::Pass), "a lost reply must leave a request unserved");
    // Without loss, datagrams on loopback are enough.
    passes_on(
        Transport::Udp { loss: 0.0 },
        &runs.scenario,
        ricart::reference::solution(),
        &ricart::monitors(&runs.scenario),
    );
}
