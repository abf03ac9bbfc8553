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
