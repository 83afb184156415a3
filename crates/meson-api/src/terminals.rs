//! The registry, for operators: every terminal and why its usage records were refused.

use std::collections::BTreeMap;

use meson_core::identity::NodeId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A terminal's health as the router sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    /// Two heartbeat intervals without a heartbeat, or the last probe failed: out of rotation.
    Suspect,
    /// Three intervals without a heartbeat (or none since the router started).
    Down,
}

/// What `GET /v1/terminals` shows of one terminal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TerminalView {
    pub node_id: String,
    /// The node id's short form (16 hex digits), as tickets carry it.
    pub short_id: String,
    pub public_url: String,
    pub region: String,
    pub capacity_bytes: u64,
    pub state: Health,
    pub draining: bool,
    /// Whether clients are sent to it now.
    pub in_rotation: bool,
    /// Holds the minimum stake the router requires (see `--min-stake`).
    pub staked: bool,
    /// Its disk is full, by its last heartbeat: pushes are placed elsewhere.
    #[serde(default)]
    pub disk_full: bool,
    /// Free bytes on its disk, by its last heartbeat.
    #[serde(default)]
    pub free_disk_bytes: u64,
    /// Seconds since the last heartbeat; null if none since the router started.
    pub last_heartbeat_age_secs: Option<f64>,
    /// Active connections at the last heartbeat plus redirects sent to it since.
    pub load: u64,
}

/// `GET /v1/terminals`: every registered terminal, by node id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TerminalList {
    pub terminals: Vec<TerminalView>,
}

/// `GET /v1/terminals/{node}/rejections`: the terminal's refused usage records, counted by reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rejections {
    pub node_id: NodeId,
    pub rejections: BTreeMap<String, u64>,
}
