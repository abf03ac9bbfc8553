//! A space-time (Lamport) diagram of a trace, as one self-contained SVG.
//!
//! Each process is a vertical line and time flows down, the way message
//! sequence charts read: labels stay horizontal and long runs scroll down,
//! which notebooks and web pages do well. Rows follow event order (see
//! [`layout`]), with a visible break where a lot of time passes quietly.
//! Hover any mark for its full text (SVG `<title>`); no script, no assets.

mod background;
mod canvas;
mod draw;
mod focus;
mod layout;
mod page;
mod text;

use std::fmt::Debug;

use crate::check::Verdict;
use crate::faults::fmt_time;
use crate::trace::Trace;
use crate::{NodeId, Time};
use canvas::{Canvas, VERMILION};
pub use focus::Focus;
use layout::{Layout, AXIS};
pub use page::{html, Diagram, WholeRun};
pub use text::escape;

/// An event to point at, with what went wrong in words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Highlight {
    /// Index into the trace's events: the row the mark goes on.
    pub event: usize,
    pub text: String,
    /// Whose lifeline carries the mark.
    pub subject: Subject,
    /// When the check judged, if not at the event itself (a deadline, the
    /// end of the run).
    pub at: Option<Time>,
}

/// Where on its row a highlight is marked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Subject {
    /// On the event itself, on its node's lifeline.
    #[default]
    Event,
    /// On this node's lifeline: a violation about a node that was judged
    /// at this row ("node 0 never got a pong"), not caused by its event.
    Node(NodeId),
    /// On no lifeline: a violation of the run as a whole (a count, "no node
    /// ever decided").
    Run,
}

impl Highlight {
    pub fn new(event: usize, text: impl Into<String>) -> Highlight {
        Highlight { event, text: text.into(), ..Highlight::default() }
    }

    /// The violation of a failed verdict, if it names an event: marked on
    /// the node the verdict is about, or on no lifeline if it names none.
    pub fn from_verdict(verdict: &Verdict) -> Option<Highlight> {
        let event = verdict.event.filter(|_| !verdict.passed())?;
        Some(Highlight {
            event,
            text: format!("{}: {}", verdict.check, verdict.message),
            subject: verdict.node.map_or(Subject::Run, Subject::Node),
            at: verdict.at,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiagramOptions {
    /// Widest the picture may be, in pixels; lanes are spaced to fit.
    pub width: u32,
    /// At most this many events are drawn, from `from_event` on; what is
    /// cut is said in the picture.
    pub max_events: usize,
    pub from_event: usize,
    /// Replaces the default title (scenario and seed).
    pub title: Option<String>,
    pub highlight: Option<Highlight>,
    /// With a highlight in a long run, only a window around it is drawn
    /// (this overrides `from_event`); [`Focus::OFF`] draws as above.
    pub focus: Focus,
}

impl Default for DiagramOptions {
    fn default() -> Self {
        DiagramOptions {
            width: 1000,
            max_events: 300,
            from_event: 0,
            title: None,
            highlight: None,
            focus: Focus::default(),
        }
    }
}

impl DiagramOptions {
    /// Highlights `highlight` and moves the window of `max_events` so the
    /// event sits in its upper part, with what led up to it above (what is
    /// drawn without focus, e.g. the whole run behind a [`Diagram`]'s toggle).
    pub fn around(self, highlight: Highlight) -> Self {
        DiagramOptions {
            from_event: highlight.event.saturating_sub(self.max_events * 2 / 3),
            highlight: Some(highlight),
            ..self
        }
    }

    /// The same options drawing the whole run (up to `max_events`).
    pub fn unfocused(&self) -> Self {
        DiagramOptions { focus: Focus::OFF, ..self.clone() }
    }
}

/// The SVG diagram of `trace`. The same trace and options give the same
/// bytes.
pub fn svg<M: Debug>(trace: &Trace<M>, options: &DiagramOptions) -> String {
    let header = Header::new(trace, options);
    let room = options.highlight.as_ref().map(|h| (h.event, draw::callout_height(h)));
    let window = focus::range(trace.events.len(), options);
    // Room for the "earlier events" marker above the node names.
    let top = header.height + 26.0 + if window.0 > 0 { focus::MARKER } else { 0.0 };
    let lay = Layout::new(trace, window, options.width as f64, top, room);
    let cut = lay.from > 0 || lay.to < trace.events.len();
    let height = lay.bottom + if cut { 46.0 } else { 30.0 };
    let mut c = Canvas::new(lay.width, height);
    let mut placer = text::Placer::default();
    header.draw(&mut c, &lay, trace, options);
    if let Some(h) = &options.highlight {
        draw::highlight_under(&mut c, &lay, h);
        draw::reserve(&mut placer, &lay, trace, h);
    }
    background::draw(&mut c, &lay, trace, &mut placer);
    lane_names(&mut c, &lay);
    focus::markers(&mut c, &lay, header.height, trace.events.len());
    draw::marks(&mut c, &lay, trace, &mut placer);
    draw::messages(&mut c, &lay, trace, &mut placer);
    if let Some(h) = &options.highlight {
        draw::highlight_over(&mut c, &lay, trace, h);
    }
    c.finish()
}

/// Node names above and below the lanes.
fn lane_names(c: &mut Canvas, lay: &Layout) {
    for (node, &x) in lay.lane_x.iter().enumerate() {
        c.plain(x - 18.0, lay.top - 8.0, "font-weight:bold", &format!("node {node}"));
        c.plain(x - 18.0, lay.bottom + 16.0, "fill:#555", &format!("node {node}"));
    }
}

/// Title, summary, legend and the violation in one line.
struct Header {
    height: f64,
    legend_rows: usize,
}

const LEGEND: [&str; 9] = [
    "message",
    "duplicate copy",
    "dropped (X)",
    "timer",
    "observation",
    "in critical section",
    "crashed",
    "partition sides",
    "violation",
];

impl Header {
    fn new<M>(trace: &Trace<M>, options: &DiagramOptions) -> Header {
        let nodes = trace.scenario.nodes.max(1) as f64;
        let width = (options.width as f64).min(AXIS + 16.0 + 240.0 * nodes).max(layout::MIN_WIDTH);
        let legend_rows = legend_layout(width).last().map_or(1, |&(row, _)| row + 1);
        let mut height = 48.0 + 18.0 * legend_rows as f64;
        if options.highlight.is_some() {
            height += 18.0;
        }
        Header { height, legend_rows }
    }

    fn draw<M>(&self, c: &mut Canvas, lay: &Layout, trace: &Trace<M>, options: &DiagramOptions) {
        let title = options.title.clone().unwrap_or_else(|| format!("{} · seed {}", trace.scenario.name, trace.seed));
        c.plain(10.0, 20.0, "font-size:15px;font-weight:bold", &text::shorten(&title, (lay.width / 8.5) as usize));
        let total = trace.events.len();
        let mut summary = format!(
            "{} processes · {} events · run ended at {} ({:?})",
            lay.nodes,
            total,
            fmt_time(trace.end),
            trace.stop
        );
        if lay.from > 0 || lay.to < total {
            summary.push_str(&format!(" · showing events {}–{} only", lay.from, lay.to.saturating_sub(1)));
        }
        c.plain(10.0, 38.0, "fill:#333", &summary);
        for (k, &(row, x)) in legend_layout(lay.width).iter().enumerate() {
            legend_item(c, k, x, 56.0 + 18.0 * row as f64);
        }
        if let Some(h) = &options.highlight {
            let y = 56.0 + 18.0 * self.legend_rows as f64;
            let place = draw::place_words(trace, h);
            let line = if lay.shows(h.event) {
                format!("✗ {place}: {}", h.text)
            } else {
                format!("✗ {place} (outside the shown range): {}", h.text)
            };
            c.open("", &h.text);
            c.plain(
                10.0,
                y,
                &format!("font-weight:bold;fill:{VERMILION}"),
                &text::shorten(&line, (lay.width / 6.6) as usize),
            );
            c.close();
        }
    }
}

/// (row, x) of each legend item, wrapping at `width`.
fn legend_layout(width: f64) -> Vec<(usize, f64)> {
    let (mut row, mut x) = (0, 10.0);
    LEGEND
        .iter()
        .map(|name| {
            let w = 34.0 + text::width(name, 11.0) + 14.0;
            if x + w > width - 10.0 && x > 10.0 {
                row += 1;
                x = 10.0;
            }
            let at = (row, x);
            x += w;
            at
        })
        .collect()
}

/// A sample of the mark, then its name; `y` is the text baseline.
fn legend_item(c: &mut Canvas, k: usize, x: f64, y: f64) {
    let m = y - 4.0;
    match k {
        0 => c.arrow((x, m), (x + 26.0, m), "dl-msg", Some("msg")),
        1 => c.arrow((x, m), (x + 26.0, m), "dl-dup", Some("dup")),
        2 => {
            c.arrow((x, m), (x + 22.0, m), "dl-drop", None);
            c.cross(x + 22.0, m, 4.0, "dl-x");
        }
        3 => c.diamond(x + 13.0, m, 4.5, "dl-timer"),
        4 => c.circle(x + 13.0, m, 4.0, "dl-obs"),
        5 => c.line(x + 2.0, m, x + 26.0, m, "dl-cs"),
        6 => {
            c.rect(x + 6.0, m - 6.0, 14.0, 12.0, "dl-crash");
            c.cross(x + 13.0, m, 4.0, "dl-crossed");
        }
        7 => {
            c.rect(x, m - 6.0, 13.0, 12.0, "dl-side-a");
            c.rect(x + 13.0, m - 6.0, 13.0, 12.0, "dl-side-b");
        }
        _ => c.circle(x + 13.0, m, 6.0, "dl-ring"),
    }
    c.plain(x + 32.0, y, "fill:#222", LEGEND[k]);
}
