//! One student as the instructor sees them: every attempt per exercise with
//! a small chart of the score over time, and a line diff of two attempts.

use super::*;

/// Attempts shown per student (a student with more sees the newest).
const MAX_ATTEMPTS: i64 = 2000;

#[derive(Deserialize, Default)]
pub(super) struct DiffQuery {
    a: Option<String>,
    b: Option<String>,
}

pub(super) async fn student_view(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Response {
    page(&state, &me, id, None).await
}

pub(super) async fn student_diff(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<DiffQuery>,
) -> Response {
    page(&state, &me, id, Some(q)).await
}

/// The chart of one exercise's counted scores in submission order, as SVG
/// text (labels escaped), shown inline.
fn chart(points: f64, attempts: &[(i64, Option<f64>, String)]) -> String {
    let e = distlab::html::escape;
    let (w, h, pad) = (240.0, 60.0, 6.0);
    let n = attempts.len().max(2) as f64 - 1.0;
    let max = if points > 0.0 { points } else { 1.0 };
    let xy = |i: usize, v: f64| {
        (pad + (w - 2.0 * pad) * i as f64 / n, h - pad - (h - 2.0 * pad) * (v / max).clamp(0.0, 1.0))
    };
    let mut svg = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\"><rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#fafafa\" stroke=\"#ddd\"/>"
    );
    let line: Vec<String> = attempts
        .iter()
        .enumerate()
        .filter_map(|(i, (_, s, _))| s.map(|v| xy(i, v)))
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    if line.len() > 1 {
        svg.push_str(&format!("<polyline fill=\"none\" stroke=\"#36c\" points=\"{}\"/>", line.join(" ")));
    }
    for (i, (sub, score, at)) in attempts.iter().enumerate() {
        let (x, y) = xy(i, score.unwrap_or(0.0));
        let label = match score {
            Some(v) => format!("#{sub} {at}: {v:.2}"),
            None => format!("#{sub} {at}: no score"),
        };
        let fill = if score.is_some() { "#36c" } else { "#a00" };
        svg.push_str(&format!(
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{fill}\"><title>{}</title></circle>",
            e(&label)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// One attempt as listed.
struct Attempt {
    id: i64,
    exercise: String,
    status: String,
    submitted_at: String,
    late: bool,
    score: Option<f64>,
    overridden: bool,
}

/// A student's attempts, oldest first, through the (student_id, exercise)
/// index and primary keys only.
fn attempts(c: &crate::db::Conn, student: &str) -> anyhow::Result<Vec<Attempt>> {
    let rows = c.query_map(
        "SELECT * FROM (SELECT s.id, s.exercise, s.status, s.submitted_at, s.late, cs.score,
             (SELECT o.score FROM overrides o WHERE o.submission_id = s.id ORDER BY o.id DESC LIMIT 1) IS NOT NULL
         FROM submissions s JOIN counted_scores cs ON cs.submission_id = s.id
         WHERE s.student_id = ?1 ORDER BY s.id DESC LIMIT ?2) newest ORDER BY id",
        crate::params![student, MAX_ATTEMPTS],
        |r| {
            Ok(Attempt {
                id: r.get(0)?,
                exercise: r.get(1)?,
                status: r.get(2)?,
                submitted_at: r.get(3)?,
                late: r.get(4)?,
                score: r.get(5)?,
                overridden: r.get(6)?,
            })
        },
    )?;
    Ok(rows)
}

async fn page(state: &Arc<AppState>, me: &Instructor, id: String, diff: Option<DiffQuery>) -> Response {
    if let Some(r) = too_long(&[("student", &id)]) {
        return r;
    }
    let ids = match &diff {
        None => None,
        Some(q) => {
            let parse = |v: &Option<String>| v.as_deref().and_then(|v| v.trim().parse::<i64>().ok());
            match (parse(&q.a), parse(&q.b)) {
                (Some(a), Some(b)) => Some((a, b)),
                _ => {
                    return PageError(StatusCode::BAD_REQUEST, "Pick two submissions to compare (a and b).".into())
                        .into_response()
                }
            }
        }
    };
    let db = Arc::clone(&state.db);
    let student = id.clone();
    let found = blocking(move || {
        db.with(|c| {
            let Some(who) = c.query_opt("SELECT name, email FROM students WHERE id = ?1", [&student], |r| {
                Ok((r.get::<String>(0)?, r.get::<String>(1)?))
            })?
            else {
                return Ok(None);
            };
            let subs = attempts(c, &student)?;
            let sources = match ids {
                None => None,
                Some((a, b)) => {
                    let one = |s: i64| {
                        c.query_opt(
                            "SELECT source FROM submissions WHERE id = ?1 AND student_id = ?2",
                            crate::params![s, student],
                            |r| r.get::<String>(0),
                        )
                    };
                    Some((one(a)?, one(b)?))
                }
            };
            Ok(Some((who, subs, sources)))
        })
    })
    .await;
    let ((name, email), subs, sources) = match found {
        Ok(Some(f)) => f,
        Ok(None) => return PageError(StatusCode::NOT_FOUND, format!("There is no student {id:?}.")).into_response(),
        Err(e) => return PageError::from(e).into_response(),
    };
    let diff_lines = match (ids, sources) {
        (Some((a, b)), Some((Some(old), Some(new)))) => {
            let d = similar::TextDiff::from_lines(&old, &new);
            let mut lines = Vec::new();
            for group in d.grouped_ops(3) {
                let (first, last) = (group.first().expect("a group"), group.last().expect("a group"));
                let (o, n) =
                    (first.old_range().start..last.old_range().end, first.new_range().start..last.new_range().end);
                lines.push(context! { tag => "hunk", text => format!("@@ -{},{} +{},{} @@", o.start + 1, o.len(), n.start + 1, n.len()) });
                for op in &group {
                    for change in d.iter_changes(op) {
                        let (tag, sign) = match change.tag() {
                            similar::ChangeTag::Delete => ("del", "-"),
                            similar::ChangeTag::Insert => ("add", "+"),
                            similar::ChangeTag::Equal => ("same", " "),
                        };
                        let text = format!("{sign}{}", change.value().trim_end_matches('\n'));
                        lines.push(context! { tag, text });
                    }
                }
            }
            Some((a, b, lines))
        }
        (Some((a, b)), _) => {
            return PageError(
                StatusCode::BAD_REQUEST,
                format!("Submissions {a} and {b} are not both submissions of student {id}."),
            )
            .into_response()
        }
        _ => None,
    };
    // Per exercise in catalogue order (then any other), its attempts.
    let mut order: Vec<String> = catalogue::all().iter().map(|e| e.id.to_owned()).collect();
    for s in &subs {
        if !order.contains(&s.exercise) {
            order.push(s.exercise.clone());
        }
    }
    let exercises: Vec<_> = order
        .iter()
        .filter_map(|ex| {
            let mine: Vec<_> = subs.iter().filter(|s| &s.exercise == ex).collect();
            if mine.is_empty() {
                return None;
            }
            let points = catalogue::spec(ex).map_or(0, |s| s.points);
            let dots: Vec<_> = mine.iter().map(|s| (s.id, s.score, readable_time(&s.submitted_at))).collect();
            let rows: Vec<_> = mine
                .iter()
                .map(|s| {
                    context! {
                        id => s.id, submitted_at => s.submitted_at, status => s.status, late => s.late,
                        score => s.score.map(|v| format!("{v:.2}")).unwrap_or_default(),
                        overridden => s.overridden,
                    }
                })
                .collect();
            Some(context! {
                id => ex, url => url_escape(ex), points => points, rows, chart => minijinja::Value::from_safe_string(chart(points as f64, &dots)),
            })
        })
        .collect();
    let options: Vec<_> = subs
        .iter()
        .rev()
        .map(|s| context! { id => s.id, label => format!("#{} {} {}", s.id, s.exercise, readable_time(&s.submitted_at)) })
        .collect();
    let (a, b, lines) = match diff_lines {
        Some((a, b, l)) => (Some(a), Some(b), Some(l)),
        None => (None, None, None),
    };
    render(
        "student_view.html",
        context! {
            instructor => me.session.instructor, csrf => me.session.csrf,
            student => context! { url => url_escape(&id), id => id, name => name, email => email },
            exercises, options, a, b, diff => lines,
        },
    )
    .unwrap_or_else(|e| e.into_response())
}
