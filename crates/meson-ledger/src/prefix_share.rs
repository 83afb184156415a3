//! The share cap against self-dealing: how much of one terminal's usage for one site in one epoch is
//! withheld (not paid, not slashed, kept for review) because too much of it came from a few client
//! prefixes. A terminal can request tickets for itself, or have friends do so, and serve itself real
//! bytes; what it cannot easily do is make that traffic come from many networks.
//!
//! - The **top K** prefixes are those that sent the terminal the most bytes of the site in the epoch (ties
//!   broken by the prefix, so the choice is deterministic). Usage whose prefix is unknown (stored before
//!   prefixes were) counts in the total and is never withheld.
//! - Below `min_bytes` of the terminal's volume for the site nothing is withheld: a small site, or a
//!   terminal that served one office, is not flagged.
//! - Otherwise what is **paid** from the top K is at most `max_share_bps` of what is paid: with `R` bytes
//!   from the other prefixes, at most `R · s / (1 − s)` from the top K. The rest of the top K's bytes is
//!   the **excess**, and [`pick`] chooses whole records of the top K to cover it, the latest first, so at
//!   most one record's bytes more than the excess is withheld. A terminal serving only itself is paid
//!   nothing until it is reviewed.
//!
//! Whatever the order records arrive in, the same epoch's usage gives the same records: settling again
//! after a crash withholds nothing more.

/// The cap's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareCap {
    /// The share of a terminal's paid bytes for a site that its top K prefixes may make up, in basis
    /// points (default 5000: half); 10000 turns the cap off.
    pub max_share_bps: u32,
    /// How many prefixes count as "few" (default 3).
    pub top_k: usize,
    /// The terminal's bytes for the site in the epoch below which nothing is withheld (default 1 GiB).
    pub min_bytes: u64,
}

impl Default for ShareCap {
    fn default() -> Self {
        ShareCap {
            max_share_bps: 5_000,
            top_k: 3,
            min_bytes: 1 << 30,
        }
    }
}

impl ShareCap {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_share_bps > 10_000 || self.top_k == 0 {
            return Err(format!(
                "the prefix share cap must be 0 to 10000 basis points over at least one prefix, got {} over {}",
                self.max_share_bps, self.top_k
            ));
        }
        Ok(())
    }
}

/// What the cap withholds of one terminal's usage for one site in one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excess<P> {
    /// The top K prefixes, largest first.
    pub prefixes: Vec<P>,
    /// Bytes from them.
    pub top_bytes: u64,
    /// Bytes from every prefix.
    pub total: u64,
    /// Bytes from the top K beyond what may be paid: what [`pick`] withholds at least.
    pub excess: u64,
}

impl<P> Excess<P> {
    /// Why the records are withheld, as an operator reads it.
    pub fn reason(&self, cap: &ShareCap) -> String {
        let share = u128::from(self.top_bytes) * 10_000 / u128::from(self.total.max(1));
        format!(
            "prefix-share: the top {} client prefixes sent {}.{:02} % of the terminal's {} bytes for the site (cap {}.{:02} %)",
            self.prefixes.len(),
            share / 100,
            share % 100,
            self.total,
            cap.max_share_bps / 100,
            cap.max_share_bps % 100
        )
    }
}

/// Judges one terminal's usage for one site in one epoch, given as bytes per client prefix (`None`: not
/// known). `None` when nothing is withheld.
pub fn excess<P: Ord + Clone>(cap: &ShareCap, usage: &[(Option<P>, u64)]) -> Option<Excess<P>> {
    let total: u64 = usage.iter().map(|(_, b)| *b).fold(0, u64::saturating_add);
    if total < cap.min_bytes || cap.max_share_bps >= 10_000 {
        return None;
    }
    let mut known: Vec<(&P, u64)> = usage
        .iter()
        .filter_map(|(p, b)| p.as_ref().map(|p| (p, *b)))
        .collect();
    known.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    known.truncate(cap.top_k);
    let top_bytes: u64 = known.iter().map(|(_, b)| *b).sum();
    let rest = u128::from(total - top_bytes);
    let s = u128::from(cap.max_share_bps);
    let payable = u64::try_from(rest * s / (10_000 - s)).unwrap_or(u64::MAX);
    (top_bytes > payable).then(|| Excess {
        prefixes: known.into_iter().map(|(p, _)| p.clone()).collect(),
        top_bytes,
        total,
        excess: top_bytes - payable,
    })
}

/// One usage record of the top prefixes: what [`pick`] chooses from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub serial: u64,
    pub served_at: u64,
    pub bytes: u64,
}

/// The serials to withhold: whole records, the latest served first (then the highest serial), until their
/// bytes cover `excess`.
pub fn pick(records: &[Candidate], excess: u64) -> Vec<u64> {
    let mut ordered = records.to_vec();
    ordered.sort_by_key(|r| std::cmp::Reverse((r.served_at, r.serial)));
    let mut covered = 0u64;
    ordered
        .into_iter()
        .take_while(|r| {
            let more = covered < excess;
            covered = covered.saturating_add(r.bytes);
            more
        })
        .map(|r| r.serial)
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn cap(min_bytes: u64) -> ShareCap {
        ShareCap {
            max_share_bps: 5_000,
            top_k: 3,
            min_bytes,
        }
    }

    #[test]
    fn a_terminal_serving_only_itself_is_paid_nothing() {
        let e = excess(&cap(1000), &[(Some("a"), 5000)]).unwrap();
        assert_eq!((e.prefixes, e.top_bytes, e.excess), (vec!["a"], 5000, 5000));
    }

    #[test]
    fn the_top_prefixes_are_paid_up_to_the_share_of_the_rest() {
        // Top 3: 600 + 300 + 100 = 1000 of 1400; the rest, 400, allows 400 at half: 600 withheld.
        let usage = [
            (Some("a"), 600),
            (Some("b"), 300),
            (Some("c"), 100),
            (Some("d"), 100),
            (Some("e"), 100),
            (None, 200),
        ];
        let e = excess(&cap(1000), &usage).unwrap();
        assert_eq!(e.prefixes, vec!["a", "b", "c"]);
        assert_eq!((e.top_bytes, e.total, e.excess), (1000, 1400, 600));
        assert!(
            e.reason(&cap(1000)).contains("71.42 %"),
            "{}",
            e.reason(&cap(1000))
        );
    }

    #[test]
    fn small_volumes_and_a_cap_of_everything_withhold_nothing() {
        assert_eq!(excess(&cap(5001), &[(Some("a"), 5000)]), None);
        let off = ShareCap {
            max_share_bps: 10_000,
            ..cap(0)
        };
        assert_eq!(excess(&off, &[(Some("a"), 5000)]), None);
        let unknown: [(Option<&str>, u64); 1] = [(None, 5000)];
        assert_eq!(
            excess(&cap(0), &unknown),
            None,
            "unknown prefixes are never withheld"
        );
    }

    #[test]
    fn records_are_picked_latest_first_until_the_excess_is_covered() {
        let r = |serial, served_at, bytes| Candidate {
            serial,
            served_at,
            bytes,
        };
        let records = [r(1, 10, 100), r(2, 30, 100), r(3, 20, 100), r(4, 30, 50)];
        assert_eq!(pick(&records, 0), Vec::<u64>::new());
        assert_eq!(pick(&records, 100), vec![4, 2]);
        assert_eq!(pick(&records, 151), vec![4, 2, 3]);
        assert_eq!(pick(&records, 10_000), vec![4, 2, 3, 1]);
    }

    fn usage() -> impl Strategy<Value = Vec<(Option<u8>, Vec<u64>)>> {
        proptest::collection::vec(
            (
                proptest::option::weighted(0.9, 0u8..12),
                proptest::collection::vec(1u64..5_000, 1..6),
            ),
            1..20,
        )
    }

    proptest! {
        /// After withholding, what is paid from the same top prefixes is within the cap; what is withheld
        /// comes only from them, covers the excess, and passes it by less than one record.
        #[test]
        fn withholding_brings_the_top_prefixes_within_the_cap(
            groups in usage(),
            bps in 0u32..10_000,
            k in 1usize..5,
            min_bytes in 0u64..20_000,
        ) {
            let cap = ShareCap { max_share_bps: bps, top_k: k, min_bytes };
            // Merge groups of one prefix, as the store's sums do.
            let mut by_prefix: std::collections::BTreeMap<Option<u8>, Vec<u64>> = Default::default();
            for (p, rs) in &groups {
                by_prefix.entry(*p).or_default().extend(rs);
            }
            let sums: Vec<(Option<u8>, u64)> =
                by_prefix.iter().map(|(p, rs)| (*p, rs.iter().sum())).collect();
            let total: u64 = sums.iter().map(|(_, b)| b).sum();
            let Some(e) = excess(&cap, &sums) else {
                // Nothing withheld: too small, or the top K are within the cap already.
                let mut known: Vec<u64> = sums.iter().filter(|(p, _)| p.is_some()).map(|(_, b)| *b).collect();
                known.sort_unstable_by(|a, b| b.cmp(a));
                let top: u64 = known.iter().take(k).sum();
                prop_assert!(total < min_bytes || u128::from(top) * 10_000 <= u128::from(bps) * u128::from(total)
                    || u128::from(top) * u128::from(10_000 - bps) <= u128::from(total - top) * u128::from(bps));
                return Ok(());
            };
            prop_assert!(total >= min_bytes);
            prop_assert!(e.prefixes.len() <= k);
            let mut serial = 0;
            let mut candidates = Vec::new();
            let mut biggest = 0;
            for p in &e.prefixes {
                for b in &by_prefix[&Some(*p)] {
                    serial += 1;
                    biggest = biggest.max(*b);
                    candidates.push(Candidate { serial, served_at: serial % 7, bytes: *b });
                }
            }
            let picked = pick(&candidates, e.excess);
            let withheld: u64 = candidates.iter().filter(|c| picked.contains(&c.serial)).map(|c| c.bytes).sum();
            prop_assert!(withheld >= e.excess);
            prop_assert!(withheld < e.excess + biggest);
            let paid_top = e.top_bytes - withheld;
            let paid = total - withheld;
            prop_assert!(u128::from(paid_top) * 10_000 <= u128::from(bps) * u128::from(paid),
                "paid from the top {paid_top} of {paid} at cap {bps}");
        }

        /// The choice does not depend on the order the usage is given in.
        #[test]
        fn the_judgement_is_deterministic(groups in usage(), seed in any::<u64>()) {
            let sums: Vec<(Option<u8>, u64)> = {
                let mut m: std::collections::BTreeMap<Option<u8>, u64> = Default::default();
                for (p, rs) in &groups { *m.entry(*p).or_default() += rs.iter().sum::<u64>(); }
                m.into_iter().collect()
            };
            let mut shuffled = sums.clone();
            let n = shuffled.len();
            shuffled.rotate_left((seed as usize) % n.max(1));
            prop_assert_eq!(excess(&cap(0), &sums), excess(&cap(0), &shuffled));
        }
    }
}
