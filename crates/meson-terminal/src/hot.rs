//! Hot small bodies kept in memory, so a hit on a small popular object costs no file open and read.
//!
//! Entries are keyed by BLAKE3 root, so one can never be stale: a replaced slice has another root, and
//! a purged or evicted one is no longer in the index, which is always consulted first. The byte budget
//! is kept by the same frequency-aware policy as the disk.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use meson_core::content::Root;
use meson_core::eviction::{new_policy, EvictionPolicy, ObjectKey, PolicyKind};

/// Only slices at most this large are kept: larger ones are streamed from the page cache anyway.
pub const MAX_HOT_BODY: u64 = 64 * 1024;

pub struct HotBodies {
    inner: Mutex<Inner>,
}

struct Inner {
    policy: Box<dyn EvictionPolicy>,
    bodies: HashMap<ObjectKey, (Root, Bytes)>,
}

fn key(root: &Root) -> ObjectKey {
    let mut k = [0u8; 8];
    k.copy_from_slice(&root.as_bytes()[..8]);
    u64::from_le_bytes(k)
}

impl HotBodies {
    pub fn new(budget: u64) -> Self {
        HotBodies {
            inner: Mutex::new(Inner {
                policy: new_policy(PolicyKind::DEFAULT, budget),
                bodies: HashMap::new(),
            }),
        }
    }

    /// The body with this root, if it is held; counts as an access either way.
    pub fn get(&self, root: &Root) -> Option<Bytes> {
        let mut inner = self.inner.lock().expect("hot lock");
        let k = key(root);
        inner.policy.access(k);
        match inner.bodies.get(&k) {
            Some((r, b)) if r == root => Some(b.clone()),
            _ => None,
        }
    }

    /// Offers a verified body read from disk; the policy decides whether it stays.
    pub fn offer(&self, root: Root, body: Bytes) {
        if body.len() as u64 > MAX_HOT_BODY {
            return;
        }
        let mut inner = self.inner.lock().expect("hot lock");
        if inner.policy.capacity() == 0 {
            return;
        }
        let k = key(&root);
        let admission = inner.policy.insert(k, body.len().max(1) as u64);
        for (victim, _) in admission.evicted {
            inner.bodies.remove(&victim);
        }
        if admission.admitted {
            inner.bodies.insert(k, (root, body));
        } else {
            inner.bodies.remove(&k);
        }
    }

    pub fn used_bytes(&self) -> u64 {
        self.inner.lock().expect("hot lock").policy.used_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(b: &[u8]) -> Root {
        Root(*blake3::hash(b).as_bytes())
    }

    #[test]
    fn holds_what_fits_and_only_by_exact_root() {
        let hot = HotBodies::new(10_000);
        let a = Bytes::from(vec![1u8; 4000]);
        hot.offer(root(&a), a.clone());
        assert_eq!(hot.get(&root(&a)), Some(a.clone()));
        assert_eq!(hot.get(&root(b"other")), None);
        for i in 0..20u8 {
            let b = Bytes::from(vec![i; 3000]);
            hot.offer(root(&b), b);
        }
        assert!(hot.used_bytes() <= 10_000);
        let big = Bytes::from(vec![7u8; MAX_HOT_BODY as usize + 1]);
        hot.offer(root(&big), big.clone());
        assert_eq!(hot.get(&root(&big)), None, "large bodies stream from disk");
    }

    #[test]
    fn a_zero_budget_holds_nothing() {
        let hot = HotBodies::new(0);
        let a = Bytes::from_static(b"abc");
        hot.offer(root(&a), a.clone());
        assert_eq!(hot.get(&root(&a)), None);
    }
}
