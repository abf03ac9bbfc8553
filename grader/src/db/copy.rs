//! `distlab-grader migrate --from <sqlite> --to <postgres>`: moves a
//! course's gradebook to another database in one transaction. Only the
//! tables of record are copied; what the triggers keep (result summaries,
//! best scores, attempt counts) is rebuilt by them as rows arrive, and then
//! compared with the source.

use anyhow::{bail, Context, Result};

use super::{Conn, Db, Value};

/// Tables of record in an order that satisfies their foreign keys, with
/// the columns copied.
const TABLES: &[(&str, &str)] = &[
    ("meta", "key, value"),
    ("students", "id, name, email"),
    ("tokens", "hash, student_id, created_at"),
    ("instructors", "name, password_hash"),
    ("sessions", "hash, instructor, csrf, expires_at"),
    ("exercise_settings", "exercise, deadline, late_deadline, late_penalty"),
    ("extensions", "student_id, exercise, deadline"),
    (
        "submissions",
        "id, student_id, exercise, idempotency_key, source, status, submitted_at, graded_at, late, result_writes, started_at",
    ),
    ("jobs", "submission_id, state, owner, lease_until, attempts, queued_at"),
    // Checks before results: a result's trigger reads its checks.
    ("result_checks", "submission_id, name, score, max_score, status, visibility"),
    ("results", "submission_id, score, max_score, report, written_at"),
    ("overrides", "id, submission_id, score, comment, instructor, created_at"),
    ("regrades", "id, exercise, submission_id, instructor, started_at, total"),
    ("regrade_items", "regrade_id, submission_id, old_status, old_score"),
];

/// Tables the triggers fill, compared after the copy.
const DERIVED: &[(&str, &str)] = &[
    ("result_lines", "submission_id, score, summary"),
    ("best_scores", "student_id, exercise, score, submission_id, late, failed_checks, checks"),
    ("attempt_counts", "student_id, exercise, submissions"),
];

/// Rows copied per table, in `TABLES` order.
#[derive(Debug)]
pub struct Copied(pub Vec<(&'static str, usize)>);

/// Copies every table of `from` into the empty gradebook `to`.
pub fn copy(from: &Db, to: &Db, mut progress: impl FnMut(&str, usize)) -> Result<Copied> {
    let busy: i64 = to.with(|c| {
        c.query_row("SELECT (SELECT count(*) FROM students) + (SELECT count(*) FROM submissions)", (), |r| r.get(0))
    })?;
    if busy > 0 {
        bail!("{} already holds students or submissions: migrate only into a new, empty database", to.target());
    }
    let mut copied = Vec::new();
    from.with(|src| {
        to.with(|dst| {
            let tx = dst.transaction()?;
            for (table, columns) in TABLES {
                let n = copy_table(src, &tx, table, columns).with_context(|| format!("copying {table}"))?;
                progress(table, n);
                copied.push((*table, n));
            }
            if tx.backend() == super::Backend::Postgres {
                // Identity columns continue after the copied ids.
                for table in ["submissions", "overrides", "regrades"] {
                    tx.execute(
                        &format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"),
                        (),
                    )?;
                }
            }
            for (table, columns) in DERIVED {
                let sql = format!("SELECT {columns} FROM {table} ORDER BY {columns}");
                if src.rows(&sql, ())? != tx.rows(&sql, ())? {
                    bail!("after the copy, {table} differs from the source's: nothing was committed");
                }
            }
            tx.commit()
        })
    })?;
    Ok(Copied(copied))
}

fn copy_table(src: &Conn, dst: &Conn, table: &str, columns: &str) -> Result<usize> {
    let rows = src.rows(&format!("SELECT {columns} FROM {table}"), ())?;
    let width = columns.split(',').count();
    let marks: Vec<String> = (1..=width).map(|i| format!("?{i}")).collect();
    let insert = format!("INSERT INTO {table} ({columns}) VALUES ({})", marks.join(", "));
    for row in &rows {
        let values: Vec<Value> = (0..width).map(|i| row.get::<Value>(i)).collect::<Result<_>>()?;
        dst.execute(&insert, values)?;
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{commit, graded, submitted};

    /// A gradebook with grades, a compile error, an override, an extension
    /// and a regrade in flight, copied to Postgres: the same gradebook,
    /// export and best scores; a second copy into it is refused.
    #[test]
    fn a_sqlite_gradebook_moves_to_postgres_whole() {
        let dir = tempfile::tempdir().unwrap();
        let from = Db::open(dir.path().join("g.db")).unwrap();
        let (a, _) = (graded(&from, "warmup", "s1", 3.0), graded(&from, "warmup", "s1", 5.0));
        graded(&from, "lamport", "s2", 1.5);
        let broken = submitted(&from, "warmup", "s2");
        commit(&from, broken, crate::queue::Verdict::CompileError, None);
        from.with(|c| crate::overrides::add(c, a, Some(4.5), "typo in the checker", "prof")).unwrap();
        from.with(|c| {
            crate::deadlines::set_extension(c, "s2", "warmup", chrono::Utc::now())?;
            crate::queue::enqueue_regrade(c, &crate::queue::RegradeScope::Exercise("lamport".into()), "prof")
        })
        .unwrap();
        crate::secret::course_secret(&from).unwrap();

        let url = std::thread::spawn(|| crate::pg_cluster::shared().unwrap().create_database("migrated").unwrap())
            .join()
            .unwrap();
        let to = Db::open(crate::db::Target::Postgres(url)).unwrap();
        let copied = copy(&from, &to, |_, _| {}).unwrap();
        assert!(copied.0.contains(&("submissions", 4)), "{:?}", copied.0);
        let csv = |db: &Db| {
            let mut out = Vec::new();
            db.with(|c| crate::gradebook::write_csv(c, &mut out)).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(csv(&from), csv(&to));
        assert_eq!(
            from.with(|c| crate::gradebook::best_scores(c)).unwrap(),
            to.with(|c| crate::gradebook::best_scores(c)).unwrap()
        );
        assert_eq!(crate::secret::course_secret(&from).unwrap(), crate::secret::course_secret(&to).unwrap());
        assert_eq!(to.with(|c| crate::queue::pending(c)).unwrap(), 1, "the regrade's job came along");
        // New rows continue after the copied ids.
        let next = submitted(&to, "warmup", "s1");
        assert_eq!(next, 5);
        let again = copy(&from, &to, |_, _| {}).unwrap_err();
        assert!(format!("{again:#}").contains("already holds"), "{again:#}");
    }
}
