//! W-TinyLFU (Einziger, Friedman, Manes: "TinyLFU: A Highly Efficient Cache Admission Policy", 2017), as
//! Caffeine runs it, measured in bytes.
//!
//! New objects enter a small LRU window (1% of the budget) so a burst of requests to something new can hit.
//! An object pushed out of the window is a candidate for the main area, a segmented LRU (probation 20%,
//! protected 80%; a request while on probation earns protection). The candidate gets in only if the
//! frequency sketch says it was requested more often than every object that would have to leave to make
//! room for it; otherwise it is the one that leaves. Caffeine compares a weighted candidate with victims one
//! at a time and may evict some before losing to the next; here the decision is taken against all the
//! victims it needs first, so a losing candidate costs main nothing.
//!
//! Left out on purpose: Caffeine's hill climber that resizes the window, its doorkeeper, and its random
//! admission of warm candidates (a defence against keys crafted to collide in the sketch), which would make
//! replays non-deterministic.

use super::lists::{Entry, Lists};
use super::sketch::FrequencySketch;
use super::{Admission, EvictionPolicy, ObjectKey};

const WINDOW: usize = 0;
const PROBATION: usize = 1;
const PROTECTED: usize = 2;

const WINDOW_PERCENT: u64 = 1;
const PROTECTED_PERCENT_OF_MAIN: u64 = 80;

/// W-TinyLFU over a byte budget.
#[derive(Debug)]
pub struct WTinyLfu {
    lists: Lists<3>,
    // The sketch is sized by objects while the budget is in bytes, so it starts small and grows with the
    // number of resident objects (losing its counts when it does, as Caffeine's does).
    sketch: FrequencySketch,
    capacity: u64,
    window_capacity: u64,
    protected_capacity: u64,
}

fn percent(value: u64, pct: u64) -> u64 {
    (u128::from(value) * u128::from(pct) / 100) as u64
}

impl WTinyLfu {
    pub fn new(capacity: u64) -> Self {
        let mut p = WTinyLfu {
            lists: Lists::new(),
            sketch: FrequencySketch::with_capacity(0),
            capacity,
            window_capacity: 0,
            protected_capacity: 0,
        };
        p.set_shares();
        p
    }

    fn set_shares(&mut self) {
        self.window_capacity = percent(self.capacity, WINDOW_PERCENT);
        self.protected_capacity = percent(
            self.capacity - self.window_capacity,
            PROTECTED_PERCENT_OF_MAIN,
        );
    }

    fn used(&self) -> u64 {
        self.lists.bytes(WINDOW) + self.lists.bytes(PROBATION) + self.lists.bytes(PROTECTED)
    }

    fn promote(&mut self, e: Entry) {
        if e.size <= self.protected_capacity {
            self.lists.move_to_front(e.key, PROTECTED);
            self.demote_protected_overflow();
        } else {
            self.lists.move_to_front(e.key, PROBATION);
        }
    }

    fn demote_protected_overflow(&mut self) {
        while self.lists.bytes(PROTECTED) > self.protected_capacity {
            let Some(e) = self.lists.back(PROTECTED).copied() else {
                break;
            };
            self.lists.move_to_front(e.key, PROBATION);
        }
    }

    /// Moves the window's overflow, oldest first, through admission into main.
    fn drain_window(&mut self, evicted: &mut Vec<(ObjectKey, u64)>) {
        while self.lists.bytes(WINDOW) > self.window_capacity {
            let Some(candidate) = self.lists.pop_back(WINDOW) else {
                break;
            };
            self.admit_to_main(candidate, evicted);
        }
        // Only a shrunken budget can leave the whole still over it.
        self.evict_until_fits(0, evicted);
    }

    fn admit_to_main(&mut self, candidate: Entry, evicted: &mut Vec<(ObjectKey, u64)>) {
        let need = (self.used() + candidate.size).saturating_sub(self.capacity);
        if need > 0 {
            let candidate_freq = self.sketch.frequency(candidate.key);
            let (mut freed, mut victims) = (0, 0);
            for v in self
                .lists
                .iter_from_back(PROBATION)
                .chain(self.lists.iter_from_back(PROTECTED))
            {
                if freed >= need || self.sketch.frequency(v.key) >= candidate_freq {
                    break;
                }
                freed += v.size;
                victims += 1;
            }
            if freed < need {
                evicted.push((candidate.key, candidate.size));
                return;
            }
            for _ in 0..victims {
                let v = self
                    .lists
                    .pop_back(PROBATION)
                    .or_else(|| self.lists.pop_back(PROTECTED))
                    .expect("victims were counted in these lists");
                evicted.push((v.key, v.size));
            }
        }
        self.lists
            .push_front(PROBATION, candidate.key, candidate.size, 0);
    }

    /// Evicts without admission, least valuable first, until `incoming` more bytes fit.
    fn evict_until_fits(&mut self, incoming: u64, evicted: &mut Vec<(ObjectKey, u64)>) {
        while self.used() + incoming > self.capacity {
            let Some(e) = [PROBATION, PROTECTED, WINDOW]
                .into_iter()
                .find_map(|list| self.lists.pop_back(list))
            else {
                break;
            };
            evicted.push((e.key, e.size));
        }
    }
}

impl EvictionPolicy for WTinyLfu {
    fn name(&self) -> &'static str {
        "wtinylfu"
    }

    fn access(&mut self, key: ObjectKey) -> bool {
        self.sketch.increment(key);
        let Some(e) = self.lists.get(key).copied() else {
            return false;
        };
        match e.list {
            PROBATION => self.promote(e),
            list => self.lists.move_to_front(key, list),
        }
        true
    }

    fn insert(&mut self, key: ObjectKey, size: u64) -> Admission {
        let prior = self.lists.remove(key);
        if size > self.capacity {
            return Admission::default();
        }
        let mut evicted = Vec::new();
        match prior.map(|e| e.list) {
            // A resized object already in main keeps the segment its frequency earned.
            Some(list @ (PROBATION | PROTECTED)) => {
                self.evict_until_fits(size, &mut evicted);
                let list = if list == PROTECTED && size <= self.protected_capacity {
                    PROTECTED
                } else {
                    PROBATION
                };
                self.lists.push_front(list, key, size, 0);
                self.demote_protected_overflow();
            }
            _ => {
                self.lists.push_front(WINDOW, key, size, 0);
                self.drain_window(&mut evicted);
            }
        }
        let resident = self.len();
        if resident > self.sketch.capacity() {
            self.sketch = FrequencySketch::with_capacity(resident);
        }
        let admitted = self.lists.get(key).is_some();
        evicted.retain(|&(k, _)| k != key);
        Admission { admitted, evicted }
    }

    fn remove(&mut self, key: ObjectKey) -> Option<u64> {
        self.lists.remove(key).map(|e| e.size)
    }

    fn resident_size(&self, key: ObjectKey) -> Option<u64> {
        self.lists.get(key).map(|e| e.size)
    }

    fn used_bytes(&self) -> u64 {
        self.used()
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn set_capacity(&mut self, capacity: u64) -> Vec<(ObjectKey, u64)> {
        self.capacity = capacity;
        self.set_shares();
        self.demote_protected_overflow();
        let mut evicted = Vec::new();
        self.drain_window(&mut evicted);
        evicted
    }

    fn len(&self) -> usize {
        self.lists.len(WINDOW) + self.lists.len(PROBATION) + self.lists.len(PROTECTED)
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        self.lists.check();
        assert!(self.lists.bytes(WINDOW) <= self.window_capacity);
        assert!(self.lists.bytes(PROTECTED) <= self.protected_capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequent_candidate_displaces_rare_victims() {
        let mut p = WTinyLfu::new(1000);
        for k in 0..10 {
            p.access(k);
            p.insert(k, 100);
        }
        assert_eq!(p.used_bytes(), 1000);
        // A newcomer requested once loses to residents requested as often.
        p.access(50);
        let a = p.insert(50, 100);
        assert!(!a.admitted && a.evicted.is_empty());
        // Requested often enough, a large newcomer displaces the two oldest probationers.
        for _ in 0..3 {
            p.access(60);
        }
        let a = p.insert(60, 200);
        assert!(a.admitted);
        assert_eq!(a.evicted, vec![(0, 100), (1, 100)]);
        // A protected object survives newcomers that beat the probationers.
        p.access(5);
        for k in 70..80 {
            for _ in 0..3 {
                p.access(k);
            }
            p.insert(k, 100);
        }
        assert!(p.contains(5));
    }
}
