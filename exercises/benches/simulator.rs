//! Simulator throughput on a broadcast-heavy 16-node workload.
//! Run: `cargo bench -p distlab --bench simulator`. Prints figures; the goal
//! is at least 1M events per second.

use std::time::Instant;

use distlab::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum Msg {
    Heartbeat { round: u64, clock: u64 },
    Ack { round: u64 },
}

/// Broadcasts a heartbeat every millisecond and acknowledges every one it
/// hears, keeping a Lamport clock: n(n-1) sends and as many acks per round.
#[derive(Clone, Debug, Hash)]
struct Heartbeat {
    round: u64,
    clock: u64,
    acks: u64,
}

impl Process<Msg> for Heartbeat {
    fn on_start(&mut self, ctx: &mut Ctx<Msg>) {
        ctx.set_timer(0, ms(1));
    }
    fn on_message(&mut self, ctx: &mut Ctx<Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Heartbeat { round, clock } => {
                self.clock = self.clock.max(clock) + 1;
                ctx.send(from, Msg::Ack { round });
            }
            Msg::Ack { .. } => self.acks += 1,
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<Msg>, _: TimerTag) {
        self.round += 1;
        self.clock += 1;
        ctx.broadcast(Msg::Heartbeat { round: self.round, clock: self.clock });
        ctx.set_timer(0, ms(1));
    }
}

fn main() {
    let mut scenario = Scenario::new("16-node heartbeat", 16);
    scenario.network = Network { loss: 0.01, duplicate: 0.01, ..Network::default() };
    scenario.until = ms(2_000);
    scenario.max_events = usize::MAX;
    let factory = |_| Box::new(Heartbeat { round: 0, clock: 0, acks: 0 }) as Box<dyn Process<Msg>>;

    // One warm-up run, then the median of five.
    let _ = simulate(&scenario, 0, factory).unwrap();
    let mut rates = Vec::new();
    let mut events = 0;
    for seed in 1..=5 {
        let started = Instant::now();
        let trace = simulate(&scenario, seed, factory).unwrap();
        let secs = started.elapsed().as_secs_f64();
        events = trace.events.len();
        rates.push(events as f64 / secs);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!("simulator: 16 nodes, broadcast every 1 ms for 2 s of virtual time");
    println!("  events per run     {events}");
    println!(
        "  events per second  {:.2} M (median of 5; min {:.2} M, max {:.2} M)",
        median / 1e6,
        rates[0] / 1e6,
        rates[4] / 1e6
    );
    println!("  goal               >= 1.00 M: {}", if median >= 1e6 { "met" } else { "NOT met" });
}
