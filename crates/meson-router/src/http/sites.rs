//! The accounts and sites API for business users: open an account, add, list and remove sites, and a
//! site's usage per hour.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use meson_api::accounts::{AccountCreated, NewAccount};
use meson_api::sites::{HourUsage, SiteRequest, SiteStats, StatsQuery, Usage};
use meson_core::wire::SiteInfo;
use meson_store::{NewSite, QueryMode, SiteHour};

use crate::http::error::{bad_request, ApiError, ApiResult, JsonBody, PathParam, QueryParams};
use crate::services::sites::{self, site_info};
use crate::Shared;

#[utoipa::path(
    post, path = "/v1/accounts", tag = "sites", request_body = NewAccount,
    responses(
        (status = 201, description = "The account and its API key, shown only this once", body = AccountCreated),
        (status = 400, description = "The name is empty or longer than 200 characters"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn create_account(
    State(s): State<Arc<Shared>>,
    JsonBody(req): JsonBody<NewAccount>,
) -> ApiResult<(StatusCode, Json<AccountCreated>)> {
    let (account_id, api_key) = sites::create_account(&s, &req.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(AccountCreated {
            account_id,
            api_key,
        }),
    ))
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

#[utoipa::path(
    post, path = "/v1/sites", tag = "sites", request_body = SiteRequest, security(("api_key" = [])),
    responses(
        (status = 201, description = "The site as terminals will see it", body = SiteInfo),
        (status = 400, description = "The host, origin or query mode is not valid"),
        (status = 409, description = "Another site has this host"),
    )
)]
pub(crate) async fn add_site(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SiteRequest>,
) -> ApiResult<(StatusCode, Json<SiteInfo>)> {
    let account_id = sites::account(&s, &headers).await?;
    let host = valid_host(&req.host)?;
    let origin = valid_origin(&req.origin)?;
    let query_mode: QueryMode = req
        .query_mode
        .as_deref()
        .unwrap_or("keep")
        .parse()
        .map_err(|e: meson_core::keying::UnknownQueryMode| bad_request(e.to_string()))?;
    let info = sites::add_site(
        &s,
        NewSite {
            account_id,
            host,
            origin,
            default_ttl_secs: req.default_ttl_secs,
            query_mode,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

#[utoipa::path(
    get, path = "/v1/sites", tag = "sites", security(("api_key" = [])),
    responses(
        (status = 200, description = "The account's sites", body = Vec<SiteInfo>),
    )
)]
pub(crate) async fn list_sites(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<SiteInfo>>> {
    let account_id = sites::account(&s, &headers).await?;
    let sites = sites::list_sites(&s, account_id).await?;
    Ok(Json(sites.iter().map(site_info).collect()))
}

#[utoipa::path(
    delete, path = "/v1/sites/{host}", tag = "sites", params(("host" = String, Path, description = "The site's host")), security(("api_key" = [])),
    responses(
        (status = 204, description = "Removed: clients asking for it go nowhere now"),
        (status = 404, description = "No such site in this account"),
    )
)]
pub(crate) async fn remove_site(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    PathParam(host): PathParam<String>,
) -> ApiResult<StatusCode> {
    let account_id = sites::account(&s, &headers).await?;
    sites::remove_site(&s, account_id, &host).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accepted usage of one of the account's sites, per hour: redirect tickets, requests served, cache hits,
/// hit ratio and bytes.
#[utoipa::path(
    get, path = "/v1/sites/{host}/stats", tag = "sites", params(("host" = String, Path, description = "The site's host"), StatsQuery), security(("api_key" = [])),
    responses(
        (status = 200, description = "Accepted usage in total and per hour", body = SiteStats),
        (status = 404, description = "No such site in this account"),
    )
)]
pub(crate) async fn site_stats(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    PathParam(host): PathParam<String>,
    QueryParams(q): QueryParams<StatsQuery>,
) -> ApiResult<Json<SiteStats>> {
    let site = sites::owned_site(&s, &headers, &host).await?;
    let stats = sites::stats(&s, &site, q.hours).await?;
    let usage = |h: &SiteHour| Usage {
        tickets: h.tickets,
        requests: h.requests,
        hits: h.hits,
        hit_ratio: if h.requests == 0 {
            0.0
        } else {
            h.hits as f64 / h.requests as f64
        },
        bytes: h.bytes,
    };
    Ok(Json(SiteStats {
        host: site.host.clone(),
        from: stats.from,
        to: stats.to,
        total: usage(&stats.total),
        hours: stats
            .hours
            .iter()
            .map(|h| HourUsage {
                hour_start: h.hour_start,
                usage: usage(h),
            })
            .collect(),
    }))
}
