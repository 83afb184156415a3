//! The router ⇄ terminal control protocol: the bodies of the [`crate::signed::SignedMessage`]s a terminal
//! sends, the router's replies, and the purpose string of each, so both sides and the simulator share one
//! definition. Every request is `POST`ed as JSON to the path named here on the router, versioned `/v1/`.
//!
//! | purpose / path | body | reply |
//! | --- | --- | --- |
//! | [`REGISTER`] `/v1/terminals/register` | [`Register`] | [`Registered`] |
//! | [`HEARTBEAT`] `/v1/terminals/heartbeat` | [`Heartbeat`] | [`HeartbeatReply`] |
//! | [`USAGE`] `/v1/terminals/usage` | [`UsageBatch`] | [`UsageReceipt`] |
//! | [`SITES`] `/v1/terminals/sites` | [`SitesQuery`] | [`SiteList`] |
//!
//! Purges and pushes travel back on the heartbeat: the reply carries [`Job`]s, the next heartbeat their
//! [`JobResult`]s, so a terminal needs no listener for the router beyond its public one.
//!
//! Replies are plain JSON (the router's public key is published at `GET /v1/router` as [`RouterInfo`]); an
//! error is an [`ErrorBody`], `{"error": "..."}`, with a 4xx status that says what was wrong (forged, stale, replayed, not
//! admitted...).

use serde::{Deserialize, Serialize};

use crate::identity::NodeId;

pub const REGISTER: &str = "meson/v1/register";
pub const HEARTBEAT: &str = "meson/v1/heartbeat";
pub const USAGE: &str = "meson/v1/usage";
pub const SITES: &str = "meson/v1/sites";

/// Answered by a terminal itself on its public address, never forwarded to an origin: the router's
/// reachability check and health probe.
pub const TERMINAL_HEALTH_PATH: &str = "/.well-known/meson/health";

/// Where a router publishes its identity, so terminals can check tickets offline.
pub const ROUTER_INFO_PATH: &str = "/v1/router";
pub const REGISTER_PATH: &str = "/v1/terminals/register";
pub const HEARTBEAT_PATH: &str = "/v1/terminals/heartbeat";
pub const USAGE_PATH: &str = "/v1/terminals/usage";
pub const SITES_PATH: &str = "/v1/terminals/sites";

/// Whether a request id (an `X-Request-Id` or [`RID_PARAM`](crate::keying::RID_PARAM)) is kept as sent: 1 to 64 characters from
/// `A-Z a-z 0-9 . _ -`, safe in a URL, a header and a log line. Anything else is replaced.
pub fn valid_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The body of every refusal, by both servers (the router's API and a terminal's admin API): a 4xx or
/// 5xx status with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What was wrong, for a person to read.
    pub error: String,
}

impl ErrorBody {
    pub fn new(error: impl Into<String>) -> Self {
        ErrorBody {
            error: error.into(),
        }
    }
}

/// `GET /v1/router`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RouterInfo {
    pub id: NodeId,
    pub version: String,
    /// How often terminals should send heartbeats.
    pub heartbeat_secs: u64,
}

/// A terminal asks to join. The router admits it only after reaching it back on `public_url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Register {
    /// Base URL clients are redirected to, e.g. `http://203.0.113.7:8080`.
    pub public_url: String,
    pub capacity_bytes: u64,
    /// Hierarchical region such as `eu/west`, if the operator declared one.
    pub region: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// What `GET /v1/admin/hardware` reports, as free-form JSON.
    pub hardware: serde_json::Value,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Registered {
    pub router: NodeId,
    pub heartbeat_secs: u64,
    /// The region the router placed the terminal in (declared, or from the coverage zones).
    pub region: Option<String>,
}

/// Signed load and health report, every `heartbeat_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Heartbeat {
    pub active_connections: u64,
    pub egress_bytes_per_sec: u64,
    pub free_disk_bytes: u64,
    pub disk_full: bool,
    pub objects: u64,
    pub used_bytes: u64,
    /// A compact summary of the content held: BLAKE3 of the number of slices and the XOR of their roots.
    pub roots_digest: String,
    /// The operator is taking the node out of rotation (`meson-cdn terminal drain`).
    pub draining: bool,
    pub version: String,
    /// Jobs finished since the last heartbeat.
    pub done: Vec<JobResult>,
    /// Pieces of content stored since the last heartbeat (at most a few thousand: the router keeps a
    /// sample to audit), and the roots of those it no longer holds.
    #[serde(default)]
    pub added: Vec<HeldPiece>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub evicted: Vec<crate::content::Root>,
}

/// A piece of content a terminal stores: a whole object or one slice of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldPiece {
    /// The object: [`crate::ticket::object_digest`] of its cache key, 32 hex digits.
    pub object: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub root: crate::content::Root,
    pub len: u64,
    /// The origin's version of the object as the terminal stored it ([`crate::evidence::origin_version`]);
    /// absent from older terminals, and when the origin named none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatReply {
    /// Whether the router currently sends clients to this terminal.
    pub in_rotation: bool,
    /// Changes whenever a site is added, changed or removed: a terminal that saw another value fetches
    /// the list again from [`SITES_PATH`].
    pub sites_version: u64,
    /// Work for the terminal (purges, pushes): it reports each in [`Heartbeat::done`]. A job not
    /// confirmed is sent again after a few intervals, so jobs must be safe to repeat.
    pub jobs: Vec<Job>,
    /// Why the router keeps the terminal out of rotation for its audits, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<String>,
}

/// Work the router hands a terminal with a heartbeat reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: u64,
    pub site: u64,
    pub action: JobAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobAction {
    /// Remove the site's cached objects in scope.
    Purge(PurgeScope),
    /// Fetch `path` (path and query) from the site's origin and keep it only if its BLAKE3 root is
    /// `root`, fresh for `ttl_secs`.
    Push {
        path: String,
        root: String,
        ttl_secs: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PurgeScope {
    /// One URL path (and query), every variant.
    Url(String),
    /// Every URL whose path starts with this.
    Prefix(String),
    /// Every object the origin tagged with this `Cache-Tag` / `Surrogate-Key`.
    Tag(String),
    /// Everything of the site.
    All,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobResult {
    pub id: u64,
    pub ok: bool,
    /// What was done (objects purged, bytes pushed) or why it failed.
    pub detail: String,
}

/// Bytes served under one redirect ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageRecord {
    /// The ticket as the client presented it; the router checks its own signature on it, which proves it
    /// issued this serial to this terminal.
    pub ticket: String,
    /// Body bytes sent to clients under this ticket.
    pub bytes: u64,
    /// Requests served under it (a player's range requests share one ticket), and how many of them
    /// were answered from the cache (HIT, STALE, REVALIDATED).
    pub requests: u64,
    pub hits: u64,
    /// Unix seconds of the first request.
    pub served_at: u64,
    /// The origin's version of what was served ([`crate::evidence::origin_version`]): the router judges
    /// the bytes against that version's size. Absent from older terminals, and when the origin named
    /// none: such a record is judged against the largest known version and is never evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageBatch {
    pub records: Vec<UsageRecord>,
}

/// The router's answer, sent only after accepted records are durable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageReceipt {
    pub accepted: u64,
    /// Serials already taken before (a resent batch): not counted again, not an error.
    pub duplicate: u64,
    /// Stored but not counted yet: the router does not know the object's size yet, and counts each
    /// record once it does (or refuses it, if it claims more than the object has). Nothing to resend.
    #[serde(default)]
    pub held: u64,
    /// Refused records by reason (forged ticket, another terminal's ticket, bytes over the object size...).
    pub rejected: Vec<(String, u64)>,
}

/// A terminal asks which sites it serves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SitesQuery {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteInfo {
    pub id: u64,
    pub host: String,
    pub origin: String,
    pub default_ttl_secs: Option<u64>,
    /// How the query string enters the cache key.
    pub query_mode: crate::keying::QueryMode,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteList {
    pub sites: Vec<SiteInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NodeKey;
    use crate::signed::{ReplayGuard, SignedMessage};

    #[test]
    fn a_signed_heartbeat_round_trips_through_json() {
        let key = NodeKey::from_secret_bytes([7; 32]);
        let hb = Heartbeat {
            active_connections: 3,
            egress_bytes_per_sec: 1000,
            free_disk_bytes: 1 << 30,
            disk_full: false,
            objects: 12,
            used_bytes: 4096,
            roots_digest: "ab".repeat(32),
            draining: false,
            version: "0.1.0".into(),
            done: vec![JobResult {
                id: 3,
                ok: true,
                detail: "purged 2 objects".into(),
            }],
            added: vec![HeldPiece {
                object: "ab".repeat(16),
                root: crate::content::Root([3; 32]),
                len: 10,
                version: Some("\"v1\"".into()),
            }],
            evicted: vec![crate::content::Root([4; 32])],
        };
        let msg = SignedMessage::sign(&key, HEARTBEAT, 1000, [1; 16], &hb).unwrap();
        let json = serde_json::to_string(&msg).unwrap();
        let back: SignedMessage<Heartbeat> = serde_json::from_str(&json).unwrap();
        let mut guard = ReplayGuard::new(30, 1000);
        let v = back.verify(HEARTBEAT, 1010, &mut guard).unwrap();
        assert_eq!((v.signer, v.body), (key.id(), hb));
        let as_usage: SignedMessage<UsageBatch> = serde_json::from_str(&json).unwrap();
        assert!(
            as_usage.verify(USAGE, 1010, &mut guard).is_err(),
            "a heartbeat never passes as usage"
        );
    }
}
