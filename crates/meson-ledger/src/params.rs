//! The parameter registry: every economic and protocol parameter a network's token holders govern, with
//! its unit, hard bounds and the most one proposal may move it ([`table`]), and the values in force.
//!
//! A network starts from its genesis values (the router's start-up flags, checked against the bounds);
//! afterwards only executed proposals change them ([`crate::governance`]), each change taking effect at
//! the start of the epoch after it executed, so an epoch is settled, audited and judged under one set of
//! values. Every value is an integer (base units, basis points, seconds, counts), so no rounding differs
//! between a router and an auditor.

mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use table::{Param, MAX_TIMELOCK_SECS};

use crate::claim_life::LifeRules;
use crate::council::CouncilRules;
use crate::economics::{SlashShares, BPS};
use crate::election::ElectionRules;
use crate::hunting::HuntRules;
use crate::prefix_share::ShareCap;
use crate::{format_amount, Amount};

/// What a parameter's number counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    BaseUnits,
    BaseUnitsPerGib,
    Bps,
    Seconds,
    Milliseconds,
    Count,
    Bytes,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::BaseUnits => "base units",
            Unit::BaseUnitsPerGib => "base units per GiB",
            Unit::Bps => "basis points",
            Unit::Seconds => "seconds",
            Unit::Milliseconds => "milliseconds",
            Unit::Count => "count",
            Unit::Bytes => "bytes",
        }
    }

    /// `v` as people read it: tokens for amounts, the number otherwise.
    pub fn show(self, v: u128) -> String {
        match self {
            Unit::BaseUnits | Unit::BaseUnitsPerGib => format!("{} tokens", format_amount(v)),
            _ => format!("{v} {}", self.name()),
        }
    }
}

/// The most one proposal may move a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Never: fixed at genesis.
    Fixed,
    /// By at most this much, up or down.
    By(u128),
    /// To at most this many times the current value, or down to at least its this-many-th part.
    Factor(u128),
}

/// A parameter's description in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub unit: Unit,
    pub min: u128,
    pub max: u128,
    pub default: u128,
    pub step: Step,
    pub about: &'static str,
}

/// What a parameter may be called: a registry parameter, or the price of a region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Param(Param),
    /// `region_price.REGION`: the price per GiB of bytes served by terminals in `REGION` (its most
    /// specific listed level wins), bounded as `price_per_gib`.
    RegionPrice(String),
}

const REGION_PRICE: &str = "region_price.";

impl Key {
    pub fn parse(name: &str) -> Result<Key, ParamError> {
        if let Some(region) = name.strip_prefix(REGION_PRICE) {
            meson_core::schedule::Region::new(region).map_err(|e| ParamError::Unknown {
                name: format!("{name} ({e})"),
            })?;
            return Ok(Key::RegionPrice(region.to_owned()));
        }
        Param::named(name)
            .map(Key::Param)
            .ok_or_else(|| ParamError::Unknown { name: name.into() })
    }

    pub fn name(&self) -> String {
        match self {
            Key::Param(p) => p.name().to_owned(),
            Key::RegionPrice(r) => format!("{REGION_PRICE}{r}"),
        }
    }

    pub fn spec(&self) -> Spec {
        match self {
            Key::Param(p) => p.spec(),
            Key::RegionPrice(_) => Param::PricePerGib.spec(),
        }
    }
}

/// Why a value or a change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("no parameter is called {name}; `meson-cdn gov params` lists them")]
    Unknown { name: String },
    #[error("{name} = {value} is out of bounds: the hard {bound} is {limit}")]
    OutOfBounds {
        name: String,
        value: String,
        bound: &'static str,
        limit: String,
    },
    #[error("{name} is fixed at genesis and no proposal changes it")]
    Fixed { name: String },
    #[error("{name} may move from {from} to at most {limit} in one proposal (asked: {to})")]
    StepTooLarge {
        name: String,
        from: String,
        to: String,
        limit: String,
    },
    #[error("{0}")]
    Inconsistent(String),
}

/// The values in force: one per registry parameter, plus the region prices set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Params {
    #[serde(with = "values")]
    values: BTreeMap<Key, u128>,
}

impl Default for Params {
    /// Every parameter at its default, no region prices.
    fn default() -> Self {
        Params {
            values: Param::ALL
                .iter()
                .map(|p| (Key::Param(*p), p.spec().default))
                .collect(),
        }
    }
}

impl Params {
    pub fn get(&self, p: Param) -> u128 {
        self.values
            .get(&Key::Param(p))
            .copied()
            .unwrap_or(p.spec().default)
    }

    /// The value of `key`, `None` for a region without a price of its own.
    pub fn value(&self, key: &Key) -> Option<u128> {
        self.values.get(key).copied()
    }

    /// Every value, in registry order, then the region prices.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, u128)> {
        self.values.iter().map(|(k, v)| (k, *v))
    }

    /// A genesis value: within the hard bounds, whatever its step.
    pub fn seed(&mut self, key: Key, value: u128) -> Result<(), ParamError> {
        bounds(&key, value)?;
        self.values.insert(key, value);
        Ok(())
    }

    /// `p` as a `u64` (every parameter counted in seconds, milliseconds or items fits).
    pub fn secs(&self, p: Param) -> u64 {
        u64::try_from(self.get(p)).unwrap_or(u64::MAX)
    }

    fn bps(&self, p: Param) -> u32 {
        self.get(p).min(BPS) as u32
    }

    /// Checks `changes`, applied in order to these values, as one proposal: each parameter known,
    /// within its bounds and its step from the value it replaces, and the result consistent.
    pub fn check_changes(&self, changes: &[(Key, u128)]) -> Result<Params, ParamError> {
        let mut next = self.clone();
        for (key, value) in changes {
            bounds(key, *value)?;
            let spec = key.spec();
            let from = self.value(key);
            match (spec.step, from) {
                (Step::Fixed, _) => return Err(ParamError::Fixed { name: key.name() }),
                // A region's first price steps from the price it paid before: the base price.
                (step, from) => {
                    let from = from.unwrap_or(self.get(Param::PricePerGib));
                    let (lo, hi) = step_range(step, from, &spec);
                    if *value < lo || *value > hi {
                        return Err(ParamError::StepTooLarge {
                            name: key.name(),
                            from: spec.unit.show(from),
                            to: spec.unit.show(*value),
                            limit: if *value > hi {
                                spec.unit.show(hi)
                            } else {
                                spec.unit.show(lo)
                            },
                        });
                    }
                }
            }
            next.values.insert(key.clone(), *value);
        }
        next.consistent()?;
        Ok(next)
    }

    /// The rules that tie parameters together, which bounds alone cannot hold.
    pub fn consistent(&self) -> Result<(), ParamError> {
        let claimant = self.get(Param::SlashClaimantBps);
        let burn = self.get(Param::SlashBurnBps);
        if claimant + burn > BPS {
            return Err(ParamError::Inconsistent(format!(
                "slash_claimant_bps + slash_burn_bps must be at most 10000, got {claimant} + {burn}"
            )));
        }
        let (delay, cancel) = (
            self.get(Param::VetoDelayBps),
            self.get(Param::VetoCancelBps),
        );
        if delay >= cancel {
            return Err(ParamError::Inconsistent(format!(
                "veto_delay_bps ({delay}) must be below veto_cancel_bps ({cancel})"
            )));
        }
        let dispute = self.life().dispute_secs();
        let unbonding = self.secs(Param::UnbondingSecs);
        if unbonding <= dispute {
            return Err(ParamError::Inconsistent(format!(
                "unbonding_secs ({unbonding}) must be longer than the longest a claim can take ({dispute} s: a review to be seated, two rounds of review and appeal, and a margin), so there is always stake to slash"
            )));
        }
        Ok(())
    }

    pub fn life(&self) -> LifeRules {
        LifeRules {
            review_secs: self.secs(Param::ReviewSecs),
            appeal_secs: self.secs(Param::AppealSecs),
        }
    }

    pub fn council(&self) -> CouncilRules {
        CouncilRules {
            term_secs: self.secs(Param::CouncilTermSecs),
            unbonding_secs: self.secs(Param::UnbondingSecs),
            min_stake: self.get(Param::CouncilMinStake),
        }
    }

    pub fn elections(&self) -> ElectionRules {
        ElectionRules {
            seats: self.secs(Param::CouncilSeats) as u32,
            term_secs: self.secs(Param::CouncilTermSecs),
        }
    }

    pub fn hunt(&self) -> HuntRules {
        HuntRules {
            min_bond: self.get(Param::MinBond),
            max_open_per_hunter: self.secs(Param::MaxOpenClaims) as u32,
            max_filed_per_day: self.secs(Param::MaxClaimsPerDay) as u32,
        }
    }

    pub fn slash_shares(&self) -> SlashShares {
        SlashShares {
            claimant_bps: self.bps(Param::SlashClaimantBps),
            burn_bps: self.bps(Param::SlashBurnBps),
        }
    }

    pub fn share_cap(&self) -> ShareCap {
        ShareCap {
            max_share_bps: self.bps(Param::MaxPrefixShareBps),
            top_k: self.secs(Param::MaxPrefixShareTop) as usize,
            min_bytes: self.secs(Param::PrefixShareMinBytes),
        }
    }

    /// Prices, fee and subsidy of a settlement.
    pub fn billing(&self) -> crate::settlement::BillingConfig {
        crate::settlement::BillingConfig {
            epoch_secs: self.secs(Param::EpochSecs),
            price_per_gib: self.get(Param::PricePerGib),
            fee_bps: self.fee_bps(),
            region_prices: self.region_prices(),
            subsidy_bps: self.bps(Param::SubsidyBps),
            subsidy_cap: self.get(Param::SubsidyCap),
            holder_share_bps: self.bps(Param::HolderShareBps),
        }
    }

    /// How audits place a terminal: vetting and suspension.
    pub fn quality(&self) -> meson_core::audit::QualityRules {
        meson_core::audit::QualityRules {
            vetting_audits: self.secs(Param::VettingAudits),
            suspend_below: self.get(Param::SuspendBelowBps) as f64 / BPS as f64,
            min_audits: self.secs(Param::SuspendMinAudits),
        }
    }

    /// The fee, in basis points of each charge.
    pub fn fee_bps(&self) -> u32 {
        self.bps(Param::FeeBps)
    }

    /// Region prices, as `(region, base units per GiB)`.
    pub fn region_prices(&self) -> Vec<(String, Amount)> {
        self.values
            .iter()
            .filter_map(|(k, v)| match k {
                Key::RegionPrice(r) => Some((r.clone(), *v)),
                Key::Param(_) => None,
            })
            .collect()
    }
}

fn bounds(key: &Key, value: u128) -> Result<(), ParamError> {
    let spec = key.spec();
    let out = |bound, limit| {
        Err(ParamError::OutOfBounds {
            name: key.name(),
            value: spec.unit.show(value),
            bound,
            limit: spec.unit.show(limit),
        })
    };
    if value < spec.min {
        return out("minimum", spec.min);
    }
    if value > spec.max {
        return out("maximum", spec.max);
    }
    Ok(())
}

/// The values one proposal may move `from` to, within the hard bounds.
fn step_range(step: Step, from: u128, spec: &Spec) -> (u128, u128) {
    let (lo, hi) = match step {
        Step::Fixed => (from, from),
        Step::By(d) => (from.saturating_sub(d), from.saturating_add(d)),
        // From zero a factor moves nowhere: allow the parameter's least positive step, one unit.
        Step::Factor(f) => (from / f, from.saturating_mul(f).max(1)),
    };
    (lo.max(spec.min), hi.min(spec.max))
}

/// Values serialise as `{"name": "decimal"}`, names as in proposals.
mod values {
    use super::*;
    use serde::de::Error;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &BTreeMap<Key, u128>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(v.iter().map(|(k, v)| (k.name(), v.to_string())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<Key, u128>, D::Error> {
        let raw = BTreeMap::<String, String>::deserialize(d)?;
        raw.into_iter()
            .map(|(k, v)| {
                let key = Key::parse(&k).map_err(D::Error::custom)?;
                let value = v.parse::<u128>().map_err(D::Error::custom)?;
                Ok((key, value))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
