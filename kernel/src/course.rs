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

use distlab::catalogue::{self, ExerciseSpec};
use distlab::html::escape;
use std::collections::{BTreeMap, HashMap};

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
    /// Exercise id -> source of its last successfully run cell.
    solutions: HashMap<String, String>,
    /// (grader URL, exercise id) -> the student's seed.
    pub seeds: HashMap<(String, String), u64>,
}

impl CourseState {
    /// Remember the cell if it is an exercise cell; the exercise id if so.
    pub fn record(&mut self, code: &str) -> Option<String> {
        let id = exercise_marker(code)?.to_owned();
        self.solutions.insert(id.clone(), code.to_owned());
        Some(id)
    }

    pub fn solution(&self, id: &str) -> Option<&str> {
        self.solutions.get(id).map(String::as_str)
    }
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
        assert_eq!(s.record("let x = 1;"), None);
        assert_eq!(s.record("// exercise: warmup\nfn a() {}").as_deref(), Some("warmup"));
        s.record("// exercise: lamport\nfn l() {}");
        s.record("// exercise: warmup\nfn b() {}");
        assert_eq!(s.solution("warmup"), Some("// exercise: warmup\nfn b() {}"));
        assert_eq!(s.solution("lamport"), Some("// exercise: lamport\nfn l() {}"));
        assert_eq!(s.solution("vector"), None);
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
