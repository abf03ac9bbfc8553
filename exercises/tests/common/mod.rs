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
