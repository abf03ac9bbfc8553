//! A diagram as a page shows it: the window around the violation first,
//! and the whole run behind an HTML `<details>` toggle, which needs no
//! script (notebook outputs and the grader's pages run none).

use std::fmt::Debug;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use super::{focus, svg, DiagramOptions};
use crate::html::escape;
use crate::trace::Trace;

/// The drawings of one run: what to show first and, when that is only a
/// window of a long run, the whole run too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagram {
    /// Self-contained SVG: the run, or the window of it around the violation.
    pub svg: String,
    /// The whole run, when `svg` is a window of it. Boxed: reports move by
    /// value and most diagrams have none.
    #[serde(default)]
    pub whole: Option<Box<WholeRun>>,
}

/// The drawing behind the toggle.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WholeRun {
    /// The toggle's words.
    pub summary: String,
    /// The whole run (up to `max_events` of it).
    pub svg: String,
}

impl Diagram {
    /// Draws `trace`; a second, unfocused drawing only when the first
    /// leaves events out that the unfocused one would show.
    pub fn draw<M: Debug>(trace: &Trace<M>, options: &DiagramOptions) -> Diagram {
        let events = trace.events.len();
        let whole = options.unfocused();
        let (from, to) = focus::span(events, &whole);
        let windowed = focus::span(events, options) != (from, to);
        let summary = if (from, to) == (0, events) {
            format!("Show the whole run ({events} events)")
        } else {
            format!("Show more of the run (events {from}–{} of {events})", to.saturating_sub(1))
        };
        let whole = windowed.then(|| Box::new(WholeRun { summary, svg: svg(trace, &whole) }));
        Diagram { svg: svg(trace, options), whole }
    }

    /// Self-contained HTML: the first drawing, then the toggle (if any).
    pub fn html(&self) -> String {
        let mut out = format!("<div class=\"distlab-diagram\">\n<div style=\"overflow:auto\">\n{}</div>\n", self.svg);
        if let Some(whole) = &self.whole {
            out.push_str(&format!(
                "<details style=\"margin-top:4px\"><summary style=\"cursor:pointer;font-family:sans-serif\">{}</summary>\n\
                 <div style=\"overflow:auto\">\n{}</div>\n</details>\n",
                escape(&whole.summary),
                whole.svg
            ));
        }
        out.push_str("</div>\n");
        out
    }
}

/// The diagram of `trace` as HTML, with the whole-run toggle.
pub fn html<M: Debug>(trace: &Trace<M>, options: &DiagramOptions) -> String {
    Diagram::draw(trace, options).html()
}

/// A diagram reads as its first drawing, the SVG callers had before there
/// was a window (`report.diagram.as_deref()` is that SVG).
impl Deref for Diagram {
    type Target = str;
    fn deref(&self) -> &str {
        &self.svg
    }
}

impl From<String> for Diagram {
    fn from(svg: String) -> Diagram {
        Diagram { svg, whole: None }
    }
}

impl From<&str> for Diagram {
    fn from(svg: &str) -> Diagram {
        Diagram::from(svg.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toggled() -> Diagram {
        let whole = WholeRun { summary: "events <1> & \"2\"".into(), svg: "<svg>all</svg>".into() };
        Diagram { svg: "<svg>w</svg>".into(), whole: Some(Box::new(whole)) }
    }

    #[test]
    fn the_whole_run_is_behind_a_details_toggle() {
        let html = toggled().html();
        let window = html.find("<svg>w</svg>").expect("the window");
        let details = html.find("<details").expect("the toggle");
        assert!(window < details && html.contains("<svg>all</svg></div>\n</details>"));
        assert!(html.contains("<summary"));
        assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href="));
    }

    #[test]
    fn the_toggle_words_are_escaped() {
        assert!(toggled().html().contains("events &lt;1&gt; &amp; &quot;2&quot;"));
    }

    #[test]
    fn a_diagram_without_a_window_has_no_toggle_and_reads_as_its_svg() {
        let d = Diagram::from("<svg/>");
        assert!(!d.html().contains("<details"));
        assert!(d.starts_with("<svg"));
        assert_eq!(Some(d).as_deref(), Some("<svg/>"));
    }
}
