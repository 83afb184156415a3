//! What an epoch's usage costs and pays, in integer base units (see [`crate`]): the formulas the
//! router settles with and anyone can recompute.
//!
//! For each site and terminal, from the usage the router accepted in the epoch:
//!
//! - `charge = bytes × price_per_gib(region) / 2^30`, rounded down;
//! - `fee = charge × fee_bps / 10 000`, rounded down: the protocol fee, split by [`split_fee`] into
//!   `holders = fee × holder_share_bps / 10 000`, rounded down, paid into the revenue pool, and
//!   `fee − holders`, burned (`holder_share_bps` is governed and may be 0: then the whole fee burns);
//! - `earned = (charge − fee) × quality_bps / 10 000`, rounded down: paid to the terminal, where
//!   `quality_bps = uptime_bps × audit_pass_bps / 10 000` ([`quality_bps`]);
//! - the customer's escrow pays `fee + earned`. What a terminal of less than perfect quality did not earn is
//!   not charged at all: no token moves that a customer did not pay for, and nobody is paid for work the
//!   customer was not charged for.
//!
//! When a site's escrow holds less than its epoch's total, every line of the site is scaled by
//! `escrow / total` (rounded down), so terminals share the shortfall in proportion; the site is then out of
//! funds and the router stops sending its clients to terminals (see the router's billing).
//!
//! Each epoch the revenue pool's whole balance is shared among stakers by their stake ([`dividends`]):
//! `⌊pool × stake / Σ stakes⌋` each, the remainder staying in the pool for the next epoch, and all of it
//! when no one stakes. So what a customer pays, `fee + earned`, ends up burned, with holders or with
//! terminals, and nowhere else.
//!
//! The one reward a customer did not pay for is the bootstrap subsidy ([`subsidies`]): a capped share of
//! customer earnings, moved out of the treasury, never minted.

/// Basis points: 10 000 is 100 %.
pub const BPS: u128 = 10_000;
const GIB: u128 = 1 << 30;

/// A terminal's quality in basis points: its uptime (share of the epoch's heartbeat intervals it was in
/// rotation) times its audit pass rate (share of spot checks passed; 10 000 when none ran).
pub fn quality_bps(uptime_bps: u32, audit_pass_bps: u32) -> u32 {
    let (u, a) = (uptime_bps.min(10_000), audit_pass_bps.min(10_000));
    (u64::from(u) * u64::from(a) / 10_000) as u32
}

/// One settlement line: a terminal's work for a site in an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Line {
    pub charge: u128,
    pub fee: u128,
    pub earned: u128,
}

impl Line {
    /// What the customer's escrow pays for this line.
    pub fn paid(&self) -> u128 {
        self.fee + self.earned
    }
}

/// The line for `bytes` served at `price_per_gib`, with the protocol fee `fee_bps` and the terminal's
/// quality. Saturates rather than overflows (2^64 bytes at 2^64 units per GiB fits in u128 anyway).
pub fn line(bytes: u64, price_per_gib: u128, fee_bps: u32, quality_bps: u32) -> Line {
    let charge = u128::from(bytes).saturating_mul(price_per_gib) / GIB;
    let fee = charge * u128::from(fee_bps.min(10_000)) / BPS;
    let earned = (charge - fee) * u128::from(quality_bps.min(10_000)) / BPS;
    Line {
        charge,
        fee,
        earned,
    }
}

/// Scales a site's lines so that together they pay at most `available`.
pub fn fit_to_escrow(lines: &mut [Line], available: u128) {
    let total: u128 = lines.iter().map(Line::paid).sum();
    if total <= available || total == 0 {
        return;
    }
    for l in lines {
        // total ≥ each part, so the products fit when available < total ≤ u128::MAX / 2^64-ish; use
        // checked math and fall back to zero rather than pay more than the escrow holds.
        l.fee = l.fee.checked_mul(available).map_or(0, |v| v / total);
        l.earned = l.earned.checked_mul(available).map_or(0, |v| v / total);
    }
}

/// The bootstrap subsidy of an epoch: what the treasury adds to each terminal's customer earnings while
/// customers alone do not pay terminals enough to stay. `earned[i]` is what terminal `i` earned from
/// customers in the epoch; the result, in the same order, is what the treasury pays it.
///
/// - Each terminal is owed `earned × subsidy_bps / 10 000`, rounded down: a terminal that served no paying
///   customer gets nothing, so the subsidy cannot be farmed without traffic someone paid for.
/// - Together they get at most `min(cap, treasury)`: when owed more, every share is scaled by the same
///   ratio, rounded down, so terminals share the shortfall in proportion and the treasury is never
///   overdrawn.
///
/// The subsidy moves tokens that already exist (slash shares, an operator's grant) out of the treasury;
/// it never mints.
pub fn subsidies(earned: &[u128], subsidy_bps: u32, cap: u128, treasury: u128) -> Vec<u128> {
    let owed: Vec<u128> = earned.iter().map(|&e| bps_of(e, subsidy_bps)).collect();
    let limit = cap.min(treasury);
    if sum(&owed).is_some_and(|total| total <= limit) {
        return owed;
    }
    shared(&owed, limit)
        .into_iter()
        .zip(&owed)
        .map(|(share, &owed)| share.min(owed))
        .collect()
}

/// A line's protocol fee split into (burned, to holders): the holders' share is
/// `fee × holder_share_bps / 10 000`, rounded down, and the rest is burned, so the parts always sum to
/// `fee`.
pub fn split_fee(fee: u128, holder_share_bps: u32) -> (u128, u128) {
    let holders = bps_of(fee, holder_share_bps);
    (fee - holders, holders)
}

/// An epoch's dividends: the revenue `pool` shared by stake, in the order of `stakes`. Holder `i` gets
/// `⌊pool × stakes[i] / Σ stakes⌋`, so together they get at most the pool, and the remainder (less than
/// one unit per holder) stays in the pool for the next epoch. Nothing is paid when no one stakes.
pub fn dividends(stakes: &[u128], pool: u128) -> Vec<u128> {
    shared(stakes, pool)
}

/// `limit` shared in proportion to `weights`: `⌊limit × weight / Σ weights⌋` each, so the shares sum to at
/// most `limit`; all zero when every weight is. Amounts out of one ledger always sum within u128; should
/// these not, every weight is halved alike until they do: the ratio barely moves.
fn shared(weights: &[u128], limit: u128) -> Vec<u128> {
    let mut weights = weights.to_vec();
    let total = loop {
        match sum(&weights) {
            Some(total) => break total,
            None => weights.iter_mut().for_each(|w| *w >>= 1),
        }
    };
    weights
        .iter()
        .map(|&w| {
            if total == 0 {
                0
            } else {
                mul_div_floor(w, limit, total)
            }
        })
        .collect()
}

fn sum(v: &[u128]) -> Option<u128> {
    v.iter().try_fold(0u128, |s, &x| s.checked_add(x))
}

/// `⌊amount × bps / 10 000⌋` with `bps` clamped to 10 000, split so that the product cannot overflow:
/// `⌊(qB + r)·b / B⌋ = q·b + ⌊r·b / B⌋`.
fn bps_of(amount: u128, bps: u32) -> u128 {
    let bps = u128::from(bps.min(10_000));
    amount / BPS * bps + amount % BPS * bps / BPS
}

/// `⌊a × b / c⌋` for `a ≤ c` (so the result, at most `b`, fits), exact over a 256-bit product.
pub(crate) fn mul_div_floor(a: u128, b: u128, c: u128) -> u128 {
    debug_assert!(a <= c && c > 0);
    if let Some(p) = a.checked_mul(b) {
        return p / c;
    }
    const LOW: u128 = u64::MAX as u128;
    let (a1, a0, b1, b0) = (a >> 64, a & LOW, b >> 64, b & LOW);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let mid = (p00 >> 64) + (p01 & LOW) + (p10 & LOW);
    let lo = (p00 & LOW) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    // Long division, one bit at a time; the remainder stays below c, and a bit shifted out of its top
    // means it exceeded c.
    let (mut q, mut rem) = (0u128, 0u128);
    for i in (0..256).rev() {
        let bit = if i >= 128 { hi >> (i - 128) } else { lo >> i } & 1;
        let carry = rem >> 127;
        rem = (rem << 1) | bit;
        if carry == 1 || rem >= c {
            rem = rem.wrapping_sub(c);
            if i < 128 {
                q |= 1 << i;
            }
        }
    }
    q
}

/// The leaf of a payout in an epoch's payout root ([`crate::merkle`]): a fixed 80-byte encoding of the
/// domain, the epoch, the leaf's index, the account and the amount, big-endian, so that a chain contract
/// can rebuild it.
pub fn payout_leaf(epoch: u64, index: u64, account: u128, amount: u128) -> [u8; 80] {
    let mut out = [0u8; 80];
    out[..16].copy_from_slice(b"meson/v1/payout\0");
    out[16..24].copy_from_slice(&epoch.to_be_bytes());
    out[24..32].copy_from_slice(&index.to_be_bytes());
    out[32..48].copy_from_slice(&account.to_be_bytes());
    out[48..64].copy_from_slice(&amount.to_be_bytes());
    // The last 16 bytes stay zero: room for a token id should the chain need one.
    out
}

/// How a slashed amount is shared, in basis points; the shares sum to at most 10 000, and the rest goes to
/// the treasury.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlashShares {
    /// To whoever brought the evidence (a hunter, an auditor).
    pub claimant_bps: u32,
    /// Burned.
    pub burn_bps: u32,
}

impl Default for SlashShares {
    fn default() -> Self {
        SlashShares {
            claimant_bps: 5_000,
            burn_bps: 3_000,
        }
    }
}

/// `amount` split into (claimant, burn, treasury), rounding the first two down so the treasury takes the
/// remainder and the parts always sum to `amount`.
pub fn split_slash(amount: u128, shares: SlashShares) -> (u128, u128, u128) {
    let claimant = amount * u128::from(shares.claimant_bps.min(10_000)) / BPS;
    let burn = (amount * u128::from(shares.burn_bps.min(10_000)) / BPS).min(amount - claimant);
    (claimant, burn, amount - claimant - burn)
}

/// The domain of the router's signature over an epoch's payout root.
pub const PAYOUT_ROOT_DOMAIN: &str = "meson/v1/payout-root";

/// What the router signs for an epoch's payout root: `epoch (u64 BE) ‖ leaf count (u64 BE) ‖ root`.
pub fn payout_root_message(epoch: u64, size: u64, root: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(48);
    m.extend_from_slice(&epoch.to_be_bytes());
    m.extend_from_slice(&size.to_be_bytes());
    m.extend_from_slice(root);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gib_at_one_token_with_a_20_percent_fee_and_full_quality() {
        let token = 1_000_000_000u128;
        let l = line(1 << 30, token, 2_000, 10_000);
        assert_eq!(
            l,
            Line {
                charge: token,
                fee: token / 5,
                earned: token * 4 / 5
            }
        );
        assert_eq!(l.paid(), token);
    }

    #[test]
    fn lower_quality_earns_less_and_costs_the_customer_less() {
        let q = quality_bps(9_000, 5_000);
        assert_eq!(q, 4_500);
        let l = line(1 << 30, 1_000_000_000, 2_000, q);
        assert_eq!(l.earned, 360_000_000);
        assert_eq!(l.paid(), 200_000_000 + 360_000_000);
        assert_eq!(quality_bps(20_000, 20_000), 10_000, "clamped");
    }

    #[test]
    fn rounding_is_down_and_never_pays_more_than_charged() {
        for bytes in [0u64, 1, 1023, 1 << 20, (1 << 30) + 7, u64::MAX] {
            for fee in [0, 1, 2_000, 10_000] {
                for q in [0, 1, 9_999, 10_000] {
                    let l = line(bytes, 3, fee, q);
                    assert!(l.fee + l.earned <= l.charge, "{bytes} {fee} {q}: {l:?}");
                }
            }
        }
        assert_eq!(line(1023, 1, 0, 10_000).charge, 0);
    }

    #[test]
    fn a_short_escrow_scales_every_line_and_is_never_overdrawn() {
        let mut lines = vec![
            line(3 << 30, 100, 1_000, 10_000),
            line(1 << 30, 100, 1_000, 10_000),
        ];
        fit_to_escrow(&mut lines, 200);
        let paid: u128 = lines.iter().map(Line::paid).sum();
        assert!(paid <= 200, "{lines:?}");
        assert_eq!(lines[0].earned, 3 * lines[1].earned, "in proportion");
        let mut enough = vec![line(1 << 30, 100, 1_000, 10_000)];
        fit_to_escrow(&mut enough, 1_000);
        assert_eq!(enough[0].paid(), 100, "untouched when the escrow suffices");
    }

    #[test]
    fn the_subsidy_is_a_share_of_earnings_within_the_cap_and_the_treasury() {
        assert_eq!(
            subsidies(&[1_000, 300, 0], 5_000, 10_000, 10_000),
            [500, 150, 0]
        );
        assert_eq!(subsidies(&[1_000, 300], 0, 10_000, 10_000), [0, 0], "off");
        assert_eq!(
            subsidies(&[1_000], 20_000, 10_000, 10_000),
            [1_000],
            "bps clamped"
        );
        assert_eq!(subsidies(&[3], 5_000, 10, 10), [1], "rounded down");
        // Owed 600 + 200 = 800; the cap allows 400: each gets half of what it is owed.
        assert_eq!(subsidies(&[1_200, 400], 5_000, 400, 10_000), [300, 100]);
        // The treasury holds less than the cap: it is the limit.
        assert_eq!(subsidies(&[1_200, 400], 5_000, 400, 80), [60, 20]);
        assert_eq!(
            subsidies(&[1_200, 400], 5_000, 400, 0),
            [0, 0],
            "empty treasury"
        );
        assert_eq!(
            subsidies(&[1_200, 400], 5_000, 0, 10_000),
            [0, 0],
            "no cap, no subsidy"
        );
        assert!(subsidies(&[], 5_000, 10, 10).is_empty());
    }

    #[test]
    fn the_subsidy_matches_its_definition_on_every_small_case() {
        for a in 0..6u128 {
            for b in 0..6u128 {
                for c in 0..6u128 {
                    let earned = [a * 7, b * 7, c * 7];
                    for bps in [0, 1, 5_000, 9_999, 10_000] {
                        for limit in 0..16u128 {
                            let owed = earned.map(|e| e * bps / 10_000);
                            let total: u128 = owed.iter().sum();
                            let want =
                                owed.map(|o| if total <= limit { o } else { o * limit / total });
                            for (cap, treasury) in
                                [(limit, limit + 5), (limit + 5, limit), (limit, limit)]
                            {
                                let got = subsidies(&earned, bps as u32, cap, treasury);
                                assert_eq!(got, want, "{earned:?} {bps} {cap} {treasury}");
                                assert!(got.iter().sum::<u128>() <= limit);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn wide_mul_div_is_exact() {
        let max = u128::MAX;
        assert_eq!(mul_div_floor(7, 3, 10), 2);
        assert_eq!(mul_div_floor(max, max, max), max);
        assert_eq!(mul_div_floor(max - 1, max, max), max - 1);
        assert_eq!(mul_div_floor(1 << 127, max, max), 1 << 127);
        assert_eq!(mul_div_floor(1 << 100, 1 << 100, 1 << 101), 1 << 99);
        // With x = 2^128 − 2: (x − 1)(x + 1) / x = x − 1/x, floored to x − 1.
        assert_eq!(mul_div_floor(max - 2, max, max - 1), max - 2);
        for (a, b, c) in [(3u128, 5u128, 4u128), (1_000, 999, 1_001), (0, 9, 1)] {
            assert_eq!(mul_div_floor(a, b, c), a * b / c);
        }
    }

    #[test]
    fn the_subsidy_never_overflows_on_huge_amounts() {
        let limit = u128::MAX - 1;
        let got = subsidies(&[u128::MAX, u128::MAX, 1], 10_000, u128::MAX, limit);
        let total = got.iter().try_fold(0u128, |s, &x| s.checked_add(x));
        assert!(total.is_some_and(|t| t <= limit), "{got:?}");
        assert_eq!(got[0], got[1], "equal earnings, equal shares");
        assert!(got[0] > u128::MAX / 3, "scaled, not zeroed: {got:?}");
        let alone = subsidies(&[u128::MAX], 9_999, u128::MAX, u128::MAX);
        assert_eq!(
            alone[0],
            u128::MAX / 10_000 * 9_999 + u128::MAX % 10_000 * 9_999 / 10_000
        );
        // Found by the property test: scaled shares whose product overflows must still stay within
        // what each terminal is owed.
        let earned = [
            189_487_065_383_578_684_448_093_767_478_288_538_508,
            168_967_893_751_291_545_511_151_068_588_588_122_207,
        ];
        let near = 144_873_072_102_357_371_121_260_926_207_855_455_982;
        let found = subsidies(&earned, 4_287, near, near);
        for (s, e) in found.iter().zip(earned) {
            assert!(*s <= e / BPS * 4_287 + e % BPS * 4_287 / BPS, "{found:?}");
        }
        assert!(found[0] + found[1] <= near);
    }

    proptest::proptest! {
        #[test]
        fn the_subsidy_stays_within_its_limit_and_follows_earnings(
            earned in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(0u128),
                    0u128..1_000_000,
                    proptest::num::u128::ANY,
                ],
                0..8,
            ),
            bps in 0u32..=12_000,
            cap in proptest::prop_oneof![0u128..2_000_000, proptest::num::u128::ANY],
            treasury in proptest::prop_oneof![0u128..2_000_000, proptest::num::u128::ANY],
        ) {
            let got = subsidies(&earned, bps, cap, treasury);
            proptest::prop_assert_eq!(got.len(), earned.len());
            let total = got.iter().try_fold(0u128, |s, &x| s.checked_add(x));
            proptest::prop_assert!(total.is_some_and(|t| t <= cap.min(treasury)), "{:?}", got);
            let bps_ = u128::from(bps.min(10_000));
            let owed: Vec<u128> = earned.iter().map(|e| e / BPS * bps_ + e % BPS * bps_ / BPS).collect();
            for ((e, s), o) in earned.iter().zip(&got).zip(&owed) {
                proptest::prop_assert!(s <= o, "never more than owed: {} > {}", s, o);
                if *e == 0 {
                    proptest::prop_assert_eq!(*s, 0, "no earnings, no subsidy");
                }
            }
            // Scaled down, the shares lose at most a unit each to rounding: the limit is used, not wasted.
            if let Some(all) = owed.iter().try_fold(0u128, |s, &x| s.checked_add(x)) {
                let want = all.min(cap.min(treasury));
                let t = total.unwrap_or(0);
                proptest::prop_assert!(t + got.len() as u128 >= want, "{} of {}", t, want);
            }
            // Shares follow earnings: whoever earned more never gets less.
            for (i, a) in earned.iter().enumerate() {
                for (j, b) in earned.iter().enumerate() {
                    if a >= b {
                        proptest::prop_assert!(got[i] >= got[j], "{:?} -> {:?}", earned, got);
                    }
                }
            }
        }
    }

    #[test]
    fn the_fee_is_split_between_the_burn_and_holders_without_losing_a_unit() {
        assert_eq!(split_fee(1_000, 0), (1_000, 0), "no share: all burns");
        assert_eq!(split_fee(1_000, 2_500), (750, 250));
        assert_eq!(split_fee(7, 5_000), (4, 3), "holders' part rounded down");
        assert_eq!(split_fee(1_000, 10_000), (0, 1_000));
        assert_eq!(split_fee(1_000, 20_000), (0, 1_000), "bps clamped");
        assert_eq!(split_fee(u128::MAX, 10_000), (0, u128::MAX));
        assert_eq!(
            split_fee(u128::MAX, 3_333).1,
            u128::MAX / 10_000 * 3_333 + u128::MAX % 10_000 * 3_333 / 10_000,
            "exact where the product overflows"
        );
        for fee in [0u128, 1, 9_999, 10_001, u64::MAX as u128, u128::MAX] {
            for bps in [0, 1, 4_999, 10_000] {
                let (burned, holders) = split_fee(fee, bps);
                assert_eq!(burned + holders, fee);
            }
        }
    }

    #[test]
    fn dividends_follow_stake_rounded_down() {
        assert_eq!(dividends(&[1, 2, 3], 600), [100, 200, 300]);
        assert_eq!(dividends(&[1, 1, 1], 10), [3, 3, 3], "the remainder stays");
        assert_eq!(dividends(&[0, 5], 7), [0, 7], "no stake, no dividend");
        assert_eq!(dividends(&[0, 0], 7), [0, 0], "no one stakes");
        assert!(dividends(&[], 7).is_empty());
        assert_eq!(dividends(&[3, 4], 0), [0, 0], "an empty pool");
        assert_eq!(dividends(&[1, 1_000_000], 999), [0, 998]);
        let huge = dividends(&[u128::MAX, u128::MAX, 1], u128::MAX);
        assert_eq!(huge[0], huge[1], "equal stakes, equal shares");
        assert!(huge[0] >= u128::MAX / 2 - 1, "{huge:?}");
        assert!(huge
            .iter()
            .try_fold(0u128, |s, &x| s.checked_add(x))
            .is_some());
    }

    proptest::proptest! {
        #[test]
        fn each_holder_gets_its_stakes_share_of_the_pool_and_no_more(
            stakes in proptest::collection::vec(
                proptest::prop_oneof![proptest::strategy::Just(0u128), 0u128..1 << 40],
                0..8,
            ),
            pool in 0u128..1 << 80,
        ) {
            let got = dividends(&stakes, pool);
            let total: u128 = stakes.iter().sum();
            for (s, d) in stakes.iter().zip(&got) {
                let want = (pool * s).checked_div(total).unwrap_or(0);
                proptest::prop_assert_eq!(*d, want);
            }
            let paid: u128 = got.iter().sum();
            proptest::prop_assert!(paid <= pool);
            if total > 0 {
                let holders = stakes.iter().filter(|s| **s > 0).count() as u128;
                proptest::prop_assert!(pool - paid < holders.max(1), "the remainder is rounding only");
            }
        }
    }

    #[test]
    fn a_slash_is_split_without_losing_a_unit() {
        assert_eq!(split_slash(1_000, SlashShares::default()), (500, 300, 200));
        assert_eq!(split_slash(7, SlashShares::default()), (3, 2, 2));
        let all = SlashShares {
            claimant_bps: 10_000,
            burn_bps: 10_000,
        };
        assert_eq!(split_slash(9, all), (9, 0, 0));
        for amount in [0u128, 1, 3, 999, u64::MAX as u128] {
            let (c, b, t) = split_slash(amount, SlashShares::default());
            assert_eq!(c + b + t, amount);
        }
    }

    #[test]
    fn payout_leaves_are_fixed() {
        let leaf = payout_leaf(7, 2, 0x0102, 5);
        assert_eq!(&leaf[..15], b"meson/v1/payout");
        assert_eq!(leaf[23], 7);
        assert_eq!(leaf[31], 2);
        assert_eq!(&leaf[46..48], &[1, 2]);
        assert_eq!(leaf[63], 5);
    }
}
