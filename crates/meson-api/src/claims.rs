//! Claims: a hunter's bonded evidence against a staked terminal, its life (filed, under review, decided,
//! final, or expired) and the council's signed votes on it.

use meson_core::council::Vote;
use meson_core::identity::NodeId;
use meson_core::signed::SignedMessage;
use meson_ledger::tx::Tx;
use meson_ledger::u128_string;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What a claim's evidence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClaimKind {
    /// Objective evidence (`meson_core::evidence::Evidence`): the router verifies it when filed and the
    /// claim is upheld at once.
    Objective,
    /// A probe record (`meson_core::probe::Record`): the council re-probes and votes.
    Council,
}

/// `POST /v1/claims`: evidence and the bond on it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileClaim {
    pub kind: ClaimKind,
    /// The evidence as JSON text, verbatim: its BLAKE3 is the claim's id, which the bond names.
    pub evidence: String,
    /// The hunter's signed `bond` transaction on this claim.
    #[schema(schema_with = crate::schema::signed)]
    pub bond: SignedMessage<Tx>,
}

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhaseName {
    /// Bonded, waiting for a seated council.
    Filed,
    /// The council re-probes and votes until `until`.
    UnderReview,
    /// Decided; the losing party may appeal until `until`.
    Decided,
    /// The verdict is final (and executes).
    Final,
    /// No quorum of votes in time: the bond went back.
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Upheld,
    Rejected,
}

/// A claim's phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PhaseView {
    pub phase: PhaseName,
    /// The review round (1, or 2 after an appeal), while under review or decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// When the phase began, Unix seconds.
    pub since: u64,
    /// When it ends by itself (review or appeal deadline), Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
}

/// A member's vote, with the signed message it came in (its probe record inside).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VoteView {
    pub member: NodeId,
    pub round: u8,
    pub upheld: bool,
    pub at: u64,
    #[schema(schema_with = crate::schema::signed)]
    pub signed: SignedMessage<Vote>,
}

/// The count of the current round (of the last one, for a claim no longer under review or decided).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TallyView {
    pub round: u8,
    /// Seated members who may vote: the term's members but the accused's and the hunter's keys.
    pub eligible: Vec<NodeId>,
    /// Seated members who recused (the accused's or the hunter's own key).
    pub recused: Vec<NodeId>,
    /// Votes needed either way: two thirds of the eligible, rounded up.
    pub need: u32,
    pub upheld: u32,
    pub rejected: u32,
}

/// What an executed verdict moved (tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Execution {
    /// Taken from the accused's stake (upheld).
    pub slashed: String,
    /// Of it, refunded to the cheated sites.
    pub refunded: String,
    /// The hunter's reward (the claimant's share).
    pub reward: String,
    /// The bond: returned (upheld, expired) or forfeited to the treasury (rejected).
    pub bond: String,
    pub bond_returned: bool,
}

/// `GET /v1/claims/{claim}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimDetail {
    /// The claim's id: the BLAKE3 of its evidence, 64 hex digits.
    pub claim: String,
    pub kind: ClaimKind,
    pub accused: NodeId,
    pub hunter: NodeId,
    /// Tokens.
    pub bond: String,
    /// Unix seconds.
    pub filed_at: u64,
    pub phase: PhaseView,
    /// The evidence, verbatim, at `GET /v1/claims/{claim}/evidence`.
    pub evidence_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tally: Option<TallyView>,
    pub votes: Vec<VoteView>,
    /// Once the final verdict's ledger effects are done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executed: Option<Execution>,
}

/// `GET /v1/claims`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimsQuery {
    /// Only claims whose verdict has not executed.
    #[serde(default)]
    pub open: bool,
    /// Only claims against this terminal.
    pub accused: Option<NodeId>,
    /// Only claims of this hunter.
    pub hunter: Option<NodeId>,
    /// At most this many, oldest first (default 100, at most 1000).
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimList {
    pub claims: Vec<ClaimDetail>,
}

/// A ticketed URL on the accused terminal for the claim's object, for the caller's address: fetched like
/// any client's, so the terminal cannot tell a re-probe from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProbeTicketIssued {
    pub url: String,
    pub terminal: NodeId,
    /// Unix seconds.
    pub expires: u64,
}

/// `GET /v1/ledger/claims/{claim}`: the claim's bond as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClaimView {
    /// The claim's id: the BLAKE3 of the evidence, 64 hex digits.
    pub claim: String,
    /// The accused's public key (null if the escrow's owner is not a valid key).
    pub accused: Option<NodeId>,
    /// The claim's escrow account, which holds the bond.
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub escrow_account: u128,
    /// The hunter's wallet account.
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub hunter_account: u128,
    /// Tokens.
    pub bond: String,
    /// Unix seconds.
    pub filed_at: u64,
    /// When the bond's reservation ends, Unix seconds.
    pub expires_at: u64,
    pub status: ClaimStatus,
}

/// Where a claim's bond stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClaimStatus {
    /// Reserved, waiting for the final verdict.
    Open,
    /// Back to the hunter: the claim was upheld, or reached no verdict.
    Returned,
    /// To the treasury: the claim was rejected.
    Forfeited,
    /// The reservation ran out before any verdict: the bond went back to the hunter.
    Expired,
}

impl ClaimStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Open => "open",
            ClaimStatus::Returned => "returned",
            ClaimStatus::Forfeited => "forfeited",
            ClaimStatus::Expired => "expired",
        }
    }
}
