//! Turning evcxr failures and runtime panics into Jupyter errors
//! (`ename`, `evalue`, `traceback`), with the student's own line numbers.

use evcxr::CompilationError;

const RED: &str = "\x1b[31m";
const BLUE: &str = "\x1b[34m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// A Jupyter error: sent as the `error` iopub message and in the error reply.
#[derive(Debug, Clone)]
pub struct KernelError {
    pub ename: String,
    pub evalue: String,
    pub traceback: Vec<String>,
}

impl KernelError {
    pub fn new(ename: &str, evalue: impl Into<String>) -> Self {
        let evalue = evalue.into();
        let traceback = std::iter::once(format!("{RED}{BOLD}{ename}{RESET}: {}", first_line(&evalue)))
            .chain(evalue.lines().skip(1).map(str::to_owned))
            .collect();
        KernelError { ename: ename.to_owned(), evalue, traceback }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Render compile errors like rustc does, against the cell source the
/// student typed (evcxr spans are already in the cell's line numbers).
pub fn compilation_errors(errors: &[CompilationError], cell: &str) -> KernelError {
    let lines: Vec<&str> = cell.lines().collect();
    let mut traceback = Vec::new();
    let mut first_message = None;
    for error in errors {
        let code = error.code().map(|c| format!("[{c}]")).unwrap_or_default();
        let level = error.level().to_owned();
        let message = error.message();
        first_message.get_or_insert_with(|| format!("{level}{code}: {message}"));
        let color = if level == "error" { RED } else { BLUE };
        traceback.push(format!("{color}{BOLD}{level}{code}{RESET}{BOLD}: {message}{RESET}"));
        let mut any_span = false;
        for spanned in error.spanned_messages() {
            let Some(span) = spanned.span else { continue };
            any_span = true;
            let width = span.end_line.to_string().len();
            let pad = " ".repeat(width);
            traceback.push(format!("{pad}{BLUE}-->{RESET} cell:{}:{}", span.start_line, span.start_column));
            for line_no in span.start_line..=span.end_line {
                let text = lines.get(line_no.wrapping_sub(1)).copied().unwrap_or("");
                traceback.push(format!("{BLUE}{line_no:>width$} |{RESET} {text}"));
                // Underline the span on its first and only/last line.
                let (from, to) = if span.start_line == span.end_line {
                    (span.start_column, span.end_column.max(span.start_column + 1))
                } else if line_no == span.start_line {
                    (span.start_column, text.chars().count() + 1)
                } else if line_no == span.end_line {
                    (1, span.end_column.max(2))
                } else {
                    continue;
                };
                let marker = if spanned.is_primary { '^' } else { '-' };
                let underline: String = std::iter::repeat_n(marker, to.saturating_sub(from).max(1)).collect();
                let label = if line_no == span.end_line { spanned.label.as_str() } else { "" };
                traceback.push(format!(
                    "{pad} {BLUE}|{RESET} {}{color}{underline} {label}{RESET}",
                    " ".repeat(from.saturating_sub(1))
                ));
            }
        }
        if !any_span {
            // No span in user code (e.g. a bad :dep): show rustc's rendering.
            let rendered = error.rendered();
            traceback.extend(rendered.lines().map(str::to_owned));
        }
        for help in error.help() {
            traceback.push(format!("{BOLD}help{RESET}: {help}"));
        }
        if let Some(hint) = error.evcxr_extra_hint() {
            traceback.push(format!("{BOLD}note{RESET}: {hint}"));
        }
        traceback.push(String::new());
    }
    KernelError {
        ename: "CompileError".to_owned(),
        evalue: first_message.unwrap_or_else(|| "compilation failed".to_owned()),
        traceback,
    }
}

/// A panic in the cell: take the message from the runtime's stderr lines.
pub fn panic_error(stderr_lines: &[String]) -> KernelError {
    let mut location = String::new();
    let mut message = Vec::new();
    let mut in_message = false;
    for line in stderr_lines {
        if let Some(idx) = line.find("panicked at ") {
            location = line[idx + "panicked at ".len()..].trim_end_matches(':').to_owned();
            message.clear();
            in_message = true;
            continue;
        }
        if in_message {
            if line.starts_with("note: run with") || line.starts_with("stack backtrace:") {
                in_message = false;
            } else {
                message.push(line.clone());
            }
        }
    }
    let evalue = if message.is_empty() { "the cell panicked".to_owned() } else { message.join("\n") };
    let mut traceback = vec![format!("{RED}{BOLD}panic{RESET}: {}", first_line(&evalue))];
    traceback.extend(evalue.lines().skip(1).map(str::to_owned));
    if !location.is_empty() {
        traceback.push(format!("  at {location}"));
    }
    KernelError { ename: "Panic".to_owned(), evalue, traceback }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_is_extracted() {
        let lines: Vec<String> = [
            "thread '<unnamed>' panicked at src/lib.rs:10:5:",
            "assertion `left == right` failed",
            "  left: 1",
            " right: 2",
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let e = panic_error(&lines);
        assert_eq!(e.ename, "Panic");
        assert!(e.evalue.starts_with("assertion `left == right` failed"));
        assert!(e.evalue.contains("right: 2"));
        assert!(e.traceback.last().unwrap().contains("src/lib.rs:10:5"));
    }
}
