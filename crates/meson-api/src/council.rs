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

/// A seated member of a term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Seat {
    pub member: NodeId,
    /// Tokens of approval it was elected with.
    pub approval: String,
}

/// One candidate in an election's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Candidate {
    pub candidate: NodeId,
    /// Tokens of voting power that approve it.
    pub approval: String,
    /// Tokens it locked as council stake for the term (a seat needs at least the least council stake).
    pub locked: String,
    /// Whether the count as it stands seats it.
    pub seated: bool,
}

/// `GET /v1/council/elections/{term}`: an election's window, snapshot and count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ElectionView {
    pub term: u64,
    /// Unix seconds: ballots are taken in `[opens_at, closes_at)`.
    pub opens_at: u64,
    pub closes_at: u64,
    /// When the snapshot of voting power was taken (null before the election opened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<u64>,
    /// BLAKE3 of the snapshot, as logged in the ledger's audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_digest: Option<String>,
    /// Keys with voting power in the snapshot.
    pub voters: u64,
    pub ballots: u64,
    pub seats: u32,
    /// Candidates by approval, largest first.
    pub count: Vec<Candidate>,
}

/// One key's voting power in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Power {
    pub key: NodeId,
    /// Tokens.
    pub power: String,
}

/// `GET /v1/council/elections/{term}/snapshot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotView {
    pub term: u64,
    pub opened_at: u64,
    pub digest: String,
    pub powers: Vec<Power>,
}

/// `POST /v1/council/elections/{term}/ballots`: what the ballot counts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BallotAccepted {
    pub term: u64,
    pub voter: NodeId,
    /// Tokens of voting power in the election's snapshot.
    pub power: String,
    pub candidates: Vec<NodeId>,
}

/// `GET /v1/council`: the seated council of the current term and the election of the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CouncilView {
    pub term: u64,
    /// Unix seconds.
    pub start: u64,
    pub end: u64,
    pub seats: u32,
    /// Null while the term is not seated (no election decided it yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Seat>>,
    pub next: ElectionView,
}
