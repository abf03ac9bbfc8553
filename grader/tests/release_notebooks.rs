//! Releases the real course (`notebooks/`) and checks the student versions:
//! no solution text and no instructor-only cell survives, every exercise
//! cell still starts with its marker, outputs are empty, and the manifest
//! matches the files.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use distlab_grader::release::{self, BEGIN_SOLUTION, END_SOLUTION, SOLUTION_TAG};
use serde_json::Value;

fn course_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../notebooks")
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn source(cell: &Value) -> String {
    match &cell["source"] {
        Value::String(s) => s.clone(),
        Value::Array(lines) => lines.iter().map(|l| l.as_str().unwrap()).collect(),
        _ => String::new(),
    }
}

fn is_solution_cell(cell: &Value) -> bool {
    cell["metadata"]["tags"].as_array().is_some_and(|t| t.iter().any(|t| t == SOLUTION_TAG))
}

/// Lines an instructor notebook has only inside solution regions or
/// solution-tagged cells: none of them may reach the student. Short lines
/// (`}`, `let _ = x;`) that also occur elsewhere are not secrets.
fn secret_lines(nb: &Value) -> BTreeSet<String> {
    let (mut secret, mut public) = (BTreeSet::new(), BTreeSet::new());
    for cell in nb["cells"].as_array().unwrap() {
        let mut inside = is_solution_cell(cell);
        for line in source(cell).lines() {
            let t = line.trim();
            if t == BEGIN_SOLUTION || t == END_SOLUTION {
                inside = t == BEGIN_SOLUTION || is_solution_cell(cell);
                continue;
            }
            // A starter line is public once uncommented.
            let t = t.trim_start_matches("//").trim();
            if inside {
                secret.insert(t.to_owned())
            } else {
                public.insert(t.to_owned())
            };
        }
    }
    secret.into_iter().filter(|l| l.len() >= 12 && !public.contains(l)).collect()
}

#[test]
fn releasing_the_course_leaves_no_solution_behind() {
    let src = course_dir();
    let out = tempfile::tempdir().unwrap();
    let manifest = release::release_dir(&src, out.path()).unwrap();

    let sources = release::notebooks_in(&src).unwrap();
    assert!(sources.len() >= 8, "the course has notebooks 1-7 and 10");
    let released: Vec<PathBuf> = fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ipynb"))
        .collect();
    assert_eq!(released.len(), sources.len());
    assert_eq!(manifest.notebooks.len(), sources.len());

    let mut exercises_seen = 0;
    let mut secrets_checked = 0;
    for (path, entry) in sources.iter().zip(&manifest.notebooks) {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(entry.file, name);
        let student_path = out.path().join(name);
        assert_eq!(entry.sha256, release::sha256_hex(&fs::read(&student_path).unwrap()), "{name}: manifest hash");

        let teacher = read(path);
        let student = read(&student_path);
        let t_cells = teacher["cells"].as_array().unwrap();
        let s_cells = student["cells"].as_array().unwrap();
        let kept: Vec<&Value> = t_cells.iter().filter(|c| !is_solution_cell(c)).collect();
        assert_eq!(s_cells.len(), kept.len(), "{name}: only solution-tagged cells are removed");
        assert_eq!(student["metadata"], teacher["metadata"], "{name}: notebook metadata kept");

        let secrets = secret_lines(&teacher);
        secrets_checked += secrets.len();
        let mut exercise_ids = Vec::new();
        for (t, s) in kept.iter().zip(s_cells) {
            assert_eq!(t["id"], s["id"], "{name}: cells stay in order");
            assert!(!is_solution_cell(s), "{name}: a solution-tagged cell survived");
            let text = source(s);
            for line in text.lines() {
                assert!(!secrets.contains(line.trim()), "{name}, cell {}: solution text leaked: {line}", s["id"]);
                for marker in ["BEGIN SOLUTION", "END SOLUTION", "BEGIN STARTER", "END STARTER", "// HIDDEN"] {
                    assert!(!line.contains(marker), "{name}, cell {}: marker left: {line}", s["id"]);
                }
            }
            if s["cell_type"] == "code" {
                assert_eq!(s["outputs"], Value::Array(vec![]), "{name}: outputs cleared");
                assert_eq!(s["execution_count"], Value::Null, "{name}: execution count cleared");
            }
            if let Some(id) = release::exercise_id(&source(t)) {
                assert_eq!(source(t).lines().next(), text.lines().next(), "{name}: exercise cell lost its first line");
                assert_eq!(release::exercise_id(&text), Some(id));
                exercise_ids.push(id.to_owned());
            }
        }
        assert_eq!(exercise_ids, entry.exercises, "{name}: manifest lists the exercise cells");
        exercises_seen += exercise_ids.len();
    }
    // The test has teeth only if the course has solutions to hide.
    assert!(exercises_seen >= 14, "found {exercises_seen} exercise cells");
    assert!(secrets_checked >= 100, "only {secrets_checked} distinctive solution lines found");
}

#[test]
fn releasing_twice_gives_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = release::release_dir(&course_dir(), a.path()).unwrap();
    let second = release::release_dir(&course_dir(), b.path()).unwrap();
    assert_eq!(first, second);
}

/// Each exercise is written once (its cell in `exercises/src/catalogue/<id>.rs`): the
/// notebook's solution cell is that file, so its released starter must be
/// exactly the scaffold the crate derives from it, which `:exercise` shows
/// and the grader's zero-score check compiles. Every exercise of the
/// catalogue has its cell in some notebook.
#[test]
fn every_released_starter_is_the_crate_scaffold() {
    let out = tempfile::tempdir().unwrap();
    release::release_dir(&course_dir(), out.path()).unwrap();
    let mut seen = BTreeSet::new();
    for path in release::notebooks_in(out.path()).unwrap() {
        for cell in read(&path)["cells"].as_array().unwrap() {
            let text = source(cell);
            let Some(id) = release::exercise_id(&text) else { continue };
            let spec =
                distlab::catalogue::exercise(id).unwrap_or_else(|| panic!("{}: no exercise {id}", path.display()));
            let starter = text.split_once('\n').map(|(_, rest)| rest).unwrap_or_default();
            assert_eq!(
                starter.trim_end(),
                spec.scaffold.trim_end(),
                "{}: the starter of {id} differs from its scaffold",
                path.display()
            );
            seen.insert(id.to_owned());
        }
    }
    let all: BTreeSet<String> = distlab::catalogue::registry().iter().map(|s| s.id.to_owned()).collect();
    assert_eq!(seen, all, "exercises without a solution cell in the notebooks");
}

/// Every text cell of the instructor notebooks reaches the students, word
/// for word (less `// HIDDEN` lines), unless it is instructor notes: tagged
/// `solution` and opening with a heading that says so. (Three-phase commit
/// once shared a solution cell with the answers and never reached anyone.)
#[test]
fn no_markdown_cell_is_lost() {
    let src = course_dir();
    let out = tempfile::tempdir().unwrap();
    release::release_dir(&src, out.path()).unwrap();
    let (mut kept, mut notes) = (0, 0);
    for path in release::notebooks_in(&src).unwrap() {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let student = read(&out.path().join(&name));
        let student_cells: Vec<&Value> = student["cells"].as_array().unwrap().iter().collect();
        for cell in read(&path)["cells"].as_array().unwrap() {
            if cell["cell_type"] != "markdown" {
                continue;
            }
            let text = source(cell);
            if is_solution_cell(cell) {
                let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
                assert!(
                    first.starts_with('#') && first.trim_end().ends_with(release::INSTRUCTOR_NOTES),
                    "{name}: a hidden text cell that is not instructor notes: {first:?}"
                );
                notes += 1;
                continue;
            }
            let expected: String = text.split_inclusive('\n').filter(|l| !l.contains("// HIDDEN")).collect();
            let found = student_cells.iter().find(|s| s["id"] == cell["id"]);
            let found = found.unwrap_or_else(|| panic!("{name}: text cell {} is missing: {text:.80}", cell["id"]));
            assert_eq!(source(found), expected, "{name}: text cell {} changed", cell["id"]);
            kept += 1;
        }
    }
    assert!(kept >= 90 && notes >= 9, "{kept} text cells kept, {notes} instructor notes");
    println!("{kept} text cells kept, {notes} instructor-notes cells left out");
}
