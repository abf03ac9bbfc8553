//! The kernel's own `:` magic lines.
//!
//! A cell may hold magic lines (`:exercise ID`, `:check ID`, `:submit ID`,
//! `:login URL TOKEN`, `:doc ITEM`) anywhere at the start of a line. They are
//! taken out of the cell (blanked, so the student's line numbers stay right)
//! before the rest goes to evcxr. Magics that come before any Rust code run
//! before the code; magics after Rust code run after it (so `:check` can see
//! what the cell just defined). evcxr's own commands (`:dep`, `:vars`, ...)
//! pass through to evcxr; an unknown `:name` is an error that lists both.
//!
//! Course integration seam: `exercise`, `check`, `submit` and `login` below
//! are the only functions the course crate wiring needs to fill in. A handler
//! can return `MagicOutput::Eval(code)` to have evcxr run Rust code in the
//! student's session (e.g. `distlab::check::run("ID")`), or rich output.

use crate::errors::KernelError;
use std::collections::BTreeMap;

/// Magics handled by this kernel.
pub const OUR_MAGICS: &[(&str, &str)] = &[
    (":exercise", "Show exercise ID: statement and starter code"),
    (":check", "Run the local checks of exercise ID against this session's code"),
    (":submit", "Submit exercise ID for grading"),
    (":login", "Log in to the course server: :login URL TOKEN"),
    (":doc", "Show the documentation of an item in the pager, e.g. :doc Vec"),
];

/// evcxr 0.22.0's own commands, passed through to evcxr unchanged.
pub const EVCXR_COMMANDS: &[&str] = &[
    ":allow_static_linking", ":build_env", ":cache", ":clear", ":clear_cache",
    ":codegen_backend", ":dep", ":efmt", ":env", ":explain", ":fmt", ":help",
    ":internal_debug", ":last_compile_dir", ":last_error_json", ":linker",
    ":load_config", ":offline", ":opt", ":preserve_vars_on_panic", ":quit",
    ":restart", ":sccache", ":show_deps", ":t", ":time_passes", ":timing",
    ":toolchain", ":type", ":types", ":vars", ":version",
];

/// Every magic name, for completion.
pub fn magic_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = OUR_MAGICS.iter().map(|(n, _)| *n).collect();
    names.extend_from_slice(EVCXR_COMMANDS);
    names.sort_unstable();
    names
}

#[derive(Debug, Clone, PartialEq)]
pub struct MagicCall {
    pub name: String,
    pub args: String,
    /// 1-based line in the cell.
    pub line: usize,
    /// True when Rust code came before this line: run after the code.
    pub after_code: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCell {
    /// The cell with our magic lines blanked (same line numbers).
    pub code: String,
    pub magics: Vec<MagicCall>,
}

impl ParsedCell {
    pub fn before(&self) -> impl Iterator<Item = &MagicCall> {
        self.magics.iter().filter(|m| !m.after_code)
    }
    pub fn after(&self) -> impl Iterator<Item = &MagicCall> {
        self.magics.iter().filter(|m| m.after_code)
    }
}

/// What a magic produced. (Display and Eval are the seam for the course
/// handlers, which do not produce them yet.)
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq)]
pub enum MagicOutput {
    /// Nothing to show.
    None,
    /// Rich output, sent as display_data (mime type -> data).
    Display(BTreeMap<String, String>),
    /// Text for the pager (an execute_reply `page` payload).
    Page { text: String, html: String },
    /// Rust code for evcxr to run in the student's session.
    Eval(String),
}

/// What a magic handler may ask of the kernel.
pub trait MagicHost {
    /// evcxr's hover information `(plain, html)` at `pos` in `code`.
    fn hover(&mut self, code: &str, pos: usize) -> Option<(String, String)>;
}

/// The name of a magic line (`:name`), or None if the line is not one.
/// `::path` at the start of a line is Rust, not a magic.
fn magic_name(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start_matches(' ');
    if !t.starts_with(':') || t.starts_with("::") {
        return None;
    }
    let end = t.find(char::is_whitespace).unwrap_or(t.len());
    Some((&t[..end], t[end..].trim()))
}

fn is_ours(name: &str) -> bool {
    OUR_MAGICS.iter().any(|(n, _)| *n == name)
}

fn is_evcxr(name: &str) -> bool {
    EVCXR_COMMANDS.contains(&name)
}

pub fn unknown_magic_error(name: &str) -> KernelError {
    let ours: Vec<&str> = OUR_MAGICS.iter().map(|(n, _)| *n).collect();
    KernelError::new(
        "UnknownMagic",
        format!(
            "unknown magic {name}\nthis kernel's magics: {}\nevcxr commands: {}",
            ours.join(" "),
            EVCXR_COMMANDS.join(" ")
        ),
    )
}

/// Split a cell into our magic calls and the code for evcxr.
pub fn parse(cell: &str) -> Result<ParsedCell, KernelError> {
    let mut code = String::with_capacity(cell.len());
    let mut magics = Vec::new();
    let mut seen_code = false;
    for (i, line) in cell.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        let newline = &line[body.len()..];
        match magic_name(body) {
            Some((name, args)) if is_ours(name) => {
                magics.push(MagicCall {
                    name: name.to_owned(),
                    args: args.to_owned(),
                    line: i + 1,
                    after_code: seen_code,
                });
                code.push_str(newline);
                continue;
            }
            Some((name, _)) if is_evcxr(name) => {
                if seen_code {
                    return Err(KernelError::new(
                        "MagicError",
                        format!(
                            "line {}: the evcxr command {name} must come before any Rust code in the cell",
                            i + 1
                        ),
                    ));
                }
            }
            Some((name, _)) => return Err(unknown_magic_error(name)),
            None => {
                let t = body.trim();
                if !(t.is_empty() || t.starts_with("//") || t.starts_with('!')) {
                    seen_code = true;
                }
            }
        }
        code.push_str(line);
    }
    Ok(ParsedCell { code, magics })
}

/// Run one of our magics.
pub fn run(call: &MagicCall, host: &mut dyn MagicHost) -> Result<MagicOutput, KernelError> {
    let args: Vec<&str> = call.args.split_whitespace().collect();
    match call.name.as_str() {
        ":exercise" => exercise(one_arg(call, &args, "ID")?),
        ":check" => check(one_arg(call, &args, "ID")?),
        ":submit" => submit(one_arg(call, &args, "ID")?),
        ":login" => match args.as_slice() {
            [url, token] => login(url, token),
            _ => Err(usage(call, "URL TOKEN")),
        },
        ":doc" => doc(&call.args, host),
        other => Err(unknown_magic_error(other)),
    }
}

fn one_arg<'a>(call: &MagicCall, args: &[&'a str], what: &str) -> Result<&'a str, KernelError> {
    match args {
        [one] => Ok(one),
        _ => Err(usage(call, what)),
    }
}

fn usage(call: &MagicCall, what: &str) -> KernelError {
    KernelError::new("MagicError", format!("usage: {} {what}", call.name))
}

fn not_available(what: &str) -> KernelError {
    KernelError::new(
        "NotAvailable",
        format!("{what} is not available yet in this build of the distlab kernel"),
    )
}

// ---- course seam: the functions the course crate integration fills in ----

/// `:exercise ID`: show the statement and starter code of exercise ID.
pub fn exercise(_id: &str) -> Result<MagicOutput, KernelError> {
    Err(not_available(":exercise"))
}

/// `:check ID`: run exercise ID's local checks against the session.
pub fn check(_id: &str) -> Result<MagicOutput, KernelError> {
    Err(not_available(":check"))
}

/// `:submit ID`: send the exercise's code to the grader.
pub fn submit(_id: &str) -> Result<MagicOutput, KernelError> {
    Err(not_available(":submit"))
}

/// `:login URL TOKEN`: remember the course server and the student's token.
pub fn login(_url: &str, _token: &str) -> Result<MagicOutput, KernelError> {
    Err(not_available(":login"))
}

// ---- kernel magics ----

/// `:doc ITEM`: rust-analyzer hover docs of ITEM, shown in the pager.
fn doc(item: &str, host: &mut dyn MagicHost) -> Result<MagicOutput, KernelError> {
    let item = item.trim();
    if item.is_empty() {
        return Err(KernelError::new("MagicError", "usage: :doc ITEM"));
    }
    match host.hover(item, item.len()) {
        Some((text, html)) if !text.trim().is_empty() => Ok(MagicOutput::Page { text, html }),
        _ => Err(KernelError::new("NotFound", format!("no documentation found for {item}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoHost;
    impl MagicHost for NoHost {
        fn hover(&mut self, _: &str, _: usize) -> Option<(String, String)> {
            None
        }
    }

    #[test]
    fn magics_are_taken_out_and_lines_kept() {
        let p = parse(":exercise ex1\n:dep foo = \"1\"\nlet x = 1;\n:check ex1\nx").unwrap();
        assert_eq!(p.code, "\n:dep foo = \"1\"\nlet x = 1;\n\nx");
        assert_eq!(p.magics.len(), 2);
        assert_eq!(p.magics[0].name, ":exercise");
        assert!(!p.magics[0].after_code);
        assert_eq!(p.magics[1].args, "ex1");
        assert_eq!(p.magics[1].line, 4);
        assert!(p.magics[1].after_code);
    }

    #[test]
    fn rust_paths_are_not_magics() {
        let p = parse("::std::println!(\"hi\");").unwrap();
        assert!(p.magics.is_empty());
    }

    #[test]
    fn unknown_magic_lists_known_ones() {
        let e = parse(":frobnicate 3").unwrap_err();
        assert!(e.evalue.contains(":frobnicate"));
        assert!(e.evalue.contains(":check"));
        assert!(e.evalue.contains(":dep"));
    }

    #[test]
    fn evcxr_command_after_code_is_an_error() {
        assert!(parse("let x = 1;\n:vars").is_err());
    }

    #[test]
    fn handlers_say_not_available() {
        let p = parse(":check ex1").unwrap();
        let e = run(&p.magics[0], &mut NoHost).unwrap_err();
        assert!(e.evalue.contains("not available yet"));
        let p = parse(":login http://x").unwrap();
        assert!(run(&p.magics[0], &mut NoHost).unwrap_err().evalue.contains("usage"));
    }

    #[test]
    fn names_include_both_sets() {
        let names = magic_names();
        assert!(names.contains(&":exercise") && names.contains(&":dep"));
    }
}
