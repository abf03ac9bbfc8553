//! What lies under the messages: partition bands, crashed stretches,
//! critical sections, the lanes themselves and the time axis.

use super::canvas::Canvas;
use super::layout::{Layout, AXIS};
use super::text::{Placer, Rect};
use crate::faults::{fmt_time, Fault};
use crate::process::Observation;
use crate::trace::{EventKind, Trace};
use crate::NodeId;

/// Spans `(y0, y1)` per node during which `state` holds, where `change`
/// says how an event moves it (Some(true) enters, Some(false) leaves).
fn spans<M>(
    lay: &Layout,
    trace: &Trace<M>,
    change: impl Fn(&EventKind<M>) -> Option<(NodeId, bool)>,
) -> Vec<Vec<(f64, f64)>> {
    let mut open: Vec<Option<f64>> = vec![None; lay.nodes];
    // The state when the shown range begins.
    for event in &trace.events[..lay.from] {
        if let Some((node, on)) = change(&event.kind) {
            open[node] = on.then_some(lay.top);
        }
    }
    let mut out = vec![Vec::new(); lay.nodes];
    for (i, event) in trace.events.iter().enumerate().take(lay.to).skip(lay.from) {
        match change(&event.kind) {
            Some((node, true)) if open[node].is_none() => open[node] = Some(lay.y(i)),
            Some((node, false)) => {
                if let Some(y0) = open[node].take() {
                    out[node].push((y0, lay.y(i)));
                }
            }
            _ => {}
        }
    }
    for (node, y0) in open.into_iter().enumerate() {
        if let Some(y0) = y0 {
            out[node].push((y0, lay.bottom));
        }
    }
    out
}

pub fn draw<M>(c: &mut Canvas, lay: &Layout, trace: &Trace<M>, placer: &mut Placer) {
    partitions(c, lay, trace, placer);
    let down = spans(lay, trace, |k| match *k {
        EventKind::Crash { node } => Some((node, true)),
        EventKind::Recover { node } => Some((node, false)),
        _ => None,
    });
    for (node, &x) in lay.lane_x.iter().enumerate() {
        c.open("", &format!("node {node}"));
        c.line(x, lay.top, x, lay.bottom, "dl-lane");
        c.close();
        for &(y0, y1) in &down[node] {
            c.open("", &format!("node {node} is down here"));
            c.rect(x - 7.0, y0, 14.0, y1 - y0, "dl-crash");
            c.line(x, y0, x, y1, "dl-down");
            c.close();
        }
    }
    let critical = spans(lay, trace, |k| match k {
        EventKind::Observe { node, what: Observation::EnterCritical } => Some((*node, true)),
        EventKind::Observe { node, what: Observation::ExitCritical } => Some((*node, false)),
        // A crash ends a critical section too.
        EventKind::Crash { node } => Some((*node, false)),
        _ => None,
    });
    for (node, list) in critical.iter().enumerate() {
        for &(y0, y1) in list {
            c.open("", &format!("node {node} is in its critical section"));
            c.line(lay.lane_x[node], y0, lay.lane_x[node], y1, "dl-cs");
            c.close();
        }
    }
    axis(c, lay);
}

/// A band per partition or cut, the two sides tinted differently.
fn partitions<M>(c: &mut Canvas, lay: &Layout, trace: &Trace<M>, placer: &mut Placer) {
    let (left, right) = lay.lanes_span();
    for (index, fault) in trace.scenario.schedule.faults.iter().enumerate() {
        let (side_a, side_b) = match fault {
            Fault::Partition { a, b, .. } => (a, b),
            Fault::Cut { from, to, .. } => (from, to),
            _ => continue,
        };
        let find = |start: bool| {
            trace.events.iter().position(|e| match e.kind {
                EventKind::FaultStart { fault } => start && fault == index,
                EventKind::FaultEnd { fault } => !start && fault == index,
                _ => false,
            })
        };
        let Some(start) = find(true) else { continue };
        let end = find(false);
        if start >= lay.to || end.is_some_and(|e| e < lay.from) {
            continue;
        }
        let y0 = if start >= lay.from { lay.y(start) } else { lay.top };
        let y1 = match end {
            Some(e) if e < lay.to => lay.y(e),
            _ => lay.bottom,
        };
        let describe = fault.describe();
        c.open("", &describe);
        for (side, class) in [(side_a, "dl-side-a"), (side_b, "dl-side-b")] {
            for &node in side.iter().filter(|&&n| n < lay.nodes) {
                let x = lay.lane_x[node] - lay.spacing * 0.42;
                c.rect(x, y0, lay.spacing * 0.84, y1 - y0, class);
            }
        }
        c.rect(left + 2.0, y0, right - left - 4.0, y1 - y0, "dl-band");
        c.close();
        let text = describe.clone();
        let w = super::text::width(&text, 10.0) + 6.0;
        let candidates: Vec<Rect> = (0..4)
            .map(|k| [left + 4.0, y0 + 2.0 + 13.0 * k as f64, left + 4.0 + w, y0 + 14.0 + 13.0 * k as f64])
            .collect();
        if let Some(r) = placer.place(candidates) {
            c.label(r[0] + 2.0, r[3] - 3.0, "start", "", &text, &describe);
        }
    }
}

/// Time labels on the left where time moves on, and marks for quiet stretches.
fn axis(c: &mut Canvas, lay: &Layout) {
    let mut last: Option<(i64, f64)> = None;
    for (&t, &y) in lay.row_time.iter().zip(&lay.row_y) {
        if last.is_some_and(|(lt, ly)| lt == t || y - ly < 12.0) {
            continue;
        }
        c.text(AXIS - 8.0, y + 3.5, "end", "dl-axis", &fmt_time(t));
        last = Some((t, y));
    }
    let (left, right) = lay.lanes_span();
    for &(y, quiet) in &lay.breaks {
        c.open("", &format!("nothing happened for {}", fmt_time(quiet)));
        c.line(6.0, y, right, y, "dl-break");
        c.text(left + 4.0, y - 2.0, "start", "dl-axis", &format!("… {} later", fmt_time(quiet)));
        c.close();
    }
}
