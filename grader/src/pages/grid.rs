//! The gradebook: one row per student, one column per exercise, each cell
//! the best score that counts, coloured by its share of the points, marked
//! late or extended, and linked to that student's attempts. Sorted by any
//! column and filtered by name on the server, a page of rows at a time.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// Students per page.
const PAGE_ROWS: usize = 100;

#[derive(Deserialize, Default)]
pub(super) struct GridQuery {
    /// "student", "name", "total" or an exercise id.
    #[serde(default)]
    sort: String,
    /// "desc" or anything else for ascending.
    #[serde(default)]
    dir: String,
    /// Part of a student's id or name (any case).
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: usize,
}

struct Row {
    id: String,
    name: String,
    total: f64,
    cells: Vec<Option<f64>>,
}

pub(super) async fn gradebook(
    me: Instructor,
    State(state): State<Arc<AppState>>,
    axum::extract::Query(q): axum::extract::Query<GridQuery>,
) -> Response {
    if let Some(r) = too_long(&[("filter", &q.q), ("sort", &q.sort)]) {
        return r;
    }
    let db = Arc::clone(&state.db);
    let data = blocking(move || {
        db.with(|c| {
            let mut best: BTreeMap<(String, String), (f64, bool)> = BTreeMap::new();
            for r in c.rows("SELECT student_id, exercise, score, late FROM best_scores", ())? {
                best.insert((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?));
            }
            let mut ext = BTreeSet::new();
            for r in c.rows("SELECT student_id, exercise FROM extensions", ())? {
                ext.insert((r.get::<String>(0)?, r.get::<String>(1)?));
            }
            Ok((crate::gradebook::students(c)?, best, ext))
        })
    })
    .await;
    let (students, best, ext) = match data {
        Ok(d) => d,
        Err(e) => return PageError::from(e).into_response(),
    };
    let exercises = catalogue::all();
    let needle = q.q.trim().to_lowercase();
    let mut rows: Vec<Row> = students
        .into_iter()
        .filter(|s| {
            needle.is_empty() || s.id.to_lowercase().contains(&needle) || s.name.to_lowercase().contains(&needle)
        })
        .map(|s| {
            let cells: Vec<Option<f64>> =
                exercises.iter().map(|e| best.get(&(s.id.clone(), e.id.to_owned())).map(|b| b.0)).collect();
            Row { total: cells.iter().flatten().sum(), cells, id: s.id, name: s.name }
        })
        .collect();
    let column = exercises.iter().position(|e| e.id == q.sort);
    let sort = match (q.sort.as_str(), column) {
        ("name" | "total", _) | (_, Some(_)) => q.sort.clone(),
        _ => "student".to_owned(),
    };
    let desc = q.dir == "desc";
    // A missing score sorts below every score, in both directions of "best first".
    let key = |r: &Row| match column {
        Some(i) => r.cells[i].unwrap_or(f64::NEG_INFINITY),
        None => r.total,
    };
    match sort.as_str() {
        "student" => rows.sort_by(|a, b| a.id.cmp(&b.id)),
        "name" => rows.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id))),
        _ => rows.sort_by(|a, b| key(a).total_cmp(&key(b)).then(a.id.cmp(&b.id))),
    }
    if desc {
        rows.reverse();
    }
    let matching = rows.len();
    let pages = matching.div_ceil(PAGE_ROWS).max(1);
    let page = q.page.min(pages - 1);
    let shown: Vec<_> = rows
        .iter()
        .skip(page * PAGE_ROWS)
        .take(PAGE_ROWS)
        .map(|r| {
            let cells: Vec<_> = exercises
                .iter()
                .zip(&r.cells)
                .map(|(e, v)| {
                    let key = (r.id.clone(), e.id.to_owned());
                    let fraction = v.map(|v| 100.0 * v / e.points.max(1) as f64);
                    context! {
                        exercise => e.id,
                        score => v.map(|v| format!("{v:.2}")).unwrap_or_default(),
                        colour => fraction.map(score_class).unwrap_or(""),
                        late => best.get(&key).is_some_and(|b| b.1),
                        extension => ext.contains(&key),
                    }
                })
                .collect();
            context! { id => r.id, name => r.name, total => format!("{:.2}", r.total), cells }
        })
        .collect();
    // Header links: the same filter; a second click on the sorted column flips it.
    let link = |col: &str, page: usize| {
        let dir = if col == sort && !desc { "desc" } else { "asc" };
        format!("?sort={}&dir={dir}&q={}&page={page}", url_escape(col), url_escape(&q.q))
    };
    let columns: Vec<_> = exercises
        .iter()
        .map(|e| context! { id => e.id, title => e.title, points => e.points, href => link(e.id, 0), sorted => sort == e.id })
        .collect();
    let here = |page: usize| {
        format!(
            "?sort={}&dir={}&q={}&page={page}",
            url_escape(&sort),
            if desc { "desc" } else { "asc" },
            url_escape(&q.q)
        )
    };
    render(
        "gradebook.html",
        context! {
            instructor => me.session.instructor, csrf => me.session.csrf,
            grid => shown, columns, q => q.q, sort, desc, matching, page => page + 1, pages,
            first => page * PAGE_ROWS + 1, last => (page * PAGE_ROWS + PAGE_ROWS).min(matching),
            prev => (page > 0).then(|| here(page - 1)), next => (page + 1 < pages).then(|| here(page + 1)),
            sort_student => link("student", 0), sort_name => link("name", 0), sort_total => link("total", 0),
        },
    )
    .unwrap_or_else(|e| e.into_response())
}

/// A colour step for a score as a percentage of the points: s0 (low) .. s4 (full).
fn score_class(percent: f64) -> &'static str {
    match percent {
        p if p >= 99.5 => "s4",
        p if p >= 75.0 => "s3",
        p if p >= 50.0 => "s2",
        p if p >= 25.0 => "s1",
        _ => "s0",
    }
}
