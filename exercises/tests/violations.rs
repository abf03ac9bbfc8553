//! Failing runs of real exercises, drawn: the violation's ring sits on the
//! lifeline of the node the violation is about (the event's node for a
//! broken rule, the named node for something that never happened), a run
//! about no one node gets no ring, and a long run is drawn as a window
//! around the violation with the whole run behind a toggle.

use distlab::catalogue::central::{self, CentralMsg};
use distlab::catalogue::mutex::{first_request, LIVENESS, SAFETY};
use distlab::catalogue::warmup::{self, WarmupMsg, EVERYONE_ANSWERS, PONG_ANSWERS_PING};
use distlab::catalogue::{Report, Run};
use distlab::check::{check_trace, named_node, Provenance};
use distlab::diagram::{Diagram, DiagramOptions, Highlight};
use distlab::*;

/// The node of every violation ring in `svg` (the `data-node` it carries).
fn rings(svg: &str) -> Vec<usize> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}"));
    doc.descendants()
        // The legend's sample ring names no node.
        .filter(|n| n.has_tag_name("circle") && n.attribute("class") == Some("dl-ring"))
        .filter_map(|n| n.attribute("data-node"))
        .map(|node| node.parse().unwrap())
        .collect()
}

fn diagram(report: &Report) -> &Diagram {
    report.diagram.as_ref().expect("a failing run comes back as a diagram")
}

/// The verdict the report leads with (its first row), whose run is drawn.
fn first_failure(report: &Report) -> &Verdict {
    let spec = distlab::catalogue::exercise(&report.exercise).expect("a known exercise");
    report.lead(spec).filter(|v| !v.passed()).expect("a failure")
}

/// Pings once and never retransmits: on a lossy network node 0 never
/// hears from everyone, judged at the deadline.
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
fn never_got_a_pong_is_marked_on_node_0_not_on_the_last_event() {
    for seed in 0..5 {
        let report = warmup::check(Box::new(|_| Box::new(Hopeful)), &Run::public(seed));
        let v = first_failure(&report);
        assert_eq!(v.check, EVERYONE_ANSWERS, "seed {seed}");
        assert!(v.message.starts_with("node 0 never got a pong"), "{}", v.message);
        assert_eq!(v.node, Some(0), "seed {seed}");
        assert_eq!(rings(diagram(&report)), vec![0], "seed {seed}: {}", v.message);
        assert!(diagram(&report).contains("violation: node 0, "), "seed {seed}");
    }
}

/// Answers `Ping(k)` with `Pong(k + 1)`: the broken rule is the send.
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
fn a_wrong_pong_is_marked_on_its_sender_at_the_send() {
    let report = warmup::check(Box::new(|_| Box::new(OffByOne)), &Run::public(1));
    let v = first_failure(&report);
    assert_eq!(v.check, PONG_ANSWERS_PING);
    let sender = named_node(&v.message).expect("the message names the sender");
    assert_ne!(sender, 0, "only the others answer pings");
    assert_eq!(v.node, Some(sender));
    assert_eq!(rings(diagram(&report)), vec![sender]);
    assert!(diagram(&report).contains(&format!("violation at event #{}", v.event.unwrap())));
}

/// Says nothing at all: the failure is about the run as a whole.
#[derive(Clone, Debug, Hash, Default)]
struct Silent;

impl Process<WarmupMsg> for Silent {
    fn on_message(&mut self, _: &mut Ctx<WarmupMsg>, _: NodeId, _: WarmupMsg) {}
}

#[test]
fn a_failure_of_the_whole_run_rings_no_lifeline() {
    let report = warmup::check(Box::new(|_| Box::new(Silent)), &Run::public(2));
    let v = first_failure(&report);
    assert!(v.message.starts_with("no node ever sent a Pong"), "{}", v.message);
    assert_eq!(v.node, None);
    assert!(rings(diagram(&report)).is_empty());
    assert!(diagram(&report).contains("violation: the run as a whole, at the end of the run"));
}

/// Every node but the coordinator enters at its first request, unasked
/// and for good: the second one in breaks mutual exclusion.
#[derive(Clone, Debug, Hash, Default)]
struct Barger;

impl Process<CentralMsg> for Barger {
    fn on_start(&mut self, ctx: &mut Ctx<CentralMsg>) {
        if ctx.me() != 0 {
            ctx.set_timer(0, first_request(ctx.me()));
        }
    }
    fn on_message(&mut self, _: &mut Ctx<CentralMsg>, _: NodeId, _: CentralMsg) {}
    fn on_timer(&mut self, ctx: &mut Ctx<CentralMsg>, _: u64) {
        ctx.observe(Observation::RequestCritical);
        ctx.observe(Observation::EnterCritical);
    }
}

#[test]
fn barging_in_is_marked_on_the_first_node_that_entered_unasked() {
    let report = central::check(Box::new(|_| Box::new(Barger)), &Run::public(3));
    let v = first_failure(&report);
    assert_eq!(v.check, SAFETY);
    // The earliest violation leads: the first node to ask enters at once,
    // before any Grant could reach it (the overlap with the next comes later).
    let first = (1..4).min_by_key(|&n| (first_request(n), n));
    assert!(v.message.contains("without permission"), "{}", v.message);
    assert_eq!(v.node, first, "{}", v.message);
    assert_eq!(rings(diagram(&report)), vec![first.unwrap()]);
}

/// Asks like the workload says but the coordinator never answers: node
/// `k`'s request is still waiting at the deadline.
#[derive(Clone, Debug, Hash, Default)]
struct Unanswered;

impl Process<CentralMsg> for Unanswered {
    fn on_start(&mut self, ctx: &mut Ctx<CentralMsg>) {
        Barger.on_start(ctx)
    }
    fn on_message(&mut self, _: &mut Ctx<CentralMsg>, _: NodeId, _: CentralMsg) {}
    fn on_timer(&mut self, ctx: &mut Ctx<CentralMsg>, _: u64) {
        ctx.observe(Observation::RequestCritical);
        ctx.send(0, CentralMsg::Request);
    }
}

#[test]
fn a_request_never_served_is_marked_on_the_waiting_node() {
    let runs = central::scenarios();
    let scenario = &runs[0].scenario;
    let trace = simulate(scenario, 7, |_| Box::new(Unanswered)).expect("valid");
    let verdicts = check_trace(&trace, &central::monitors(scenario), &Provenance::of(&trace, "test"));
    let v = verdicts.iter().find(|v| v.check == LIVENESS).unwrap();
    assert_eq!(v.status, Status::Fail);
    let waiting = named_node(&v.message).expect("the message names the waiting node");
    assert!(v.message.starts_with(&format!("node {waiting} asked")), "{}", v.message);
    assert_eq!(v.node, Some(waiting));
    let highlight = Highlight::from_verdict(v).unwrap();
    // Judged at an event of another node (or at the end): the ring still
    // goes on the waiting node's lifeline.
    let svg = svg(&trace, &DiagramOptions { highlight: Some(highlight), ..Default::default() });
    assert_eq!(rings(&svg), vec![waiting]);
}

/// The coordinator grants everyone at once and a node stays inside a
/// while: a long run, cut around the first overlap.
#[derive(Clone, Debug, Hash, Default)]
struct Lavish {
    rounds: u32,
}

impl Process<CentralMsg> for Lavish {
    fn on_start(&mut self, ctx: &mut Ctx<CentralMsg>) {
        Barger.on_start(ctx)
    }
    fn on_message(&mut self, ctx: &mut Ctx<CentralMsg>, from: NodeId, msg: CentralMsg) {
        match msg {
            CentralMsg::Request => ctx.send(from, CentralMsg::Grant),
            CentralMsg::Grant => {
                ctx.observe(Observation::EnterCritical);
                ctx.set_timer(1, ms(30));
            }
            CentralMsg::Release => {}
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<CentralMsg>, timer: u64) {
        if timer == 0 {
            ctx.observe(Observation::RequestCritical);
            ctx.send(0, CentralMsg::Request);
            return;
        }
        ctx.observe(Observation::ExitCritical);
        ctx.send(0, CentralMsg::Release);
        self.rounds += 1;
        if self.rounds < 3 {
            ctx.set_timer(0, ms(7));
        }
    }
}

#[test]
fn a_long_failing_run_is_a_window_with_the_whole_run_behind_a_toggle() {
    let report = central::check(Box::new(|_| Box::new(Lavish::default())), &Run::public(4));
    let v = first_failure(&report);
    let d = diagram(&report);
    let whole = &d.whole.as_ref().expect("a long run keeps the whole run").svg;
    assert!(d.contains("earlier events not drawn") || d.contains("later events not drawn"), "{}", v.message);
    assert!(d.len() < whole.len());
    assert_eq!(rings(d), rings(whole), "both drawings ring the same node");
    assert_eq!(rings(d), v.node.into_iter().collect::<Vec<_>>());
    let html = d.html();
    assert!(html.contains("<details") && html.contains("Show the whole run ("));
    roxmltree::Document::parse(&format!("<root>{html}</root>")).expect("well-formed");
}

/// Writes the reports above as the notebook shows them, for a look in a
/// browser.
#[test]
fn writes_samples() {
    use distlab::catalogue::{render::report_html, Scope};
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let warmup = warmup::check(Box::new(|_| Box::new(Hopeful)), &Run::public(0));
    let central = central::check(Box::new(|_| Box::new(Lavish::default())), &Run::public(4));
    let pages = [
        ("warmup", report_html(&warmup, &warmup::SPEC, Scope::Public)),
        ("central", { report_html(&central, &central::SPEC, Scope::Public) }),
    ];
    for (name, page) in pages {
        std::fs::write(dir.join(format!("violation-{name}.html")), page).unwrap();
    }
}

/// Over many runs of every wrong solution above, the drawn ring is on the
/// node the lead verdict names, and on no lane when it names none.
#[test]
fn the_ring_follows_the_verdict_over_many_runs() {
    let reports = (0..12).flat_map(|seed| {
        let run = Run::public(seed);
        [
            warmup::check(Box::new(|_| Box::new(Hopeful)), &run),
            warmup::check(Box::new(|_| Box::new(OffByOne)), &run),
            warmup::check(Box::new(|_| Box::new(Silent)), &run),
            central::check(Box::new(|_| Box::new(Barger)), &run),
            central::check(Box::new(|_| Box::new(Unanswered)), &run),
            central::check(Box::new(|_| Box::new(Lavish::default())), &run),
        ]
    });
    for report in reports {
        let v = first_failure(&report);
        let drawn = rings(diagram(&report));
        assert_eq!(drawn, v.node.into_iter().collect::<Vec<_>>(), "{v}");
        if let Some(node) = named_node(&v.message).filter(|_| v.event.is_some()) {
            assert_eq!(v.node, Some(node), "the ring is on the node the sentence names: {v}");
        }
    }
}
