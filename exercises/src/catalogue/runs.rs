//! Running an algorithm exercise: every scenario of the requested scope,
//! each with several seeds derived from the student's seed, every trace
//! judged by the exercise's monitors. One implementation, used by `:check`
//! in the kernel and by the grader.

use std::rc::Rc;

use crate::check::{check_trace, Monitor, Provenance, Status, Verdict, NODES_RUN_CLEANLY};
use crate::diagram::{Diagram, DiagramOptions, Highlight};
use crate::process::{Message, NodeFactory};
use crate::rng::{Draw, SeededRng};
use crate::scenario::Scenario;
use crate::sim::simulate_with;
use crate::trace::Trace;

use super::{Report, Run};

/// Name under which every verdict from a hidden scenario is reported: a
/// hidden scenario shows only pass or fail until the deadline, so its
/// monitors don't get separate rows.
pub const HIDDEN_CHECK: &str = "hidden scenarios";

/// A scenario and how many seeds it runs with.
#[derive(Clone, Debug)]
pub struct ScenarioRuns {
    pub scenario: Scenario,
    pub runs: u64,
    pub hidden: bool,
}

impl ScenarioRuns {
    pub fn public(scenario: Scenario, runs: u64) -> Self {
        ScenarioRuns { scenario, runs, hidden: false }
    }
    pub fn hidden(scenario: Scenario, runs: u64) -> Self {
        ScenarioRuns { scenario, runs, hidden: true }
    }
}

/// The seed of run `index` of `scenario` for a student's `seed`: spread so
/// that neighbouring students get unrelated runs.
pub fn run_seed(seed: u64, scenario: &str, index: u64) -> u64 {
    let stream = crate::stable_hash::hash_hex(scenario.as_bytes());
    let stream = u64::from_str_radix(&stream, 16).expect("hex");
    let mut rng = SeededRng::new(seed, stream);
    let mut value = 0;
    for _ in 0..=index {
        value = rng.next_u64() >> 16; // short enough to read and type
    }
    value
}

/// Runs and judges `scenarios` for `run`. `monitors` makes fresh monitors
/// for a scenario.
pub fn check_runs<M: Message>(
    exercise: &str,
    factory: Box<NodeFactory<M>>,
    scenarios: Vec<ScenarioRuns>,
    monitors: impl Fn(&Scenario) -> Vec<Box<dyn Monitor<M>>>,
    run: &Run,
) -> Report {
    let factory: Rc<NodeFactory<M>> = Rc::from(factory);
    let mut verdicts = Vec::new();
    let spec = super::exercise(exercise);
    let shown = |v: &Verdict| spec.is_none_or(|spec| spec.shows_details(&v.check));
    let mut kept = KeptTraces::default();
    // The checks' names, for a replay line naming a scenario that is not
    // here; only a replay needs them.
    let scenarios_checks: Vec<String> = match (&run.only, scenarios.first()) {
        (Some(_), Some(s)) => monitors(&s.scenario).iter().map(|m| m.name()).collect(),
        _ => Vec::new(),
    };
    for s in scenarios {
        let in_scope = if s.hidden { run.scope.runs_hidden() } else { run.scope.runs_public() };
        if !in_scope {
            continue;
        }
        let seeds: Vec<u64> = match &run.only {
            Some(only) if only.scenario != s.scenario.name => continue,
            Some(only) => vec![only.seed],
            None => (0..s.runs).map(|i| run_seed(run.seed, &s.scenario.name, i)).collect(),
        };
        for seed in seeds {
            let trace = match simulate_with(&s.scenario, seed, Rc::clone(&factory)) {
                Ok(trace) => trace,
                Err(e) => panic!("catalogue scenario is invalid: {e}"),
            };
            let replay = format!(":check {exercise} --scenario \"{}\" --seed {seed}", s.scenario.name);
            let mut judged = check_trace(&trace, &monitors(&s.scenario), &Provenance::of(&trace, replay));
            if s.hidden {
                for v in &mut judged {
                    v.message = format!("{}: {}", v.check, v.message);
                    v.check = HIDDEN_CHECK.to_owned();
                }
            }
            if !s.hidden {
                kept.offer(trace, judged.iter().filter(|v| shown(v)).collect());
            }
            verdicts.extend(judged);
        }
    }
    if let (Some(only), true) = (&run.only, verdicts.is_empty()) {
        verdicts = no_such_scenario(exercise, only, &scenarios_checks);
    }
    // The diagram is of the lead's run, the one the report's first row and
    // replay line name.
    let lead = crate::check::lead_verdict(&verdicts, shown);
    let diagram = lead.and_then(|lead| kept.of(lead).map(|trace| draw(trace, lead)));
    Report { exercise: exercise.to_owned(), verdicts, diagram }
}

fn draw<M: Message>(trace: &Trace<M>, verdict: &Verdict) -> Diagram {
    let options =
        DiagramOptions { title: Some(format!("{}: {}", verdict.check, verdict.scenario)), ..DiagramOptions::default() };
    let options = match Highlight::from_verdict(verdict) {
        Some(h) => options.around(h),
        None => options,
    };
    Diagram::draw(trace, &options)
}

/// The public runs that [`crate::check::lead_verdict`] can pick, without
/// keeping every trace: the first with a failed node, the first with a
/// failure, the first with an unknown.
struct KeptTraces<M> {
    crashed: Option<Trace<M>>,
    failed: Option<Trace<M>>,
    unknown: Option<Trace<M>>,
}

impl<M> Default for KeptTraces<M> {
    fn default() -> Self {
        KeptTraces { crashed: None, failed: None, unknown: None }
    }
}

impl<M: Message> KeptTraces<M> {
    fn offer(&mut self, trace: Trace<M>, judged: Vec<&Verdict>) {
        let has = |f: &dyn Fn(&Verdict) -> bool| judged.iter().any(|v| f(v));
        let slot = if self.crashed.is_none() && has(&|v| !v.passed() && v.check == NODES_RUN_CLEANLY) {
            &mut self.crashed
        } else if self.failed.is_none() && has(&|v| v.status == Status::Fail) {
            &mut self.failed
        } else if self.unknown.is_none() && has(&|v| v.status == Status::Unknown) {
            &mut self.unknown
        } else {
            return;
        };
        *slot = Some(trace);
    }

    /// The kept run `lead` is about, if any.
    fn of(&self, lead: &Verdict) -> Option<&Trace<M>> {
        [&self.crashed, &self.failed, &self.unknown]
            .into_iter()
            .flatten()
            .find(|t| t.seed == lead.seed && t.scenario.name == lead.scenario)
    }
}

/// A replay line for a scenario this build does not have (a hidden one:
/// they exist only in the grader): every check unknown, saying why, rather
/// than a silent row of unknowns.
fn no_such_scenario(exercise: &str, only: &super::Only, checks: &[String]) -> Vec<Verdict> {
    let message = format!(
        "there is no public scenario \"{}\" here: hidden scenarios run only on the grader, so their \
         replay lines work there and not in the notebook",
        only.scenario
    );
    checks
        .iter()
        .map(|check| Verdict {
            check: check.clone(),
            status: crate::check::Status::Unknown,
            message: message.clone(),
            event: None,
            at: None,
            seed: only.seed,
            scenario: only.scenario.clone(),
            replay: format!(":check {exercise} --scenario \"{}\" --seed {}", only.scenario, only.seed),
            node: None,
        })
        .collect()
}
