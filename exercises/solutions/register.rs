use distlab::catalogue::register::{first_op, operation, replicas, Op, RegisterMsg, Version, CLIENTS, INITIAL, OPS, THINK};
use distlab::{Ctx, NodeId, Observation, Process, TimerTag};

// BEGIN SOLUTION
use std::collections::BTreeMap;

use distlab::catalogue::register::MAX_DELAY;
use distlab::ms;

const NEXT_OP: TimerTag = 1; // client: time to start the next operation
const RESEND: TimerTag = 2; // client: ask the replicas that have not answered again
const HELD: &str = "version and value"; // replica: survives a crash

/// (NR, NW) for n replicas: the smallest majority for writes, and the
/// smallest read quorum that meets every write quorum.
fn quorums(n: usize) -> (usize, usize) {
    let nw = n / 2 + 1;
    (n + 1 - nw, nw)
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, Default)]
enum Phase {
    #[default]
    Idle,
    /// Collecting versions: a read, or the first half of a write.
    Querying,
    /// Storing this version: the second half of a write.
    Storing(Version),
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

#[derive(Clone, Debug, Hash, Default)]
struct Register {
    // BEGIN SOLUTION
    /// Replica: the newest version seen and its value.
    version: Version,
    value: i64,
    /// Client: operations finished, where the current one stands, and the
    /// answers to its current phase, by replica.
    done: u64,
    phase: Phase,
    answers: BTreeMap<NodeId, (Version, i64)>,
    // END SOLUTION
    // BEGIN STARTER
    // END STARTER
}

// BEGIN SOLUTION
impl Register {
    fn client_number(ctx: &Ctx<RegisterMsg>) -> usize {
        ctx.me() - replicas(ctx.nodes())
    }

    /// The operation under way (numbered from 1).
    fn current(&self, ctx: &Ctx<RegisterMsg>) -> (u64, Op) {
        let k = self.done + 1;
        (k, operation(Self::client_number(ctx), k))
    }

    /// Sends this phase's request to every replica that has not answered it yet.
    fn ask_silent_replicas(&mut self, ctx: &mut Ctx<RegisterMsg>) {
        let (op, what) = self.current(ctx);
        let request = match (self.phase, what) {
            (Phase::Storing(version), Op::Write(value)) => RegisterMsg::Store { op, version, value },
            _ => RegisterMsg::Query { op },
        };
        for replica in (0..replicas(ctx.nodes())).filter(|r| !self.answers.contains_key(r)) {
            ctx.send(replica, request.clone());
        }
        // A reply comes within two message delays, or it was lost.
        ctx.set_timer(RESEND, 2 * MAX_DELAY + ms(1));
    }

    fn enter(&mut self, ctx: &mut Ctx<RegisterMsg>, phase: Phase) {
        self.phase = phase;
        self.answers.clear();
        self.ask_silent_replicas(ctx);
    }

    fn finish(&mut self, ctx: &mut Ctx<RegisterMsg>, result: Observation) {
        ctx.observe(result);
        ctx.cancel_timer(RESEND);
        self.phase = Phase::Idle;
        self.done += 1;
        if self.done < OPS {
            ctx.set_timer(NEXT_OP, THINK);
        }
    }

    fn on_answer(&mut self, ctx: &mut Ctx<RegisterMsg>, from: NodeId, msg: RegisterMsg) {
        let (nr, nw) = quorums(replicas(ctx.nodes()));
        let (k, what) = self.current(ctx);
        match (msg, self.phase) {
            (RegisterMsg::Reply { op, version, value }, Phase::Querying) if op == k => {
                self.answers.insert(from, (version, value));
                if self.answers.len() < nr {
                    return;
                }
                let (newest, value) = self.answers.values().copied().max().expect("a quorum of answers");
                match what {
                    Op::Read => self.finish(ctx, Observation::Read { value }),
                    Op::Write(_) => {
                        let version = Version { counter: newest.counter + 1, writer: ctx.me() };
                        self.enter(ctx, Phase::Storing(version));
                    }
                }
            }
            (RegisterMsg::Stored { op }, Phase::Storing(_)) if op == k => {
                self.answers.insert(from, (Version::default(), INITIAL));
                if let (true, Op::Write(value)) = (self.answers.len() >= nw, what) {
                    self.finish(ctx, Observation::Write { value });
                }
            }
            _ => {} // an answer to an earlier phase or operation
        }
    }
}
// END SOLUTION
// BEGIN STARTER
// END STARTER

impl Process<RegisterMsg> for Register {
    fn on_start(&mut self, ctx: &mut Ctx<RegisterMsg>) {
        // BEGIN SOLUTION
        if ctx.me() < replicas(ctx.nodes()) {
            self.value = INITIAL;
        } else if Self::client_number(ctx) < CLIENTS {
            ctx.set_timer(NEXT_OP, first_op(Self::client_number(ctx)));
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, first_op(0), operation(0, 1), replicas(CLIENTS + 1), Op::Read, Version::default(), INITIAL, OPS, THINK);
        // END STARTER
    }

    fn on_message(&mut self, ctx: &mut Ctx<RegisterMsg>, from: NodeId, msg: RegisterMsg) {
        // BEGIN SOLUTION
        match msg {
            RegisterMsg::Query { op } => {
                ctx.send(from, RegisterMsg::Reply { op, version: self.version, value: self.value });
            }
            RegisterMsg::Store { op, version, value } => {
                if version > self.version {
                    (self.version, self.value) = (version, value);
                    ctx.persist(HELD, &(version, value));
                }
                ctx.send(from, RegisterMsg::Stored { op }); // stored, or held something newer
            }
            answer => self.on_answer(ctx, from, answer),
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, from, msg, Observation::Read { value: 0 });
        // END STARTER
    }

    fn on_timer(&mut self, ctx: &mut Ctx<RegisterMsg>, timer: TimerTag) {
        // BEGIN SOLUTION
        match timer {
            NEXT_OP => self.enter(ctx, Phase::Querying),
            _ if self.phase != Phase::Idle => self.ask_silent_replicas(ctx),
            _ => {}
        }
        // END SOLUTION
        // BEGIN STARTER
        // let _ = (ctx, timer);
        // END STARTER
    }

    fn on_recover(&mut self, ctx: &mut Ctx<RegisterMsg>) {
        self.on_start(ctx);
        // BEGIN SOLUTION
        if let Some((version, value)) = ctx.recall(HELD) {
            (self.version, self.value) = (version, value);
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER
    }
}

fn register_node(_id: NodeId) -> Box<dyn Process<RegisterMsg>> {
    Box::new(Register::default())
}
