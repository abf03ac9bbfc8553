//! What `worker` and `--db` say when they cannot work: a database that is
//! not there or refuses us, a prepared directory that is missing or stale.
//! Each stops at once with a message that names the problem, and a
//! password in the URL never appears in it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;

/// Runs the grader; insists it fails, returns what it said.
fn refused(args: &[&str]) -> String {
    let out = Command::new(binary()).args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_unreachable_or_wrong_database_stops_the_grader_plainly() {
    let dir = tempdir();
    let csv = dir.path().join("out.csv");
    let csv = csv.to_str().unwrap();
    // Nothing listens on port 1.
    let said = refused(&["--db", "postgres://prof:hunter2@127.0.0.1:1/course", "export", "--csv", csv]);
    assert!(said.contains("cannot connect to the database at postgres://prof:***@127.0.0.1:1/course"), "{said}");
    assert!(!said.contains("hunter2"), "the password leaked: {said}");
    let said = refused(&["--db", "postgres://[nonsense", "export", "--csv", csv]);
    assert!(said.contains("is not a Postgres URL"), "{said}");
    // A server that is there, and a database that is not.
    let cluster = distlab_grader::pg_cluster::shared().unwrap();
    let said = refused(&["--db", &cluster.url("no_such_course"), "export", "--csv", csv]);
    assert!(said.contains("database \"no_such_course\" does not exist"), "{said}");
    let said = refused(&["--db", &cluster.url("no_such_course"), "worker"]);
    assert!(said.contains("prepared"), "a worker checks its prepared directory first: {said}");
}

#[test]
fn a_worker_without_a_current_prepared_directory_takes_no_job() {
    let dir = tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.path().join("db.sqlite");
    let db = db.to_str().unwrap();
    let missing = dir.path().join("nowhere");
    let said = refused(&["--db", db, "--prepared", missing.to_str().unwrap(), "worker"]);
    assert!(said.contains("is not a prepared directory") && said.contains("distlab-grader prepare"), "{said}");

    // Prepared once from other course sources: stale, and says why.
    let stale = dir.path().join("stale");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join(distlab_grader::prepare::MANIFEST), "{}").unwrap();
    let stamp = distlab_grader::stamp::Stamp {
        course_sources: "0000000000000000".into(),
        rustc_version: distlab_grader::stamp::Stamp::expected_rustc().into(),
    };
    stamp.write(&stale).unwrap();
    let said = refused(&["--db", db, "--prepared", stale.to_str().unwrap(), "worker"]);
    assert!(said.contains("is stale") && said.contains("course crate sources 000000000000"), "{said}");
    assert!(!std::path::Path::new(db).exists(), "nothing opened before the checks");
}
