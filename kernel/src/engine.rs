//! The evaluation engine: one thread that owns evcxr's `CommandContext`
//! (evcxr's context is driven from a single thread; the rest of the kernel
//! talks to it through a channel), plus an output router thread that turns
//! the runtime's stdout/stderr into ordered `ExecEvent`s for the cell that
//! is running.

use crate::cell_value::{evcxr_commands, ValueFormat};
use crate::course::CourseState;
use crate::errors::{self, KernelError};
use crate::magics::{self, MagicHost, MagicOutput};
use crate::relay;
use crate::workdir::KernelConfig;
use crossbeam_channel::{select, Receiver, Sender};
use evcxr::{CommandContext, EvalCallbacks, EvalContext, EvalContextOutputs};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Output of a running cell, in the order it happened.
#[derive(Debug)]
pub enum ExecEvent {
    Stdout(String),
    Stderr(String),
    /// Rich output; with a display id, later updates can replace it.
    Display {
        data: BTreeMap<String, String>,
        display_id: Option<String>,
        update: bool,
    },
    Clear {
        wait: bool,
    },
}

/// A successful cell: its result (execute_result data) and pager payloads.
#[derive(Debug, Default)]
pub struct ExecSuccess {
    pub result: BTreeMap<String, String>,
    pub pages: Vec<(String, String)>,
    /// Text for a new cell below (`set_next_input`).
    pub next_input: Option<String>,
}

pub type ExecResult = Result<ExecSuccess, KernelError>;

/// Asks the frontend for input (stdin channel); `None` if not allowed.
pub type InputFn = Box<dyn Fn(String, bool) -> Option<String> + Send>;

pub enum Request {
    Execute {
        code: String,
        /// The frontend's id of the cell (JupyterLab sends `cellId`).
        cell_id: Option<String>,
        events: mpsc::UnboundedSender<ExecEvent>,
        input: Option<InputFn>,
        done: oneshot::Sender<ExecResult>,
    },
    Complete {
        code: String,
        pos: usize,
        reply: oneshot::Sender<Option<(usize, usize, Vec<String>)>>,
    },
    Inspect {
        code: String,
        pos: usize,
        reply: oneshot::Sender<Option<(String, String)>>,
    },
    /// Do the start-up work now (course crate, analysis warm-up), not after
    /// the first cell: a spare kernel (see `spare`) has no cell to wait for.
    Prepare {
        done: oneshot::Sender<()>,
    },
    /// Answer once the start-up work is done and nothing is queued.
    WhenSettled {
        done: oneshot::Sender<()>,
    },
    /// The notebook this kernel serves (a spare learns it when adopted).
    Notebook(Option<std::path::PathBuf>),
}

/// Handle held by the protocol side.
#[derive(Clone)]
pub struct EngineHandle {
    tx: std::sync::mpsc::Sender<Request>,
    child: Arc<Mutex<Option<Arc<Mutex<std::process::Child>>>>>,
    executing: Arc<AtomicBool>,
    /// Cells sent to the engine and not started yet.
    queued_cells: Arc<AtomicUsize>,
    /// An interrupt came while the engine was busy with work of its own
    /// (see `CourseCrate`) and a cell waited: that cell does not run.
    interrupt_pending: Arc<AtomicBool>,
    interrupted: Arc<AtomicBool>,
    /// One of our magics (not evcxr) is running: an interrupt stops it
    /// without killing evcxr's runtime.
    magic_running: Arc<AtomicBool>,
}

impl EngineHandle {
    pub fn send(&self, req: Request) -> bool {
        let cell = matches!(req, Request::Execute { .. });
        if cell {
            self.queued_cells.fetch_add(1, Ordering::SeqCst);
        }
        let sent = self.tx.send(req).is_ok();
        if cell && !sent {
            self.queued_cells.fetch_sub(1, Ordering::SeqCst);
        }
        sent
    }

    /// Do the start-up work now and wait for it (see `Request::Prepare`).
    /// Blocking: call it from a plain thread.
    pub fn prepare(&self) {
        let (done, wait) = oneshot::channel();
        if self.send(Request::Prepare { done }) {
            let _ = wait.blocking_recv();
        }
    }

    /// Resolves once the start-up work is done and nothing is queued.
    pub fn when_settled(&self) -> oneshot::Receiver<()> {
        let (done, wait) = oneshot::channel();
        self.send(Request::WhenSettled { done });
        wait
    }

    pub fn set_notebook(&self, notebook: Option<std::path::PathBuf>) {
        self.send(Request::Notebook(notebook));
    }

    /// Kill evcxr's runtime (at shutdown).
    pub fn kill_runtime(&self) {
        if let Some(child) = self.child.lock().unwrap().as_ref() {
            let _ = child.lock().unwrap().kill();
        }
    }

    /// Stop the running cell by killing evcxr's runtime process (through
    /// the relay). evcxr then starts a fresh runtime; variables whose values
    /// lived in the killed process are lost, definitions stay.
    pub fn interrupt(&self) {
        if !self.executing.load(Ordering::SeqCst) {
            if self.queued_cells.load(Ordering::SeqCst) > 0 {
                tracing::info!("interrupt: the waiting cell will not run");
                self.interrupt_pending.store(true, Ordering::SeqCst);
            }
            return;
        }
        self.interrupted.store(true, Ordering::SeqCst);
        if self.magic_running.load(Ordering::SeqCst) {
            tracing::info!("interrupt: stopping the running magic");
            return;
        }
        if let Some(child) = self.child.lock().unwrap().as_ref() {
            let mut child = child.lock().unwrap();
            tracing::info!(pid = child.id(), "interrupt: killing the runtime");
            let _ = child.kill();
        }
    }
}

/// A cell to run: its code and, when the frontend sends one, its id.
#[derive(Clone, Copy)]
struct Cell<'a> {
    code: &'a str,
    id: Option<&'a str>,
}

/// What the router saw during one cell.
#[derive(Default)]
struct CellReport {
    panicked: bool,
    user_error: bool,
    stderr_lines: Vec<String>,
}

struct Flush {
    /// A run happened: wait for the relay's stderr sync line.
    expect_sync: bool,
    ack: Sender<CellReport>,
}

/// Routes evcxr's stdout/stderr lines to the current cell's event sink.
struct Router {
    sink: Arc<Mutex<Option<mpsc::UnboundedSender<ExecEvent>>>>,
    ctrl: Sender<Flush>,
}

impl Router {
    fn start(outputs: EvalContextOutputs) -> Router {
        let sink: Arc<Mutex<Option<mpsc::UnboundedSender<ExecEvent>>>> = Arc::new(Mutex::new(None));
        let (ctrl_tx, ctrl_rx) = crossbeam_channel::unbounded::<Flush>();
        let sink2 = sink.clone();
        std::thread::Builder::new()
            .name("output-router".into())
            .spawn(move || route(outputs.stdout, outputs.stderr, ctrl_rx, sink2))
            .expect("spawn router");
        Router { sink, ctrl: ctrl_tx }
    }

    fn set_sink(&self, sink: Option<mpsc::UnboundedSender<ExecEvent>>) {
        *self.sink.lock().unwrap() = sink;
    }

    /// Wait until every line the runtime wrote during the cell has been
    /// routed, then return what the router saw.
    fn flush(&self, expect_sync: bool) -> CellReport {
        let (ack, rx) = crossbeam_channel::bounded(1);
        if self.ctrl.send(Flush { expect_sync, ack }).is_err() {
            return CellReport::default();
        }
        rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default()
    }
}

fn route(
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    ctrl: Receiver<Flush>,
    sink: Arc<Mutex<Option<mpsc::UnboundedSender<ExecEvent>>>>,
) {
    // Sync lines seen since the last flush.
    let mut syncs: u64 = 0;
    let mut report = CellReport::default();
    let send = |ev: ExecEvent| {
        if let Some(s) = sink.lock().unwrap().as_ref() {
            let _ = s.send(ev);
        } else {
            tracing::debug!(?ev, "output outside of a cell dropped");
        }
    };
    let on_stdout = |line: String, report: &mut CellReport| {
        if let Some(payload) = line.strip_prefix(relay::MARK_DISPLAY) {
            if let Some((mime, data)) = relay::decode_display(payload) {
                let mut map = BTreeMap::new();
                map.insert(mime, data);
                send(ExecEvent::Display { data: map, display_id: None, update: false });
            }
        } else if line == relay::MARK_PANIC {
            report.panicked = true;
        } else if line == relay::MARK_USER_ERROR {
            report.user_error = true;
        } else if let Some(arg) = line.strip_prefix(relay::MARK_CLEAR) {
            send(ExecEvent::Clear { wait: arg == "wait" });
        } else {
            send(ExecEvent::Stdout(line + "\n"));
        }
    };
    let on_stderr = |line: String, report: &mut CellReport, syncs: &mut u64| {
        if line == relay::MARK_SYNC {
            *syncs += 1;
        } else {
            if report.stderr_lines.len() < 500 {
                report.stderr_lines.push(line.clone());
            }
            send(ExecEvent::Stderr(line + "\n"));
        }
    };
    loop {
        select! {
            recv(stdout) -> line => match line {
                Ok(line) => on_stdout(line, &mut report),
                Err(_) => return,
            },
            recv(stderr) -> line => match line {
                Ok(line) => on_stderr(line, &mut report, &mut syncs),
                Err(_) => return,
            },
            recv(ctrl) -> flush => {
                let Ok(flush) = flush else { return };
                // Every finished run ends with a sync line on stderr once
                // all of its stderr has been forwarded: wait for it.
                let deadline = Instant::now() + Duration::from_secs(2);
                while flush.expect_sync && syncs == 0 {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        tracing::warn!("stderr sync line did not arrive");
                        break;
                    }
                    select! {
                        recv(stdout) -> line => if let Ok(line) = line { on_stdout(line, &mut report) },
                        recv(stderr) -> line => if let Ok(line) = line { on_stderr(line, &mut report, &mut syncs) },
                        default(left) => {}
                    }
                }
                while let Ok(line) = stdout.try_recv() {
                    on_stdout(line, &mut report);
                }
                while let Ok(line) = stderr.try_recv() {
                    on_stderr(line, &mut report, &mut syncs);
                }
                syncs = 0;
                let _ = flush.ack.send(std::mem::take(&mut report));
            }
        }
    }
}

struct Engine {
    ctx: CommandContext,
    router: Router,
    course: CourseState,
    /// Where the course crate is, if configured.
    distlab: Option<std::path::PathBuf>,
    /// Whether the course crate is in evcxr's state (see `ensure_distlab`).
    distlab_state: CourseCrate,
    values: ValueFormat,
    /// The analysis warm-up has run (see `warm_up_analysis`).
    warmed_up: bool,
}

/// Loading the course crate costs about 3 s (a rust-analyzer reload and a
/// compile), so it is not in the way of the first result: it happens at the
/// first cell that names `distlab`, or as soon as the kernel is idle,
/// whichever comes first.
#[derive(Clone)]
enum CourseCrate {
    Pending,
    Loaded,
    Failed(KernelError),
}

/// What a magic sees of the engine while a cell runs.
struct CellHost<'a> {
    engine: &'a mut Engine,
    events: &'a mpsc::UnboundedSender<ExecEvent>,
    interrupted: &'a AtomicBool,
}

impl MagicHost for CellHost<'_> {
    fn hover(&mut self, code: &str, pos: usize) -> Option<(String, String)> {
        self.engine.ctx.hover_at(code, pos).ok()
    }
    fn defined_items(&self) -> Vec<String> {
        self.engine.ctx.defined_item_names().map(str::to_owned).collect()
    }
    fn course(&mut self) -> &mut CourseState {
        &mut self.engine.course
    }
    fn show(&mut self, data: BTreeMap<String, String>, display_id: Option<&str>, update: bool) {
        let _ = self.events.send(ExecEvent::Display { data, display_id: display_id.map(str::to_owned), update });
    }
    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

/// Start the engine thread. evcxr starts in the background; requests queue
/// until it is ready. The course crate follows (see `CourseCrate`).
pub fn start(config: KernelConfig, workdir: std::path::PathBuf, notebook: Option<std::path::PathBuf>) -> EngineHandle {
    let (tx, rx) = std::sync::mpsc::channel::<Request>();
    let handle = EngineHandle {
        tx,
        child: Arc::new(Mutex::new(None)),
        executing: Arc::new(AtomicBool::new(false)),
        queued_cells: Arc::new(AtomicUsize::new(0)),
        interrupt_pending: Arc::new(AtomicBool::new(false)),
        interrupted: Arc::new(AtomicBool::new(false)),
        magic_running: Arc::new(AtomicBool::new(false)),
    };
    let h = handle.clone();
    std::thread::Builder::new()
        .name("evcxr-engine".into())
        .spawn(move || engine_thread(config, workdir, notebook, rx, h))
        .expect("spawn engine");
    handle
}

fn engine_thread(
    config: KernelConfig,
    workdir: std::path::PathBuf,
    notebook: Option<std::path::PathBuf>,
    rx: std::sync::mpsc::Receiver<Request>,
    handle: EngineHandle,
) {
    let started = Instant::now();
    if let Err(e) = crate::workdir::populate(&workdir, &config) {
        tracing::warn!("could not copy the prebuilt work dir: {e:#}");
    }
    let engine = Engine::new(&config, notebook);
    match &engine {
        Ok(_) => tracing::info!(elapsed = ?started.elapsed(), "evcxr ready"),
        Err(e) => tracing::error!("evcxr failed to start: {}", e.evalue),
    }
    let mut engine = match engine {
        Ok(e) => {
            *handle.child.lock().unwrap() = Some(e.ctx.process_handle());
            e
        }
        Err(err) => {
            // Answer every request with the start-up error.
            for req in rx {
                match req {
                    Request::Execute { done, .. } => {
                        let _ = done.send(Err(err.clone()));
                    }
                    Request::Complete { reply, .. } => {
                        let _ = reply.send(None);
                    }
                    Request::Inspect { reply, .. } => {
                        let _ = reply.send(None);
                    }
                    Request::Prepare { done } | Request::WhenSettled { done } => {
                        let _ = done.send(());
                    }
                    Request::Notebook(_) => {}
                }
            }
            return;
        }
    };
    let mut warm_up_due = false;
    let mut settled_waiters: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        // Work ahead (loading the course crate, the analysis warm-up after
        // the first result) only when nothing is queued: a cell that is
        // waiting always goes first.
        let req = match rx.try_recv() {
            Ok(req) => req,
            Err(std::sync::mpsc::TryRecvError::Empty) if matches!(engine.distlab_state, CourseCrate::Pending) => {
                if let Err(e) = engine.ensure_distlab() {
                    tracing::warn!("loading distlab failed: {}", e.evalue);
                }
                continue;
            }
            Err(std::sync::mpsc::TryRecvError::Empty) if warm_up_due => {
                warm_up_due = false;
                engine.warm_up_analysis();
                continue;
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                for done in settled_waiters.drain(..) {
                    let _ = done.send(());
                }
                match rx.recv() {
                    Ok(req) => req,
                    Err(_) => break,
                }
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
        };
        match req {
            Request::Execute { code, cell_id, events, input, done } => {
                handle.queued_cells.fetch_sub(1, Ordering::SeqCst);
                if handle.interrupt_pending.swap(false, Ordering::SeqCst) {
                    let _ =
                        done.send(Err(KernelError::new("Interrupted", "the cell was interrupted before it started")));
                    continue;
                }
                handle.interrupted.store(false, Ordering::SeqCst);
                handle.executing.store(true, Ordering::SeqCst);
                let cell = Cell { code: &code, id: cell_id.as_deref() };
                let result = engine.execute(cell, events, input, &handle.interrupted, &handle.magic_running);
                handle.executing.store(false, Ordering::SeqCst);
                let _ = done.send(result);
                warm_up_due |= !engine.warmed_up;
            }
            Request::Complete { code, pos, reply } => {
                engine.ensure_distlab_for(&code).ok();
                let _ = reply.send(engine.complete(&code, pos));
            }
            Request::Inspect { code, pos, reply } => {
                engine.ensure_distlab_for(&code).ok();
                let r = engine.ctx.hover_at(&code, pos).ok().filter(|(p, _)| !p.trim().is_empty());
                let _ = reply.send(r);
            }
            Request::Prepare { done } => {
                if let Err(e) = engine.ensure_distlab() {
                    tracing::warn!("loading distlab failed: {}", e.evalue);
                }
                if !engine.warmed_up {
                    engine.warm_up_analysis();
                }
                let _ = done.send(());
            }
            Request::WhenSettled { done } => settled_waiters.push(done),
            Request::Notebook(notebook) => engine.course = CourseState::for_notebook(notebook),
        }
    }
    // Channel closed: the kernel is shutting down. Dropping the context
    // stops the runtime.
    drop(engine);
}

impl Engine {
    fn new(config: &KernelConfig, notebook: Option<std::path::PathBuf>) -> Result<Engine, KernelError> {
        let start_err =
            |what: &str, e: &dyn std::fmt::Display| KernelError::new("KernelStartError", format!("{what}: {e}"));
        let cmd = relay::relay_command().map_err(|e| start_err("cannot find the kernel binary", &e))?;
        let (eval_ctx, outputs) =
            EvalContext::with_subprocess_command(cmd).map_err(|e| start_err("evcxr failed to start", &e))?;
        let router = Router::start(outputs);
        let ctx = CommandContext::with_eval_context(eval_ctx);
        let distlab = config.exercises_dir.clone();
        if distlab.is_none() {
            tracing::warn!("no exercises dir configured: distlab is not loaded");
        }
        let mut engine = Engine {
            ctx,
            router,
            course: CourseState::for_notebook(notebook),
            distlab_state: if distlab.is_some() { CourseCrate::Pending } else { CourseCrate::Loaded },
            distlab,
            values: ValueFormat::default(),
            warmed_up: false,
        };
        engine.router.flush(false);
        engine.sync_value_format();
        Ok(engine)
    }

    /// Load the course crate if `code` names it (see `CourseCrate`).
    fn ensure_distlab_for(&mut self, code: &str) -> Result<(), KernelError> {
        if code.contains("distlab") {
            self.ensure_distlab()
        } else {
            Ok(())
        }
    }

    /// The course crate is in evcxr's state, or the reason it cannot be.
    fn ensure_distlab(&mut self) -> Result<(), KernelError> {
        match (&self.distlab_state, self.distlab.clone()) {
            (CourseCrate::Pending, Some(path)) => {
                let state = match self.load_distlab(&path) {
                    Ok(()) => CourseCrate::Loaded,
                    Err(e) => CourseCrate::Failed(e),
                };
                self.distlab_state = state;
                self.ensure_distlab()
            }
            (CourseCrate::Failed(e), _) => Err(e.clone()),
            _ => Ok(()),
        }
    }

    /// Make the `distlab` crate available. Its build is already in the work
    /// dir (copied from the install-time prebuild), so cargo only has to see
    /// that it is fresh. Resolve offline first: the lock file entries for
    /// distlab's dependencies are known locally, no index fetch needed.
    fn load_distlab(&mut self, path: &std::path::Path) -> Result<(), KernelError> {
        let t = Instant::now();
        let dep = crate::install::course_deps(path);
        let offline = self.ctx.execute(&format!(":offline 1\n{dep}"));
        let _ = self.ctx.execute(":offline 0");
        if let Ok(out) = &offline {
            let phases: Vec<String> = out.phases.iter().map(|p| format!("{} {:?}", p.name, p.duration)).collect();
            tracing::info!(?phases, "distlab load phases");
        }
        if let Err(e) = offline {
            tracing::info!("offline load of distlab failed ({e}), retrying online");
            self.ctx.execute(&dep).map_err(|e| {
                KernelError::new(
                    "KernelStartError",
                    format!("could not load the distlab crate from {}: {e}", path.display()),
                )
            })?;
        }
        self.router.flush(true);
        tracing::info!(elapsed = ?t.elapsed(), "distlab loaded");
        Ok(())
    }

    /// Keep the course crate and the cell-value trait in evcxr's state as
    /// the student's evcxr commands change it (see `cell_value`).
    fn follow_evcxr_commands(&mut self, code: &str) {
        // `:clear` drops every item and dependency, the course crate too
        // (`values` notices the cleared trait itself).
        if self.distlab.is_some() && evcxr_commands(code).any(|(name, _)| name == "clear") {
            self.distlab_state = CourseCrate::Pending;
        }
        if let Some(line) = self.values.observe(code) {
            self.run_quietly(line);
        }
    }

    /// rust-analyzer (evcxr types variables with it) computes lazily: the
    /// first cell that defines a type with derives and calls methods on std
    /// collections paid about a second for it (1.2 s against 0.45 s for the
    /// next such cell). A completion request over such code does that work
    /// ahead; it changes no state (evcxr analyses a copy). It costs about 3 s,
    /// so it runs after the first cell's result, when nothing is queued.
    fn warm_up_analysis(&mut self) {
        self.warmed_up = true;
        let t = Instant::now();
        if let Err(e) = self.ctx.completions(ANALYSIS_WARM_UP, ANALYSIS_WARM_UP.len()) {
            tracing::info!("analysis warm-up failed: {e}");
        }
        tracing::info!(elapsed = ?t.elapsed(), "analysis warmed up");
    }

    fn sync_value_format(&mut self) {
        if let Some(line) = self.values.sync() {
            self.run_quietly(line);
        }
    }

    /// Run code of our own in evcxr; a failure is logged, not shown.
    fn run_quietly(&mut self, code: &str) {
        if let Err(e) = self.ctx.execute(code) {
            tracing::warn!("kernel code {code:?} failed: {e}");
        }
        self.router.flush(true);
    }

    fn execute(
        &mut self,
        cell: Cell,
        events: mpsc::UnboundedSender<ExecEvent>,
        input: Option<InputFn>,
        interrupted: &AtomicBool,
        magic_running: &AtomicBool,
    ) -> ExecResult {
        self.router.set_sink(Some(events.clone()));
        let result = self.execute_inner(cell, &events, input, interrupted, magic_running);
        self.router.set_sink(None);
        result
    }

    fn execute_inner(
        &mut self,
        cell: Cell,
        events: &mpsc::UnboundedSender<ExecEvent>,
        input: Option<InputFn>,
        interrupted: &AtomicBool,
        magic_running: &AtomicBool,
    ) -> ExecResult {
        let parsed = magics::parse(cell.code)?;
        let mut success = ExecSuccess::default();
        let input = input.as_ref();
        self.course.saw(&parsed.code);
        for call in parsed.before() {
            let out = self.run_magic(call, events, interrupted, magic_running)?;
            self.apply_magic(out, events, &mut success, input, interrupted)?;
        }
        self.ensure_distlab_for(&parsed.code)?;
        self.run_evcxr(&parsed.code, events, &mut success, input, interrupted)?;
        // The Rust code ran without an error: if this is an exercise cell,
        // it is now that exercise's solution (see `course`). A cell with
        // only the marker and magics holds no solution.
        let recorded = if has_rust_code(&parsed.code) { self.course.record(&parsed.code, cell.id) } else { None };
        if let Some(crate::course::Recorded { id, note }) = recorded {
            if let Some(note) = note {
                let _ = events.send(ExecEvent::Stderr(note + "\n"));
            }
            if crate::course::find(&id).is_err() {
                let note = format!(
                    "note: `{}` names no exercise, so this cell is not taken as a solution; the exercises are: {}\n",
                    crate::course::marker_line(&id),
                    crate::course::known_ids()
                );
                let _ = events.send(ExecEvent::Stderr(note));
            }
        }
        for call in parsed.after() {
            let out = self.run_magic(call, events, interrupted, magic_running)?;
            self.apply_magic(out, events, &mut success, input, interrupted)?;
        }
        Ok(success)
    }

    fn run_magic(
        &mut self,
        call: &magics::MagicCall,
        events: &mpsc::UnboundedSender<ExecEvent>,
        interrupted: &AtomicBool,
        magic_running: &AtomicBool,
    ) -> Result<MagicOutput, KernelError> {
        magic_running.store(true, Ordering::SeqCst);
        let out = magics::run(call, &mut CellHost { engine: self, events, interrupted });
        magic_running.store(false, Ordering::SeqCst);
        let out = out?;
        if interrupted.load(Ordering::SeqCst) {
            return Err(KernelError::new("Interrupted", format!("{} was interrupted", call.name)));
        }
        Ok(out)
    }

    /// Run code through evcxr; turn its failures, and panics it reports as
    /// success, into errors.
    fn run_evcxr(
        &mut self,
        code: &str,
        events: &mpsc::UnboundedSender<ExecEvent>,
        success: &mut ExecSuccess,
        input: Option<&InputFn>,
        interrupted: &AtomicBool,
    ) -> Result<(), KernelError> {
        if code.trim().is_empty() {
            return Ok(());
        }
        let outcome = match input {
            Some(ask) => {
                let mut callbacks =
                    EvalCallbacks { input_reader: &|req| ask(req.prompt.clone(), req.is_password).unwrap_or_default() };
                self.ctx.execute_with_callbacks(code, &mut callbacks)
            }
            None => self.ctx.execute(code),
        };
        // evcxr ran the code if it succeeded (or lost variables after the run)
        // and the code holds Rust, not only evcxr commands.
        let ran = matches!(outcome, Ok(_) | Err(evcxr::Error::TypeRedefinedVariablesLost(_))) && has_rust_code(code);
        let report = self.router.flush(ran);
        // evcxr applied the cell's commands even if its code then failed.
        self.follow_evcxr_commands(code);
        if interrupted.load(Ordering::SeqCst) {
            return Err(KernelError::new(
                "Interrupted",
                "the cell was interrupted and evcxr's runtime restarted: values computed \
                 in earlier cells are lost, definitions (fn, struct, use) are kept",
            ));
        }
        match outcome {
            Ok(outputs) => {
                if report.panicked {
                    return Err(errors::panic_error(&report.stderr_lines));
                }
                if report.user_error {
                    let msg = report.stderr_lines.last().cloned().unwrap_or_default();
                    return Err(KernelError::new("Error", msg));
                }
                if let Some(line) = timing_line(&outputs) {
                    let data = BTreeMap::from([("text/plain".to_owned(), line)]);
                    let _ = events.send(ExecEvent::Display { data, display_id: None, update: false });
                }
                success.result.extend(outputs.content_by_mime_type);
                Ok(())
            }
            Err(evcxr::Error::CompilationErrors(errs)) => Err(errors::compilation_errors(&errs, code)),
            Err(evcxr::Error::SubprocessTerminated(msg)) => Err(KernelError::new(
                "RuntimeTerminated",
                format!("{msg}\nevcxr's runtime was restarted: values computed in earlier cells are lost"),
            )),
            Err(evcxr::Error::TypeRedefinedVariablesLost(vars)) => Err(KernelError::new(
                "VariablesLost",
                format!("a type redefinition lost these variables: {}", vars.join(", ")),
            )),
            Err(e) => Err(KernelError::new("EvcxrError", e.to_string())),
        }
    }

    fn apply_magic(
        &mut self,
        out: MagicOutput,
        events: &mpsc::UnboundedSender<ExecEvent>,
        success: &mut ExecSuccess,
        input: Option<&InputFn>,
        interrupted: &AtomicBool,
    ) -> Result<(), KernelError> {
        match out {
            MagicOutput::Display(data) => {
                let _ = events.send(ExecEvent::Display { data, display_id: None, update: false });
            }
            MagicOutput::NextInput(text) => success.next_input = Some(text),
            MagicOutput::Page { text, html } => success.pages.push((text, html)),
            MagicOutput::Eval(code) => {
                self.ensure_distlab_for(&code)?;
                self.run_evcxr(&code, events, success, input, interrupted)?
            }
            MagicOutput::Shown => {}
        }
        Ok(())
    }

    fn complete(&mut self, code: &str, pos: usize) -> Option<(usize, usize, Vec<String>)> {
        if let Some(m) = crate::analysis::magic_completions(code, pos) {
            return Some(m);
        }
        // Blank our magic lines so evcxr doesn't trip over them.
        let cleaned = match magics::parse(code) {
            Ok(p) if p.code.len() == code.len() => p.code,
            _ => code.to_owned(),
        };
        let c = self.ctx.completions(&cleaned, pos).ok()?;
        let mut seen = std::collections::HashSet::new();
        let matches = c.completions.into_iter().map(|c| c.code).filter(|m| seen.insert(m.clone())).collect();
        Some((c.start_offset, c.end_offset, matches))
    }
}

/// Code like a student's first cells: derives, an impl, std collections
/// and a course type, ending where a completion asks for methods.
const ANALYSIS_WARM_UP: &str = "use std::collections::HashMap;
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct DistlabWarmUp { id: u32, peers: Vec<u32>, seen: HashMap<u32, String> }
impl DistlabWarmUp { fn new(id: u32) -> Self { DistlabWarmUp { id, ..Default::default() } } }
let mut w = DistlabWarmUp::new(1); w.peers.push(2); w.seen.insert(3, String::new());
let node: distlab::NodeId = w.peers.len(); w.clone().peers.len";

/// What `:timing` shows after a cell: the total and evcxr's phases.
fn timing_line(outputs: &evcxr::EvalOutputs) -> Option<String> {
    // A cell of commands only compiled nothing: no line for it.
    let took = outputs.timing.filter(|_| !outputs.phases.is_empty())?;
    let phases: Vec<String> =
        outputs.phases.iter().map(|p| format!("{} {} ms", p.name.to_lowercase(), p.duration.as_millis())).collect();
    Some(format!("took {} ms ({})", took.as_millis(), phases.join(", ")))
}

/// Whether a cell holds Rust code (not only blank lines, comments, `:`
/// commands and `!` shell lines), i.e. whether evcxr will run something.
fn has_rust_code(code: &str) -> bool {
    code.lines().any(|l| {
        let t = l.trim();
        !(t.is_empty() || t.starts_with("//") || t.starts_with('!') || (t.starts_with(':') && !t.starts_with("::")))
    })
}
