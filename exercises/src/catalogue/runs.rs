//! Running an algorithm exercise: every scenario of the requested scope,
//! each with several seeds derived from the student's seed, every trace
//! judged by the exercise's monitors. One implementation, used by `:check`
//! in the kernel and by the grader.

use std::rc::Rc;

use crate::check::{check_trace, Monitor, Provenance, Verdict};
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
    let mut first_failure: Option<(Trace<M>, Verdict)> = None;
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
            if first_failure.is_none() && !s.hidden {
                if let Some(bad) = judged.iter().find(|v| !v.passed()) {
                    first_failure = Some((trace, bad.clone()));
                }
            }
            verdicts.extend(judged);
        }
    }
    if let (Some(only), true) = (&run.only, verdicts.is_empty()) {
        verdicts = no_such_scenario(exercise, only, &scenarios_checks);
    }
    let diagram = first_failure.map(|(trace, verdict)| {
        let options = DiagramOptions {
            title: Some(format!("{}: {}", verdict.check, verdict.scenario)),
            ..DiagramOptions::default()
        };
        let options = match Highlight::from_verdict(&verdict) {
            Some(h) => options.around(h),
            None => options,
        };
        Diagram::draw(&trace, &options)
    });
    Report { exercise: exercise.to_owned(), verdicts, diagram }
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
