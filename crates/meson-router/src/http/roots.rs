//! What a site's owner tells the router of its objects (`POST /v1/sites/{host}/roots`) and what the router
//! knows of them from any source (`GET`), and the router's signed statement of one object for anyone
//! (`GET /v1/sites/{host}/known?path=`), which hunters check what terminals serve against.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use meson_api::verification::{
    KnownObject, KnownObjects, KnownQuery, LimitQuery, RootsRecorded, RootsRequest,
};
use meson_core::content::{ObjectRoots, Root};
use meson_core::evidence;
use meson_core::signed::SignedMessage;

use crate::http::error::{
    bad_request, store_error, ApiError, ApiResult, JsonBody, PathParam, QueryParams,
};
use crate::services::{roots, sites, slashing};
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

#[utoipa::path(
    get, path = "/v1/sites/{host}/known", tag = "sites", params(("host" = String, Path, description = "The site's host"), KnownQuery),
    responses(
        (status = 200, description = "The router's signed statement of the object's latest version (learned from the origin if it fetched it, else pushed by the owner)", content_type = "application/json", body = inline(Object)),
        (status = 400, description = "Not a path"),
        (status = 404, description = "No such site, or the router knows nothing of the object"),
    )
)]
pub(crate) async fn known(
    State(s): State<Arc<Shared>>,
    PathParam(host): PathParam<String>,
    QueryParams(q): QueryParams<KnownQuery>,
) -> ApiResult<Json<SignedMessage<evidence::KnownObject>>> {
    let not_found = |what: String| ApiError(StatusCode::NOT_FOUND, what);
    let site = s
        .sites
        .get(&host.to_ascii_lowercase())
        .ok_or_else(|| not_found(format!("no site {host:?}")))?;
    let (path, query) = q
        .path
        .split_once('?')
        .map_or((q.path.as_str(), None), |(p, q)| (p, Some(q)));
    let normalized =
        meson_core::path::normalize(path).map_err(|e| bad_request(format!("path: {e}")))?;
    let params = meson_core::keying::client_params(query);
    let keyed = meson_core::keying::keyed_path(&normalized, &params, site.query_mode);
    let object = meson_core::ticket::object_digest(
        meson_core::keying::cache_key(&site.host, &keyed).as_bytes(),
    );
    let versions = s.store.known_objects(object).await.map_err(store_error)?;
    // The origin's word over the owner's, then the latest.
    let best = versions
        .iter()
        .filter(|k| k.site_id == site.id)
        .max_by_key(|k| (k.source == meson_store::RootSource::Origin, k.learned_at))
        .ok_or_else(|| not_found(format!("the router knows nothing of {}", q.path)))?;
    Ok(Json(slashing::statement(&s, best)?))
}
