//! Embeds what the prepared directory must have been made from: the hash of
//! the course crate's sources and the rustc that builds this grader (see
//! src/stamp.rs).

#[path = "src/course_sources.rs"]
#[allow(dead_code)]
mod course_sources;

use std::path::Path;
use std::process::Command;

fn main() {
    let course = Path::new(env!("CARGO_MANIFEST_DIR")).join("../exercises");
    println!("cargo:rerun-if-changed={}", course.join("Cargo.toml").display());
    println!("cargo:rerun-if-changed={}", course.join("build.rs").display());
    for dir in course_sources::SOURCE_DIRS {
        println!("cargo:rerun-if-changed={}", course.join(dir).display()); // a directory: scanned recursively
    }
    println!("cargo:rerun-if-changed=src/course_sources.rs");
    let hash = course_sources::hash(&course).expect("hashing the course crate sources");
    println!("cargo:rustc-env=DISTLAB_COURSE_SOURCES={hash}");

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc).arg("-vV").output().expect("running rustc -vV");
    assert!(out.status.success(), "{rustc} -vV failed");
    let version = String::from_utf8(out.stdout).expect("rustc -vV is UTF-8");
    // The first line names release, commit and date.
    println!("cargo:rustc-env=DISTLAB_BUILD_RUSTC={}", version.lines().next().unwrap_or_default());
}
