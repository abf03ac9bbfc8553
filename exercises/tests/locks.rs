//! Notebook 8, the lock manager: the rules pass, two other correct
//! designs pass over 200 students' seeds, three typical mistakes are
//! caught with the call sequence that shows them, and the three
//! transactions give x = 1, 2, 3 serializably and 4, 5, 6 only otherwise.
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use distlab::catalogue::locks::{
    self, Answer, Grant, Item, LockManager, Mode, Txn, COMPATIBLE, FAIR, NO_NEEDLESS_WAIT, SERIALIZABLE,
};
use distlab::catalogue::{Run, Scope};
use distlab::Status;

mod common;
use common::{assert_all_pass, failed};

#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Bug {
    #[default]
    None,
    /// A write is refused only because of readers: two writers get in.
    TwoWriters,
    /// A reader may always upgrade, other readers or not.
    UpgradeWithReaders,
    /// A release grants one waiter at most: the readers behind it are lost.
    LostWaiter,
    /// A release grants every waiter that fits, skipping one that does not.
    Overtake,
    /// A release lists its grants last first.
    Reversed,
}

/// Correct when `bug` is `None`: readers as a set, the writer apart, and
/// upgrades in their own line ahead of the others.
#[derive(Default)]
struct PerItem {
    readers: BTreeSet<Txn>,
    writer: Option<Txn>,
    upgrades: VecDeque<Txn>,
    line: VecDeque<(Txn, Mode)>,
}

#[derive(Default)]
struct Table {
    items: BTreeMap<Item, PerItem>,
    bug: Bug,
}

impl LockManager for Table {
    fn request(&mut self, txn: Txn, item: Item, mode: Mode) -> Answer {
        let bug = self.bug;
        let e = self.items.entry(item).or_default();
        if e.writer == Some(txn) || (mode == Mode::Read && e.readers.contains(&txn)) {
            return Answer::Granted;
        }
        if e.readers.contains(&txn) {
            if (e.readers.len() == 1 && e.writer.is_none()) || bug == Bug::UpgradeWithReaders {
                e.readers.remove(&txn);
                e.writer = Some(txn);
                return Answer::Granted;
            }
            e.upgrades.push_back(txn);
            return Answer::Waiting;
        }
        let fits = match mode {
            Mode::Read => e.writer.is_none(),
            Mode::Write => e.readers.is_empty() && (e.writer.is_none() || bug == Bug::TwoWriters),
        };
        if fits && e.upgrades.is_empty() && e.line.is_empty() {
            match mode {
                Mode::Read => e.readers.insert(txn),
                Mode::Write => e.writer.replace(txn).is_none(),
            };
            return Answer::Granted;
        }
        e.line.push_back((txn, mode));
        Answer::Waiting
    }

    fn release(&mut self, txn: Txn, item: Item) -> Vec<Grant> {
        let bug = self.bug;
        let e = self.items.entry(item).or_default();
        e.readers.remove(&txn);
        if e.writer == Some(txn) {
            e.writer = None;
        }
        e.upgrades.retain(|t| *t != txn);
        e.line.retain(|(t, _)| *t != txn);
        let mut grants = Vec::new();
        if let Some(&u) = e.upgrades.front() {
            if e.writer.is_none() && e.readers.len() == 1 && e.readers.contains(&u) {
                e.upgrades.pop_front();
                e.readers.clear();
                e.writer = Some(u);
                grants.push(Grant { txn: u, item, mode: Mode::Write });
            }
            return grants;
        }
        let mut k = 0;
        while let Some(&(t, mode)) = e.line.get(k) {
            let fits = match mode {
                Mode::Read => e.writer.is_none(),
                Mode::Write => e.writer.is_none() && e.readers.is_empty(),
            };
            if !fits && bug == Bug::Overtake {
                k += 1;
                continue;
            }
            if !fits || (bug == Bug::LostWaiter && !grants.is_empty()) {
                break;
            }
            e.line.remove(k);
            match mode {
                Mode::Read => e.readers.insert(t),
                Mode::Write => e.writer.replace(t).is_none(),
            };
            grants.push(Grant { txn: t, item, mode });
        }
        if bug == Bug::Reversed {
            grants.reverse();
        }
        grants
    }
}

fn table() -> Box<dyn LockManager> {
    Box::new(Table::default())
}

/// Correct, differently: one list of every lock and request, in arrival
/// order, scanned on every call.
#[derive(Default)]
struct Ledger {
    entries: Vec<Entry>,
}

#[derive(Clone, Copy)]
struct Entry {
    txn: Txn,
    item: Item,
    mode: Mode,
    granted: bool,
    upgrade: bool,
}

impl Ledger {
    fn fits(&self, txn: Txn, item: Item, mode: Mode) -> bool {
        self.entries
            .iter()
            .filter(|e| e.granted && e.item == item && e.txn != txn)
            .all(|e| mode == Mode::Read && e.mode == Mode::Read)
    }
}

impl LockManager for Ledger {
    fn request(&mut self, txn: Txn, item: Item, mode: Mode) -> Answer {
        let held = self.entries.iter().position(|e| e.granted && e.txn == txn && e.item == item);
        if let Some(k) = held {
            if self.entries[k].mode >= mode {
                return Answer::Granted;
            }
            if self.fits(txn, item, Mode::Write) {
                self.entries[k].mode = Mode::Write;
                return Answer::Granted;
            }
            self.entries.push(Entry { txn, item, mode, granted: false, upgrade: true });
            return Answer::Waiting;
        }
        let queued = self.entries.iter().any(|e| !e.granted && e.item == item);
        let granted = !queued && self.fits(txn, item, mode);
        self.entries.push(Entry { txn, item, mode, granted, upgrade: false });
        if granted {
            Answer::Granted
        } else {
            Answer::Waiting
        }
    }

    fn release(&mut self, txn: Txn, item: Item) -> Vec<Grant> {
        self.entries.retain(|e| !(e.txn == txn && e.item == item));
        let mut order: Vec<usize> =
            (0..self.entries.len()).filter(|&k| !self.entries[k].granted && self.entries[k].item == item).collect();
        order.sort_by_key(|&k| !self.entries[k].upgrade); // stable: upgrades first, each group by arrival
        let mut grants = Vec::new();
        for k in order {
            let e = self.entries[k];
            if !self.fits(e.txn, item, e.mode) {
                break;
            }
            grants.push(Grant { txn: e.txn, item, mode: e.mode });
            if e.upgrade {
                // Its read lock becomes the write lock; a writer now holds the item.
                self.entries.retain(|o| !(o.granted && o.txn == e.txn && o.item == item));
                let k = self.entries.iter().position(|o| !o.granted && o.txn == e.txn && o.item == item).unwrap();
                self.entries[k].granted = true;
                break;
            }
            self.entries[k].granted = true;
        }
        grants
    }
}

fn ledger() -> Box<dyn LockManager> {
    Box::new(Ledger::default())
}

#[test]
fn the_rules_and_two_other_correct_designs_pass_over_200_seeds() {
    for seed in 0..200 {
        assert_all_pass(&locks::check(locks::reference::solution(), &Run::all(seed)));
        assert_all_pass(&locks::check(&table, &Run::all(seed)));
        assert_all_pass(&locks::check(&ledger, &Run::all(seed)));
    }
    let report = locks::check(&ledger, &Run::all(9));
    assert_eq!(report.score(&locks::SPEC, Scope::All), locks::SPEC.points as f64);
}

fn with_bug(bug: Bug) -> impl Fn() -> Box<dyn LockManager> {
    move || Box::new(Table { bug, ..Table::default() }) as Box<dyn LockManager>
}

fn assert_caught(bug: Bug, check: &str, words: &[&str]) -> String {
    let make = with_bug(bug);
    for seed in 0..5 {
        let report = locks::check(&make, &Run::public(seed));
        if let Some(v) = report.verdicts.iter().find(|v| v.check == check && v.status == Status::Fail) {
            for w in words {
                assert!(v.message.contains(w), "{bug:?}: '{}' lacks '{w}'", v.message);
            }
            // The counterexample is the numbered call sequence.
            assert!(v.message.starts_with("1. T"), "{}", v.message);
            println!("{bug:?}: {v}");
            return v.message.clone();
        }
    }
    panic!("{bug:?}: no '{check}' failure in 5 seeds");
}

#[test]
fn two_writers_are_caught() {
    assert_caught(Bug::TwoWriters, COMPATIBLE, &["you said Granted", "(write)"]);
    // And the three transactions then end at values no serial order gives.
    let make = with_bug(Bug::TwoWriters);
    let report = locks::check(&make, &Run::public(0));
    let v = report.verdicts.iter().find(|v| v.check == SERIALIZABLE).unwrap();
    assert_eq!(v.status, Status::Fail, "{v}");
    assert!(v.message.contains("not serializable"), "{}", v.message);
    println!("{v}");
}

#[test]
fn an_upgrade_beside_other_readers_is_caught() {
    assert_caught(Bug::UpgradeWithReaders, COMPATIBLE, &["upgrade to write while other transactions read"]);
}

#[test]
fn a_lost_waiter_is_caught() {
    assert_caught(Bug::LostWaiter, FAIR, &["is lost for good"]);
}

#[test]
fn a_waiter_that_overtakes_is_told_which_rule_it_broke() {
    let message = assert_caught(Bug::Overtake, FAIR, &["ahead of T", "which asked before it and still waits"]);
    assert!(!message.ends_with("waiters are granted in the order they asked, an upgrade first"), "{message}");
    // The sequence is named in words, not as Rust's Debug output.
    let report = locks::check(&with_bug(Bug::Overtake), &Run::public(0));
    assert!(report.verdicts.iter().all(|v| !v.scenario.contains("Shape {")), "{:?}", report.verdicts);
}

#[test]
fn grants_in_the_wrong_order_are_named_as_such() {
    assert_caught(Bug::Reversed, FAIR, &["listed in the wrong order", "the order the waiters asked"]);
}

#[test]
fn a_manager_that_always_waits_is_caught() {
    struct Shy;
    impl LockManager for Shy {
        fn request(&mut self, _: Txn, _: Item, _: Mode) -> Answer {
            Answer::Waiting
        }
        fn release(&mut self, _: Txn, _: Item) -> Vec<Grant> {
            Vec::new()
        }
    }
    let make = || Box::new(Shy) as Box<dyn LockManager>;
    let report = locks::check(&make, &Run::public(0));
    let bad: BTreeSet<String> = failed(&report).into_iter().map(|(c, _)| c).collect();
    assert!(bad.contains(NO_NEEDLESS_WAIT) && bad.contains(SERIALIZABLE), "{bad:?}");
}

#[test]
fn serializable_schedules_give_1_2_3_and_only_unserializable_ones_give_4_5_6() {
    let schedules = locks::all_schedules();
    assert_eq!(schedules.len(), 1680); // 9! / (3! 3! 3!)
    let mut serializable = BTreeSet::new();
    let mut not = BTreeSet::new();
    for s in &schedules {
        let value = locks::final_value(s);
        if locks::precedence_cycle(s).is_none() {
            serializable.insert(value);
        } else {
            not.insert(value);
        }
    }
    assert_eq!(serializable, BTreeSet::from([1, 2, 3]));
    assert!(not.is_superset(&BTreeSet::from([4, 5, 6])), "{not:?}");
    assert!(not.iter().all(|v| (1..=6).contains(v)));
}

#[test]
fn public_check_takes_under_a_second() {
    common::assert_quick_public_pass("locks", || locks::check(locks::reference::solution(), &Run::public(4)));
}

#[test]
fn the_grader_judges_a_manager_behind_a_host_like_a_local_one() {
    fn buggy() -> Box<dyn LockManager> {
        Box::new(Table { bug: Bug::TwoWriters, ..Table::default() })
    }
    fn reference() -> Box<dyn LockManager> {
        locks::reference::solution()()
    }
    let cases: [fn() -> Box<dyn LockManager>; 2] = [reference, buggy];
    for make in cases {
        let connection = common::host_in_thread(move |input, output| {
            let _ = distlab::remote::serve_calls(&locks::dispatch(&make), input, output);
        });
        let remote = (locks::SPEC.check_remote)(connection, &Run::all(6));
        assert_eq!(remote.verdicts, locks::check(&make, &Run::all(6)).verdicts);
    }
}
