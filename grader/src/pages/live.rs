//! Live updates for the instructor's pages: `GET /dashboard/events`, a
//! stream of server-sent events. Every `POLL` the stream reads the
//! submissions graded since its cursor (`graded_at` and id, through the
//! `graded_at` index) and sends one `graded` event each; a `pending` event
//! carries the number of queued jobs. Every event's id is the cursor, so
//! the browser's EventSource resumes where it stopped (`Last-Event-ID`)
//! when a stream ends, which it does after `LIFETIME`; at most `MAX_STREAMS`
//! are open at once (503 beyond). The page side is `templates/live.html`.

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::Query;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::*;

/// How often a stream reads the gradebook.
const POLL: Duration = Duration::from_millis(500);
/// A stream ends after this (the browser reconnects with its cursor).
const LIFETIME: Duration = Duration::from_secs(300);
/// The `pending` count is sent when it changes, and at least this often.
const PENDING_EVERY: Duration = Duration::from_secs(5);
/// How often a stream checks that its session is still live.
const SESSION_EVERY: Duration = Duration::from_secs(30);
/// Streams open at once, over all instructors.
pub(super) const MAX_STREAMS: usize = 32;
/// Most events read per poll (a regrade of everything drains over polls).
const BATCH: i64 = 200;

pub(super) static STREAMS: Semaphore = Semaphore::const_new(MAX_STREAMS);

/// Where a stream stands: after this submission's grading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub graded_at: String,
    pub id: i64,
}

impl Cursor {
    /// `<graded_at>/<id>`, the events' id (`/0`: before any grading).
    pub fn encode(&self) -> String {
        format!("{}/{}", self.graded_at, self.id)
    }

    pub fn parse(s: &str) -> Option<Cursor> {
        let (t, id) = s.trim().rsplit_once('/')?;
        if t.len() > MAX_FIELD || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-:.+".contains(&b)) {
            return None;
        }
        Some(Cursor { graded_at: t.to_owned(), id: id.parse().ok()? })
    }

    /// After the newest grading so far (a page can render this with its
    /// list, so its stream starts exactly where the list ends).
    pub fn now(c: &crate::db::Conn) -> anyhow::Result<Cursor> {
        Ok(submissions::newest_graded(c)?
            .map(|(graded_at, id)| Cursor { graded_at, id })
            .unwrap_or(Cursor { graded_at: String::new(), id: 0 }))
    }
}

#[derive(Deserialize, Default)]
pub(super) struct EventsQuery {
    after: Option<String>,
}

struct Stream {
    db: Arc<crate::db::Db>,
    session: String,
    cursor: Cursor,
    queued: VecDeque<Event>,
    pending: Option<(i64, Instant)>,
    session_checked: Instant,
    end: Instant,
    first: bool,
    _permit: SemaphorePermit<'static>,
}

pub(super) async fn events(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Response {
    let Ok(permit) = STREAMS.try_acquire() else {
        let mut r = PageError(StatusCode::SERVICE_UNAVAILABLE, "Too many live pages are open; reload later.".into())
            .into_response();
        r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("10"));
        return r;
    };
    // The browser's own cursor when it reconnects, else the page's, else now.
    let given = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(Cursor::parse)
        .or_else(|| q.after.as_deref().and_then(Cursor::parse));
    let cursor = match given {
        Some(c) => c,
        None => {
            let db = Arc::clone(&state.db);
            match blocking(move || db.with(|c| Cursor::now(c))).await {
                Ok(c) => c,
                Err(e) => return PageError::from(e).into_response(),
            }
        }
    };
    let now = Instant::now();
    let stream = Stream {
        db: Arc::clone(&state.db),
        session: me.cookie,
        cursor,
        queued: VecDeque::new(),
        pending: None,
        session_checked: now,
        end: now + LIFETIME,
        first: true,
        _permit: permit,
    };
    let events = futures_util::stream::unfold(stream, |mut s| async move {
        loop {
            if let Some(e) = s.queued.pop_front() {
                return Some((Ok::<_, std::convert::Infallible>(e), s));
            }
            if Instant::now() >= s.end {
                return None;
            }
            if !std::mem::take(&mut s.first) {
                tokio::time::sleep(POLL).await;
            }
            if !s.poll().await {
                return None;
            }
        }
    });
    let mut r = Sse::new(events).keep_alive(KeepAlive::default()).into_response();
    // No proxy may hold the stream back to buffer it.
    r.headers_mut().insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    r
}

impl Stream {
    /// Reads what is new into `queued`; false ends the stream (the session
    /// ended, or the gradebook failed).
    async fn poll(&mut self) -> bool {
        let db = Arc::clone(&self.db);
        let cursor = self.cursor.clone();
        let check_session = self.session_checked.elapsed() >= SESSION_EVERY;
        let session = check_session.then(|| self.session.clone());
        let read = blocking(move || {
            if let Some(id) = session {
                if auth::session(&db, &id)?.is_none() {
                    return Ok(None);
                }
            }
            db.with(|c| {
                let after = (!cursor.graded_at.is_empty()).then_some((cursor.graded_at.as_str(), cursor.id));
                let new = submissions::graded_since(c, after, BATCH)?;
                Ok(Some((new, queue::pending(c)?)))
            })
        })
        .await;
        let (new, pending) = match read {
            Ok(Some(r)) => r,
            Ok(None) => return false,
            Err(e) => {
                tracing::error!("live events: {e:#}");
                return false;
            }
        };
        if check_session {
            self.session_checked = Instant::now();
        }
        for s in new {
            let Some(graded_at) = s.graded_at.clone() else { continue };
            self.cursor = Cursor { graded_at: graded_at.clone(), id: s.id };
            let data = serde_json::json!({
                "id": s.id, "student": s.student_id, "exercise": s.exercise, "status": s.status,
                "score": s.score.map(|v| format!("{v:.2}")).unwrap_or_default(),
                "summary": s.summary.unwrap_or_default(), "graded_at": graded_at,
                "submitted_at": s.submitted_at, "late": s.late,
            });
            self.queued.push_back(Event::default().event("graded").id(self.cursor.encode()).data(data.to_string()));
        }
        let due = match self.pending {
            None => true,
            Some((n, at)) => n != pending || at.elapsed() >= PENDING_EVERY,
        };
        if due {
            self.pending = Some((pending, Instant::now()));
            // With the cursor as id, a reconnect resumes here even when
            // nothing was graded during the stream.
            let e = Event::default().event("pending").id(self.cursor.encode()).data(pending.to_string());
            self.queued.push_back(e);
        }
        true
    }
}
