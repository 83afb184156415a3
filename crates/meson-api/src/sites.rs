//! The caller's sites (`Authorization: Bearer <api_key>`): add, list, remove, usage per hour, purges and
//! pushes, and the jobs that carry them to the terminals.

use meson_core::wire::JobAction;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /v1/sites`: clients asking for `host` are served `origin`'s content. Answered with the
/// [`SiteInfo`](meson_core::wire::SiteInfo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SiteRequest {
    /// A DNS name: letters, digits, `-` and `.`, no port.
    pub host: String,
    /// `http://` or `https://` with a host and no path: terminals append the request's path.
    pub origin: String,
    /// Freshness in seconds for answers that carry no caching headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ttl_secs: Option<u64>,
    /// How the query string enters the cache key: `keep` (the default), `ignore` or `sort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<meson_core::keying::QueryMode>)]
    pub query_mode: Option<String>,
}

/// `GET /v1/sites/{host}/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// How many hours back from now (default 24, at most 31 days).
    pub hours: Option<u64>,
}

/// Accepted usage: redirect tickets, requests served under them, cache hits among those, bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    /// Accepted records: one per redirect ticket.
    pub tickets: u64,
    pub requests: u64,
    /// Requests answered from a terminal's cache.
    pub hits: u64,
    /// `hits / requests`, 0 without requests.
    pub hit_ratio: f64,
    pub bytes: u64,
}

/// One hour of a site's accepted usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HourUsage {
    /// Unix seconds, a multiple of 3600.
    pub hour_start: u64,
    #[serde(flatten)]
    pub usage: Usage,
}

/// A site's accepted usage from `from` to `to` (Unix seconds), in total and per hour with usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SiteStats {
    pub host: String,
    pub from: u64,
    pub to: u64,
    #[serde(flatten)]
    pub total: Usage,
    pub hours: Vec<HourUsage>,
}

/// `POST /v1/sites/{host}/purge`: exactly one of `url`, `prefix`, `tag` or `all: true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// One URL path (with its query), every variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Every URL whose path starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Every object the origin tagged with this `Cache-Tag` / `Surrogate-Key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Everything of the site.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

/// `POST /v1/sites/{host}/push`: place an object on the terminals each region's clients are sent to for
/// it, kept only if its BLAKE3 root is `root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// URL path (with its query), starting with `/`.
    pub path: String,
    /// The object's BLAKE3 root, hex.
    pub root: String,
    /// Seconds the object stays fresh.
    pub ttl_secs: u64,
}

/// A purge or push accepted (`202`): follow it at `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobStarted {
    pub job: u64,
    /// How many terminals must confirm it.
    pub terminals: usize,
    /// Where the job's progress is: `/v1/jobs/{job}`.
    pub status: String,
}

/// Where a job stands on one terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetState {
    /// Not yet handed to the terminal.
    Queued,
    /// Handed over in a heartbeat reply, not yet confirmed.
    Sent,
    Done,
    Failed,
}

impl TargetState {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Queued => "queued",
            TargetState::Sent => "sent",
            TargetState::Done => "done",
            TargetState::Failed => "failed",
        }
    }

    /// The terminal confirmed the job, successfully or not.
    pub fn confirmed(self) -> bool {
        matches!(self, TargetState::Done | TargetState::Failed)
    }
}

/// One terminal a job must reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TargetView {
    pub node_id: String,
    pub state: TargetState,
    /// What the terminal did (objects purged, bytes pushed) or why it failed, once confirmed.
    pub detail: Option<String>,
}

/// `GET /v1/jobs/{id}`: a purge or push of the caller's, with each terminal's confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: u64,
    /// The site's host.
    pub site: String,
    pub action: JobAction,
    /// Unix seconds.
    pub created: u64,
    /// Every target confirmed (successfully or not).
    pub complete: bool,
    pub confirmed: usize,
    pub failed: usize,
    pub terminals: Vec<TargetView>,
}
