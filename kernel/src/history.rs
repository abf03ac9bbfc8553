//! The kernel's own history of executed cells (for history_request).

/// Our history has one session: the running kernel.
pub const SESSION: i64 = 1;

#[derive(Default)]
pub struct History {
    /// (execution_count, input, text/plain output if any)
    entries: Vec<(u32, String, Option<String>)>,
}

#[derive(Debug)]
pub enum Query {
    Tail { n: usize },
    Range { session: i64, start: i64, stop: i64 },
    Search { pattern: String, n: Option<usize>, unique: bool },
}

impl History {
    pub fn push(&mut self, count: u32, input: &str, output: Option<String>) {
        self.entries.push((count, input.to_owned(), output));
    }

    /// Entries as Jupyter wants them: [session, line, input] or
    /// [session, line, [input, output]].
    pub fn query(&self, q: &Query, with_output: bool) -> Vec<serde_json::Value> {
        let pick: Vec<&(u32, String, Option<String>)> = match q {
            Query::Tail { n } => {
                let skip = self.entries.len().saturating_sub(*n);
                self.entries.iter().skip(skip).collect()
            }
            Query::Range { session, start, stop } => {
                // Session 0 (or negative, counted back) means this session too.
                if *session != SESSION && *session > 0 {
                    Vec::new()
                } else {
                    let last = self.entries.last().map(|e| e.0 as i64 + 1).unwrap_or(1);
                    let stop = if *stop <= 0 { last } else { *stop };
                    self.entries.iter().filter(|e| (e.0 as i64) >= *start && (e.0 as i64) < stop).collect()
                }
            }
            Query::Search { pattern, n, unique } => {
                let mut hits: Vec<&(u32, String, Option<String>)> =
                    self.entries.iter().filter(|e| glob_match(pattern, &e.1)).collect();
                if *unique {
                    // Keep the latest occurrence of each input.
                    let mut seen = std::collections::HashSet::new();
                    let mut rev: Vec<_> = hits.into_iter().rev().filter(|e| seen.insert(e.1.clone())).collect();
                    rev.reverse();
                    hits = rev;
                }
                if let Some(n) = n {
                    let skip = hits.len().saturating_sub(*n);
                    hits = hits.into_iter().skip(skip).collect();
                }
                hits
            }
        };
        pick.into_iter()
            .map(|(count, input, output)| {
                if with_output {
                    serde_json::json!([SESSION, count, [input, output]])
                } else {
                    serde_json::json!([SESSION, count, input])
                }
            })
            .collect()
    }
}

/// Glob matching as IPython's history search does it: `*` and `?`, whole string.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("6?7", "6*7"));
        assert!(glob_match("*vec*", "let v = vec![1];"));
        assert!(!glob_match("6?7", "6*77"));
    }

    #[test]
    fn queries() {
        let mut h = History::default();
        h.push(1, "a", None);
        h.push(2, "b", Some("2".into()));
        h.push(3, "a", None);
        assert_eq!(h.query(&Query::Tail { n: 2 }, false).len(), 2);
        let r = h.query(&Query::Range { session: SESSION, start: 2, stop: 3 }, true);
        assert_eq!(r, vec![serde_json::json!([1, 2, ["b", "2"]])]);
        let s = h.query(&Query::Search { pattern: "a".into(), n: None, unique: true }, false);
        assert_eq!(s, vec![serde_json::json!([1, 3, "a"])]);
    }
}
