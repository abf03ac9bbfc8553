//! The SQLite side: opening a file (WAL, busy timeout) and the schema as a
//! ladder of migrations keyed by `PRAGMA user_version`. `postgres_schema`
//! holds the same ladder in Postgres's dialect: a step added here is added
//! there.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use rusqlite::Connection;

/// Each step moves the schema from version `i` to `i + 1`; steps are never
/// edited once released, only appended.
const MIGRATIONS: &[&str] = &[
    // 1: students, tokens, instructors, settings, submissions, jobs, results.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE students (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT NOT NULL
    );
    -- Bearer tokens, stored as sha256 hex (tokens are 32 random bytes).
    CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        student_id TEXT NOT NULL REFERENCES students(id),
        created_at TEXT NOT NULL
    );
    CREATE TABLE instructors (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL
    );
    CREATE TABLE sessions (
        hash TEXT PRIMARY KEY,
        instructor TEXT NOT NULL REFERENCES instructors(name),
        csrf TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE exercise_settings (
        exercise TEXT PRIMARY KEY,
        deadline TEXT,
        late_deadline TEXT,
        late_penalty REAL NOT NULL DEFAULT 0
    );
    CREATE TABLE extensions (
        student_id TEXT NOT NULL REFERENCES students(id),
        exercise TEXT NOT NULL,
        deadline TEXT NOT NULL,
        PRIMARY KEY (student_id, exercise)
    );
    CREATE TABLE submissions (
        id INTEGER PRIMARY KEY,
        student_id TEXT NOT NULL REFERENCES students(id),
        exercise TEXT NOT NULL,
        idempotency_key TEXT,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        submitted_at TEXT NOT NULL,
        graded_at TEXT,
        late INTEGER NOT NULL DEFAULT 0,
        -- How many times a result was committed (1 unless regraded).
        result_writes INTEGER NOT NULL DEFAULT 0,
        UNIQUE (student_id, idempotency_key)
    );
    CREATE INDEX submissions_by_student ON submissions (student_id, exercise);
    CREATE TABLE jobs (
        submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
        state TEXT NOT NULL CHECK (state IN ('queued', 'running')),
        owner TEXT,
        lease_until INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        queued_at TEXT NOT NULL
    );
    CREATE TABLE results (
        submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
        score REAL,
        max_score REAL NOT NULL,
        report TEXT NOT NULL,
        written_at TEXT NOT NULL
    );
    CREATE TABLE result_checks (
        submission_id INTEGER NOT NULL REFERENCES submissions(id),
        name TEXT NOT NULL,
        score REAL NOT NULL,
        max_score REAL NOT NULL,
        status TEXT NOT NULL,
        visibility TEXT NOT NULL,
        PRIMARY KEY (submission_id, name)
    );
    "#,
    // 2: what lists show of a result, so the dashboard never reads a report
    // (a panic message made one 30 MiB). A table of its own: a column added
    // to `results` would sit after `report`, and SQLite walks a row's
    // overflow pages to reach it. Filled by triggers, whoever writes results;
    // the JSON is read once, at write time. DELETE then INSERT, not INSERT OR
    // REPLACE: a trigger's conflict clause yields to the firing statement's
    // (queue.rs's upsert), which would make every regrade fail.
    r#"
    CREATE TABLE result_lines (
        submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
        score REAL,
        max_score REAL NOT NULL,
        -- First line of the report's output, at most 200 characters.
        summary TEXT NOT NULL,
        report_bytes INTEGER NOT NULL
    );
    CREATE TRIGGER result_lines_insert AFTER INSERT ON results BEGIN
        DELETE FROM result_lines WHERE submission_id = NEW.submission_id;
        INSERT INTO result_lines (submission_id, score, max_score, summary, report_bytes)
        VALUES (NEW.submission_id, NEW.score, NEW.max_score, (SELECT coalesce(substr(substr(o, 1, instr(o || char(10), char(10)) - 1), 1, 200), '')
            FROM (SELECT CASE WHEN json_valid(NEW.report) THEN json_extract(NEW.report, '$.output') END AS o)), length(CAST(NEW.report AS BLOB)));
    END;
    CREATE TRIGGER result_lines_update AFTER UPDATE ON results BEGIN
        DELETE FROM result_lines WHERE submission_id = NEW.submission_id;
        INSERT INTO result_lines (submission_id, score, max_score, summary, report_bytes)
        VALUES (NEW.submission_id, NEW.score, NEW.max_score, (SELECT coalesce(substr(substr(o, 1, instr(o || char(10), char(10)) - 1), 1, 200), '')
            FROM (SELECT CASE WHEN json_valid(NEW.report) THEN json_extract(NEW.report, '$.output') END AS o)), length(CAST(NEW.report AS BLOB)));
    END;
    INSERT INTO result_lines (submission_id, score, max_score, summary, report_bytes)
        SELECT submission_id, score, max_score, (SELECT coalesce(substr(substr(o, 1, instr(o || char(10), char(10)) - 1), 1, 200), '')
            FROM (SELECT CASE WHEN json_valid(report) THEN json_extract(report, '$.output') END AS o)), length(CAST(report AS BLOB)) FROM results;
    "#,
    // 3: the instructor's pages. Overrides are audit rows (the newest per
    // submission counts; a NULL score withdraws it). `best_scores` holds each
    // student's best score per exercise, overrides included, kept by
    // triggers so every writer (grading, regrade, override, import) keeps it
    // true and the pages never aggregate every submission. `regrades` and
    // their items remember the scores before a regrade, to list what changed.
    r#"
    ALTER TABLE submissions ADD COLUMN started_at TEXT;
    CREATE INDEX submissions_by_exercise ON submissions (exercise, id);
    CREATE INDEX submissions_by_graded_at ON submissions (graded_at);
    CREATE TABLE overrides (
        id INTEGER PRIMARY KEY,
        submission_id INTEGER NOT NULL REFERENCES submissions(id),
        score REAL,
        comment TEXT NOT NULL,
        instructor TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX overrides_by_submission ON overrides (submission_id, id);
    CREATE TABLE best_scores (
        student_id TEXT NOT NULL,
        exercise TEXT NOT NULL,
        score REAL NOT NULL,
        submission_id INTEGER NOT NULL,
        late INTEGER NOT NULL,
        -- The checks that submission fails, one name per line, and how many
        -- it ran: the pages' failure rates without reading every check row.
        failed_checks TEXT NOT NULL,
        checks INTEGER NOT NULL,
        PRIMARY KEY (student_id, exercise)
    ) WITHOUT ROWID;
    CREATE INDEX best_scores_by_exercise ON best_scores (exercise, score);
    -- Submissions per student and exercise (the pages' "who submitted").
    CREATE TABLE attempt_counts (
        student_id TEXT NOT NULL,
        exercise TEXT NOT NULL,
        submissions INTEGER NOT NULL,
        PRIMARY KEY (student_id, exercise)
    ) WITHOUT ROWID;
    CREATE TRIGGER attempts_after_insert AFTER INSERT ON submissions BEGIN
        INSERT INTO attempt_counts (student_id, exercise, submissions) VALUES (NEW.student_id, NEW.exercise, 1)
        ON CONFLICT (student_id, exercise) DO UPDATE SET submissions = submissions + 1;
    END;
    INSERT INTO attempt_counts (student_id, exercise, submissions)
        SELECT student_id, exercise, count(*) FROM submissions GROUP BY student_id, exercise;
    -- A submission's score as it counts: the newest override, else the
    -- grader's score of a graded submission. While a graded submission
    -- waits for its regrade, its last score still counts (the gradebook
    -- does not empty during a regrade).
    CREATE VIEW counted_scores AS
    SELECT s.id AS submission_id, s.student_id, s.exercise, s.late,
        coalesce((SELECT o.score FROM overrides o WHERE o.submission_id = s.id ORDER BY o.id DESC LIMIT 1),
                 CASE WHEN s.status = 'graded' OR (s.status IN ('queued', 'running') AND s.graded_at IS NOT NULL)
                     THEN (SELECT l.score FROM result_lines l WHERE l.submission_id = s.id) END)
            AS score
    FROM submissions s;
    -- What a submission would bring to `best_scores`.
    CREATE VIEW best_candidates AS
    SELECT c.student_id, c.exercise, c.score, c.submission_id, c.late,
        coalesce((SELECT group_concat(rc.name, char(10)) FROM result_checks rc
                  WHERE rc.submission_id = c.submission_id AND rc.status <> 'passed'), '') AS failed_checks,
        (SELECT count(*) FROM result_checks rc WHERE rc.submission_id = c.submission_id) AS checks
    FROM counted_scores c WHERE c.score IS NOT NULL;
    CREATE TRIGGER best_after_status AFTER UPDATE OF status, late ON submissions BEGIN
        DELETE FROM best_scores WHERE student_id = NEW.student_id AND exercise = NEW.exercise;
        INSERT INTO best_scores SELECT * FROM best_candidates
            WHERE student_id = NEW.student_id AND exercise = NEW.exercise
            ORDER BY score DESC, submission_id LIMIT 1;
    END;
    -- A result written after its status (not the worker's order, but any
    -- writer's) still counts.
    CREATE TRIGGER best_after_result AFTER INSERT ON result_lines BEGIN
        DELETE FROM best_scores WHERE (student_id, exercise) = (SELECT student_id, exercise FROM submissions WHERE id = NEW.submission_id);
        INSERT INTO best_scores SELECT b.* FROM best_candidates b
            JOIN submissions s ON s.id = NEW.submission_id AND b.student_id = s.student_id AND b.exercise = s.exercise
            ORDER BY b.score DESC, b.submission_id LIMIT 1;
    END;
    CREATE TRIGGER best_after_override AFTER INSERT ON overrides BEGIN
        DELETE FROM best_scores WHERE (student_id, exercise) = (SELECT student_id, exercise FROM submissions WHERE id = NEW.submission_id);
        INSERT INTO best_scores SELECT b.* FROM best_candidates b
            JOIN submissions s ON s.id = NEW.submission_id AND b.student_id = s.student_id AND b.exercise = s.exercise
            ORDER BY b.score DESC, b.submission_id LIMIT 1;
    END;
    INSERT INTO best_scores SELECT student_id, exercise, score, submission_id, late, failed_checks, checks FROM (
        SELECT *, row_number() OVER (PARTITION BY student_id, exercise ORDER BY score DESC, submission_id) AS n
        FROM best_candidates)
    WHERE n = 1;
    CREATE TABLE regrades (
        id INTEGER PRIMARY KEY,
        -- What was regraded: one exercise, one submission, or (both NULL) all.
        exercise TEXT,
        submission_id INTEGER,
        instructor TEXT NOT NULL,
        started_at TEXT NOT NULL,
        total INTEGER NOT NULL
    );
    CREATE TABLE regrade_items (
        regrade_id INTEGER NOT NULL REFERENCES regrades(id),
        submission_id INTEGER NOT NULL REFERENCES submissions(id),
        old_status TEXT NOT NULL,
        old_score REAL,
        PRIMARY KEY (regrade_id, submission_id)
    ) WITHOUT ROWID;
    "#,
];

pub fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // WAL: readers never block the writer; NORMAL is durable across a
    // process crash (only an OS crash may lose the last commits).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Steps of the ladder this grader knows.
pub fn schema_version() -> usize {
    MIGRATIONS.len()
}

/// Brings the schema up to date. Each step is its own immediate
/// transaction that reads the version first, so processes starting
/// together (a server and its workers) apply each step once.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version = tx.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
        anyhow::ensure!(
            version <= MIGRATIONS.len(),
            "database schema version {version} is newer than this grader ({}): upgrade the grader",
            MIGRATIONS.len()
        );
        let Some(step) = MIGRATIONS.get(version) else { return Ok(()) };
        tx.execute_batch(step).with_context(|| format!("schema migration {}", version + 1))?;
        tx.pragma_update(None, "user_version", (version + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "database migrated");
    }
}
