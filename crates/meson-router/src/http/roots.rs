//! What a site's owner tells the router of its objects (`POST /v1/sites/{host}/roots`) and what the router
//! knows of them from any source (`GET`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use meson_api::verification::{KnownObject, KnownObjects, LimitQuery, RootsRecorded, RootsRequest};
use meson_core::content::{ObjectRoots, Root};

use crate::http::error::{bad_request, store_error, ApiResult, JsonBody, PathParam, QueryParams};
use crate::services::{roots, sites};
use crate::Shared;

fn parse_root(what: &str, hex: &str) -> ApiResult<Root> {
    hex.parse().map_err(|e| bad_request(format!("{what}: {e}")))
}

/// The API's view of a stored object version.
pub(crate) fn view(k: &meson_store::KnownObject) -> KnownObject {
    KnownObject {
        path: k.path.clone(),
        version: k.version.clone(),
        size: k.size,
        root: Root(k.root).to_string(),
        slice_roots: k.slice_roots.iter().map(|r| Root(*r).to_string()).collect(),
        source: k.source.as_str().to_owned(),
        learned_at: k.learned_at,
    }
}

#[utoipa::path(
    post, path = "/v1/sites/{host}/roots", tag = "sites", params(("host" = String, Path, description = "The site's host")),
    request_body = RootsRequest, security(("api_key" = [])),
    responses(
        (status = 201, description = "The object as the router now knows it, and the held usage it settled", body = RootsRecorded),
        (status = 400, description = "The path, size or a root is not valid"),
        (status = 404, description = "No such site in this account"),
    )
)]
pub(crate) async fn push_roots(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    PathParam(host): PathParam<String>,
    JsonBody(req): JsonBody<RootsRequest>,
) -> ApiResult<(StatusCode, Json<RootsRecorded>)> {
    let site = sites::owned_site(&s, &headers, &host).await?;
    if !req.path.starts_with('/') {
        return Err(bad_request(format!(
            "path {:?} must start with /",
            req.path
        )));
    }
    let keyed = meson_core::keying::keyed_url(&req.path, site.query_mode)
        .map_err(|e| bad_request(format!("path: {e}")))?;
    let roots = ObjectRoots {
        size: req.size,
        root: parse_root("root", &req.root)?,
        slices: req
            .slice_roots
            .iter()
            .map(|r| parse_root("slice root", r))
            .collect::<ApiResult<_>>()?,
    };
    let (object, released) = roots::push(&s, &site, keyed, req.version, roots).await?;
    Ok((
        StatusCode::CREATED,
        Json(RootsRecorded {
            object: view(&object),
            released: released.accepted,
            inflated: released.inflated,
        }),
    ))
}

#[utoipa::path(
    get, path = "/v1/sites/{host}/roots", tag = "sites", params(("host" = String, Path, description = "The site's host"), LimitQuery), security(("api_key" = [])),
    responses(
        (status = 200, description = "The objects the router knows of the site, most recent first", body = KnownObjects),
        (status = 404, description = "No such site in this account"),
    )
)]
pub(crate) async fn known_roots(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    PathParam(host): PathParam<String>,
    QueryParams(q): QueryParams<LimitQuery>,
) -> ApiResult<Json<KnownObjects>> {
    let site = sites::owned_site(&s, &headers, &host).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let objects = s
        .store
        .list_known_objects(site.id, limit)
        .await
        .map_err(store_error)?;
    Ok(Json(KnownObjects {
        host: site.host,
        objects: objects.iter().map(view).collect(),
    }))
}
