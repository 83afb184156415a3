//! The council's terms and who locked stake for one.

use meson_core::identity::NodeId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /v1/council/term`: the current term, its bounds and the least stake (terms are numbered from the
/// Unix epoch: term `n` runs `[n·term_secs, (n+1)·term_secs)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CouncilTerm {
    pub term: u64,
    pub term_secs: u64,
    /// Unix seconds.
    pub start: u64,
    pub end: u64,
    /// Tokens a member locks at least.
    pub min_stake: String,
    /// When stake locked for this term returns to its owner, Unix seconds.
    pub release_at: u64,
}

/// `GET /v1/council/stakes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StakesQuery {
    /// The term (default: the current one).
    pub term: Option<u64>,
}

/// One member's stake for a term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CouncilMember {
    pub member: NodeId,
    /// Tokens.
    pub locked: String,
}

/// Who locked stake for a term, largest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CouncilStakes {
    pub term: u64,
    pub release_at: u64,
    pub members: Vec<CouncilMember>,
}
