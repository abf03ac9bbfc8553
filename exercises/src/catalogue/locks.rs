//! Notebook 8, transactions and locking: a read/write lock manager.
//!
//! The student writes a `LockManager`; the check plays generated request
//! sequences against it and against [`Model`], the rules written down once:
//! shared reads, exclusive writes, an upgrade from read to write only for
//! the sole reader, and a fair queue (no request overtakes an earlier
//! waiter; an upgrade waits first in line). The first answer that differs
//! is the counterexample, named after the rule it breaks.
//!
//! The second check runs the textbook's three transactions on x
//! (`x = 0; x = x + k`) under the student's manager with strict two-phase
//! locking in random interleavings: with correct locks x ends at 1, 2 or
//! 3; the values 4, 5 and 6 come only from schedules that are not
//! serializable, which a precedence-graph test names.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{numeric_verdict, CheckSpec, ExerciseSpec, Report, Run, Visibility};
use crate::guard::call_guarded;
use crate::rng::{Draw, SeededRng};

pub type Txn = u32;
pub type Item = char;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Mode {
    Read,
    Write,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Answer {
    Granted,
    /// The request is queued; a later `release` grants it.
    Waiting,
}

/// A queued request that a release granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub txn: Txn,
    pub item: Item,
    pub mode: Mode,
}

/// What the student implements.
pub trait LockManager {
    /// `txn` asks for `item` in `mode`. A transaction that holds a read
    /// lock may ask for a write lock on the same item (an upgrade).
    fn request(&mut self, txn: Txn, item: Item, mode: Mode) -> Answer;
    /// `txn` gives up `item`: the lock it holds and any request of it still
    /// waiting there. Returns the waiting requests this grants, in the
    /// order they are granted.
    fn release(&mut self, txn: Txn, item: Item) -> Vec<Grant>;
}

/// The student's solution: makes a fresh, empty lock manager.
pub type Solution<'a> = &'a dyn Fn() -> Box<dyn LockManager>;

pub const COMPATIBLE: &str = "compatible locks only";
pub const NO_NEEDLESS_WAIT: &str = "grant when free, upgrade the sole reader";
pub const FAIR: &str = "waiters granted in order, none lost";
pub const SERIALIZABLE: &str = "the three transactions run serializably";
pub const HIDDEN: &str = "longer sequences";

/// The rules, as the reference state of one lock manager. Crate-private:
/// a student who could call it would not need to write one.
#[derive(Clone, Debug, Default)]
pub(crate) struct Model {
    holders: BTreeMap<Item, BTreeMap<Txn, Mode>>,
    queues: BTreeMap<Item, VecDeque<(Txn, Mode)>>,
}

impl Model {
    fn holds(&self, txn: Txn, item: Item) -> Option<Mode> {
        self.holders.get(&item).and_then(|h| h.get(&txn)).copied()
    }

    pub fn is_waiting(&self, txn: Txn) -> bool {
        self.queues.values().any(|q| q.iter().any(|(t, _)| *t == txn))
    }

    fn is_upgrade(&self, txn: Txn, item: Item, mode: Mode) -> bool {
        mode == Mode::Write && self.holds(txn, item) == Some(Mode::Read)
    }

    /// Could `txn` hold `item` in `mode` beside the present holders?
    fn compatible(&self, txn: Txn, item: Item, mode: Mode) -> bool {
        let others = self.holders.get(&item).into_iter().flatten().filter(|(t, _)| **t != txn);
        match mode {
            Mode::Write => others.count() == 0,
            Mode::Read => others.into_iter().all(|(_, m)| *m == Mode::Read),
        }
    }

    pub fn request(&mut self, txn: Txn, item: Item, mode: Mode) -> Answer {
        if self.holds(txn, item).is_some_and(|held| held >= mode) {
            return Answer::Granted;
        }
        let upgrade = self.is_upgrade(txn, item, mode);
        let queue = self.queues.entry(item).or_default();
        if (upgrade || queue.is_empty()) && self.compatible(txn, item, mode) {
            self.holders.entry(item).or_default().insert(txn, mode);
            return Answer::Granted;
        }
        let queue = self.queues.entry(item).or_default();
        if upgrade {
            // Behind other upgrades only: it already holds the item, so
            // anyone else waiting is waiting for it.
            let at = queue
                .iter()
                .take_while(|(t, m)| *m == Mode::Write && self.holders[&item].get(t) == Some(&Mode::Read))
                .count();
            queue.insert(at, (txn, mode));
        } else {
            queue.push_back((txn, mode));
        }
        Answer::Waiting
    }

    pub fn release(&mut self, txn: Txn, item: Item) -> Vec<Grant> {
        if let Some(h) = self.holders.get_mut(&item) {
            h.remove(&txn);
        }
        let queue = self.queues.entry(item).or_default();
        queue.retain(|(t, _)| *t != txn);
        let mut grants = Vec::new();
        while let Some(&(t, mode)) = self.queues[&item].front() {
            if !self.compatible(t, item, mode) {
                break;
            }
            self.queues.get_mut(&item).expect("queue").pop_front();
            self.holders.entry(item).or_default().insert(t, mode);
            grants.push(Grant { txn: t, item, mode });
        }
        grants
    }

    /// What `txn` holds, for the end of a sequence.
    pub fn held_by(&self, txn: Txn) -> Vec<Item> {
        self.holders.iter().filter(|(_, h)| h.contains_key(&txn)).map(|(i, _)| *i).collect()
    }

    fn describe_holders(&self, item: Item, except: Txn) -> String {
        let h: Vec<String> = self
            .holders
            .get(&item)
            .into_iter()
            .flatten()
            .filter(|(t, _)| **t != except)
            .map(|(t, m)| format!("T{t} ({})", mode_word(*m)))
            .collect();
        h.join(" and ")
    }
}

fn mode_word(m: Mode) -> &'static str {
    match m {
        Mode::Read => "read",
        Mode::Write => "write",
    }
}

/// One call of a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
    Request(Txn, Item, Mode),
    Release(Txn, Item),
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Request(t, i, m) => write!(f, "T{t} asks {} {i}", mode_word(*m)),
            Call::Release(t, i) => write!(f, "T{t} releases {i}"),
        }
    }
}

fn grants_text(g: &[Grant]) -> String {
    if g.is_empty() {
        return "nothing".into();
    }
    let parts: Vec<String> = g.iter().map(|g| format!("T{} {} {}", g.txn, mode_word(g.mode), g.item)).collect();
    parts.join(", ")
}

/// A sequence of calls a well-behaved client makes: a waiting transaction
/// asks for nothing else; at the end everyone releases everything.
pub fn generate(rng: &mut SeededRng, txns: u32, items: &[Item], steps: usize) -> Vec<Call> {
    let mut model = Model::default();
    let mut calls = Vec::new();
    let mut push = |model: &mut Model, call: Call| {
        match call {
            Call::Request(t, i, m) => {
                model.request(t, i, m);
            }
            Call::Release(t, i) => {
                model.release(t, i);
            }
        }
        calls.push(call);
    };
    for _ in 0..steps {
        let free: Vec<Txn> = (1..=txns).filter(|&t| !model.is_waiting(t)).collect();
        if free.is_empty() {
            break; // a deadlock: the end phase below resolves it
        }
        let t = free[rng.below(free.len() as u64) as usize];
        let held = model.held_by(t);
        if !held.is_empty() && rng.below(3) == 0 {
            let i = held[rng.below(held.len() as u64) as usize];
            push(&mut model, Call::Release(t, i));
            continue;
        }
        let i = items[rng.below(items.len() as u64) as usize];
        let m = if rng.below(2) == 0 { Mode::Read } else { Mode::Write };
        // Two upgraders of one item would wait for each other forever.
        let upgrade_waits =
            model.queues.get(&i).is_some_and(|q| q.iter().any(|(u, _)| model.is_upgrade(*u, i, Mode::Write)));
        if model.is_upgrade(t, i, m) && upgrade_waits {
            continue;
        }
        push(&mut model, Call::Request(t, i, m));
    }
    // Everyone lets go: waiting requests are withdrawn or granted, then released.
    for _ in 0..txns as usize * items.len() + 1 {
        let mut any = false;
        for t in 1..=txns {
            for &i in items {
                let waits = model.queues.get(&i).is_some_and(|q| q.iter().any(|(u, _)| *u == t));
                if model.holds(t, i).is_some() || waits {
                    push(&mut model, Call::Release(t, i));
                    any = true;
                }
            }
        }
        if !any {
            break;
        }
    }
    calls
}

/// Where a lock manager first departs from the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Departure {
    pub check: &'static str,
    pub message: String,
}

/// What the calls answered by the rules put to the test: a rule that no
/// such call exercised has judged nothing and must not pass (a manager
/// that grants everything never waits needlessly, and has no waiters to
/// treat unfairly).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tested {
    /// Requests the rules make wait, answered `Waiting`.
    pub waits: usize,
    /// Of those, requests that conflict with a holder.
    pub conflicts: usize,
    /// Requests the rules grant, answered `Granted`.
    pub grants: usize,
    /// Releases that granted waiting requests, as the rules do.
    pub waiters_granted: usize,
}

impl Tested {
    /// Why `check` has judged nothing, if it has not.
    fn untested(&self, check: &str) -> Option<String> {
        let never = "in the calls your manager answered by the rules (every sequence broke another rule first)";
        match check {
            COMPATIBLE if self.conflicts == 0 => Some(format!(
                "no request that conflicts with a holder ever came up {never}, so this rule was never put to the test"
            )),
            NO_NEEDLESS_WAIT if self.waits == 0 || self.grants == 0 => Some(format!(
                "your manager never both granted a free lock and made a blocked request wait {never}: never \
                 waiting needlessly means something only for a manager that does wait when it must"
            )),
            FAIR if self.waiters_granted == 0 => Some(format!(
                "no release ever granted a waiting request {never}, so there were no waiters whose order to judge"
            )),
            _ => None,
        }
    }
}

/// Plays `calls` on a fresh manager from `make` and on the model; the first
/// difference, named after the rule it breaks.
pub fn replay(make: Solution<'_>, calls: &[Call]) -> Result<(), Departure> {
    replay_tested(make, calls, &mut Tested::default())
}

/// `replay`, adding to `tested` what the calls answered by the rules
/// exercised.
pub fn replay_tested(make: Solution<'_>, calls: &[Call], tested: &mut Tested) -> Result<(), Departure> {
    let mut student = call_guarded(make)
        .map_err(|p| Departure { check: COMPATIBLE, message: format!("making your lock manager panicked: {p}") })?;
    let mut model = Model::default();
    let mut so_far = Vec::new();
    for (k, &call) in calls.iter().enumerate() {
        let history = |extra: String| {
            let mut lines: Vec<String> = so_far.clone();
            lines.push(format!("{}. {call}: {extra}", k + 1));
            lines.join("; ")
        };
        match call {
            Call::Request(t, i, m) => {
                let before = model.clone();
                let said = call_guarded(|| student.request(t, i, m)).map_err(|p| Departure {
                    check: COMPATIBLE,
                    message: history(format!("your request panicked: {p}")),
                })?;
                let right = model.request(t, i, m);
                if said != right {
                    return Err(request_departure(
                        &before,
                        call,
                        said,
                        history(format!("you said {said:?}, the rules say {right:?}")),
                    ));
                }
                match right {
                    Answer::Granted => tested.grants += 1,
                    Answer::Waiting => {
                        tested.waits += 1;
                        tested.conflicts += usize::from(!before.compatible(t, i, m));
                    }
                }
                so_far.push(format!("{}. {call}: {said:?}", k + 1));
            }
            Call::Release(t, i) => {
                let before = model.clone();
                let said = call_guarded(|| student.release(t, i))
                    .map_err(|p| Departure { check: FAIR, message: history(format!("your release panicked: {p}")) })?;
                let right = model.release(t, i);
                if said != right {
                    let text =
                        history(format!("you granted {}, the rules grant {}", grants_text(&said), grants_text(&right)));
                    return Err(release_departure(&before, t, i, &said, &right, text));
                }
                tested.waiters_granted += usize::from(!right.is_empty());
                so_far.push(format!("{}. {call}: grants {}", k + 1, grants_text(&said)));
            }
        }
    }
    Ok(())
}

/// Is `calls` something a well-behaved client could send: a waiting
/// transaction only releases, and only what it holds or waits for?
fn well_formed(calls: &[Call]) -> bool {
    let mut model = Model::default();
    calls.iter().all(|&call| match call {
        Call::Request(t, i, m) => {
            let ok = !model.is_waiting(t);
            model.request(t, i, m);
            ok
        }
        Call::Release(t, i) => {
            let ok =
                model.holds(t, i).is_some() || model.queues.get(&i).is_some_and(|q| q.iter().any(|(u, _)| *u == t));
            model.release(t, i);
            ok
        }
    })
}

/// Shortens a failing sequence: drops calls one at a time while the
/// sequence stays well formed and still breaks the same rule, so the
/// counterexample shows only what matters. Bounded, for slow solutions.
pub fn shrink(make: Solution<'_>, calls: &[Call], failure: Departure) -> (Vec<Call>, Departure) {
    let mut calls = calls.to_vec();
    let mut failure = failure;
    let mut budget = 400;
    let mut k = calls.len();
    while k > 0 && budget > 0 {
        k -= 1;
        let mut shorter = calls.clone();
        shorter.remove(k);
        if !well_formed(&shorter) {
            continue;
        }
        budget -= 1;
        match replay(make, &shorter) {
            Err(d) if d.check == failure.check => {
                calls = shorter;
                failure = d;
                k = k.min(calls.len());
            }
            _ => {}
        }
    }
    (calls, failure)
}

fn request_departure(before: &Model, call: Call, said: Answer, text: String) -> Departure {
    let Call::Request(t, i, m) = call else { unreachable!("a request") };
    if said == Answer::Waiting {
        let why = if before.is_upgrade(t, i, m) {
            "it is the only reader, so the upgrade is granted at once"
        } else {
            "nothing stands in its way"
        };
        return Departure { check: NO_NEEDLESS_WAIT, message: format!("{text}: {why}") };
    }
    if !before.compatible(t, i, m) {
        let what = if before.is_upgrade(t, i, m) {
            "an upgrade to write while other transactions read"
        } else {
            "a lock that conflicts"
        };
        return Departure {
            check: COMPATIBLE,
            message: format!("{text}: that is {what}; {i} is held by {}", before.describe_holders(i, t)),
        };
    }
    Departure {
        check: FAIR,
        message: format!("{text}: earlier requests wait for {i}, and a new one must not overtake them"),
    }
}

fn release_departure(before: &Model, t: Txn, i: Item, said: &[Grant], right: &[Grant], text: String) -> Departure {
    // Replay the student's grants on the model to see what they would do.
    let mut after = before.clone();
    if let Some(h) = after.holders.get_mut(&i) {
        h.remove(&t);
    }
    for g in said {
        if g.item != i || !after.compatible(g.txn, g.item, g.mode) {
            return Departure {
                check: COMPATIBLE,
                message: format!(
                    "{text}: granting T{} {} {} conflicts with the other grants or holders",
                    g.txn,
                    mode_word(g.mode),
                    g.item
                ),
            };
        }
        after.holders.entry(i).or_default().insert(g.txn, g.mode);
    }
    let missing: Vec<&Grant> = right.iter().filter(|g| !said.contains(g)).collect();
    if let Some(g) = missing.first() {
        return Departure {
            check: FAIR,
            message: format!(
                "{text}: T{} waits for {} and the lock is free for it now; a waiter nobody grants is lost for good",
                g.txn, g.item
            ),
        };
    }
    Departure { check: FAIR, message: format!("{text}: {}", order_rule(before, i, said, right)) }
}

/// The ordering rule a release broke, when every grant it made fits beside
/// the holders and no waiter the rules grant was left out: an extra grant,
/// a grant twice, or the right grants in the wrong order.
fn order_rule(before: &Model, i: Item, said: &[Grant], right: &[Grant]) -> String {
    // `said` holds every grant of `right` (the caller checked): what is left
    // is an extra grant, a repeat, or the order.
    let queue: Vec<(Txn, Mode)> = before.queues.get(&i).into_iter().flatten().copied().collect();
    if let Some(g) = said.iter().find(|g| !right.contains(g)) {
        let Some(at) = queue.iter().position(|(t, _)| *t == g.txn) else {
            return format!("T{} was not waiting for {i}: a release grants only requests that wait", g.txn);
        };
        if let Some((ahead, mode)) = queue[..at].iter().find(|(t, _)| !said.iter().any(|s| s.txn == *t)) {
            return format!(
                "T{} ({}) got {i} ahead of T{ahead} ({}), which asked before it and still waits: waiters are \
                 granted strictly in the order they asked (an upgrade first), so a later request never \
                 overtakes an earlier one that cannot go yet",
                g.txn,
                mode_word(g.mode),
                mode_word(*mode)
            );
        }
        return format!(
            "T{} ({}) must keep waiting: the rules grant waiters from the front of the line only while each \
             fits beside the holders",
            g.txn,
            mode_word(g.mode)
        );
    }
    if said.len() > right.len() {
        return "a waiter was granted twice: each grant is reported once".into();
    }
    "the grants are listed in the wrong order: list them in the order the waiters asked (an upgrade first)".into()
}

// ---------------------------------------------------------------------------
// The three transactions.

/// One step of a schedule on x.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Access {
    Read(Txn),
    Write(Txn, i64),
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Read(t) => write!(f, "R{t}(x)"),
            Access::Write(t, v) => write!(f, "W{t}(x={v})"),
        }
    }
}

/// Transaction `t` adds `INCREMENTS[t - 1]`: `x = 0; x = x + k`.
pub const INCREMENTS: [i64; 3] = [1, 2, 3];

/// A cycle in the precedence graph of `schedule`, if any: the schedule is
/// conflict-serializable exactly when there is none.
pub fn precedence_cycle(schedule: &[Access]) -> Option<Vec<Txn>> {
    let txn = |a: &Access| match a {
        Access::Read(t) | Access::Write(t, _) => *t,
    };
    let mut edges: BTreeSet<(Txn, Txn)> = BTreeSet::new();
    for (k, a) in schedule.iter().enumerate() {
        for b in &schedule[k + 1..] {
            let conflict = matches!(a, Access::Write(..)) || matches!(b, Access::Write(..));
            if conflict && txn(a) != txn(b) {
                edges.insert((txn(a), txn(b)));
            }
        }
    }
    let nodes: BTreeSet<Txn> = schedule.iter().map(txn).collect();
    for &start in &nodes {
        // Depth-first from `start` looking for a way back to it.
        let mut stack = vec![vec![start]];
        while let Some(path) = stack.pop() {
            let last = *path.last().expect("non-empty");
            for &(_, b) in edges.iter().filter(|(a, _)| *a == last) {
                if b == start {
                    let mut cycle = path.clone();
                    cycle.push(start);
                    return Some(cycle);
                }
                if !path.contains(&b) {
                    let mut next = path.clone();
                    next.push(b);
                    stack.push(next);
                }
            }
        }
    }
    None
}

/// The final value of x after `schedule`.
pub fn final_value(schedule: &[Access]) -> i64 {
    schedule.iter().rev().find_map(|a| if let Access::Write(_, v) = a { Some(*v) } else { None }).unwrap_or(0)
}

/// Every interleaving of the three transactions without locks, as
/// (schedule, final value): for the notebook's table of legal values.
pub fn all_schedules() -> Vec<Vec<Access>> {
    fn go(at: &mut [usize; 3], x: i64, read: &mut [i64; 3], path: &mut Vec<Access>, out: &mut Vec<Vec<Access>>) {
        if at.iter().all(|&a| a == 3) {
            out.push(path.clone());
            return;
        }
        for t in 0..3 {
            if at[t] == 3 {
                continue;
            }
            let (access, nx) = step(t as Txn + 1, at[t], x, read);
            at[t] += 1;
            path.push(access);
            go(at, nx, read, path, out);
            path.pop();
            at[t] -= 1;
        }
    }
    let mut out = Vec::new();
    go(&mut [0; 3], 0, &mut [0; 3], &mut Vec::new(), &mut out);
    out
}

/// Step `k` of transaction `t` (1-based) with x at `x`: write 0, read x,
/// write what it read plus its increment.
fn step(t: Txn, k: usize, x: i64, read: &mut [i64; 3]) -> (Access, i64) {
    let i = t as usize - 1;
    match k {
        0 => (Access::Write(t, 0), 0),
        1 => {
            read[i] = x;
            (Access::Read(t), x)
        }
        _ => {
            let v = read[i] + INCREMENTS[i];
            (Access::Write(t, v), v)
        }
    }
}

/// Runs the three transactions under `manager` with strict two-phase
/// locking (write-lock x, read it, write it, release at commit), picking
/// the next transaction to step at random. Returns the schedule, or what
/// went wrong.
fn run_transactions(manager: &mut dyn LockManager, rng: &mut SeededRng) -> Result<Vec<Access>, String> {
    let mut at = [0usize; 3];
    let mut waiting = [false; 3];
    let mut read = [0i64; 3];
    let mut x = 0;
    let mut schedule = Vec::new();
    let want = |k: usize| if k == 1 { Mode::Read } else { Mode::Write };
    loop {
        let ready: Vec<usize> = (0..3).filter(|&i| at[i] < 4 && !waiting[i]).collect();
        if ready.is_empty() {
            if at.iter().all(|&a| a == 4) {
                return Ok(schedule);
            }
            let stuck: Vec<String> = (0..3).filter(|&i| at[i] < 4).map(|i| format!("T{}", i + 1)).collect();
            return Err(format!("{} wait for x and nobody holds it or will release it", stuck.join(" and ")));
        }
        let i = ready[rng.below(ready.len() as u64) as usize];
        let t = i as Txn + 1;
        if at[i] == 3 {
            // Commit: release x; whoever is granted may go on.
            let grants = call_guarded(|| manager.release(t, 'x')).map_err(|p| format!("your release panicked: {p}"))?;
            for g in grants {
                if let Some(w) = waiting.get_mut(g.txn as usize - 1) {
                    *w = false;
                }
            }
            at[i] = 4;
            continue;
        }
        let answer =
            call_guarded(|| manager.request(t, 'x', want(at[i]))).map_err(|p| format!("your request panicked: {p}"))?;
        if answer == Answer::Waiting {
            waiting[i] = true;
            continue;
        }
        let (access, nx) = step(t, at[i], x, &mut read);
        x = nx;
        schedule.push(access);
        at[i] += 1;
    }
}

fn judge_transactions(make: Solution<'_>, seed: u64, runs: usize) -> Result<String, (String, String)> {
    let mut rng = SeededRng::new(seed, 0x7478_6e73);
    let mut seen = BTreeSet::new();
    for r in 0..runs {
        let case = format!("interleaving {} of seed {seed}", r + 1);
        let mut manager =
            call_guarded(make).map_err(|p| (format!("making your lock manager panicked: {p}"), case.clone()))?;
        let schedule = run_transactions(manager.as_mut(), &mut rng).map_err(|why| (why, case.clone()))?;
        let value = final_value(&schedule);
        let text: Vec<String> = schedule.iter().map(Access::to_string).collect();
        if let Some(cycle) = precedence_cycle(&schedule) {
            let cycle: Vec<String> = cycle.iter().map(|t| format!("T{t}")).collect();
            let value_note = if INCREMENTS.contains(&value) {
                format!("x happened to end at {value}, a value some serial order also gives")
            } else {
                format!("x ended at {value}, which no serial order gives (only 1, 2 or 3)")
            };
            return Err((
                format!(
                    "under your locks the transactions ran as {}: not serializable (its conflicts go {}); {value_note}",
                    text.join(" "),
                    cycle.join(" -> ")
                ),
                case,
            ));
        }
        seen.insert(value);
    }
    Ok(format!("{runs} interleavings, all serializable; x ended at {seen:?}"))
}

// ---------------------------------------------------------------------------
// The exercise.

pub const SPEC: ExerciseSpec = ExerciseSpec {
    id: "locks",
    title: "A read/write lock manager",
    notebook: 8,
    position: 1,
    points: 10,
    task: "Write a lock manager: a type that implements `LockManager`, and \
           `lock_manager()` that returns a fresh one.\n\n\
           - `request(txn, item, mode)` answers `Granted` or `Waiting`. Any number of transactions \
           may read an item together; a writer holds it alone. A transaction that reads an item may \
           ask to write it: grant the upgrade if it is the only reader, otherwise it waits, ahead of \
           everyone else waiting for that item (behind earlier upgrades). Asking again for what you \
           hold (or reading what you write) is granted at once.\n\
           - Be fair: a new request waits if others are already waiting for the item, even when it \
           would fit beside the holders.\n\
           - `release(txn, item)` drops `txn`'s lock on `item` and any request of it still waiting \
           there, then grants waiting requests from the front of the line for as long as they fit, \
           and returns those grants in order.\n\n\
           Checks: your answers are compared, call by call, with these rules on request sequences \
           generated for your seed; and the textbook's three transactions (`x = 0; x = x + k` for k \
           = 1, 2, 3) run under your locks with strict two-phase locking in random interleavings \
           must always end in a serializable schedule (x = 1, 2 or 3; never 4, 5 or 6).",
    scaffold: SCAFFOLD,
    solution: SOLUTION,
    check_fn: CHECK_FN,
    host_fn: HOST_FN,
    checks: &[
        CheckSpec { name: COMPATIBLE, weight: 3, visibility: Visibility::Public },
        CheckSpec { name: NO_NEEDLESS_WAIT, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: FAIR, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: SERIALIZABLE, weight: 2, visibility: Visibility::Public },
        CheckSpec { name: HIDDEN, weight: 1, visibility: Visibility::Hidden },
    ],
    check_remote: |connection, run| {
        let remote = RemoteLocks::new(&connection);
        check(&|| remote.make(), run)
    },
    variant: |seed| super::variant_json(variant(seed)),
};

/// The most lock managers a host keeps: the check uses one at a time, so
/// older ones are dropped rather than piling up.
const HOST_KEEPS: usize = 8;

/// Serves the student's lock managers to the grader (see `remote`).
pub fn host(solution: Solution<'_>) {
    crate::remote::serve_calls_stdio(&dispatch(solution))
}

/// The host's answer to one call. The host keeps the instances; the
/// grader names one by the number `new` gave it in every `request` and
/// `release`.
pub fn dispatch(solution: Solution<'_>) -> impl Fn(&str, serde_json::Value) -> crate::remote::Answer + '_ {
    let managers: std::cell::RefCell<BTreeMap<u64, Box<dyn LockManager>>> = Default::default();
    let next = std::cell::Cell::new(0u64);
    move |name, args| {
        let with = |id: u64, f: &mut dyn FnMut(&mut dyn LockManager) -> crate::remote::Answer| {
            let mut managers = managers.borrow_mut();
            let manager = managers.get_mut(&id).ok_or_else(|| format!("no lock manager {id}"))?;
            f(manager.as_mut())
        };
        match name {
            "new" => {
                let manager = solution();
                let id = next.get() + 1;
                next.set(id);
                let mut managers = managers.borrow_mut();
                managers.insert(id, manager);
                while managers.len() > HOST_KEEPS {
                    managers.pop_first();
                }
                crate::remote::answer(args, |()| id)
            }
            "request" => {
                let (id, txn, item, mode): (u64, Txn, Item, Mode) =
                    serde_json::from_value(args).map_err(|e| format!("bad arguments: {e}"))?;
                with(id, &mut |m| crate::remote::answer(serde_json::Value::Null, |()| m.request(txn, item, mode)))
            }
            "release" => {
                let (id, txn, item): (u64, Txn, Item) =
                    serde_json::from_value(args).map_err(|e| format!("bad arguments: {e}"))?;
                with(id, &mut |m| crate::remote::answer(serde_json::Value::Null, |()| m.release(txn, item)))
            }
            _ => Err(format!("no function {name}")),
        }
    }
}

type RemoteCall<A, R> = std::rc::Rc<dyn Fn(A) -> R>;

/// The grader's side of `host`: each `make` asks the host for a fresh
/// manager and returns a stand-in that forwards every call to it.
struct RemoteLocks {
    new: RemoteCall<(), u64>,
    request: RemoteCall<(u64, Txn, Item, Mode), Answer>,
    release: RemoteCall<(u64, Txn, Item), Vec<Grant>>,
}

impl RemoteLocks {
    fn new(connection: &std::rc::Rc<std::cell::RefCell<crate::remote::Connection>>) -> Self {
        use crate::remote::remote_fn;
        RemoteLocks {
            new: std::rc::Rc::new(remote_fn(connection, "new")),
            request: std::rc::Rc::new(remote_fn(connection, "request")),
            release: std::rc::Rc::new(remote_fn(connection, "release")),
        }
    }

    fn make(&self) -> Box<dyn LockManager> {
        Box::new(RemoteManager { id: (self.new)(()), request: self.request.clone(), release: self.release.clone() })
    }
}

struct RemoteManager {
    id: u64,
    request: RemoteCall<(u64, Txn, Item, Mode), Answer>,
    release: RemoteCall<(u64, Txn, Item), Vec<Grant>>,
}

impl LockManager for RemoteManager {
    fn request(&mut self, txn: Txn, item: Item, mode: Mode) -> Answer {
        (self.request)((self.id, txn, item, mode))
    }
    fn release(&mut self, txn: Txn, item: Item) -> Vec<Grant> {
        (self.release)((self.id, txn, item))
    }
}

/// A student's sequences: how many transactions and items, how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub txns: u32,
    pub items: usize,
    pub steps: usize,
    pub sequences: usize,
}

/// As a verdict's scenario names it, in words (not Rust's Debug output).
impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items = if self.items == 1 { "item" } else { "items" };
        write!(f, "{} transactions, {} {items}, {} calls per sequence", self.txns, self.items, self.steps)
    }
}

pub fn variant(seed: u64) -> Shape {
    let mut rng = SeededRng::new(seed, 0x6c6f_636b);
    Shape { txns: 3 + rng.below(2) as u32, items: 1 + rng.below(2) as usize, steps: 16, sequences: 60 }
}

fn sequences(seed: u64, shape: Shape, stream: u64) -> Vec<Vec<Call>> {
    let mut rng = SeededRng::new(seed, stream);
    let items: Vec<Item> = "xyz".chars().take(shape.items).collect();
    (0..shape.sequences).map(|_| generate(&mut rng, shape.txns, &items, shape.steps)).collect()
}

pub fn check(solution: Solution<'_>, run: &Run) -> Report {
    let seed = run.seed;
    let mut verdicts = Vec::new();
    if run.scope.runs_public() {
        verdicts.extend(public_verdicts(solution, seed));
    }
    if run.scope.runs_hidden() {
        verdicts.extend(hidden_verdicts(solution, seed));
    }
    Report { exercise: SPEC.id.into(), verdicts, diagram: None }
}

/// Public: the student's shape of sequences, and the three transactions.
fn public_verdicts(solution: Solution<'_>, seed: u64) -> Vec<crate::check::Verdict> {
    let shape = variant(seed);
    let mut first: BTreeMap<&'static str, (String, String)> = BTreeMap::new();
    let mut tested = Tested::default();
    for (k, calls) in sequences(seed, shape, 1).iter().enumerate() {
        if let Err(d) = replay_tested(solution, calls, &mut tested) {
            if !first.contains_key(d.check) {
                let (_, d) = shrink(solution, calls, d);
                first.insert(
                    d.check,
                    (d.message, format!("sequence {} of {} ({shape}), shortened", k + 1, shape.sequences)),
                );
            }
        }
    }
    let mut verdicts: Vec<_> = [COMPATIBLE, NO_NEEDLESS_WAIT, FAIR]
        .into_iter()
        .map(|name| match first.remove(name) {
            Some((message, case)) => numeric_verdict(name, false, message, case, seed, SPEC.id),
            None if tested.untested(name).is_some() => {
                let message = tested.untested(name).unwrap_or_default();
                numeric_verdict(name, false, message, format!("{shape}"), seed, SPEC.id)
            }
            None => numeric_verdict(
                name,
                true,
                format!("{} sequences, every answer by the rules", shape.sequences),
                format!("{shape}"),
                seed,
                SPEC.id,
            ),
        })
        .collect();
    verdicts.push(match judge_transactions(solution, seed, 40) {
        Ok(msg) => numeric_verdict(SERIALIZABLE, true, msg, "three transactions".into(), seed, SPEC.id),
        Err((msg, case)) => numeric_verdict(SERIALIZABLE, false, msg, case, seed, SPEC.id),
    });
    verdicts
}

super::hidden! {
    /// Hidden: more transactions, three items, longer sequences; one verdict.
    fn hidden_verdicts(solution: Solution<'_>, seed: u64) -> Vec<crate::check::Verdict> {
        let shape = Shape { txns: 5, items: 3, steps: 40, sequences: 40 };
        let bad = sequences(seed, shape, 2)
            .iter()
            .enumerate()
            .find_map(|(k, calls)| replay(solution, calls).err().map(|d| (k, d)));
        vec![match bad {
            Some((k, d)) => numeric_verdict(
                HIDDEN,
                false,
                format!("{}: {}", d.check, d.message),
                format!("hidden sequence {}", k + 1),
                seed,
                SPEC.id,
            ),
            None => numeric_verdict(HIDDEN, true, "every answer by the rules".into(), format!("{shape}"), seed, SPEC.id),
        }]
    }
}

// The exercise's one source: the notebook's solution cell between the CELL
// lines, solution regions marked. It compiles as `reference` (feature
// `reference`); build.rs derives the scaffold from it; generate.py copies it
// into the notebook.
super::exercise_source! {
    id: "locks",
    solution: Solution<'static> = &lock_manager,
    cell: {
        // BEGIN CELL
        use std::collections::{BTreeMap, VecDeque};

        use distlab::catalogue::locks::{Answer, Grant, Item, LockManager, Mode, Txn};

        #[derive(Default)]
        struct Locks {
            // BEGIN SOLUTION
            /// item -> who holds it, and how.
            holders: BTreeMap<Item, BTreeMap<Txn, Mode>>,
            /// item -> requests waiting for it, first in line first.
            queues: BTreeMap<Item, VecDeque<(Txn, Mode)>>,
            // END SOLUTION
            // BEGIN STARTER
            // END STARTER
        }

        // BEGIN SOLUTION
        impl Locks {
            fn held(&self, txn: Txn, item: Item) -> Option<Mode> {
                self.holders.get(&item)?.get(&txn).copied()
            }

            /// Would `txn` holding `item` in `mode` clash with anybody else's lock?
            fn fits(&self, txn: Txn, item: Item, mode: Mode) -> bool {
                let mut others = self.holders.get(&item).into_iter().flatten().filter(|(t, _)| **t != txn);
                match mode {
                    Mode::Read => others.all(|(_, m)| *m == Mode::Read),
                    Mode::Write => others.next().is_none(),
                }
            }

            /// A write request from a transaction that reads the item already.
            fn is_upgrade(&self, txn: Txn, item: Item, mode: Mode) -> bool {
                mode == Mode::Write && self.held(txn, item) == Some(Mode::Read)
            }
        }
        // END SOLUTION
        // BEGIN STARTER
        // END STARTER

        impl LockManager for Locks {
            fn request(&mut self, txn: Txn, item: Item, mode: Mode) -> Answer {
                // BEGIN SOLUTION
                // Read < Write, so a held write lock covers a read as well.
                if self.held(txn, item).is_some_and(|held| held >= mode) {
                    return Answer::Granted;
                }
                let upgrade = self.is_upgrade(txn, item, mode);
                let nobody_waits = self.queues.get(&item).is_none_or(|q| q.is_empty());
                // A newcomer never overtakes the line; an upgrader already holds the item.
                if (upgrade || nobody_waits) && self.fits(txn, item, mode) {
                    self.holders.entry(item).or_default().insert(txn, mode);
                    return Answer::Granted;
                }
                let at = if upgrade {
                    // Behind the upgrades already waiting, ahead of everyone else.
                    let queue = &self.queues.get(&item);
                    queue.map_or(0, |q| q.iter().take_while(|(t, m)| self.is_upgrade(*t, item, *m)).count())
                } else {
                    self.queues.get(&item).map_or(0, |q| q.len())
                };
                self.queues.entry(item).or_default().insert(at, (txn, mode));
                Answer::Waiting
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (txn, item, mode);
                // Answer::Granted
                // END STARTER
            }

            fn release(&mut self, txn: Txn, item: Item) -> Vec<Grant> {
                // BEGIN SOLUTION
                if let Some(holders) = self.holders.get_mut(&item) {
                    holders.remove(&txn);
                }
                let mut queue = self.queues.remove(&item).unwrap_or_default();
                queue.retain(|(t, _)| *t != txn);
                let mut grants = Vec::new();
                // Grant from the front for as long as the requests fit; the first that
                // does not fit stops the line (no overtaking).
                while let Some(&(t, mode)) = queue.front() {
                    if !self.fits(t, item, mode) {
                        break;
                    }
                    queue.pop_front();
                    self.holders.entry(item).or_default().insert(t, mode);
                    grants.push(Grant { txn: t, item, mode });
                }
                self.queues.insert(item, queue);
                grants
                // END SOLUTION
                // BEGIN STARTER
                // let _ = (txn, item);
                // Vec::new()
                // END STARTER
            }
        }

        fn lock_manager() -> Box<dyn LockManager> {
            Box::new(Locks::default())
        }
        // END CELL
    }
}
