//! Feedback that teaches: for wrong solutions of common kinds, the first row
//! a student reads names the root cause, and the report's diagram and
//! replay line belong to that row's run.
use distlab::catalogue::clocks::{period, tick_target, TICKS};
use distlab::catalogue::lamport::{self, LamportMsg};
use distlab::catalogue::ring::{self, RingMsg};
use distlab::catalogue::vector::{self, VectorMsg};
use distlab::catalogue::{CheckResult, ExerciseSpec, Report, Run, Scope};
use distlab::check::{Status, NODES_RUN_CLEANLY};
use distlab::*;

/// The rows as a student reads them, first row first.
fn rows(report: &Report, spec: &ExerciseSpec) -> Vec<CheckResult> {
    report.results(spec, Scope::Public)
}

/// The first row fails `check`, says `words`, and the report's diagram is
/// the diagram its own replay line draws.
fn assert_first_row(
    report: &Report,
    spec: &ExerciseSpec,
    check: &str,
    words: &[&str],
    replay: impl Fn(&Run) -> Report,
) {
    let first = rows(report, spec).remove(0);
    let problem = first.first_problem.unwrap_or_else(|| panic!("first row '{}' has no problem", first.name));
    assert_eq!((first.name.as_str(), first.status), (check, Status::Fail), "first row: {problem}");
    for w in words {
        assert!(problem.message.contains(w), "'{w}' not in the first row: {}", problem.message);
    }
    assert_eq!(report.lead(spec), Some(&problem), "the lead is the first row");
    let again = replay(&Run::replay(&problem.scenario, problem.seed));
    assert!(report.diagram.is_some(), "a failure comes with a diagram");
    assert_eq!(report.diagram, again.diagram, "the diagram is of the first row's run ({})", problem.replay);
}

// ---------------------------------------------------------------- clocks

/// A Lamport node with one mistake of the "extra tick" kind, chosen by `BUG`.
#[derive(Clone, Debug, Hash, Default)]
struct LamportTwice<const BUG: u8> {
    c: u64,
    ticks: u64,
}

/// Records a receive twice, ticking in between.
const TWICE_ON_RECEIVE: u8 = 1;
/// Ticks again between recording a send and sending it.
const TWICE_ON_SEND: u8 = 2;
/// Panics in the 4-node scenario only; elsewhere adds 2 on a local event.
const CRASH_ON_FOUR: u8 = 3;

impl<const BUG: u8> Process<LamportMsg> for LamportTwice<BUG> {
    fn on_start(&mut self, ctx: &mut Ctx<LamportMsg>) {
        ctx.set_timer(1, period(ctx.me()));
    }
    fn on_message(&mut self, ctx: &mut Ctx<LamportMsg>, _: NodeId, LamportMsg::App { ts }: LamportMsg) {
        self.c = self.c.max(ts) + 1;
        ctx.observe(Observation::Clock(self.c));
        if BUG == TWICE_ON_RECEIVE {
            self.c += 1;
            ctx.observe(Observation::Clock(self.c));
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<LamportMsg>, _: TimerTag) {
        self.ticks += 1;
        let to = tick_target(ctx.me(), self.ticks, ctx.nodes());
        assert!(!(BUG == CRASH_ON_FOUR && ctx.nodes() == 4 && self.ticks == 5), "four is too many");
        self.c += if BUG == CRASH_ON_FOUR && to.is_none() { 2 } else { 1 };
        ctx.observe(Observation::Clock(self.c));
        if let Some(to) = to {
            if BUG == TWICE_ON_SEND {
                self.c += 1;
            }
            ctx.send(to, LamportMsg::App { ts: self.c });
        }
        if self.ticks < TICKS {
            ctx.set_timer(1, period(ctx.me()));
        }
    }
}

fn lamport_report<P: Process<LamportMsg> + Default + 'static>(run: &Run) -> Report {
    lamport::check(Box::new(|_| Box::new(P::default()) as Box<dyn Process<LamportMsg>>), run)
}

fn verdict_of<'a>(report: &'a Report, check: &str) -> Vec<&'a distlab::Verdict> {
    report.verdicts.iter().filter(|v| v.check == check && !v.passed()).collect()
}

#[test]
fn lamport_extra_record_on_receive_is_blamed_where_it_happens() {
    let report = lamport_report::<LamportTwice<TWICE_ON_RECEIVE>>(&Run::public(3));
    assert_first_row(&report, &lamport::SPEC, lamport::WORKLOAD, &["recorded 2 clock values"], |r| {
        lamport_report::<LamportTwice<TWICE_ON_RECEIVE>>(r)
    });
    // The extra value is the node's clock from then on: the rule holds for
    // every later event, so no later event is blamed for it.
    assert!(verdict_of(&report, lamport::EXACT).is_empty(), "{:?}", verdict_of(&report, lamport::EXACT));
}

#[test]
fn lamport_tick_between_record_and_send_is_a_stamp_error_only() {
    let report = lamport_report::<LamportTwice<TWICE_ON_SEND>>(&Run::public(3));
    assert_first_row(&report, &lamport::SPEC, lamport::STAMPS, &["but stamped the message with"], |r| {
        lamport_report::<LamportTwice<TWICE_ON_SEND>>(r)
    });
    // Receivers are judged by the stamp they really got.
    assert!(verdict_of(&report, lamport::EXACT).is_empty(), "{:?}", verdict_of(&report, lamport::EXACT));
}

#[test]
fn lamport_local_event_adding_two_names_the_clock_the_node_had() {
    // In the 3-node scenario this node only adds 2 on local events.
    let report = lamport_report::<LamportTwice<CRASH_ON_FOUR>>(&Run::replay("3 nodes, FIFO links", 7));
    let exact = verdict_of(&report, lamport::EXACT);
    let v = exact.first().expect("the exact rule fails");
    assert!(v.message.contains("(a local or send event): its clock was"), "{}", v.message);
    // "its clock was C ... recorded S instead of C + 1": the numbers agree.
    let numbers: Vec<u64> =
        v.message.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect::<Vec<_>>();
    let (was, recorded, instead) = (numbers[numbers.len() - 4], numbers[numbers.len() - 3], numbers[numbers.len() - 2]);
    assert_eq!((recorded, instead), (was + 2, was + 1), "{}", v.message);
}

#[test]
fn a_crash_in_a_later_run_is_the_first_row_with_its_own_diagram() {
    let report = lamport_report::<LamportTwice<CRASH_ON_FOUR>>(&Run::public(1));
    assert_first_row(&report, &lamport::SPEC, NODES_RUN_CLEANLY, &["four is too many"], |r| {
        lamport_report::<LamportTwice<CRASH_ON_FOUR>>(r)
    });
    let lead = report.lead(&lamport::SPEC).unwrap();
    assert!(lead.scenario.starts_with("4 nodes"), "{lead}");
}

/// A vector node that records a receive twice, ticking in between.
#[derive(Clone, Debug, Hash, Default)]
struct VectorTwice {
    v: Vec<u64>,
    ticks: u64,
}

impl Process<VectorMsg> for VectorTwice {
    fn on_start(&mut self, ctx: &mut Ctx<VectorMsg>) {
        self.v = vec![0; ctx.nodes()];
        ctx.set_timer(1, period(ctx.me()));
    }
    fn on_message(&mut self, ctx: &mut Ctx<VectorMsg>, _: NodeId, VectorMsg::App { vt }: VectorMsg) {
        for (mine, theirs) in self.v.iter_mut().zip(vt) {
            *mine = (*mine).max(theirs);
        }
        for _ in 0..2 {
            self.v[ctx.me()] += 1;
            ctx.observe(Observation::Vector(self.v.clone()));
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<VectorMsg>, _: TimerTag) {
        self.ticks += 1;
        self.v[ctx.me()] += 1;
        ctx.observe(Observation::Vector(self.v.clone()));
        if let Some(to) = tick_target(ctx.me(), self.ticks, ctx.nodes()) {
            ctx.send(to, VectorMsg::App { vt: self.v.clone() });
        }
        if self.ticks < TICKS {
            ctx.set_timer(1, period(ctx.me()));
        }
    }
}

#[test]
fn vector_extra_record_on_receive_is_blamed_where_it_happens() {
    let check = |run: &Run| vector::check(Box::new(|_| Box::new(VectorTwice::default()) as Box<_>), run);
    let report = check(&Run::public(3));
    assert_first_row(&report, &vector::SPEC, vector::WORKLOAD, &["recorded 2 vectors"], check);
    assert!(verdict_of(&report, vector::EXACT).is_empty(), "{:?}", verdict_of(&report, vector::EXACT));
}

// ---------------------------------------------------------------- a crash

/// A ring node that passes the election on to `me + 1`, past the end.
#[derive(Clone, Debug, Hash, Default)]
struct RingPastTheEnd;

impl Process<RingMsg> for RingPastTheEnd {
    fn on_start(&mut self, ctx: &mut Ctx<RingMsg>) {
        let me = ctx.me();
        ctx.send(me + 1, RingMsg::Election { tag: 0, ids: vec![me] });
    }
    fn on_message(&mut self, _: &mut Ctx<RingMsg>, _: NodeId, _: RingMsg) {}
}

#[test]
fn a_send_past_the_last_node_is_the_headline_not_a_lack_of_time() {
    let check = |run: &Run| ring::check(Box::new(|_| Box::new(RingPastTheEnd) as Box<_>), run);
    let report = check(&Run::public(0));
    assert_first_row(&report, &ring::SPEC, NODES_RUN_CLEANLY, &["failed in ctx.send", "sent to node"], check);
    // The checks the crash cut short say so, and point at the cause.
    for r in rows(&report, &ring::SPEC).iter().filter(|r| r.status == Status::Unknown) {
        let message = &r.first_problem.as_ref().unwrap().message;
        assert!(message.contains("a node failed") && !message.contains("NodeFailed"), "{message}");
    }
}

// ---------------------------------------------------------------- wording

/// A time server that asks a client for the time.
#[derive(Clone, Debug, Hash, Default)]
struct ServerThatAsks;

impl Process<distlab::catalogue::cristian::CristianMsg> for ServerThatAsks {
    fn on_start(&mut self, ctx: &mut Ctx<distlab::catalogue::cristian::CristianMsg>) {
        if ctx.me() == 0 {
            ctx.send(1, distlab::catalogue::cristian::CristianMsg::Request { id: 0 });
        }
    }
    fn on_message(
        &mut self,
        _: &mut Ctx<distlab::catalogue::cristian::CristianMsg>,
        _: NodeId,
        _: distlab::catalogue::cristian::CristianMsg,
    ) {
    }
}

#[test]
fn node_ids_read_as_node_n_in_messages() {
    use distlab::catalogue::cristian;
    let report = cristian::check(Box::new(|_| Box::new(ServerThatAsks) as Box<_>), &Run::public(0));
    let lead = report.lead(&cristian::SPEC).expect("a failure");
    assert!(lead.message.contains("sent a Request to node 1"), "{}", lead.message);
    assert!(report.verdicts.iter().all(|v| !v.message.contains("Node(")), "{:?}", report.verdicts);
}
