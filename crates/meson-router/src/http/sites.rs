//! The HTTP surface: routes, errors, and the accounts and sites API for business users.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use meson_core::identity::NodeId;
use meson_core::wire::{self, RouterInfo, SiteInfo};
use meson_core::wire::{JobAction, PurgeScope};
use meson_store::{NewSite, QueryMode, Site, Store, StoreError};
use serde::Deserialize;
use serde_json::json;

use crate::{control, ledger_api, redirect, Shared};

/// An API error: a status and a message, sent as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Conflict(_) => StatusCode::CONFLICT,
            StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
            StoreError::Open { .. } | StoreError::Backend(_) => {
                tracing::error!(error = %e, "store failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError(status, e.to_string())
    }
}

pub fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body, with a malformed one refused as `{"error": ...}` like every other error.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| JsonBody(v))
            .map_err(|e| ApiError(e.status(), e.body_text()))
    }
}

pub(crate) fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics_text))
        .route(wire::ROUTER_INFO_PATH, get(router_info))
        .route("/v1/accounts", post(create_account))
        .route("/v1/sites", post(add_site).get(list_sites))
        .route("/v1/sites/{host}", delete(remove_site))
        .route("/v1/sites/{host}/stats", get(site_stats))
        .route("/v1/sites/{host}/purge", post(purge_site))
        .route("/v1/sites/{host}/push", post(push_site))
        .route("/v1/jobs/{id}", get(job))
        .route("/v1/sites/{host}/billing", get(ledger_api::site_billing))
        .route(
            "/v1/terminals/{node}/earnings",
            get(ledger_api::terminal_earnings),
        )
        .route("/v1/ledger/head", get(ledger_api::head))
        .route("/v1/ledger/log", get(ledger_api::log))
        .route("/v1/ledger/accounts/{id}", get(ledger_api::account))
        .route(
            "/v1/ledger/accounts/{id}/transfers",
            get(ledger_api::history),
        )
        .route("/v1/ledger/transfers/{id}", get(ledger_api::transfer))
        .route("/v1/ledger/mint", post(ledger_api::mint))
        .route("/v1/ledger/tx", post(ledger_api::tx))
        .route("/v1/ledger/slash", post(ledger_api::slash))
        .route("/v1/ledger/correct", post(ledger_api::correct))
        .route("/v1/ledger/claims/{claim}", get(crate::claims::show))
        .route(
            "/v1/ledger/claims/{claim}/verdict",
            post(crate::claims::verdict),
        )
        .route("/v1/council/term", get(crate::council::term))
        .route("/v1/council/stakes", get(crate::council::stakes))
        .route("/v1/ledger/payouts/{epoch}", get(ledger_api::payouts))
        .route(
            "/v1/ledger/payouts/{epoch}/proof/{account}",
            get(ledger_api::payout_proof),
        )
        .route("/v1/terminals", get(terminals))
        .route("/v1/terminals/{node}/rejections", get(rejections))
        .route(wire::REGISTER_PATH, post(control::register))
        .route(wire::HEARTBEAT_PATH, post(control::heartbeat))
        .route(wire::SITES_PATH, post(control::sites))
        .route(wire::USAGE_PATH, post(control::usage))
        .route("/s/{host}", get(redirect::by_path))
        .route("/s/{host}/{*path}", get(redirect::by_path))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            redirect::by_host,
        ))
        .with_state(shared)
}

async fn metrics_text() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        meson_telemetry::prometheus().render(),
    )
}

async fn router_info(State(s): State<Arc<Shared>>) -> Json<RouterInfo> {
    Json(RouterInfo {
        id: s.id,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        heartbeat_secs: s.heartbeat_secs(),
    })
}

/// Sites by host, kept in memory so redirects never wait on the database. Updated on this router's own
/// writes; routers sharing one database (the PostgreSQL backend) will need to refresh it.
#[derive(Default)]
/// The sites by host, and a version that changes with every edit so terminals know to refetch.
pub(crate) struct SiteCache(RwLock<HashMap<String, Arc<Site>>>, AtomicU64);

impl SiteCache {
    pub async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let sites = store.list_all_sites().await?;
        Ok(SiteCache(
            RwLock::new(
                sites
                    .into_iter()
                    .map(|s| (s.host.clone(), Arc::new(s)))
                    .collect(),
            ),
            AtomicU64::new(crate::unix_now()),
        ))
    }

    pub fn get(&self, host: &str) -> Option<Arc<Site>> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
            .cloned()
    }

    fn insert(&self, site: Site) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(site.host.clone(), Arc::new(site));
        self.1.fetch_add(1, Ordering::Relaxed);
    }

    /// Starts at the router's start time, so a restarted router never repeats a version a terminal saw.
    pub fn version(&self) -> u64 {
        self.1.load(Ordering::Relaxed)
    }

    fn remove(&self, host: &str) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(host);
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Deserialize)]
struct NewAccount {
    name: String,
}

/// Anyone may open an account; what it may do is bounded by the sites it owns.
async fn create_account(
    State(s): State<Arc<Shared>>,
    JsonBody(req): JsonBody<NewAccount>,
) -> ApiResult<impl IntoResponse> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(bad_request("name must be 1 to 200 characters"));
    }
    let account = s.store.create_account(name).await?;
    let api_key = format!("msk_{}", hex::encode(rand::random::<[u8; 32]>()));
    s.store
        .add_api_key(account.id, key_hash(&api_key), "created with the account")
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "account_id": account.id, "api_key": api_key })),
    ))
}

fn key_hash(api_key: &str) -> [u8; 32] {
    *blake3::hash(api_key.as_bytes()).as_bytes()
}

async fn account(s: &Shared, headers: &HeaderMap) -> ApiResult<i64> {
    let unauthorized = |m: &str| ApiError(StatusCode::UNAUTHORIZED, m.to_owned());
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            unauthorized("send the account's API key as `Authorization: Bearer <key>`")
        })?;
    // The lookup is by hash, so comparing happens inside the database on a value the caller cannot steer.
    match s.store.account_by_key_hash(key_hash(key.trim())).await? {
        Some(a) => Ok(a.id),
        None => Err(unauthorized("unknown or revoked API key")),
    }
}

#[derive(Deserialize)]
struct SiteRequest {
    host: String,
    origin: String,
    default_ttl_secs: Option<u64>,
    query_mode: Option<String>,
}

pub(crate) fn site_info(site: &Site) -> SiteInfo {
    SiteInfo {
        id: site.id as u64,
        host: site.host.clone(),
        origin: site.origin.clone(),
        default_ttl_secs: site.default_ttl_secs,
        query_mode: site.query_mode,
    }
}

/// A DNS name of letters, digits, `-` and `.`, no port: what clients put in `Host`.
fn valid_host(host: &str) -> Result<String, ApiError> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(host)
    } else {
        Err(bad_request(format!(
            "host {host:?} is not a DNS name (letters, digits, '-' and '.', no port)"
        )))
    }
}

/// `http://` or `https://` with a host and nothing after it: terminals append the request's path.
fn valid_origin(origin: &str) -> Result<String, ApiError> {
    let refuse = |why: &str| {
        bad_request(format!(
            "origin {origin:?} {why}: give an http:// or https:// URL such as https://origin.example.com"
        ))
    };
    let uri: http::Uri = origin.trim().parse().map_err(|_| refuse("is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(refuse("has no http or https scheme"));
    }
    let authority = uri.authority().ok_or_else(|| refuse("has no host"))?;
    if authority.host().is_empty() || authority.as_str().contains('@') {
        return Err(refuse("has no host, or carries credentials"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(refuse("has a path or query"));
    }
    Ok(format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("http"),
        authority
    ))
}

async fn add_site(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SiteRequest>,
) -> ApiResult<impl IntoResponse> {
    let account_id = account(&s, &headers).await?;
    let host = valid_host(&req.host)?;
    let origin = valid_origin(&req.origin)?;
    let query_mode: QueryMode = req
        .query_mode
        .as_deref()
        .unwrap_or("keep")
        .parse()
        .map_err(|e: meson_core::keying::UnknownQueryMode| bad_request(e.to_string()))?;
    let site = s
        .store
        .add_site(NewSite {
            account_id,
            host,
            origin,
            default_ttl_secs: req.default_ttl_secs,
            query_mode,
        })
        .await?;
    let info = site_info(&site);
    // Its escrow exists from the start, so the owner can deposit before any traffic.
    if let Err(e) = crate::billing::open_escrow(&s, site.id).await {
        tracing::error!(site = %site.host, error = %e, "cannot open the site's escrow account");
    }
    s.sites.insert(site);
    Ok((StatusCode::CREATED, Json(info)))
}

async fn list_sites(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<SiteInfo>>> {
    let account_id = account(&s, &headers).await?;
    let sites = s.store.list_sites(account_id).await?;
    Ok(Json(sites.iter().map(site_info).collect()))
}

async fn remove_site(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(host): Path<String>,
) -> ApiResult<StatusCode> {
    let account_id = account(&s, &headers).await?;
    let host = host.to_ascii_lowercase();
    s.store.remove_site(account_id, &host).await?;
    s.sites.remove(&host);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct StatsQuery {
    /// How many hours back from now (default 24, at most 31 days).
    hours: Option<u64>,
}

/// The caller's site `host`. Another account's site answers like a missing one: site names are not to be
/// probed this way.
pub(crate) async fn owned_site(s: &Shared, headers: &HeaderMap, host: &str) -> ApiResult<Site> {
    let account_id = account(s, headers).await?;
    let host = host.to_ascii_lowercase();
    match s.store.site_by_host(&host).await? {
        Some(site) if site.account_id == account_id => Ok(site),
        _ => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no site {host} in this account"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeRequest {
    url: Option<String>,
    prefix: Option<String>,
    tag: Option<String>,
    #[serde(default)]
    all: bool,
}

/// Purges on every admitted terminal (any may hold the content, and one that is down gets the purge
/// when it comes back). `202` with the job to follow at `/v1/jobs/{id}`.
async fn purge_site(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(host): Path<String>,
    JsonBody(req): JsonBody<PurgeRequest>,
) -> ApiResult<impl IntoResponse> {
    let site = owned_site(&s, &headers, &host).await?;
    let scope = match (req.url, req.prefix, req.tag, req.all) {
        (Some(u), None, None, false) => PurgeScope::Url(site_path(&u)?),
        (None, Some(p), None, false) => PurgeScope::Prefix(site_path(&p)?),
        (None, None, Some(t), false) if !t.is_empty() => PurgeScope::Tag(t),
        (None, None, None, true) => PurgeScope::All,
        _ => {
            return Err(bad_request(
                "give exactly one of url, prefix, tag or all: true",
            ))
        }
    };
    let targets: Vec<[u8; 32]> = s.registry.urls().into_iter().map(|(id, _)| id).collect();
    Ok(start_job(&s, &site, JobAction::Purge(scope), targets))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PushRequest {
    path: String,
    root: String,
    ttl_secs: u64,
}

/// Places an object, verified against its BLAKE3 root, on the terminals the scheduler would send each
/// region's clients to for it.
async fn push_site(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(host): Path<String>,
    JsonBody(req): JsonBody<PushRequest>,
) -> ApiResult<impl IntoResponse> {
    let site = owned_site(&s, &headers, &host).await?;
    req.root
        .parse::<meson_core::content::Root>()
        .map_err(|e| bad_request(format!("root: {e}")))?;
    let path = site_path(&req.path)?;
    let keyed = meson_core::keying::keyed_url(&path, site.query_mode)
        .map_err(|e| bad_request(e.to_string()))?;
    let targets = s.registry.placements(
        &meson_core::schedule::schedule_key(&site.host, keyed.as_bytes()),
        s.cfg.heartbeat,
    );
    if targets.is_empty() {
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "no terminal is in rotation to place the object on".into(),
        ));
    }
    let action = JobAction::Push {
        path,
        root: req.root,
        ttl_secs: req.ttl_secs,
    };
    Ok(start_job(&s, &site, action, targets))
}

/// A URL path (with optional query) on a site: absolute, and not a full URL.
fn site_path(p: &str) -> ApiResult<String> {
    if !p.starts_with('/') {
        return Err(bad_request(format!("{p:?} must be a path starting with /")));
    }
    Ok(p.to_owned())
}

fn start_job(s: &Shared, site: &Site, action: JobAction, targets: Vec<[u8; 32]>) -> Response {
    let n = targets.len();
    let id = s.jobs.create(
        site.account_id,
        &site.host,
        site.id as u64,
        action,
        targets,
        crate::unix_now(),
    );
    tracing::info!(job = id, site = %site.host, terminals = n, "job queued");
    (
        StatusCode::ACCEPTED,
        Json(json!({ "job": id, "terminals": n, "status": format!("/v1/jobs/{id}") })),
    )
        .into_response()
}

/// A purge or push job of the caller's, with each terminal's confirmation.
async fn job(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> ApiResult<Json<crate::jobs::JobView>> {
    let account_id = account(&s, &headers).await?;
    s.jobs.view(id, account_id).map(Json).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no job {id} in this account"),
        )
    })
}

/// Accepted usage of one of the account's sites, per hour: redirect tickets, requests served, cache hits,
/// hit ratio and bytes.
async fn site_stats(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(host): Path<String>,
    axum::extract::Query(q): axum::extract::Query<StatsQuery>,
) -> ApiResult<impl IntoResponse> {
    let site = owned_site(&s, &headers, &host).await?;
    let host = site.host.clone();
    let hours = q.hours.unwrap_or(24).clamp(1, 24 * 31);
    let to = crate::unix_now();
    let from = (to / 3600).saturating_sub(hours - 1) * 3600;
    let rows = s.store.usage_by_site_hour(site.id, from, to + 1).await?;
    let mut total = meson_store::SiteHour::default();
    for h in &rows {
        total.tickets += h.tickets;
        total.requests += h.requests;
        total.hits += h.hits;
        total.bytes += h.bytes;
    }
    let view = |h: &meson_store::SiteHour| {
        json!({
            "tickets": h.tickets,
            "requests": h.requests,
            "hits": h.hits,
            "hit_ratio": if h.requests == 0 { 0.0 } else { h.hits as f64 / h.requests as f64 },
            "bytes": h.bytes,
        })
    };
    let hours: Vec<_> = rows
        .iter()
        .map(|h| {
            let mut v = view(h);
            v["hour_start"] = json!(h.hour_start);
            v
        })
        .collect();
    let mut body = view(&total);
    body["host"] = json!(host);
    body["from"] = json!(from);
    body["to"] = json!(to);
    body["hours"] = json!(hours);
    Ok(Json(body))
}

async fn terminals(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    Json(json!({ "terminals": s.registry.views(s.cfg.heartbeat) }))
}

async fn rejections(
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
