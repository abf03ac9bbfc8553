// A typical student solution of the warm-up, about 150 lines: the size the
// compile-time goal is stated for.
use std::collections::{BTreeMap, BTreeSet};

use distlab::catalogue::warmup::{self, WarmupMsg};
use distlab::catalogue::Run;
use distlab::{Ctx, NodeId, Process, TimerTag, Time};

const RETRY: TimerTag = 1;
const REPORT: TimerTag = 2;
const FIRST_BACKOFF: Time = 10_000;
const MAX_BACKOFF: Time = 80_000;

/// Per-peer bookkeeping: how often we pinged, when we last heard.
#[derive(Clone, Debug, Hash, Default)]
struct PeerState {
    attempts: u32,
    answered: bool,
    last_nonce: u64,
}

#[derive(Clone, Debug, Hash, Default)]
struct Stats {
    pings_sent: u64,
    pongs_sent: u64,
    pongs_received: u64,
    duplicates: u64,
}

impl Stats {
    fn summary(&self) -> String {
        format!(
            "sent {} pings, {} pongs; got {} pongs ({} duplicates)",
            self.pings_sent, self.pongs_sent, self.pongs_received, self.duplicates
        )
    }
}

#[derive(Clone, Debug, Hash, Default)]
struct Node {
    peers: BTreeMap<NodeId, PeerState>,
    backoff: Time,
    next_nonce: u64,
    seen_pings: BTreeSet<(NodeId, u64)>,
    stats: Stats,
}

impl Node {
    fn is_pinger(ctx: &Ctx<WarmupMsg>) -> bool {
        ctx.me() == 0
    }

    fn silent_peers(&self) -> Vec<NodeId> {
        self.peers
            .iter()
            .filter(|(_, p)| !p.answered)
            .map(|(&id, _)| id)
            .collect()
    }

    fn ping_silent(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        for id in self.silent_peers() {
            self.next_nonce += 1;
            let nonce = self.next_nonce;
            let peer = self.peers.get_mut(&id).expect("known peer");
            peer.attempts += 1;
            peer.last_nonce = nonce;
            self.stats.pings_sent += 1;
            ctx.send(id, WarmupMsg::Ping(nonce));
        }
    }

    fn schedule_retry(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        if self.silent_peers().is_empty() {
            ctx.cancel_timer(RETRY);
            return;
        }
        self.backoff = if self.backoff == 0 { FIRST_BACKOFF } else { (self.backoff * 2).min(MAX_BACKOFF) };
        ctx.set_timer(RETRY, self.backoff);
    }

    fn on_ping(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, nonce: u64) {
        if !self.seen_pings.insert((from, nonce)) {
            self.stats.duplicates += 1;
        }
        self.stats.pongs_sent += 1;
        ctx.send(from, WarmupMsg::Pong(nonce));
    }

    fn on_pong(&mut self, from: NodeId, nonce: u64) {
        self.stats.pongs_received += 1;
        match self.peers.get_mut(&from) {
            Some(peer) if !peer.answered => {
                peer.answered = true;
                let _ = nonce;
            }
            Some(_) => self.stats.duplicates += 1,
            None => {}
        }
    }
}

impl Process<WarmupMsg> for Node {
    fn on_start(&mut self, ctx: &mut Ctx<WarmupMsg>) {
        if !Node::is_pinger(ctx) {
            return;
        }
        for id in ctx.peers() {
            self.peers.insert(id, PeerState::default());
        }
        self.ping_silent(ctx);
        self.schedule_retry(ctx);
        ctx.set_timer(REPORT, 500_000);
    }

    fn on_message(&mut self, ctx: &mut Ctx<WarmupMsg>, from: NodeId, msg: WarmupMsg) {
        match msg {
            WarmupMsg::Ping(nonce) => self.on_ping(ctx, from, nonce),
            WarmupMsg::Pong(nonce) => self.on_pong(from, nonce),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<WarmupMsg>, timer: TimerTag) {
        match timer {
            RETRY => {
                self.ping_silent(ctx);
                self.schedule_retry(ctx);
            }
            REPORT => {
                let _ = self.stats.summary();
            }
            _ => unreachable!("unknown timer {timer}"),
        }
    }
}

fn main() {
    let report = warmup::check(Box::new(|_| Box::new(Node::default())), &Run::public(3));
    let passed = report.verdicts.iter().filter(|v| v.passed()).count();
    println!("{passed} of {} checks passed", report.verdicts.len());
    for v in report.verdicts.iter().filter(|v| !v.passed()).take(3) {
        println!("{v}");
    }
    if let Some(svg) = report.diagram {
        println!("first failure drawn in {} bytes of SVG", svg.len());
    }
}
