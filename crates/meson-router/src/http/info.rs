//! The router's identity, which terminals and wallets fetch to check its signatures offline.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use meson_core::wire::{self, RouterInfo};

use crate::Shared;

/// The router's identity, so terminals can check tickets offline.
#[utoipa::path(
    get,
    path = wire::ROUTER_INFO_PATH,
    tag = "router",
    responses((status = 200, description = "The router's public key and version", body = RouterInfo))
)]
pub(crate) async fn router_info(State(s): State<Arc<Shared>>) -> Json<RouterInfo> {
    Json(RouterInfo {
        id: s.id,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        heartbeat_secs: s.heartbeat_secs(),
    })
}
