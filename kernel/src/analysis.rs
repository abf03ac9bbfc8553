//! Code analysis that needs no compiler: is_complete, magic-name completion,
//! and finding the identifier under the cursor for inspect.

use crate::magics;

#[derive(Debug, PartialEq)]
pub enum Completeness {
    Complete,
    /// Incomplete, with the indent for the next line.
    Incomplete(String),
    Invalid,
}

/// Decide whether a cell is complete: brackets, strings and block comments
/// must be closed. A closing bracket that doesn't match is invalid.
pub fn is_complete(code: &str) -> Completeness {
    let chars: Vec<char> = code.chars().collect();
    let mut stack: Vec<char> = Vec::new();
    let mut i = 0;
    let n = chars.len();
    while i < n {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '/' if next == Some('/') => {
                while i < n && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if next == Some('*') => {
                let mut depth = 1;
                i += 2;
                while i < n && depth > 0 {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                if depth > 0 {
                    return Completeness::Incomplete(String::new());
                }
                continue;
            }
            'r' if matches!(next, Some('"') | Some('#')) && !prev_is_ident(&chars, i) => {
                // Raw string r"..." / r#"..."#
                let mut j = i + 1;
                let mut hashes = 0;
                while j < n && chars[j] == '#' {
                    hashes += 1;
                    j += 1;
                }
                if j < n && chars[j] == '"' {
                    j += 1;
                    loop {
                        if j >= n {
                            return Completeness::Incomplete(String::new());
                        }
                        if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                            i = j + 1 + hashes;
                            break;
                        }
                        j += 1;
                    }
                    continue;
                }
            }
            '"' => {
                i += 1;
                loop {
                    if i >= n {
                        return Completeness::Incomplete(String::new());
                    }
                    match chars[i] {
                        '\\' => i += 2,
                        '"' => break,
                        _ => i += 1,
                    }
                }
            }
            '\'' => {
                // A char literal ('a', '\n') or a lifetime ('a): skip a literal only.
                if next == Some('\\') {
                    let mut j = i + 2;
                    while j < n && chars[j] != '\'' && chars[j] != '\n' {
                        j += 1;
                    }
                    i = j;
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 2;
                }
            }
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(want) {
                    return Completeness::Invalid;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if stack.is_empty() {
        Completeness::Complete
    } else {
        Completeness::Incomplete("    ".repeat(stack.len()))
    }
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// If the cursor is inside a magic name at the start of a line, return the
/// byte range of the partial name and the matching magic names.
pub fn magic_completions(code: &str, cursor: usize) -> Option<(usize, usize, Vec<String>)> {
    let cursor = cursor.min(code.len());
    let line_start = code[..cursor].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let before = &code[line_start..cursor];
    let trimmed = before.trim_start_matches(' ');
    if !trimmed.starts_with(':') || trimmed.starts_with("::") || trimmed.contains(char::is_whitespace) {
        return None;
    }
    let start = cursor - trimmed.len();
    let matches = magics::magic_names().into_iter().filter(|n| n.starts_with(trimmed)).map(str::to_owned).collect();
    Some((start, cursor, matches))
}

/// Byte offset of the end of the identifier/path under `cursor`, so hover
/// sees the whole name even when the cursor is in its middle.
pub fn end_of_word(code: &str, cursor: usize) -> usize {
    let mut end = cursor.min(code.len());
    while !code.is_char_boundary(end) {
        end -= 1;
    }
    for (i, ch) in code[end..].char_indices() {
        if !(ch.is_alphanumeric() || ch == '_') {
            return end + i;
        }
    }
    code.len()
}

/// Convert a Jupyter cursor position (unicode code points) to a byte offset.
pub fn cursor_to_byte(code: &str, cursor_chars: usize) -> usize {
    code.char_indices().nth(cursor_chars).map(|(i, _)| i).unwrap_or(code.len())
}

/// Convert a byte offset back to code points.
pub fn byte_to_cursor(code: &str, byte: usize) -> usize {
    code[..byte.min(code.len())].chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completeness() {
        assert_eq!(is_complete("let x = 1;"), Completeness::Complete);
        assert_eq!(is_complete("fn f() {"), Completeness::Incomplete("    ".into()));
        assert_eq!(is_complete("fn f() { if x { "), Completeness::Incomplete("        ".into()));
        assert_eq!(is_complete("let s = \"abc"), Completeness::Incomplete(String::new()));
        assert_eq!(is_complete("let s = \"{\";"), Completeness::Complete);
        assert_eq!(is_complete("let c = '{';"), Completeness::Complete);
        assert_eq!(is_complete("fn f<'a>(x: &'a str) {}"), Completeness::Complete);
        assert_eq!(is_complete("let r = r#\"}\"#;"), Completeness::Complete);
        assert_eq!(is_complete("/* { */ 1"), Completeness::Complete);
        assert_eq!(is_complete("// {\n1"), Completeness::Complete);
        assert_eq!(is_complete("}"), Completeness::Invalid);
        assert_eq!(is_complete("(]"), Completeness::Invalid);
    }

    #[test]
    fn magic_completion() {
        let (s, e, m) = magic_completions("let x = 1;\n:ch", 14).unwrap();
        assert_eq!((s, e), (11, 14));
        assert_eq!(m, vec![":check".to_string()]);
        assert!(magic_completions("::std", 5).is_none());
        assert!(magic_completions("let x", 5).is_none());
    }

    #[test]
    fn word_end() {
        assert_eq!(end_of_word("Vec::new()", 1), 3);
        assert_eq!(end_of_word("abc", 3), 3);
    }
}
