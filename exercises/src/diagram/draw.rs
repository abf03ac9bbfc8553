//! Messages, marks on the lanes and the highlighted event.

use std::collections::BTreeMap;
use std::fmt::Debug;

use super::canvas::Canvas;
use super::layout::{Layout, ROW};
use super::text::{self, compact, shorten, width, Placer, Rect};
use super::{Highlight, Subject};
use crate::faults::fmt_time;
use crate::trace::{Dest, DropReason, EventKind, Trace};
use crate::NodeId;

/// Tries label boxes right of a point, then left of it.
fn beside(placer: &mut Placer, x: f64, y: f64, w: f64) -> Option<(f64, &'static str)> {
    let right = |gap: f64| -> Rect { [x + gap, y - 7.0, x + gap + 2.0 + w, y + 5.0] };
    let left = |gap: f64| -> Rect { [x - gap - 2.0 - w, y - 7.0, x - gap, y + 5.0] };
    // Farther out second: clear of a highlight ring.
    let r = placer.place([right(6.0), left(6.0), right(13.0), left(13.0)])?;
    Some(if r[0] > x { (r[0] + 1.0, "start") } else { (r[2] - 1.0, "end") })
}

fn mark_label(c: &mut Canvas, placer: &mut Placer, x: f64, y: f64, class: &str, text: &str, title: &str) {
    let text = shorten(text, 24);
    if let Some((lx, anchor)) = beside(placer, x, y, width(&text, 10.0)) {
        c.label(lx, y + 3.5, anchor, class, &text, title);
    }
}

/// Timers, observations, crashes, recoveries, clock adjustments, failures.
pub fn marks<M>(c: &mut Canvas, lay: &Layout, trace: &Trace<M>, placer: &mut Placer) {
    for (i, event) in trace.events.iter().enumerate().take(lay.to).skip(lay.from) {
        let Some(node) = event.node().filter(|&n| n < lay.nodes) else {
            continue;
        };
        let (x, y) = (lay.lane_x[node], lay.y(i));
        let when = format!("event #{i} at {}, node {node}", fmt_time(event.at));
        match &event.kind {
            EventKind::Timer { tag, .. } => {
                let title = format!("{when}: timer {tag} fired");
                c.open("", &title);
                c.diamond(x, y, 4.5, "dl-timer");
                c.close();
                mark_label(c, placer, x, y, "dl-ttimer", &format!("timer {tag}"), &title);
            }
            EventKind::Observe { what, .. } => {
                let title = format!("{when}: {what:?}");
                c.open("", &title);
                c.circle(x, y, 4.0, "dl-obs");
                c.close();
                mark_label(c, placer, x, y, "dl-tobs", &text::observation(what), &title);
            }
            EventKind::Crash { .. } => {
                let title = format!("{when}: crash");
                c.open("", &title);
                c.cross(x, y, 6.0, "dl-crossed");
                c.close();
                mark_label(c, placer, x, y, "", "crash", &title);
            }
            EventKind::Recover { .. } => {
                let title = format!("{when}: recovers");
                c.open("", &title);
                c.circle(x, y, 4.5, "dl-timer");
                c.close();
                mark_label(c, placer, x, y, "", "recover", &title);
            }
            EventKind::ClockAdjust { delta, .. } => {
                let sign = if *delta < 0 { "-" } else { "+" };
                let text = format!("clock {sign}{}", fmt_time(delta.abs()));
                let title = format!("{when}: adjusts its clock by {sign}{} us", delta.abs());
                c.open("", &title);
                c.diamond(x, y, 4.5, "dl-obs");
                c.close();
                mark_label(c, placer, x, y, "dl-tobs", &text, &title);
            }
            EventKind::Fail { handler, message, .. } => {
                let title = format!("{when}: failed in {handler}: {message}");
                c.open("", &title);
                c.rect(x - 6.0, y - 6.0, 12.0, 12.0, "dl-fail");
                c.close();
                mark_label(c, placer, x, y, "dl-tdrop", &format!("failed in {handler}"), &title);
            }
            _ => {}
        }
    }
}

/// Every copy of every message that touches the shown range.
pub fn messages<M: Debug>(c: &mut Canvas, lay: &Layout, trace: &Trace<M>, placer: &mut Placer) {
    // Fates (deliveries and drops) per message and receiver, in order; a
    // second fate is the duplicate copy.
    let mut fates: BTreeMap<(usize, NodeId), Vec<usize>> = BTreeMap::new();
    for (j, event) in trace.events.iter().enumerate().skip(lay.from) {
        if let EventKind::Deliver { id, to, .. } | EventKind::Drop { id, to, .. } = event.kind {
            if lay.shows(id) || lay.shows(j) {
                fates.entry((id, to)).or_default().push(j);
            }
        }
    }
    let mut last_label: Option<(usize, NodeId, String)> = None;
    for (&(id, to), list) in &fates {
        let Some(EventKind::Send { from, msg, .. }) = trace.events.get(id).map(|e| &e.kind) else {
            continue;
        };
        let debug = format!("{msg:?}");
        for (copy, &j) in list.iter().enumerate() {
            if !lay.shows(j) && !lay.shows(id) {
                continue;
            }
            let arrow = Arrow { lay, trace, id, from: *from, to, fate: Some(j), copy, debug: &debug };
            arrow.draw(c, placer, &mut last_label);
        }
    }
    // Copies with no fate at all: still in flight (or beyond the range).
    for (id, event) in trace.events.iter().enumerate().take(lay.to).skip(lay.from) {
        let EventKind::Send { from, to, msg } = &event.kind else {
            continue;
        };
        let receivers: Vec<NodeId> = match *to {
            Dest::Node(t) => vec![t],
            Dest::AllOthers => (0..lay.nodes).filter(|t| t != from).collect(),
        };
        let debug = format!("{msg:?}");
        for t in receivers {
            if fates.contains_key(&(id, t)) || t >= lay.nodes {
                continue;
            }
            let arrow = Arrow { lay, trace, id, from: *from, to: t, fate: None, copy: 0, debug: &debug };
            arrow.draw(c, placer, &mut last_label);
        }
    }
}

struct Arrow<'a, M> {
    lay: &'a Layout,
    trace: &'a Trace<M>,
    id: usize,
    from: NodeId,
    to: NodeId,
    /// The delivery or drop event, if there is one.
    fate: Option<usize>,
    /// 0 for the first copy, 1 for the duplicate.
    copy: usize,
    debug: &'a str,
}

impl<M> Arrow<'_, M> {
    fn draw(&self, c: &mut Canvas, placer: &mut Placer, last_label: &mut Option<(usize, NodeId, String)>) {
        let lay = self.lay;
        if self.from >= lay.nodes || self.to >= lay.nodes {
            return;
        }
        let sent_in_range = lay.shows(self.id);
        let start = (lay.lane_x[self.from], if sent_in_range { lay.y(self.id) } else { lay.top });
        let sent_at = self.trace.events[self.id].at;
        let mut title = format!(
            "message #{} from node {} to node {}, sent at {}{}\n{}",
            self.id,
            self.from,
            self.to,
            fmt_time(sent_at),
            if sent_in_range { String::new() } else { " (before the shown range)".into() },
            self.debug
        );
        let fate = self.fate.map(|j| (j, &self.trace.events[j]));
        let reason = match fate.map(|(_, e)| &e.kind) {
            Some(EventKind::Drop { reason, .. }) => Some(*reason),
            _ => None,
        };
        let xt = lay.lane_x[self.to];
        let (end, edge) = match fate {
            Some((j, e)) if lay.shows(j) => {
                if reason == Some(DropReason::Loss) {
                    // Lost on the wire: the X goes part of the way over.
                    let y = start.1 + 1.5 * ROW;
                    ((start.0 + (xt - start.0) * 0.45, y), false)
                } else {
                    let what = match reason {
                        None if self.copy > 0 => "duplicate copy delivered",
                        None => "delivered",
                        Some(DropReason::Partition) => "dropped by a partition",
                        Some(_) => "dropped: the receiver was down",
                    };
                    title.push_str(&format!("\n{what} at {} (event #{j})", fmt_time(e.at)));
                    ((xt, lay.y(j)), false)
                }
            }
            Some((j, e)) => {
                title.push_str(&format!("\narrives at {} (event #{j}, after the shown range)", fmt_time(e.at)));
                ((xt, lay.bottom), true)
            }
            None => {
                let why = if lay.to == self.trace.events.len() {
                    "still in flight when the run ended"
                } else {
                    "arrives after the shown range"
                };
                title.push_str(&format!("\n{why}"));
                ((xt, lay.bottom), true)
            }
        };
        if reason == Some(DropReason::Loss) {
            title.push_str("\nlost by the network");
        }
        if self.copy > 0 {
            title.push_str("\n(the network duplicated this message)");
        }
        // Copies that cross the edge of the shown range are stubs pointing
        // the right way: long lines to the edge would bury the picture.
        let reach = lay.spacing * 0.8 + 24.0;
        // They stay between the cut lines, off the markers and node names.
        let (start, end) = if !sent_in_range {
            let y = (end.1 - 2.0 * ROW - (end.0 - start.0).abs() * 0.3).max(lay.top);
            (towards(end, (start.0, y), reach), end)
        } else if edge {
            let y = (start.1 + 2.0 * ROW + (end.0 - start.0).abs() * 0.3).min(lay.bottom);
            (start, towards(start, (end.0, y), reach))
        } else {
            (start, end)
        };
        let (class, head) = match (reason, self.copy) {
            (Some(_), _) => ("dl-drop", None),
            (None, 0) => ("dl-msg", Some("msg")),
            (None, _) => ("dl-dup", Some("dup")),
        };
        let faded = if edge || !sent_in_range { " dl-edge" } else { "" };
        c.open(faded.trim(), &title);
        c.arrow(start, end, class, head);
        // A small ring marks the end that continues outside the range.
        if !sent_in_range {
            c.circle(start.0, start.1, 2.5, "dl-open");
        } else if edge {
            c.circle(end.0, end.1, 2.5, "dl-open");
        }
        if let Some(reason) = reason {
            c.cross(end.0, end.1, 4.5, "dl-x");
            let word = match reason {
                DropReason::Loss => "lost",
                DropReason::Partition => "partition",
                DropReason::Crashed => "down",
            };
            let w = width(word, 10.0);
            if let Some((lx, anchor)) = beside(placer, end.0, end.1, w) {
                c.label(lx, end.1 + 3.5, anchor, "dl-tdrop", word, &title);
            }
        }
        c.close();
        self.label(c, placer, start, end, &title, last_label);
    }

    /// The message text on the arrow, once per send, where there is room.
    fn label(
        &self,
        c: &mut Canvas,
        placer: &mut Placer,
        start: (f64, f64),
        end: (f64, f64),
        title: &str,
        last: &mut Option<(usize, NodeId, String)>,
    ) {
        let text = compact(self.debug);
        let row = if self.lay.shows(self.id) { self.lay.row(self.id) } else { usize::MAX };
        // A broadcast's copies say the same thing: label one of them.
        if self.copy > 0 || last.as_ref().is_some_and(|(r, f, t)| *r == row && *f == self.from && *t == text) {
            return;
        }
        let dx = (end.0 - start.0).abs();
        let max = ((dx / 5.8) as usize).clamp(8, 30);
        let short = shorten(&text, max);
        let w = width(&short, 10.0) + 4.0;
        let at = |t: f64| (start.0 + (end.0 - start.0) * t, start.1 + (end.1 - start.1) * t);
        let candidates = [0.5, 0.32, 0.68, 0.18, 0.82].map(|t| {
            let (x, y) = at(t);
            [x - w / 2.0, y - 8.0, x + w / 2.0, y + 4.0]
        });
        let Some(r) = placer.place(candidates) else {
            return;
        };
        c.label((r[0] + r[2]) / 2.0, r[3] - 1.5, "middle", "", &short, title);
        *last = Some((row, self.from, text));
    }
}

/// The point `reach` away from `from` on the way to `to` (or `to` itself).
fn towards(from: (f64, f64), to: (f64, f64), reach: f64) -> (f64, f64) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let length = (dx * dx + dy * dy).sqrt();
    if length <= reach {
        return to;
    }
    (from.0 + dx * reach / length, from.1 + dy * reach / length)
}

/// The violating event: a yellow row, a ring, and the invariant in words.
pub fn highlight_under(c: &mut Canvas, lay: &Layout, h: &Highlight) {
    if lay.shows(h.event) {
        let y = lay.y(h.event);
        c.rect(0.0, y - ROW / 2.0, lay.width, ROW, "dl-hl");
    }
}

/// Characters per line of the call-out: the picture is always wide enough.
const CALLOUT_CHARS: usize = 72;

fn callout_lines(h: &Highlight) -> Vec<String> {
    text::wrap(&h.text, CALLOUT_CHARS)
}

/// The room the call-out needs below the event's row.
pub fn callout_height(h: &Highlight) -> f64 {
    (callout_lines(h).len() + 1) as f64 * 14.0 + 18.0
}

/// The lifeline a highlight is marked on, if any.
pub fn marked_node<M>(trace: &Trace<M>, h: &Highlight) -> Option<NodeId> {
    match h.subject {
        Subject::Event => trace.events.get(h.event).and_then(|e| e.node()),
        Subject::Node(node) => Some(node),
        Subject::Run => None,
    }
}

/// Whether the check judged the violation somewhere other than at the
/// event's own point: at a deadline or the end of the run, or about
/// another node than the event's.
fn judged_apart<M>(trace: &Trace<M>, h: &Highlight) -> bool {
    let Some(event) = trace.events.get(h.event) else {
        return false;
    };
    match h.subject {
        Subject::Event => false,
        Subject::Node(node) => event.node() != Some(node) || h.at.is_some_and(|t| t != event.at),
        Subject::Run => true,
    }
}

/// Where the violation is, in words: "event #12" or, for one judged over
/// the run, "node 0, judged at 2 s" or "node 0, at the end of the run (2 s)".
pub fn place_words<M>(trace: &Trace<M>, h: &Highlight) -> String {
    let Some(event) = trace.events.get(h.event).filter(|_| judged_apart(trace, h)) else {
        return format!("event #{}", h.event);
    };
    let who = marked_node(trace, h).map_or("the run as a whole".to_owned(), |node| format!("node {node}"));
    // A run that went quiet before a deadline is judged where it ended.
    match h.at.unwrap_or(event.at) {
        at if at >= trace.end => format!("{who}, at the end of the run ({})", fmt_time(trace.end)),
        at => format!("{who}, judged at {}", fmt_time(at)),
    }
}

/// Where the highlight goes: the point on the lifeline it is about (if
/// it is about one), the call-out box and its lines. None when the event
/// is not shown.
fn callout<M>(lay: &Layout, trace: &Trace<M>, h: &Highlight) -> Option<((f64, f64), Rect, Vec<String>)> {
    if !lay.shows(h.event) {
        return None;
    }
    let event = &trace.events[h.event];
    let y = lay.y(h.event);
    let node = marked_node(trace, h).filter(|&n| n < lay.nodes);
    let x = node.map_or(lay.lane_x[0], |n| lay.lane_x[n]);
    let head = if judged_apart(trace, h) {
        format!("violation: {}", place_words(trace, h))
    } else {
        format!("violation at event #{} ({})", h.event, fmt_time(event.at))
    };
    let mut lines = vec![format!("{head}:")];
    lines.extend(callout_lines(h));
    let bw = lines.iter().map(|l| width(l, 11.0)).fold(0.0, f64::max) + 16.0;
    let bh = lines.len() as f64 * 14.0 + 8.0;
    let bx = (x - 30.0).clamp(6.0, (lay.width - bw - 6.0).max(6.0));
    // In the room the layout left below the row.
    let by = y + ROW / 2.0 + 4.0;
    Some(((x, y), [bx, by, bx + bw, by + bh], lines))
}

/// Keeps labels off the ring and the call-out.
pub fn reserve<M>(placer: &mut Placer, lay: &Layout, trace: &Trace<M>, h: &Highlight) {
    if let Some(((x, y), rect, _)) = callout(lay, trace, h) {
        placer.place([[x - 11.0, y - 11.0, x + 11.0, y + 11.0]]);
        placer.place([rect]);
    }
}

pub fn highlight_over<M>(c: &mut Canvas, lay: &Layout, trace: &Trace<M>, h: &Highlight) {
    let Some(((x, y), [bx, by, right, bottom], lines)) = callout(lay, trace, h) else {
        return;
    };
    let mut layer = Canvas { out: String::new(), top: String::new() };
    layer.open("", &h.text);
    let node = marked_node(trace, h).filter(|&n| n < lay.nodes);
    if node.is_some() {
        // The ring says which lifeline; `data-node` lets tests read it.
        layer.ring(x, y, 10.0, node);
        layer.line(x, y + 10.0, x, by, "dl-ring");
    }
    layer.rect(bx, by, right - bx, bottom - by, "dl-callout");
    for (k, line) in lines.iter().enumerate() {
        let style = if k == 0 { "font-weight:bold;fill:#D55E00" } else { "fill:#111" };
        layer.plain(bx + 8.0, by + 16.0 + 14.0 * k as f64, style, line);
    }
    layer.close();
    c.top.push_str(&layer.out);
}
