//! Governance: the parameter registry in force, proposals, votes, the queue and the shutdown.
//! Parameter values travel as decimal strings of the parameter's unit (base units, basis points,
//! seconds, …); token amounts as decimal token strings.

use meson_core::identity::NodeId;
use meson_ledger::governance::Action;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One parameter of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParamView {
    pub name: String,
    /// `base units`, `base units per GiB`, `basis points`, `seconds`, `milliseconds`, `count`, `bytes`.
    pub unit: String,
    /// In force now.
    pub value: String,
    pub default: String,
    /// The hard bounds no vote can cross.
    pub min: String,
    pub max: String,
    /// The most one proposal moves it: `fixed` (never), `±N` or `×N`.
    pub step: String,
    pub about: String,
}

/// Parameter changes executed and in force from `epoch` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScheduledChange {
    pub epoch: u64,
    /// `(name, value)` pairs.
    pub values: Vec<(String, String)>,
}

/// `GET /v1/gov/params`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParamsView {
    /// The epoch running now, whose values these are.
    pub epoch: u64,
    pub params: Vec<ParamView>,
    /// Every executed change, oldest first; those of a later epoch are not in force yet.
    pub changes: Vec<ScheduledChange>,
}

/// Votes cast, in tokens of snapshotted power.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TallyView {
    #[serde(rename = "for")]
    pub yes: String,
    pub against: String,
    pub abstain: String,
}

/// A proposal and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProposalView {
    /// 64 hex digits.
    pub id: String,
    pub number: u64,
    pub proposer: NodeId,
    pub title: String,
    pub actions: Vec<Action>,
    /// `voting`, `defeated`, `queued`, `cancelled`, `executed`, `failed`.
    pub phase: String,
    /// Why it was defeated or failed, when it was cancelled or executed.
    pub detail: String,
    /// Tokens reserved from the proposer, returned unless a veto cancels the proposal.
    pub deposit: String,
    pub filed_at: u64,
    /// When the vote ends (a late quorum pushes it back).
    pub voting_ends: u64,
    pub tally: TallyView,
    /// Tokens of voting power in the snapshot taken at filing.
    pub total_power: String,
    pub voters: u64,
    /// Quorum and majority as filed, in basis points.
    pub quorum_bps: u32,
    pub majority_bps: u32,
    pub quorum_reached: bool,
    /// Tokens locked in its veto escrow, and the thresholds that delay and cancel it.
    pub veto: String,
    pub veto_delay_at: String,
    pub veto_cancel_at: String,
    pub council_delayed: bool,
    /// When a queued proposal may execute (Unix seconds), given the veto and the council.
    pub eta: Option<u64>,
    /// The epoch from which an executed proposal's changes are in force.
    pub effective_epoch: Option<u64>,
    /// The signed proposal, verbatim.
    pub signed: String,
}

/// `GET /v1/gov/proposals`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProposalsQuery {
    /// Only proposals in this phase (`voting`, `queued`, …).
    pub phase: Option<String>,
    /// At most this many, newest first (default 50, at most 500).
    pub limit: Option<usize>,
}

/// `GET /v1/gov/proposals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProposalList {
    pub proposals: Vec<ProposalView>,
}

/// A shutdown that took effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShutdownView {
    pub round: u64,
    pub since: u64,
    pub until: u64,
    pub by_council: bool,
}

/// `GET /v1/gov/shutdown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShutdownStatus {
    /// The shutdown in force now, if any.
    pub active: Option<ShutdownView>,
    /// The round locks and council signals go to now.
    pub open_round: u64,
    /// Tokens locked in the open round's escrow, and how many it takes.
    pub locked: String,
    pub needed: String,
    /// Council members that signalled for the open round.
    pub signals: u64,
    pub history: Vec<ShutdownView>,
}
