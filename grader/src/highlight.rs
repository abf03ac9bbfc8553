//! A small Rust lexer for the instructor's pages: source as escaped HTML,
//! one `<span class="ln">` number per line, and spans for comments,
//! strings and chars, keywords, numbers and lifetimes. Every byte of the
//! student's text goes through `distlab::html::escape`; only the spans'
//! own markup is ours.

use distlab::html::escape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Comment,
    Str,
    Keyword,
    Number,
    Lifetime,
}

impl Kind {
    fn class(self) -> Option<&'static str> {
        match self {
            Kind::Plain => None,
            Kind::Comment => Some("c"),
            Kind::Str => Some("s"),
            Kind::Keyword => Some("k"),
            Kind::Number => Some("n"),
            Kind::Lifetime => Some("l"),
        }
    }
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while",
];

fn ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits `src` into tokens; concatenated, they are `src` again.
fn tokens(src: &str) -> Vec<(Kind, &str)> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let offset = |i: usize| chars.get(i).map(|&(o, _)| o).unwrap_or(src.len());
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let start = i;
        let kind = if c == '/' && at(i + 1) == Some('/') {
            while i < chars.len() && chars[i].1 != '\n' {
                i += 1;
            }
            Kind::Comment
        } else if c == '/' && at(i + 1) == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i].1 == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    i += 2;
                } else if chars[i].1 == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            Kind::Comment
        } else if let Some(len) = raw_string_start(&chars, i) {
            // r"..." / r#"..."# / br#"..."#: ends at a quote and as many #.
            let hashes = len - 1 - usize::from(c == 'b') - 1;
            i += len;
            while i < chars.len() {
                if chars[i].1 == '"' && (1..=hashes).all(|k| at(i + k) == Some('#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            Kind::Str
        } else if c == '"' || (c == 'b' && at(i + 1) == Some('"')) {
            i += if c == 'b' { 2 } else { 1 };
            while i < chars.len() {
                match chars[i].1 {
                    '\\' => i += 2,
                    '"' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            Kind::Str
        } else if c == '\'' || (c == 'b' && at(i + 1) == Some('\'')) {
            let q = if c == 'b' { i + 1 } else { i };
            match (at(q + 1), at(q + 2)) {
                (Some('\\'), _) => {
                    i = q + 3;
                    while i < chars.len() && chars[i].1 != '\'' && chars[i].1 != '\n' {
                        i += 1;
                    }
                    if at(i) == Some('\'') {
                        i += 1;
                    }
                    Kind::Str
                }
                (Some(ch), Some('\'')) if ch != '\n' => {
                    i = q + 3;
                    Kind::Str
                }
                (Some(ch), _) if ident_start(ch) && c == '\'' => {
                    i = q + 1;
                    while i < chars.len() && ident_char(chars[i].1) {
                        i += 1;
                    }
                    Kind::Lifetime
                }
                _ => {
                    i += 1;
                    Kind::Plain
                }
            }
        } else if c.is_ascii_digit() {
            while i < chars.len()
                && (ident_char(chars[i].1) || (chars[i].1 == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit())))
            {
                i += 1;
            }
            Kind::Number
        } else if ident_start(c) {
            while i < chars.len() && ident_char(chars[i].1) {
                i += 1;
            }
            if KEYWORDS.contains(&&src[offset(start)..offset(i)]) {
                Kind::Keyword
            } else {
                Kind::Plain
            }
        } else {
            i += 1;
            Kind::Plain
        };
        out.push((kind, &src[offset(start)..offset(i)]));
    }
    out
}

/// The length of a raw string's opening (`r#"` is 3), if one starts at `i`.
fn raw_string_start(chars: &[(usize, char)], i: usize) -> Option<usize> {
    let at = |k: usize| chars.get(k).map(|&(_, c)| c);
    let mut k = i;
    if at(k) == Some('b') {
        k += 1;
    }
    if at(k) != Some('r') {
        return None;
    }
    // Not the tail of an identifier like `bar"`: the caller only asks at a
    // token start, so `r` here begins the token.
    k += 1;
    while at(k) == Some('#') {
        k += 1;
    }
    (at(k) == Some('"')).then_some(k + 1 - i)
}

/// The source as escaped, highlighted HTML lines: each line is
/// `<span class="ln">N</span>` then its tokens; a token that spans lines
/// (a block comment, a string) is closed at each line end and reopened.
pub fn to_html(src: &str) -> String {
    let mut lines: Vec<String> = vec![String::new()];
    for (kind, text) in tokens(src) {
        for (n, part) in text.split('\n').enumerate() {
            if n > 0 {
                lines.push(String::new());
            }
            if part.is_empty() {
                continue;
            }
            let line = lines.last_mut().expect("one line at least");
            match kind.class() {
                Some(class) => {
                    line.push_str(&format!("<span class=\"{class}\">{}</span>", escape(part)));
                }
                None => line.push_str(&escape(part)),
            }
        }
    }
    if src.ends_with('\n') {
        lines.pop();
    }
    let width = lines.len().to_string().len();
    lines.iter().enumerate().map(|(n, l)| format!("<span class=\"ln\">{:>width$}</span> {l}\n", n + 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cover_the_source_and_are_classed() {
        let src = "fn main<'a>(x: &'a str) { let c = 'x'; let n = 1_000.5; // hi <b>\n /* a /* b */ c */ r#\"q\"# }";
        let t = tokens(src);
        assert_eq!(t.iter().map(|(_, s)| *s).collect::<String>(), src);
        let of = |k: Kind| t.iter().filter(|(kind, _)| *kind == k).map(|(_, s)| *s).collect::<Vec<_>>();
        assert_eq!(of(Kind::Keyword), ["fn", "let", "let"]);
        assert_eq!(of(Kind::Lifetime), ["'a", "'a"]);
        assert_eq!(of(Kind::Str), ["'x'", "r#\"q\"#"]);
        assert_eq!(of(Kind::Number), ["1_000.5"]);
        assert_eq!(of(Kind::Comment), ["// hi <b>", "/* a /* b */ c */"]);
    }

    #[test]
    fn student_text_never_becomes_markup() {
        for src in [
            "let s = \"<script>alert(1)</script>\";",
            "// <script>alert(1)</script>",
            "/* <script>\nalert(1)</script> */",
            "fn x() { <script>alert(1)</script> }",
            "let c = '<'; let d = b'>'; r#\"</pre><img src=x onerror=alert(1)>\"#",
            "\"unterminated <script>",
            "'\\u{3c}' & \"&amp;\"",
        ] {
            let html = to_html(src);
            assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("</pre"), "{html}");
            // Removing our own markup leaves no tag at all.
            let mut text = html.clone();
            for tag in ["ln", "c", "s", "k", "n", "l"] {
                text = text.replace(&format!("<span class=\"{tag}\">"), "");
            }
            let text = text.replace("</span>", "");
            assert!(!text.contains('<') && !text.contains('>'), "{text}");
        }
        assert!(to_html("x\ny\n").ends_with("<span class=\"ln\">2</span> y\n"));
        assert!(to_html("a <script>").contains("a &lt;script&gt;"));
    }
}
