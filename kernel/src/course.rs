//! The course side of the magics: which cells belong to an exercise, how an
//! exercise is shown, and the Rust code `:check` runs in the session.
//!
//! # Exercise cells
//!
//! A cell belongs to exercise ID when its first non-empty line, after the
//! kernel's own magic lines are blanked out, is the marker
//! `// exercise: ID`. `:exercise ID` puts the scaffold into a new cell with
//! that marker on top. Each time such a cell runs without an error (it
//! compiled, and did not panic), the kernel remembers its source (magic lines
//! blanked) as the exercise's solution, replacing the one before; `:submit
//! ID` sends that source. So the rule for students: keep the whole solution
//! of an exercise in one cell that starts with the marker, and run it before
//! `:submit`. The rule needs no cell ids, so it works the same in JupyterLab,
//! classic Notebook, VS Code and headless nbclient.
//!
//! Two guards keep that rule from biting: `:exercise` adds no cell when the
//! notebook already has one for the exercise (seen running, added before, or
//! in the saved notebook file), and a cell that replaces a solution from
//! another cell (JupyterLab sends cell ids), or replaces a real solution with
//! the untouched starter, says so in its output.

use distlab::catalogue::{self, ExerciseSpec};
use distlab::html::escape;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

pub const MARKER_PREFIX: &str = "exercise:";

/// The exercise a cell belongs to: its first non-empty line is
/// `// exercise: ID`.
pub fn exercise_marker(code: &str) -> Option<&str> {
    let first = code.lines().map(str::trim).find(|l| !l.is_empty())?;
    let rest = first.strip_prefix("//")?.trim_start();
    let id = rest.strip_prefix(MARKER_PREFIX)?.trim();
    let valid = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then_some(id)
}

/// The marker line for exercise `id`.
pub fn marker_line(id: &str) -> String {
    format!("// {MARKER_PREFIX} {id}")
}

/// The scaffold as it goes into the next cell: with the marker on top.
pub fn scaffold_cell(spec: &ExerciseSpec) -> String {
    if exercise_marker(spec.scaffold) == Some(spec.id) {
        return spec.scaffold.to_owned();
    }
    format!("{}\n{}", marker_line(spec.id), spec.scaffold)
}

/// What the kernel keeps per session about the course.
#[derive(Default)]
pub struct CourseState {
    /// Exercise id -> its last successfully run cell.
    solutions: HashMap<String, Solution>,
    /// Exercise ids with a cell in this notebook: seen running (with or
    /// without errors) or put there by `:exercise`.
    cells: HashSet<String>,
    /// The notebook file this kernel serves, when the frontend says.
    pub notebook: Option<PathBuf>,
    /// (grader URL, exercise id) -> the student's seed.
    pub seeds: HashMap<(String, String), u64>,
}

struct Solution {
    source: String,
    /// The frontend's id of the cell (JupyterLab sends one), if known.
    cell: Option<String>,
}

/// A cell taken as an exercise's solution, and what the student should
/// know about it.
#[derive(Debug, PartialEq, Eq)]
pub struct Recorded {
    pub id: String,
    pub note: Option<String>,
}

impl CourseState {
    pub fn for_notebook(notebook: Option<PathBuf>) -> CourseState {
        CourseState { notebook, ..CourseState::default() }
    }

    /// A cell is about to run: note which exercise it belongs to.
    pub fn saw(&mut self, code: &str) {
        if let Some(id) = exercise_marker(code) {
            self.cells.insert(id.to_owned());
        }
    }

    /// `:exercise` put a solution cell for `id` into the notebook.
    pub fn offered(&mut self, id: &str) {
        self.cells.insert(id.to_owned());
    }

    /// Whether the notebook already has a solution cell for `id`: one ran
    /// in this session, `:exercise` added one, or the saved notebook holds one.
    pub fn has_cell(&self, id: &str) -> bool {
        self.cells.contains(id) || self.notebook.as_deref().is_some_and(|nb| notebook_has_exercise_cell(nb, id))
    }

    /// Remember the cell if it is an exercise cell (it ran without errors).
    /// When it replaces a solution the student may still want, the note
    /// says so: another cell's, or a real solution replaced by the
    /// untouched starter.
    pub fn record(&mut self, code: &str, cell: Option<&str>) -> Option<Recorded> {
        let id = exercise_marker(code)?.to_owned();
        let note = self.solutions.get(&id).and_then(|before| replacement_note(&id, before, code, cell));
        self.solutions.insert(id.clone(), Solution { source: code.to_owned(), cell: cell.map(str::to_owned) });
        Some(Recorded { id, note })
    }

    pub fn solution(&self, id: &str) -> Option<&str> {
        self.solutions.get(id).map(|s| s.source.as_str())
    }
}

fn replacement_note(id: &str, before: &Solution, code: &str, cell: Option<&str>) -> Option<String> {
    if same_code(&before.source, code) {
        return None;
    }
    let use_line = format!("`:check {id}` and `:submit {id}` now use this cell");
    if is_untouched_starter(id, code) && !is_untouched_starter(id, &before.source) {
        return Some(format!(
            "note: this is the unchanged starter of `{id}`, and it replaced the solution you ran before: {use_line}. \
             Run the cell with your solution again to use it."
        ));
    }
    match (&before.cell, cell) {
        (Some(a), Some(b)) if a != b => Some(format!(
            "note: another cell held the solution of `{id}` until now; {use_line}. Keep one solution cell per exercise."
        )),
        _ => None,
    }
}

/// Code compared line by line, ignoring indentation and blank lines.
fn same_code(a: &str, b: &str) -> bool {
    let lines = |s: &str| s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n");
    lines(a) == lines(b)
}

fn is_untouched_starter(id: &str, code: &str) -> bool {
    catalogue::exercise(id).is_some_and(|spec| same_code(&scaffold_cell(spec), code))
}

/// The notebook this kernel serves: Jupyter Server names it (relative to
/// its root) in `JPY_SESSION_NAME` (passed here), and starts the kernel in
/// its folder.
pub fn session_notebook(session_name: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let name = PathBuf::from(session_name?);
    if name.is_absolute() {
        return Some(name);
    }
    let here = std::env::current_dir().ok()?.join(name.file_name()?);
    here.exists().then_some(here)
}

/// Whether the saved notebook has a code cell that starts with the marker
/// of `id`. Unreadable or malformed files count as no.
pub fn notebook_has_exercise_cell(path: &Path, id: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    let Ok(nb) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    let cells = nb["cells"].as_array().map(Vec::as_slice).unwrap_or_default();
    cells.iter().filter(|c| c["cell_type"] == "code").any(|c| {
        let source = match &c["source"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(lines) => lines.iter().filter_map(|l| l.as_str()).collect(),
            _ => String::new(),
        };
        exercise_marker(&source) == Some(id)
    })
}

pub fn known_ids() -> String {
    catalogue::registry().iter().map(|e| e.id).collect::<Vec<_>>().join(", ")
}

pub fn find(id: &str) -> Result<&'static ExerciseSpec, String> {
    catalogue::exercise(id).ok_or_else(|| format!("there is no exercise `{id}`; the exercises are: {}", known_ids()))
}

/// The names the solution expression needs from the student's session:
/// the lower-case identifiers that are not part of a path, e.g.
/// `warmup_node` in `Box::new(warmup_node)`.
pub fn solution_items(solution: &str) -> Vec<String> {
    let bytes = solution.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &solution[start..i];
            let in_path = solution[..start].ends_with("::") || solution[i..].starts_with("::");
            let lower = word.starts_with(|c: char| c.is_ascii_lowercase() || c == '_');
            if !in_path && lower && !items.iter().any(|w| w == word) {
                items.push(word.to_owned());
            }
        } else {
            i += 1;
        }
    }
    items
}

/// Arguments of `:check ID [--scenario S] [--seed N]`.
#[derive(Debug, PartialEq, Eq)]
pub struct CheckArgs {
    pub id: String,
    pub scenario: Option<String>,
    pub seed: Option<u64>,
}

/// Split arguments like a shell: whitespace separates, double quotes group.
pub fn split_args(args: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in args.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err("a double quote is not closed".into());
    }
    if any {
        out.push(cur);
    }
    Ok(out)
}

pub fn parse_check_args(args: &str) -> Result<CheckArgs, String> {
    const USAGE: &str = "usage: :check ID [--scenario \"NAME\"] [--seed N]";
    let words = split_args(args).map_err(|e| format!("{e}; {USAGE}"))?;
    let mut it = words.into_iter();
    let id = it.next().filter(|w| !w.starts_with("--")).ok_or(USAGE)?;
    let mut parsed = CheckArgs { id, scenario: None, seed: None };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        match flag.as_str() {
            "--scenario" => parsed.scenario = Some(value),
            "--seed" => {
                parsed.seed = Some(value.parse().map_err(|_| format!("--seed wants a whole number, not `{value}`"))?)
            }
            other => return Err(format!("unknown option {other}; {USAGE}")),
        }
    }
    if parsed.scenario.is_some() && parsed.seed.is_none() {
        return Err(format!("--scenario needs --seed too (copy the whole replay line); {USAGE}"));
    }
    Ok(parsed)
}

/// What `:check` runs: the public checks for a student seed, or one run
/// of a replay line.
#[derive(Debug, Clone, PartialEq)]
pub enum RunChoice<'a> {
    Public(u64),
    Replay { student: u64, scenario: &'a str, seed: u64 },
}

/// The `Run` expression `:check` uses.
pub fn run_expr(run: &RunChoice) -> String {
    match run {
        RunChoice::Replay { student, scenario, seed } => {
            format!("distlab::catalogue::Run::replay_for({student}, {scenario:?}, {seed})")
        }
        RunChoice::Public(seed) => format!("distlab::catalogue::Run::public({seed})"),
    }
}

/// Rust code that checks the session's solution and shows the report.
pub fn check_code(spec: &ExerciseSpec, run: &RunChoice) -> String {
    format!("distlab::catalogue::render::show(&{});", spec.check_call(&run_expr(run)))
}

/// The little Markdown the task texts use: paragraphs, `code`, **bold**.
pub fn markdown_html(md: &str) -> String {
    let mut html = String::new();
    for para in md.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let mut out = String::new();
        let mut code = false;
        for (i, piece) in escape(para).split('`').enumerate() {
            if i > 0 {
                out.push_str(if code { "</code>" } else { "<code>" });
                code = !code;
            }
            if code {
                out.push_str(piece);
            } else {
                for (j, part) in piece.split("**").enumerate() {
                    if j > 0 {
                        out.push_str(if j % 2 == 1 { "<b>" } else { "</b>" });
                    }
                    out.push_str(part);
                }
                if piece.matches("**").count() % 2 == 1 {
                    out.push_str("</b>");
                }
            }
        }
        if code {
            out.push_str("</code>");
        }
        html.push_str(&format!("<p style=\"margin:4px 0\">{out}</p>\n"));
    }
    html
}

/// Deadlines the grader gave for an exercise, if any.
#[derive(Default, Debug)]
pub struct Deadlines {
    pub deadline: Option<String>,
    pub late_deadline: Option<String>,
    /// Why there are none, if the grader was asked and failed.
    pub note: Option<String>,
}

/// `:exercise ID` as rich output: text/html and text/plain.
pub fn exercise_display(spec: &ExerciseSpec, deadlines: &Deadlines) -> BTreeMap<String, String> {
    let mut due = Vec::new();
    if let Some(d) = &deadlines.deadline {
        due.push(format!("due {d}"));
    }
    if let Some(d) = &deadlines.late_deadline {
        due.push(format!("late submissions until {d}"));
    }
    let due = due.join("; ");
    let solution = solution_items(spec.solution).join("`, `");
    let mut text = format!(
        "{} ({}), notebook {}, {} points\n{}\n\n{}\n\nDefine `{solution}` in a cell that starts with `{}` \
         (the next cell holds a scaffold), run it, then `:check {}`; `:submit {}` sends it for grading.\n",
        spec.title,
        spec.id,
        spec.notebook,
        spec.points,
        if due.is_empty() { String::new() } else { format!("{due}\n") },
        spec.task,
        marker_line(spec.id),
        spec.id,
        spec.id
    );
    if let Some(note) = &deadlines.note {
        text.push_str(&format!("({note})\n"));
    }
    let mut html = format!(
        "<div class=\"distlab-exercise\" style=\"font-family:sans-serif\">\
         <h4 style=\"margin:4px 0\">{} <code>{}</code></h4>\
         <p style=\"margin:4px 0\">Notebook {}, {} points{}</p>\n{}",
        escape(spec.title),
        escape(spec.id),
        spec.notebook,
        spec.points,
        if due.is_empty() { String::new() } else { format!(" &middot; <b>{}</b>", escape(&due)) },
        markdown_html(spec.task)
    );
    html.push_str(&format!(
        "<p style=\"margin:4px 0\">Define <code>{}</code> in a cell whose first line is <code>{}</code> \
         (the next cell holds a scaffold), run it, then <code>:check {}</code>; \
         <code>:submit {}</code> sends it for grading.</p>\n",
        escape(&solution).replace("`, `", "</code>, <code>"),
        escape(&marker_line(spec.id)),
        escape(spec.id),
        escape(spec.id)
    ));
    if let Some(note) = &deadlines.note {
        html.push_str(&format!("<p style=\"margin:4px 0;color:#666\">{}</p>\n", escape(note)));
    }
    html.push_str("</div>\n");
    BTreeMap::from([("text/html".to_owned(), html), ("text/plain".to_owned(), text)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_the_first_non_empty_line() {
        assert_eq!(exercise_marker("// exercise: lamport\nfn f() {}"), Some("lamport"));
        assert_eq!(exercise_marker("\n\n   //exercise:warmup  \nfn f() {}"), Some("warmup"));
        assert_eq!(exercise_marker("fn f() {}\n// exercise: lamport"), None);
        assert_eq!(exercise_marker("// exercise: two words"), None);
        assert_eq!(exercise_marker("// exercise:"), None);
        assert_eq!(exercise_marker("// an exercise: lamport"), None);
        assert_eq!(exercise_marker(""), None);
    }

    #[test]
    fn last_successful_cell_wins_per_exercise() {
        let mut s = CourseState::default();
        assert_eq!(s.record("let x = 1;", None), None);
        assert_eq!(s.record("// exercise: warmup\nfn a() {}", None).map(|r| r.id).as_deref(), Some("warmup"));
        s.record("// exercise: lamport\nfn l() {}", None);
        s.record("// exercise: warmup\nfn b() {}", None);
        assert_eq!(s.solution("warmup"), Some("// exercise: warmup\nfn b() {}"));
        assert_eq!(s.solution("lamport"), Some("// exercise: lamport\nfn l() {}"));
        assert_eq!(s.solution("vector"), None);
    }

    #[test]
    fn a_solution_replaced_from_another_cell_or_by_the_starter_is_told() {
        let starter = scaffold_cell(catalogue::exercise("warmup").unwrap());
        let answer = "// exercise: warmup\nfn answer() {}";
        let mut s = CourseState::default();
        assert_eq!(s.record(answer, Some("cell-a")).unwrap().note, None);
        // The same cell run again, edited or not: nothing to say.
        assert_eq!(s.record(&format!("{answer}\n"), Some("cell-a")).unwrap().note, None);
        assert_eq!(s.record("// exercise: warmup\nfn better() {}", Some("cell-a")).unwrap().note, None);
        // Another cell takes over.
        let note = s.record(answer, Some("cell-b")).unwrap().note.unwrap();
        assert!(note.contains("another cell") && note.contains(":submit warmup"), "{note}");
        // The untouched starter replaces an answer, with or without cell ids.
        for (cell_before, cell_now) in [(Some("cell-b"), Some("cell-c")), (None, None)] {
            s.record(answer, cell_before);
            let note = s.record(&starter, cell_now).unwrap().note.unwrap();
            assert!(note.contains("unchanged starter"), "{note}");
        }
        // The starter replacing the starter is no news.
        assert_eq!(s.record(&starter, Some("cell-d")).unwrap().note, None);
    }

    #[test]
    fn the_saved_notebook_tells_which_exercise_cells_exist() {
        let dir = std::env::temp_dir().join(format!("distlab-nb-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let nb = dir.join("07-mutex.ipynb");
        let cells = serde_json::json!({"cells": [
            {"cell_type": "markdown", "source": "// exercise: ring"},
            {"cell_type": "code", "source": ["\n", "// exercise: central\n", "fn f() {}"]},
            {"cell_type": "code", "source": "// exercise: ricart\nfn g() {}"},
        ]});
        std::fs::write(&nb, cells.to_string()).unwrap();
        assert!(notebook_has_exercise_cell(&nb, "central") && notebook_has_exercise_cell(&nb, "ricart"));
        assert!(!notebook_has_exercise_cell(&nb, "ring"), "a markdown cell is no solution cell");
        assert!(!notebook_has_exercise_cell(&dir.join("missing.ipynb"), "central"));
        std::fs::write(&nb, "{ not json").unwrap();
        assert!(!notebook_has_exercise_cell(&nb, "central"));

        let mut s = CourseState::default();
        assert!(!s.has_cell("warmup"));
        s.saw("// exercise: warmup\nthis does not compile");
        assert!(s.has_cell("warmup"));
        s.offered("lamport");
        assert!(s.has_cell("lamport"));
        std::fs::write(&nb, cells.to_string()).unwrap();
        s.notebook = Some(nb);
        assert!(s.has_cell("central") && !s.has_cell("vector"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_scaffold_cell_carries_its_marker() {
        for spec in catalogue::registry() {
            let cell = scaffold_cell(spec);
            assert_eq!(exercise_marker(&cell), Some(spec.id), "{}", spec.id);
            assert!(cell.ends_with(spec.scaffold.trim_start_matches(&marker_line(spec.id))));
        }
    }

    #[test]
    fn solution_items_are_the_free_names() {
        assert_eq!(solution_items("Box::new(warmup_node)"), ["warmup_node"]);
        assert_eq!(solution_items("worst_case_hops"), ["worst_case_hops"]);
        assert_eq!(
            solution_items("distlab::catalogue::tmr::Solution { tmr_max_masked, tmr_always_masked }"),
            ["tmr_max_masked", "tmr_always_masked"]
        );
        for spec in catalogue::registry() {
            assert!(!solution_items(spec.solution).is_empty(), "{}", spec.id);
        }
    }

    #[test]
    fn check_args_take_a_replay_line() {
        assert_eq!(
            parse_check_args("lamport").unwrap(),
            CheckArgs { id: "lamport".into(), scenario: None, seed: None }
        );
        assert_eq!(
            parse_check_args("warmup --scenario \"30% loss\" --seed 17").unwrap(),
            CheckArgs { id: "warmup".into(), scenario: Some("30% loss".into()), seed: Some(17) }
        );
        assert_eq!(parse_check_args("hops --seed 3").unwrap().seed, Some(3));
        assert!(parse_check_args("").is_err());
        assert!(parse_check_args("--seed 3").is_err());
        assert!(parse_check_args("x --seed many").unwrap_err().contains("whole number"));
        assert!(parse_check_args("x --scenario \"open").unwrap_err().contains("quote"));
        assert!(parse_check_args("x --scenario s").unwrap_err().contains("--seed"));
        assert!(parse_check_args("x --frob 1").unwrap_err().contains("unknown option"));
    }

    #[test]
    fn check_code_calls_the_exercise_check() {
        let spec = catalogue::exercise("warmup").unwrap();
        assert_eq!(
            check_code(spec, &RunChoice::Replay { student: 7, scenario: "30% loss", seed: 4 }),
            "distlab::catalogue::render::show(&distlab::catalogue::warmup::check(Box::new(warmup_node), \
             &distlab::catalogue::Run::replay_for(7, \"30% loss\", 4)));"
        );
        assert!(check_code(spec, &RunChoice::Public(0)).contains("Run::public(0)"));
    }

    #[test]
    fn exercise_display_has_task_and_deadline() {
        let spec = catalogue::exercise("warmup").unwrap();
        let d = Deadlines { deadline: Some("2026-12-01T23:59:00Z".into()), ..Default::default() };
        let out = exercise_display(spec, &d);
        assert!(out["text/plain"].contains(spec.title) && out["text/plain"].contains("due 2026-12-01"));
        assert!(out["text/html"].contains("<code>WarmupMsg</code>"));
        assert!(out["text/html"].contains("5 points"));
        assert!(!exercise_display(spec, &Deadlines::default())["text/plain"].contains("due"));
    }

    #[test]
    fn markdown_escapes_and_formats() {
        assert_eq!(markdown_html("a `x<y` **b**"), "<p style=\"margin:4px 0\">a <code>x&lt;y</code> <b>b</b></p>\n");
    }
}
