//! What each terminal should hold, as the auditor draws from it: the objects it was sent clients for
//! (routed) and the pieces of content it reports holding (claimed, from its heartbeats), per terminal.
//!
//! Memory is bounded whatever a terminal holds: each list is a uniform random sample of at most
//! [`SAMPLE`] entries of everything reported to it (reservoir sampling, Vitter's algorithm R), so 10⁶
//! objects on a terminal cost the router [`SAMPLE`] entries, and every object is as likely to be audited.
//! A piece the terminal reports evicted leaves its sample.

use std::collections::HashMap;
use std::sync::Mutex;

use meson_core::content::Root;
use meson_core::wire::HeldPiece;
use rand::Rng;

/// Entries kept per terminal and list.
pub(crate) const SAMPLE: usize = 256;

/// A piece of content a terminal says it holds: the object (its ticket digest), the piece's root and
/// length (a whole object or one slice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Claimed {
    pub object: [u8; 16],
    pub root: Root,
    pub len: u64,
}

/// A bounded uniform sample of a stream.
#[derive(Debug)]
struct Reservoir<T> {
    items: Vec<T>,
    seen: u64,
}

impl<T> Default for Reservoir<T> {
    fn default() -> Self {
        Reservoir {
            items: Vec::new(),
            seen: 0,
        }
    }
}

impl<T: PartialEq> Reservoir<T> {
    fn offer(&mut self, item: T) {
        if self.items.contains(&item) {
            return;
        }
        self.seen += 1;
        if self.items.len() < SAMPLE {
            self.items.push(item);
            return;
        }
        let at = rand::rng().random_range(0..self.seen);
        if let Some(slot) = self.items.get_mut(at as usize) {
            *slot = item;
        }
    }

    fn pick(&self) -> Option<&T> {
        if self.items.is_empty() {
            return None;
        }
        self.items
            .get(rand::rng().random_range(0..self.items.len()))
    }
}

#[derive(Debug, Default)]
struct Terminal {
    routed: Reservoir<[u8; 16]>,
    claimed: Reservoir<Claimed>,
}

/// What the auditor challenges a terminal on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A piece the terminal reported holding: not producing it is a failure.
    Claimed(Claimed),
    /// An object it was sent clients for; it may never have stored it (uncacheable, evicted unreported).
    Routed([u8; 16]),
}

#[derive(Default)]
pub(crate) struct Holdings(Mutex<HashMap<[u8; 32], Terminal>>);

impl Holdings {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Terminal>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Clients were sent to `terminal` for `object`.
    pub fn routed(&self, terminal: [u8; 32], object: [u8; 16]) {
        self.lock()
            .entry(terminal)
            .or_default()
            .routed
            .offer(object);
    }

    /// `terminal` reports holding `added` and no longer holding the pieces with roots `evicted`. Pieces
    /// whose object is not 32 hex digits are ignored.
    pub fn report(&self, terminal: [u8; 32], added: &[HeldPiece], evicted: &[Root]) {
        if added.is_empty() && evicted.is_empty() {
            return;
        }
        let mut all = self.lock();
        let t = all.entry(terminal).or_default();
        t.claimed.items.retain(|c| !evicted.contains(&c.root));
        for p in added {
            let mut object = [0u8; 16];
            if hex::decode_to_slice(&p.object, &mut object).is_ok() {
                t.claimed.offer(Claimed {
                    object,
                    root: p.root,
                    len: p.len,
                });
            }
        }
    }

    /// A target drawn at random: a claimed piece or a routed object, each list with even odds when both
    /// have entries.
    pub fn pick(&self, terminal: &[u8; 32]) -> Option<Target> {
        let all = self.lock();
        let t = all.get(terminal)?;
        let claimed = t.claimed.pick().copied().map(Target::Claimed);
        let routed = t.routed.pick().copied().map(Target::Routed);
        match (claimed, routed) {
            (Some(c), Some(r)) => Some(if rand::rng().random_bool(0.5) { c } else { r }),
            (c, r) => c.or(r),
        }
    }

    #[cfg(test)]
    fn pick_claimed(&self, terminal: &[u8; 32]) -> Option<Claimed> {
        self.lock().get(terminal)?.claimed.pick().copied()
    }

    /// Whether `terminal` still claims the piece with `root` (it has not reported it evicted).
    pub fn claims(&self, terminal: &[u8; 32], root: &Root) -> bool {
        self.lock()
            .get(terminal)
            .is_some_and(|t| t.claimed.items.iter().any(|c| c.root == *root))
    }

    /// How many entries the sample of `terminal` holds (routed, claimed).
    pub fn sizes(&self, terminal: &[u8; 32]) -> (usize, usize) {
        self.lock()
            .get(terminal)
            .map_or((0, 0), |t| (t.routed.items.len(), t.claimed.items.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_stay_bounded_and_evictions_leave_them() {
        let h = Holdings::default();
        let t = [1; 32];
        for i in 0..10_000u32 {
            let mut object = [0; 16];
            object[..4].copy_from_slice(&i.to_le_bytes());
            h.routed(t, object);
        }
        assert_eq!(h.sizes(&t), (SAMPLE, 0));
        let c = HeldPiece {
            object: "02".repeat(16),
            root: Root([3; 32]),
            len: 10,
            version: None,
        };
        h.report(t, &[c.clone(), c.clone()], &[]);
        assert_eq!(h.sizes(&t).1, 1);
        assert_eq!(
            h.pick_claimed(&t),
            Some(Claimed {
                object: [2; 16],
                root: Root([3; 32]),
                len: 10
            })
        );
        h.report(t, &[], &[c.root]);
        assert_eq!(h.sizes(&t).1, 0);
        assert!(matches!(h.pick(&t), Some(Target::Routed(_))));
        assert_eq!(h.pick(&[9; 32]), None);
    }

    #[test]
    fn a_reservoir_keeps_late_items_as_likely_as_early_ones() {
        let mut kept_late = 0;
        for _ in 0..200 {
            let mut r = Reservoir::default();
            for i in 0..(2 * SAMPLE as u32) {
                r.offer(i);
            }
            kept_late += r.items.iter().filter(|&&i| i >= SAMPLE as u32).count();
        }
        // Half the stream is late, so about half the sample should be: far from none or all.
        let share = kept_late as f64 / (200 * SAMPLE) as f64;
        assert!((0.4..0.6).contains(&share), "{share}");
    }
}
