//! The protocol side: binds the five sockets and answers requests.
//!
//! * heartbeat (REP): echoes.
//! * iopub (PUB): one task owns it and publishes messages in queue order, so
//!   a cell's outputs always precede its `idle` status.
//! * shell (ROUTER): requests are handled one at a time, in order.
//! * control (ROUTER): its own task, so interrupt and shutdown work while a
//!   cell runs.
//! * stdin (ROUTER): input_request for `evcxr_input` during a cell.

use crate::analysis::{self, Completeness};
use crate::connection::{ConnectionInfo, Signer};
use crate::engine::{EngineHandle, ExecEvent, ExecResult, InputFn, Request};
use crate::history::{self, History, Query};
use crate::messages::{Message, PROTOCOL_VERSION};
use crate::spare::Lifeline;
use crate::workdir::WorkDir;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, Notify};
use zeromq::{PubSocket, RepSocket, RouterSocket, Socket, SocketRecv, SocketSend};

struct Shared {
    signer: Signer,
    session: String,
    iopub: mpsc::UnboundedSender<Message>,
    engine: EngineHandle,
    history: Mutex<History>,
    execution_count: Mutex<u32>,
    shutdown: Notify,
    stdin: mpsc::UnboundedSender<InputAsk>,
    workdir: Mutex<Option<WorkDir>>,
}

/// A request for input from the engine thread, answered on `reply`.
struct InputAsk {
    parent: Message,
    prompt: String,
    password: bool,
    reply: std::sync::mpsc::Sender<Option<String>>,
}

impl Shared {
    fn publish(&self, parent: &Message, msg_type: &str, content: Value) {
        let _ = self.iopub.send(Message::child(parent, &self.session, msg_type, content));
    }

    fn status(&self, parent: &Message, state: &str) {
        self.publish(parent, "status", json!({ "execution_state": state }));
    }

    fn reply(&self, parent: &Message, msg_type: &str, content: Value) -> Message {
        Message::child(parent, &self.session, msg_type, content)
    }
}

/// Serve Jupyter on `conn` with a started engine. A kernel that a spare
/// became (see `spare`) also ends when its launcher does: `lifeline`.
pub async fn run(
    conn: ConnectionInfo,
    engine: EngineHandle,
    workdir: WorkDir,
    lifeline: Option<Lifeline>,
) -> Result<()> {
    let signer = Signer::new(&conn.key);
    let session = uuid::Uuid::new_v4().to_string();

    let mut shell = RouterSocket::new();
    shell.bind(&conn.endpoint(conn.shell_port)).await.context("binding shell")?;
    let mut control = RouterSocket::new();
    control.bind(&conn.endpoint(conn.control_port)).await.context("binding control")?;
    let mut stdin = RouterSocket::new();
    stdin.bind(&conn.endpoint(conn.stdin_port)).await.context("binding stdin")?;
    let mut iopub = PubSocket::new();
    iopub.bind(&conn.endpoint(conn.iopub_port)).await.context("binding iopub")?;
    let mut hb = RepSocket::new();
    hb.bind(&conn.endpoint(conn.hb_port)).await.context("binding heartbeat")?;
    tracing::info!("sockets bound");
    let lifeline = match lifeline {
        Some(l) => Some(l.announce_running().context("telling the launcher the kernel runs")?),
        None => None,
    };

    tokio::spawn(async move {
        loop {
            match hb.recv().await {
                Ok(m) => {
                    if hb.send(m).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!("heartbeat: {e}");
                    break;
                }
            }
        }
    });

    let (iopub_tx, mut iopub_rx) = mpsc::unbounded_channel::<Message>();
    let iopub_signer = signer.clone();
    tokio::spawn(async move {
        while let Some(msg) = iopub_rx.recv().await {
            let topic = format!("kernel.{}", msg.msg_type());
            if let Err(e) = iopub.send(msg.to_zmq(&iopub_signer, Some(&topic))).await {
                tracing::warn!("iopub send: {e}");
            }
        }
    });

    let (stdin_tx, stdin_rx) = mpsc::unbounded_channel::<InputAsk>();
    let shared = Arc::new(Shared {
        signer: signer.clone(),
        session,
        iopub: iopub_tx,
        engine,
        history: Mutex::new(History::default()),
        execution_count: Mutex::new(0),
        shutdown: Notify::new(),
        stdin: stdin_tx,
        workdir: Mutex::new(Some(workdir)),
    });
    let _ = shared.iopub.send(Message::orphan(&shared.session, "status", json!({"execution_state": "starting"})));

    if let Some(lifeline) = lifeline {
        let shared = shared.clone();
        std::thread::spawn(move || {
            lifeline.wait_until_launcher_ends();
            tracing::info!("the launcher ended: shutting down");
            shared.shutdown.notify_one();
        });
    }
    tokio::spawn(stdin_loop(shared.clone(), stdin, stdin_rx));
    tokio::spawn(control_loop(shared.clone(), control));
    {
        let shared = shared.clone();
        tokio::spawn(async move {
            // SIGINT interrupts the running cell, like interrupt_request.
            while tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("SIGINT");
                shared.engine.interrupt();
            }
        });
    }

    tokio::select! {
        r = shell_loop(shared.clone(), shell) => r?,
        _ = shared.shutdown.notified() => {}
    }
    finish(&shared);
    Ok(())
}

/// Stop the runtime and remove the work dir.
fn finish(shared: &Shared) {
    shared.engine.kill_runtime();
    if let Some(w) = shared.workdir.lock().unwrap().take() {
        drop(w);
    }
}

async fn shell_loop(shared: Arc<Shared>, mut shell: RouterSocket) -> Result<()> {
    // A request taken from the socket while aborting, still to be handled.
    let mut next: Option<Message> = None;
    loop {
        let msg = match next.take() {
            Some(m) => m,
            None => {
                let raw = shell.recv().await.context("shell recv")?;
                match Message::from_zmq(raw, &shared.signer) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!("dropping bad shell message: {e:#}");
                        continue;
                    }
                }
            }
        };
        tracing::debug!(msg_type = msg.msg_type(), "shell");
        shared.status(&msg, "busy");
        let replies = handle_shell(&shared, &msg).await;
        let abort = msg.msg_type() == "execute_request"
            && msg.content["stop_on_error"].as_bool().unwrap_or(true)
            && replies.iter().any(|r| r.content["status"] == "error");
        let failed_at = chrono::Utc::now();
        for r in replies {
            shell.send(r.to_zmq(&shared.signer, None)).await.context("shell send")?;
        }
        shared.status(&msg, "idle");
        if msg.msg_type() == "shutdown_request" {
            shared.shutdown.notify_one();
        }
        if abort {
            next = abort_queued(&shared, &mut shell, failed_at).await?;
        }
    }
}

/// After a failed execute with `stop_on_error`, the executes that were
/// already queued behind it (sent before the client could know of the
/// error: their header date is earlier) are answered `aborted` instead of
/// run, as the protocol asks. Other requests met on the way are handled.
/// Returns the first execute sent after the error, to be run as usual.
async fn abort_queued(
    shared: &Arc<Shared>,
    shell: &mut RouterSocket,
    failed_at: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Message>> {
    loop {
        let raw = match tokio::time::timeout(std::time::Duration::from_millis(50), shell.recv()).await {
            Ok(raw) => raw.context("shell recv")?,
            Err(_) => return Ok(None), // nothing queued
        };
        let msg = match Message::from_zmq(raw, &shared.signer) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("dropping bad shell message: {e:#}");
                continue;
            }
        };
        if msg.msg_type() == "execute_request" {
            let sent =
                chrono::DateTime::parse_from_rfc3339(&msg.header.date).ok().map(|d| d.with_timezone(&chrono::Utc));
            if sent.is_none_or(|d| d >= failed_at) {
                return Ok(Some(msg));
            }
            shared.status(&msg, "busy");
            // No count: the cell never ran, and JupyterLab shows a reply's
            // count as the cell's prompt, as if it had.
            let reply = shared.reply(&msg, "execute_reply", json!({"status": "aborted", "execution_count": null}));
            shell.send(reply.to_zmq(&shared.signer, None)).await.context("shell send")?;
            shared.status(&msg, "idle");
            continue;
        }
        shared.status(&msg, "busy");
        for r in handle_shell(shared, &msg).await {
            shell.send(r.to_zmq(&shared.signer, None)).await.context("shell send")?;
        }
        shared.status(&msg, "idle");
        if msg.msg_type() == "shutdown_request" {
            shared.shutdown.notify_one();
            return Ok(None);
        }
    }
}

async fn control_loop(shared: Arc<Shared>, mut control: RouterSocket) {
    loop {
        let raw = match control.recv().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("control recv: {e}");
                return;
            }
        };
        let msg = match Message::from_zmq(raw, &shared.signer) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("dropping bad control message: {e:#}");
                continue;
            }
        };
        tracing::debug!(msg_type = msg.msg_type(), "control");
        shared.status(&msg, "busy");
        let reply = match msg.msg_type() {
            "kernel_info_request" => Some(kernel_info(&shared, &msg)),
            "shutdown_request" => Some(shutdown_reply(&shared, &msg)),
            "interrupt_request" => {
                shared.engine.interrupt();
                Some(shared.reply(&msg, "interrupt_reply", json!({"status": "ok"})))
            }
            other => {
                let reply_type = other.replace("_request", "_reply");
                other.ends_with("_request").then(|| {
                    shared.reply(
                        &msg,
                        &reply_type,
                        json!({
                            "status": "error", "ename": "NotImplemented",
                            "evalue": format!("{other} is not supported by this kernel"), "traceback": []
                        }),
                    )
                })
            }
        };
        if let Some(r) = reply {
            let _ = control.send(r.to_zmq(&shared.signer, None)).await;
        }
        shared.status(&msg, "idle");
        if msg.msg_type() == "shutdown_request" {
            // Let the reply and status leave before the process ends.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            shared.shutdown.notify_one();
        }
    }
}

async fn stdin_loop(shared: Arc<Shared>, stdin: RouterSocket, mut asks: mpsc::UnboundedReceiver<InputAsk>) {
    let (mut tx, mut rx) = stdin.split();
    while let Some(ask) = asks.recv().await {
        let mut req =
            shared.reply(&ask.parent, "input_request", json!({"prompt": ask.prompt, "password": ask.password}));
        req.identities = ask.parent.identities.clone();
        if tx.send(req.to_zmq(&shared.signer, None)).await.is_err() {
            let _ = ask.reply.send(None);
            continue;
        }
        let answer = loop {
            match rx.recv().await {
                Ok(raw) => match Message::from_zmq(raw, &shared.signer) {
                    Ok(m) if m.msg_type() == "input_reply" => {
                        break m.content["value"].as_str().map(str::to_owned);
                    }
                    _ => continue,
                },
                Err(_) => break None,
            }
        };
        let _ = ask.reply.send(answer);
    }
}

async fn handle_shell(shared: &Arc<Shared>, msg: &Message) -> Vec<Message> {
    let c = &msg.content;
    let reply = match msg.msg_type() {
        "kernel_info_request" => kernel_info(shared, msg),
        "execute_request" => execute(shared, msg).await,
        "complete_request" => complete(shared, msg).await,
        "inspect_request" => inspect(shared, msg).await,
        "is_complete_request" => {
            let code = c["code"].as_str().unwrap_or("");
            let content = match analysis::is_complete(code) {
                Completeness::Complete => json!({"status": "complete"}),
                Completeness::Incomplete(indent) => json!({"status": "incomplete", "indent": indent}),
                Completeness::Invalid => json!({"status": "invalid"}),
            };
            shared.reply(msg, "is_complete_reply", content)
        }
        "history_request" => history_reply(shared, msg),
        "comm_info_request" => shared.reply(msg, "comm_info_reply", json!({"status": "ok", "comms": {}})),
        "comm_open" => {
            // No comm targets here: close it again, as ipykernel does.
            if let Some(id) = c["comm_id"].as_str() {
                shared.publish(msg, "comm_close", json!({"comm_id": id, "data": {}}));
            }
            return Vec::new();
        }
        "comm_msg" | "comm_close" => return Vec::new(),
        "shutdown_request" => shutdown_reply(shared, msg),
        "interrupt_request" => {
            shared.engine.interrupt();
            shared.reply(msg, "interrupt_reply", json!({"status": "ok"}))
        }
        other => {
            tracing::warn!("unsupported shell message {other}");
            if !other.ends_with("_request") {
                return Vec::new();
            }
            shared.reply(
                msg,
                &other.replace("_request", "_reply"),
                json!({
                    "status": "error", "ename": "NotImplemented",
                    "evalue": format!("{other} is not supported by this kernel"), "traceback": []
                }),
            )
        }
    };
    vec![reply]
}

fn rustc_version() -> String {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        std::process::Command::new("rustc")
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.split_whitespace().nth(1).map(str::to_owned))
            .unwrap_or_default()
    })
    .clone()
}

fn kernel_info(shared: &Shared, msg: &Message) -> Message {
    shared.reply(msg, "kernel_info_reply", json!({
        "status": "ok",
        "protocol_version": PROTOCOL_VERSION,
        "implementation": "distlab-kernel",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": {
            "name": "rust",
            "version": rustc_version(),
            "mimetype": "text/rust",
            "file_extension": ".rs",
            "pygments_lexer": "rust",
            "codemirror_mode": "rust",
            "nbconvert_exporter": "rust",
        },
        "banner": format!("distlab kernel {} (Rust, evcxr 0.22.0); the distlab crate is preloaded", env!("CARGO_PKG_VERSION")),
        "debugger": false,
        "help_links": [
            {"text": "Rust standard library", "url": "https://doc.rust-lang.org/std/"},
            {"text": "evcxr commands (:help)", "url": "https://github.com/evcxr/evcxr"}
        ],
    }))
}

fn shutdown_reply(shared: &Shared, msg: &Message) -> Message {
    let restart = msg.content["restart"].as_bool().unwrap_or(false);
    shared.reply(msg, "shutdown_reply", json!({"status": "ok", "restart": restart}))
}

fn history_reply(shared: &Shared, msg: &Message) -> Message {
    let c = &msg.content;
    let with_output = c["output"].as_bool().unwrap_or(false);
    let n = c["n"].as_u64().map(|n| n as usize);
    let query = match c["hist_access_type"].as_str().unwrap_or("tail") {
        "range" => Query::Range {
            session: c["session"].as_i64().unwrap_or(history::SESSION),
            start: c["start"].as_i64().unwrap_or(1),
            stop: c["stop"].as_i64().unwrap_or(0),
        },
        "search" => Query::Search {
            pattern: c["pattern"].as_str().unwrap_or("*").to_owned(),
            n,
            unique: c["unique"].as_bool().unwrap_or(false),
        },
        _ => Query::Tail { n: n.unwrap_or(10) },
    };
    let history = shared.history.lock().unwrap().query(&query, with_output);
    shared.reply(msg, "history_reply", json!({"status": "ok", "history": history}))
}

async fn execute(shared: &Arc<Shared>, msg: &Message) -> Message {
    let c = &msg.content;
    let code = c["code"].as_str().unwrap_or("").to_owned();
    let silent = c["silent"].as_bool().unwrap_or(false);
    let store_history = c["store_history"].as_bool().unwrap_or(!silent) && !silent;
    let allow_stdin = c["allow_stdin"].as_bool().unwrap_or(false);
    let count = {
        let mut n = shared.execution_count.lock().unwrap();
        if store_history {
            *n += 1;
        }
        *n
    };
    if !silent {
        shared.publish(msg, "execute_input", json!({"code": code, "execution_count": count}));
    }
    let input: Option<InputFn> = allow_stdin.then(|| {
        let tx = shared.stdin.clone();
        let parent = msg.clone();
        Box::new(move |prompt: String, password: bool| {
            let (reply, rx) = std::sync::mpsc::channel();
            tx.send(InputAsk { parent: parent.clone(), prompt, password, reply }).ok()?;
            rx.recv().ok().flatten()
        }) as InputFn
    });

    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let (done_tx, mut done_rx) = oneshot::channel::<ExecResult>();
    let cell_id = msg.metadata["cellId"].as_str().map(str::to_owned);
    let sent =
        shared.engine.send(Request::Execute { code: code.clone(), cell_id, events: ev_tx, input, done: done_tx });
    let mut pending: Option<ExecEvent> = None;
    let result = if !sent {
        Err(crate::errors::KernelError::new("KernelError", "the evaluation engine has stopped"))
    } else {
        enum Step {
            Event(ExecEvent),
            Closed,
            Done(ExecResult),
        }
        let stopped =
            || Err(crate::errors::KernelError::new("KernelError", "the evaluation engine stopped during the cell"));
        loop {
            let step = tokio::select! {
                biased;
                ev = ev_rx.recv() => match ev {
                    Some(ev) => Step::Event(ev),
                    None => Step::Closed,
                },
                r = &mut done_rx => Step::Done(r.unwrap_or_else(|_| stopped())),
            };
            match step {
                Step::Event(ev) => {
                    publish_event(shared, msg, ev, &mut ev_rx, &mut pending, silent);
                    while let Some(ev) = pending.take() {
                        publish_event(shared, msg, ev, &mut ev_rx, &mut pending, silent);
                    }
                }
                Step::Closed => break (&mut done_rx).await.unwrap_or_else(|_| stopped()),
                Step::Done(r) => break r,
            }
        }
    };
    // Everything the cell printed is queued by now; publish the rest.
    while let Some(ev) = ev_rx.recv().await {
        publish_event(shared, msg, ev, &mut ev_rx, &mut pending, silent);
        while let Some(ev) = pending.take() {
            publish_event(shared, msg, ev, &mut ev_rx, &mut pending, silent);
        }
    }

    match result {
        Ok(success) => {
            let plain = success.result.get("text/plain").cloned();
            if !success.result.is_empty() && !silent {
                shared.publish(
                    msg,
                    "execute_result",
                    json!({
                        "execution_count": count, "data": success.result, "metadata": {}
                    }),
                );
            }
            if store_history {
                shared.history.lock().unwrap().push(count, &code, plain);
            }
            let mut payload: Vec<Value> = success
                .pages
                .into_iter()
                .map(|(text, html)| json!({"source": "page", "data": {"text/plain": text, "text/html": html}, "start": 0}))
                .collect();
            if let Some(text) = success.next_input {
                payload.push(json!({"source": "set_next_input", "text": text, "replace": false}));
            }
            shared.reply(
                msg,
                "execute_reply",
                json!({
                    "status": "ok", "execution_count": count, "payload": payload, "user_expressions": {}
                }),
            )
        }
        Err(err) => {
            if store_history {
                shared.history.lock().unwrap().push(count, &code, None);
            }
            if !silent {
                shared.publish(
                    msg,
                    "error",
                    json!({
                        "ename": err.ename, "evalue": err.evalue, "traceback": err.traceback
                    }),
                );
            }
            shared.reply(
                msg,
                "execute_reply",
                json!({
                    "status": "error", "execution_count": count,
                    "ename": err.ename, "evalue": err.evalue, "traceback": err.traceback,
                    "user_expressions": {}, "payload": []
                }),
            )
        }
    }
}

/// Publish one event; consecutive stream text of the same kind that is
/// already waiting is sent as one message. A different event that was
/// taken while looking ahead goes to `pending`.
fn publish_event(
    shared: &Shared,
    parent: &Message,
    ev: ExecEvent,
    rx: &mut mpsc::UnboundedReceiver<ExecEvent>,
    pending: &mut Option<ExecEvent>,
    silent: bool,
) {
    if silent {
        return;
    }
    match ev {
        ExecEvent::Stdout(mut text) => {
            while text.len() < 64 * 1024 {
                match rx.try_recv() {
                    Ok(ExecEvent::Stdout(more)) => text.push_str(&more),
                    Ok(other) => {
                        *pending = Some(other);
                        break;
                    }
                    Err(_) => break,
                }
            }
            shared.publish(parent, "stream", json!({"name": "stdout", "text": text}));
        }
        ExecEvent::Stderr(mut text) => {
            while text.len() < 64 * 1024 {
                match rx.try_recv() {
                    Ok(ExecEvent::Stderr(more)) => text.push_str(&more),
                    Ok(other) => {
                        *pending = Some(other);
                        break;
                    }
                    Err(_) => break,
                }
            }
            shared.publish(parent, "stream", json!({"name": "stderr", "text": text}));
        }
        ExecEvent::Display { data, display_id, update } => {
            let transient = match display_id {
                Some(id) => json!({"display_id": id}),
                None => json!({}),
            };
            let kind = if update { "update_display_data" } else { "display_data" };
            shared.publish(parent, kind, json!({"data": data, "metadata": {}, "transient": transient}));
        }
        ExecEvent::Clear { wait } => shared.publish(parent, "clear_output", json!({"wait": wait})),
    }
}

async fn complete(shared: &Shared, msg: &Message) -> Message {
    let code = msg.content["code"].as_str().unwrap_or("").to_owned();
    let cursor = msg.content["cursor_pos"].as_u64().unwrap_or(code.chars().count() as u64) as usize;
    let pos = analysis::cursor_to_byte(&code, cursor);
    let (tx, rx) = oneshot::channel();
    let found = if shared.engine.send(Request::Complete { code: code.clone(), pos, reply: tx }) {
        rx.await.ok().flatten()
    } else {
        None
    };
    let (start, end, matches) = found.unwrap_or((pos, pos, Vec::new()));
    shared.reply(
        msg,
        "complete_reply",
        json!({
            "status": "ok",
            "matches": matches,
            "cursor_start": analysis::byte_to_cursor(&code, start),
            "cursor_end": analysis::byte_to_cursor(&code, end),
            "metadata": {}
        }),
    )
}

async fn inspect(shared: &Shared, msg: &Message) -> Message {
    let code = msg.content["code"].as_str().unwrap_or("").to_owned();
    let cursor = msg.content["cursor_pos"].as_u64().unwrap_or(code.chars().count() as u64) as usize;
    let pos = analysis::end_of_word(&code, analysis::cursor_to_byte(&code, cursor));
    let (tx, rx) = oneshot::channel();
    let found =
        if shared.engine.send(Request::Inspect { code, pos, reply: tx }) { rx.await.ok().flatten() } else { None };
    let content = match found {
        Some((text, html)) => json!({
            "status": "ok", "found": true,
            "data": {"text/plain": text, "text/html": html}, "metadata": {}
        }),
        None => json!({"status": "ok", "found": false, "data": {}, "metadata": {}}),
    };
    shared.reply(msg, "inspect_reply", content)
}
