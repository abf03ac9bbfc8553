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
            Some((id, format!("{src}\n\nfn main() {{\n{}\n}}\n", source(check))))
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
        let student = release::release_notebook(&path.display().to_string(), &text)
            .unwrap()
            .text;
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
