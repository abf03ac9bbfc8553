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
