//! Where a site's traffic comes from and what of it is withheld: the owner's view per terminal and per
//! client prefix (`GET /v1/sites/{host}/traffic`), and the operator's review of usage withheld by the
//! share cap (`/v1/usage/withheld`).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /v1/sites/{host}/traffic`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrafficQuery {
    /// The epoch (default: the current one).
    pub epoch: Option<u64>,
    /// How many client prefixes to list one by one, largest first (default 20, at most 1000); the rest
    /// are summed.
    pub top: Option<usize>,
}

/// Accepted usage from one source, and what of it is not paid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Traffic {
    /// Accepted records: one per redirect ticket.
    pub tickets: u64,
    pub requests: u64,
    pub bytes: u64,
    /// Of `bytes`: withheld by the share cap, awaiting the operator's review (not charged).
    pub withheld_bytes: u64,
    /// Of `bytes`: withheld and then rejected by the operator (never charged).
    pub rejected_bytes: u64,
}

impl Traffic {
    pub fn add(&mut self, other: &Traffic) {
        self.tickets += other.tickets;
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.withheld_bytes += other.withheld_bytes;
        self.rejected_bytes += other.rejected_bytes;
    }
}

/// A terminal's share of the site's traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TerminalTraffic {
    pub node_id: String,
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// A client prefix's share of the site's traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrefixTraffic {
    /// The /24 (IPv4) or /48 (IPv6) the tickets were issued for, such as `192.0.2.0/24`; `unknown` for
    /// usage stored before prefixes were.
    pub prefix: String,
    #[serde(flatten)]
    pub traffic: Traffic,
}

/// `GET /v1/sites/{host}/traffic?epoch=N&top=M` (site owner): one epoch's accepted usage, as settlement
/// counts it (a released record in the epoch it was released), per terminal and per client prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SiteTraffic {
    pub host: String,
    pub epoch: u64,
    /// Seconds per epoch: the billing epoch (an hour without billing).
    pub epoch_secs: u64,
    #[serde(flatten)]
    pub total: Traffic,
    /// Every terminal that served the site in the epoch, most bytes first.
    pub terminals: Vec<TerminalTraffic>,
    /// The top client prefixes, most bytes first.
    pub prefixes: Vec<PrefixTraffic>,
    /// How many prefixes are not listed, and their traffic summed.
    pub other_prefixes: u64,
    pub other: Traffic,
}

/// `GET /v1/usage/withheld` (operator).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithheldQuery {
    /// `withheld` (awaiting review, the default), `released`, `rejected` or `all`.
    pub state: Option<String>,
    /// At most this many records (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// A usage record withheld by the share cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WithheldUsage {
    /// The ticket's serial: the record's id.
    pub serial: u64,
    pub site: String,
    pub node_id: String,
    pub prefix: String,
    pub bytes: u64,
    pub requests: u64,
    /// Unix seconds, as the terminal reported.
    pub served_at: u64,
    /// The epoch whose settlement withheld it.
    pub epoch: u64,
    pub reason: String,
    /// `withheld` (awaiting review), `released` (paid in the epoch it was released) or `rejected`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_at: Option<u64>,
}

/// The answer to `GET /v1/usage/withheld`, latest epoch first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WithheldList {
    pub records: Vec<WithheldUsage>,
}

/// `release` (pay it, in the epoch of the release) or `reject` (never pay it; nothing is slashed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReviewAction {
    Release,
    Reject,
}

/// `POST /v1/usage/withheld/{serial}` (operator): one record's review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewRequest {
    pub action: ReviewAction,
}

/// `POST /v1/usage/withheld` (operator): the review of everything one epoch's settlement withheld of one
/// terminal's usage for one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupReviewRequest {
    pub action: ReviewAction,
    pub site: String,
    pub node_id: String,
    pub epoch: u64,
}

/// What a review did. Reviewing again changes nothing (`changed` 0, the records counted in `already`);
/// records decided the other way before are left as they are (`other`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reviewed {
    pub action: ReviewAction,
    pub changed: u64,
    pub bytes: u64,
    pub already: u64,
    pub other: u64,
}
