//! The simulator's promises: determinism, the network model's rates and
//! orderings, partitions, crashes, timers, clocks and input validation.

use std::rc::Rc;

use distlab::check::{check_trace, Monitor, Provenance, Step, NODES_RUN_CLEANLY};
use distlab::process::NodeFactory;
use distlab::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum Msg {
    Ping(u64),
    Pong(u64),
}

/// Broadcasts a ping every `period` and answers every ping: a chatty node
/// that exercises every part of the network.
#[derive(Clone, Debug, Hash)]
struct Chatter {
    period: Time,
    sent: u64,
    rounds: u64,
}

impl Process<Msg> for Chatter {
    fn on_start(&mut self, ctx: &mut Ctx<Msg>) {
        ctx.set_timer(0, self.period);
    }
    fn on_message(&mut self, ctx: &mut Ctx<Msg>, from: NodeId, msg: Msg) {
        if let Msg::Ping(k) = msg {
            ctx.send(from, Msg::Pong(k));
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<Msg>, _tag: TimerTag) {
        if self.sent < self.rounds {
            self.sent += 1;
            ctx.broadcast(Msg::Ping(self.sent));
            ctx.set_timer(0, self.period);
        }
    }
}

fn chatter(rounds: u64) -> Rc<NodeFactory<Msg>> {
    Rc::new(move |_| Box::new(Chatter { period: ms(5), sent: 0, rounds }))
}

fn lossy_scenario(seed: u64) -> Scenario {
    let mut s = Scenario::new("lossy with faults", 4);
    s.network = Network { loss: 0.1, duplicate: 0.05, ..Network::default() };
    s.schedule = Schedule::random(seed, 4, &RandomFaults { horizon: ms(100), ..RandomFaults::default() });
    s.until = ms(200);
    s
}

#[test]
fn same_seed_gives_same_trace_over_1000_seeds() {
    let mut distinct = std::collections::BTreeSet::new();
    for seed in 0..1000 {
        let scenario = lossy_scenario(seed);
        let hash = determinism_check(&scenario, seed, chatter(10)).unwrap_or_else(|e| panic!("{e}"));
        distinct.insert(hash);
    }
    // Different seeds must really change the run, or the check is empty.
    assert!(distinct.len() > 990, "only {} distinct traces in 1000 seeds", distinct.len());
}

#[test]
fn a_node_reading_outside_state_is_caught_as_nondeterministic() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static GLOBAL: AtomicU64 = AtomicU64::new(0);
    #[derive(Clone, Debug, Hash)]
    struct Leaky;
    impl Process<Msg> for Leaky {
        fn on_start(&mut self, ctx: &mut Ctx<Msg>) {
            let k = GLOBAL.fetch_add(1, Ordering::Relaxed);
            ctx.broadcast(Msg::Ping(k));
        }
        fn on_message(&mut self, _: &mut Ctx<Msg>, _: NodeId, _: Msg) {}
    }
    let scenario = Scenario::new("leaky", 2);
    let err = determinism_check(&scenario, 1, Rc::new(|_| Box::new(Leaky) as Box<dyn Process<Msg>>)).unwrap_err();
    assert!(err.contains("two different runs"), "{err}");
}

/// One node sends `count` pings to node 1, one per millisecond.
#[derive(Clone, Debug, Hash)]
struct Sender {
    count: u64,
    next: u64,
}

impl Process<Msg> for Sender {
    fn on_start(&mut self, ctx: &mut Ctx<Msg>) {
        if ctx.me() == 0 {
            ctx.set_timer(0, 0);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<Msg>, _from: NodeId, msg: Msg) {
        if let Msg::Ping(k) = msg {
            ctx.observe(Observation::Deliver { origin: 0, seq: k });
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<Msg>, _: TimerTag) {
        if self.next < self.count {
            self.next += 1;
            ctx.send(1, Msg::Ping(self.next));
            ctx.set_timer(0, ms(1) / 10);
        }
    }
}

fn sender(count: u64) -> impl Fn(NodeId) -> Box<dyn Process<Msg>> + 'static {
    move |_| Box::new(Sender { count, next: 0 })
}

fn two_node_run(network: Network, count: u64, seed: u64) -> Trace<Msg> {
    let scenario = Scenario { network, until: ms(10_000), ..Scenario::new("two nodes", 2) };
    simulate(&scenario, seed, sender(count)).unwrap()
}

#[test]
fn loss_and_duplication_rates_match_the_configuration() {
    let n = 20_000u64;
    let trace = two_node_run(Network { loss: 0.2, duplicate: 0.1, ..Network::default() }, n, 42);
    let c = Counters::of(&trace);
    assert_eq!(c.sent, n as usize);
    let lost = c.dropped as f64 / n as f64;
    let dup = c.duplicated as f64 / (n as usize - c.dropped) as f64;
    // Four standard deviations of a binomial proportion.
    let tolerance = |p: f64, k: f64| 4.0 * (p * (1.0 - p) / k).sqrt();
    assert!((lost - 0.2).abs() < tolerance(0.2, n as f64), "observed loss {lost}");
    assert!((dup - 0.1).abs() < tolerance(0.1, n as f64 * 0.8), "observed duplication {dup}");
    assert_eq!(c.delivered, n as usize - c.dropped + c.duplicated);
}

fn delivery_order(trace: &Trace<Msg>) -> Vec<u64> {
    trace
        .observations()
        .filter_map(|(_, _, _, o)| match o {
            Observation::Deliver { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect()
}

#[test]
fn fifo_channels_never_reorder_and_unordered_ones_do() {
    let wide = Delay::Uniform { min: 0, max: ms(5) };
    let mut reordered_somewhere = false;
    for seed in 0..50 {
        let fifo =
            delivery_order(&two_node_run(Network { delay: wide.clone(), fifo: true, ..Network::default() }, 200, seed));
        assert_eq!(fifo, (1..=200).collect::<Vec<_>>(), "seed {seed} reordered a FIFO channel");
        let loose = delivery_order(&two_node_run(
            Network { delay: wide.clone(), fifo: false, ..Network::default() },
            200,
            seed,
        ));
        reordered_somewhere |= loose.windows(2).any(|w| w[0] > w[1]);
    }
    assert!(reordered_somewhere, "without FIFO a wide delay should reorder some messages");
}

#[test]
fn a_partition_blocks_exactly_the_messages_that_cross_it_while_it_lasts() {
    let (start, end) = (ms(20), ms(60));
    let mut scenario = Scenario::new("split", 4);
    scenario.network = Network::default();
    scenario.schedule = Schedule {
        name: "halves".into(),
        faults: vec![
            Fault::Partition { a: vec![0, 1], b: vec![2, 3], start, end },
            Fault::Cut { from: vec![3], to: vec![0], start: ms(70), end: ms(90) },
        ],
    };
    scenario.until = ms(150);
    let trace = simulate_with(&scenario, 9, chatter(25)).unwrap();
    let side = |n: NodeId| n < 2;
    let mut blocked = 0;
    for e in &trace.events {
        let (from, to, dropped) = match e.kind {
            EventKind::Deliver { from, to, .. } => (from, to, false),
            EventKind::Drop { from, to, reason, .. } => {
                assert_eq!(reason, DropReason::Partition, "no loss is configured");
                (from, to, true)
            }
            _ => continue,
        };
        let crosses = side(from) != side(to) && start <= e.at && e.at < end;
        let cut = from == 3 && to == 0 && ms(70) <= e.at && e.at < ms(90);
        assert_eq!(dropped, crosses || cut, "{from}->{to} at {} us: dropped={dropped}", e.at);
        blocked += dropped as usize;
    }
    assert!(blocked > 10, "the partition should have blocked traffic, blocked {blocked}");
    // The cut is one-way: 0 -> 3 still flows while 3 -> 0 is cut.
    assert!(trace
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Deliver { from: 0, to: 3, .. }) && e.at >= ms(70) && e.at < ms(90)));
}

/// Counts messages in volatile and durable state and reports both.
#[derive(Clone, Debug, Hash, Default)]
struct Keeper {
    volatile: i64,
}

impl Process<Msg> for Keeper {
    fn on_start(&mut self, ctx: &mut Ctx<Msg>) {
        if ctx.me() == 0 {
            ctx.set_timer(0, ms(1));
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<Msg>, _from: NodeId, _msg: Msg) {
        self.volatile += 1;
        let durable = ctx.recall::<i64>("count").unwrap_or(0) + 1;
        ctx.persist("count", &durable);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<Msg>, _: TimerTag) {
        ctx.send(1, Msg::Ping(0));
        ctx.set_timer(0, ms(1));
    }
    fn on_recover(&mut self, ctx: &mut Ctx<Msg>) {
        ctx.observe(Observation::Note { name: "volatile".into(), value: self.volatile });
        ctx.observe(Observation::Note { name: "durable".into(), value: ctx.recall("count").unwrap_or(-1) });
    }
}

#[test]
fn a_crashed_node_receives_nothing_and_keeps_only_durable_state() {
    let mut scenario = Scenario::new("crash and recover", 2);
    scenario.network = Network::reliable(100);
    scenario.schedule = Schedule {
        name: "node 1 down from 10 ms to 20 ms".into(),
        faults: vec![Fault::Crash { node: 1, at: ms(10) }, Fault::Recover { node: 1, at: ms(20) }],
    };
    scenario.until = ms(30);
    let trace = simulate(&scenario, 3, |_| Box::new(Keeper::default()) as Box<dyn Process<Msg>>).unwrap();
    let delivered_before =
        trace.events.iter().filter(|e| matches!(e.kind, EventKind::Deliver { to: 1, .. }) && e.at < ms(10)).count();
    for e in &trace.events {
        if (ms(10)..ms(20)).contains(&e.at) {
            assert!(!matches!(e.kind, EventKind::Deliver { to: 1, .. }), "delivered to a crashed node at {}", e.at);
        }
    }
    let crashed_drops =
        trace.events.iter().filter(|e| matches!(e.kind, EventKind::Drop { reason: DropReason::Crashed, .. })).count();
    assert!(crashed_drops >= 9, "messages to the crashed node are dropped, got {crashed_drops}");
    let notes: Vec<(String, i64)> = trace
        .observations()
        .filter_map(|(_, _, _, o)| match o {
            Observation::Note { name, value } => Some((name.clone(), *value)),
            _ => None,
        })
        .collect();
    assert_eq!(notes, vec![("volatile".into(), 0), ("durable".into(), delivered_before as i64)]);
    assert!(delivered_before >= 9);
}

#[test]
fn hardware_broadcast_is_one_message_reaching_everyone() {
    let mut scenario = Scenario::new("broadcast", 5);
    scenario.network = Network { hardware_broadcast: true, ..Network::reliable(10) };
    scenario.until = ms(1);
    let trace = simulate_with(&scenario, 0, chatter(0)).unwrap();
    assert_eq!(trace.messages_sent(), 0);
    scenario.until = ms(6);
    let trace = simulate_with(&scenario, 0, chatter(1)).unwrap();
    let c = Counters::of(&trace);
    // Five broadcasts (one each) and 4 pongs to each: 5 + 20 sends.
    assert_eq!(c.by_kind.get("Ping"), Some(&5));
    assert_eq!(c.by_kind.get("Pong"), Some(&20));
    assert_eq!(c.delivered, 5 * 4 + 20);
}

/// Sets timer 1 for 10 ms, moves it to 30 ms, sets timer 2 and cancels it.
#[derive(Clone, Debug, Hash)]
struct Timers;

impl Process<Msg> for Timers {
    fn on_start(&mut self, ctx: &mut Ctx<Msg>) {
        ctx.set_timer(1, ms(10));
        ctx.set_timer(1, ms(30));
        ctx.set_timer(2, ms(5));
        ctx.cancel_timer(2);
    }
    fn on_message(&mut self, _: &mut Ctx<Msg>, _: NodeId, _: Msg) {}
    fn on_timer(&mut self, ctx: &mut Ctx<Msg>, tag: TimerTag) {
        ctx.observe(Observation::Note { name: "clock".into(), value: ctx.now() });
        ctx.observe(Observation::Note { name: "timer".into(), value: tag as i64 });
    }
}

#[test]
fn timers_move_cancel_and_follow_the_local_clock() {
    let mut scenario = Scenario::new("timers", 2);
    // Node 1's clock ticks 990 times per 1000: its 30 ms take longer.
    scenario.clocks = vec![ClockModel::default(), ClockModel { drift: -0.01, offset: 0 }];
    let trace = simulate(&scenario, 0, |_| Box::new(Timers) as Box<dyn Process<Msg>>).unwrap();
    let fired: Vec<(NodeId, Time, TimerTag)> = trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Timer { node, tag } => Some((node, e.at, tag)),
            _ => None,
        })
        .collect();
    assert_eq!(fired, vec![(0, ms(30), 1), (1, 30_304, 1)]);
    let readings: Vec<i64> = trace
        .observations()
        .filter_map(|(_, _, _, o)| match o {
            Observation::Note { name, value } if name == "clock" => Some(*value),
            _ => None,
        })
        .collect();
    assert_eq!(readings, vec![ms(30), 30_001]);
}

#[test]
fn invalid_scenarios_are_rejected_with_a_clear_reason() {
    let cases = [
        (r#"{"name":"a","nodes":3,"network":{"delay":{"kind":"constant","us":-5}}}"#, "delay is negative"),
        (
            r#"{"name":"b","nodes":3,"schedule":{"name":"s","faults":[{"kind":"crash","node":7,"at":10}]}}"#,
            "unknown node 7",
        ),
        (
            r#"{"name":"c","nodes":3,"schedule":{"name":"s","faults":[{"kind":"partition","a":[0],"b":[1,2],"start":50,"end":20}]}}"#,
            "not after it starts",
        ),
        (r#"{"name":"d","nodes":3,"network":{"loss":1.5}}"#, "loss probability 1.5"),
        (r#"{"name":"e","nodes":0}"#, "at least one node"),
        (r#"{"name":"f","nodes":2,"network":{"delay":{"kind":"uniform","min":10,"max":2}}}"#, "below the minimum"),
        (r#"{"name":"g","nodes":2,"bogus":1}"#, "unknown field"),
        (r#"{"name":"h","nodes":"#, "EOF"),
    ];
    for (json, expected) in cases {
        let err = Scenario::from_json(json).expect_err(json).to_string();
        assert!(err.contains(expected), "{json}: expected '{expected}' in '{err}'");
    }
    // The simulator itself refuses, rather than panicking.
    let mut bad = Scenario::new("bad", 2);
    bad.schedule.faults.push(Fault::Recover { node: 2, at: 0 });
    let err = simulate_with(&bad, 0, chatter(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid scenario 'bad': schedule 'no faults': fault 1 (recover): unknown node 2: the system has nodes 0 to 1"
    );
}

#[test]
fn a_panicking_node_fails_the_run_instead_of_the_caller() {
    #[derive(Clone, Debug, Hash)]
    struct Crashy;
    impl Process<Msg> for Crashy {
        fn on_start(&mut self, ctx: &mut Ctx<Msg>) {
            ctx.broadcast(Msg::Ping(1));
        }
        fn on_message(&mut self, _: &mut Ctx<Msg>, _: NodeId, _: Msg) {
            let v: Vec<u8> = Vec::new();
            let _ = v[3];
        }
    }
    let trace = simulate(&Scenario::new("crashy", 2), 0, |_| Box::new(Crashy) as Box<dyn Process<Msg>>).unwrap();
    assert_eq!(trace.stop, Stop::NodeFailed);
    let verdicts = check_trace(&trace, &[], &Provenance::of(&trace, "replay()"));
    let v = verdicts.iter().find(|v| v.check == NODES_RUN_CLEANLY).unwrap();
    assert_eq!(v.status, Status::Fail);
    assert!(v.message.contains("on_message") && v.message.contains("index out of bounds"), "{}", v.message);
    assert_eq!(v.event, Some(trace.events.len() - 1));
}

/// Liveness: every node must have seen a ping by the deadline.
#[derive(Clone, Debug, Hash)]
struct EveryoneHears {
    heard: Vec<bool>,
    deadline: Time,
}

impl Monitor<Msg> for EveryoneHears {
    fn name(&self) -> String {
        "everyone hears a ping".into()
    }
    fn on_event(&mut self, step: &Step<'_, Msg>) -> Result<(), String> {
        if let (EventKind::Deliver { to, .. }, Some(Msg::Ping(_))) = (step.kind, step.msg) {
            self.heard[*to] = true;
        }
        Ok(())
    }
    fn deadline(&self) -> Option<Time> {
        Some(self.deadline)
    }
    fn settled(&self) -> Result<(), String> {
        match self.heard.iter().position(|h| !h) {
            Some(node) => Err(format!("node {node} never heard a ping")),
            None => Ok(()),
        }
    }
}

#[test]
fn bounded_liveness_passes_fails_or_is_unknown_never_a_false_pass() {
    let monitor = |deadline| vec![Box::new(EveryoneHears { heard: vec![false; 3], deadline }) as Box<dyn Monitor<Msg>>];
    let run = |until, rounds| {
        let mut s = Scenario::new("liveness", 3);
        s.network = Network::reliable(ms(1));
        s.until = until;
        simulate_with(&s, 0, chatter(rounds)).unwrap()
    };
    let status =
        |trace: &Trace<Msg>, deadline| check_trace(trace, &monitor(deadline), &Provenance::of(trace, "r"))[0].status;
    // Pings go out at 5 ms and arrive at 6 ms.
    assert_eq!(status(&run(ms(100), 3), ms(10)), Status::Pass);
    // Nobody pings at all: a quiet run is final, so this is a real failure.
    assert_eq!(status(&run(ms(100), 0), ms(10)), Status::Fail);
    // The run was cut at 3 ms, before the deadline of 10 ms: unknown.
    assert_eq!(status(&run(ms(3), 3), ms(10)), Status::Unknown);
    let trace = run(ms(3), 3);
    let v = &check_trace(&trace, &monitor(ms(10)), &Provenance::of(&trace, "r"))[0];
    assert!(!v.passed());
}

#[test]
fn the_event_limit_stops_a_chattering_system_and_makes_checks_unknown() {
    #[derive(Clone, Debug, Hash)]
    struct Echo;
    impl Process<Msg> for Echo {
        fn on_start(&mut self, ctx: &mut Ctx<Msg>) {
            ctx.broadcast(Msg::Ping(0));
        }
        fn on_message(&mut self, ctx: &mut Ctx<Msg>, from: NodeId, msg: Msg) {
            ctx.send(from, msg);
        }
    }
    let scenario = Scenario { network: Network::reliable(0), max_events: 5000, ..Scenario::new("echo", 2) };
    let trace = simulate(&scenario, 0, |_| Box::new(Echo) as Box<dyn Process<Msg>>).unwrap();
    assert_eq!(trace.stop, Stop::EventLimit);
    assert_eq!(trace.events.len(), 5000);
    let monitors = vec![Box::new(EveryoneHears { heard: vec![false; 2], deadline: 0 }) as Box<dyn Monitor<Msg>>];
    let verdict = &check_trace(&trace, &monitors, &Provenance::of(&trace, "r"))[0];
    assert_eq!(verdict.status, Status::Unknown, "{verdict}");
    assert!(verdict.message.contains("event limit"), "{}", verdict.message);
}

#[test]
fn traces_round_trip_through_json_with_a_stable_hash() {
    let scenario = lossy_scenario(5);
    let trace = simulate_with(&scenario, 5, chatter(3)).unwrap();
    let json = trace.to_json();
    let back: Trace<Msg> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, trace);
    assert_eq!(back.hash(), trace.hash());
    assert!(json.contains(r#""type":"send""#), "events are tagged by type");
}
