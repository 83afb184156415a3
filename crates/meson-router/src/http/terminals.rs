//! The terminal registry, for operators: every terminal's state, and why a terminal's usage was refused.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use meson_api::terminals::{Rejections, TerminalList};
use meson_core::identity::NodeId;

use crate::http::error::{bad_request, ApiError, ApiResult, PathParam};
use crate::Shared;

#[utoipa::path(
    get, path = "/v1/terminals", tag = "terminals",
    responses((status = 200, description = "Every registered terminal, by node id", body = TerminalList))
)]
pub(crate) async fn terminals(State(s): State<Arc<Shared>>) -> Json<TerminalList> {
    Json(TerminalList {
        terminals: s.registry.views(s.cfg.heartbeat),
    })
}

#[utoipa::path(
    get, path = "/v1/terminals/{node}/rejections", tag = "terminals", params(("node" = String, Path, description = "The terminal's node id")),
    responses(
        (status = 200, description = "The terminal's refused usage records by reason", body = Rejections),
        (status = 400, description = "Not a node id"),
        (status = 404, description = "No such terminal is registered"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn rejections(
    State(s): State<Arc<Shared>>,
    PathParam(node): PathParam<String>,
) -> ApiResult<Json<Rejections>> {
    let id: NodeId = node
        .parse()
        .map_err(|e| bad_request(format!("{node:?} is not a node id: {e}")))?;
    if !s.registry.is_admitted(id.as_bytes()) {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no terminal {id} is registered"),
        ));
    }
    Ok(Json(Rejections {
        node_id: id,
        rejections: s
            .store
            .rejections(*id.as_bytes())
            .await?
            .into_iter()
            .collect(),
    }))
}
