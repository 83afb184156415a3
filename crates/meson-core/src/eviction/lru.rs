//! Least recently used: the reference policy every other one is measured against.

use super::lists::Lists;
use super::{Admission, EvictionPolicy, ObjectKey};

const ONLY: usize = 0;

/// Evicts the object whose last request is oldest. O(1) per operation.
#[derive(Debug)]
pub struct Lru {
    lists: Lists<1>,
    capacity: u64,
}

impl Lru {
    pub fn new(capacity: u64) -> Self {
        Lru {
            lists: Lists::new(),
            capacity,
        }
    }

    fn evict_until_fits(&mut self, incoming: u64, evicted: &mut Vec<(ObjectKey, u64)>) {
        while self.lists.bytes(ONLY) + incoming > self.capacity {
            let Some(e) = self.lists.pop_back(ONLY) else {
                break;
            };
            evicted.push((e.key, e.size));
        }
    }
}

impl EvictionPolicy for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }

    fn access(&mut self, key: ObjectKey) -> bool {
        let hit = self.lists.get(key).is_some();
        if hit {
            self.lists.move_to_front(key, ONLY);
        }
        hit
    }

    fn insert(&mut self, key: ObjectKey, size: u64) -> Admission {
        // A resized object is a new version: it leaves with its old size and re-enters as most recent.
        self.lists.remove(key);
        if size > self.capacity {
            return Admission::default();
        }
        let mut evicted = Vec::new();
        self.evict_until_fits(size, &mut evicted);
        self.lists.push_front(ONLY, key, size, 0);
        Admission {
            admitted: true,
            evicted,
        }
    }

    fn remove(&mut self, key: ObjectKey) -> Option<u64> {
        self.lists.remove(key).map(|e| e.size)
    }

    fn resident_size(&self, key: ObjectKey) -> Option<u64> {
        self.lists.get(key).map(|e| e.size)
    }

    fn used_bytes(&self) -> u64 {
        self.lists.bytes(ONLY)
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn set_capacity(&mut self, capacity: u64) -> Vec<(ObjectKey, u64)> {
        self.capacity = capacity;
        let mut evicted = Vec::new();
        self.evict_until_fits(0, &mut evicted);
        evicted
    }

    fn len(&self) -> usize {
        self.lists.len(ONLY)
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        self.lists.check();
    }
}
