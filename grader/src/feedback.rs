//! Turning a check report into the stored result, shaped like Gradescope's
//! results.json plus our fields, and the student's view of it (hidden
//! checks show only pass/fail until the deadline).

use distlab::catalogue::{ExerciseSpec, Report, Scope, Visibility};
use distlab::check::Status;
pub use distlab_api::TestResult;
use distlab_api::{CheckStatus, Visibility as Shown, WholeRun};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Cap on the compiler's messages kept in a result.
pub const MAX_OUTPUT: usize = 16 * 1024;

/// Cap on one check's output (its first problem, replay line included).
pub const MAX_TEST_OUTPUT: usize = 4 * 1024;

/// Cap on the diagram kept with a result; a larger one is left out, with a
/// note (the replay line draws it in the notebook).
pub const MAX_DIAGRAM: usize = 512 * 1024;

/// Cap on the replay line.
pub const MAX_REPLAY: usize = 512;

/// Said where a text was cut to its cap.
pub const TRUNCATED: &str = " [truncated]";

/// A stored result (its rows are the API's own type, so what is stored is
/// what the student is sent).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Feedback {
    pub score: Option<f64>,
    pub max_score: f64,
    pub output: String,
    pub tests: Vec<TestResult>,
    pub diagram_svg: Option<String>,
    /// The whole run, when `diagram_svg` is a window of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whole_run: Option<WholeRun>,
    pub replay: Option<String>,
    /// Per failing hidden check (by row name): the properties that failed,
    /// named as in the public checks. All a student may learn of a hidden
    /// failure before the deadline; never a scenario, seed or replay.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hidden_failed: BTreeMap<String, Vec<String>>,
}

pub const HIDDEN_UNTIL_DEADLINE: &str = "Details of hidden checks are shown after the deadline.";

/// The verdict of the checks, with the late rule already applied to the
/// score (`penalty` is the fraction taken off; 1.0 = nothing counts).
pub fn from_report(report: &Report, spec: &ExerciseSpec, penalty: f64, late_note: Option<&str>) -> Feedback {
    let total_weight: u32 = spec.checks.iter().map(|c| c.weight).sum::<u32>().max(1);
    let share = |w: u32| spec.points as f64 * w as f64 / total_weight as f64;
    let mut tests = Vec::new();
    let mut passed = 0;
    for r in report.results(spec, Scope::All) {
        let ok = r.status == Status::Pass;
        passed += ok as usize;
        let output = match (&r.first_problem, r.status) {
            (Some(v), _) => format!("{}\nscenario '{}', seed {}\nreplay: {}", v.message, v.scenario, v.seed, v.replay),
            (None, Status::Pass) => format!("passed ({} run{})", r.runs, if r.runs == 1 { "" } else { "s" }),
            (None, _) => "not run".into(),
        };
        let output = capped(output, MAX_TEST_OUTPUT);
        tests.push(TestResult {
            name: r.name,
            score: if ok { share(r.weight) } else { 0.0 },
            max_score: share(r.weight),
            status: if ok { CheckStatus::Passed } else { CheckStatus::Failed },
            output,
            visibility: match r.visibility {
                Visibility::Public => Shown::Visible,
                Visibility::Hidden => Shown::AfterDueDate,
            },
        });
    }
    let raw = report.score(spec, Scope::All);
    let score = raw * (1.0 - penalty.clamp(0.0, 1.0));
    // The replay of the first row, whose run the diagram draws.
    let replay = report.lead(spec).map(|v| v.replay.clone());
    let mut output = format!("{passed} of {} checks passed: {raw:.2} of {} points.", tests.len(), spec.points);
    if let Some(note) = late_note {
        output.push_str(&format!("\n{note} Score after the late rule: {score:.2}."));
    }
    let diagram_svg = match &report.diagram {
        Some(d) if d.svg.len() > MAX_DIAGRAM => {
            output.push_str(&format!(
                "\nThe diagram of the failing run is larger than {} KiB and was not kept; the replay line draws it \
                 in the notebook.",
                MAX_DIAGRAM >> 10
            ));
            None
        }
        other => other.as_ref().map(|d| d.svg.clone()),
    };
    // The whole run behind the window, if both fit in the diagram's cap.
    let whole = report.diagram.as_ref().and_then(|d| d.whole.as_deref()).filter(|_| diagram_svg.is_some());
    let whole_run = match whole {
        Some(w) if w.svg.len() + diagram_svg.as_ref().map_or(0, String::len) > MAX_DIAGRAM => {
            output.push_str(&format!(
                "\nThe diagram shows the part of the run around the failure; the whole run is larger than {} KiB and \
                 was not kept: the replay line draws it in the notebook.",
                MAX_DIAGRAM >> 10
            ));
            None
        }
        Some(w) => Some(WholeRun { summary: w.summary.clone(), svg: w.svg.clone() }),
        None => None,
    };
    Feedback {
        score: Some(score),
        max_score: spec.points as f64,
        output,
        tests,
        diagram_svg,
        whole_run,
        replay: replay.map(|r| capped(r, MAX_REPLAY)),
        hidden_failed: hidden_failed(report, spec),
    }
}

/// For each failing hidden check, the properties that failed: the check's
/// own name, or for hidden scenarios (whose verdicts read "property:
/// message") the public checks they ran. Only names from the spec are
/// kept, so nothing of the scenario can slip through.
fn hidden_failed(report: &Report, spec: &ExerciseSpec) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in report.results(spec, Scope::All) {
        if r.visibility != Visibility::Hidden || r.status == Status::Pass {
            continue;
        }
        let failing: Vec<&str> =
            report.verdicts.iter().filter(|v| v.check == r.name && !v.passed()).map(|v| v.message.as_str()).collect();
        let named: Vec<String> = spec
            .checks
            .iter()
            .filter(|c| c.visibility == Visibility::Public)
            .filter(|c| failing.iter().any(|m| m.starts_with(&format!("{}: ", c.name))))
            .map(|c| c.name.to_owned())
            .collect();
        // A hidden check of its own (not a hidden run of public checks)
        // names its property itself.
        let own = named.is_empty() && r.name != distlab::catalogue::runs::HIDDEN_CHECK;
        out.insert(r.name.clone(), if own { vec![r.name] } else { named });
    }
    out
}

/// What a student reads of a failing hidden check before the deadline.
fn hidden_row(properties: Option<&Vec<String>>) -> String {
    match properties {
        Some(names) if !names.is_empty() => {
            let names: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
            format!("Failed: {} did not hold in a hidden run. {HIDDEN_UNTIL_DEADLINE}", names.join(", "))
        }
        _ => HIDDEN_UNTIL_DEADLINE.into(),
    }
}

/// A compile error: the (capped) messages, no score, not an attempt.
pub fn compile_error(spec: &ExerciseSpec, diagnostics: &str, truncated: bool) -> Feedback {
    let mut output = String::from("Your code did not compile (this does not count as an attempt).\n\n");
    output.push_str(cap(diagnostics, MAX_OUTPUT));
    if truncated || diagnostics.len() > MAX_OUTPUT {
        output.push_str("\n[compiler output truncated]");
    }
    Feedback {
        score: None,
        max_score: spec.points as f64,
        output,
        tests: Vec::new(),
        diagram_svg: None,
        whole_run: None,
        replay: None,
        hidden_failed: BTreeMap::new(),
    }
}

/// The grader could not judge the submission (not the student's fault, or
/// a submission the grader refuses): a clear sentence, no score.
pub fn error(spec: &ExerciseSpec, why: &str) -> Feedback {
    Feedback {
        score: Some(0.0),
        max_score: spec.points as f64,
        output: capped(why.to_owned(), MAX_OUTPUT),
        tests: Vec::new(),
        diagram_svg: None,
        whole_run: None,
        replay: None,
        hidden_failed: BTreeMap::new(),
    }
}

/// `s` cut to at most `max` bytes (plus the truncation mark).
pub fn capped(s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    format!("{}{TRUNCATED}", cap(&s, max))
}

fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Feedback {
    /// What the student sees: before the deadline, hidden checks keep only
    /// their status and score.
    pub fn for_student(mut self, deadline_passed: bool) -> Feedback {
        if !deadline_passed {
            let mut failed = Vec::new();
            for t in &mut self.tests {
                if t.visibility != Shown::AfterDueDate {
                    continue;
                }
                let properties = self.hidden_failed.get(&t.name).filter(|_| t.status == CheckStatus::Failed);
                failed.extend(properties.into_iter().flatten().cloned());
                t.output = hidden_row(properties);
            }
            let mut seen = std::collections::BTreeSet::new();
            failed.retain(|n| seen.insert(n.clone()));
            if !failed.is_empty() {
                let names: Vec<String> = failed.iter().map(|n| format!("'{n}'")).collect();
                self.output.push_str(&format!(
                    "\nHidden checks failed on: {}. Read the task's rule for each and ask what a larger or harsher \
                     run than the public ones would do to your solution.",
                    names.join(", ")
                ));
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use distlab::catalogue::{warmup, Report};
    use distlab::check::{Status, Verdict};

    use super::*;

    fn verdict(check: &str, ok: bool) -> Verdict {
        Verdict {
            check: check.into(),
            status: if ok { Status::Pass } else { Status::Fail },
            message: format!("{check} message"),
            event: None,
            at: None,
            seed: 9,
            scenario: "s".into(),
            replay: format!(":check warmup --scenario s --seed 9 ({check})"),
            node: None,
        }
    }

    #[test]
    fn scores_by_weight_redacts_hidden_and_applies_the_penalty() {
        let spec = &warmup::SPEC;
        let hidden = spec.checks.iter().find(|c| c.visibility == Visibility::Hidden).unwrap().name;
        let mut verdicts: Vec<Verdict> = spec.checks.iter().map(|c| verdict(c.name, true)).collect();
        verdicts.push(verdict(hidden, false));
        verdicts.push(verdict("node 0 hears from everyone", false));
        let report = Report { exercise: "warmup".into(), verdicts, diagram: Some("<svg/>".into()) };
        let fb = from_report(&report, spec, 0.0, None);
        assert_eq!(fb.score, Some(2.0)); // only "every pong answers a ping" (2 of 5)
        assert_eq!(fb.replay.as_deref(), Some(":check warmup --scenario s --seed 9 (node 0 hears from everyone)"));
        let h = fb.tests.iter().find(|t| t.name == hidden).unwrap();
        assert!(h.output.contains(&format!("{hidden} message")));
        let shown = fb.clone().for_student(false);
        let h = shown.tests.iter().find(|t| t.name == hidden).unwrap();
        assert_eq!((h.output.as_str(), h.status), (HIDDEN_UNTIL_DEADLINE, CheckStatus::Failed));
        assert_eq!(fb.clone().for_student(true), fb);
        assert_eq!(from_report(&report, spec, 0.25, Some("late")).score, Some(1.5));
    }

    #[test]
    fn a_failed_node_is_the_first_row_and_gives_the_replay() {
        let spec = &warmup::SPEC;
        let mut verdicts: Vec<Verdict> = spec.checks.iter().map(|c| verdict(c.name, true)).collect();
        let late =
            Verdict { event: Some(40), scenario: "first".into(), ..verdict("node 0 hears from everyone", false) };
        let crash = Verdict {
            message: "node 4 failed in ctx.send: sent to node 5".into(),
            event: Some(3),
            scenario: "second".into(),
            replay: ":check warmup --scenario second --seed 9".into(),
            ..verdict(distlab::check::NODES_RUN_CLEANLY, false)
        };
        verdicts.extend([late, crash]);
        let report = Report { exercise: "warmup".into(), verdicts, diagram: None };
        let fb = from_report(&report, spec, 0.0, None);
        assert_eq!(fb.tests[0].name, distlab::check::NODES_RUN_CLEANLY);
        assert!(fb.tests[0].output.starts_with("node 4 failed in ctx.send"), "{}", fb.tests[0].output);
        assert_eq!(fb.replay.as_deref(), Some(":check warmup --scenario second --seed 9"));
    }

    #[test]
    fn a_hidden_failure_names_the_property_and_nothing_of_the_run() {
        let spec = &distlab::catalogue::lamport::SPEC;
        let mut verdicts: Vec<Verdict> = spec.checks.iter().map(|c| verdict(c.name, true)).collect();
        verdicts.push(Verdict {
            message: format!("{}: node 6 recorded 3 for tick 2 after 5", distlab::catalogue::lamport::CONDITION),
            scenario: "7 nodes, wide delays".into(),
            seed: 424242,
            replay: ":check lamport --scenario \"7 nodes, wide delays\" --seed 424242".into(),
            ..verdict(distlab::catalogue::runs::HIDDEN_CHECK, false)
        });
        let report = Report { exercise: "lamport".into(), verdicts, diagram: None };
        let shown = from_report(&report, spec, 0.0, None).for_student(false);
        let row = shown.tests.iter().find(|t| t.name == distlab::catalogue::runs::HIDDEN_CHECK).unwrap();
        assert!(row.output.contains("'clock condition' did not hold"), "{}", row.output);
        assert!(shown.output.contains("'clock condition'"), "{}", shown.output);
        let all = serde_json::to_string(&(&shown.output, &shown.tests, &shown.replay, &shown.diagram_svg)).unwrap();
        for secret in ["424242", "wide delays", "node 6", "--scenario"] {
            assert!(!all.contains(secret), "'{secret}' leaked: {all}");
        }
    }

    #[test]
    fn the_whole_run_is_kept_beside_its_window_while_both_fit_the_cap() {
        let spec = &warmup::SPEC;
        let windowed = |whole_len: usize| Report {
            exercise: "warmup".into(),
            verdicts: spec.checks.iter().map(|c| verdict(c.name, false)).collect(),
            diagram: Some(distlab::diagram::Diagram {
                svg: "<svg>window</svg>".into(),
                whole: Some(Box::new(distlab::diagram::WholeRun {
                    summary: "Show the whole run (103 events)".into(),
                    svg: "x".repeat(whole_len),
                })),
            }),
        };
        let fb = from_report(&windowed(1000), spec, 0.0, None);
        assert_eq!(fb.diagram_svg.as_deref(), Some("<svg>window</svg>"));
        assert_eq!(fb.whole_run.as_ref().map(|w| w.svg.len()), Some(1000));
        assert_eq!(fb.whole_run.unwrap().summary, "Show the whole run (103 events)");
        // Too big beside the window: the window stays, the whole run goes, and the output says so.
        let fb = from_report(&windowed(MAX_DIAGRAM), spec, 0.0, None);
        assert!(fb.diagram_svg.is_some() && fb.whole_run.is_none());
        assert!(fb.output.contains("the whole run is larger than 512 KiB"), "{}", fb.output);
    }

    #[test]
    fn compile_errors_are_capped() {
        let fb = compile_error(&warmup::SPEC, &"é".repeat(MAX_OUTPUT), false);
        assert!(fb.output.len() < MAX_OUTPUT + 200 && fb.output.ends_with("[compiler output truncated]"));
        assert_eq!(fb.score, None);
    }
}
