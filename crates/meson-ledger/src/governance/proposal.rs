//! What proposers, voters and council members sign, and a proposal's state: its rules (those in force
//! when it was filed), its snapshot, its tally and its phase.

use std::collections::{BTreeMap, BTreeSet};

use meson_core::identity::NodeId;
use serde::{Deserialize, Serialize};

use crate::economics::BPS;
use crate::params::{Param, Params, MAX_TIMELOCK_SECS};
use crate::{u128_string, Amount};

pub const PROPOSAL: &str = "meson/v1/gov-proposal";
pub const VOTE: &str = "meson/v1/gov-vote";
pub const COUNCIL_DELAY: &str = "meson/v1/gov-council-delay";
pub const COUNCIL_SHUTDOWN: &str = "meson/v1/gov-council-shutdown";

/// The most actions one proposal carries.
pub const MAX_ACTIONS: usize = 16;
/// The longest title, in characters.
pub const MAX_TITLE: usize = 200;

/// A proposal as its proposer signs it (purpose [`PROPOSAL`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProposalBody {
    pub network: String,
    pub title: String,
    pub actions: Vec<Action>,
}

/// What a proposal does when it executes, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Sets a parameter (`fee_bps`, `region_price.eu`, …) from the next epoch on.
    Set {
        param: String,
        #[serde(with = "u128_string")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        value: u128,
    },
    /// Pays `amount` base units from the treasury to the wallet of `to`.
    Spend {
        to: NodeId,
        #[serde(with = "u128_string")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        amount: Amount,
    },
    /// Moves `amount` base units from the treasury to the holders' revenue, paid to stakers pro rata
    /// with the next settlement.
    Distribute {
        #[serde(with = "u128_string")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        amount: Amount,
    },
    /// Seats `member` on the current term's council.
    Seat { member: NodeId },
    /// Removes `member` from the current term's council.
    Unseat { member: NodeId },
}

/// A holder's vote on a proposal (purpose [`VOTE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VoteBody {
    pub network: String,
    /// The proposal's id, 64 hex digits.
    pub proposal: String,
    pub choice: Choice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    For,
    Against,
    Abstain,
}

/// A council member's request to delay a queued proposal to the end of its window (purpose
/// [`COUNCIL_DELAY`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DelayBody {
    pub network: String,
    pub proposal: String,
}

/// A council member's signal for shutdown round `round` (purpose [`COUNCIL_SHUTDOWN`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShutdownBody {
    pub network: String,
    pub round: u64,
}

/// The governance rules a proposal is held to: those in force when it was filed, so a later change of
/// quorum or timelock never moves a vote already running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub voting_secs: u64,
    pub late_quorum_secs: u64,
    pub quorum_bps: u32,
    pub majority_bps: u32,
    pub timelock_secs: u64,
    pub veto_delay_bps: u32,
    pub veto_cancel_bps: u32,
    pub veto_extension_secs: u64,
}

impl Rules {
    pub fn of(p: &Params) -> Rules {
        let bps = |q| p.get(q).min(BPS) as u32;
        Rules {
            voting_secs: p.secs(Param::VotingSecs),
            late_quorum_secs: p.secs(Param::LateQuorumSecs),
            quorum_bps: bps(Param::QuorumBps),
            majority_bps: bps(Param::MajorityBps),
            timelock_secs: p.secs(Param::TimelockSecs).min(MAX_TIMELOCK_SECS),
            veto_delay_bps: bps(Param::VetoDelayBps),
            veto_cancel_bps: bps(Param::VetoCancelBps),
            veto_extension_secs: p.secs(Param::VetoExtensionSecs),
        }
    }
}

/// `part` is at least `bps` of `whole`.
pub(crate) fn at_least(part: u128, bps: u32, whole: u128) -> bool {
    part.saturating_mul(BPS) >= whole.saturating_mul(u128::from(bps))
}

/// Votes cast, in snapshotted power.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    #[serde(rename = "for", with = "u128_string")]
    pub yes: Amount,
    #[serde(rename = "against", with = "u128_string")]
    pub no: Amount,
    #[serde(with = "u128_string")]
    pub abstain: Amount,
}

impl Tally {
    pub fn add(&mut self, choice: Choice, power: Amount) {
        let slot = match choice {
            Choice::For => &mut self.yes,
            Choice::Against => &mut self.no,
            Choice::Abstain => &mut self.abstain,
        };
        *slot = slot.saturating_add(power);
    }

    pub fn cast(&self) -> Amount {
        self.yes
            .saturating_add(self.no)
            .saturating_add(self.abstain)
    }

    pub fn quorum(&self, r: &Rules, total: Amount) -> bool {
        total > 0 && at_least(self.cast(), r.quorum_bps, total)
    }

    /// For strictly above `majority_bps` of for and against.
    pub fn majority(&self, r: &Rules) -> bool {
        self.yes.saturating_mul(BPS)
            > self
                .yes
                .saturating_add(self.no)
                .saturating_mul(u128::from(r.majority_bps))
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Holders vote until `ends` (which a late quorum may push back).
    Voting,
    /// The vote ended without quorum or majority; the deposit returns.
    Defeated { quorum: bool },
    /// Passed; waits in the queue until it may execute.
    Queued { since: u64 },
    /// Vetoed: never executes; the deposit goes to the treasury.
    Cancelled { at: u64 },
    /// Executed once at `at`; its parameter changes are in force from epoch `effective_epoch`.
    Executed { at: u64, effective_epoch: u64 },
    /// Came to execute but could not (the values it steps from changed, the treasury cannot pay): final,
    /// the deposit returns.
    Failed { at: u64, why: String },
}

impl Phase {
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Voting => "voting",
            Phase::Defeated { .. } => "defeated",
            Phase::Queued { .. } => "queued",
            Phase::Cancelled { .. } => "cancelled",
            Phase::Executed { .. } => "executed",
            Phase::Failed { .. } => "failed",
        }
    }

    /// No further event moves it.
    pub fn is_final(&self) -> bool {
        !matches!(self, Phase::Voting | Phase::Queued { .. })
    }
}

/// A proposal and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub id: [u8; 32],
    /// 1 for the network's first proposal.
    pub number: u64,
    pub proposer: [u8; 32],
    pub title: String,
    pub actions: Vec<Action>,
    /// The signed proposal, verbatim.
    pub signed: String,
    pub deposit: Amount,
    pub filed_at: u64,
    pub rules: Rules,
    /// Every key's voting power when the proposal was filed.
    pub snapshot: BTreeMap<[u8; 32], Amount>,
    pub total_power: Amount,
    pub votes: BTreeMap<[u8; 32], Choice>,
    pub tally: Tally,
    pub voting_ends: u64,
    /// When quorum was first reached.
    pub quorum_at: Option<u64>,
    /// Council members that asked for the delay; it holds at two thirds of the term's council.
    pub delay_signers: BTreeSet<[u8; 32]>,
    pub council_delayed: bool,
    pub phase: Phase,
}

impl Proposal {
    /// When a queued proposal may execute, given the veto stake locked against it: its timelock, to
    /// its window's end if the council delayed it, and past it by the extension once the veto passes
    /// the first threshold.
    pub fn eta(&self, veto: Amount) -> Option<u64> {
        let Phase::Queued { since } = self.phase else {
            return None;
        };
        let window_end = since.saturating_add(MAX_TIMELOCK_SECS);
        let mut eta = since.saturating_add(self.rules.timelock_secs);
        if self.council_delayed {
            eta = eta.max(window_end);
        }
        if self.vetoed_to_delay(veto) {
            eta = eta.max(window_end.saturating_add(self.rules.veto_extension_secs));
        }
        Some(eta)
    }

    pub fn vetoed_to_delay(&self, veto: Amount) -> bool {
        veto > 0 && at_least(veto, self.rules.veto_delay_bps, self.total_power)
    }

    pub fn vetoed_to_cancel(&self, veto: Amount) -> bool {
        veto > 0 && at_least(veto, self.rules.veto_cancel_bps, self.total_power)
    }

    /// The parameter changes it makes, as written (checked when filed and again when executed).
    pub fn changes(&self) -> impl Iterator<Item = (&str, u128)> + '_ {
        self.actions.iter().filter_map(|a| match a {
            Action::Set { param, value } => Some((param.as_str(), *value)),
            _ => None,
        })
    }

    /// What it pays out of the treasury.
    pub fn treasury_outlay(&self) -> Amount {
        self.actions
            .iter()
            .map(|a| match a {
                Action::Spend { amount, .. } | Action::Distribute { amount } => *amount,
                _ => 0,
            })
            .fold(0u128, u128::saturating_add)
    }
}
