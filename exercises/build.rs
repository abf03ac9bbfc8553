//! Derives what students get from each exercise's one source file,
//! `solutions/<id>.rs` (see ARCHITECTURE.md, "Add an exercise"):
//!
//! - `$OUT_DIR/scaffolds/<id>.rs`: the file without its solution regions,
//!   by the same marker rules as the grader's release step (`src/markers.rs`);
//! - `$OUT_DIR/exercises.rs`: `pub mod <id>;` for every solution file, and
//!   `ALL`, the list of their specs, which `catalogue::registry` sorts.

#[path = "src/markers.rs"]
#[allow(dead_code)]
mod markers;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let solutions = root.join("solutions");
    println!("cargo:rerun-if-changed={}", solutions.display());
    println!("cargo:rerun-if-changed=src/markers.rs");

    let mut ids: Vec<String> = std::fs::read_dir(&solutions)
        .expect("reading solutions/")
        .map(|e| e.expect("listing solutions/").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    ids.sort();

    let scaffolds = out.join("scaffolds");
    std::fs::create_dir_all(&scaffolds).unwrap();
    let mut index = String::new();
    for id in &ids {
        assert!(
            id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "solutions/{id}.rs: an exercise id is a Rust module name (lowercase, digits, _)"
        );
        let source_path = solutions.join(format!("{id}.rs"));
        println!("cargo:rerun-if-changed={}", source_path.display());
        let source = std::fs::read_to_string(&source_path).unwrap();
        let scaffold = markers::strip_solutions(&source)
            .unwrap_or_else(|e| panic!("{}:{}: {}", source_path.display(), e.line, e.why));
        write_if_changed(&scaffolds.join(format!("{id}.rs")), &scaffold);
        let module = root.join("src/catalogue").join(format!("{id}.rs"));
        assert!(module.exists(), "solutions/{id}.rs has no exercise module src/catalogue/{id}.rs");
        writeln!(index, "#[path = {:?}]\npub mod {id};", module.display().to_string()).unwrap();
    }
    writeln!(index, "\n/// Every exercise's spec, one per `solutions/*.rs`.").unwrap();
    writeln!(
        index,
        "const ALL: &[&ExerciseSpec] = &[{}];",
        ids.iter().map(|i| format!("&{i}::SPEC")).collect::<Vec<_>>().join(", ")
    )
    .unwrap();
    writeln!(index, "\n/// The reference solution's report, for every exercise (tests).").unwrap();
    writeln!(index, "#[cfg(feature = \"reference\")]\npub fn reference_report(id: &str, run: &Run) -> Option<Report> {{\n    match id {{").unwrap();
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
