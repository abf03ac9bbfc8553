//! The release step: student notebooks from the instructor notebooks.
//!
//! `distlab-grader release --src notebooks --out dist/notebooks` reads every
//! `*.ipynb` in `src`, and writes to `out` the student version of each plus
//! `manifest.json` (file, SHA-256, exercises). Rules (see notebooks/README.md):
//!
//! - A cell tagged `solution` is left out.
//! - In a code cell, the lines from `// BEGIN SOLUTION` to `// END SOLUTION`
//!   are replaced by the starter: the `//`-commented lines of a
//!   `// BEGIN STARTER` .. `// END STARTER` block right after the region,
//!   uncommented; without a starter block, by `todo!(..);` at the region's
//!   indentation (refused at column 0, where a statement can't compile).
//! - A line containing `// HIDDEN` is dropped, in any cell.
//! - Outputs and execution counts are cleared. Everything else in the JSON,
//!   known or not, is kept as it was.
//!
//! A notebook with unbalanced or misplaced markers is refused with its file,
//! cell and line; nothing is written unless every notebook is sound.
//!
//! Students work in the released copies (`./dev up` releases into
//! `dist/notebooks` on every start), so a release never overwrites one whose
//! bytes differ from what the last release wrote (per `manifest.json`): it
//! keeps the student's file and writes the new version beside it as
//! `NAME.new.ipynb`, and says so.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use distlab::markers::{
    is_marker_like, strip_solutions, MarkerError, BEGIN_SOLUTION, BEGIN_STARTER, END_SOLUTION, END_STARTER,
    EXERCISE_PREFIX, HIDDEN, TODO_LINE,
};

/// Cell tag of an instructor-only cell.
pub const SOLUTION_TAG: &str = "solution";

/// `distlab-grader release`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReleaseArgs {
    /// Directory of the instructor notebooks.
    #[arg(long, default_value = "notebooks")]
    pub src: PathBuf,
    /// Where the student notebooks and manifest.json go.
    #[arg(long, default_value = "dist/notebooks")]
    pub out: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{notebook}: not a notebook: {why}")]
    Format { notebook: String, why: String },
    #[error("{notebook}, cell {cell}{}, line {line}: {why}", .id.as_deref().map(|i| format!(" (id {i})")).unwrap_or_default())]
    Marker { notebook: String, cell: usize, id: Option<String>, line: usize, why: String },
    #[error("no notebooks (*.ipynb) in {0}")]
    Empty(PathBuf),
}

/// One released notebook.
#[derive(Debug, Clone)]
pub struct Released {
    pub file: String,
    pub text: String,
    /// Ids from the `// exercise: ID` lines, in order.
    pub exercises: Vec<String>,
    pub cells_removed: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ManifestEntry {
    pub file: String,
    pub sha256: String,
    pub source_sha256: String,
    pub exercises: Vec<String>,
    #[serde(skip)]
    pub placed: Placed,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Manifest {
    pub notebooks: Vec<ManifestEntry>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A markdown or raw cell: only `// HIDDEN` lines go; markers are refused
/// (tag the cell `solution` instead).
fn strip_text_cell(source: &str) -> Result<String, MarkerError> {
    let mut out = String::with_capacity(source.len());
    for (index, line) in source.split_inclusive('\n').enumerate() {
        if line.contains(HIDDEN) {
            continue;
        }
        if is_marker_like(line) {
            return Err(MarkerError {
                line: index + 1,
                why: format!(
                    "solution markers work only in code cells; to hide a whole text cell, tag it `{SOLUTION_TAG}`"
                ),
            });
        }
        out.push_str(line);
    }
    Ok(out)
}

/// What a text cell must end its first heading with to be left out of the
/// release (with the `solution` tag).
pub const INSTRUCTOR_NOTES: &str = "(instructor notes)";

/// A text cell tagged `solution` holds instructor notes and nothing else:
/// it opens with a heading ending in "(instructor notes)" and has no other
/// heading. Teaching text sharing such a cell vanished from the students'
/// notebooks (three-phase commit did), so the release refuses it.
fn instructor_notes_only(source: &str) -> Result<(), MarkerError> {
    let mut headings = source.lines().enumerate().filter(|(_, l)| l.trim_start().starts_with('#'));
    let first_line = source.lines().position(|l| !l.trim().is_empty());
    match headings.next() {
        Some((i, h)) if Some(i) == first_line && h.trim_end().ends_with(INSTRUCTOR_NOTES) => {}
        _ => {
            return Err(MarkerError {
                line: first_line.unwrap_or(0) + 1,
                why: format!(
                    "a text cell tagged `{SOLUTION_TAG}` is left out of the students' notebook, so it must hold \
                     instructor notes only: open it with a heading ending in \"{INSTRUCTOR_NOTES}\""
                ),
            })
        }
    }
    if let Some((i, h)) = headings.next() {
        return Err(MarkerError {
            line: i + 1,
            why: format!(
                "the heading {:?} sits in an instructor-notes cell, which students never see: move that text to a cell of its own",
                h.trim()
            ),
        });
    }
    Ok(())
}

/// A cell's source as one string, and whether it was a list of lines.
fn source_text(cell: &Value) -> Result<(String, bool), String> {
    match cell.get("source") {
        Some(Value::String(s)) => Ok((s.clone(), false)),
        Some(Value::Array(lines)) => lines
            .iter()
            .map(|l| l.as_str().map(str::to_owned).ok_or_else(|| "a source line is not a string".to_owned()))
            .collect::<Result<String, _>>()
            .map(|s| (s, true)),
        None => Ok((String::new(), true)),
        Some(_) => Err("source is neither a string nor a list of strings".into()),
    }
}

fn source_value(text: &str, as_list: bool) -> Value {
    if as_list {
        Value::Array(text.split_inclusive('\n').map(|l| Value::String(l.to_owned())).collect())
    } else {
        Value::String(text.to_owned())
    }
}

fn tags(cell: &Value) -> Vec<&str> {
    cell.pointer("/metadata/tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The exercise id of a solution cell: its first line is `// exercise: ID`.
pub fn exercise_id(source: &str) -> Option<&str> {
    let id = source.lines().next()?.trim().strip_prefix(EXERCISE_PREFIX)?.trim();
    (!id.is_empty()).then_some(id)
}

/// JSON the way nbformat writes it: sorted keys (serde_json's default map),
/// one-space indent, a final newline.
pub fn notebook_json(value: &Value) -> String {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, serde_json::ser::PrettyFormatter::with_indent(b" "));
    value.serialize(&mut ser).expect("a JSON value always serializes");
    buf.push(b'\n');
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

/// The student version of one notebook. `file` names it in errors.
pub fn release_notebook(file: &str, text: &str) -> Result<Released, ReleaseError> {
    let format = |why: String| ReleaseError::Format { notebook: file.to_owned(), why };
    let mut nb: Value = serde_json::from_str(text).map_err(|e| format(e.to_string()))?;
    if nb.get("nbformat").and_then(Value::as_u64) != Some(4) {
        return Err(format("only nbformat 4 notebooks are supported".into()));
    }
    let cells = match nb.get_mut("cells") {
        Some(Value::Array(cells)) => std::mem::take(cells),
        _ => return Err(format("no list of cells".into())),
    };
    let mut kept = Vec::with_capacity(cells.len());
    let mut exercises = Vec::new();
    let mut cells_removed = 0;
    for (index, mut cell) in cells.into_iter().enumerate() {
        let number = index + 1;
        let marker = |e: MarkerError| ReleaseError::Marker {
            notebook: file.to_owned(),
            cell: number,
            id: cell.get("id").and_then(Value::as_str).map(str::to_owned),
            line: e.line,
            why: e.why,
        };
        let (source, as_list) = source_text(&cell).map_err(|why| format(format!("cell {number}: {why}")))?;
        let is_code = cell.get("cell_type").and_then(Value::as_str) == Some("code");
        if tags(&cell).contains(&SOLUTION_TAG) {
            if !is_code {
                instructor_notes_only(&source).map_err(marker)?;
            }
            cells_removed += 1;
            continue;
        }
        let student = if is_code { strip_solutions(&source) } else { strip_text_cell(&source) }.map_err(marker)?;
        if is_code {
            if let Some(id) = exercise_id(&source) {
                exercises.push(id.to_owned());
            }
        }
        let obj = cell.as_object_mut().ok_or_else(|| format(format!("cell {number} is not an object")))?;
        obj.insert("source".into(), source_value(&student, as_list));
        if is_code {
            obj.insert("outputs".into(), Value::Array(Vec::new()));
            obj.insert("execution_count".into(), Value::Null);
        }
        kept.push(cell);
    }
    nb["cells"] = Value::Array(kept);
    Ok(Released { file: file.to_owned(), text: notebook_json(&nb), exercises, cells_removed })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReleaseError + '_ {
    move |source| ReleaseError::Io { path: path.to_owned(), source }
}

/// The instructor notebooks of `src`, sorted by name.
pub fn notebooks_in(src: &Path) -> Result<Vec<PathBuf>, ReleaseError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(src).map_err(io(src))? {
        let path = entry.map_err(io(src))?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "ipynb") {
            found.push(path);
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(ReleaseError::Empty(src.to_owned()));
    }
    Ok(found)
}

/// Releases every notebook of `src` into `out` and writes the manifest.
/// All notebooks are processed before anything is written.
pub fn release_dir(src: &Path, out: &Path) -> Result<Manifest, ReleaseError> {
    let mut released = Vec::new();
    for path in notebooks_in(src)? {
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let name = path.display().to_string();
        let mut r = release_notebook(&name, &text)?;
        r.file = file;
        released.push((r, sha256_hex(text.as_bytes())));
    }
    fs::create_dir_all(out).map_err(io(out))?;
    let last_release = previous_hashes(out);
    let mut manifest = Manifest { notebooks: Vec::new() };
    for (r, source_sha256) in released {
        let sha256 = sha256_hex(r.text.as_bytes());
        let placed = place(out, &r.file, &r.text, &sha256, last_release.get(&r.file))?;
        manifest.notebooks.push(ManifestEntry { sha256, file: r.file, source_sha256, exercises: r.exercises, placed });
    }
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serializes") + "\n";
    write_atomic(&out.join("manifest.json"), text.as_bytes())?;
    Ok(manifest)
}

/// What the release did with one notebook in the output directory, where
/// a student may have worked in the last release's copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// Written: it was new, untouched since the last release, or the same.
    Written,
    /// The copy there was edited since it was released: kept as it is, and
    /// the new version written beside it under this name.
    Beside(String),
    /// The copy there was edited and this release changes nothing in it:
    /// left alone.
    Kept,
}

/// Each file's SHA-256 as the last release in `out` wrote it (none without
/// a readable manifest: then every differing file counts as edited).
fn previous_hashes(out: &Path) -> std::collections::BTreeMap<String, String> {
    let manifest = fs::read_to_string(out.join("manifest.json")).ok();
    let value: Value = manifest.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or(Value::Null);
    value["notebooks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| Some((n["file"].as_str()?.to_owned(), n["sha256"].as_str()?.to_owned())))
        .collect()
}

/// Writes one student notebook without ever overwriting work: a copy whose
/// bytes are not what the last release wrote is a student's.
fn place(
    out: &Path,
    file: &str,
    text: &str,
    sha256: &str,
    released_before: Option<&String>,
) -> Result<Placed, ReleaseError> {
    let target = out.join(file);
    let existing = match fs::read(&target) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(ReleaseError::Io { path: target, source: e }),
    };
    let Some(existing) = existing else {
        write_atomic(&target, text.as_bytes())?;
        return Ok(Placed::Written);
    };
    let existing_sha = sha256_hex(&existing);
    if existing_sha == sha256 {
        return Ok(Placed::Written);
    }
    if released_before == Some(&existing_sha) {
        write_atomic(&target, text.as_bytes())?;
        return Ok(Placed::Written);
    }
    if released_before.map(String::as_str) == Some(sha256) {
        return Ok(Placed::Kept);
    }
    let stem = file.strip_suffix(".ipynb").unwrap_or(file);
    let beside = format!("{stem}.new.ipynb");
    write_atomic(&out.join(&beside), text.as_bytes())?;
    Ok(Placed::Beside(beside))
}

/// Write to a temporary file beside `path`, then rename: a reader never sees
/// half a notebook.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReleaseError> {
    let tmp = path.with_extension("tmp-release");
    fs::write(&tmp, bytes).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// The subcommand: release, then one line per notebook, and a word for
/// each one kept because a student edited it.
pub fn run(args: &ReleaseArgs) -> Result<(), ReleaseError> {
    let manifest = release_dir(&args.src, &args.out)?;
    for n in &manifest.notebooks {
        println!("{}  {}  exercises: {}", &n.sha256[..12], n.file, n.exercises.join(", "));
    }
    println!("released {} notebooks into {}", manifest.notebooks.len(), args.out.display());
    for n in &manifest.notebooks {
        match &n.placed {
            Placed::Written => {}
            Placed::Kept => println!("kept your edited {} (this release changes nothing in it)", n.file),
            Placed::Beside(new) => {
                println!("kept your edited {}; the course's new version of it is {new}: copy your answers over", n.file)
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strip(src: &str) -> String {
        strip_solutions(src).unwrap_or_else(|e| panic!("line {}: {}", e.line, e.why))
    }

    fn notebook(cells: Value) -> String {
        json!({"cells": cells, "metadata": {"kernelspec": {"name": "distlab"}, "custom": {"x": 1}}, "nbformat": 4, "nbformat_minor": 5}).to_string()
    }

    #[test]
    fn a_hidden_text_cell_holds_instructor_notes_only() {
        let release = |source: &str| {
            let text = notebook(
                json!([{"cell_type": "markdown", "id": "b", "metadata": {"tags": ["solution"]}, "source": source}]),
            );
            release_notebook("t.ipynb", &text).map(|r| r.cells_removed).map_err(|e| e.to_string())
        };
        assert_eq!(release("### Answers (instructor notes)\n\n- 42\n"), Ok(1));
        assert_eq!(release("\n### Derivation (instructor notes)\ntext\n"), Ok(1));
        // Teaching text before the notes, or a second heading after them, would vanish.
        let e = release("## Three-phase commit\nteaching\n### Answers (instructor notes)\n- 42\n").unwrap_err();
        assert!(e.contains("cell 1") && e.contains("line 1") && e.contains("(instructor notes)"), "{e}");
        let e = release("### Answers (instructor notes)\n- 42\n## Three-phase commit\nteaching\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("Three-phase commit") && e.contains("cell of its own"), "{e}");
        assert!(release("the answer is 42\n").is_err(), "no heading at all");
    }

    #[test]
    fn hidden_lines_are_dropped_everywhere() {
        assert_eq!(strip("let a = 1;\nassert_eq!(a, 1); // HIDDEN\nlet b = 2;\n"), "let a = 1;\nlet b = 2;\n");
        assert_eq!(strip_text_cell("keep\ndrop me // HIDDEN\n").unwrap(), "keep\n");
    }

    #[test]
    fn notebook_cells_outputs_tags_and_unknown_fields() {
        let text = notebook(json!([
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# Title\n"},
            {"cell_type": "markdown", "id": "b", "metadata": {"tags": ["solution"]}, "source": ["### Answer (instructor notes)\n", "the answer is 42\n"]},
            {"cell_type": "code", "id": "c", "execution_count": 3, "metadata": {"distlab": {"role": "solution"}}, "extra": true,
             "outputs": [{"output_type": "stream", "name": "stdout", "text": "42\n"}],
             "source": ["// exercise: demo\n", "fn f() -> u32 {\n", "    // BEGIN SOLUTION\n", "    42\n", "    // END SOLUTION\n", "}"]},
        ]));
        let r = release_notebook("t.ipynb", &text).unwrap();
        assert_eq!(r.exercises, ["demo"]);
        assert_eq!(r.cells_removed, 1);
        let nb: Value = serde_json::from_str(&r.text).unwrap();
        let cells = nb["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[0]["source"], "# Title\n"); // a string stays a string
        let code = &cells[1];
        assert_eq!(code["outputs"], json!([]));
        assert_eq!(code["execution_count"], Value::Null);
        assert_eq!(code["extra"], true);
        assert_eq!(code["metadata"]["distlab"]["role"], "solution");
        assert_eq!(
            code["source"],
            json!(["// exercise: demo\n", "fn f() -> u32 {\n", "    todo!(\"write your solution here\");\n", "}"])
        );
        assert_eq!(nb["metadata"]["custom"]["x"], 1);
        assert!(!r.text.contains("42"));
    }

    #[test]
    fn errors_name_notebook_cell_and_line() {
        let text = notebook(json!([
            {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "intro\n"},
            {"cell_type": "code", "id": "sol", "execution_count": null, "metadata": {}, "outputs": [],
             "source": "// exercise: demo\nfn f() {\n    // BEGIN SOLUTION\n    g();\n}\n"},
        ]));
        let e = release_notebook("course/02-x.ipynb", &text).unwrap_err().to_string();
        assert!(e.starts_with("course/02-x.ipynb, cell 2 (id sol), line 3: "), "{e}");
        let text = notebook(json!([{"cell_type": "markdown", "metadata": {}, "source": "// BEGIN SOLUTION\n"}]));
        let e = release_notebook("n.ipynb", &text).unwrap_err().to_string();
        assert!(e.contains("cell 1, line 1") && e.contains("only in code cells"), "{e}");
        assert!(release_notebook("n.ipynb", "{not json")
            .unwrap_err()
            .to_string()
            .starts_with("n.ipynb: not a notebook"));
    }

    #[test]
    fn release_dir_writes_nothing_when_one_notebook_is_bad() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let good = notebook(
            json!([{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1, "source": "1\n"}]),
        );
        let bad =
            notebook(json!([{"cell_type": "code", "metadata": {}, "outputs": [], "source": "    // END SOLUTION\n"}]));
        fs::write(src.path().join("a.ipynb"), &good).unwrap();
        fs::write(src.path().join("b.ipynb"), &bad).unwrap();
        let e = release_dir(src.path(), out.path()).unwrap_err().to_string();
        assert!(e.contains("b.ipynb, cell 1, line 1"), "{e}");
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);

        fs::remove_file(src.path().join("b.ipynb")).unwrap();
        let m = release_dir(src.path(), out.path()).unwrap();
        assert_eq!(m.notebooks.len(), 1);
        let written = fs::read(out.path().join("a.ipynb")).unwrap();
        assert_eq!(m.notebooks[0].sha256, sha256_hex(&written));
        assert_eq!(m.notebooks[0].source_sha256, sha256_hex(good.as_bytes()));
        let manifest: Value = serde_json::from_slice(&fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["notebooks"][0]["file"], "a.ipynb");
    }

    /// A student works in the released copies and the release runs again
    /// (`./dev up` after a restart): no edited notebook is overwritten.
    #[test]
    fn a_new_release_never_overwrites_a_students_work() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let cell = |text: &str| notebook(json!([{"cell_type": "code", "metadata": {}, "outputs": [], "source": text}]));
        for name in ["a.ipynb", "b.ipynb", "c.ipynb"] {
            fs::write(src.path().join(name), cell("1\n")).unwrap();
        }
        release_dir(src.path(), out.path()).unwrap();
        let edited = cell("my answer\n");
        fs::write(out.path().join("a.ipynb"), &edited).unwrap();
        fs::write(out.path().join("c.ipynb"), &edited).unwrap();
        // The course changes a and b; c stays as it was released.
        fs::write(src.path().join("a.ipynb"), cell("2\n")).unwrap();
        fs::write(src.path().join("b.ipynb"), cell("2\n")).unwrap();

        let m = release_dir(src.path(), out.path()).unwrap();
        let placed: Vec<&Placed> = m.notebooks.iter().map(|n| &n.placed).collect();
        assert_eq!(placed, [&Placed::Beside("a.new.ipynb".into()), &Placed::Written, &Placed::Kept]);
        assert_eq!(fs::read_to_string(out.path().join("a.ipynb")).unwrap(), edited);
        assert_eq!(fs::read_to_string(out.path().join("c.ipynb")).unwrap(), edited);
        let new_a = fs::read_to_string(out.path().join("a.new.ipynb")).unwrap();
        assert!(new_a.contains(r"2\n") && sha256_hex(new_a.as_bytes()) == m.notebooks[0].sha256);
        assert!(fs::read_to_string(out.path().join("b.ipynb")).unwrap().contains(r"2\n"), "untouched b is updated");

        // Again, with nothing new: the edits stay, nothing else is written.
        let again = release_dir(src.path(), out.path()).unwrap();
        assert_eq!(again.notebooks[0].placed, Placed::Kept);
        assert!(out.path().join("a.new.ipynb").exists());
        assert_eq!(fs::read_to_string(out.path().join("a.ipynb")).unwrap(), edited);

        // Without a manifest (an old dist dir), a differing copy is a student's.
        fs::remove_file(out.path().join("manifest.json")).unwrap();
        let blind = release_dir(src.path(), out.path()).unwrap();
        assert_eq!(blind.notebooks[2].placed, Placed::Beside("c.new.ipynb".into()));
        assert_eq!(fs::read_to_string(out.path().join("c.ipynb")).unwrap(), edited);
    }

    #[test]
    fn empty_source_dir_is_an_error() {
        let src = tempfile::tempdir().unwrap();
        assert!(matches!(release_dir(src.path(), &src.path().join("out")), Err(ReleaseError::Empty(_))));
    }

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
