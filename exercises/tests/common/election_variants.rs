//! Election variants the tests judge beside the notebook's solutions: the
//! same algorithms with other timings (and, for bully, COORDINATOR sent one
//! by one), so "more than one correct design passes" is checked.
#![allow(dead_code)]

pub mod bully {
    use distlab::catalogue::bully::*;
    use distlab::process::NodeFactory;
    use distlab::*;

    #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
    pub struct Timing {
        pub heartbeat: Time,
        pub silence: Time,
        pub answer_wait: Time,
        pub coordinator_wait: Time,
        /// Send COORDINATOR with one broadcast, or one by one.
        pub broadcast: bool,
    }

    pub const TIMING: Timing =
        Timing { heartbeat: ms(20), silence: ms(50), answer_wait: ms(12), coordinator_wait: ms(60), broadcast: true };

    #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
    enum Phase {
        Idle,
        /// Sent ELECTION; waiting for an ANSWER.
        Electing,
        /// Got an ANSWER; waiting for the COORDINATOR.
        Waiting,
    }

    #[derive(Clone, Debug, Hash)]
    pub struct Bully {
        t: Timing,
        leader: Option<NodeId>,
        phase: Phase,
    }

    const HEARTBEAT: TimerTag = 1;
    const WATCHDOG: TimerTag = 2;
    const ANSWER: TimerTag = 3;
    const COORDINATOR: TimerTag = 4;

    impl Bully {
        pub fn new(t: Timing) -> Self {
            Bully { t, leader: None, phase: Phase::Idle }
        }

        fn elect(&mut self, ctx: &mut Ctx<BullyMsg>) {
            ctx.cancel_timer(WATCHDOG);
            ctx.cancel_timer(COORDINATOR);
            let up: Vec<NodeId> = (ctx.me() + 1..ctx.nodes()).collect();
            if up.is_empty() {
                return self.win(ctx);
            }
            self.phase = Phase::Electing;
            for n in up {
                ctx.send(n, BullyMsg::Election);
            }
            ctx.set_timer(ANSWER, self.t.answer_wait);
        }

        fn win(&mut self, ctx: &mut Ctx<BullyMsg>) {
            self.phase = Phase::Idle;
            self.leader = Some(ctx.me());
            ctx.observe(Observation::Leader(ctx.me()));
            if self.t.broadcast {
                ctx.broadcast(BullyMsg::Coordinator);
            } else {
                for n in ctx.peers().collect::<Vec<_>>() {
                    ctx.send(n, BullyMsg::Coordinator);
                }
            }
            ctx.set_timer(HEARTBEAT, self.t.heartbeat);
        }

        fn adopt(&mut self, ctx: &mut Ctx<BullyMsg>, leader: NodeId) {
            self.phase = Phase::Idle;
            self.leader = Some(leader);
            for t in [HEARTBEAT, ANSWER, COORDINATOR] {
                ctx.cancel_timer(t);
            }
            ctx.observe(Observation::Leader(leader));
            ctx.set_timer(WATCHDOG, self.t.silence);
        }
    }

    impl Process<BullyMsg> for Bully {
        fn on_start(&mut self, ctx: &mut Ctx<BullyMsg>) {
            self.elect(ctx);
        }

        fn on_message(&mut self, ctx: &mut Ctx<BullyMsg>, from: NodeId, msg: BullyMsg) {
            let me = ctx.me();
            match msg {
                BullyMsg::Election if from < me => {
                    ctx.send(from, BullyMsg::Answer);
                    if self.phase == Phase::Idle {
                        self.elect(ctx);
                    }
                }
                BullyMsg::Answer if self.phase == Phase::Electing => {
                    ctx.cancel_timer(ANSWER);
                    self.phase = Phase::Waiting;
                    ctx.set_timer(COORDINATOR, self.t.coordinator_wait);
                }
                BullyMsg::Coordinator if from > me => self.adopt(ctx, from),
                // A lower node claims to lead: bully it.
                BullyMsg::Coordinator if self.phase == Phase::Idle => self.elect(ctx),
                BullyMsg::Alive if Some(from) == self.leader => ctx.set_timer(WATCHDOG, self.t.silence),
                // A higher coordinator we did not know of (a healed partition).
                BullyMsg::Alive if from > me && self.leader.is_none_or(|l| from > l) => self.adopt(ctx, from),
                _ => {}
            }
        }

        fn on_timer(&mut self, ctx: &mut Ctx<BullyMsg>, timer: TimerTag) {
            match timer {
                HEARTBEAT => {
                    ctx.broadcast(BullyMsg::Alive);
                    ctx.set_timer(HEARTBEAT, self.t.heartbeat);
                }
                ANSWER => self.win(ctx),
                WATCHDOG | COORDINATOR => self.elect(ctx),
                _ => {}
            }
        }
    }

    pub fn factory() -> Box<NodeFactory<BullyMsg>> {
        factory_with(TIMING)
    }

    pub fn factory_with(t: Timing) -> Box<NodeFactory<BullyMsg>> {
        Box::new(move |_| Box::new(Bully::new(t)))
    }
}

pub mod ring {
    use std::collections::BTreeMap;

    use distlab::catalogue::ring::*;
    use distlab::process::NodeFactory;
    use distlab::*;

    #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
    pub struct Timing {
        pub heartbeat: Time,
        pub silence: Time,
        pub ack_wait: Time,
        /// Per node on the ring.
        pub round_wait: Time,
    }

    pub const TIMING: Timing = Timing { heartbeat: ms(20), silence: ms(50), ack_wait: ms(12), round_wait: ms(25) };

    /// A ring message without its hop tag.
    #[derive(Clone, Debug, Hash, PartialEq, Eq)]
    enum Hop {
        Election(Vec<NodeId>),
        Coordinator(NodeId, Vec<NodeId>),
    }

    #[derive(Clone, Debug, Hash)]
    pub struct Ring {
        t: Timing,
        leader: Option<NodeId>,
        started: bool,
        joined: bool,
        next_tag: u64,
        /// Unacked hops: tag -> (successor tried, message).
        pending: BTreeMap<u64, (NodeId, Hop)>,
    }

    const HEARTBEAT: TimerTag = 1;
    const WATCHDOG: TimerTag = 2;
    const ROUND: TimerTag = 3;
    /// Ack timers are `ACK + tag`.
    const ACK: TimerTag = 1_000;

    impl Ring {
        pub fn new(t: Timing) -> Self {
            Ring { t, leader: None, started: false, joined: false, next_tag: 0, pending: BTreeMap::new() }
        }

        /// Sends `hop` to the first successor after `after`; back to us if
        /// everyone else is dead.
        fn pass_on(&mut self, ctx: &mut Ctx<RingMsg>, hop: Hop, after: NodeId) {
            let to = (after + 1) % ctx.nodes();
            if to == ctx.me() {
                return self.receive(ctx, hop);
            }
            let tag = self.next_tag;
            self.next_tag += 1;
            ctx.send(
                to,
                match hop.clone() {
                    Hop::Election(ids) => RingMsg::Election { tag, ids },
                    Hop::Coordinator(leader, ids) => RingMsg::Coordinator { tag, leader, ids },
                },
            );
            self.pending.insert(tag, (to, hop));
            ctx.set_timer(ACK + tag, self.t.ack_wait);
        }

        fn round_timer(&self, ctx: &mut Ctx<RingMsg>) {
            ctx.cancel_timer(WATCHDOG);
            ctx.set_timer(ROUND, self.t.round_wait * ctx.nodes() as Time);
        }

        fn start(&mut self, ctx: &mut Ctx<RingMsg>) {
            let me = ctx.me();
            self.started = true;
            // Our own election outranks lower ones we were still passing on.
            self.pending.retain(|_, (_, hop)| !matches!(hop, Hop::Election(ids) if ids[0] < me));
            self.round_timer(ctx);
            self.pass_on(ctx, Hop::Election(vec![me]), me);
        }

        fn adopt(&mut self, ctx: &mut Ctx<RingMsg>, leader: NodeId) {
            self.leader = Some(leader);
            self.started = false;
            self.joined = false;
            ctx.cancel_timer(ROUND);
            ctx.observe(Observation::Leader(leader));
            if leader == ctx.me() {
                ctx.cancel_timer(WATCHDOG);
                ctx.set_timer(HEARTBEAT, self.t.heartbeat);
            } else {
                ctx.cancel_timer(HEARTBEAT);
                ctx.set_timer(WATCHDOG, self.t.silence);
            }
        }

        fn receive(&mut self, ctx: &mut Ctx<RingMsg>, hop: Hop) {
            let me = ctx.me();
            match hop {
                Hop::Election(ids) if ids[0] == me => {
                    let winner = ids.iter().copied().max().unwrap_or(me);
                    self.adopt(ctx, winner);
                    self.pass_on(ctx, Hop::Coordinator(winner, vec![me]), me);
                }
                Hop::Election(ids) if ids.contains(&me) => {}
                Hop::Election(ids) if self.started && ids[0] < me => {}
                Hop::Election(mut ids) => {
                    ids.push(me);
                    self.joined = true;
                    self.round_timer(ctx);
                    self.pass_on(ctx, Hop::Election(ids), me);
                }
                Hop::Coordinator(_, ids) if ids.contains(&me) => {}
                // It went round without us: we are higher, so elect again.
                Hop::Coordinator(leader, _) if leader < me => {
                    if !self.started {
                        self.start(ctx);
                    }
                }
                Hop::Coordinator(leader, mut ids) => {
                    self.adopt(ctx, leader);
                    ids.push(me);
                    self.pass_on(ctx, Hop::Coordinator(leader, ids), me);
                }
            }
        }
    }

    impl Process<RingMsg> for Ring {
        fn on_start(&mut self, ctx: &mut Ctx<RingMsg>) {
            self.start(ctx);
        }

        fn on_message(&mut self, ctx: &mut Ctx<RingMsg>, from: NodeId, msg: RingMsg) {
            match msg {
                RingMsg::Election { tag, ids } => {
                    ctx.send(from, RingMsg::Ack { tag });
                    self.receive(ctx, Hop::Election(ids));
                }
                RingMsg::Coordinator { tag, leader, ids } => {
                    ctx.send(from, RingMsg::Ack { tag });
                    self.receive(ctx, Hop::Coordinator(leader, ids));
                }
                RingMsg::Ack { tag } => {
                    if self.pending.get(&tag).is_some_and(|(to, _)| *to == from) {
                        self.pending.remove(&tag);
                        ctx.cancel_timer(ACK + tag);
                    }
                }
                RingMsg::Alive if Some(from) == self.leader => ctx.set_timer(WATCHDOG, self.t.silence),
                RingMsg::Alive => {
                    if !self.started && !self.joined && self.leader.is_none_or(|l| from > l) {
                        self.start(ctx);
                    }
                }
            }
        }

        fn on_timer(&mut self, ctx: &mut Ctx<RingMsg>, timer: TimerTag) {
            match timer {
                HEARTBEAT => {
                    ctx.broadcast(RingMsg::Alive);
                    ctx.set_timer(HEARTBEAT, self.t.heartbeat);
                }
                WATCHDOG | ROUND => self.start(ctx),
                t if t >= ACK => {
                    if let Some((to, hop)) = self.pending.remove(&(t - ACK)) {
                        self.pass_on(ctx, hop, to);
                    }
                }
                _ => {}
            }
        }
    }

    pub fn factory() -> Box<NodeFactory<RingMsg>> {
        factory_with(TIMING)
    }

    pub fn factory_with(t: Timing) -> Box<NodeFactory<RingMsg>> {
        Box::new(move |_| Box::new(Ring::new(t)))
    }
}
