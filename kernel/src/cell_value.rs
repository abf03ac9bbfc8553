//! How a cell's final value gets shown, in one compile instead of two.
//!
//! For a cell ending in an expression, evcxr first compiles
//! `(value).evcxr_display()`; when the type has no such method (an integer,
//! a `Vec`, most structs) that compile fails and evcxr compiles the cell a
//! second time with `{:?}` formatting. The kernel defines a trait in evcxr's
//! state that gives every `Debug` type an `evcxr_display` printing exactly
//! what that fallback prints, so the first compile succeeds. A type's own
//! inherent `evcxr_display` (like `distlab::Html`'s) still wins: inherent
//! methods come before trait methods.
//!
//! evcxr keeps items by name, and an `impl` right after an item goes with
//! it; redefining the trait without methods and without the `impl` takes
//! the shortcut away. That is what happens when the student changes evcxr's
//! value format (`:fmt`, `:types`), which the trait would otherwise ignore,
//! and when the student adds a crate with `:dep`: such a crate may bring its
//! own `evcxr_display` trait (image crates do), and two traits offering the
//! method would make the call ambiguous.

const DEBUG_ITEMS: &str = r#"trait DistlabCellValue { fn evcxr_display(&self); }
impl<T: std::fmt::Debug + ?Sized> DistlabCellValue for T {
    fn evcxr_display(&self) { print!("EVCXR_BEGIN_CONTENT text/plain\n{:?}\nEVCXR_END_CONTENT\n", self); }
}"#;
const PLAIN_ITEMS: &str = "trait DistlabCellValue {}";

/// evcxr's default value format; any other makes us step aside.
const DEFAULT_FMT: &str = "{:?}";

/// evcxr's value-format settings, as far as the kernel has seen commands
/// pass, and which trait is in evcxr's state.
#[derive(Debug, Default)]
pub struct ValueFormat {
    custom_fmt: bool,
    show_types: bool,
    /// The student added a crate (`:dep`); the course crate is ours.
    student_deps: bool,
    /// `Some(true)`: the Debug trait is defined; `Some(false)`: the plain
    /// one; `None`: neither (at start, and after `:clear`).
    defined: Option<bool>,
}

impl ValueFormat {
    /// Take note of the evcxr commands in code that evcxr just ran, and
    /// return the items to define now if the trait has to change.
    pub fn observe(&mut self, code: &str) -> Option<&'static str> {
        for (name, args) in evcxr_commands(code) {
            match name {
                "fmt" => self.custom_fmt = !args.trim().is_empty() && args.trim() != DEFAULT_FMT,
                "types" => self.show_types = !self.show_types,
                "dep" => self.student_deps = true,
                // Items and dependencies go; the settings stay.
                "clear" => {
                    self.student_deps = false;
                    self.forget();
                }
                _ => {}
            }
        }
        self.sync()
    }

    /// Forget the trait: evcxr's state was cleared.
    fn forget(&mut self) {
        self.defined = None;
    }

    /// The items that bring the trait in line with the settings, if it is
    /// not already; assumes the caller runs them.
    pub fn sync(&mut self) -> Option<&'static str> {
        let want = !self.custom_fmt && !self.show_types && !self.student_deps;
        if self.defined == Some(want) {
            return None;
        }
        self.defined = Some(want);
        Some(if want { DEBUG_ITEMS } else { PLAIN_ITEMS })
    }
}

/// The evcxr commands in code, as (name, arguments), by evcxr's own rule: a
/// line of spaces, then `:name`, then optional arguments after spaces.
pub fn evcxr_commands(code: &str) -> impl Iterator<Item = (&str, &str)> {
    code.lines().filter_map(|line| {
        let command = line.trim_start_matches(' ').strip_prefix(':')?;
        Some(command.split_once(' ').unwrap_or((command, "")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defines_the_debug_trait_once_at_start() {
        let mut v = ValueFormat::default();
        assert_eq!(v.sync(), Some(DEBUG_ITEMS));
        assert_eq!(v.sync(), None);
        assert_eq!(v.observe("let x = 1;\nx"), None);
    }

    #[test]
    fn steps_aside_for_a_custom_format_and_comes_back() {
        let mut v = ValueFormat::default();
        v.sync();
        assert_eq!(v.observe(":fmt {:#?}\nvec![1]"), Some(PLAIN_ITEMS));
        assert_eq!(v.observe("1"), None);
        assert_eq!(v.observe(":fmt {:?}"), Some(DEBUG_ITEMS));
    }

    #[test]
    fn types_toggle_and_clear_are_followed() {
        let mut v = ValueFormat::default();
        v.sync();
        assert_eq!(v.observe(":types"), Some(PLAIN_ITEMS));
        assert_eq!(v.observe(":types"), Some(DEBUG_ITEMS));
        // `:clear` drops every item, our trait with them.
        assert_eq!(v.observe(":clear"), Some(DEBUG_ITEMS));
    }

    #[test]
    fn a_student_dependency_takes_the_trait_away_until_clear() {
        let mut v = ValueFormat::default();
        v.sync();
        assert_eq!(v.observe(":dep rand = \"0.9\""), Some(PLAIN_ITEMS));
        assert_eq!(v.observe("1"), None);
        assert_eq!(v.observe(":clear"), Some(DEBUG_ITEMS));
    }

    #[test]
    fn code_that_only_mentions_a_command_changes_nothing() {
        let mut v = ValueFormat::default();
        v.sync();
        assert_eq!(v.observe("let s = \":types\";\n// :fmt {:x}"), None);
    }
}
