//! What one terminal should hold, as the auditor draws from it: the objects it was sent clients for
//! (routed) and the pieces of content it reports holding (claimed, from its heartbeats).
//!
//! Memory is bounded whatever a terminal holds: each list is a uniform random sample of at most
//! [`SAMPLE`] entries of everything reported to it (reservoir sampling, Vitter's algorithm R), so 10⁶
//! objects on a terminal cost the router [`SAMPLE`] entries, and every object is as likely to be audited.
//! A piece the terminal reports evicted leaves its sample.
//!
//! The router keeps one [`TerminalHoldings`] per terminal; the audit simulator
//! ([`crate::auditsim`]) draws from the same samples with a seeded generator.

use rand::Rng;

use crate::content::Root;

/// Entries kept per terminal and list.
pub const SAMPLE: usize = 256;

/// A piece of content a terminal says it holds: the object (its ticket digest), the piece's root and
/// length (a whole object or one slice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub object: [u8; 16],
    pub root: Root,
    pub len: u64,
}

/// What the auditor challenges a terminal on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A piece the terminal reported holding: not producing it is a failure.
    Claimed(Claimed),
    /// An object it was sent clients for; it may never have stored it (uncacheable, evicted unreported).
    Routed([u8; 16]),
}

impl Target {
    pub fn object(&self) -> [u8; 16] {
        match self {
            Target::Claimed(c) => c.object,
            Target::Routed(o) => *o,
        }
    }
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
    fn offer<R: Rng + ?Sized>(&mut self, item: T, rng: &mut R) {
        if self.items.contains(&item) {
            return;
        }
        self.seen += 1;
        if self.items.len() < SAMPLE {
            self.items.push(item);
            return;
        }
        let at = rng.random_range(0..self.seen);
        if let Some(slot) = self.items.get_mut(at as usize) {
            *slot = item;
        }
    }

    fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<&T> {
        if self.items.is_empty() {
            return None;
        }
        self.items.get(rng.random_range(0..self.items.len()))
    }
}

/// One terminal's samples.
#[derive(Debug, Default)]
pub struct TerminalHoldings {
    routed: Reservoir<[u8; 16]>,
    claimed: Reservoir<Claimed>,
}

impl TerminalHoldings {
    /// Clients were sent to the terminal for `object`.
    pub fn routed<R: Rng + ?Sized>(&mut self, object: [u8; 16], rng: &mut R) {
        self.routed.offer(object, rng);
    }

    /// The terminal reports holding `added` and no longer holding the pieces with roots `evicted`.
    pub fn report<R: Rng + ?Sized>(
        &mut self,
        added: impl IntoIterator<Item = Claimed>,
        evicted: &[Root],
        rng: &mut R,
    ) {
        if !evicted.is_empty() {
            self.claimed.items.retain(|c| !evicted.contains(&c.root));
        }
        for c in added {
            self.claimed.offer(c, rng);
        }
    }

    /// A target drawn at random: a claimed piece or a routed object, each list with even odds when both
    /// have entries.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Target> {
        let claimed = self.claimed.pick(rng).copied().map(Target::Claimed);
        let routed = self.routed.pick(rng).copied().map(Target::Routed);
        match (claimed, routed) {
            (Some(c), Some(r)) => Some(if rng.random_bool(0.5) { c } else { r }),
            (c, r) => c.or(r),
        }
    }

    /// The claimed pieces in the sample.
    pub fn claimed(&self) -> &[Claimed] {
        &self.claimed.items
    }

    /// Whether the terminal still claims the piece with `root` (it has not reported it evicted).
    pub fn claims(&self, root: &Root) -> bool {
        self.claimed.items.iter().any(|c| c.root == *root)
    }

    /// How many entries the samples hold (routed, claimed).
    pub fn sizes(&self) -> (usize, usize) {
        (self.routed.items.len(), self.claimed.items.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn a_reservoir_keeps_late_items_as_likely_as_early_ones() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut kept_late = 0;
        for _ in 0..200 {
            let mut r = Reservoir::default();
            for i in 0..(2 * SAMPLE as u32) {
                r.offer(i, &mut rng);
            }
            kept_late += r.items.iter().filter(|&&i| i >= SAMPLE as u32).count();
        }
        // Half the stream is late, so about half the sample should be: far from none or all.
        let share = kept_late as f64 / (200 * SAMPLE) as f64;
        assert!((0.4..0.6).contains(&share), "{share}");
    }

    #[test]
    fn both_lists_are_drawn_and_an_empty_one_is_skipped() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut h = TerminalHoldings::default();
        assert_eq!(h.pick(&mut rng), None);
        h.routed([1; 16], &mut rng);
        assert_eq!(h.pick(&mut rng), Some(Target::Routed([1; 16])));
        let c = Claimed {
            object: [2; 16],
            root: Root([3; 32]),
            len: 10,
        };
        h.report([c], &[], &mut rng);
        let claimed = (0..1000)
            .filter(|_| matches!(h.pick(&mut rng), Some(Target::Claimed(_))))
            .count();
        assert!((400..600).contains(&claimed), "{claimed}");
        h.report([], &[c.root], &mut rng);
        assert!(!h.claims(&c.root));
        assert_eq!(h.sizes(), (1, 0));
    }
}
