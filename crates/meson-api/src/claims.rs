//! Claims: a hunter's bond on evidence against a staked key, and the verdict that resolves it once.

use meson_core::identity::NodeId;
use meson_ledger::u128_string;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClaimStatus {
    /// Waiting for its verdict.
    Open,
    /// The accused was slashed and the bond returned.
    Upheld,
    /// The bond went to the treasury.
    Rejected,
    /// The dispute window closed without a verdict: the bond went back to the hunter.
    Expired,
}

impl ClaimStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Open => "open",
            ClaimStatus::Upheld => "upheld",
            ClaimStatus::Rejected => "rejected",
            ClaimStatus::Expired => "expired",
        }
    }
}

/// `GET /v1/ledger/claims/{claim}`: the claim's accused, hunter, bond, window and status.
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
    /// When the dispute window closes, Unix seconds.
    pub expires_at: u64,
    pub status: ClaimStatus,
}

/// `POST /v1/ledger/claims/{claim}/verdict` (operator, until the council judges).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictRequest {
    pub upheld: bool,
    /// For an upheld claim: tokens of the accused's stake to slash (at most what is at stake is taken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slash: Option<String>,
}

/// The shares of a slash (tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SlashShares {
    /// Taken from the stake.
    pub amount: String,
    /// To the hunter.
    pub claimant: String,
    pub burned: String,
    pub treasury: String,
}

/// Why an upheld claim slashed nothing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum NoSlash {
    /// The evidence slashed before (a verdict given again, or the operator's own slash).
    #[serde(rename = "before")]
    Before,
    #[serde(rename = "nothing at stake")]
    NothingAtStake,
}

/// What an upheld claim slashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum VerdictSlash {
    Slashed(SlashShares),
    Not(NoSlash),
}

/// What a verdict did, by `verdict`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    /// The accused's stake was slashed (the hunter paid as claimant) and the bond returned.
    Upheld {
        slashed: VerdictSlash,
        /// Tokens.
        bond_returned: String,
    },
    /// The bond was forfeited to the treasury.
    Rejected {
        /// Tokens.
        forfeited: String,
        /// The treasury's account.
        #[serde(with = "u128_string")]
        #[schema(value_type = String)]
        to: u128,
    },
}
