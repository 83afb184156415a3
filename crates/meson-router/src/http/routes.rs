//! Every route the router serves, registered in this one place; the handlers live in one file per
//! resource beside it.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use meson_core::wire::{self, RouterInfo};
use meson_node::{HEALTH_PATH, METRICS_PATH};

use super::{audits, claims, control, council, jobs, ledger, redirect, roots, sites, terminals};
use crate::Shared;

pub(crate) fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(HEALTH_PATH, get(|| async { "ok\n" }))
        .route(METRICS_PATH, get(meson_telemetry::metrics_text))
        .route(wire::ROUTER_INFO_PATH, get(router_info))
        .route("/v1/accounts", post(sites::create_account))
        .route("/v1/sites", post(sites::add_site).get(sites::list_sites))
        .route("/v1/sites/{host}", delete(sites::remove_site))
        .route("/v1/sites/{host}/stats", get(sites::site_stats))
        .route("/v1/sites/{host}/purge", post(jobs::purge_site))
        .route("/v1/sites/{host}/push", post(jobs::push_site))
        .route(
            "/v1/sites/{host}/roots",
            post(roots::push_roots).get(roots::known_roots),
        )
        .route("/v1/jobs/{id}", get(jobs::job))
        .route("/v1/sites/{host}/billing", get(ledger::site_billing))
        .route(
            "/v1/terminals/{node}/earnings",
            get(ledger::terminal_earnings),
        )
        .route("/v1/ledger/head", get(ledger::head))
        .route("/v1/ledger/log", get(ledger::log))
        .route("/v1/ledger/accounts/{id}", get(ledger::account))
        .route("/v1/ledger/accounts/{id}/transfers", get(ledger::history))
        .route("/v1/ledger/transfers/{id}", get(ledger::transfer))
        .route("/v1/ledger/mint", post(ledger::mint))
        .route("/v1/ledger/tx", post(ledger::tx))
        .route("/v1/ledger/slash", post(ledger::slash))
        .route("/v1/ledger/correct", post(ledger::correct))
        .route("/v1/ledger/claims/{claim}", get(claims::show))
        .route("/v1/ledger/claims/{claim}/verdict", post(claims::verdict))
        .route("/v1/council/term", get(council::term))
        .route("/v1/council/stakes", get(council::stakes))
        .route("/v1/ledger/payouts/{epoch}", get(ledger::payouts))
        .route(
            "/v1/ledger/payouts/{epoch}/proof/{account}",
            get(ledger::payout_proof),
        )
        .route("/v1/terminals", get(terminals::terminals))
        .route(
            "/v1/terminals/{node}/rejections",
            get(terminals::rejections),
        )
        .route("/v1/terminals/{node}/evidence", get(audits::evidence))
        .route("/v1/terminals/{node}/audits", get(audits::audits))
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

async fn router_info(State(s): State<Arc<Shared>>) -> Json<RouterInfo> {
    Json(RouterInfo {
        id: s.id,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        heartbeat_secs: s.heartbeat_secs(),
    })
}
