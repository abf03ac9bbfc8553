//! Verdicts and diagrams as HTML, for notebooks and the dashboard.
//!
//! In a notebook (evcxr) a cell whose last value has an `evcxr_display`
//! method shows rich output: that method prints
//! `EVCXR_BEGIN_CONTENT <mime>` ... `EVCXR_END_CONTENT` to stdout. [`Html`]
//! and [`Svg`] do that; [`show_html`] prints the same block mid-cell.

use std::fmt::{self, Debug, Write};

use crate::check::{Status, Verdict};
use crate::diagram::{escape, html, DiagramOptions, Highlight};
use crate::trace::Trace;

/// HTML that a notebook shows rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Html(pub String);

/// An SVG picture that a notebook shows rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Svg(pub String);

/// The block evcxr turns into rich output of type `mime`.
pub fn evcxr_block(mime: &str, content: &str) -> String {
    format!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT\n")
}

impl Html {
    /// Called by evcxr on a cell's final value.
    pub fn evcxr_display(&self) {
        print!("{}", evcxr_block("text/html", &self.0));
    }
}

impl Svg {
    pub fn evcxr_display(&self) {
        print!("{}", evcxr_block("image/svg+xml", &self.0));
    }
}

impl fmt::Display for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Svg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shows HTML in the notebook now, in the middle of a cell.
pub fn show_html(html: &str) {
    print!("{}", evcxr_block("text/html", html));
}

/// Colour (Okabe-Ito) and symbol of a status: the symbol alone carries it.
fn status_style(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Pass => ("#009E73", "✔"),
        Status::Fail => ("#D55E00", "✘"),
        Status::Unknown => ("#E69F00", "?"),
    }
}

/// One line: how many checks passed, failed, are unknown.
fn summary(verdicts: &[Verdict]) -> String {
    let count = |s: Status| verdicts.iter().filter(|v| v.status == s).count();
    format!(
        "{} checks: {} pass, {} fail, {} unknown",
        verdicts.len(),
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Unknown)
    )
}

/// A table of verdicts, one row each, with inline styles only (no page-wide
/// CSS in a notebook).
pub fn verdicts_html(verdicts: &[Verdict]) -> String {
    let cell = "padding:4px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top";
    let mut out = String::new();
    let _ = write!(
        out,
        "<div class=\"distlab-verdicts\" style=\"font-family:sans-serif\"><p style=\"margin:4px 0\">{}</p>\n\
         <table style=\"border-collapse:collapse;font-family:sans-serif;font-size:13px\">\n<thead><tr>",
        escape(&summary(verdicts))
    );
    for head in ["check", "status", "message", "scenario", "seed", "replay"] {
        let _ = write!(out, "<th style=\"{cell}\">{head}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for v in verdicts {
        let (colour, symbol) = status_style(v.status);
        // A summary row (all runs passed) names no run: no seed, no replay.
        let (seed, replay) = if v.replay.is_empty() {
            (String::new(), String::new())
        } else {
            (v.seed.to_string(), format!("<code style=\"font-size:12px\">{}</code>", escape(&v.replay)))
        };
        let _ = writeln!(
            out,
            "<tr><td style=\"{cell}\">{}</td>\
             <td style=\"{cell};color:{colour};font-weight:bold;white-space:nowrap\">{symbol} {}</td>\
             <td style=\"{cell}\">{}</td><td style=\"{cell}\">{}</td><td style=\"{cell};white-space:nowrap\">{seed}</td>\
             <td style=\"{cell};white-space:nowrap\">{replay}</td></tr>",
            escape(&v.check),
            escape(&v.status.to_string()),
            escape(&v.message),
            escape(&v.scenario),
        );
    }
    out.push_str("</tbody></table></div>\n");
    out
}

/// The table, then the diagram of `trace`: highlighted at the first failing
/// verdict's event when that verdict is about this run.
pub fn report_html<M: Debug>(verdicts: &[Verdict], trace: Option<&Trace<M>>) -> String {
    let mut out = verdicts_html(verdicts);
    let Some(trace) = trace else { return out };
    let failed = verdicts.iter().find(|v| v.status == Status::Fail);
    let same_run = |v: &&Verdict| v.seed == trace.seed && v.scenario == trace.scenario.name;
    let options = match failed.filter(same_run).and_then(Highlight::from_verdict) {
        Some(h) => DiagramOptions::default().around(h),
        None => DiagramOptions::default(),
    };
    if let Some(v) = failed.filter(|v| !same_run(v)) {
        let _ = writeln!(
            out,
            "<p>The failing check ran scenario '{}' seed {}; the diagram shows scenario '{}' seed {}.</p>",
            escape(&v.scenario),
            v.seed,
            escape(&trace.scenario.name),
            trace.seed
        );
    }
    out.push_str(&html(trace, &options));
    out
}

/// The verdicts as plain text, one line each, for terminals and logs.
pub fn verdicts_text(verdicts: &[Verdict]) -> String {
    let wide = verdicts.iter().map(|v| v.check.chars().count()).max().unwrap_or(0);
    let mut out = format!("{}\n", summary(verdicts));
    for v in verdicts {
        let (_, symbol) = status_style(v.status);
        let _ = writeln!(out, "{symbol} {:<7} {:<wide$}  {}", v.status.to_string(), v.check, v.message);
        if v.status != Status::Pass {
            let _ = writeln!(out, "    scenario '{}', seed {}; replay: {}", v.scenario, v.seed, v.replay);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(status: Status, seed: u64, replay: &str) -> Verdict {
        Verdict {
            check: "c".into(),
            status,
            message: "m".into(),
            event: None,
            at: None,
            seed,
            scenario: if replay.is_empty() { String::new() } else { "s".into() },
            replay: replay.into(),
            node: None,
        }
    }

    #[test]
    fn summary_rows_show_no_seed_and_no_replay_box() {
        let html = verdicts_html(&[verdict(Status::Pass, 0, "")]);
        assert!(!html.contains("<code"), "{html}");
        assert!(!html.contains(">0</td>"), "{html}");
        let html = verdicts_html(&[verdict(Status::Fail, 4242, ":check warmup --seed 4242")]);
        assert!(html.contains("white-space:nowrap\">4242</td>"), "{html}");
        assert!(html.contains("<code style=\"font-size:12px\">:check warmup --seed 4242</code>"), "{html}");
    }
}
