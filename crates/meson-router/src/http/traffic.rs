//! Where a site's traffic comes from (`GET /v1/sites/{host}/traffic`, its owner) and the review of usage
//! the share cap withheld (`/v1/usage/withheld`, the operator).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use meson_api::traffic::{
    GroupReviewRequest, ReviewAction, ReviewRequest, Reviewed, SiteTraffic, TrafficQuery,
    WithheldList, WithheldQuery,
};
use meson_store::{WithheldSelector, WithheldState};

use crate::http::error::{
    bad_request, node, ApiError, ApiResult, JsonBody, PathParam, QueryParams,
};
use crate::services::{ledger, sites, withholding};
use crate::Shared;

#[utoipa::path(
    get, path = "/v1/sites/{host}/traffic", tag = "sites", params(("host" = String, Path, description = "The site's host"), TrafficQuery), security(("api_key" = [])),
    responses(
        (status = 200, description = "The epoch's accepted usage per terminal and per client prefix, with what is withheld", body = SiteTraffic),
        (status = 404, description = "No such site in this account"),
    )
)]
pub(crate) async fn site_traffic(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    PathParam(host): PathParam<String>,
    QueryParams(q): QueryParams<TrafficQuery>,
) -> ApiResult<Json<SiteTraffic>> {
    let site = sites::owned_site(&s, &headers, &host).await?;
    let epoch_secs = s.epoch_secs();
    let epoch = q.epoch.unwrap_or(meson_node::unix_now() / epoch_secs);
    let top = q.top.unwrap_or(20).clamp(1, 1000);
    Ok(Json(
        withholding::site_traffic(&s, &site, epoch_secs, epoch, top).await?,
    ))
}

#[utoipa::path(
    get, path = "/v1/usage/withheld", tags = ["operator"], params(WithheldQuery), security(("operator" = [])),
    responses(
        (status = 200, description = "Usage withheld by the share cap, the latest epoch first", body = WithheldList),
        (status = 400, description = "An unknown state"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn withheld(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    QueryParams(q): QueryParams<WithheldQuery>,
) -> ApiResult<Json<WithheldList>> {
    ledger::operator(&s, &headers)?;
    let state = match q.state.as_deref().unwrap_or("withheld") {
        "all" => None,
        other => Some(other.parse::<WithheldState>().map_err(|_| {
            bad_request(format!(
                "state {other:?}: give withheld, released, rejected or all"
            ))
        })?),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(WithheldList {
        records: withholding::list(&s, state, limit).await?,
    }))
}

async fn review(
    s: &Shared,
    which: WithheldSelector,
    action: ReviewAction,
) -> ApiResult<Json<Reviewed>> {
    let to = match action {
        ReviewAction::Release => WithheldState::Released,
        ReviewAction::Reject => WithheldState::Rejected,
    };
    let r = withholding::review(s, which, to).await?;
    Ok(Json(Reviewed {
        action,
        changed: r.changed,
        bytes: r.bytes,
        already: r.already,
        other: r.other,
    }))
}

#[utoipa::path(
    post, path = "/v1/usage/withheld/{serial}", tags = ["operator"], params(("serial" = u64, Path, description = "The usage record's ticket serial")),
    request_body = ReviewRequest, security(("operator" = [])),
    responses(
        (status = 200, description = "Released (paid in this epoch) or rejected (never paid), or already so", body = Reviewed),
        (status = 404, description = "No usage with this serial was withheld"),
        (status = 409, description = "It was decided the other way before"),
    )
)]
pub(crate) async fn review_one(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    PathParam(serial): PathParam<u64>,
    JsonBody(req): JsonBody<ReviewRequest>,
) -> ApiResult<Json<Reviewed>> {
    ledger::operator(&s, &headers)?;
    let done = review(&s, WithheldSelector::Serial(serial), req.action).await?;
    if done.other > 0 {
        return Err(ApiError(
            axum::http::StatusCode::CONFLICT,
            format!("usage serial {serial} was decided the other way before; a release is paid and a rejection final"),
        ));
    }
    Ok(done)
}

#[utoipa::path(
    post, path = "/v1/usage/withheld", tags = ["operator"], request_body = GroupReviewRequest, security(("operator" = [])),
    responses(
        (status = 200, description = "What one epoch's settlement withheld of one terminal's usage for one site, released or rejected", body = Reviewed),
        (status = 400, description = "Not a node id"),
        (status = 404, description = "No such site, or nothing of the terminal's usage for it withheld in that epoch"),
    )
)]
pub(crate) async fn review_group(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<GroupReviewRequest>,
) -> ApiResult<Json<Reviewed>> {
    ledger::operator(&s, &headers)?;
    let terminal = node(&req.node_id)?;
    let site_id = match s.sites.get(&req.site.to_ascii_lowercase()) {
        Some(site) => site.id,
        None => req.site.parse::<i64>().map_err(|_| {
            ApiError(
                axum::http::StatusCode::NOT_FOUND,
                format!(
                    "no site {:?} (give its host, or its id if it was removed)",
                    req.site
                ),
            )
        })?,
    };
    let which = WithheldSelector::Group {
        site_id,
        terminal: *terminal.as_bytes(),
        epoch: req.epoch,
    };
    review(&s, which, req.action).await
}
