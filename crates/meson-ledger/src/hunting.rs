//! Hunter economics: what makes honest hunting pay and griefing cost. A hunter bonds every claim; a
//! rejected claim forfeits its bond to the treasury, an upheld one returns it and pays the hunter the
//! claimant's share of the slash. Each hunter has a limit of open claims and of claims filed per day, so
//! a griefer cannot bury the council, and every false claim it does file costs it a bond.
//!
//! # Formulas
//!
//! - **slash** of a council-upheld claim: `min(base + owed, at_stake)` ([`council_slash`]). The refunds
//!   owed to the cheated sites come first out of a slash ([`crate::stake`]), so the slash is raised by
//!   them: the penalty and the hunter's share are never eaten by the refunds.
//! - **reward**: the claimant's share of what is left after the refunds,
//!   `(slashed − refunded) × claimant_bps / 10 000`, rounded down ([`hunter_reward`], with
//!   [`crate::economics::split_slash`], the split real slashes use).
//! - **expected value** of filing a claim upheld with probability `p`:
//!   `p × reward − (1 − p) × bond − cost` ([`expected_value`]), each product rounded down.
//!
//! # Worked example
//!
//! The rules: a bond of at least 10 tokens, at most 5 open claims per hunter and 20 filed per day;
//! slash shares of 50 % to the claimant, 30 % burned, 20 % to the treasury (the defaults).
//!
//! A terminal with 1 000 tokens at stake served corrupted bytes to two sites, which paid 40 tokens for
//! its bytes in those epochs. The council upholds the claim; the base penalty is 100 tokens.
//!
//! - slash: `min(100 + 40, 1 000)` = **140** tokens; the sites get their 40 back first;
//! - of the 100 left: **50** to the hunter, 30 burned, 20 to the treasury; the 10-token bond returns.
//!   Had the slash not been raised by the refunds, the same 100 would have paid the sites 40 and left the
//!   hunter 30. Had the terminal held only 30 tokens at stake, all 30 would have gone to the sites and
//!   the hunter nothing: a hunter's reward is bounded by the accused's stake.
//!
//! For a hunter spending 1 token of bandwidth per claim and bonding 10:
//!
//! - an honest hunter whose claims are upheld 80 % of the time expects
//!   `0.8 × 50 − 0.2 × 10 − 1` = **+37** tokens per claim;
//! - a griefer upheld 5 % of the time expects `0.05 × 50 − 0.95 × 10 − 1` = **−8** tokens per claim,
//!   so at its limit of 20 claims a day it loses 160 tokens a day;
//! - filing breaks even at `p = (bond + cost) / (reward + bond)` = 11 / 60 ≈ **18.3 %**: below it a
//!   claim costs more than it earns.

use crate::economics::{mul_div_floor, split_slash, SlashShares, BPS};
use crate::refusal::Refusal;
use crate::Amount;

/// What a hunter must respect to file a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HuntRules {
    /// The least bond per claim.
    pub min_bond: Amount,
    /// The most claims one hunter may have awaiting a verdict.
    pub max_open_per_hunter: u32,
    /// The most claims one hunter may file in any 24 hours.
    pub max_filed_per_day: u32,
}

/// Whether a hunter with `open_of_hunter` claims awaiting a verdict, having filed `filed_last_day` in
/// the last 24 hours, may file another with a bond of `bond`.
pub fn may_file(
    r: &HuntRules,
    open_of_hunter: u32,
    filed_last_day: u32,
    bond: Amount,
) -> Result<(), Refusal> {
    if bond < r.min_bond {
        return Err(Refusal::BondTooSmall { min: r.min_bond });
    }
    if open_of_hunter >= r.max_open_per_hunter {
        return Err(Refusal::TooManyOpenClaims {
            max: r.max_open_per_hunter,
        });
    }
    if filed_last_day >= r.max_filed_per_day {
        return Err(Refusal::FilingRateLimited {
            max: r.max_filed_per_day,
        });
    }
    Ok(())
}

/// What a council-upheld claim slashes: the base penalty plus the refunds owed to the cheated sites
/// (refunds come first out of the slash, so without them the hunter's share could be nothing), at most
/// what the accused has at stake.
pub fn council_slash(base: Amount, owed: Amount, at_stake: Amount) -> Amount {
    base.saturating_add(owed).min(at_stake)
}

/// The hunter's reward for an upheld claim: the claimant's share of what is left after refunds.
pub fn hunter_reward(slashed: Amount, refunded: Amount, shares: &SlashShares) -> Amount {
    split_slash(slashed.saturating_sub(refunded), *shares).0
}

/// The expected value of filing, in base units: `p × reward − (1 − p) × bond − cost`, with `p` the
/// chance the claim is upheld in basis points (at most 10 000), each product rounded down. Saturates
/// at the bounds of `i128`.
pub fn expected_value(p_upheld_bps: u32, reward: Amount, bond: Amount, cost: Amount) -> i128 {
    let p = u128::from(p_upheld_bps).min(BPS);
    let signed = |v: Amount| i128::try_from(v).unwrap_or(i128::MAX);
    let won = signed(mul_div_floor(p, reward, BPS));
    let lost = signed(mul_div_floor(BPS - p, bond, BPS));
    won.saturating_sub(lost).saturating_sub(signed(cost))
}

#[cfg(test)]
mod tests;
