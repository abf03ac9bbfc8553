//! Test helpers shared by the unit tests: a gradebook with graded
//! submissions, made through the same store, claim and commit as a worker's.

use std::time::Duration;

use crate::db::Db;

/// The gradebook a unit test runs on: a SQLite file in `dir`, or with
/// `DISTLAB_TEST_DB=postgres` a fresh database in this test process's
/// throw-away Postgres cluster (`./dev test` runs the tests both ways).
pub fn open_db(dir: &std::path::Path) -> Db {
    match std::env::var("DISTLAB_TEST_DB").as_deref() {
        Ok("postgres") => {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Off any async runtime (the blocking client refuses to connect on one).
            std::thread::spawn(move || {
                let url = crate::pg_cluster::shared().unwrap().create_database(&format!("t{n}")).unwrap();
                Db::open(crate::db::Target::Postgres(url)).unwrap()
            })
            .join()
            .unwrap()
        }
        Ok("sqlite") | Err(_) => Db::open(dir.join("g.db")).unwrap(),
        Ok(other) => panic!("DISTLAB_TEST_DB={other}: expected postgres or sqlite"),
    }
}
use crate::feedback::{Feedback, TestResult};
use crate::queue;
use crate::ratelimit::SubmissionLimit;

/// A student (created if new) with a graded submission of `exercise`
/// scoring `score`; its one check "pong answers ping" fails unless the score
/// is full (5). Returns the submission id.
pub fn graded(db: &Db, exercise: &str, student: &str, score: f64) -> i64 {
    let id = submitted(db, exercise, student);
    commit(db, id, queue::Verdict::Graded, Some(score));
    id
}

/// A stored, queued submission.
pub fn submitted(db: &Db, exercise: &str, student: &str) -> i64 {
    db.with(|c| {
        c.execute("INSERT INTO students (id, name, email) VALUES (?1, ?1, '') ON CONFLICT DO NOTHING", [student])?;
        let unlimited = SubmissionLimit::new(0, Duration::from_secs(60));
        match crate::submissions::store(c, student, exercise, None, "fn main() {}", &unlimited)? {
            crate::submissions::Stored::Created(id) => Ok(id),
            other => anyhow::bail!("not stored: {other:?}"),
        }
    })
    .unwrap()
}

/// Claims the oldest job (which must be `id`) and commits this verdict.
pub fn commit(db: &Db, id: i64, verdict: queue::Verdict, score: Option<f64>) {
    db.with(|c| {
        let job = queue::claim(c, "w")?.expect("a job");
        assert_eq!(job.submission_id, id, "the oldest job");
        let full = score == Some(5.0);
        let fb = Feedback {
            score,
            max_score: 5.0,
            output: format!("{score:?} of 5"),
            tests: vec![TestResult {
                name: "pong answers ping".into(),
                score: if full { 2.0 } else { 0.0 },
                max_score: 2.0,
                status: if full { distlab_api::CheckStatus::Passed } else { distlab_api::CheckStatus::Failed },
                output: String::new(),
                visibility: distlab_api::Visibility::Visible,
            }],
            diagram_svg: None,
            whole_run: None,
            replay: None,
            hidden_failed: Default::default(),
        };
        assert!(queue::complete(c, "w", id, verdict, false, &fb)?);
        Ok(())
    })
    .unwrap()
}
