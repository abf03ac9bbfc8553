//! Which events a diagram draws: a long run is cut to a window around its
//! violation, so the violation is on screen without scrolling through
//! everything that led up to it, and the cut says what it left out.

use super::canvas::Canvas;
use super::layout::Layout;
use super::DiagramOptions;

/// Height of the line that says how many earlier events are not drawn.
pub const MARKER: f64 = 18.0;

/// How much of a long run is drawn around a highlighted event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Focus {
    /// Runs of at most this many events are drawn whole.
    pub whole_up_to: usize,
    /// Events drawn before the highlighted one: what led up to it.
    pub before: usize,
    /// Events drawn after it: enough to see what the nodes did next.
    pub after: usize,
}

impl Focus {
    /// No window: draw from `from_event`, up to `max_events`.
    pub const OFF: Focus = Focus { whole_up_to: usize::MAX, before: 0, after: 0 };
}

impl Default for Focus {
    /// About 30 rows: a window that fits a laptop screen with the header.
    fn default() -> Self {
        Focus { whole_up_to: 40, before: 24, after: 6 }
    }
}

/// The first event drawn and how many: a window around the highlight in a
/// long run, else what the options ask for.
pub fn range(events: usize, options: &DiagramOptions) -> (usize, usize) {
    let focus = options.focus;
    match &options.highlight {
        Some(h) if events > focus.whole_up_to && h.event < events => {
            // A small `max_events` still keeps the event itself in view.
            let max = options.max_events.max(1);
            let from = h.event.saturating_sub(focus.before.min(max - 1));
            let count = (h.event - from + 1).saturating_add(focus.after);
            (from, count.min(max))
        }
        _ => (options.from_event, options.max_events),
    }
}

/// The events drawn, `from..to`, as the layout will clip them.
pub fn span(events: usize, options: &DiagramOptions) -> (usize, usize) {
    let (from, count) = range(events, options);
    let from = from.min(events);
    (from, from.saturating_add(count.max(1)).min(events))
}

/// "… N earlier events" above the lanes and "… N later events" below
/// them, each with a dotted tear across the lanes, where the run is cut.
pub fn markers(c: &mut Canvas, lay: &Layout, header: f64, total: usize) {
    let (_, right) = lay.lanes_span();
    let grey = "fill:#555;font-style:italic";
    if lay.from > 0 {
        let text = format!("… {} earlier {} not drawn", lay.from, events(lay.from));
        c.open("", &text);
        c.plain(8.0, header + 14.0, grey, &text);
        c.line(6.0, lay.top, right, lay.top, "dl-break");
        c.close();
    }
    if lay.to < total {
        let later = total - lay.to;
        let text = format!("… {later} later {} not drawn", events(later));
        c.open("", &text);
        c.line(6.0, lay.bottom, right, lay.bottom, "dl-break");
        c.plain(8.0, lay.bottom + 34.0, grey, &text);
        c.close();
    }
}

fn events(n: usize) -> &'static str {
    if n == 1 {
        "event"
    } else {
        "events"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagram::Highlight;

    fn at(event: usize) -> DiagramOptions {
        DiagramOptions { highlight: Some(Highlight::new(event, "x")), ..DiagramOptions::default() }
    }

    #[test]
    fn a_short_run_is_drawn_whole() {
        assert_eq!(span(40, &at(39)), (0, 40));
        assert_eq!(span(12, &at(3)), (0, 12));
    }

    #[test]
    fn a_long_run_is_cut_around_the_violation() {
        let f = Focus::default();
        assert_eq!(span(103, &at(60)), (60 - f.before, 60 + f.after + 1));
        // Near either end the window stops at the run's edge.
        assert_eq!(span(103, &at(5)), (0, 5 + f.after + 1));
        assert_eq!(span(103, &at(102)), (102 - f.before, 103));
    }

    #[test]
    fn without_a_highlight_or_focus_the_options_decide() {
        let plain = DiagramOptions { from_event: 10, max_events: 20, ..DiagramOptions::default() };
        assert_eq!(span(103, &plain), (10, 30));
        assert_eq!(span(103, &at(60).unfocused()), (0, 103));
        assert_eq!(span(1000, &at(900).unfocused()), (0, 300));
    }

    #[test]
    fn a_small_event_budget_keeps_the_violation_in_view() {
        let tight = DiagramOptions { max_events: 5, ..at(60) };
        let (from, to) = span(103, &tight);
        assert!((from..to).contains(&60) && to - from == 5, "{from}..{to}");
        // A highlight past the end of the run moves nothing.
        assert_eq!(span(103, &at(500)), (0, 103));
    }
}
