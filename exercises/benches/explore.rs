//! Explorer throughput on two-phase commit (a transaction manager and 5
//! resource managers), side by side with Stateright's actor model checker
//! on the same actors. Run: `cargo bench -p distlab --bench explore`.
//!
//! The two models have the same state space: node states, the multiset of
//! messages in flight, and pending timers. Every resource manager may
//! prepare or abort on its own (two racing timers), the manager may abort
//! on its own (a timer) until everyone prepared. Stateright skips events
//! that change nothing; our explorer always counts them, so the Stateright
//! actors mark every event as a change (`to_mut`) to keep the spaces equal.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use distlab::{Ctx, Decision, EventKind, Explorer, Monitor, NodeId, Observation, Process, Step};
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, ActorModel, Id, Network, Out};
use stateright::{Checker, Expectation, Model};

const RMS: usize = 5;
const PREPARE: u64 = 1;
const ABORT: u64 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Msg {
    Prepared,
    Commit,
    Abort,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Phase {
    Working,
    Prepared,
    Committed,
    Aborted,
}

/// One node's state; the same type serves both checkers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Node {
    /// The transaction manager: who prepared (a bit per node id), and
    /// whether it decided.
    Tm {
        prepared: u8,
        phase: Phase,
    },
    Rm {
        phase: Phase,
    },
}

const ALL_PREPARED: u8 = ((1 << (RMS + 1)) - 1) & !1;

/// The protocol, written once against a tiny effects interface so both
/// checkers run the very same logic.
trait Io {
    fn send(&mut self, to: usize, msg: Msg);
    fn set_timer(&mut self, tag: u64);
    fn cancel_timer(&mut self, tag: u64);
    fn decide(&mut self, decision: Decision);
}

impl Node {
    fn new(id: usize) -> Node {
        if id == 0 {
            Node::Tm { prepared: 0, phase: Phase::Working }
        } else {
            Node::Rm { phase: Phase::Working }
        }
    }

    fn start(&mut self, io: &mut impl Io) {
        match self {
            Node::Tm { .. } => io.set_timer(ABORT),
            Node::Rm { .. } => {
                io.set_timer(PREPARE);
                io.set_timer(ABORT);
            }
        }
    }

    fn message(&mut self, io: &mut impl Io, from: usize, msg: Msg) {
        match (self, msg) {
            (Node::Tm { prepared, phase }, Msg::Prepared) => {
                *prepared |= 1 << from;
                if *phase == Phase::Working && *prepared == ALL_PREPARED {
                    *phase = Phase::Committed;
                    io.cancel_timer(ABORT);
                    (1..=RMS).for_each(|rm| io.send(rm, Msg::Commit));
                }
            }
            (Node::Rm { phase }, Msg::Commit) => {
                *phase = Phase::Committed;
                io.decide(Decision::Commit);
            }
            (Node::Rm { phase }, Msg::Abort) => {
                if *phase == Phase::Working {
                    io.cancel_timer(PREPARE);
                    io.cancel_timer(ABORT);
                }
                *phase = Phase::Aborted;
                io.decide(Decision::Abort);
            }
            _ => {}
        }
    }

    fn timer(&mut self, io: &mut impl Io, tag: u64) {
        match self {
            Node::Tm { phase, .. } if *phase == Phase::Working => {
                *phase = Phase::Aborted;
                (1..=RMS).for_each(|rm| io.send(rm, Msg::Abort));
            }
            Node::Rm { phase } if *phase == Phase::Working && tag == PREPARE => {
                *phase = Phase::Prepared;
                io.cancel_timer(ABORT);
                io.send(0, Msg::Prepared);
            }
            Node::Rm { phase } if *phase == Phase::Working && tag == ABORT => {
                *phase = Phase::Aborted;
                io.cancel_timer(PREPARE);
                io.decide(Decision::Abort);
            }
            _ => {}
        }
    }
}

// --- ours -------------------------------------------------------------------

impl Io for Ctx<Msg> {
    fn send(&mut self, to: usize, msg: Msg) {
        Ctx::send(self, to, msg)
    }
    fn set_timer(&mut self, tag: u64) {
        Ctx::set_timer(self, tag, 1_000)
    }
    fn cancel_timer(&mut self, tag: u64) {
        Ctx::cancel_timer(self, tag)
    }
    fn decide(&mut self, decision: Decision) {
        self.observe(Observation::Decide(decision))
    }
}

impl Process<Msg> for Node {
    fn on_start(&mut self, ctx: &mut Ctx<Msg>) {
        self.start(ctx)
    }
    fn on_message(&mut self, ctx: &mut Ctx<Msg>, from: NodeId, msg: Msg) {
        self.message(ctx, from, msg)
    }
    fn on_timer(&mut self, ctx: &mut Ctx<Msg>, tag: u64) {
        self.timer(ctx, tag)
    }
}

/// No resource manager commits while another aborts.
#[derive(Clone, Debug, Default, Hash)]
struct Consistent {
    committed: bool,
    aborted: bool,
}

impl Monitor<Msg> for Consistent {
    fn name(&self) -> String {
        "consistent".into()
    }
    fn on_event(&mut self, step: &Step<'_, Msg>) -> Result<(), String> {
        if let EventKind::Observe { what: Observation::Decide(d), .. } = step.kind {
            match d {
                Decision::Commit => self.committed = true,
                Decision::Abort => self.aborted = true,
            }
            if self.committed && self.aborted {
                return Err("one resource manager committed, another aborted".into());
            }
        }
        Ok(())
    }
}

fn ours() -> (usize, Duration) {
    let started = Instant::now();
    let result = Explorer::new(RMS + 1, |id| Box::new(Node::new(id)) as Box<dyn Process<Msg>>)
        .monitor(Consistent::default())
        .max_states(10_000_000)
        .run();
    let elapsed = started.elapsed();
    assert!(result.complete && result.violation.is_none(), "2PC is safe: {:?}", result.violation);
    (result.states, elapsed)
}

// --- Stateright -------------------------------------------------------------

#[derive(Clone)]
struct SrNode(usize);

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum SrTimer {
    Prepare,
    Abort,
}

fn sr_timer(tag: u64) -> SrTimer {
    if tag == PREPARE {
        SrTimer::Prepare
    } else {
        SrTimer::Abort
    }
}

struct SrIo<'a>(&'a mut Out<SrNode>);

impl Io for SrIo<'_> {
    fn send(&mut self, to: usize, msg: Msg) {
        self.0.send(Id::from(to), msg)
    }
    fn set_timer(&mut self, tag: u64) {
        self.0.set_timer(sr_timer(tag), Duration::from_millis(1)..Duration::from_millis(2))
    }
    fn cancel_timer(&mut self, tag: u64) {
        self.0.cancel_timer(sr_timer(tag))
    }
    fn decide(&mut self, _: Decision) {}
}

impl Actor for SrNode {
    type Msg = Msg;
    type State = Node;
    type Timer = SrTimer;
    type Random = ();
    type Storage = ();

    fn on_start(&self, _: Id, _: &Option<()>, o: &mut Out<Self>) -> Node {
        let mut node = Node::new(self.0);
        node.start(&mut SrIo(o));
        node
    }

    fn on_msg(&self, _: Id, state: &mut Cow<Node>, src: Id, msg: Msg, o: &mut Out<Self>) {
        state.to_mut().message(&mut SrIo(o), usize::from(src), msg)
    }

    fn on_timeout(&self, _: Id, state: &mut Cow<Node>, timer: &SrTimer, o: &mut Out<Self>) {
        let tag = if *timer == SrTimer::Prepare { PREPARE } else { ABORT };
        state.to_mut().timer(&mut SrIo(o), tag)
    }
}

fn stateright() -> (usize, Duration) {
    let model = ActorModel::new((), ())
        .actors((0..=RMS).map(SrNode))
        .init_network(Network::new_unordered_nonduplicating([]))
        .property(Expectation::Always, "consistent", |_, state| {
            let phases = state.actor_states.iter().filter_map(|s| match **s {
                Node::Rm { phase } => Some(phase),
                Node::Tm { .. } => None,
            });
            let (mut committed, mut aborted) = (false, false);
            for phase in phases {
                committed |= phase == Phase::Committed;
                aborted |= phase == Phase::Aborted;
            }
            !(committed && aborted)
        });
    let started = Instant::now();
    let checker = model.checker().threads(1).spawn_bfs().join();
    let elapsed = started.elapsed();
    checker.assert_properties();
    (checker.unique_state_count(), elapsed)
}

fn report(name: &str, (states, took): (usize, Duration)) -> f64 {
    let rate = states as f64 / took.as_secs_f64();
    println!("{name:>10}: {states:>8} states in {:>7.3} s = {rate:>10.0} states/s", took.as_secs_f64());
    rate
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` doesn't, and
    // then one quick round is enough.
    let rounds = if std::env::args().any(|a| a == "--bench") { 3 } else { 1 };
    println!("two-phase commit, 1 manager + {RMS} resource managers, BFS, one thread");
    let mut best = (0.0f64, 0.0f64);
    for round in 1..=rounds {
        println!("round {round}:");
        let a = report("distlab", ours());
        let b = report("stateright", stateright());
        best = (best.0.max(a), best.1.max(b));
    }
    println!(
        "best: distlab {:.0} states/s, stateright {:.0} states/s, ratio distlab/stateright = {:.2}",
        best.0,
        best.1,
        best.0 / best.1
    );
}
