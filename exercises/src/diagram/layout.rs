//! Where things go: one vertical lane per process, one row per event that
//! needs its own place. Rows follow event order, not raw time, so a burst of
//! events at nearly the same instant stays readable; a long quiet stretch
//! adds a visible break so time still shows.

use crate::trace::{DropReason, Event, EventKind, Trace};
use crate::Time;

/// Height of one row in pixels.
pub const ROW: f64 = 20.0;
/// Left margin for the time axis.
pub const AXIS: f64 = 78.0;
const RIGHT: f64 = 16.0;
/// Widest gap between two lanes; 2-3 processes should not be miles apart.
const MAX_SPACING: f64 = 240.0;
pub const MIN_WIDTH: f64 = 680.0;
/// Extra space for a quiet stretch of time.
const BREAK: f64 = 16.0;

pub struct Layout {
    pub nodes: usize,
    /// Shown events: `from..to`.
    pub from: usize,
    pub to: usize,
    /// The row of each shown event, by `index - from`.
    row_of: Vec<usize>,
    pub row_y: Vec<f64>,
    pub row_time: Vec<Time>,
    /// Quiet stretches: the y of the break and how long nothing happened.
    pub breaks: Vec<(f64, Time)>,
    pub lane_x: Vec<f64>,
    pub spacing: f64,
    pub width: f64,
    /// Top and bottom of the lanes.
    pub top: f64,
    pub bottom: f64,
}

impl Layout {
    /// `room_after`: an event below whose row `height` pixels stay free
    /// (for the violation call-out, so it hides nothing).
    pub fn new<M>(
        trace: &Trace<M>,
        (from, max_events): (usize, usize),
        max_width: f64,
        top: f64,
        room_after: Option<(usize, f64)>,
    ) -> Layout {
        let nodes =
            trace.events.iter().filter_map(Event::node).map(|n| n + 1).fold(trace.scenario.nodes, usize::max).max(1);
        let from = from.min(trace.events.len());
        let to = from.saturating_add(max_events.max(1)).min(trace.events.len());
        let spacing = ((max_width.max(MIN_WIDTH) - AXIS - RIGHT) / nodes as f64).min(MAX_SPACING);
        let width = (AXIS + RIGHT + spacing * nodes as f64).max(MIN_WIDTH);
        // Lanes are centred in whatever the minimum width leaves over.
        let left = AXIS + (width - AXIS - RIGHT - spacing * nodes as f64) / 2.0;
        let lane_x = (0..nodes).map(|i| left + spacing * (i as f64 + 0.5)).collect();

        let (row_of, row_time) = rows(&trace.events[from..to]);
        let room = room_after
            .filter(|(event, _)| (from..to).contains(event))
            .map(|(event, height)| (row_of[event - from], height));
        let (row_y, breaks) = place_rows(&row_time, top + ROW, room);
        let last_room = room.filter(|(row, _)| row + 1 == row_time.len()).map_or(0.0, |(_, h)| h);
        let bottom = row_y.last().copied().unwrap_or(top) + ROW + last_room;
        Layout { nodes, from, to, row_of, row_y, row_time, breaks, lane_x, spacing, width, top, bottom }
    }

    pub fn shows(&self, index: usize) -> bool {
        (self.from..self.to).contains(&index)
    }

    /// The y of a shown event.
    pub fn y(&self, index: usize) -> f64 {
        self.row_y[self.row_of[index - self.from]]
    }

    pub fn row(&self, index: usize) -> usize {
        self.row_of[index - self.from]
    }

    /// Left and right edges of the lanes area.
    pub fn lanes_span(&self) -> (f64, f64) {
        (self.lane_x[0] - self.spacing / 2.0, self.lane_x[self.nodes - 1] + self.spacing / 2.0)
    }
}

/// Whether an event is drawn on a row of its own. Starts draw nothing; a
/// duplicate or a loss happens at its send; the sends of one broadcast fan
/// out from one point.
fn needs_row<M>(event: &Event<M>, opener: Option<&Event<M>>) -> bool {
    match &event.kind {
        EventKind::Start { .. } | EventKind::Duplicate { .. } => false,
        EventKind::Drop { reason: DropReason::Loss, .. } => false,
        EventKind::Send { from, .. } => !matches!(
            opener,
            Some(Event { at, kind: EventKind::Send { from: f, .. } }) if at == &event.at && f == from
        ),
        _ => true,
    }
}

/// The row of every event and the time of every row.
fn rows<M>(events: &[Event<M>]) -> (Vec<usize>, Vec<Time>) {
    let mut row_of = Vec::with_capacity(events.len());
    let mut row_time: Vec<Time> = Vec::new();
    let mut opener: Option<&Event<M>> = None;
    for event in events {
        if needs_row(event, opener) {
            opener = Some(event);
            row_time.push(event.at);
        }
        // Events before the first row join it.
        row_of.push(row_time.len().saturating_sub(1));
    }
    if row_time.is_empty() {
        row_time.push(events.first().map_or(0, |e| e.at));
    }
    (row_of, row_time)
}

/// The y of every row: evenly spaced, plus a break where time jumps far
/// more than usual.
fn place_rows(row_time: &[Time], first: f64, room: Option<(usize, f64)>) -> (Vec<f64>, Vec<(f64, Time)>) {
    let mut steps: Vec<Time> = row_time.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0).collect();
    steps.sort_unstable();
    let typical = steps.get(steps.len() / 2).copied().unwrap_or(0);
    let mut ys = Vec::with_capacity(row_time.len());
    let mut breaks = Vec::new();
    let mut y = first;
    for (i, &t) in row_time.iter().enumerate() {
        if i > 0 {
            let quiet = t - row_time[i - 1];
            y += ROW;
            if let Some((_, height)) = room.filter(|(row, _)| row + 1 == i) {
                y += height;
            }
            if typical > 0 && quiet > 10 * typical && quiet >= 1000 {
                breaks.push((y - ROW / 2.0 + BREAK / 2.0, quiet));
                y += BREAK;
            }
        }
        ys.push(y);
    }
    (ys, breaks)
}
