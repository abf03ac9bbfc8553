//! Every exercise of the course compiles on the grader's own path (plain
//! rustc in the sandbox, against the prepared course rlib), in both
//! versions: the instructor's solution and the student's starter that the
//! release leaves. The program is the solution cell followed by a `main`
//! holding the notebook's direct-check cell, so the cell is type-checked
//! against the exercise's check function too.

mod common;

use std::path::Path;

use common::{compile_src, pool, prepared};
use distlab_grader::{release, Termination};
use serde_json::Value;

fn source(cell: &Value) -> String {
    match &cell["source"] {
        Value::String(s) => s.clone(),
        Value::Array(lines) => lines.iter().map(|l| l.as_str().unwrap()).collect(),
        _ => String::new(),
    }
}

/// (exercise id, program) for every exercise of a notebook's JSON.
fn programs(text: &str) -> Vec<(String, String)> {
    solutions(text).into_iter().map(|(id, _, program)| (id, program)).collect()
}

/// (exercise id, solution cell, program) for every exercise of a notebook.
fn solutions(text: &str) -> Vec<(String, String, String)> {
    let nb: Value = serde_json::from_str(text).unwrap();
    let cells = nb["cells"].as_array().unwrap();
    let role = |c: &Value| c["metadata"]["distlab"]["role"].as_str().map(str::to_owned);
    cells
        .iter()
        .filter_map(|cell| {
            let src = source(cell);
            let id = release::exercise_id(&src)?.to_owned();
            let check = cells
                .iter()
                .find(|c| role(c).as_deref() == Some("check") && c["metadata"]["distlab"]["exercise"] == id.as_str())
                .unwrap_or_else(|| panic!("exercise {id} has no direct-check cell"));
            let program = format!("{src}\n\nfn main() {{\n{}\n}}\n", source(check));
            Some((id, src, program))
        })
        .collect()
}

#[test]
fn every_exercise_compiles_as_solution_and_as_starter() {
    let course = Path::new(env!("CARGO_MANIFEST_DIR")).join("../notebooks");
    let _ = prepared();
    let slot = pool().acquire();
    let dir = tempfile::tempdir().unwrap();
    let mut compiled = std::collections::BTreeMap::<&str, Vec<String>>::new();
    for path in release::notebooks_in(&course).unwrap() {
        let text = std::fs::read_to_string(&path).unwrap();
        let student = release::release_notebook(&path.display().to_string(), &text).unwrap().text;
        for (version, nb) in [("instructor", &text), ("student", &student)] {
            for (id, program) in programs(nb) {
                let mut out = compile_src(slot.user(), &program, dir.path());
                // A SIGKILL with no limit hit comes from outside the job (on a
                // shared dev box, another worktree reaping the same slot uid):
                // try once more. A real compile error exits normally and fails.
                if matches!(out.sandbox.termination, Termination::Signaled(_)) && out.sandbox.limit.is_none() {
                    out = compile_src(slot.user(), &program, dir.path());
                }
                assert!(
                    out.success(),
                    "{} ({version} version of {id}) does not compile:\n{}\n--- program ---\n{program}",
                    path.display(),
                    out.diagnostics
                );
                compiled.entry(version).or_default().push(id);
            }
        }
    }
    // Every exercise of the catalogue is in a notebook, once, in both versions.
    let mut catalogue: Vec<String> = distlab::catalogue::registry().iter().map(|e| e.id.to_owned()).collect();
    catalogue.sort();
    for (version, mut ids) in compiled {
        ids.sort();
        assert_eq!(ids, catalogue, "the {version} notebooks hold these exercises");
    }
}

/// Through the grader's own path (sandboxed compile, one process per node,
/// public and hidden hosts): every instructor solution earns full marks for
/// several students, and every exercise's scaffold earns nothing.
#[test]
fn every_solution_scores_full_and_every_scaffold_zero_on_the_grader() {
    use distlab::catalogue::Scope;
    use distlab_grader::cache::CompileCache;
    use distlab_grader::grading::{grade, Graded};

    let course = Path::new(env!("CARGO_MANIFEST_DIR")).join("../notebooks");
    let prepared = prepared();
    let slot = pool().acquire();
    let dir = tempfile::tempdir().unwrap();
    let cache = CompileCache::new(dir.path(), prepared).unwrap();
    let score = |id: &str, source: &str, seed: u64| -> (f64, Vec<String>) {
        let gradable = distlab_grader::catalogue::gradable(id).unwrap();
        match grade(prepared, slot.user(), &cache, &gradable, source, seed).0 {
            Graded::Checked { report, notes } => {
                let failed: Vec<String> = report
                    .verdicts
                    .iter()
                    .filter(|v| !v.passed())
                    .map(|v| format!("{}: {}", v.check, v.message))
                    .take(3)
                    .chain(notes)
                    .collect();
                (report.score(gradable.spec, Scope::All), failed)
            }
            other => panic!("{id}: {other:?}"),
        }
    };
    let mut graded = 0;
    for path in release::notebooks_in(&course).unwrap() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (id, solution, _) in solutions(&text) {
            let points = distlab::catalogue::exercise(&id).unwrap().points as f64;
            for seed in [3, 77] {
                let (got, failed) = score(&id, &solution, seed);
                assert_eq!(got, points, "{id}, seed {seed}: the solution scored {got} of {points}: {failed:?}");
            }
            graded += 1;
        }
    }
    assert_eq!(graded, distlab::catalogue::registry().len());
    for spec in distlab::catalogue::registry() {
        let (got, _) = score(spec.id, spec.scaffold, 5);
        assert_eq!(got, 0.0, "{}: the untouched scaffold scored {got}", spec.id);
    }
}
