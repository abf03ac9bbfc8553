//! Derives what students get from each exercise's one source, the solution
//! cell written at the end of `src/catalogue/<id>.rs` (see
//! `catalogue::exercise_source!` and ARCHITECTURE.md, "Add an exercise"):
//!
//! - `$OUT_DIR/scaffolds/<id>.rs`: the cell without its solution regions, by
//!   the same marker rules as the grader's release step (`src/markers.rs`);
//! - `$OUT_DIR/exercises.rs`: `ALL`, the specs of every exercise module, and
//!   `reference_report`, which `catalogue::registry` and tests use.

#[path = "src/markers.rs"]
#[allow(dead_code)]
mod markers;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let catalogue = root.join("src/catalogue");
    println!("cargo:rerun-if-changed={}", catalogue.display());
    println!("cargo:rerun-if-changed=src/markers.rs");

    // An exercise module is one that ends with its `exercise_source!`.
    let mut ids = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&catalogue)
        .expect("reading src/catalogue")
        .map(|e| e.expect("listing src/catalogue").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    let scaffolds = out.join("scaffolds");
    std::fs::create_dir_all(&scaffolds).unwrap();
    for path in files {
        let id = path.file_stem().unwrap().to_string_lossy().into_owned();
        let module = std::fs::read_to_string(&path).unwrap();
        if !module.contains("super::exercise_source!") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let cell = markers::cell_source(&module).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let scaffold = markers::strip_solutions(&cell)
            .unwrap_or_else(|e| panic!("{}: line {} of the cell: {}", path.display(), e.line, e.why));
        write_if_changed(&scaffolds.join(format!("{id}.rs")), &scaffold);
        ids.push(id);
    }

    let declared = std::fs::read_to_string(catalogue.join("mod.rs")).unwrap();
    for id in &ids {
        assert!(
            declared.lines().any(|l| l.trim() == format!("pub mod {id};")),
            "src/catalogue/{id}.rs is an exercise: add `pub mod {id};` to src/catalogue/mod.rs"
        );
    }

    let mut index = String::new();
    writeln!(index, "/// Every exercise's spec (build.rs lists the exercise modules).").unwrap();
    let specs: Vec<String> = ids.iter().map(|i| format!("&{i}::SPEC")).collect();
    writeln!(index, "const ALL: &[&ExerciseSpec] = &[{}];", specs.join(", ")).unwrap();
    writeln!(index, "\n/// The reference solution's report, for every exercise (tests).").unwrap();
    writeln!(
        index,
        "#[cfg(feature = \"reference\")]\npub fn reference_report(id: &str, run: &Run) -> Option<Report> {{"
    )
    .unwrap();
    writeln!(index, "    match id {{").unwrap();
    for id in &ids {
        writeln!(index, "        {id:?} => Some({id}::reference::check(run)),").unwrap();
    }
    writeln!(index, "        _ => None,\n    }}\n}}").unwrap();
    write_if_changed(&out.join("exercises.rs"), &index);
}

/// Leaves an unchanged file alone, so nothing downstream rebuilds for it.
fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).unwrap();
    }
}
