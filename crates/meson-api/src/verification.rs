//! What the router verifies and what it found: the objects it knows independently of terminals (sizes and
//! roots a site owner pushes or its own origin fetch learns), spot-check audits of each terminal, and the
//! evidence it keeps (terminal-signed records that contradict what it knows).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /v1/sites/{host}/roots` (site owner): what the owner publishes at `path`. `meson-cdn site roots`
/// computes it from the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RootsRequest {
    /// Path and query, as clients request it; keyed like a request (normalised, query per the site's mode).
    pub path: String,
    pub size: u64,
    /// BLAKE3 of the whole body, 64 hex digits (what `b3sum` prints).
    pub root: String,
    /// For an object larger than the network's slice size (4 MiB), the BLAKE3 of each 4 MiB slice, in
    /// order; without them only the whole object can be audited.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slice_roots: Vec<String>,
    /// The origin's version of the object (its `ETag`, else `Last-Modified`); empty if it has none.
    #[serde(default)]
    pub version: String,
}

/// One version of an object as the router knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KnownObject {
    /// The keyed path (path and query as cache keys have them).
    pub path: String,
    pub version: String,
    pub size: u64,
    pub root: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slice_roots: Vec<String>,
    /// `origin` (the router's own fetch) or `owner` (pushed by the site's owner).
    pub source: String,
    /// Unix seconds.
    pub learned_at: u64,
}

/// The answer to [`RootsRequest`]: what is now known, and the held usage it settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RootsRecorded {
    pub object: KnownObject,
    /// Held usage records of the object now counted.
    pub released: u64,
    /// Held usage records refused for claiming more bytes than the object has.
    pub inflated: u64,
}

/// `GET /v1/sites/{host}/roots?limit=N` (site owner): the site's known objects, most recent first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KnownObjects {
    pub host: String,
    pub objects: Vec<KnownObject>,
}

/// A page size (default 100, at most 1000).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    pub limit: Option<usize>,
}

/// A usage record the router refused because it claimed more bytes than the object has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageEvidence {
    pub serial: u64,
    pub site_id: i64,
    /// The ticket's object digest, 32 hex digits.
    pub object_key: String,
    pub claimed: u64,
    /// The object's size as the router knew it.
    pub size: u64,
    /// The terminal's signed usage batch holding the record, as received (a `SignedMessage` in JSON):
    /// anyone can check its signature and find the record by its ticket's serial.
    pub signed_batch: String,
    pub received_at: u64,
}

/// How one spot check ended: `pass`, `fail` (the signed proof did not verify), `missing` (content the
/// terminal reported holding, not produced), `not_held` (an object it was sent clients for, which it does
/// not hold) or `timeout` (no valid signed answer in time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Audit {
    pub epoch: u64,
    /// Unix seconds.
    pub at: u64,
    /// The piece of content challenged (whole object or slice).
    pub root: String,
    pub group: u64,
    pub outcome: String,
    pub detail: String,
    /// For a failure: the terminal's signed answer (`SignedMessage<Answer>` JSON, embedding the router's
    /// signed challenge), which `meson_core::audit::judge` re-checks against the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// A terminal's audits in one epoch, by outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEpoch {
    pub epoch: u64,
    pub pass: u64,
    pub fail: u64,
    pub missing: u64,
    pub not_held: u64,
    pub timeout: u64,
}

/// `GET /v1/terminals/{node}/audits?epochs=N`: a terminal's standing from audits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TerminalAudits {
    pub node_id: String,
    /// Seconds per audit epoch.
    pub epoch_secs: u64,
    pub epoch: u64,
    /// Audits passed since the terminal joined.
    pub passed: u64,
    /// `vetting` (new: limited traffic until it passed enough audits), `vetted`, `suspended` (its pass
    /// rate is below the threshold: back once it recovers) or `disqualified` (objective evidence against
    /// it: out for good).
    pub standing: String,
    /// Share of passes among the counted audits (pass, fail, missing, timeout) of its latest audits
    /// (whole epochs back until enough are counted); null without any.
    pub pass_rate: Option<f64>,
    /// Why the terminal is out of rotation (suspended or disqualified), if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<String>,
    /// Entries in the router's bounded samples of what the terminal should hold (at most 256 each): objects
    /// it was sent clients for, and pieces it reported holding and has not reported evicted.
    pub routed_sample: u64,
    pub claimed_sample: u64,
    /// The last `N` epochs with audits (default 24), oldest first.
    pub epochs: Vec<AuditEpoch>,
    /// The latest audits, newest first.
    pub recent: Vec<Audit>,
}

/// `GET /v1/terminals/{node}/audits`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EpochsQuery {
    pub epochs: Option<u64>,
}

/// `GET /v1/terminals/{node}/evidence`: what the terminal signed that contradicts what the router knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Evidence {
    pub node_id: String,
    pub usage: Vec<UsageEvidence>,
    pub audits: Vec<Audit>,
}

/// One piece of objective evidence against a terminal and its slash (`GET /v1/terminals/{node}/slashes`);
/// the evidence itself is at `GET /v1/evidence/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SlashView {
    /// BLAKE3 of the evidence's canonical JSON.
    pub id: crate::Hash32,
    /// `audit_failed`, `usage_over_size`, `serial_twice` or `root_mismatch`.
    pub kind: String,
    /// The epochs of its earliest and latest signed messages: the affected epochs.
    pub first_epoch: u64,
    pub epoch: u64,
    pub recorded_at: u64,
    /// `slashed`, `nothing_at_stake` or `before` (slashed through `POST /v1/ledger/slash`); absent while
    /// the slash has not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Tokens taken from the stake, and of them refunded to the cheated sites.
    pub slashed: String,
    pub refunded: String,
}

/// `GET /v1/terminals/{node}/slashes`: the objective evidence against a terminal, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TerminalSlashes {
    pub node_id: String,
    pub slashes: Vec<SlashView>,
}

/// `GET /v1/sites/{host}/known`: which object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KnownQuery {
    /// The object's path as a client asks the router for it (with its query, if any).
    pub path: String,
}
