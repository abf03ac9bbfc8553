//! Student nodes in another process: the grader's trust boundary.
//!
//! The grader runs the simulator, the monitors and the hidden scenarios
//! itself. Only the student's node code runs in the sandbox, in a *node
//! host* that answers one JSON line per request: "make node 3", "run this
//! input on node 3 with this clock and durable store", "copy", "fingerprint".
//! On the grader's side a [`RemoteNode`] is an ordinary `Process`, so the
//! exercise's own `check` judges it with no change: the trace is made by
//! trusted code and can't be forged, and no scenario enters the sandbox.
//!
//! In the grader every node lives in a process of its own (see `isolate`):
//! nodes share nothing but the messages the simulator carries.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::marker::PhantomData;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::guard::call_guarded;
use crate::process::{Action, Ctx, Durable, Message, NodeFactory, Process, TimerTag};
use crate::world::Input;
use crate::{NodeId, Time};

#[cfg(target_os = "linux")]
mod isolate;

/// The longest reply line the grader reads (one handler call's actions and
/// observations): a host that floods its output is cut off rather than
/// filling the grader's memory.
pub const MAX_LINE: usize = 128 << 10;

/// Longest panic message a host passes on; the rest is cut.
pub const MAX_PANIC_MESSAGE: usize = 4 << 10;

/// What one host may send in all (bytes of replies): bounds the grader's
/// memory and time whatever the host answers.
pub const MAX_TOTAL_BYTES: u64 = 48 << 20;

/// How many replies one host may give in all: bounds the events of every
/// trace the grader keeps.
pub const MAX_REPLIES: u64 = 400_000;

/// After this many nodes did not answer in time, the host is given up.
pub const MAX_TIMEOUTS: u32 = 3;

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", bound = "M: Message")]
enum Request<M> {
    /// Make node `node` in slot `slot` (slots are numbered by the grader).
    Spawn {
        node: NodeId,
        slot: u64,
    },
    Handle {
        slot: u64,
        nodes: usize,
        clock: Time,
        durable: Durable,
        input: Input<M>,
    },
    /// Copy the node in `slot` into the new slot `into` (the explorer).
    Copy {
        slot: u64,
        into: u64,
    },
    Fingerprint {
        slot: u64,
    },
    Forget {
        slot: u64,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case", bound = "M: Message")]
enum Reply<M> {
    /// The node (or its copy) is in its slot.
    Ready,
    Handled {
        durable: Durable,
        actions: Vec<Action<M>>,
    },
    Panicked {
        message: String,
    },
    /// The node did not answer in time (isolated hosts only).
    TimedOut {
        message: String,
    },
    Fingerprint {
        hash: u64,
    },
}

/// The sandbox side, all nodes in this process: serves requests from
/// `input` until it closes. Tests use it in a thread; in the grader each
/// node gets a process of its own (`serve_stdio`).
pub fn serve<M: Message>(factory: &NodeFactory<M>, input: impl Read, mut output: impl Write) -> std::io::Result<()> {
    let mut slots: BTreeMap<u64, (NodeId, Box<dyn Process<M>>)> = BTreeMap::new();
    for line in BufReader::new(input).lines() {
        let line = line?;
        let request: Request<M> = serde_json::from_str(&line)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad request: {e}")))?;
        let reply = match request {
            Request::Spawn { node, slot } => match call_guarded(|| factory(node)) {
                Ok(process) => {
                    slots.insert(slot, (node, process));
                    Reply::Ready
                }
                Err(message) => Reply::Panicked { message: capped(message) },
            },
            Request::Handle { slot, nodes, clock, durable, input } => {
                let (node, process) = slots.get_mut(&slot).ok_or_else(|| unknown(slot))?;
                let mut ctx = Ctx::new(*node, nodes, clock, durable, Vec::new());
                match call_guarded(|| run_handler(process.as_mut(), &mut ctx, input)) {
                    Ok(()) => {
                        let (durable, actions) = ctx.into_parts();
                        Reply::Handled { durable, actions }
                    }
                    Err(message) => Reply::Panicked { message: capped(message) },
                }
            }
            Request::Copy { slot, into } => {
                let (node, process) = slots.get(&slot).ok_or_else(|| unknown(slot))?;
                let (node, copy) = (*node, call_guarded(|| process.clone_node()));
                match copy {
                    Ok(copy) => {
                        slots.insert(into, (node, copy));
                        Reply::Ready
                    }
                    Err(message) => Reply::Panicked { message: capped(message) },
                }
            }
            Request::Fingerprint { slot } => {
                let (_, process) = slots.get(&slot).ok_or_else(|| unknown(slot))?;
                match call_guarded(|| process.fingerprint()) {
                    Ok(hash) => Reply::Fingerprint { hash },
                    Err(message) => Reply::Panicked { message: capped(message) },
                }
            }
            Request::Forget { slot } => {
                slots.remove(&slot);
                continue; // no reply: saves a round trip per dropped copy
            }
        };
        write_reply(&mut output, &reply)?;
    }
    Ok(())
}

fn write_reply<M: Message>(output: &mut impl Write, reply: &Reply<M>) -> std::io::Result<()> {
    serde_json::to_writer(&mut *output, reply)?;
    output.write_all(b"\n")?;
    output.flush()
}

/// A panic message cut to [`MAX_PANIC_MESSAGE`] bytes.
fn capped(mut message: String) -> String {
    if message.len() > MAX_PANIC_MESSAGE {
        let mut end = MAX_PANIC_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str(" [message cut]");
    }
    message
}

/// The flag that makes a node host keep all nodes in one process (the
/// grader uses it only to tell a student that their nodes share memory).
pub const SHARED_PROCESS_FLAG: &str = "--shared-process";

/// The `main` of a submission: serves the student's nodes on stdin and on
/// the protocol's own copy of stdout. Each node gets a process of its own,
/// unless the grader passed [`SHARED_PROCESS_FLAG`].
pub fn serve_stdio<M: Message>(factory: &NodeFactory<M>) {
    let output = protocol_output();
    let shared = std::env::args().skip(1).any(|a| a == SHARED_PROCESS_FLAG);
    #[cfg(target_os = "linux")]
    let result = if shared {
        serve(factory, std::io::stdin().lock(), output)
    } else {
        isolate::serve_isolated(factory, std::io::stdin().lock(), output)
    };
    #[cfg(not(target_os = "linux"))]
    let result = {
        let _ = shared;
        serve(factory, std::io::stdin().lock(), output)
    };
    if let Err(e) = result {
        eprintln!("node host stopped: {e}");
        std::process::exit(3);
    }
}

/// The first line a host writes, before any student code runs: the grader
/// knows from it that the sandbox came up (without it, a failure is the
/// grader's own, not the student's).
pub const HOST_BANNER: &str = "distlab host ready";

/// The protocol's output, the banner already written: this process's
/// stdout as it was at start. Then stdout itself is pointed at /dev/null
/// (where available), so a student's `println!` can't break the protocol.
fn protocol_output() -> Box<dyn Write> {
    let mut output = redirected_stdout();
    let _ = writeln!(output, "{HOST_BANNER}").and_then(|_| output.flush());
    output
}

fn redirected_stdout() -> Box<dyn Write> {
    #[cfg(unix)]
    {
        use std::os::fd::{AsFd, AsRawFd};
        let stdout = std::io::stdout();
        if let Ok(own) = stdout.as_fd().try_clone_to_owned() {
            if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
                // SAFETY: dup2 onto our own stdout; both fds are valid.
                if unsafe { libc::dup2(null.as_raw_fd(), 1) } == 1 {
                    return Box::new(std::io::BufWriter::new(std::fs::File::from(own)));
                }
            }
        }
    }
    Box::new(std::io::stdout())
}

fn unknown(slot: u64) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("no node in slot {slot}"))
}

fn run_handler<M: Message>(process: &mut dyn Process<M>, ctx: &mut Ctx<M>, input: Input<M>) {
    match input {
        Input::Start => process.on_start(ctx),
        Input::Message { from, msg } => process.on_message(ctx, from, msg),
        Input::Timer(tag) => process.on_timer(ctx, tag),
        Input::Recover => process.on_recover(ctx),
    }
}

/// The grader's end of a node host's pipes. It bounds what the host can
/// make the grader keep or do: bytes per reply, bytes and replies in all,
/// and nodes that time out.
pub struct Connection {
    reader: BufReader<Box<dyn Read>>,
    writer: Box<dyn Write>,
    /// Set once the host misbehaves; every later call fails the same way.
    broken: Option<String>,
    next_slot: u64,
    received_bytes: u64,
    replies: u64,
    timeouts: u32,
}

impl Connection {
    pub fn new(reader: Box<dyn Read>, writer: Box<dyn Write>) -> Rc<RefCell<Connection>> {
        Rc::new(RefCell::new(Connection {
            reader: BufReader::new(reader),
            writer,
            broken: None,
            next_slot: 0,
            received_bytes: 0,
            replies: 0,
            timeouts: 0,
        }))
    }

    /// Reads the banner a host writes when it starts (`serve_stdio`,
    /// `serve_calls_stdio`); an error says what came instead.
    pub fn expect_banner(&mut self) -> Result<(), String> {
        let mut line = Vec::new();
        match (&mut self.reader).take(256).read_until(b'\n', &mut line) {
            Ok(_) if line.strip_suffix(b"\n") == Some(HOST_BANNER.as_bytes()) => Ok(()),
            Ok(0) => Err(self.fail("the host ended before it started serving".into())),
            Ok(_) => Err(self.fail(format!("the host started with {:?}", String::from_utf8_lossy(&line)))),
            Err(e) => Err(self.fail(format!("the host's start could not be read ({e})"))),
        }
    }

    /// Bytes and replies received so far (for tests and benchmarks).
    pub fn received(&self) -> (u64, u64) {
        (self.received_bytes, self.replies)
    }

    fn new_slot(&mut self) -> u64 {
        self.next_slot += 1;
        self.next_slot
    }

    fn send<M: Message>(&mut self, request: &Request<M>) -> Result<(), String> {
        self.send_line(serde_json::to_vec(request).expect("requests serialize"))
    }

    fn send_line(&mut self, mut line: Vec<u8>) -> Result<(), String> {
        if let Some(why) = &self.broken {
            return Err(why.clone());
        }
        line.push(b'\n');
        self.writer
            .write_all(&line)
            .and_then(|_| self.writer.flush())
            .map_err(|e| self.fail(format!("the host stopped reading ({e})")))
    }

    fn call<M: Message>(&mut self, request: &Request<M>) -> Result<Reply<M>, String> {
        self.send(request)?;
        let reply = self.read_reply()?;
        if let Reply::TimedOut { message } = &reply {
            self.timeouts += 1;
            if self.timeouts >= MAX_TIMEOUTS {
                let why =
                    format!("{message} This happened {MAX_TIMEOUTS} times, so the remaining runs were not played.");
                self.fail(why);
            }
        }
        Ok(reply)
    }

    fn read_reply<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, String> {
        let mut line = Vec::new();
        let read = (&mut self.reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line);
        match read {
            Ok(0) => Err(self.fail("the host stopped answering (it exited, hit a limit or took too long)".into())),
            Err(e) => Err(self.fail(format!("the host's answer could not be read ({e})"))),
            Ok(n) if n > MAX_LINE => Err(self.fail(format!(
                "a node answered one call with more than {} KiB of actions and observations",
                MAX_LINE >> 10
            ))),
            Ok(n) => {
                self.received_bytes += n as u64;
                self.replies += 1;
                if self.received_bytes > MAX_TOTAL_BYTES || self.replies > MAX_REPLIES {
                    return Err(self.fail(format!(
                        "the nodes sent more than the grader keeps for one submission ({} MiB or {} handler calls \
                         in all); the remaining runs were not played",
                        MAX_TOTAL_BYTES >> 20,
                        MAX_REPLIES
                    )));
                }
                serde_json::from_slice(&line).map_err(|e| self.fail(format!("the host broke the protocol: {e}")))
            }
        }
    }

    fn fail(&mut self, why: String) -> String {
        self.broken = Some(why.clone());
        why
    }
}

/// A node that lives in a node host. A protocol failure or a panic in the
/// host surfaces as a panic here, which the simulator records as a failed
/// node, exactly as for a local node.
pub struct RemoteNode<M: Message> {
    connection: Rc<RefCell<Connection>>,
    slot: u64,
    node: NodeId,
    _messages: PhantomData<M>,
}

impl<M: Message> RemoteNode<M> {
    pub fn spawn(connection: &Rc<RefCell<Connection>>, node: NodeId) -> Self {
        let slot = connection.borrow_mut().new_slot();
        let reply = connection.borrow_mut().call::<M>(&Request::Spawn { node, slot });
        expect_ready(reply);
        RemoteNode { slot, connection: Rc::clone(connection), node, _messages: PhantomData }
    }

    /// A factory that makes every node in the host behind `connection`.
    pub fn factory(connection: Rc<RefCell<Connection>>) -> Box<NodeFactory<M>> {
        Box::new(move |node| Box::new(RemoteNode::<M>::spawn(&connection, node)))
    }

    fn handle(&mut self, ctx: &mut Ctx<M>, input: Input<M>) {
        let request = Request::Handle {
            slot: self.slot,
            nodes: ctx.nodes(),
            clock: ctx.now(),
            durable: ctx.durable().clone(),
            input,
        };
        let reply = self.connection.borrow_mut().call(&request);
        match reply {
            Ok(Reply::Handled { durable, actions }) => ctx.take_over(durable, actions),
            other => node_failed(other),
        }
    }
}

/// A reply that is not the one asked for: the node failed, say why.
fn node_failed<M>(reply: Result<Reply<M>, String>) -> ! {
    match reply {
        Ok(Reply::Panicked { message }) | Ok(Reply::TimedOut { message }) => panic!("{message}"),
        Ok(_) => panic!("the node host answered out of turn"),
        Err(why) => panic!("{why}"),
    }
}

fn expect_ready<M>(reply: Result<Reply<M>, String>) {
    match reply {
        Ok(Reply::Ready) => {}
        other => node_failed(other),
    }
}

impl<M: Message> Clone for RemoteNode<M> {
    fn clone(&self) -> Self {
        let into = self.connection.borrow_mut().new_slot();
        let reply = self.connection.borrow_mut().call::<M>(&Request::Copy { slot: self.slot, into });
        expect_ready(reply);
        RemoteNode { slot: into, connection: Rc::clone(&self.connection), node: self.node, _messages: PhantomData }
    }
}

impl<M: Message> Hash for RemoteNode<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let reply = self.connection.borrow_mut().call::<M>(&Request::Fingerprint { slot: self.slot });
        match reply {
            Ok(Reply::Fingerprint { hash }) => state.write_u64(hash),
            other => node_failed(other),
        }
    }
}

impl<M: Message> Drop for RemoteNode<M> {
    fn drop(&mut self) {
        // try_borrow_mut: a drop during a panic raised inside a call must
        // not panic again.
        if let Ok(mut connection) = self.connection.try_borrow_mut() {
            let _ = connection.send::<M>(&Request::Forget { slot: self.slot });
        }
    }
}

impl<M: Message> fmt::Debug for RemoteNode<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteNode(node {}, slot {})", self.node, self.slot)
    }
}

impl<M: Message> Process<M> for RemoteNode<M> {
    fn on_start(&mut self, ctx: &mut Ctx<M>) {
        self.handle(ctx, Input::Start)
    }
    fn on_message(&mut self, ctx: &mut Ctx<M>, from: NodeId, msg: M) {
        self.handle(ctx, Input::Message { from, msg })
    }
    fn on_timer(&mut self, ctx: &mut Ctx<M>, timer: TimerTag) {
        self.handle(ctx, Input::Timer(timer))
    }
    fn on_recover(&mut self, ctx: &mut Ctx<M>) {
        self.handle(ctx, Input::Recover)
    }
}

// ---------------------------------------------------------------------------
// Function hosts: numeric exercises, where the student writes functions
// rather than nodes. The host answers one call per line; the grader's own
// `check` calls the functions through `remote_fn` and judges the answers.

#[derive(Serialize, Deserialize)]
struct CallRequest {
    call: String,
    args: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
enum CallReply {
    Value { value: serde_json::Value },
    Panicked { message: String },
}

/// What a function host answers a call with: the function's result, or why
/// the call was not understood (unknown function, wrong arguments).
pub type Answer = Result<serde_json::Value, String>;

/// Decodes `args` as `A`, calls `f`, encodes the result: the one step every
/// function host's dispatcher takes per function.
pub fn answer<A: serde::de::DeserializeOwned, R: Serialize>(args: serde_json::Value, f: impl FnOnce(A) -> R) -> Answer {
    let args: A = serde_json::from_value(args).map_err(|e| format!("bad arguments: {e}"))?;
    serde_json::to_value(f(args)).map_err(|e| format!("the result does not encode: {e}"))
}

/// The sandbox side of a function host: serves calls from `input` until it
/// closes. `dispatch` maps a function name and its arguments to an answer.
pub fn serve_calls(
    dispatch: &dyn Fn(&str, serde_json::Value) -> Answer,
    input: impl Read,
    mut output: impl Write,
) -> std::io::Result<()> {
    for line in BufReader::new(input).lines() {
        let request: CallRequest = serde_json::from_str(&line?)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad request: {e}")))?;
        let reply = match call_guarded(|| dispatch(&request.call, request.args)) {
            Ok(Ok(value)) => CallReply::Value { value },
            Ok(Err(why)) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, why)),
            Err(message) => CallReply::Panicked { message: capped(message) },
        };
        serde_json::to_writer(&mut output, &reply)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}

/// `serve_calls` on this process's stdin and stdout.
pub fn serve_calls_stdio(dispatch: &dyn Fn(&str, serde_json::Value) -> Answer) {
    #[cfg(target_os = "linux")]
    isolate::forbid_new_processes();
    if let Err(e) = serve_calls(dispatch, std::io::stdin().lock(), protocol_output()) {
        eprintln!("function host stopped: {e}");
        std::process::exit(3);
    }
}

/// The grader's end of one function in a function host. A panic in the
/// host, or a host that misbehaves, panics here with the reason, so the
/// exercise's `check` reports it exactly as a panic of a local function.
pub fn remote_fn<A: Serialize, R: serde::de::DeserializeOwned>(
    connection: &Rc<RefCell<Connection>>,
    name: &'static str,
) -> impl Fn(A) -> R {
    let connection = Rc::clone(connection);
    move |args: A| {
        let request =
            CallRequest { call: name.to_owned(), args: serde_json::to_value(args).expect("arguments encode") };
        let mut connection = connection.borrow_mut();
        let reply = connection
            .send_line(serde_json::to_vec(&request).expect("requests encode"))
            .and_then(|_| connection.read_reply::<CallReply>());
        let value = match reply {
            Ok(CallReply::Value { value }) => value,
            Ok(CallReply::Panicked { message }) => panic!("{message}"),
            Err(why) => panic!("{why}"),
        };
        match serde_json::from_value(value) {
            Ok(result) => result,
            Err(e) => {
                let why = connection.fail(format!("the host broke the protocol: {e}"));
                drop(connection);
                panic!("{why}")
            }
        }
    }
}
