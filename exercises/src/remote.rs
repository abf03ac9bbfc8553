//! Student nodes in another process: the grader's trust boundary.
//!
//! The grader runs the simulator, the monitors and the hidden scenarios
//! itself. Only the student's node code runs in the sandbox, in a *node
//! host* that answers one JSON line per request: "make node 3", "run this
//! input on node 3 with this clock and durable store", "copy", "fingerprint".
//! On the grader's side a [`RemoteNode`] is an ordinary `Process`, so the
//! exercise's own `check` judges it with no change: the trace is made by
//! trusted code and can't be forged, and no scenario enters the sandbox.

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

/// The longest reply line the grader reads: a host that floods its output
/// is cut off rather than filling memory.
pub const MAX_LINE: usize = 8 << 20;

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", bound = "M: Message")]
enum Request<M> {
    Spawn { node: NodeId },
    Handle { slot: u64, nodes: usize, clock: Time, durable: Durable, input: Input<M> },
    Copy { slot: u64 },
    Fingerprint { slot: u64 },
    Forget { slot: u64 },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case", bound = "M: Message")]
enum Reply<M> {
    Slot { slot: u64 },
    Handled { durable: Durable, actions: Vec<Action<M>> },
    Panicked { message: String },
    Fingerprint { hash: u64 },
    Done,
}

/// The sandbox side: serves requests from `input` until it closes. Each
/// exercise wraps this in a non-generic `host` function for its messages.
pub fn serve<M: Message>(factory: &NodeFactory<M>, input: impl Read, mut output: impl Write) -> std::io::Result<()> {
    let mut slots: BTreeMap<u64, (NodeId, Box<dyn Process<M>>)> = BTreeMap::new();
    let mut next_slot = 0u64;
    for line in BufReader::new(input).lines() {
        let line = line?;
        let request: Request<M> = serde_json::from_str(&line)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad request: {e}")))?;
        let reply = match request {
            Request::Spawn { node } => match call_guarded(|| factory(node)) {
                Ok(process) => {
                    next_slot += 1;
                    slots.insert(next_slot, (node, process));
                    Reply::Slot { slot: next_slot }
                }
                Err(message) => Reply::Panicked { message },
            },
            Request::Handle { slot, nodes, clock, durable, input } => {
                let (node, process) = slots.get_mut(&slot).ok_or_else(|| unknown(slot))?;
                let mut ctx = Ctx::new(*node, nodes, clock, durable, Vec::new());
                match call_guarded(|| run_handler(process.as_mut(), &mut ctx, input)) {
                    Ok(()) => {
                        let (durable, actions) = ctx.into_parts();
                        Reply::Handled { durable, actions }
                    }
                    Err(message) => Reply::Panicked { message },
                }
            }
            Request::Copy { slot } => {
                let (node, process) = slots.get(&slot).ok_or_else(|| unknown(slot))?;
                let copy = (*node, process.clone_node());
                next_slot += 1;
                slots.insert(next_slot, copy);
                Reply::Slot { slot: next_slot }
            }
            Request::Fingerprint { slot } => {
                let (_, process) = slots.get(&slot).ok_or_else(|| unknown(slot))?;
                Reply::Fingerprint { hash: process.fingerprint() }
            }
            Request::Forget { slot } => {
                slots.remove(&slot);
                continue; // no reply: saves a round trip per dropped copy
            }
        };
        serde_json::to_writer(&mut output, &reply)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}

/// `serve` on this process's stdin and stdout.
pub fn serve_stdio<M: Message>(factory: &NodeFactory<M>) {
    let stdout = std::io::stdout();
    if let Err(e) = serve(factory, std::io::stdin().lock(), stdout.lock()) {
        eprintln!("node host stopped: {e}");
        std::process::exit(3);
    }
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

/// The grader's end of a node host's pipes.
pub struct Connection {
    reader: BufReader<Box<dyn Read>>,
    writer: Box<dyn Write>,
    /// Set once the host misbehaves; every later call fails the same way.
    broken: Option<String>,
}

impl Connection {
    pub fn new(reader: Box<dyn Read>, writer: Box<dyn Write>) -> Rc<RefCell<Connection>> {
        Rc::new(RefCell::new(Connection { reader: BufReader::new(reader), writer, broken: None }))
    }

    fn send<M: Message>(&mut self, request: &Request<M>) -> Result<(), String> {
        self.send_line(serde_json::to_vec(request).expect("requests serialize"))
    }

    fn send_line(&mut self, mut line: Vec<u8>) -> Result<(), String> {
        if let Some(why) = &self.broken {
            return Err(why.clone());
        }
        line.push(b'\n');
        self.writer.write_all(&line).and_then(|_| self.writer.flush()).map_err(|e| self.fail(format!("the host stopped reading ({e})")))
    }

    fn call<M: Message>(&mut self, request: &Request<M>) -> Result<Reply<M>, String> {
        self.send(request)?;
        self.read_reply()
    }

    fn read_reply<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, String> {
        let mut line = Vec::new();
        let read = (&mut self.reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line);
        match read {
            Ok(0) => Err(self.fail("the host stopped answering (it exited or hit a limit)".into())),
            Err(e) => Err(self.fail(format!("the host's answer could not be read ({e})"))),
            Ok(n) if n > MAX_LINE => Err(self.fail(format!("the host answered with more than {MAX_LINE} bytes"))),
            Ok(_) => serde_json::from_slice(&line)
                .map_err(|e| self.fail(format!("the host broke the protocol: {e} (did the program print to stdout?)"))),
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
        let reply = connection.borrow_mut().call::<M>(&Request::Spawn { node });
        RemoteNode { slot: expect_slot(reply), connection: Rc::clone(connection), node, _messages: PhantomData }
    }

    /// A factory that makes every node in the host behind `connection`.
    pub fn factory(connection: Rc<RefCell<Connection>>) -> Box<NodeFactory<M>> {
        Box::new(move |node| Box::new(RemoteNode::<M>::spawn(&connection, node)))
    }

    fn handle(&mut self, ctx: &mut Ctx<M>, input: Input<M>) {
        let request =
            Request::Handle { slot: self.slot, nodes: ctx.nodes(), clock: ctx.now(), durable: ctx.durable().clone(), input };
        match self.connection.borrow_mut().call(&request) {
            Ok(Reply::Handled { durable, actions }) => ctx.take_over(durable, actions),
            Ok(Reply::Panicked { message }) => panic!("{message}"),
            Ok(_) => panic!("the node host answered out of turn"),
            Err(why) => panic!("{why}"),
        }
    }
}

fn expect_slot<M>(reply: Result<Reply<M>, String>) -> u64 {
    match reply {
        Ok(Reply::Slot { slot }) => slot,
        Ok(Reply::Panicked { message }) => panic!("{message}"),
        Ok(_) => panic!("the node host answered out of turn"),
        Err(why) => panic!("{why}"),
    }
}

impl<M: Message> Clone for RemoteNode<M> {
    fn clone(&self) -> Self {
        let reply = self.connection.borrow_mut().call::<M>(&Request::Copy { slot: self.slot });
        RemoteNode { slot: expect_slot(reply), connection: Rc::clone(&self.connection), node: self.node, _messages: PhantomData }
    }
}

impl<M: Message> Hash for RemoteNode<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.connection.borrow_mut().call::<M>(&Request::Fingerprint { slot: self.slot }) {
            Ok(Reply::Fingerprint { hash }) => state.write_u64(hash),
            Ok(_) => panic!("the node host answered out of turn"),
            Err(why) => panic!("{why}"),
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
pub fn serve_calls(dispatch: &dyn Fn(&str, serde_json::Value) -> Answer, input: impl Read, mut output: impl Write) -> std::io::Result<()> {
    for line in BufReader::new(input).lines() {
        let request: CallRequest = serde_json::from_str(&line?)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad request: {e}")))?;
        let reply = match call_guarded(|| dispatch(&request.call, request.args)) {
            Ok(Ok(value)) => CallReply::Value { value },
            Ok(Err(why)) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, why)),
            Err(message) => CallReply::Panicked { message },
        };
        serde_json::to_writer(&mut output, &reply)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}

/// `serve_calls` on this process's stdin and stdout.
pub fn serve_calls_stdio(dispatch: &dyn Fn(&str, serde_json::Value) -> Answer) {
    let stdout = std::io::stdout();
    if let Err(e) = serve_calls(dispatch, std::io::stdin().lock(), stdout.lock()) {
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
        let request = CallRequest { call: name.to_owned(), args: serde_json::to_value(args).expect("arguments encode") };
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
