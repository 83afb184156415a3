//! Council elections. Terms are those of [`crate::council`] (term `n` runs `[n·len, (n+1)·len)`), and the
//! election for term `t` runs through term `t − 1`: it opens at `(t − 1)·len`, when the voting power of
//! every key is snapshotted ([`snapshot`], its digest logged), and closes when term `t` begins.
//!
//! Token holders vote by approval: a ballot names up to `seats` candidates, and each candidate named
//! receives the voter's whole snapshotted power ([`tally`]). Power is what a key held when the election
//! opened, so tokens moved during the election (to a second key, say) do not vote twice. The candidates
//! with the most power take the seats, skipping any that did not lock its council stake for the term
//! ([`seat`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::accounts::{stake_account, wallet_account};
use crate::{Amount, Ledger};

/// How many sit on the council, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectionRules {
    pub seats: u32,
    /// Seconds per term (positive), as in [`crate::council::CouncilRules::term_secs`].
    pub term_secs: u64,
}

/// Why a ballot is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElectionError {
    #[error("the election for term {term} is not open; the open one is for term {open}")]
    NotOpen { term: u64, open: u64 },
    #[error("a ballot names at least one candidate")]
    NoCandidate,
    #[error("a ballot names at most {seats} candidates, one per seat")]
    TooManyCandidates { seats: u32 },
    #[error("candidate {candidate} is named twice")]
    DuplicateCandidate { candidate: String },
}

impl ElectionRules {
    /// The term whose election runs at `now`: the next one.
    pub fn open_for(&self, now: u64) -> u64 {
        (now / self.term_secs).saturating_add(1)
    }

    /// When the election for `term` opens: when the term before it begins.
    pub fn opens_at(&self, term: u64) -> u64 {
        term.saturating_sub(1).saturating_mul(self.term_secs)
    }

    /// When the election for `term` closes: when the term begins.
    pub fn closes_at(&self, term: u64) -> u64 {
        term.saturating_mul(self.term_secs)
    }

    /// Checks a ballot for `term` cast at `now`: for the open election, naming 1 to `seats` distinct
    /// candidates.
    pub fn check_ballot(
        &self,
        term: u64,
        candidates: &[[u8; 32]],
        now: u64,
    ) -> Result<(), ElectionError> {
        let open = self.open_for(now);
        if term != open {
            return Err(ElectionError::NotOpen { term, open });
        }
        if candidates.is_empty() {
            return Err(ElectionError::NoCandidate);
        }
        if candidates.len() > self.seats as usize {
            return Err(ElectionError::TooManyCandidates { seats: self.seats });
        }
        let mut seen = BTreeSet::new();
        match candidates.iter().find(|c| !seen.insert(*c)) {
            Some(c) => Err(ElectionError::DuplicateCandidate {
                candidate: hex::encode(c),
            }),
            None => Ok(()),
        }
    }
}

/// The voting power of every key now: the posted balance of its wallet plus that of its stake account.
/// Council locks count (they stay posted in the wallet while pending), and so does unbonding stake.
/// Keys with no power are left out.
pub fn snapshot(l: &Ledger) -> BTreeMap<[u8; 32], Amount> {
    let mut power: BTreeMap<[u8; 32], Amount> = BTreeMap::new();
    for a in l.accounts() {
        let Some(owner) = a.owner else { continue };
        if a.id != wallet_account(&owner) && a.id != stake_account(&owner) {
            continue;
        }
        let balance = a.balance().unwrap_or(0);
        if balance > 0 {
            let p = power.entry(owner).or_default();
            *p = p.saturating_add(balance);
        }
    }
    power
}

/// BLAKE3 of a snapshot, logged when the election opens so anyone can check the power it counted.
///
/// Encoding: `"meson/v1/election-snapshot" 0x00`, the number of keys as u64 LE, then per key in key
/// order the key (32 bytes) and its power (u128 LE).
pub fn snapshot_digest(s: &BTreeMap<[u8; 32], Amount>) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"meson/v1/election-snapshot\0");
    h.update(&(s.len() as u64).to_le_bytes());
    for (key, power) in s {
        h.update(key);
        h.update(&power.to_le_bytes());
    }
    *h.finalize().as_bytes()
}

/// One voter's ballot: the candidates it approves of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ballot {
    pub voter: [u8; 32],
    pub candidates: Vec<[u8; 32]>,
}

/// Approval voting weighted by `snapshot`: each ballot (in the order cast; a voter's later ballot
/// replaces its earlier one) adds the voter's power to each candidate it names, once. A voter absent
/// from the snapshot has no power. The result is (power, candidate), largest first, ties by key.
pub fn tally(snapshot: &BTreeMap<[u8; 32], Amount>, ballots: &[Ballot]) -> Vec<(Amount, [u8; 32])> {
    let latest: BTreeMap<[u8; 32], &Ballot> = ballots.iter().map(|b| (b.voter, b)).collect();
    let mut power: BTreeMap<[u8; 32], Amount> = BTreeMap::new();
    for (voter, ballot) in latest {
        let Some(&p) = snapshot.get(&voter) else {
            continue;
        };
        let named: BTreeSet<&[u8; 32]> = ballot.candidates.iter().collect();
        for c in named {
            let total = power.entry(*c).or_default();
            *total = total.saturating_add(p);
        }
    }
    let mut ranked: Vec<(Amount, [u8; 32])> = power
        .into_iter()
        .filter(|(_, p)| *p > 0)
        .map(|(c, p)| (p, c))
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked
}

/// The members seated for a term: the first `seats` candidates of `tally` with power that locked
/// council stake for the term (`locked`: [`crate::council::members`] of the term, every lock at least
/// the least council stake). A winner without a lock gives its seat to the next candidate.
pub fn seat(
    tally: &[(Amount, [u8; 32])],
    locked: &[(Amount, [u8; 32])],
    seats: u32,
) -> Vec<[u8; 32]> {
    let locked: BTreeSet<&[u8; 32]> = locked.iter().map(|(_, owner)| owner).collect();
    tally
        .iter()
        .filter(|(power, c)| *power > 0 && locked.contains(c))
        .map(|(_, c)| *c)
        .take(seats as usize)
        .collect()
}

#[cfg(test)]
mod tests;
