//! End to end through the real binary: roster import -> token -> POST ->
//! compile in the sandbox -> node host in the sandbox -> checks here ->
//! result over the API; then export and regrade. Needs bubblewrap; run as
//! root for the per-slot uids (as CI does).

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const GRADE_TIMEOUT: Duration = Duration::from_secs(120);

fn test_named<'a>(j: &'a Value, name: &str) -> &'a Value {
    j["tests"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no test {name} in {j}"))
}

#[test]
fn submissions_are_graded_end_to_end() {
    let dir = tempdir();
    let students = roster(dir.path(), 2);
    let srv = Server::start(dir.path(), 2, &[]);
    let (url, t) = (&srv.url, &students[0].1);

    let ids: Vec<(&str, i64)> = ["good", "wrong", "compile_error", "forged"]
        .into_iter()
        .map(|name| {
            let (s, j) = submit(url, t, "warmup", &data(&format!("warmup_{name}.rs")), None);
            assert_eq!(s, 202, "{name}: {j}");
            (name, j["id"].as_i64().unwrap())
        })
        .collect();
    let results: Vec<(&str, Value)> = ids.iter().map(|&(n, id)| (n, wait_graded(url, t, id, GRADE_TIMEOUT))).collect();
    let get = |name: &str| &results.iter().find(|(n, _)| *n == name).unwrap().1;

    // A correct solution: full marks, every check passed.
    let good = get("good");
    assert_eq!(good["status"], "graded", "{good}");
    assert_eq!(good["score"], 5.0, "{good}");
    assert_eq!(good["max_score"], 5.0);
    assert!(good["tests"].as_array().unwrap().iter().all(|t| t["status"] == "passed"), "{good}");
    assert!(good["diagram_svg"].is_null() && good["replay"].is_null());
    assert!(good["attempt"].is_number());
    // Hidden checks before the deadline: pass/fail and score only.
    let hidden = test_named(good, "hidden scenarios");
    assert_eq!(hidden["visibility"], "after_due_date");
    assert!(hidden["output"].as_str().unwrap().contains("after the deadline"), "{hidden}");

    // A wrong one: failing public checks with the reason, the diagram and
    // the replay line.
    let wrong = get("wrong");
    assert_eq!(wrong["status"], "graded", "{wrong}");
    let score = wrong["score"].as_f64().unwrap();
    assert!(score < 5.0, "{wrong}");
    let hears = test_named(wrong, "node 0 hears from everyone");
    assert_eq!(hears["status"], "failed");
    assert!(hears["output"].as_str().unwrap().contains("never got a pong"), "{hears}");
    assert!(wrong["diagram_svg"].as_str().unwrap().starts_with("<svg"), "a diagram of the failing run");
    assert!(wrong["replay"].as_str().unwrap().starts_with(":check warmup"), "{wrong}");

    // A compile error: messages in `output`, not an attempt.
    let ce = get("compile_error");
    assert_eq!(ce["status"], "compile_error", "{ce}");
    assert!(ce["score"].is_null() && ce["attempt"].is_null(), "{ce}");
    let out = ce["output"].as_str().unwrap();
    assert!(out.contains("mismatched types") && out.contains("main.rs:5"), "{out}");
    assert!(!out.contains("/work/") && !out.contains("/deps/"), "no sandbox paths: {out}");

    // A forged "all passed" printout: what a program prints is never a
    // verdict (its stdout is not even the protocol's channel): zero.
    let forged = get("forged");
    assert_eq!(forged["status"], "graded", "{forged}");
    assert_eq!(forged["score"], 0.0, "{forged}");
    assert!(!forged["output"].as_str().unwrap().contains("all passed"), "{forged}");

    // Attempts: two graded submissions so far count 1 and 2, in order.
    let mut attempts: Vec<i64> = [good, wrong, forged].iter().map(|j| j["attempt"].as_i64().unwrap()).collect();
    attempts.sort();
    assert_eq!(attempts, vec![1, 2, 3]);

    // The other student sees none of it.
    let (s, _, _) = request("GET", &format!("{url}/api/v1/submissions/{}", ids[0].1), Some(&students[1].1), &[], None);
    assert_eq!(s, 404);

    // Export: best score per exercise, total, Canvas columns.
    let csv_path = dir.path().join("grades.csv");
    cli(dir.path(), &["export", "--csv", csv_path.to_str().unwrap()], None);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("Student,ID,SIS User ID,SIS Login ID,Section,"), "{header}");
    assert!(header.ends_with(",Final Points"), "{header}");
    assert!(lines.next().unwrap().contains("Points Possible"));
    let s0 = lines.find(|l| l.contains(",s0,")).unwrap();
    assert!(s0.contains(",5.00,") && s0.ends_with(",5.00"), "{s0}");
    let s1 = csv.lines().find(|l| l.contains(",s1,")).unwrap();
    assert!(s1.ends_with(",0.00"), "{s1}");

    // Regrade (with the server still running: claims are atomic): every
    // submission gets exactly one more result, same verdicts.
    let out = cli(dir.path(), &["regrade", "--exercise", "warmup", "--workers", "1"], None);
    assert!(out.contains("4 submission(s) queued"), "{out}");
    let db = rusqlite::Connection::open(dir.path().join("db.sqlite")).unwrap();
    let writes: Vec<i64> = db
        .prepare("SELECT result_writes FROM submissions ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(writes, vec![2, 2, 2, 2]);
    let again = wait_graded(url, t, ids[0].1, GRADE_TIMEOUT);
    assert_eq!(again["score"], 5.0);
}

#[test]
fn hidden_details_show_after_the_deadline_and_late_work_loses_points() {
    let dir = tempdir();
    let students = roster(dir.path(), 1);
    let t = &students[0].1;
    // Deadline passed, late window open: the late penalty applies and
    // hidden details are shown.
    let db = distlab_grader::db::Db::open(dir.path().join("db.sqlite")).unwrap();
    let now = chrono::Utc::now();
    db.with(|c| {
        distlab_grader::deadlines::set_settings(
            c,
            "warmup",
            &distlab_grader::deadlines::Settings {
                deadline: Some(now - chrono::Duration::hours(1)),
                late_deadline: Some(now + chrono::Duration::hours(1)),
                late_penalty: 0.5,
            },
        )
    })
    .unwrap();
    drop(db);
    let srv = Server::start(dir.path(), 1, &[]);
    let (s, j) = submit(&srv.url, t, "warmup", &data("warmup_good.rs"), None);
    assert_eq!(s, 202);
    let r = wait_graded(&srv.url, t, j["id"].as_i64().unwrap(), GRADE_TIMEOUT);
    assert_eq!(r["late"], true, "{r}");
    assert_eq!(r["score"], 2.5, "{r}");
    assert!(r["output"].as_str().unwrap().contains("late penalty"), "{r}");
    let hidden = test_named(&r, "hidden scenarios");
    assert!(hidden["output"].as_str().unwrap().contains("passed"), "details after the deadline: {hidden}");
}

#[test]
fn a_hidden_only_failure_names_the_property_and_nothing_of_the_run() {
    // Pings nodes 1-3 only: right for the public 4-node scenarios, wrong
    // for the hidden 5-node one. No deadline: hidden details stay hidden.
    let dir = tempdir();
    let students = roster(dir.path(), 1);
    let t = &students[0].1;
    let srv = Server::start(dir.path(), 1, &[]);
    let four =
        data("warmup_good.rs").replace("self.silent = ctx.peers().collect();", "self.silent = (1..4).collect();");
    assert_ne!(four, data("warmup_good.rs"));
    let (s, j) = submit(&srv.url, t, "warmup", &four, None);
    assert_eq!(s, 202);
    let r = wait_graded(&srv.url, t, j["id"].as_i64().unwrap(), GRADE_TIMEOUT);
    assert_eq!(r["score"], 4.0, "{r}");
    for public in [distlab::catalogue::warmup::PONG_ANSWERS_PING, distlab::catalogue::warmup::EVERYONE_ANSWERS] {
        assert_eq!(test_named(&r, public)["status"], "passed", "{r}");
    }
    let hidden = test_named(&r, distlab::catalogue::runs::HIDDEN_CHECK);
    assert_eq!(hidden["status"], "failed", "{r}");
    let said = format!("'{}' did not hold in a hidden run", distlab::catalogue::warmup::EVERYONE_ANSWERS);
    assert!(hidden["output"].as_str().unwrap().contains(&said), "{hidden}");
    assert!(r["output"].as_str().unwrap().contains(distlab::catalogue::warmup::EVERYONE_ANSWERS), "{r}");
    // Nothing of the hidden run: its name, its nodes, a seed or a replay.
    let all = r.to_string();
    for secret in ["lossy, one node down", "node 2 down", "never got a pong", "[4]", "--scenario"] {
        assert!(!all.contains(secret), "'{secret}' leaked: {all}");
    }
}

#[test]
fn a_spinning_node_host_is_stopped_and_others_keep_being_graded() {
    let dir = tempdir();
    let students = roster(dir.path(), 2);
    let srv = Server::start(dir.path(), 2, &[]);
    let spin = "use distlab::catalogue::warmup::WarmupMsg;\nuse distlab::{NodeId, Process};\n\
                fn warmup_node(_id: NodeId) -> Box<dyn Process<WarmupMsg>> { loop { std::hint::spin_loop(); } }\n";
    let started = std::time::Instant::now();
    let (_, bad) = submit(&srv.url, &students[0].1, "warmup", spin, None);
    std::thread::sleep(Duration::from_millis(500));
    let (_, good) = submit(&srv.url, &students[1].1, "warmup", &data("warmup_good.rs"), None);
    let good = wait_graded(&srv.url, &students[1].1, good["id"].as_i64().unwrap(), GRADE_TIMEOUT);
    assert_eq!(good["score"], 5.0, "graded while the other spins: {good}");
    let bad = wait_graded(&srv.url, &students[0].1, bad["id"].as_i64().unwrap(), GRADE_TIMEOUT);
    assert_eq!(bad["status"], "graded", "{bad}");
    assert_eq!(bad["score"], 0.0, "{bad}");
    // A silent node fails its run within about a second; after a few such
    // nodes the host is given up, so the worker is free again in seconds,
    // not at the host's 60 s wall limit.
    let clean = test_named(&bad, "nodes run without panicking");
    assert!(clean["output"].as_str().unwrap().contains("did not answer within 1 s"), "{clean}");
    let took = started.elapsed();
    println!("a spinning host held a worker for at most {took:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn a_numeric_exercise_is_graded_over_the_function_call_protocol() {
    let dir = tempdir();
    let students = roster(dir.path(), 1);
    let srv = Server::start(dir.path(), 1, &[]);
    let t = &students[0].1;
    let (s, v, _) = request("GET", &format!("{}/api/v1/exercises/hops/variant", srv.url), Some(t), &[], None);
    assert_eq!(s, 200);
    assert!(!v["variant"].is_null(), "hops has per-student parameters: {v}");
    let (s, j) = submit(&srv.url, t, "hops", &data("hops_good.rs"), None);
    assert_eq!(s, 202);
    let r = wait_graded(&srv.url, t, j["id"].as_i64().unwrap(), GRADE_TIMEOUT);
    assert_eq!(r["status"], "graded", "{r}");
    assert_eq!(r["score"], 10.0, "{r}");
    // Off by one on the torus: that check fails, with the case that shows it.
    let wrong = data("hops_good.rs").replace("2 * (k / 2)", "2 * (k / 2) - 1");
    let (_, j) = submit(&srv.url, t, "hops", &wrong, None);
    let r = wait_graded(&srv.url, t, j["id"].as_i64().unwrap(), GRADE_TIMEOUT);
    assert_eq!(test_named(&r, "torus matches BFS")["status"], "failed", "{r}");
    assert_eq!(test_named(&r, "grid matches BFS")["status"], "passed", "{r}");
}

/// `serve` with workers on the prepared directory `prepared`; waits for it
/// to exit (it must refuse) and returns its stderr, or None if it started.
fn serve_on(dir: &std::path::Path, prepared: &std::path::Path) -> Option<String> {
    let log = dir.join("refused.log");
    let mut child = std::process::Command::new(binary())
        .arg("--db")
        .arg(dir.join("db.sqlite"))
        .arg("--cache")
        .arg(dir.join("cache"))
        .arg("--prepared")
        .arg(prepared)
        .arg("--workspace")
        .arg(workspace())
        .args(["serve", "--addr", "127.0.0.1:0", "--workers", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // The first line, or nothing if it exits first.
    let mut out = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut out).unwrap();
    if out.starts_with("listening on") {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "serve exited successfully without listening: {out}");
    Some(std::fs::read_to_string(&log).unwrap())
}

#[test]
fn serve_refuses_a_prepared_dir_made_from_other_sources_or_rustc() {
    let real = prepared(); // prepared (and stamped) from this workspace
    pool();
    let dir = tempdir();
    roster(dir.path(), 1);
    // A prepared dir that shares the real one's artefacts (the manifest's
    // absolute paths) but carries its own stamp.
    let copy = dir.path().join("prepared");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(real.root.join("manifest.json"), copy.join("manifest.json")).unwrap();
    let stamp: Value = serde_json::from_str(&std::fs::read_to_string(real.root.join("stamp.json")).unwrap()).unwrap();
    let write_stamp = |s: &Value| std::fs::write(copy.join("stamp.json"), s.to_string()).unwrap();

    write_stamp(&stamp);
    assert_eq!(serve_on(dir.path(), &copy), None, "the stamp `prepare` wrote is accepted");

    let mut other_sources = stamp.clone();
    other_sources["course_sources"] = "0".repeat(64).into();
    write_stamp(&other_sources);
    let err = serve_on(dir.path(), &copy).expect("refused: other course sources");
    assert!(err.contains("is stale") && err.contains("course crate sources 000000000000"), "{err}");
    assert!(err.contains("run `distlab-grader prepare"), "says what to do: {err}");

    let mut other_rustc = stamp.clone();
    other_rustc["rustc_version"] = "rustc 1.70.0 (90c541806 2023-05-31)\nhost: x86_64-unknown-linux-gnu\n".into();
    write_stamp(&other_rustc);
    let err = serve_on(dir.path(), &copy).expect("refused: other rustc");
    assert!(
        err.contains("is stale") && err.contains("rustc 1.70.0 (90c541806 2023-05-31) (this grader: rustc"),
        "{err}"
    );
    assert!(!err.contains("course crate sources"), "only the rustc differs: {err}");
    assert!(err.contains("run `distlab-grader prepare"), "{err}");

    std::fs::remove_file(copy.join("stamp.json")).unwrap();
    let err = serve_on(dir.path(), &copy).expect("refused: no stamp");
    assert!(err.contains("has no stamp.json") && err.contains("run `distlab-grader prepare"), "{err}");
}

// The shared-memory solutions, compiled into this test too, to show they
// pass the notebook's :check (all nodes in one process).
mod central_static {
    include!("data/central_static.rs");
    pub fn make(id: NodeId) -> Box<dyn Process<CentralMsg>> {
        central_node(id)
    }
}
mod ricart_static {
    include!("data/ricart_static.rs");
    pub fn make(id: NodeId) -> Box<dyn Process<RaMsg>> {
        ricart_node(id)
    }
}

#[test]
fn nodes_that_share_memory_pass_locally_and_fail_on_the_grader() {
    use distlab::catalogue::{central, ricart, Run};
    for seed in [1, 2] {
        let here = central::check(Box::new(central_static::make), &Run::public(seed));
        assert!(here.verdicts.iter().all(|v| v.passed()), "central, one process: {:?}", here.verdicts);
        let here = ricart::check(Box::new(ricart_static::make), &Run::public(seed));
        assert!(here.verdicts.iter().all(|v| v.passed()), "ricart, one process: {:?}", here.verdicts);
    }

    let dir = tempdir();
    let students = roster(dir.path(), 1);
    let srv = Server::start(dir.path(), 2, &[]);
    let t = &students[0].1;
    for (exercise, file) in [("central", "central_static.rs"), ("ricart", "ricart_static.rs")] {
        let (s, j) = submit(&srv.url, t, exercise, &data(file), None);
        assert_eq!(s, 202, "{j}");
        let r = wait_graded(&srv.url, t, j["id"].as_i64().unwrap(), GRADE_TIMEOUT);
        assert_eq!(r["status"], "graded", "{r}");
        assert!(r["score"].as_f64().unwrap() < r["max_score"].as_f64().unwrap(), "{exercise}: {r}");
        let safety = test_named(&r, "never two in the critical section");
        assert_eq!(safety["status"], "failed", "{exercise}: {safety}");
        let out = safety["output"].as_str().unwrap();
        assert!(out.contains(distlab_grader::grading::SHARED_MEMORY_HINT), "{exercise}: {out}");
        let overall = r["output"].as_str().unwrap();
        assert!(overall.contains("did not do it by messages"), "{exercise}: {overall}");
    }
}

#[test]
fn a_host_that_records_hidden_runs_cannot_show_them_before_the_deadline() {
    let dir = tempdir();
    let students = roster(dir.path(), 1);
    let srv = Server::start(dir.path(), 1, &[]);
    let t = &students[0].1;
    let (_, j) = submit(&srv.url, t, "warmup", &data("hidden_spy.rs"), None);
    let r = wait_graded(&srv.url, t, j["id"].as_i64().unwrap(), GRADE_TIMEOUT);
    assert_eq!(r["score"], 0.0, "{r}");
    let text = r.to_string();
    // Every node lives in a process of its own: a spy never sees a second
    // node, let alone a hidden run.
    let counts: Vec<&str> = text.split("spied ").skip(1).map(|rest| rest.split(' ').next().unwrap()).collect();
    assert!(!counts.is_empty(), "the spy's panic is quoted: {text}");
    assert!(counts.iter().all(|c| *c == "1"), "{counts:?} in {text}");
    // And nothing from the hidden scenarios: none of their names.
    for s in distlab::catalogue::warmup::scenarios().iter().filter(|s| s.hidden) {
        assert!(!text.contains(&s.scenario.name), "hidden scenario {} in {text}", s.scenario.name);
    }
}
