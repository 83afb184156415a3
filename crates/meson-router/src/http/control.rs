//! The signed control messages terminals send (see [`meson_core::wire`]): join, heartbeat, sites, usage.
//!
//! Refusals: a message that is forged, stale, of the wrong purpose or malformed is `401`; a replayed one
//! `409`; a valid message from a node that is not admitted `403`; each with the reason as `{"error"}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use meson_core::signed::{SignedMessage, Verified};
use meson_core::wire::{
    self, Heartbeat, HeartbeatReply, Register, Registered, SiteList, SitesQuery, UsageBatch,
    UsageReceipt,
};
use meson_store::{StoreError, TerminalRegistration};
use serde::de::DeserializeOwned;

use meson_node::unix_now;

use crate::http::error::{bad_request, signed_error, store_error, ApiError, ApiResult, JsonBody};
use crate::services::registry::place;
use crate::services::sites::site_info;
use crate::services::{slashing, usage};
use crate::Shared;

/// Records per usage batch; terminals send more often rather than more at once.
const MAX_BATCH: usize = 10_000;

fn verify<T: DeserializeOwned>(
    s: &Shared,
    msg: &SignedMessage<T>,
    purpose: &str,
) -> ApiResult<Verified<T>> {
    let mut guard = s.replay.lock().unwrap_or_else(|e| e.into_inner());
    msg.verify(purpose, unix_now(), &mut guard)
        .map_err(signed_error)
}

fn not_admitted(v: &Verified<impl Sized>) -> ApiError {
    ApiError(
        StatusCode::FORBIDDEN,
        format!(
            "terminal {} is not admitted: register at {} first",
            v.signer,
            wire::REGISTER_PATH
        ),
    )
}

/// The base URL clients will be sent to, without a trailing `/`.
fn valid_public_url(url: &str) -> ApiResult<String> {
    let refuse = |why: &str| bad_request(format!("public_url {url:?} {why}"));
    let uri: http::Uri = url.parse().map_err(|_| refuse("is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(refuse("must be http:// or https://"));
    }
    if uri.host().is_none_or(str::is_empty) || uri.query().is_some() {
        return Err(refuse("must have a host and no query"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[utoipa::path(
    post, path = wire::REGISTER_PATH, tag = "control", request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `Register` (purpose meson/v1/register)"),
    responses(
        (status = 200, description = "Admitted", body = Registered),
        (status = 400, description = "The public URL or the region is not valid"),
        (status = 409, description = "The message was replayed, or another terminal has the same short id"),
        (status = 422, description = "The router could not reach the terminal at its public URL"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn register(
    State(s): State<Arc<Shared>>,
    JsonBody(msg): JsonBody<SignedMessage<Register>>,
) -> ApiResult<Json<Registered>> {
    let v = verify(&s, &msg, wire::REGISTER)?;
    let public_url = valid_public_url(&v.body.public_url)?;
    if let Some(r) = &v.body.region {
        meson_core::schedule::Region::new(r).map_err(|e| bad_request(e.to_string()))?;
    }
    // Admit only what clients will be able to reach: the terminal must answer on the address it gave.
    s.prober.check(&public_url).await.map_err(|why| {
        ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reachability check failed, not admitted: {why}"),
        )
    })?;
    let region = place(v.body.region.as_deref(), &public_url, &s.zones);
    let record = s
        .store
        .upsert_terminal(TerminalRegistration {
            node_id: *v.signer.as_bytes(),
            public_url: public_url.clone(),
            capacity_bytes: v.body.capacity_bytes,
            region: region.as_ref().map(|r| r.as_str().to_owned()),
            lat: v.body.lat,
            lon: v.body.lon,
            hardware_json: v.body.hardware.to_string(),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError(
                StatusCode::CONFLICT,
                format!(
                    "another terminal already has short id {:016x}; generate a new node key",
                    v.signer.short_id()
                ),
            ),
            other => store_error(other),
        })?;
    s.registry.admit(record, region.clone());
    metrics::counter!("meson_router_terminals_admitted_total").increment(1);
    tracing::info!(terminal = %v.signer, url = %public_url, region = ?region.as_ref().map(|r| r.as_str()), "terminal admitted");
    Ok(Json(Registered {
        router: s.id,
        heartbeat_secs: s.heartbeat_secs(),
        region: region.map(|r| r.as_str().to_owned()),
    }))
}

#[utoipa::path(
    post, path = wire::HEARTBEAT_PATH, tag = "control", request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `Heartbeat` (purpose meson/v1/heartbeat)"),
    responses(
        (status = 200, description = "Whether the terminal is in rotation, the sites' version, and jobs", body = HeartbeatReply),
        (status = 403, description = "The signer is not an admitted terminal"),
    )
)]
pub(crate) async fn heartbeat(
    State(s): State<Arc<Shared>>,
    JsonBody(msg): JsonBody<SignedMessage<Heartbeat>>,
) -> ApiResult<Json<HeartbeatReply>> {
    let v = verify(&s, &msg, wire::HEARTBEAT)?;
    let node = *v.signer.as_bytes();
    let in_rotation = s
        .registry
        .heartbeat(v.signer.as_bytes(), &v.body, s.cfg.heartbeat)
        .ok_or_else(|| not_admitted(&v))?;
    s.holdings.report(node, &v.body.added, &v.body.evicted);
    if !v.body.added.is_empty() {
        tokio::spawn(slashing::check_pieces(s.clone(), msg, v.body.clone()));
    }
    s.jobs.confirm(&node, v.body.done);
    Ok(Json(HeartbeatReply {
        in_rotation,
        sites_version: s.sites.version(),
        // A job a terminal received but never confirmed (it crashed, the reply was lost) goes again.
        jobs: s.jobs.for_terminal(&node, s.cfg.heartbeat * 3),
        suspended: s.registry.suspension(&node),
    }))
}

#[utoipa::path(
    post, path = wire::SITES_PATH, tag = "control", request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `SitesQuery` (purpose meson/v1/sites)"),
    responses(
        (status = 200, description = "Every site", body = SiteList),
        (status = 403, description = "The signer is not an admitted terminal"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn sites(
    State(s): State<Arc<Shared>>,
    JsonBody(msg): JsonBody<SignedMessage<SitesQuery>>,
) -> ApiResult<Json<SiteList>> {
    let v = verify(&s, &msg, wire::SITES)?;
    if !s.registry.is_admitted(v.signer.as_bytes()) {
        return Err(not_admitted(&v));
    }
    let sites = s.store.list_all_sites().await.map_err(store_error)?;
    Ok(Json(SiteList {
        sites: sites.iter().map(site_info).collect(),
    }))
}

/// A usage batch from an admitted terminal, at most [`MAX_BATCH`] records; see [`usage::accept`].
#[utoipa::path(
    post, path = wire::USAGE_PATH, tag = "control", request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `UsageBatch` (purpose meson/v1/usage)"),
    responses(
        (status = 200, description = "What was accepted, duplicate or rejected, once durable", body = UsageReceipt),
        (status = 400, description = "More than 10,000 records"),
        (status = 403, description = "The signer is not an admitted terminal"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn usage(
    State(s): State<Arc<Shared>>,
    JsonBody(msg): JsonBody<SignedMessage<UsageBatch>>,
) -> ApiResult<Json<UsageReceipt>> {
    let v = verify(&s, &msg, wire::USAGE)?;
    if !s.registry.is_admitted(v.signer.as_bytes()) {
        return Err(not_admitted(&v));
    }
    if v.body.records.len() > MAX_BATCH {
        return Err(bad_request(format!(
            "a usage batch holds at most {MAX_BATCH} records, got {}",
            v.body.records.len()
        )));
    }
    let receipt = usage::accept(&s, &v.signer, &v.body.records, &msg).await?;
    Ok(Json(receipt))
}
