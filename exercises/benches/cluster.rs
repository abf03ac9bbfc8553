//! Cluster mode on loopback: one-way latency (send to delivery, as the
//! trace records them) and messages per second, over TCP and UDP.
//! Run: `cargo bench -p distlab --bench cluster`. Prints figures.

use std::time::Instant;

use distlab::cluster::{self, Transport};
use distlab::*;

/// Ping-pong: node 0 and node 1 bounce one message `ROUNDS` times, so
/// exactly one message is in flight (latency).
#[derive(Clone, Debug, Hash)]
struct PingPong;

const ROUNDS: u32 = 10_000;

impl Process<u32> for PingPong {
    fn on_start(&mut self, ctx: &mut Ctx<u32>) {
        if ctx.me() == 0 {
            ctx.send(1, 0);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<u32>, from: NodeId, n: u32) {
        if n < ROUNDS {
            ctx.send(from, n + 1);
        }
    }
}

/// Every node keeps `WINDOW` messages in flight to its successor on a
/// ring until each has sent `PER_NODE` (throughput).
#[derive(Clone, Debug, Hash)]
struct Window {
    sent: u32,
}

const WINDOW: u32 = 16;
const PER_NODE: u32 = 20_000;

impl Process<u32> for Window {
    fn on_start(&mut self, ctx: &mut Ctx<u32>) {
        for _ in 0..WINDOW {
            self.send_next(ctx);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<u32>, _from: NodeId, _n: u32) {
        self.send_next(ctx);
    }
}

impl Window {
    fn send_next(&mut self, ctx: &mut Ctx<u32>) {
        if self.sent < PER_NODE {
            self.sent += 1;
            let next = (ctx.me() + 1) % ctx.nodes();
            ctx.send(next, self.sent);
        }
    }
}

fn main() {
    let mut scenario = Scenario::new("loopback", 2);
    scenario.until = ms(120_000);
    scenario.max_events = 10_000_000;
    for (name, transport) in [("TCP", Transport::Tcp), ("UDP", Transport::Udp { loss: 0.0 })] {
        let trace = cluster::run(&scenario, transport, 1, |_| Box::new(PingPong)).unwrap();
        let times = cluster::delivery_times(&trace);
        let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
        println!(
            "{name} ping-pong, {} messages: one-way p50 {} us, p99 {} us, max {} us",
            times.len(),
            pct(0.5),
            pct(0.99),
            times.last().unwrap()
        );
        let mut ring = Scenario::new("loopback ring", 4);
        ring.until = ms(120_000);
        ring.max_events = 10_000_000;
        let t = Instant::now();
        let trace = cluster::run(&ring, transport, 1, |_| Box::new(Window { sent: 0 })).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let delivered = trace.events.iter().filter(|e| matches!(e.kind, EventKind::Deliver { .. })).count();
        println!(
            "{name} ring of 4, {WINDOW} in flight per node: {delivered} messages in {secs:.2} s = {:.0} messages/s (stop: {:?})",
            delivered as f64 / secs,
            trace.stop
        );
    }
}
