//! The router's placement of requests: each object goes to the terminal weighted rendezvous hashing
//! picks among those in rotation ([`CandidateSet`]), computed when first asked and again once the
//! weights change.

use crate::schedule::{self, Candidate, CandidateSet, Region};

use super::object_key;

/// Owner cache entries: not computed yet, and no terminal in rotation.
const UNKNOWN: u32 = u32::MAX;
const NOBODY: u32 = u32::MAX - 1;

pub(crate) struct Routing {
    /// The site name the objects' scheduling keys are under.
    site: &'static str,
    region: Region,
    /// The candidate set and the weights it was built with.
    candidates: Option<(CandidateSet, Vec<u32>)>,
    /// Each object's terminal under it.
    owners: Vec<u32>,
}

impl Routing {
    pub fn new(site: &'static str, objects: u64) -> Self {
        Routing {
            site,
            region: Region::new("sim").expect("a valid region name"),
            candidates: None,
            owners: vec![UNKNOWN; objects as usize],
        }
    }

    /// Places requests on `terminals` (node id, weight; 0 is out of rotation) from now on; nothing
    /// changes when the weights are those of the last call.
    pub fn route(&mut self, terminals: impl Iterator<Item = ([u8; 32], u32)>) {
        let terminals: Vec<([u8; 32], u32)> = terminals.collect();
        let weights: Vec<u32> = terminals.iter().map(|(_, w)| *w).collect();
        if self.candidates.as_ref().is_some_and(|(_, w)| *w == weights) {
            return;
        }
        let set = CandidateSet::new(
            terminals
                .into_iter()
                .map(|(id, weight)| Candidate {
                    id,
                    region: self.region.clone(),
                    weight,
                    load: 0,
                })
                .collect(),
        );
        self.candidates = Some((set, weights));
        self.owners.fill(UNKNOWN);
    }

    /// The terminal a request for `object` goes to; None when none is in rotation (or before the first
    /// [`route`](Self::route)).
    pub fn owner(&mut self, object: u32) -> Option<usize> {
        let cached = self.owners[object as usize];
        let owner = if cached == UNKNOWN {
            let (set, _) = self.candidates.as_ref()?;
            let key = schedule::schedule_key(self.site, &object_key(object));
            let owner = set
                .choose(&key, 1, f64::INFINITY)
                .first()
                .map_or(NOBODY, |&i| i as u32);
            self.owners[object as usize] = owner;
            owner
        } else {
            cached
        };
        (owner != NOBODY).then_some(owner as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_spread_over_terminals_in_rotation_only() {
        let mut r = Routing::new("t", 3_000);
        assert_eq!(r.owner(0), None, "nothing routed yet");
        let ids: Vec<[u8; 32]> = (0..3u8).map(|i| [i; 32]).collect();
        r.route(ids.iter().map(|id| (*id, 1)));
        let mut counts = [0u32; 3];
        for o in 0..3_000 {
            counts[r.owner(o).unwrap()] += 1;
        }
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
        let before: Vec<usize> = (0..3_000).map(|o| r.owner(o).unwrap()).collect();
        r.route(ids.iter().zip([1, 0, 1]).map(|(id, w)| (*id, w)));
        for (o, was) in before.into_iter().enumerate() {
            let now = r.owner(o as u32).unwrap();
            assert_ne!(now, 1);
            // Rendezvous hashing moves only the objects of the terminal that left.
            if was != 1 {
                assert_eq!(now, was);
            }
        }
        r.route(ids.iter().map(|id| (*id, 0)));
        assert_eq!(r.owner(5), None);
    }
}
