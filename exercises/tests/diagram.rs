//! Diagrams and HTML reports of simulated runs: always well-formed XML,
//! escaped, deterministic, and showing every kind of event.

use distlab::{
    ms, report_html, simulate, svg, verdicts_html, verdicts_text, Ctx, Diagram, DiagramOptions, Fault, Focus,
    Highlight, Network, NodeId, Observation, Process, RandomFaults, Scenario, Schedule, Status, Trace, Verdict,
};
use serde::{Deserialize, Serialize};

const NASTY: &str = r#"a<b & "c" 'd' ]]> </svg>"#;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum Msg {
    Ping { round: u32, clock: u64 },
    Pong { round: u32, clock: u64 },
    Note(String),
}

/// Broadcasts a ping every 10 ms for a few rounds and answers pings;
/// keeps a Lamport clock and shows it, and node 0 takes a critical section.
#[derive(Clone, Debug, Hash)]
struct Pinger {
    clock: u64,
    round: u32,
}

impl Pinger {
    fn tick(&mut self, ctx: &mut Ctx<Msg>, seen: u64) {
        self.clock = self.clock.max(seen) + 1;
        ctx.observe(Observation::Clock(self.clock));
    }
}

impl Process<Msg> for Pinger {
    fn on_start(&mut self, ctx: &mut Ctx<Msg>) {
        ctx.set_timer(1, ms(2) + ms(ctx.me() as i64));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Msg>, _timer: u64) {
        self.round += 1;
        self.tick(ctx, 0);
        ctx.broadcast(Msg::Ping { round: self.round, clock: self.clock });
        if ctx.me() == 0 {
            match self.round {
                1 => ctx.send(1, Msg::Note(NASTY.into())),
                2 => ctx.observe(Observation::EnterCritical),
                3 => ctx.observe(Observation::ExitCritical),
                _ => {}
            }
        }
        if self.round < 6 {
            ctx.set_timer(1, ms(10));
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Ping { round, clock } => {
                self.tick(ctx, clock);
                ctx.send(from, Msg::Pong { round, clock: self.clock });
            }
            Msg::Pong { clock, .. } => {
                self.tick(ctx, clock);
                ctx.observe(Observation::Leader(from.min(ctx.me())));
            }
            Msg::Note(_) => ctx.observe(Observation::Note { name: "note".into(), value: 1 }),
        }
    }
}

fn pinger(_: NodeId) -> Box<dyn Process<Msg>> {
    Box::new(Pinger { clock: 0, round: 0 })
}

/// Loss, duplication, a crash with recovery and a partition.
fn eventful(nodes: usize) -> Scenario {
    let mut s = Scenario::new(&format!("eventful {nodes}"), nodes);
    s.network = Network { loss: 0.12, duplicate: 0.15, ..Network::default() };
    s.schedule = Schedule {
        name: "crash and split".into(),
        faults: vec![
            Fault::Crash { node: nodes - 1, at: ms(14) },
            Fault::Partition { a: vec![0], b: (1..nodes).collect(), start: ms(30), end: ms(48) },
            Fault::Recover { node: nodes - 1, at: ms(40) },
        ],
    };
    s.until = ms(90);
    s
}

fn random_faults(nodes: usize, seed: u64) -> Scenario {
    let mut s = Scenario::new("random", nodes);
    s.network = Network { loss: 0.1, duplicate: 0.1, hardware_broadcast: seed.is_multiple_of(2), ..Network::default() };
    let bounds = RandomFaults { horizon: ms(60), ..RandomFaults::default() };
    s.schedule = Schedule::random(seed, nodes, &bounds);
    s.until = ms(80);
    s
}

fn run(scenario: &Scenario, seed: u64) -> Trace<Msg> {
    simulate(scenario, seed, pinger).expect("valid scenario")
}

fn parses(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}\n{svg}"))
}

#[test]
fn every_diagram_is_well_formed_xml() {
    for seed in 0..200u64 {
        let nodes = 2 + (seed as usize % 15);
        for scenario in [eventful(3), eventful(8), random_faults(nodes, seed)] {
            let trace = run(&scenario, seed);
            let n = trace.events.len();
            let highlight = Highlight::new((seed as usize * 7) % n.max(1), format!("seed {seed} & <x>"));
            let options = [
                DiagramOptions::default(),
                DiagramOptions { highlight: Some(highlight.clone()), ..DiagramOptions::default() },
                DiagramOptions { from_event: n / 3, max_events: 40, width: 500, ..DiagramOptions::default() },
                DiagramOptions { max_events: 60, ..DiagramOptions::default() }.around(highlight),
            ];
            for o in &options {
                parses(&svg(&trace, o));
            }
        }
    }
}

#[test]
fn empty_and_odd_ranges_still_draw() {
    let trace = run(&eventful(3), 1);
    let n = trace.events.len();
    for (from, max) in [(0, 0), (n, 10), (n + 50, 10), (n - 1, 1), (0, usize::MAX)] {
        parses(&svg(&trace, &DiagramOptions { from_event: from, max_events: max, ..DiagramOptions::default() }));
    }
    let empty = Trace::<Msg> { events: Vec::new(), ..trace };
    parses(&svg(&empty, &DiagramOptions::default()));
}

#[test]
fn every_kind_of_mark_appears() {
    let trace = run(&eventful(3), 4);
    let picture = svg(&trace, &DiagramOptions { max_events: 10_000, ..DiagramOptions::default() });
    for class in
        ["dl-msg", "dl-dup", "dl-drop", "dl-x", "dl-timer", "dl-obs", "dl-cs", "dl-crash", "dl-side-a", "dl-side-b"]
    {
        assert!(picture.contains(&format!("class=\"{class}\"")), "no {class} in the diagram");
    }
    assert!(picture.contains("partition [0] | [1, 2]"), "partition not described");
    assert!(picture.contains("C="), "no clock values shown");
}

#[test]
fn message_text_is_escaped() {
    let trace = run(&eventful(3), 2);
    let picture = svg(&trace, &DiagramOptions::default());
    assert!(!picture.contains(NASTY), "raw message text in the SVG");
    let full = format!("{:?}", Msg::Note(NASTY.into()));
    assert!(picture.contains(r#"a&lt;b &amp; \&quot;c\&quot; &#39;d&#39; ]]&gt; &lt;/svg&gt;"#));
    assert_eq!(
        distlab::diagram::escape(&full),
        r#"Note(&quot;a&lt;b &amp; \&quot;c\&quot; &#39;d&#39; ]]&gt; &lt;/svg&gt;&quot;)"#
    );
    let doc = parses(&picture);
    assert!(
        doc.descendants().any(|n| n.has_tag_name("title") && n.text().is_some_and(|t| t.contains(&full))),
        "the full message text is not in any tooltip"
    );
}

#[test]
fn highlight_is_shown_with_its_words() {
    let trace = run(&eventful(3), 3);
    let event = trace.events.len() / 2;
    let text = "two nodes in the critical section at once";
    let picture = svg(&trace, &DiagramOptions { highlight: Some(Highlight::new(event, text)), ..Default::default() });
    assert!(picture.contains(&format!("violation at event #{event}")));
    assert!(picture.contains("class=\"dl-ring\""));
    assert!(picture.contains("class=\"dl-hl\""));
    assert!(picture.contains(text));
    // Outside the shown range it is still named.
    let outside = DiagramOptions {
        max_events: 5,
        highlight: Some(Highlight::new(event, text)),
        focus: Focus::OFF,
        ..Default::default()
    };
    assert!(svg(&trace, &outside).contains("outside the shown range"));
}

#[test]
fn same_trace_same_bytes() {
    for seed in 0..20 {
        let options = DiagramOptions { highlight: Some(Highlight::new(9, "x")), ..Default::default() };
        let a = svg(&run(&eventful(8), seed), &options);
        let b = svg(&run(&eventful(8), seed), &options);
        assert_eq!(a, b, "seed {seed}");
    }
}

#[test]
fn a_cut_is_said() {
    let trace = run(&eventful(8), 5);
    let picture = svg(&trace, &DiagramOptions { from_event: 20, max_events: 50, ..Default::default() });
    assert!(picture.contains("showing events 20–69 only"));
    assert!(picture.contains("20 earlier"));
    assert!(picture.contains("later events not drawn"));
}

fn verdict(check: &str, status: Status, message: &str, trace: &Trace<Msg>, event: Option<usize>) -> Verdict {
    Verdict {
        check: check.into(),
        status,
        message: message.into(),
        event,
        at: event.map(|e| trace.events[e].at),
        seed: trace.seed,
        scenario: trace.scenario.name.clone(),
        replay: format!("replay --scenario '{}' --seed {}", trace.scenario.name, trace.seed),
        node: event.and_then(|e| trace.events[e].node()),
    }
}

#[test]
fn verdict_table_has_a_row_per_verdict_and_escapes() {
    let trace = run(&eventful(3), 6);
    let verdicts = vec![
        verdict("mutual <exclusion>", Status::Fail, "nodes 0 & 1 both \"in\"", &trace, Some(12)),
        verdict("liveness", Status::Unknown, "run too short", &trace, None),
        verdict("safety", Status::Pass, "held throughout the run", &trace, None),
    ];
    let html = verdicts_html(&verdicts);
    let body = html.split("<tbody>").nth(1).unwrap();
    assert_eq!(body.matches("<tr>").count(), verdicts.len());
    assert!(html.contains("mutual &lt;exclusion&gt;"));
    assert!(html.contains("nodes 0 &amp; 1 both &quot;in&quot;"));
    assert!(!html.contains("<exclusion>"));
    assert!(html.contains("<code"));
    assert!(html.contains("✘") && html.contains("✔") && html.contains('?'));
    // The table is well-formed markup too.
    parses(&format!("<root>{html}</root>"));

    let report = report_html(&verdicts, Some(&trace));
    assert!(report.contains("<svg"));
    assert!(report.contains("violation at event #12"));
    parses(&format!("<root>{report}</root>"));

    let text = verdicts_text(&verdicts);
    assert_eq!(text.lines().filter(|l| l.contains("replay --scenario")).count(), 2);
    assert!(text.starts_with("3 checks: 1 pass, 1 fail, 1 unknown"));
}

#[test]
fn evcxr_block_wraps_content() {
    let block = distlab::display::evcxr_block("text/html", "<b>hi</b>");
    assert_eq!(block, "EVCXR_BEGIN_CONTENT text/html\n<b>hi</b>\nEVCXR_END_CONTENT\n");
}

/// Writes sample pictures for a look in a browser.
#[test]
fn writes_samples() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let samples = [("three", eventful(3), 4), ("eight", eventful(8), 7), ("sixteen", random_faults(16, 3), 3)];
    for (name, scenario, seed) in samples {
        let trace = run(&scenario, seed);
        let critical = trace
            .events
            .iter()
            .position(|e| matches!(e.kind, distlab::EventKind::Observe { what: Observation::EnterCritical, .. }))
            .unwrap_or(0);
        let failing = verdict(
            "mutual exclusion",
            Status::Fail,
            "node 0 entered its critical section while node 2 was still in it",
            &trace,
            Some(critical),
        );
        let highlight = Highlight::from_verdict(&failing).unwrap();
        let options = DiagramOptions { max_events: if name == "three" { 300 } else { 150 }, ..Default::default() };
        let options = options.around(highlight);
        std::fs::write(dir.join(format!("diagram-{name}.svg")), svg(&trace, &options)).unwrap();
        std::fs::write(dir.join(format!("report-{name}.html")), report_html(&[failing], Some(&trace))).unwrap();
    }
}

/// A violation in the middle of a long run: what a page shows first.
fn long_run_with_a_violation() -> (Trace<Msg>, DiagramOptions) {
    let trace = run(&eventful(8), 5);
    assert!(trace.events.len() > 200, "a long run");
    let event = trace.events.len() / 2;
    let highlight = Highlight::new(event, format!("node 1 broke a rule & said <{NASTY}>"));
    (trace, DiagramOptions::default().around(highlight))
}

#[test]
fn a_long_run_is_drawn_around_its_violation_with_markers() {
    let (trace, options) = long_run_with_a_violation();
    let (total, event) = (trace.events.len(), options.highlight.as_ref().unwrap().event);
    let focus = Focus::default();
    let window = svg(&trace, &options);
    let (from, to) = (event - focus.before, event + focus.after + 1);
    assert!(window.contains(&format!("… {from} earlier events not drawn")), "no earlier marker");
    assert!(window.contains(&format!("… {} later events not drawn", total - to)), "no later marker");
    assert!(window.contains(&format!("showing events {from}–{} only", to - 1)));
    assert!(window.contains(&format!("violation at event #{event}")));
    // About 30 events, not hundreds: the picture fits a screen.
    let height: f64 = parses(&window).root_element().attribute("height").unwrap().parse().unwrap();
    assert!(height < 1100.0, "{height} px tall");
    assert!(!window.contains(NASTY), "the violation's words are escaped");
}

#[test]
fn the_whole_run_stays_one_click_away_without_script() {
    let (trace, options) = long_run_with_a_violation();
    let diagram = Diagram::draw(&trace, &options);
    let whole = &diagram.whole.as_ref().expect("the whole run is kept").svg;
    assert_eq!(*whole, svg(&trace, &options.unfocused()));
    assert!(whole.contains("violation at event #"), "the whole run marks the violation too");
    let html = diagram.html();
    assert!(html.contains("<details") && html.contains("<summary"));
    assert!(!html.contains("<script") && !html.contains("href=") && !html.contains("xlink"));
    parses(&format!("<root>{html}</root>"));
    // Deterministic, toggle and all.
    assert_eq!(html, Diagram::draw(&trace, &options).html());
}

#[test]
fn a_short_run_is_drawn_whole_without_a_toggle() {
    let trace = run(&eventful(3), 1);
    let short = Trace { events: trace.events[..40].to_vec(), ..trace };
    let options = DiagramOptions::default().around(Highlight::new(35, "x"));
    let diagram = Diagram::draw(&short, &options);
    assert!(diagram.whole.is_none());
    assert!(!diagram.contains("not drawn") && !diagram.html().contains("<details"));
}

#[test]
fn the_notebook_report_shows_the_window_and_the_toggle() {
    let trace = run(&eventful(8), 5);
    let failing = verdict("mutual exclusion", Status::Fail, "node 3 entered", &trace, Some(trace.events.len() / 2));
    let page = report_html(&[failing], Some(&trace));
    assert!(page.contains("earlier events not drawn") && page.contains("<details"));
    parses(&format!("<root>{page}</root>"));
}
