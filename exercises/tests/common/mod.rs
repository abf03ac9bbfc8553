//! Helpers shared by the catalogue test files.
#![allow(dead_code)]

use distlab::catalogue::Report;

/// (check, message) of every verdict that did not pass.
pub fn failed(report: &Report) -> Vec<(String, String)> {
    report.verdicts.iter().filter(|v| !v.passed()).map(|v| (v.check.clone(), v.message.clone())).collect()
}

pub fn assert_all_pass(report: &Report) {
    assert!(failed(report).is_empty(), "{:?}", failed(report));
}

/// A host in a thread: `serve` gets the host's input and output ends (as
/// a sandboxed host has stdin and stdout); returns the grader's end.
pub fn host_in_thread(
    serve: impl FnOnce(std::io::PipeReader, std::io::PipeWriter) + Send + 'static,
) -> std::rc::Rc<std::cell::RefCell<distlab::remote::Connection>> {
    let (to_host_reader, to_host_writer) = std::io::pipe().unwrap();
    let (from_host_reader, from_host_writer) = std::io::pipe().unwrap();
    std::thread::spawn(move || serve(to_host_reader, from_host_writer));
    distlab::remote::Connection::new(Box::new(from_host_reader), Box::new(to_host_writer))
}

/// A node host in a thread serving the nodes `make` builds, as the grader's
/// sandboxed host would: the connection for an exercise's `check_remote`.
pub fn host_thread<M: distlab::Message>(
    make: fn() -> Box<distlab::process::NodeFactory<M>>,
) -> std::rc::Rc<std::cell::RefCell<distlab::remote::Connection>> {
    host_in_thread(move |input, output| {
        let _ = distlab::remote::serve(make().as_ref(), input, output);
    })
}

/// Checks `local` and the same solution served by a host thread through the
/// spec's `check_remote` for the grader's scope: the verdicts must be equal.
/// Prints how long the remote check took.
pub fn remote_matches_local<M: distlab::Message>(
    spec: &distlab::catalogue::ExerciseSpec,
    make: fn() -> Box<distlab::process::NodeFactory<M>>,
    local: impl Fn(Box<distlab::process::NodeFactory<M>>, &distlab::catalogue::Run) -> Report,
) {
    let run = distlab::catalogue::Run::all(5);
    let here = local(make(), &run);
    let start = std::time::Instant::now();
    let connection = host_thread(make);
    let there = (spec.check_remote)(std::rc::Rc::clone(&connection), &run);
    let (bytes, replies) = connection.borrow().received();
    println!(
        "{}: grader check through a node host, {:.0} ms, {replies} replies, {bytes} bytes",
        spec.id,
        start.elapsed().as_secs_f64() * 1000.0
    );
    // An honest solution stays far below what the grader keeps per host.
    assert!(bytes * 8 < distlab::remote::MAX_TOTAL_BYTES && replies * 8 < distlab::remote::MAX_REPLIES, "{}", spec.id);
    assert_eq!(here.verdicts, there.verdicts, "{}", spec.id);
}

/// Runs a public check of a correct solution, prints how long it took, and
/// asserts it passed within the one second a notebook `:check` may take.
pub fn assert_quick_public_pass(exercise: &str, check: impl FnOnce() -> Report) {
    let started = std::time::Instant::now();
    let report = check();
    let took = started.elapsed();
    println!("{exercise} public check: {took:?} for {} verdicts", report.verdicts.len());
    assert_all_pass(&report);
    assert!(took.as_secs_f64() < 1.0, "{exercise}: {took:?}");
}
