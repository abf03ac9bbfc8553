//! Text for the diagram: escaping, shortening, wording of observations, and
//! a small placer that keeps labels from landing on each other.

use crate::process::{Decision, Observation};

/// The project's one escaper, under the name the diagram code uses.
pub use crate::html::escape;

/// `Request { ts: 3, from: 1 }` as `Request{ts:3,from:1}`: Debug text with
/// the spaces dropped outside string literals, so labels say more per pixel.
pub fn compact(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in debug.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => escaped = false,
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// At most `max` characters, the last one an ellipsis if anything was cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Splits text into lines of at most `width` characters at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let word = shorten(word, width);
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A few words for an observation dot.
pub fn observation(what: &Observation) -> String {
    match what {
        Observation::RequestCritical => "request CS".into(),
        Observation::EnterCritical => "enter CS".into(),
        Observation::ExitCritical => "exit CS".into(),
        Observation::Leader(node) => format!("leader {node}"),
        Observation::Deliver { origin, seq } => format!("deliver {origin}:{seq}"),
        Observation::Decide(Decision::Commit) => "decide commit".into(),
        Observation::Decide(Decision::Abort) => "decide abort".into(),
        Observation::Clock(c) => format!("C={c}"),
        Observation::Vector(v) => {
            let parts: Vec<String> = v.iter().map(u64::to_string).collect();
            format!("V=[{}]", parts.join(","))
        }
        Observation::Read { value } => format!("read {value}"),
        Observation::Write { value } => format!("write {value}"),
        Observation::Note { name, value } => format!("{name}={value}"),
    }
}

/// Width of `text` in pixels at `size`, for a sans-serif font (an estimate:
/// the browser measures, we cannot).
pub fn width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.58
}

/// A box: left, top, right, bottom.
pub type Rect = [f64; 4];

/// Remembers where labels went; a label only goes where there is room.
#[derive(Default)]
pub struct Placer {
    taken: Vec<Rect>,
}

impl Placer {
    /// The first candidate box that overlaps nothing placed so far.
    pub fn place(&mut self, candidates: impl IntoIterator<Item = Rect>) -> Option<Rect> {
        let free = candidates
            .into_iter()
            .find(|c| !self.taken.iter().any(|t| c[0] < t[2] && t[0] < c[2] && c[1] < t[3] && t[1] < c[3]))?;
        self.taken.push(free);
        Some(free)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_outside_strings() {
        assert_eq!(compact(r#"Req { ts: 3, s: "a b" }"#), r#"Req{ts:3,s:"a b"}"#);
    }

    #[test]
    fn shortens_with_ellipsis() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
    }

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(wrap("one two three", 8), vec!["one two", "three"]);
    }
}
