//! The registry as a whole: every exercise is one module named by its id,
//! derived from its one source file, and every check a spec lists is one a
//! monitor or case table really reports (and nothing reports a check the
//! spec does not list, which would earn nothing and show nowhere).

use std::collections::BTreeSet;

use distlab::catalogue::{reference_report, registry, Run, Scope};

#[test]
fn ids_are_unique_and_name_their_modules() {
    let (mut seen, mut places) = (BTreeSet::new(), BTreeSet::new());
    for spec in registry() {
        assert!(seen.insert(spec.id), "two exercises are called {}", spec.id);
        assert!(places.insert((spec.notebook, spec.position)), "{}: another exercise has its place", spec.id);
        assert_eq!(spec.check_fn, format!("distlab::catalogue::{}::check", spec.id));
        assert_eq!(spec.host_fn, format!("distlab::catalogue::{}::host", spec.id));
        let names: BTreeSet<&str> = spec.checks.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), spec.checks.len(), "{}: a check is listed twice", spec.id);
    }
}

#[test]
fn every_scaffold_is_its_cell_without_the_solutions() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for spec in registry() {
        let module = std::fs::read_to_string(root.join("src/catalogue").join(format!("{}.rs", spec.id))).unwrap();
        let cell = distlab::markers::cell_source(&module).unwrap();
        assert_eq!(spec.scaffold, distlab::markers::strip_solutions(&cell).unwrap(), "{}", spec.id);
        assert!(cell.contains("// BEGIN SOLUTION") && !spec.scaffold.contains("SOLUTION"), "{}", spec.id);
    }
}

#[test]
fn every_listed_check_is_reported_and_every_reported_check_is_listed() {
    for spec in registry() {
        let report = reference_report(spec.id, &Run::all(1)).unwrap();
        let reported: BTreeSet<&str> = report.verdicts.iter().map(|v| v.check.as_str()).collect();
        let listed: BTreeSet<&str> = spec.checks.iter().map(|c| c.name).collect();
        let missing: Vec<_> = listed.difference(&reported).collect();
        let unlisted: Vec<_> = reported.difference(&listed).collect();
        assert!(missing.is_empty(), "{}: listed but never reported: {missing:?}", spec.id);
        assert!(unlisted.is_empty(), "{}: reported but not listed: {unlisted:?}", spec.id);
        assert_eq!(report.score(spec, Scope::All), spec.points as f64, "{}: the reference loses points", spec.id);
    }
}
