//! The grader runs public and hidden checks in two processes: `Run::public`
//! followed by `Run::hidden` must judge exactly like `Run::all`, for every
//! exercise, and a hidden-only report draws nothing.

use distlab::catalogue::*;
use distlab::check::Status;

/// Every exercise's check on its reference solution.
fn reference_check(id: &str, run: &Run) -> Report {
    reference_report(id, run).unwrap_or_else(|| panic!("no exercise {id}"))
}

type Key = (String, Status, String, u64);

fn keys(report: &Report) -> Vec<Key> {
    let mut keys: Vec<Key> =
        report.verdicts.iter().map(|v| (v.check.clone(), v.status, v.scenario.clone(), v.seed)).collect();
    keys.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    keys
}

#[test]
fn public_then_hidden_judges_like_all() {
    for spec in registry() {
        for seed in [0, 7, 2024] {
            let all = reference_check(spec.id, &Run::all(seed));
            let public = reference_check(spec.id, &Run::public(seed));
            let hidden = reference_check(spec.id, &Run::hidden(seed));
            let mut both = public.clone();
            both.verdicts.extend(hidden.verdicts.iter().cloned());
            assert_eq!(keys(&both), keys(&all), "{} seed {seed}: public + hidden differs from all", spec.id);

            assert!(hidden.diagram.is_none(), "{} seed {seed}: a hidden-only report has a diagram", spec.id);
            let hidden_checks: Vec<&str> =
                spec.checks.iter().filter(|c| c.visibility == Visibility::Hidden).map(|c| c.name).collect();
            for v in &hidden.verdicts {
                assert!(
                    hidden_checks.contains(&v.check.as_str()),
                    "{}: hidden run reported public check {}",
                    spec.id,
                    v.check
                );
            }
            for v in &public.verdicts {
                assert!(
                    !hidden_checks.contains(&v.check.as_str()),
                    "{}: public run reported hidden check {}",
                    spec.id,
                    v.check
                );
            }
            assert!(!hidden.verdicts.is_empty() || hidden_checks.is_empty(), "{}: the hidden run ran nothing", spec.id);

            let sum = public.score(spec, Scope::Public) + hidden.score(spec, Scope::Hidden);
            assert!((sum - all.score(spec, Scope::All)).abs() < 1e-9, "{} seed {seed}: scores don't add up", spec.id);
            assert!(
                (all.score(spec, Scope::All) - spec.points as f64).abs() < 1e-9,
                "{} seed {seed}: the reference loses points",
                spec.id
            );
        }
    }
}

#[test]
fn hidden_scope_includes_only_hidden_checks() {
    assert!(Scope::Hidden.includes(Visibility::Hidden));
    assert!(!Scope::Hidden.includes(Visibility::Public));
    assert!(Scope::Public.includes(Visibility::Public) && !Scope::Public.includes(Visibility::Hidden));
    assert!(Scope::All.includes(Visibility::Public) && Scope::All.includes(Visibility::Hidden));
    assert_eq!(Run::hidden(3), Run { seed: 3, scope: Scope::Hidden, only: None });
}
