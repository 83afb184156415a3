//! Every route the router serves, registered in this one place; the handlers live in one file per
//! resource beside it. The `/v1` routes are a table ([`api`]) so that the OpenAPI document can be checked
//! against what is really served ([`crate::api_routes`]).

use std::sync::Arc;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{get, on, MethodFilter, MethodRouter};
use axum::Router;
use meson_core::wire;
use meson_node::{HEALTH_PATH, METRICS_PATH};

use super::{
    audits, claims, control, council, gov, info, jobs, ledger, openapi, redirect, roots, sites,
    terminals, traffic,
};
use crate::Shared;

/// One `/v1` route: its method, its path as axum and the OpenAPI document both spell it, its handler.
pub(crate) struct Route {
    pub method: Method,
    pub path: &'static str,
    handler: MethodRouter<Arc<Shared>>,
}

fn route<H, T>(method: Method, path: &'static str, handler: H) -> Route
where
    H: Handler<T, Arc<Shared>>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
    Route {
        method,
        path,
        handler: on(filter, handler),
    }
}

/// Bodies of claims and votes carry probe records, whose bodies are kept verbatim: more than axum's
/// default limit of 2 MB.
const EVIDENCE_BODY_LIMIT: usize = 16 << 20;

fn big(mut r: Route) -> Route {
    r.handler = r
        .handler
        .layer(axum::extract::DefaultBodyLimit::max(EVIDENCE_BODY_LIMIT));
    r
}

/// The `/v1` API.
pub(crate) fn api() -> Vec<Route> {
    use Method as M;
    vec![
        route(M::GET, wire::ROUTER_INFO_PATH, info::router_info),
        route(M::GET, "/v1/openapi.json", openapi::document),
        route(M::POST, "/v1/accounts", sites::create_account),
        route(M::POST, "/v1/sites", sites::add_site),
        route(M::GET, "/v1/sites", sites::list_sites),
        route(M::DELETE, "/v1/sites/{host}", sites::remove_site),
        route(M::GET, "/v1/sites/{host}/stats", sites::site_stats),
        route(M::GET, "/v1/sites/{host}/traffic", traffic::site_traffic),
        route(M::POST, "/v1/sites/{host}/purge", jobs::purge_site),
        route(M::POST, "/v1/sites/{host}/push", jobs::push_site),
        route(M::POST, "/v1/sites/{host}/roots", roots::push_roots),
        route(M::GET, "/v1/sites/{host}/roots", roots::known_roots),
        route(M::GET, "/v1/sites/{host}/known", roots::known),
        route(M::GET, "/v1/jobs/{id}", jobs::job),
        route(M::GET, "/v1/sites/{host}/billing", ledger::site_billing),
        route(
            M::GET,
            "/v1/terminals/{node}/earnings",
            ledger::terminal_earnings,
        ),
        route(
            M::GET,
            "/v1/holders/{key}/dividends",
            ledger::holder_dividends,
        ),
        route(M::GET, "/v1/ledger/head", ledger::head),
        route(M::GET, "/v1/ledger/log", ledger::log),
        route(M::GET, "/v1/ledger/accounts/{id}", ledger::account),
        route(
            M::GET,
            "/v1/ledger/accounts/{id}/transfers",
            ledger::history,
        ),
        route(M::GET, "/v1/ledger/transfers/{id}", ledger::transfer),
        route(M::POST, "/v1/ledger/mint", ledger::mint),
        route(M::POST, "/v1/ledger/tx", ledger::tx),
        route(M::POST, "/v1/ledger/slash", ledger::slash),
        route(M::POST, "/v1/ledger/correct", ledger::correct),
        route(M::GET, "/v1/ledger/claims/{claim}", claims::bond),
        big(route(M::POST, "/v1/claims", claims::file)),
        route(M::GET, "/v1/claims", claims::list),
        route(M::GET, "/v1/claims/{claim}", claims::show),
        route(M::GET, "/v1/claims/{claim}/evidence", claims::evidence),
        big(route(M::POST, "/v1/claims/{claim}/votes", claims::vote)),
        route(M::POST, "/v1/claims/{claim}/appeal", claims::appeal),
        route(M::POST, "/v1/claims/{claim}/probe", claims::probe),
        route(M::GET, "/v1/council", council::current),
        route(M::GET, "/v1/council/term", council::term),
        route(M::GET, "/v1/council/stakes", council::stakes),
        route(M::GET, "/v1/council/elections/{term}", council::election),
        route(
            M::GET,
            "/v1/council/elections/{term}/snapshot",
            council::snapshot,
        ),
        route(
            M::POST,
            "/v1/council/elections/{term}/ballots",
            council::ballot,
        ),
        route(M::GET, "/v1/gov/params", gov::params),
        route(M::GET, "/v1/gov/proposals", gov::list),
        big(route(M::POST, "/v1/gov/proposals", gov::file)),
        route(M::GET, "/v1/gov/proposals/{id}", gov::show),
        route(M::POST, "/v1/gov/proposals/{id}/votes", gov::vote),
        route(M::POST, "/v1/gov/proposals/{id}/delay", gov::delay),
        route(M::GET, "/v1/gov/shutdown", gov::shutdown),
        route(M::POST, "/v1/gov/shutdown", gov::signal),
        route(M::GET, "/v1/ledger/payouts/{epoch}", ledger::payouts),
        route(
            M::GET,
            "/v1/ledger/payouts/{epoch}/proof/{account}",
            ledger::payout_proof,
        ),
        route(M::GET, "/v1/terminals", terminals::terminals),
        route(
            M::GET,
            "/v1/terminals/{node}/rejections",
            terminals::rejections,
        ),
        route(M::GET, "/v1/usage/withheld", traffic::withheld),
        route(M::POST, "/v1/usage/withheld", traffic::review_group),
        route(M::POST, "/v1/usage/withheld/{serial}", traffic::review_one),
        route(M::GET, "/v1/terminals/{node}/evidence", audits::evidence),
        route(M::GET, "/v1/terminals/{node}/slashes", audits::slashes),
        route(M::GET, "/v1/evidence/{id}", audits::evidence_by_id),
        route(M::GET, "/v1/terminals/{node}/audits", audits::audits),
        route(M::POST, wire::REGISTER_PATH, control::register),
        route(M::POST, wire::HEARTBEAT_PATH, control::heartbeat),
        route(M::POST, wire::SITES_PATH, control::sites),
        route(M::POST, wire::USAGE_PATH, control::usage),
    ]
}

pub(crate) fn app(shared: Arc<Shared>) -> Router {
    let mut app = Router::new()
        .route(HEALTH_PATH, get(|| async { "ok\n" }))
        .route(METRICS_PATH, get(meson_telemetry::metrics_text));
    // Two methods on one path merge into one method router.
    for r in api() {
        app = app.route(r.path, r.handler);
    }
    app.route("/s/{host}", get(redirect::by_path))
        .route("/s/{host}/{*path}", get(redirect::by_path))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            redirect::by_host,
        ))
        .with_state(shared)
}
