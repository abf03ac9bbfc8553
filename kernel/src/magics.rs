//! The kernel's own `:` magic lines.
//!
//! A cell may hold magic lines (`:exercise ID`, `:check ID`, `:submit ID`,
//! `:login URL TOKEN`, `:doc ITEM`) anywhere at the start of a line. They are
//! taken out of the cell (blanked, so the student's line numbers stay right)
//! before the rest goes to evcxr. Magics that come before any Rust code run
//! before the code; magics after Rust code run after it (so `:check` can see
//! what the cell just defined). evcxr's own commands (`:dep`, `:vars`, ...)
//! pass through to evcxr; an unknown `:name` is an error that lists both.
//!
//! The course magics read the catalogue natively (the `distlab` crate is a
//! dependency of the kernel): `:exercise` shows the task and puts the
//! scaffold into the next cell; `:check` has evcxr run the exercise's own
//! check on the session's definitions (`MagicOutput::Eval`), so the kernel
//! and the grader share one check; `:submit` sends the exercise cell's source
//! (see `course` for which cells those are) through the outbox; `:login`
//! stores the grader's URL and token.

use crate::course::{self, CourseState, Deadlines};
use crate::errors::KernelError;
use crate::grader_client::{self, Client, ClientError, Login};
use crate::outbox::Outbox;
use crate::submit::{self, Screen};
use std::collections::BTreeMap;

/// Magics handled by this kernel.
pub const OUR_MAGICS: &[(&str, &str)] = &[
    (":exercise", "Show exercise ID: statement and starter code"),
    (":check", "Run the public checks of exercise ID on this session's code: :check ID [--scenario S --seed N]"),
    (":submit", "Submit exercise ID for grading"),
    (":login", "Log in to the course server: :login URL TOKEN (alone: who you are logged in as)"),
    (":grades", "Your submissions and best scores, from the course server"),
    (":doc", "Show the documentation of an item in the pager, e.g. :doc Vec"),
];

/// evcxr 0.22.0's own commands, passed through to evcxr unchanged.
pub const EVCXR_COMMANDS: &[&str] = &[
    ":allow_static_linking",
    ":build_env",
    ":cache",
    ":clear",
    ":clear_cache",
    ":codegen_backend",
    ":dep",
    ":efmt",
    ":env",
    ":explain",
    ":fmt",
    ":help",
    ":internal_debug",
    ":last_compile_dir",
    ":last_error_json",
    ":linker",
    ":load_config",
    ":offline",
    ":opt",
    ":preserve_vars_on_panic",
    ":quit",
    ":restart",
    ":sccache",
    ":show_deps",
    ":t",
    ":time_passes",
    ":timing",
    ":toolchain",
    ":type",
    ":types",
    ":vars",
    ":version",
];

/// Every magic name, for completion.
pub fn magic_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = OUR_MAGICS.iter().map(|(n, _)| *n).collect();
    names.extend_from_slice(EVCXR_COMMANDS);
    names.sort_unstable();
    names
}

#[derive(Debug, Clone, PartialEq)]
pub struct MagicCall {
    pub name: String,
    pub args: String,
    /// 1-based line in the cell.
    pub line: usize,
    /// True when Rust code came before this line: run after the code.
    pub after_code: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCell {
    /// The cell with our magic lines blanked (same line numbers).
    pub code: String,
    pub magics: Vec<MagicCall>,
}

impl ParsedCell {
    pub fn before(&self) -> impl Iterator<Item = &MagicCall> {
        self.magics.iter().filter(|m| !m.after_code)
    }
    pub fn after(&self) -> impl Iterator<Item = &MagicCall> {
        self.magics.iter().filter(|m| m.after_code)
    }
}

/// What a magic produced.
#[derive(Debug, Clone, PartialEq)]
pub enum MagicOutput {
    /// Rich output, sent as display_data (mime type -> data).
    Display(BTreeMap<String, String>),
    /// Text for the pager (an execute_reply `page` payload).
    Page { text: String, html: String },
    /// Rust code for evcxr to run in the student's session.
    Eval(String),
    /// Text for a new cell below (the `set_next_input` payload).
    NextInput(String),
    /// Nothing more: the magic showed its result itself while it ran.
    Shown,
}

/// What a magic handler may ask of the kernel.
pub trait MagicHost {
    /// evcxr's hover information `(plain, html)` at `pos` in `code`.
    fn hover(&mut self, code: &str, pos: usize) -> Option<(String, String)>;
    /// Names of the items (fn, struct, ...) the session defines.
    fn defined_items(&self) -> Vec<String>;
    fn course(&mut self) -> &mut CourseState;
    /// Send rich output now; with `update`, replace the output shown under `display_id`.
    fn show(&mut self, data: BTreeMap<String, String>, display_id: Option<&str>, update: bool);
    /// The student interrupted the cell.
    fn interrupted(&self) -> bool;
}

struct HostScreen<'a>(&'a mut dyn MagicHost);

impl Screen for HostScreen<'_> {
    fn show(&mut self, data: BTreeMap<String, String>, display_id: Option<&str>, update: bool) {
        self.0.show(data, display_id, update)
    }
    fn interrupted(&self) -> bool {
        self.0.interrupted()
    }
}

/// The name of a magic line (`:name`), or None if the line is not one.
/// `::path` at the start of a line is Rust, not a magic.
fn magic_name(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start_matches(' ');
    if !t.starts_with(':') || t.starts_with("::") {
        return None;
    }
    let end = t.find(char::is_whitespace).unwrap_or(t.len());
    Some((&t[..end], t[end..].trim()))
}

fn is_ours(name: &str) -> bool {
    OUR_MAGICS.iter().any(|(n, _)| *n == name)
}

fn is_evcxr(name: &str) -> bool {
    EVCXR_COMMANDS.contains(&name)
}

pub fn unknown_magic_error(name: &str) -> KernelError {
    let ours: Vec<&str> = OUR_MAGICS.iter().map(|(n, _)| *n).collect();
    KernelError::new(
        "UnknownMagic",
        format!(
            "unknown magic {name}\nthis kernel's magics: {}\nevcxr commands: {}",
            ours.join(" "),
            EVCXR_COMMANDS.join(" ")
        ),
    )
}

/// Split a cell into our magic calls and the code for evcxr.
pub fn parse(cell: &str) -> Result<ParsedCell, KernelError> {
    let mut code = String::with_capacity(cell.len());
    let mut magics = Vec::new();
    let mut seen_code = false;
    for (i, line) in cell.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        let newline = &line[body.len()..];
        match magic_name(body) {
            Some((name, args)) if is_ours(name) => {
                magics.push(MagicCall {
                    name: name.to_owned(),
                    args: args.to_owned(),
                    line: i + 1,
                    after_code: seen_code,
                });
                code.push_str(newline);
                continue;
            }
            Some((name, _)) if is_evcxr(name) => {
                if seen_code {
                    return Err(KernelError::new(
                        "MagicError",
                        format!("line {}: the evcxr command {name} must come before any Rust code in the cell", i + 1),
                    ));
                }
            }
            Some((name, _)) => return Err(unknown_magic_error(name)),
            None => {
                let t = body.trim();
                if !(t.is_empty() || t.starts_with("//") || t.starts_with('!')) {
                    seen_code = true;
                }
            }
        }
        code.push_str(line);
    }
    Ok(ParsedCell { code, magics })
}

/// Run one of our magics.
pub fn run(call: &MagicCall, host: &mut dyn MagicHost) -> Result<MagicOutput, KernelError> {
    let args: Vec<&str> = call.args.split_whitespace().collect();
    match call.name.as_str() {
        ":exercise" => exercise(one_arg(call, &args, "ID")?, host),
        ":check" => check(&call.args, host),
        ":submit" => submit(one_arg(call, &args, "ID")?, host),
        ":login" => match args.as_slice() {
            [] => login_status(),
            [url, token] => login(url, token, host),
            _ => Err(usage(call, "URL TOKEN (or no argument, to see who you are logged in as)")),
        },
        ":grades" if args.is_empty() => grades(),
        ":grades" => Err(usage(call, "(no arguments)")),
        ":doc" => doc(&call.args, host),
        other => Err(unknown_magic_error(other)),
    }
}

fn one_arg<'a>(call: &MagicCall, args: &[&'a str], what: &str) -> Result<&'a str, KernelError> {
    match args {
        [one] => Ok(one),
        _ => Err(usage(call, what)),
    }
}

fn usage(call: &MagicCall, what: &str) -> KernelError {
    KernelError::new("MagicError", format!("usage: {} {what}", call.name))
}

/// The seed `:check` uses without `--seed` when the grader is not known.
pub const DEFAULT_SEED: u64 = 0;

fn err(ename: &str, msg: impl Into<String>) -> KernelError {
    KernelError::new(ename, msg.into())
}

fn find(id: &str) -> Result<&'static distlab::catalogue::ExerciseSpec, KernelError> {
    course::find(id).map_err(|m| err("UnknownExercise", m))
}

fn current_login() -> Result<Option<Login>, KernelError> {
    grader_client::current().map_err(|m| err("LoginError", m))
}

fn text(t: String) -> BTreeMap<String, String> {
    BTreeMap::from([("text/plain".to_owned(), t)])
}

// ---- the course magics ----

/// `:exercise ID`: show the task; the scaffold (with its marker line) goes
/// into a new cell below.
pub fn exercise(id: &str, host: &mut dyn MagicHost) -> Result<MagicOutput, KernelError> {
    let spec = find(id)?;
    let mut deadlines = Deadlines::default();
    if let Ok(Some(login)) = current_login() {
        match Client::new(&login).and_then(|c| c.exercises()) {
            Ok(list) => {
                if let Some(e) = list.into_iter().find(|e| e.id == spec.id) {
                    deadlines.deadline = e.deadline;
                    deadlines.late_deadline = e.late_deadline;
                }
            }
            Err(e) => deadlines.note = Some(format!("deadline unknown: {e}")),
        }
    }
    host.show(course::exercise_display(spec, &deadlines), None, false);
    // One solution cell per exercise: a second one would silently take
    // over from the first whenever it ran.
    if host.course().has_cell(spec.id) {
        let marker = course::marker_line(spec.id);
        return Ok(MagicOutput::Display(text(format!(
            "This notebook already has the solution cell of `{}`: the code cell that starts with `{marker}`. \
             Write your solution there and run it; `:check {0}` and `:submit {0}` use it.",
            spec.id
        ))));
    }
    host.course().offered(spec.id);
    Ok(MagicOutput::NextInput(course::scaffold_cell(spec)))
}

/// `:check ID [--scenario S --seed N]`: run the exercise's public checks on
/// the session's solution, in the session (evcxr), and show the report.
pub fn check(args: &str, host: &mut dyn MagicHost) -> Result<MagicOutput, KernelError> {
    let args = course::parse_check_args(args).map_err(|m| err("MagicError", m))?;
    let spec = find(&args.id)?;
    let defined = host.defined_items();
    let missing: Vec<String> =
        course::solution_items(spec.solution).into_iter().filter(|i| !defined.contains(i)).collect();
    if !missing.is_empty() {
        return Err(err(
            "NotDefined",
            format!(
                "define `{}` first: run the exercise's cell (the one starting with `{}`; `:exercise {}` puts a \
                 scaffold into a new cell)",
                missing.join("`, `"),
                course::marker_line(spec.id),
                spec.id
            ),
        ));
    }
    // A replay line names one run's seed; the scenario itself may be the
    // student's own variant, built from the student's seed.
    let run = match (args.scenario.as_deref(), args.seed) {
        (Some(scenario), Some(seed)) => {
            course::RunChoice::Replay { student: student_seed(spec.id, host), scenario, seed }
        }
        (_, Some(seed)) => course::RunChoice::Public(seed),
        (_, None) => course::RunChoice::Public(student_seed(spec.id, host)),
    };
    Ok(MagicOutput::Eval(course::check_code(spec, &run)))
}

/// The student's own seed from the grader (asked once per session), else
/// `DEFAULT_SEED`.
fn student_seed(id: &str, host: &mut dyn MagicHost) -> u64 {
    let login = match current_login() {
        Ok(Some(login)) => login,
        _ => return DEFAULT_SEED,
    };
    let key = (format!("{}\n{}", login.url, login.token), id.to_owned());
    if let Some(seed) = host.course().seeds.get(&key) {
        return *seed;
    }
    match Client::new(&login).and_then(|c| c.seed(id)) {
        Ok(seed) => {
            host.course().seeds.insert(key, seed);
            seed
        }
        Err(e) => {
            host.show(
                text(format!("note: your own seed is unknown ({e}); checking with seed {DEFAULT_SEED}")),
                None,
                false,
            );
            DEFAULT_SEED
        }
    }
}

/// `:submit ID`: send the source of the exercise's cell to the grader.
pub fn submit(id: &str, host: &mut dyn MagicHost) -> Result<MagicOutput, KernelError> {
    let spec = find(id)?;
    let source = host.course().solution(spec.id).map(str::to_owned).ok_or_else(|| {
        err(
            "NoSolution",
            format!(
                "run the exercise cell first: no cell starting with `{}` has run without errors in this session",
                course::marker_line(spec.id)
            ),
        )
    })?;
    let login = current_login()?.ok_or_else(|| {
        err("NotLoggedIn", "no grader configured: run :login URL TOKEN (or set DISTLAB_GRADER_URL and DISTLAB_TOKEN)")
    })?;
    let outbox = Outbox::default_location()
        .ok_or_else(|| err("SubmitFailed", "no home directory for the outbox (set HOME or XDG_DATA_HOME)"))?;
    submit::submit(spec.id, &source, &login, &outbox, &mut HostScreen(host))?;
    Ok(MagicOutput::Shown)
}

/// `:login URL TOKEN`: check the grader and the token, then store both in
/// the user's config dir, readable by the user only.
pub fn login(url: &str, token: &str, _host: &mut dyn MagicHost) -> Result<MagicOutput, KernelError> {
    let url = url.trim_end_matches('/');
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(err(
            "LoginError",
            format!("`{url}` is not a grader address; it looks like https://HOST or http://HOST:PORT"),
        ));
    }
    let login = Login { url: url.to_owned(), token: token.to_owned() };
    let client = Client::new(&login).map_err(|e| err("LoginError", format!("{e}; nothing was saved")))?;
    client.healthz().map_err(|e| err("LoginError", format!("{e}; nothing was saved")))?;
    let exercises = client.exercises().map_err(|e| match e {
        ClientError::Status { code: 401 | 403, .. } => {
            err("LoginError", format!("the grader at {url} does not accept this token; nothing was saved"))
        }
        e => err("LoginError", format!("{e}; nothing was saved")),
    })?;
    let path = grader_client::config_path()
        .ok_or_else(|| err("LoginError", "no config directory (set HOME or XDG_CONFIG_HOME); nothing was saved"))?;
    grader_client::write_login(&path, &login)
        .map_err(|e| err("LoginError", format!("could not write {}: {e}", path.display())))?;
    let mut msg = format!(
        "Logged in to {url} ({} exercises). Saved in {} (readable by you only).",
        exercises.len(),
        path.display()
    );
    if std::env::var_os("DISTLAB_GRADER_URL").is_some() || std::env::var_os("DISTLAB_TOKEN").is_some() {
        msg.push_str("\nNote: DISTLAB_GRADER_URL / DISTLAB_TOKEN are set in the environment and take precedence.");
    }
    Ok(MagicOutput::Display(text(msg)))
}

/// `:grades`: the student's submissions and best scores from the grader.
fn grades() -> Result<MagicOutput, KernelError> {
    let login = current_login()?.ok_or_else(|| {
        err("LoginError", "not logged in: run `:login URL TOKEN` first (your instructor gives you both)")
    })?;
    let grades = Client::new(&login).and_then(|c| c.grades()).map_err(|e| err("GradesError", e.to_string()))?;
    Ok(MagicOutput::Display(crate::grades::display(&grades)))
}

/// `:login` alone: who the kernel submits as, checked against the grader.
/// Never an error, so a notebook's login cell is harmless to run again
/// (or where the environment logs the student in).
fn login_status() -> Result<MagicOutput, KernelError> {
    let from_env = std::env::var_os("DISTLAB_GRADER_URL").is_some() || std::env::var_os("DISTLAB_TOKEN").is_some();
    let login = match current_login() {
        Ok(Some(login)) => login,
        Ok(None) => {
            return Ok(MagicOutput::Display(text(
                "Not logged in yet: run `:login URL TOKEN` with the course server's address and the personal \
                 token your instructor gave you."
                    .into(),
            )))
        }
        Err(e) => return Ok(MagicOutput::Display(text(e.evalue))),
    };
    let source = if from_env { "set by your course environment" } else { "saved by an earlier :login" };
    let state = match Client::new(&login).and_then(|c| c.exercises()) {
        Ok(list) => format!("the grader answers and lists {} exercises", list.len()),
        Err(e) => format!("but right now {e}"),
    };
    Ok(MagicOutput::Display(text(format!("Logged in to {} ({source}); {state}.", login.url))))
}

// ---- kernel magics ----

/// `:doc ITEM`: rust-analyzer hover docs of ITEM, shown in the pager.
fn doc(item: &str, host: &mut dyn MagicHost) -> Result<MagicOutput, KernelError> {
    let item = item.trim();
    if item.is_empty() {
        return Err(KernelError::new("MagicError", "usage: :doc ITEM"));
    }
    match host.hover(item, item.len()) {
        Some((text, html)) if !text.trim().is_empty() => Ok(MagicOutput::Page { text, html }),
        _ => Err(KernelError::new("NotFound", format!("no documentation found for {item}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct NoHost {
        course: CourseState,
        items: Vec<String>,
        shown: Vec<BTreeMap<String, String>>,
    }
    impl MagicHost for NoHost {
        fn hover(&mut self, _: &str, _: usize) -> Option<(String, String)> {
            None
        }
        fn defined_items(&self) -> Vec<String> {
            self.items.clone()
        }
        fn course(&mut self) -> &mut CourseState {
            &mut self.course
        }
        fn show(&mut self, data: BTreeMap<String, String>, _: Option<&str>, _: bool) {
            self.shown.push(data)
        }
        fn interrupted(&self) -> bool {
            false
        }
    }

    #[test]
    fn magics_are_taken_out_and_lines_kept() {
        let p = parse(":exercise ex1\n:dep foo = \"1\"\nlet x = 1;\n:check ex1\nx").unwrap();
        assert_eq!(p.code, "\n:dep foo = \"1\"\nlet x = 1;\n\nx");
        assert_eq!(p.magics.len(), 2);
        assert_eq!(p.magics[0].name, ":exercise");
        assert!(!p.magics[0].after_code);
        assert_eq!(p.magics[1].args, "ex1");
        assert_eq!(p.magics[1].line, 4);
        assert!(p.magics[1].after_code);
    }

    #[test]
    fn rust_paths_are_not_magics() {
        let p = parse("::std::println!(\"hi\");").unwrap();
        assert!(p.magics.is_empty());
    }

    #[test]
    fn unknown_magic_lists_known_ones() {
        let e = parse(":frobnicate 3").unwrap_err();
        assert!(e.evalue.contains(":frobnicate"));
        assert!(e.evalue.contains(":check"));
        assert!(e.evalue.contains(":dep"));
    }

    #[test]
    fn evcxr_command_after_code_is_an_error() {
        assert!(parse("let x = 1;\n:vars").is_err());
    }

    fn run_line(line: &str, host: &mut NoHost) -> Result<MagicOutput, KernelError> {
        run(&parse(line).unwrap().magics[0], host)
    }

    #[test]
    fn unknown_exercise_lists_the_known_ones() {
        for line in [":exercise nope", ":check nope", ":submit nope"] {
            let e = run_line(line, &mut NoHost::default()).unwrap_err();
            assert!(e.evalue.contains("no exercise `nope`") && e.evalue.contains("lamport"), "{line}: {}", e.evalue);
        }
        assert!(run_line(":login http://x", &mut NoHost::default()).unwrap_err().evalue.contains("usage"));
    }

    #[test]
    fn exercise_shows_the_task_and_fills_the_next_cell() {
        let mut host = NoHost::default();
        let out = run_line(":exercise warmup", &mut host).unwrap();
        let MagicOutput::NextInput(cell) = out else { panic!("{out:?}") };
        assert!(cell.starts_with("// exercise: warmup\n") && cell.contains("fn warmup_node"));
        assert!(host.shown[0]["text/html"].contains("Warm-up"));
        // Run again, it shows the task but adds no second solution cell.
        let again = run_line(":exercise warmup", &mut host).unwrap();
        let MagicOutput::Display(note) = again else { panic!("{again:?}") };
        assert!(note["text/plain"].contains("already has the solution cell"), "{note:?}");
        assert_eq!(host.shown.len(), 2, "the task is shown both times");
    }

    #[test]
    fn exercise_adds_no_cell_when_one_already_ran() {
        let mut host = NoHost::default();
        host.course().saw("// exercise: lamport\nfn lamport_node() {}");
        let out = run_line(":exercise lamport", &mut host).unwrap();
        assert!(matches!(out, MagicOutput::Display(_)), "{out:?}");
    }

    #[test]
    fn check_needs_the_solution_item_then_evals_the_check() {
        let mut host = NoHost::default();
        let e = run_line(":check lamport", &mut host).unwrap_err();
        assert!(e.evalue.contains("define `lamport_node` first"), "{}", e.evalue);
        host.items.push("lamport_node".into());
        let out = run_line(":check lamport --scenario \"a b\" --seed 9", &mut host).unwrap();
        assert_eq!(
            out,
            MagicOutput::Eval(
                "distlab::catalogue::render::show(&distlab::catalogue::lamport::check(Box::new(lamport_node), \
                 &distlab::catalogue::Run::replay_for(0, \"a b\", 9)));"
                    .into()
            )
        );
    }

    #[test]
    fn submit_without_a_recorded_cell_says_run_it_first() {
        let e = run_line(":submit warmup", &mut NoHost::default()).unwrap_err();
        assert!(e.evalue.contains("run the exercise cell first"));
    }

    #[test]
    fn login_rejects_non_http_addresses() {
        let e = run_line(":login ftp://x t", &mut NoHost::default()).unwrap_err();
        assert!(e.evalue.contains("http://"));
    }

    #[test]
    fn names_include_both_sets() {
        let names = magic_names();
        assert!(names.contains(&":exercise") && names.contains(&":dep"));
    }
}
