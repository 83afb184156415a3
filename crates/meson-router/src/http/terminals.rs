//! The terminal registry, for operators: every terminal's state, and why a terminal's usage was refused.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use meson_core::identity::NodeId;
use serde_json::json;

use crate::http::error::{bad_request, ApiError, ApiResult};
use crate::Shared;

pub(crate) async fn terminals(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    Json(json!({ "terminals": s.registry.views(s.cfg.heartbeat) }))
}

pub(crate) async fn rejections(
    State(s): State<Arc<Shared>>,
    Path(node): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id: NodeId = node
        .parse()
        .map_err(|e| bad_request(format!("{node:?} is not a node id: {e}")))?;
    if !s.registry.is_admitted(id.as_bytes()) {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no terminal {id} is registered"),
        ));
    }
    let by_reason: serde_json::Map<String, serde_json::Value> = s
        .store
        .rejections(*id.as_bytes())
        .await?
        .into_iter()
        .map(|(reason, n)| (reason, n.into()))
        .collect();
    Ok(Json(json!({ "node_id": id, "rejections": by_reason })))
}
