//! Client requests: a `GET` or `HEAD` for a site (by `Host`, or as `/s/<host>/<path>`) is answered with
//! `302` to the terminal the scheduler picks, carrying a ticket.
//!
//! - **Cache key** (what the ticket's object digest and the scheduling key are computed from): the site's
//!   host, the path made canonical by the terminal's own `path::normalize`, then the query as the site's
//!   query mode says (`keep` as sent, `ignore` dropped, `sort` parameters sorted), with this router's own
//!   parameters ([`TICKET_PARAM`], [`RID_PARAM`]) removed. A network-mode terminal must derive the same key.
//! - **Client address**: the TCP peer. `X-Forwarded-For` is not trusted: anyone could claim any region and
//!   any ticket prefix.
//! - **Request ids**: an incoming `X-Request-Id` of 1 to 64 characters from `A-Z a-z 0-9 . _ -` is kept,
//!   anything else replaced by a random one. A header cannot follow a redirect, so the id travels to the
//!   terminal as the query parameter [`RID_PARAM`] (terminals must strip it before keying, like the ticket),
//!   and is also sent back on the `302` and logged with the ticket serial.
//! - **Budgets**: with billing on, each client prefix (the ticket's /24 or /48) gets a bounded number of
//!   paid tickets per site ([`crate::services::budget`]); past it, and when the site's escrow is empty, the
//!   client is sent to the site's origin with the reason in `X-Meson-Limit: prefix-budget` or
//!   `X-Meson-Billing: escrow-empty`.
//! - **Logs and metrics**: each redirect is counted in `meson_router_redirects_total{outcome}`; its log
//!   line (request id, site, client, terminal, serial) is at `debug`, so it costs nothing unless enabled.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use meson_core::keying::{cache_key, client_params, host_name, keyed_path};
use meson_core::schedule::schedule_key;
use meson_core::ticket::{object_digest, ClientPrefix};
use meson_store::Site;

use meson_node::X_REQUEST_ID;

use crate::http::error::ApiError;
use crate::services::tickets;
use crate::Shared;

/// Sends requests whose `Host` names a site to [`redirect`]; everything else reaches the API.
pub(crate) async fn by_host(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_name);
    match host.and_then(|h| s.sites.get(&h)) {
        Some(site) => {
            let (path, query) = (req.uri().path(), req.uri().query());
            redirect(
                &s,
                &site,
                peer.ip(),
                req.method(),
                path,
                query,
                req.headers(),
            )
        }
        None => next.run(req).await,
    }
}

/// `/s/<host>/<path>`: the same redirect for clients that cannot set `Host` (a plain link to the router).
pub(crate) async fn by_path(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    // The whole request rather than `HeaderMap` and `Uri` extractors, which would clone them.
    req: Request,
) -> Response {
    let (method, uri, headers) = (req.method(), req.uri(), req.headers());
    let rest = uri.path().strip_prefix("/s/").unwrap_or_default();
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    match s.sites.get(&host.to_ascii_lowercase()) {
        Some(site) => redirect(&s, &site, peer.ip(), method, path, uri.query(), headers),
        None => ApiError(
            StatusCode::NOT_FOUND,
            format!("no site {host:?} is registered"),
        )
        .into_response(),
    }
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| meson_core::wire::valid_request_id(v.as_bytes()))
        .map(str::to_owned)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()))
}

fn redirect(
    s: &Shared,
    site: &Site,
    client: IpAddr,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let rid = request_id(headers);
    let mut resp = redirect_inner(s, site, client, method, path, query, &rid)
        .unwrap_or_else(IntoResponse::into_response);
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Handles for the redirect counter, one per outcome, registered once: looking a counter up by name and
/// label costs more than the increment.
struct Outcomes {
    redirected: metrics::Counter,
    no_terminal: metrics::Counter,
    method: metrics::Counter,
    unfunded: metrics::Counter,
    prefix_budget: metrics::Counter,
}

fn outcomes() -> &'static Outcomes {
    static OUTCOMES: OnceLock<Outcomes> = OnceLock::new();
    OUTCOMES.get_or_init(|| {
        // Handles bind to the recorder installed when they are made: install ours first.
        meson_telemetry::prometheus();
        let outcome =
            |o: &'static str| metrics::counter!("meson_router_redirects_total", "outcome" => o);
        Outcomes {
            redirected: outcome("redirected"),
            no_terminal: outcome("no_terminal"),
            method: outcome("method"),
            unfunded: outcome("unfunded"),
            prefix_budget: outcome("prefix_budget"),
        }
    })
}

fn redirect_inner(
    s: &Shared,
    site: &Site,
    client: IpAddr,
    method: &Method,
    path: &str,
    query: Option<&str>,
    rid: &str,
) -> Result<Response, ApiError> {
    if method != Method::GET && method != Method::HEAD {
        outcomes().method.increment(1);
        return Err(ApiError(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not served through the CDN; use GET or HEAD"),
        ));
    }
    let normalized = meson_core::path::normalize(path)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    let params = client_params(query);
    let to_origin =
        |why: (&'static str, &'static str), body: &'static str| -> Result<Response, ApiError> {
            let target = meson_core::keying::with_params(&normalized, &params);
            let location =
                HeaderValue::from_str(&format!("{}{target}", site.origin.trim_end_matches('/')))
                    .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
            Ok((
                StatusCode::FOUND,
                [
                    (header::LOCATION, location),
                    (
                        header::HeaderName::from_static(why.0),
                        HeaderValue::from_static(why.1),
                    ),
                ],
                body,
            )
                .into_response())
        };
    let paid = s.cfg.billing.is_some();
    if paid && s.unfunded.contains(site.id) {
        // Out of funds: the client goes to the origin itself. Never served by terminals for free.
        outcomes().unfunded.increment(1);
        return to_origin(
            ("x-meson-billing", "escrow-empty"),
            "the site's escrow is empty: served by its origin\n",
        );
    }
    let client_prefix = ClientPrefix::around(client);
    if paid
        && !s
            .budget
            .take(s.budget_config(), site.id, client_prefix, Instant::now())
    {
        // Past its prefix's budget the client is still served, by the origin: a terminal's ticket would be
        // paid from the escrow, an unpaid one would make an honest terminal serve it for nothing.
        outcomes().prefix_budget.increment(1);
        return to_origin(
            ("x-meson-limit", "prefix-budget"),
            "this network has used its share of the site's CDN tickets for now: served by the origin\n",
        );
    }
    let keyed = keyed_path(&normalized, &params, site.query_mode);
    let cache_key = cache_key(&site.host, &keyed);
    let region = s.zones.region_of(client);
    let chosen = s.registry.pick(
        region,
        &schedule_key(&site.host, keyed.as_bytes()),
        s.cfg.load_bound,
        s.cfg.heartbeat,
    );
    let internal = |e: String| {
        tracing::error!(error = %e, "cannot issue a ticket");
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot issue a ticket".into(),
        )
    };
    let Some(picked) = chosen.map_err(|e| internal(e.to_string()))? else {
        outcomes().no_terminal.increment(1);
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "no healthy terminal is available for this site; retry shortly".into(),
        ));
    };
    let terminal = picked.node;
    let object = object_digest(cache_key.as_bytes());
    s.roots.seen(site, object, &keyed);
    s.holdings.routed(*terminal.as_bytes(), object);
    let target = tickets::Target {
        terminal,
        public_url: &picked.public_url,
        path,
        params: &params,
        object,
    };
    let (location, _) = tickets::issue(s, site, &target, client_prefix, rid).map_err(internal)?;
    // Debug, not info: at the default level every redirect would pay for a formatted write to the log
    // (3 to 4 µs to /dev/null, more to a terminal or journal), as much as the scheduling pick; the
    // counter stays. `MESON_LOG=info,meson_router::redirect=debug` brings the lines back.
    tracing::debug!(request_id = %rid, site = %site.host, %client, terminal = %terminal, "redirect");
    outcomes().redirected.increment(1);
    let location = HeaderValue::from_str(&location).map_err(|e| internal(e.to_string()))?;
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, location)],
        "redirecting to a terminal\n",
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_if_url_safe() {
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123_x.y"));
        assert_eq!(request_id(&h), "abc-123_x.y");
        h.insert(X_REQUEST_ID, HeaderValue::from_static("a b&c"));
        assert_eq!(request_id(&h).len(), 32);
    }
}
