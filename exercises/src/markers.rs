//! The solution markers of the course's Rust sources: the student version of
//! an instructor's code (solution regions out, starter blocks in).
//!
//! One implementation for everything that derives a student's copy: the
//! crate's build script (each exercise's scaffold from `solutions/<id>.rs`)
//! and the grader's release step (the notebooks' code cells). Only `std`:
//! `build.rs` includes this file as a module of its own.
//!
//! - The lines from `// BEGIN SOLUTION` to `// END SOLUTION` go.
//! - A `// BEGIN STARTER` .. `// END STARTER` block right after a region
//!   replaces it, its `//` lines uncommented; without one, `todo!(..);` at
//!   the region's indentation (refused at column 0, where it can't compile).
//! - A line containing `// HIDDEN` goes.

pub const BEGIN_SOLUTION: &str = "// BEGIN SOLUTION";
pub const END_SOLUTION: &str = "// END SOLUTION";
pub const BEGIN_STARTER: &str = "// BEGIN STARTER";
pub const END_STARTER: &str = "// END STARTER";
pub const HIDDEN: &str = "// HIDDEN";
/// First line of an exercise's solution cell: `// exercise: ID`.
pub const EXERCISE_PREFIX: &str = "// exercise:";
/// What replaces a solution region that has no starter block.
pub const TODO_LINE: &str = "todo!(\"write your solution here\");";

/// The lines around an exercise's solution cell in its module.
pub const BEGIN_CELL: &str = "// BEGIN CELL";
pub const END_CELL: &str = "// END CELL";

/// The solution cell written in an exercise module (see
/// `catalogue::exercise_source!`): the lines between `// BEGIN CELL` and
/// `// END CELL`, less the indentation of the `BEGIN CELL` line.
pub fn cell_source(module: &str) -> Result<String, String> {
    let lines: Vec<&str> = module.lines().collect();
    let find = |marker: &str| {
        let at: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].trim() == marker).collect();
        match at.as_slice() {
            [one] => Ok(*one),
            _ => Err(format!("expected one `{marker}` line, found {}", at.len())),
        }
    };
    let (begin, end) = (find(BEGIN_CELL)?, find(END_CELL)?);
    if end < begin {
        return Err(format!("`{END_CELL}` comes before `{BEGIN_CELL}`"));
    }
    let indent = &lines[begin][..lines[begin].len() - lines[begin].trim_start().len()];
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate().take(end).skip(begin + 1) {
        match line.strip_prefix(indent) {
            Some(rest) => out.push_str(rest),
            None if line.trim().is_empty() => {}
            None => return Err(format!("line {} of the cell is indented less than `{BEGIN_CELL}`", i + 1)),
        }
        out.push('\n');
    }
    Ok(out)
}

/// Words that only markers contain: a line with one of them that is not
/// exactly a marker is a typo that would leak a solution.
const MARKER_WORDS: [&str; 4] = ["BEGIN SOLUTION", "END SOLUTION", "BEGIN STARTER", "END STARTER"];

/// A problem inside one cell's source: line (from 1) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerError {
    pub line: usize,
    pub why: String,
}

pub fn is_marker_like(line: &str) -> bool {
    MARKER_WORDS.iter().any(|w| line.contains(w))
}

/// The student version of one code cell's source.
pub fn strip_solutions(source: &str) -> Result<String, MarkerError> {
    enum State {
        Normal,
        /// Inside a region opened at `begin` with `indent`.
        Solution {
            begin: usize,
            indent: String,
        },
        /// The line right after `// END SOLUTION`: a starter block may open.
        Closed {
            begin: usize,
            indent: String,
        },
        Starter {
            begin: usize,
            lines: Vec<String>,
        },
    }
    fn err<T>(line: usize, why: String) -> Result<T, MarkerError> {
        Err(MarkerError { line, why })
    }
    let todo = |out: &mut String, begin: usize, indent: &str| -> Result<(), MarkerError> {
        if indent.is_empty() {
            return err(
                begin,
                format!(
                    "the solution region opened here is at column 0 (item level), where `todo!()` can't compile: \
                     add a `{BEGIN_STARTER}` .. `{END_STARTER}` block right after `{END_SOLUTION}` (it may be empty)"
                ),
            );
        }
        out.push_str(indent);
        out.push_str(TODO_LINE);
        out.push('\n');
        Ok(())
    };
    let mut out = String::with_capacity(source.len());
    let mut state = State::Normal;
    // After a region that left nothing: a blank line that would double the
    // blank line before the region is skipped.
    let mut squeeze = false;
    for (index, line) in source.split_inclusive('\n').enumerate() {
        let n = index + 1;
        let trimmed = line.trim();
        if line.contains(HIDDEN) {
            continue;
        }
        if std::mem::take(&mut squeeze) && trimmed.is_empty() && (out.is_empty() || out.ends_with("\n\n")) {
            continue;
        }
        // The line after a region: a starter block, or the todo and then
        // this line as an ordinary one.
        if let State::Closed { begin, indent } = &state {
            if trimmed == BEGIN_STARTER {
                state = State::Starter { begin: n, lines: Vec::new() };
                continue;
            }
            todo(&mut out, *begin, indent)?;
            state = State::Normal;
        }
        match &mut state {
            State::Normal => match trimmed {
                BEGIN_SOLUTION => {
                    let indent = line[..line.len() - line.trim_start().len()].to_owned();
                    state = State::Solution { begin: n, indent };
                }
                END_SOLUTION | BEGIN_STARTER | END_STARTER => {
                    let why = if trimmed == BEGIN_STARTER {
                        format!("`{BEGIN_STARTER}` must come right after a `{END_SOLUTION}` line")
                    } else {
                        format!("`{trimmed}` without a matching opening marker before it")
                    };
                    return err(n, why);
                }
                _ if is_marker_like(line) => {
                    return err(n, format!("this looks like a marker but is not exactly one (`{BEGIN_SOLUTION}`, `{END_SOLUTION}`, `{BEGIN_STARTER}`, `{END_STARTER}`, each alone on its line)"));
                }
                _ => out.push_str(line),
            },
            State::Solution { begin, indent } => match trimmed {
                END_SOLUTION => state = State::Closed { begin: *begin, indent: std::mem::take(indent) },
                BEGIN_SOLUTION => {
                    return err(n, format!("`{BEGIN_SOLUTION}` inside the region opened at line {begin}: regions don't nest"))
                }
                BEGIN_STARTER | END_STARTER => {
                    return err(n, format!("`{trimmed}` inside the solution region opened at line {begin}: close it with `{END_SOLUTION}` first"))
                }
                _ if is_marker_like(line) => return err(n, "this looks like a marker but is not exactly one".into()),
                _ => {} // solution text: dropped
            },
            State::Starter { begin, lines } => match trimmed {
                END_STARTER => {
                    squeeze = lines.is_empty();
                    for l in lines.drain(..) {
                        out.push_str(&l);
                    }
                    state = State::Normal;
                }
                _ if is_marker_like(line) => {
                    return err(n, format!("marker inside the starter block opened at line {begin}; close it with `{END_STARTER}`"))
                }
                _ if trimmed.starts_with("//") => lines.push(uncomment(line)),
                _ => {
                    return err(
                        n,
                        format!("a starter line must be a `//` comment (it is uncommented for students); the block opened at line {begin}"),
                    )
                }
            },
            State::Closed { .. } => unreachable!("handled above"),
        }
    }
    match state {
        State::Normal => {}
        State::Closed { begin, indent } => todo(&mut out, begin, &indent)?,
        State::Solution { begin, .. } => {
            return err(begin, format!("`{BEGIN_SOLUTION}` is never closed by `{END_SOLUTION}`"))
        }
        State::Starter { begin, .. } => {
            return err(begin, format!("`{BEGIN_STARTER}` is never closed by `{END_STARTER}`"))
        }
    }
    Ok(out)
}

/// `    // let x = 1;` -> `    let x = 1;`; `    //` -> an empty line.
fn uncomment(line: &str) -> String {
    let indent = &line[..line.len() - line.trim_start().len()];
    let rest = line.trim_start().strip_prefix("//").unwrap_or(line);
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    if rest.trim().is_empty() {
        // Keep only the line ending.
        return if line.ends_with('\n') { "\n".into() } else { String::new() };
    }
    format!("{indent}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cell_is_cut_out_and_dedented() {
        let module = "fn f() {}\nm! {\n    cell: {\n        // BEGIN CELL\n        use a;\n\n        fn g() {\n            1\n        }\n        // END CELL\n    }\n}\n";
        assert_eq!(cell_source(module).unwrap(), "use a;\n\nfn g() {\n    1\n}\n");
        assert!(cell_source("fn f() {}\n").unwrap_err().contains("BEGIN CELL"));
        assert!(cell_source("    // BEGIN CELL\nx\n    // END CELL\n").unwrap_err().contains("indented less"));
    }

    fn strip(src: &str) -> String {
        strip_solutions(src).unwrap_or_else(|e| panic!("line {}: {}", e.line, e.why))
    }

    #[test]
    fn region_without_starter_becomes_todo_at_its_indent() {
        let src = "fn f() -> u32 {\n    // BEGIN SOLUTION\n    42\n    // END SOLUTION\n}\n";
        assert_eq!(strip(src), "fn f() -> u32 {\n    todo!(\"write your solution here\");\n}\n");
    }

    #[test]
    fn starter_block_is_uncommented_and_replaces_the_region() {
        let src = "fn f(a: u32) -> u32 {\n    // BEGIN SOLUTION\n    a * 2\n    // END SOLUTION\n    // BEGIN STARTER\n    // let _ = a;\n    //\n    // // a hint\n    // 0\n    // END STARTER\n}\n";
        assert_eq!(strip(src), "fn f(a: u32) -> u32 {\n    let _ = a;\n\n    // a hint\n    0\n}\n");
    }

    #[test]
    fn empty_starter_removes_an_item_level_region() {
        let src = "// exercise: x\nstruct S {\n    // BEGIN SOLUTION\n    secret: u8,\n    // END SOLUTION\n    // BEGIN STARTER\n    // END STARTER\n}\n// BEGIN SOLUTION\nimpl S {}\n// END SOLUTION\n// BEGIN STARTER\n// END STARTER\nfn main() {}";
        assert_eq!(strip(src), "// exercise: x\nstruct S {\n}\nfn main() {}");
    }

    #[test]
    fn an_emptied_region_leaves_no_double_blank_line() {
        let src = "use a;\n\n// BEGIN SOLUTION\nconst X: u8 = 1;\n// END SOLUTION\n// BEGIN STARTER\n// END STARTER\n\nfn f() {}\n";
        assert_eq!(strip(src), "use a;\n\nfn f() {}\n");
        let src = "use a;\n// BEGIN SOLUTION\nconst X: u8 = 1;\n// END SOLUTION\n// BEGIN STARTER\n// END STARTER\n\nfn f() {}\n";
        assert_eq!(strip(src), "use a;\n\nfn f() {}\n");
    }

    #[test]
    fn region_at_the_end_of_a_cell_without_newline() {
        assert_eq!(
            strip("fn f() {\n    // BEGIN SOLUTION\n    g()\n    // END SOLUTION"),
            "fn f() {\n    todo!(\"write your solution here\");\n"
        );
    }

    #[test]
    fn unbalanced_and_misplaced_markers_are_refused_with_their_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("a\n    // BEGIN SOLUTION\nb\n", 2, "never closed"),
            ("a\n// END SOLUTION\n", 2, "without a matching"),
            ("    // BEGIN SOLUTION\n    // BEGIN SOLUTION\n", 2, "don't nest"),
            ("    // BEGIN SOLUTION\n    x\n    // END SOLUTION\n\n    // BEGIN STARTER\n", 5, "right after"),
            ("    // BEGIN SOLUTION\n    // END SOLUTION\n    // BEGIN STARTER\n    let x = 1;\n    // END STARTER\n", 4, "must be a `//` comment"),
            ("    // BEGIN SOLUTION\n    // END SOLUTION\n    // BEGIN STARTER\n    // x\n", 3, "never closed"),
            ("// BEGIN SOLUTION\nfn f() {}\n// END SOLUTION\n", 1, "column 0"),
            ("    //BEGIN SOLUTION\n", 1, "looks like a marker"),
            ("    // BEGIN SOLUTION\n    // BEGIN STARTER\n", 2, "inside the solution region"),
        ];
        for (src, line, why) in cases {
            let e = strip_solutions(src).expect_err(src);
            assert_eq!(e.line, *line, "{src:?}: {}", e.why);
            assert!(e.why.contains(why), "{src:?}: {}", e.why);
        }
    }
}
