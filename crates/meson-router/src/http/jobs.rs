//! Purges and pushes: a site owner's request fanned out to terminals as a job, and the job's progress.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use meson_api::sites::{JobStarted, JobView, PurgeRequest, PushRequest};
use meson_core::wire::{JobAction, PurgeScope};
use meson_store::Site;

use crate::http::error::{bad_request, ApiError, ApiResult, JsonBody, PathParam};
use crate::services::sites;
use crate::Shared;

/// A job accepted: `202` with where to follow it.
type Started = (StatusCode, Json<JobStarted>);

/// Purges on every admitted terminal (any may hold the content, and one that is down gets the purge
/// when it comes back). `202` with the job to follow at `/v1/jobs/{id}`.
#[utoipa::path(
    post, path = "/v1/sites/{host}/purge", tag = "sites", params(("host" = String, Path, description = "The site's host")), request_body = PurgeRequest, security(("api_key" = [])),
    responses(
        (status = 202, description = "The purge is a job: follow it at `status`", body = JobStarted),
        (status = 400, description = "Not exactly one of url, prefix, tag and all, or a path not starting with /"),
        (status = 404, description = "No such site in this account"),
    )
)]
pub(crate) async fn purge_site(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    PathParam(host): PathParam<String>,
    JsonBody(req): JsonBody<PurgeRequest>,
) -> ApiResult<Started> {
    let site = sites::owned_site(&s, &headers, &host).await?;
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

/// Places an object, verified against its BLAKE3 root, on the terminals the scheduler would send each
/// region's clients to for it.
#[utoipa::path(
    post, path = "/v1/sites/{host}/push", tag = "sites", params(("host" = String, Path, description = "The site's host")), request_body = PushRequest, security(("api_key" = [])),
    responses(
        (status = 202, description = "The push is a job: follow it at `status`", body = JobStarted),
        (status = 400, description = "The root is not a BLAKE3 root, or the path does not start with /"),
        (status = 404, description = "No such site in this account"),
        (status = 503, description = "No terminal is in rotation to place the object on"),
    )
)]
pub(crate) async fn push_site(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    PathParam(host): PathParam<String>,
    JsonBody(req): JsonBody<PushRequest>,
) -> ApiResult<Started> {
    let site = sites::owned_site(&s, &headers, &host).await?;
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

fn start_job(s: &Shared, site: &Site, action: JobAction, targets: Vec<[u8; 32]>) -> Started {
    let n = targets.len();
    let id = s.jobs.create(
        site.account_id,
        &site.host,
        site.id as u64,
        action,
        targets,
        meson_node::unix_now(),
    );
    tracing::info!(job = id, site = %site.host, terminals = n, "job queued");
    (
        StatusCode::ACCEPTED,
        Json(JobStarted {
            job: id,
            terminals: n,
            status: format!("/v1/jobs/{id}"),
        }),
    )
}

/// A purge or push job of the caller's, with each terminal's confirmation.
#[utoipa::path(
    get, path = "/v1/jobs/{id}", tag = "sites", params(("id" = u64, Path, description = "The job's id")), security(("api_key" = [])),
    responses(
        (status = 200, description = "The job and each terminal's confirmation", body = JobView),
        (status = 404, description = "No such job in this account (jobs are kept in memory, the newest 10,000)"),
    )
)]
pub(crate) async fn job(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    PathParam(id): PathParam<u64>,
) -> ApiResult<Json<JobView>> {
    let account_id = sites::account(&s, &headers).await?;
    s.jobs.view(id, account_id).map(Json).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no job {id} in this account"),
        )
    })
}
