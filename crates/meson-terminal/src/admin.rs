//! The admin listener: `/healthz`, `/metrics`, and the operator API under `/v1/admin/` (bearer token from
//! `DATA_DIR/admin.token`). It listens apart from clients so no origin path is ever shadowed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use meson_core::content::{self, Root};
use meson_core::range::{self, RangeRequest};
use meson_node::{bad_request, not_found, ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cache::Cache;
use crate::index::ObjectRef;
use crate::object::{ObjectId, Purge};
use crate::ops::{self, PushError};
use crate::site::Site;
use crate::source::{Segment, Source};

#[derive(Clone)]
pub struct AdminState {
    pub cache: Arc<Cache>,
    pub token: Arc<str>,
    pub started: Instant,
    /// The terminal's standing with its router, in network mode.
    pub node: Option<Arc<crate::network::Node>>,
}

fn node(state: &AdminState) -> ApiResult<&Arc<crate::network::Node>> {
    state.node.as_ref().ok_or_else(|| {
        ApiError(
            StatusCode::CONFLICT,
            "this terminal is not in network mode (start it with --router)".into(),
        )
    })
}

/// The terminal's standing with its router.
async fn network(State(state): State<AdminState>) -> ApiResult<Json<crate::network::Standing>> {
    Ok(Json(node(&state)?.standing(&state.cache)))
}

#[derive(Deserialize)]
struct DrainRequest {
    draining: bool,
}

/// Takes the terminal out of rotation (or back in) from its next heartbeat; the answer is the standing
/// at once, so `meson-cdn terminal drain` polls [`network`] until the router agrees.
async fn drain(
    State(state): State<AdminState>,
    Json(req): Json<DrainRequest>,
) -> ApiResult<Json<crate::network::Standing>> {
    let node = node(&state)?;
    node.set_draining(req.draining);
    Ok(Json(node.standing(&state.cache)))
}

pub fn router(state: AdminState) -> Router {
    let admin = Router::new()
        .route("/objects", post(push).get(list).delete(delete))
        .route("/content/{root}", get(content_bytes))
        .route("/content/{root}/outboard", get(content_outboard))
        .route("/spot-check/{root}/{group}", get(spot_check))
        .route("/purge", post(purge))
        .route("/hardware", get(hardware))
        .route("/heartbeat", get(heartbeat))
        .route("/network", get(network))
        .route("/drain", post(drain))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .route(meson_node::HEALTH_PATH, get(healthz))
        .route(meson_node::METRICS_PATH, get(meson_telemetry::metrics_text))
        .nest("/v1/admin", admin)
        .with_state(state)
}

/// Checks `Authorization: Bearer <token>` (in constant time, see [`meson_node::bearer_matches`]).
async fn authorize(State(state): State<AdminState>, req: Request, next: Next) -> Response {
    if !meson_node::bearer_matches(req.headers(), &state.token) {
        return ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong admin token (see DATA_DIR/admin.token)".into(),
        )
        .into_response();
    }
    next.run(req).await
}

async fn healthz(State(state): State<AdminState>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "disk_full": state.cache.disk_full() }))
}

/// The cache key of an absolute URL on this terminal's origin, or of a bare path.
fn key_of(cache: &Cache, url: &str) -> ApiResult<(Arc<Site>, String, String)> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| bad_request(format!("invalid URL {url:?}: {e}")))?;
    let site = cache
        .sites
        .for_url(&uri)
        .ok_or_else(|| bad_request(format!("{url} is not on a site this terminal serves")))?;
    let path = meson_core::path::normalize(uri.path()).map_err(|e| bad_request(e.to_string()))?;
    let a = crate::site::Admitted::new(site, &path, uri.query());
    Ok((a.site, a.key, a.path_and_query))
}

#[derive(Deserialize)]
struct PushRequest {
    url: String,
    root: String,
    ttl_secs: u64,
}

#[derive(Serialize)]
struct ObjectSummary {
    id: String,
    key: String,
    status: u16,
    size: u64,
    sliced: bool,
    stored_at: u64,
    slices: Vec<SliceSummary>,
}

#[derive(Serialize)]
struct SliceSummary {
    index: u32,
    root: String,
    len: u64,
    verified: bool,
}

/// Save/cache a file: fetch `url` whole from the origin, keep it only if it hashes to `root`.
async fn push(
    State(state): State<AdminState>,
    Json(req): Json<PushRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let root: Root = req
        .root
        .parse()
        .map_err(|e| bad_request(format!("root: {e}")))?;
    let (site, key, path_and_query) = key_of(&state.cache, &req.url)?;
    match ops::push(
        &state.cache,
        site,
        key.clone(),
        path_and_query,
        root,
        req.ttl_secs,
    )
    .await
    {
        Ok(p) => Ok(Json(
            json!({ "key": key, "root": root.to_string(), "size": p.len, "id": p.id.to_string() }),
        )),
        Err(e @ PushError::Mismatch(_)) => {
            Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
        }
        Err(e) => Err(ApiError(StatusCode::BAD_GATEWAY, e.to_string())),
    }
}

#[derive(Deserialize)]
struct DeleteQuery {
    root: Option<String>,
    url: Option<String>,
}

/// Delete by content root (the whole object holding it) or by URL (every variant).
async fn delete(
    State(state): State<AdminState>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let cache = &state.cache;
    let removed = match (q.root, q.url) {
        (Some(root), None) => {
            let root: Root = root
                .parse()
                .map_err(|e| bad_request(format!("root: {e}")))?;
            let (obj, _, _) = cache
                .index()
                .by_root(&root)
                .ok_or_else(|| not_found("no object with that root"))?;
            cache.index().remove_object(&obj.id)
        }
        (None, Some(url)) => {
            let (_, key, _) = key_of(cache, &url)?;
            cache.index().remove_where(|m| m.key == key)
        }
        _ => return Err(bad_request("give exactly one of ?root= or ?url=")),
    };
    let n = removed.objects.len();
    cache.delete(removed).await;
    Ok(Json(json!({ "removed": n })))
}

#[derive(Deserialize)]
struct PurgeRequest {
    url: Option<String>,
    prefix: Option<String>,
    tag: Option<String>,
}

/// Purge by URL, by URL prefix, or by cache tag (`Cache-Tag` / `Surrogate-Key` from the origin).
async fn purge(
    State(state): State<AdminState>,
    Json(req): Json<PurgeRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let cache = &state.cache;
    let n = match (req.url, req.prefix, req.tag) {
        (Some(url), None, None) => {
            let (_, key, _) = key_of(cache, &url)?;
            cache.purge(Purge::Key(&key)).await
        }
        (None, Some(prefix), None) => {
            let (_, key, _) = key_of(cache, &prefix)?;
            cache.purge(Purge::Prefix(&key)).await
        }
        (None, None, Some(tag)) => {
            cache
                .purge(Purge::Tag {
                    tag: &tag,
                    within: "",
                })
                .await
        }
        _ => return Err(bad_request("give exactly one of url, prefix or tag")),
    };
    Ok(Json(json!({ "purged": n })))
}

#[derive(Deserialize)]
struct ListQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// The index of cached objects, in pages ordered by id; `next` is the `after` of the following page.
async fn list(
    State(state): State<AdminState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let after = q
        .after
        .map(|a| {
            a.parse::<ObjectId>()
                .map_err(|e| bad_request(format!("after: {e}")))
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let page = state.cache.index().page(after, limit);
    let next = (page.len() == limit)
        .then(|| page.last().map(|(o, _)| o.id.to_string()))
        .flatten();
    let objects: Vec<ObjectSummary> = page
        .into_iter()
        .map(|(o, slices)| ObjectSummary {
            id: o.id.to_string(),
            key: o.meta.key.clone(),
            status: o.meta.status.as_u16(),
            size: o.meta.total_len,
            sliced: o.meta.slice_size.is_some(),
            stored_at: o.meta.response_time,
            slices: slices
                .into_iter()
                .map(|(index, s)| SliceSummary {
                    index,
                    root: s.file.root.to_string(),
                    len: s.file.len,
                    verified: s.verified,
                })
                .collect(),
        })
        .collect();
    Ok(Json(json!({ "objects": objects, "next": next })))
}

fn find_root(cache: &Cache, root: &str) -> ApiResult<(ObjectRef, u32, crate::index::SliceEntry)> {
    let root: Root = root
        .parse()
        .map_err(|e| bad_request(format!("root: {e}")))?;
    cache
        .index()
        .by_root(&root)
        .ok_or_else(|| not_found(format!("no content with root {root}")))
}

/// The bytes whose BLAKE3 root is `root` (one stored slice or whole object), with Range support.
async fn content_bytes(
    State(state): State<AdminState>,
    Path(root): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (obj, slice, entry) = find_root(&state.cache, &root)?;
    let base = obj.meta.slice_range(slice).map(|r| r.start).unwrap_or(0);
    let len = entry.file.len;
    let (status, r) = match range::parse_range(headers.get(header::RANGE), len) {
        RangeRequest::Satisfiable(rs) if rs.len() == 1 => {
            (StatusCode::PARTIAL_CONTENT, rs[0].clone())
        }
        RangeRequest::Unsatisfiable => {
            let mut resp = ApiError(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range not satisfiable".into(),
            )
            .into_response();
            resp.headers_mut()
                .insert(header::CONTENT_RANGE, range::unsatisfied_content_range(len));
            return Ok(resp);
        }
        // Several ranges of raw content: the whole body is a valid answer (RFC 9110 §14.2).
        _ => (StatusCode::OK, 0..len),
    };
    let body = Source {
        cache: state.cache.clone(),
        obj,
        fill_missing: None,
        hint: None,
    }
    .body(vec![Segment::Data(base + r.start..base + r.end)]);
    let mut resp = Response::new(axum::body::Body::new(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(r.end - r.start));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(header::CONTENT_RANGE, range::content_range(&r, len));
    }
    Ok(resp)
}

/// The Bao outboard (post-order, 16 KiB chunk groups) of the content with root `root`.
async fn content_outboard(
    State(state): State<AdminState>,
    Path(root): Path<String>,
) -> ApiResult<Response> {
    let (obj, slice, entry) = find_root(&state.cache, &root)?;
    let cache = state.cache.clone();
    let outboard = tokio::task::spawn_blocking(move || {
        cache.store.read_outboard(&obj.id, slice, &entry.file.root)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::HeaderName::from_static("x-meson-size"),
                HeaderValue::from(entry.file.len),
            ),
        ],
        outboard,
    )
        .into_response())
}

/// A shard spot check: chunk group `group` of the content with root `root`, with its Bao proof.
async fn spot_check(
    State(state): State<AdminState>,
    Path((root, group)): Path<(String, u64)>,
) -> ApiResult<Response> {
    let (obj, slice, entry) = find_root(&state.cache, &root)?;
    let size = entry.file.len;
    if content::chunk_group_range(size, group).is_none() {
        return Err(not_found(format!(
            "chunk group {group} out of range: the content has {} groups",
            content::chunk_group_count(size)
        )));
    }
    let cache = state.cache.clone();
    let proof = tokio::task::spawn_blocking(move || {
        crate::audit::prove(&cache, &obj, slice, &entry, group, true)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    metrics::counter!("meson_terminal_spot_checks_total").increment(1);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::HeaderName::from_static("x-meson-size"),
                HeaderValue::from(size),
            ),
        ],
        proof,
    )
        .into_response())
}

async fn hardware(State(state): State<AdminState>) -> Json<crate::hardware::Hardware> {
    Json(crate::hardware::probe(state.cache.store.dir()))
}

/// What the terminal would report to a router: load, free disk, and a compact summary of what it holds.
async fn heartbeat(State(state): State<AdminState>) -> Json<serde_json::Value> {
    let cache = &state.cache;
    let (objects, slices, used, capacity, policy, digest) = {
        let index = cache.index();
        (
            index.object_count(),
            index.slice_count(),
            index.used_bytes(),
            index.capacity(),
            index.policy_name(),
            index.roots_digest(),
        )
    };
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started.elapsed().as_secs(),
        "active_connections": cache.stats.active_connections.load(Ordering::Relaxed),
        "requests_total": cache.stats.requests.load(Ordering::Relaxed),
        "egress_bytes_per_sec": cache.stats.egress_rate.load(Ordering::Relaxed),
        "bytes_out_total": cache.stats.bytes_out.load(Ordering::Relaxed),
        "disk_free_bytes": cache.free_disk(),
        "disk_full": cache.disk_full(),
        "capacity_bytes": capacity,
        "used_bytes": used,
        "policy": policy,
        "held": { "objects": objects, "slices": slices, "roots_digest": digest },
    }))
}
