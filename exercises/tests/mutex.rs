//! Notebook 7, mutual exclusion: the references pass, other correct designs
//! pass, typical student mistakes fail with a counterexample in plain
//! words, the explorer finds a planted tie-break bug, and the textbook's
//! cost table is reproduced by simulation.
use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use distlab::catalogue::central::{self, CentralMsg};
use distlab::catalogue::mutex::{
    self, first_request, think_time, EveryRequestServed, OneInside, COST, DELAY, HOLD, LIVENESS, ROUNDS, SAFETY,
};
use distlab::catalogue::ricart::{self, RaMsg};
use distlab::catalogue::tokenring::{self, TokenMsg, RING};
use distlab::catalogue::{ExerciseSpec, Report, Run, Scope};
use distlab::*;

const ASK: TimerTag = 1;
const LEAVE: TimerTag = 2;
const LINGER: TimerTag = 3;

/// Run seeds per test: each gives 8 public and 4-5 hidden simulation
/// seeds, so 30 give well over 200 distinct simulations.
const SEEDS: u64 = 30;

fn assert_passes(spec: &ExerciseSpec, check: impl Fn(&Run) -> Report, what: &str) {
    let mut sims = BTreeSet::new();
    for seed in 0..SEEDS {
        let report = check(&Run::all(seed));
        if let Some(bad) = report.verdicts.iter().find(|v| !v.passed()) {
            panic!("{what}: {bad}");
        }
        assert!(report.diagram.is_none());
        assert_eq!(report.score(spec, Scope::All), spec.points as f64, "{what}");
        sims.extend(report.verdicts.iter().map(|v| (v.scenario.clone(), v.seed)));
    }
    assert!(sims.len() >= 200, "{what}: only {} distinct simulations", sims.len());
}

/// The first failing verdict of a public check for any of `seeds`, with
/// its report: a mistake must show within a few students' seeds.
fn first_failure(check: impl Fn(&Run) -> Report, expected: &str) -> (Verdict, Report) {
    for seed in 0..5 {
        let report = check(&Run::public(seed));
        if let Some(v) = report.verdicts.iter().find(|v| !v.passed() && v.check == expected) {
            return (v.clone(), report);
        }
    }
    panic!("no '{expected}' failure in 5 students' seeds");
}

/// Asserts a mistake fails `expected` at a named event, with `words` in
/// the message and a diagram of the failing run.
fn assert_caught(check: impl Fn(&Run) -> Report, expected: &str, words: &[&str]) -> Verdict {
    let (v, report) = first_failure(check, expected);
    assert_eq!(v.status, Status::Fail);
    assert!(v.event.is_some() && v.at.is_some(), "the verdict names the event: {v}");
    for w in words {
        assert!(v.message.contains(w), "'{}' lacks '{w}'", v.message);
    }
    let svg = report.diagram.expect("a failing public run comes back as a diagram");
    assert!(svg.starts_with("<svg"));
    println!("{v}");
    v
}

// ---------------------------------------------------------------------------
// Centralized coordinator.

#[derive(Clone, Copy, Debug, Hash, PartialEq)]
enum Queue {
    Fifo,
    /// The textbook's priority variant: lowest id first.
    LowestId,
    /// Last come, first served: unfair, but the workload is finite.
    Stack,
    /// Mistake: grants every request at once.
    GrantAll,
    /// Mistake: a request that finds the section busy is dropped.
    Forget,
}

#[derive(Clone, Debug, Hash)]
struct Coord {
    queue: Queue,
    busy: bool,
    waiting: VecDeque<NodeId>,
}

impl Process<CentralMsg> for Coord {
    fn on_message(&mut self, ctx: &mut Ctx<CentralMsg>, from: NodeId, msg: CentralMsg) {
        match msg {
            CentralMsg::Request if !self.busy || self.queue == Queue::GrantAll => {
                self.busy = true;
                ctx.send(from, CentralMsg::Grant);
            }
            CentralMsg::Request if self.queue == Queue::Forget => {}
            CentralMsg::Request => self.waiting.push_back(from),
            CentralMsg::Release => {
                let next = match self.queue {
                    Queue::LowestId => {
                        let lowest = self.waiting.iter().copied().min();
                        self.waiting.retain(|&n| Some(n) != lowest);
                        lowest
                    }
                    Queue::Stack => self.waiting.pop_back(),
                    _ => self.waiting.pop_front(),
                };
                self.busy = next.is_some();
                if let Some(next) = next {
                    ctx.send(next, CentralMsg::Grant);
                }
            }
            CentralMsg::Grant => {}
        }
    }
}

#[derive(Clone, Debug, Hash, Default)]
struct Client {
    rounds: u32,
    /// Mistake: never tells the coordinator it left.
    no_release: bool,
}

impl Process<CentralMsg> for Client {
    fn on_start(&mut self, ctx: &mut Ctx<CentralMsg>) {
        ctx.set_timer(ASK, first_request(ctx.me()));
    }
    fn on_message(&mut self, ctx: &mut Ctx<CentralMsg>, _: NodeId, _: CentralMsg) {
        ctx.observe(Observation::EnterCritical);
        ctx.set_timer(LEAVE, HOLD);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<CentralMsg>, timer: TimerTag) {
        if timer == ASK {
            ctx.observe(Observation::RequestCritical);
            ctx.send(0, CentralMsg::Request);
            return;
        }
        ctx.observe(Observation::ExitCritical);
        if !self.no_release {
            ctx.send(0, CentralMsg::Release);
        }
        self.rounds += 1;
        if self.rounds < ROUNDS {
            ctx.set_timer(ASK, think_time(ctx.nodes()));
        }
    }
}

fn central_with(queue: Queue, no_release: bool) -> impl Fn(&Run) -> Report {
    move |run| {
        central::check(
            Box::new(move |id| -> Box<dyn Process<CentralMsg>> {
                if id == 0 {
                    Box::new(Coord { queue, busy: false, waiting: VecDeque::new() })
                } else {
                    Box::new(Client { rounds: 0, no_release })
                }
            }),
            run,
        )
    }
}

#[test]
fn central_reference_and_other_queues_pass() {
    assert_passes(&central::SPEC, |r| central::check(central::reference::solution(), r), "reference");
    assert_passes(&central::SPEC, central_with(Queue::LowestId, false), "lowest id first");
    assert_passes(&central::SPEC, central_with(Queue::Stack, false), "last come, first served");
    assert_passes(&central::SPEC, central_with(Queue::Fifo, false), "FIFO, other code");
}

#[test]
fn central_mistakes_fail_in_plain_words() {
    assert_caught(
        central_with(Queue::GrantAll, false),
        SAFETY,
        &["entered the critical section at", "was still inside (since"],
    );
    assert_caught(central_with(Queue::Forget, false), LIVENESS, &["and was still waiting", "the deadline"]);
    assert_caught(central_with(Queue::Fifo, true), LIVENESS, &["and was still waiting"]);
}

// ---------------------------------------------------------------------------
// Ricart and Agrawala, one implementation with knobs for variants and
// mistakes.

#[derive(Clone, Copy, Debug, Hash, PartialEq)]
enum Tie {
    /// (stamp, id): lower id wins a tie, as in the reference.
    LowId,
    /// (stamp, reversed id): higher id wins; still a total order.
    HighId,
    /// Mistake: stamps only; on a tie both answer.
    None,
}

#[derive(Clone, Copy, Debug, Hash)]
struct Knobs {
    one_by_one: bool,
    tie: Tie,
    /// Mistake: answers even while inside.
    reply_inside: bool,
    /// Mistake: never defers for an older own request.
    never_defer_asking: bool,
    /// Mistake: forgets the deferred answers when leaving.
    forget_deferred: bool,
    /// Mistake (cost): answers every peer again on leaving.
    reply_all_on_exit: bool,
    /// Mistake (delay): asks one peer at a time, the next after its reply.
    sequential: bool,
}

const RA_OK: Knobs = Knobs {
    one_by_one: false,
    tie: Tie::LowId,
    reply_inside: false,
    never_defer_asking: false,
    forget_deferred: false,
    reply_all_on_exit: false,
    sequential: false,
};

#[derive(Clone, Debug, Hash)]
struct Ra {
    k: Knobs,
    clock: u64,
    asking: Option<u64>,
    inside: bool,
    replies: usize,
    deferred: Vec<NodeId>,
    rounds: u32,
}

impl Ra {
    fn new(k: Knobs) -> Self {
        Ra { k, clock: 0, asking: None, inside: false, replies: 0, deferred: Vec::new(), rounds: 0 }
    }
    fn mine_first(&self, me: NodeId, ts: u64, from: NodeId) -> bool {
        let Some(mine) = self.asking else { return false };
        match self.k.tie {
            Tie::LowId => (mine, me) < (ts, from),
            Tie::HighId => (mine, std::cmp::Reverse(me)) < (ts, std::cmp::Reverse(from)),
            Tie::None => mine < ts,
        }
    }
    fn maybe_enter(&mut self, ctx: &mut Ctx<RaMsg>) {
        if self.asking.is_some() && self.replies == ctx.nodes() - 1 {
            self.asking = None;
            self.inside = true;
            ctx.observe(Observation::EnterCritical);
            ctx.set_timer(LEAVE, HOLD);
        }
    }
}

impl Process<RaMsg> for Ra {
    fn on_start(&mut self, ctx: &mut Ctx<RaMsg>) {
        ctx.set_timer(ASK, first_request(ctx.me()));
    }
    fn on_message(&mut self, ctx: &mut Ctx<RaMsg>, from: NodeId, msg: RaMsg) {
        match msg {
            RaMsg::Request { ts } => {
                self.clock = self.clock.max(ts) + 1;
                let defer = (self.inside && !self.k.reply_inside)
                    || (!self.k.never_defer_asking && self.mine_first(ctx.me(), ts, from));
                if defer {
                    self.deferred.push(from);
                } else {
                    ctx.send(from, RaMsg::Reply);
                }
            }
            RaMsg::Reply => {
                self.replies += 1;
                if let Some(ts) = self.asking.filter(|_| self.k.sequential && self.replies < ctx.nodes() - 1) {
                    let next = ctx.peers().nth(self.replies).unwrap();
                    ctx.send(next, RaMsg::Request { ts });
                }
                self.maybe_enter(ctx);
            }
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<RaMsg>, timer: TimerTag) {
        if timer == ASK {
            self.clock += 1;
            self.asking = Some(self.clock);
            self.replies = 0;
            ctx.observe(Observation::RequestCritical);
            let request = RaMsg::Request { ts: self.clock };
            if self.k.sequential {
                let first = ctx.peers().next().unwrap();
                ctx.send(first, request);
            } else if self.k.one_by_one {
                for peer in ctx.peers().collect::<Vec<_>>() {
                    ctx.send(peer, request.clone());
                }
            } else {
                ctx.broadcast(request);
            }
            return;
        }
        self.inside = false;
        ctx.observe(Observation::ExitCritical);
        let deferred = std::mem::take(&mut self.deferred);
        if self.k.reply_all_on_exit {
            for node in ctx.peers().collect::<Vec<_>>() {
                ctx.send(node, RaMsg::Reply);
            }
        } else if !self.k.forget_deferred {
            for node in deferred {
                ctx.send(node, RaMsg::Reply);
            }
        }
        self.rounds += 1;
        if self.rounds < ROUNDS {
            ctx.set_timer(ASK, think_time(ctx.nodes()));
        }
    }
}

fn ra_with(k: Knobs) -> impl Fn(&Run) -> Report {
    move |run| ricart::check(Box::new(move |_| Box::new(Ra::new(k))), run)
}

#[test]
fn ricart_reference_and_other_designs_pass() {
    assert_passes(&ricart::SPEC, |r| ricart::check(ricart::reference::solution(), r), "reference");
    assert_passes(&ricart::SPEC, ra_with(Knobs { one_by_one: true, ..RA_OK }), "requests one by one");
    assert_passes(&ricart::SPEC, ra_with(Knobs { tie: Tie::HighId, ..RA_OK }), "higher id wins ties");
}

#[test]
fn ricart_mistakes_fail_in_plain_words() {
    let still_inside = ["entered the critical section at", "was still inside (since"];
    assert_caught(ra_with(Knobs { tie: Tie::None, ..RA_OK }), SAFETY, &still_inside);
    assert_caught(ra_with(Knobs { reply_inside: true, ..RA_OK }), SAFETY, &still_inside);
    assert_caught(ra_with(Knobs { never_defer_asking: true, ..RA_OK }), SAFETY, &still_inside);
    assert_caught(ra_with(Knobs { forget_deferred: true, ..RA_OK }), LIVENESS, &["and was still waiting"]);
    assert_caught(ra_with(Knobs { reply_all_on_exit: true, ..RA_OK }), COST, &["more than the", "per entry"]);
    assert_caught(
        ra_with(Knobs { sequential: true, ..RA_OK }),
        DELAY,
        &["with nobody else asking or inside", "longer than two message delays"],
    );
}

fn ra_explorer(nodes: usize, k: Knobs) -> Explorer<RaMsg> {
    Explorer::new(nodes, move |_| Box::new(Ra::new(k)) as Box<dyn Process<RaMsg>>)
        .monitor(OneInside::default())
        .monitor(EveryRequestServed::new((0..nodes).collect(), ms(1_000)))
}

#[test]
fn the_explorer_finds_the_missing_tie_break_and_clears_the_fix() {
    for nodes in [2, 3] {
        let found = ra_explorer(nodes, Knobs { tie: Tie::None, ..RA_OK }).max_states(200_000).run();
        let cx = found.violation.expect("equal stamps let both in");
        assert_eq!(cx.verdict.check, SAFETY);
        // Both ask before hearing the other (equal stamps), both answer,
        // both answers arrive: the shortest such path.
        println!("{nodes} nodes: {} moves: {}", cx.moves.len(), cx.verdict.message);
        // With three nodes the third must answer both: 2 + 4 + 4 moves.
        assert_eq!(cx.moves.len(), if nodes == 2 { 6 } else { 10 });
    }
    let fixed = ra_explorer(2, RA_OK).run();
    assert!(fixed.complete && fixed.violation.is_none(), "{:?}", fixed.violation.map(|v| v.verdict));
    assert_eq!(fixed.status(), Status::Pass);
    println!("fixed, 2 nodes: {} states", fixed.states);
}

// ---------------------------------------------------------------------------
// Token ring.

#[derive(Clone, Copy, Debug, Hash, Default)]
struct RingKnobs {
    /// Pass to the previous node instead of the next.
    reverse: bool,
    /// Keep an unwanted token for 1 ms before passing it.
    linger: bool,
    /// Keep it for 4 ms: still within the token's rule (`IDLE_HOLD`).
    linger_long: bool,
    /// Mistake: passes the token as it enters.
    pass_on_entry: bool,
    /// Mistake: enters as soon as it asks.
    no_wait: bool,
    /// Mistake: keeps the token after leaving.
    keep_after_exit: bool,
    /// Mistake: keeps a token it does not want until it next asks.
    keep_until_wanted: bool,
    /// Mistake: node 0 starts with the token but passes it only after it
    /// has used it.
    hold_at_start: bool,
}

#[derive(Clone, Debug, Hash)]
struct Ring {
    k: RingKnobs,
    token: bool,
    wanting: bool,
    inside: bool,
    rounds: u32,
}

impl Ring {
    fn pass(&mut self, ctx: &mut Ctx<TokenMsg>) {
        self.token = false;
        let n = ctx.nodes();
        let next = if self.k.reverse { (ctx.me() + n - 1) % n } else { (ctx.me() + 1) % n };
        ctx.send(next, TokenMsg::Token);
    }
    fn enter(&mut self, ctx: &mut Ctx<TokenMsg>) {
        self.wanting = false;
        self.inside = true;
        ctx.observe(Observation::EnterCritical);
        ctx.set_timer(LEAVE, HOLD);
        if self.k.pass_on_entry && self.token {
            self.pass(ctx);
        }
    }
    fn holding(&mut self, ctx: &mut Ctx<TokenMsg>) {
        if self.wanting {
            self.enter(ctx);
        } else if self.k.keep_until_wanted {
            // Mine until I want in.
        } else if self.k.linger || self.k.linger_long {
            ctx.set_timer(LINGER, if self.k.linger_long { ms(4) } else { ms(1) });
        } else {
            self.pass(ctx);
        }
    }
}

impl Process<TokenMsg> for Ring {
    fn on_start(&mut self, ctx: &mut Ctx<TokenMsg>) {
        ctx.set_timer(ASK, first_request(ctx.me()));
        if ctx.me() == 0 {
            self.token = true;
            if !self.k.hold_at_start {
                self.holding(ctx);
            }
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<TokenMsg>, _: NodeId, _: TokenMsg) {
        self.token = true;
        self.holding(ctx);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<TokenMsg>, timer: TimerTag) {
        match timer {
            ASK => {
                ctx.observe(Observation::RequestCritical);
                self.wanting = true;
                if (self.token && !self.inside) || self.k.no_wait {
                    ctx.cancel_timer(LINGER);
                    self.enter(ctx);
                }
            }
            LEAVE => {
                self.inside = false;
                ctx.observe(Observation::ExitCritical);
                self.rounds += 1;
                if self.rounds < ROUNDS {
                    ctx.set_timer(ASK, think_time(ctx.nodes()));
                }
                if self.token && !self.k.keep_after_exit {
                    self.pass(ctx);
                }
            }
            _ if self.token && !self.inside => self.pass(ctx),
            _ => {}
        }
    }
}

fn ring_with(k: RingKnobs) -> impl Fn(&Run) -> Report {
    move |run| {
        tokenring::check(
            Box::new(move |_| Box::new(Ring { k, token: false, wanting: false, inside: false, rounds: 0 })),
            run,
        )
    }
}

#[test]
fn tokenring_reference_and_other_designs_pass() {
    assert_passes(&tokenring::SPEC, |r| tokenring::check(tokenring::reference::solution(), r), "reference");
    assert_passes(&tokenring::SPEC, ring_with(RingKnobs { reverse: true, ..Default::default() }), "reversed ring");
    assert_passes(&tokenring::SPEC, ring_with(RingKnobs { linger: true, ..Default::default() }), "lingering token");
}

#[test]
fn tokenring_mistakes_fail_in_plain_words() {
    assert_caught(
        ring_with(RingKnobs { pass_on_entry: true, ..Default::default() }),
        RING,
        &["passed the token to node", "while still inside the critical section"],
    );
    assert_caught(ring_with(RingKnobs { no_wait: true, ..Default::default() }), RING, &["without holding the token"]);
    assert_caught(
        ring_with(RingKnobs { keep_after_exit: true, ..Default::default() }),
        LIVENESS,
        &["and was still waiting"],
    );
}

/// Student seeds a new mistake must be caught for, every one of them.
const MISTAKE_SEEDS: u64 = 24;

/// Asserts the public check fails `expected` for every one of
/// `MISTAKE_SEEDS` student seeds, with `words` and a diagram.
fn assert_caught_for_every_student(check: impl Fn(&Run) -> Report, expected: &str, words: &[&str]) {
    for seed in 0..MISTAKE_SEEDS {
        let report = check(&Run::public(seed));
        let v = report.verdicts.iter().find(|v| !v.passed() && v.check == expected).unwrap_or_else(|| {
            panic!(
                "student seed {seed}: '{expected}' passed: {:?}",
                report.verdicts.iter().filter(|v| !v.passed()).map(|v| v.to_string()).collect::<Vec<_>>()
            )
        });
        assert_eq!(v.status, Status::Fail);
        assert!(v.event.is_some() && v.at.is_some(), "the verdict names the event: {v}");
        for w in words {
            assert!(v.message.contains(w), "'{}' lacks '{w}'", v.message);
        }
        assert!(
            report.diagram.as_deref().is_some_and(|d| d.starts_with("<svg")),
            "a failing public run comes with a diagram"
        );
        if seed == 0 {
            println!("{v}");
        }
    }
}

/// A node that sits on a token it does not want: everyone else waits for
/// nothing. The workload has every node ask in turn, so the ring still
/// serves everyone; the token's own rule catches it for every student.
#[test]
fn tokenring_nodes_that_sit_on_the_token_are_caught_for_every_student() {
    let sat = ["without asking for the critical section", "must pass the token on at once"];
    assert_caught_for_every_student(ring_with(RingKnobs { keep_until_wanted: true, ..Default::default() }), RING, &sat);
    assert_caught_for_every_student(
        ring_with(RingKnobs { hold_at_start: true, ..Default::default() }),
        RING,
        &["held the token from the start"],
    );
    assert_caught_for_every_student(ring_with(RingKnobs { keep_after_exit: true, ..Default::default() }), RING, &sat);
}

/// The correct token rings (the reference, a reversed ring, a token that
/// lingers 1 ms or 4 ms) pass every check, public and hidden, for 200 students
/// (about 4 s in a debug build).
#[test]
fn tokenring_correct_designs_pass_for_200_students() {
    tokenring_correct_designs_pass(200);
}

fn tokenring_correct_designs_pass(students: u64) {
    let start = Instant::now();
    type Design = (&'static str, Box<dyn Fn(&Run) -> Report>);
    let designs: [Design; 4] = [
        ("reference", Box::new(|r: &Run| tokenring::check(tokenring::reference::solution(), r))),
        ("reversed ring", Box::new(ring_with(RingKnobs { reverse: true, ..Default::default() }))),
        ("lingering token", Box::new(ring_with(RingKnobs { linger: true, ..Default::default() }))),
        ("token lingers 4 ms", Box::new(ring_with(RingKnobs { linger_long: true, ..Default::default() }))),
    ];
    for seed in 0..students {
        for (what, check) in &designs {
            let report = check(&Run::all(seed));
            if let Some(bad) = report.verdicts.iter().find(|v| !v.passed()) {
                panic!("{what}, student seed {seed}: {bad}");
            }
        }
    }
    println!("tokenring: 4 correct designs x {students} students in {:.1} s", start.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------
// All three.

/// A node that does nothing, like the scaffolds.
#[derive(Clone, Debug, Hash, Default)]
struct Idle;

impl<M: Message> Process<M> for Idle {
    fn on_message(&mut self, _: &mut Ctx<M>, _: NodeId, _: M) {}
}

#[test]
fn the_scaffolds_fail() {
    let reports = [
        (&central::SPEC, central::check(Box::new(|_| Box::new(Idle)), &Run::all(1))),
        (&ricart::SPEC, ricart::check(Box::new(|_| Box::new(Idle)), &Run::all(1))),
        (&tokenring::SPEC, tokenring::check(Box::new(|_| Box::new(Idle)), &Run::all(1))),
    ];
    for (spec, report) in reports {
        let v = report.verdicts.iter().find(|v| !v.passed() && v.check == LIVENESS).expect("a do-nothing node fails");
        assert_eq!(v.check, LIVENESS, "{v}");
        assert!(v.message.contains("0 time(s), not the 3 its workload asks for"), "{v}");
        // Checks that saw no entry judged nothing, so they fail too.
        assert_eq!(report.score(spec, Scope::All), 0.0);
    }
}

#[test]
fn public_checks_take_well_under_a_second() {
    let time = |name: &str, check: &dyn Fn() -> Report| {
        let start = Instant::now();
        let report = check();
        let took = start.elapsed();
        let runs: BTreeSet<_> = report.verdicts.iter().map(|v| (v.scenario.clone(), v.seed)).collect();
        println!("{name}: public checks, {} runs, {:.0} ms", runs.len(), took.as_secs_f64() * 1000.0);
    };
    time("central", &|| central::check(central::reference::solution(), &Run::public(1)));
    time("ricart", &|| ricart::check(ricart::reference::solution(), &Run::public(1)));
    time("tokenring", &|| tokenring::check(tokenring::reference::solution(), &Run::public(1)));
}

#[test]
fn the_textbook_cost_table_is_reproduced_by_simulation() {
    for n in [3, 5, 8] {
        let table = mutex::message_table(n);
        for row in &table {
            println!(
                "n={n} {:32} messages {:>5.2}..{:<6.2} (textbook {:14}) delay {:>4.2}..{:<5.2} (textbook {})",
                row.algorithm,
                row.messages.0,
                row.messages.1,
                row.textbook_messages,
                row.delay.0,
                row.delay.1,
                row.textbook_delay
            );
        }
        let nf = n as f64;
        // Centralized: request, grant, release; two delays when alone.
        assert_eq!(table[0].messages, (3.0, 3.0));
        assert_eq!(table[0].delay.0, 2.0);
        // Ricart-Agrawala: exactly 2(n-1) messages. The textbook's delay
        // 2(n-1) counts messages one after another; the simulated network
        // carries the n-1 requests (and the n-1 replies) at once, so an
        // uncontended entry takes 2 delays.
        assert_eq!(table[1].messages, (2.0 * (nf - 1.0), 2.0 * (nf - 1.0)));
        assert_eq!(table[1].delay.0, 2.0);
        // Hardware broadcast: one request message plus n-1 replies = n;
        // again 2 delays, not the textbook's 1 + (n-1).
        assert_eq!(table[2].messages, (nf, nf));
        assert_eq!(table[2].delay.0, 2.0);
        // Token ring: one hop per entry when everyone waits, many on an
        // idle ring (the bound grows with idle time: "unbounded"); between
        // 0 and n-1 delays from asking to entering.
        // (Measured: n=3 1..103, n=5 1..96, n=8 1..105 with the 0.1 ms
        // network; the top grows as the network gets faster.)
        assert_eq!(table[3].messages.0, 1.0);
        assert!(table[3].messages.1 > 10.0 * nf, "{:?}", table[3].messages);
        assert_eq!(table[3].delay, (0.0, nf - 1.0));
    }
}

// ---------------------------------------------------------------------------
// Discussion material: faults the algorithms do not survive. Not graded;
// these pin what the notebook shows.

fn judged<M: Message>(
    scenario: &Scenario,
    factory: Box<distlab::process::NodeFactory<M>>,
    monitors: Vec<Box<dyn Monitor<M>>>,
) -> Vec<Verdict> {
    let trace = simulate_with(scenario, 7, std::rc::Rc::from(factory)).unwrap();
    check_trace(&trace, &monitors, &Provenance::of(&trace, "discussion"))
}

#[test]
fn a_coordinator_crash_or_a_lost_token_stops_everyone() {
    let crash = |node, at| Schedule { name: "crash".into(), faults: vec![Fault::Crash { node, at }] };
    let mut s = mutex::scenario("coordinator crashes", 4, Delay::Constant { us: ms(2) }, true, ms(400));
    s.schedule = crash(0, ms(60));
    let v = judged(&s, central::reference::solution(), central::monitors(&s));
    let stuck = v.iter().find(|v| v.check == LIVENESS).unwrap();
    assert_eq!(stuck.status, Status::Fail, "{stuck}");
    println!("{stuck}");
    // A crashed ring node swallows the token when it comes by.
    let mut s = mutex::scenario("ring node crashes", 4, Delay::Constant { us: ms(2) }, true, ms(400));
    s.schedule = crash(2, ms(60));
    let v = judged(&s, tokenring::reference::solution(), tokenring::monitors(&s));
    let stuck = v.iter().find(|v| v.check == LIVENESS).unwrap();
    assert_eq!(stuck.status, Status::Fail, "{stuck}");
    println!("{stuck}");
}
