//! One client request through the cache: look up, decide by RFC 9111, serve, fill or forward.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use meson_core::http_cache::{self, Conditional, Freshness};
use meson_core::range::{self, RangeRequest};

use crate::body::{self, ResponseBody};
use crate::cache::{unix_now, Cache};
use crate::fill::{self, FillKind, FillRequest, Passthrough};
use crate::fills::{Fill, FillError, FillState};
use crate::index::ObjectRef;
use crate::object::ObjectId;
use crate::origin::{empty_body, strip_hop_by_hop, RequestBody};
use crate::site::{Refused, RequestInfo, Site};
use crate::source::{Segment, Source};
use crate::telemetry::{request_metrics, CacheStatus, Stats};
use meson_core::path;

pub const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
const VIA: HeaderValue = HeaderValue::from_static("1.1 meson");

/// The parts of a client request the cache works with.
pub struct ClientRequest {
    pub site: Arc<Site>,
    pub method: Method,
    pub key: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub client_ip: Option<IpAddr>,
}

impl ClientRequest {
    fn fill_request(&self, slice: u32, kind: FillKind) -> FillRequest {
        FillRequest {
            site: self.site.clone(),
            key: self.key.clone(),
            path_and_query: self.path_and_query.clone(),
            headers: self.headers.clone(),
            client_ip: self.client_ip,
            slice,
            kind,
        }
    }
}

/// A plain-text error response.
pub fn error_response(status: StatusCode, msg: &str) -> Response<ResponseBody> {
    let mut resp = Response::new(body::full(format!(
        "{} {}: {msg}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Serves one client request; never fails: every problem becomes a clear status.
pub async fn handle(
    cache: &Arc<Cache>,
    req: Request<Incoming>,
    client_ip: Option<IpAddr>,
) -> Response<ResponseBody> {
    let (parts, body) = req.into_parts();
    let path = match path::normalize(parts.uri.path()) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(path = parts.uri.path(), error = %e, "refused request path");
            return error_response(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    if path == meson_core::wire::TERMINAL_HEALTH_PATH {
        return public_health(cache);
    }
    if path == meson_core::audit::AUDIT_PATH {
        return crate::audit::answer(cache, &parts.method, body).await;
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let info = RequestInfo {
        method: &parts.method,
        host,
        path: &path,
        query: parts.uri.query(),
        client_ip,
    };
    let admitted = match cache.sites.admit(&info) {
        Ok(a) => a,
        Err(refused) => return finish(refusal(refused), CacheStatus::Bypass),
    };
    let meter = admitted.meter;
    let creq = ClientRequest {
        key: admitted.key,
        site: admitted.site,
        method: parts.method,
        path_and_query: admitted.path_and_query,
        headers: parts.headers,
        client_ip,
    };
    let (resp, status) = if creq.method == Method::GET || creq.method == Method::HEAD {
        serve_cacheable(cache, &creq).await
    } else {
        (
            forward(cache, &creq, body.map_err(Into::into).boxed()).await,
            CacheStatus::Bypass,
        )
    };
    request_metrics().requests[status as usize].increment(1);
    let resp = match meter {
        Some(m) => {
            let hit = matches!(
                status,
                CacheStatus::Hit | CacheStatus::Stale | CacheStatus::Revalidated
            );
            let len = object_len(&resp);
            let version = meson_core::evidence::origin_version(resp.headers());
            resp.map(|b| m.meter(b, hit, len, version))
        }
        None => resp,
    };
    finish(resp, status)
}

/// The whole object's length a response is (part of): `Content-Range`'s complete length for a `206`,
/// else `Content-Length`.
fn object_len(resp: &Response<ResponseBody>) -> Option<u64> {
    let h = resp.headers();
    if resp.status() == StatusCode::PARTIAL_CONTENT {
        let (_, total) = h
            .get(header::CONTENT_RANGE)
            .and_then(meson_core::range::parse_content_range)?;
        return total;
    }
    h.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn public_health(cache: &Cache) -> Response<ResponseBody> {
    let body = format!(
        "{{\"status\":\"ok\",\"version\":\"{}\",\"disk_full\":{}}}\n",
        env!("CARGO_PKG_VERSION"),
        cache.disk_full()
    );
    let mut resp = Response::new(body::full(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn serve_cacheable(
    cache: &Arc<Cache>,
    req: &ClientRequest,
) -> (Response<ResponseBody>, CacheStatus) {
    let found = cache.index().lookup(&req.key, &req.headers);
    match found {
        Some(obj) if authorization_allows(&req.headers, &obj) => {
            serve_stored(cache, req, obj).await
        }
        Some(_) => (forward(cache, req, empty_body()).await, CacheStatus::Bypass),
        None if http_cache::request_directives(&req.headers).only_if_cached => (
            error_response(StatusCode::GATEWAY_TIMEOUT, "only-if-cached and not cached"),
            CacheStatus::Miss,
        ),
        None => serve_miss(cache, req, true).await,
    }
}

async fn serve_stored(
    cache: &Arc<Cache>,
    req: &ClientRequest,
    obj: ObjectRef,
) -> (Response<ResponseBody>, CacheStatus) {
    let now = unix_now();
    let meta = &obj.meta;
    let ev = http_cache::evaluate(
        &req.headers,
        meta.status,
        &meta.headers,
        &meta.times(),
        now,
        &req.site.settings,
    );
    match ev.freshness {
        Freshness::Fresh => (respond(cache, req, obj, None), CacheStatus::Hit),
        Freshness::StaleWhileRevalidate => {
            // RFC 5861 §3: answer now with the stale copy; one background request refreshes it.
            let fr = req.fill_request(0, FillKind::Revalidate(obj.clone()));
            let _ = fill::start(cache, (obj.id, 0), fr);
            (respond(cache, req, obj, None), CacheStatus::Stale)
        }
        Freshness::Stale if http_cache::request_directives(&req.headers).only_if_cached => (
            error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "only-if-cached and the cached response is stale",
            ),
            CacheStatus::Stale,
        ),
        Freshness::Stale => revalidate(cache, req, obj).await,
    }
}

async fn revalidate(
    cache: &Arc<Cache>,
    req: &ClientRequest,
    obj: ObjectRef,
) -> (Response<ResponseBody>, CacheStatus) {
    let fr = req.fill_request(0, FillKind::Revalidate(obj.clone()));
    let (fill, passthrough) = fill::start(cache, (obj.id, 0), fr);
    let state = fill.head().await;
    let stale_ok = || {
        http_cache::may_serve_stale_on_error(
            &req.headers,
            &obj.meta.headers,
            &obj.meta.times(),
            unix_now(),
            &req.site.settings,
        )
    };
    match state {
        FillState::NotModified { obj } => {
            (respond(cache, req, obj, None), CacheStatus::Revalidated)
        }
        FillState::Streaming { obj, slice, .. } | FillState::Done { obj, slice, .. } => (
            respond(cache, req, obj, Some((slice, fill))),
            CacheStatus::Miss,
        ),
        FillState::Uncacheable { status, .. } if status.is_server_error() && stale_ok() => {
            tracing::info!(key = %req.key, %status, "origin error: serving stale (stale-if-error)");
            (respond(cache, req, obj, None), CacheStatus::Stale)
        }
        FillState::Failed(e) if stale_ok() => {
            tracing::info!(key = %req.key, error = %e, "origin failed: serving stale (stale-if-error)");
            (respond(cache, req, obj, None), CacheStatus::Stale)
        }
        FillState::Uncacheable { .. } => (
            serve_passthrough(cache, req, passthrough).await,
            CacheStatus::Bypass,
        ),
        FillState::Failed(e) => (
            error_response(e.status(), &e.to_string()),
            CacheStatus::Miss,
        ),
        FillState::Waiting => unreachable!("wait_for_head returns a head"),
    }
}

/// A miss: join or start the fill of the slice the client needs first, then answer from it.
async fn serve_miss(
    cache: &Arc<Cache>,
    req: &ClientRequest,
    first_try: bool,
) -> (Response<ResponseBody>, CacheStatus) {
    let vary = cache.index().vary_fields(&req.key);
    let coalesce = ObjectId::derive(&req.key, &http_cache::vary_key(&vary, &req.headers));
    let slice = if first_try {
        first_wanted_byte(&req.headers).map_or(0, |b| (b / cache.cfg.slice_size) as u32)
    } else {
        0
    };
    let fr = req.fill_request(slice, FillKind::Miss);
    let (fill, passthrough) = fill::start(cache, (coalesce, slice), fr);
    match fill.head().await {
        FillState::Streaming { obj, slice, .. } | FillState::Done { obj, slice, .. } => {
            let mine = http_cache::vary_fields(&obj.meta.headers)
                .map(|v| http_cache::vary_key(&v, &req.headers) == obj.meta.vary_key)
                .unwrap_or(false);
            if mine {
                (
                    respond(cache, req, obj, Some((slice, fill))),
                    CacheStatus::Miss,
                )
            } else if first_try {
                // We waited on another variant's fill; now that the key's Vary is known, fetch ours.
                Box::pin(serve_miss(cache, req, false)).await
            } else {
                (forward(cache, req, empty_body()).await, CacheStatus::Bypass)
            }
        }
        FillState::Failed(FillError::PastEnd) if first_try => {
            Box::pin(serve_miss(cache, req, false)).await
        }
        FillState::Failed(e) => (
            error_response(e.status(), &e.to_string()),
            CacheStatus::Miss,
        ),
        FillState::Uncacheable { .. } | FillState::NotModified { .. } => (
            serve_passthrough(cache, req, passthrough).await,
            CacheStatus::Bypass,
        ),
        FillState::Waiting => unreachable!("wait_for_head returns a head"),
    }
}

/// The fill's own origin response when it was handed to us, else our own origin request.
async fn serve_passthrough(
    cache: &Cache,
    req: &ClientRequest,
    passthrough: Option<Passthrough>,
) -> Response<ResponseBody> {
    if let Some(Ok(resp)) = match passthrough {
        Some(rx) => Some(rx.await),
        None => None,
    } {
        return origin_response(resp, req.method == Method::HEAD, &cache.stats);
    }
    forward(cache, req, empty_body()).await
}

/// Sends the request to the origin uncached; an unsafe method invalidates what it changed (§4.4).
pub async fn forward(
    cache: &Cache,
    req: &ClientRequest,
    body: RequestBody,
) -> Response<ResponseBody> {
    metrics::counter!("meson_terminal_origin_requests_total").increment(1);
    let resp = match req
        .site
        .origin
        .send(
            req.method.clone(),
            &req.path_and_query,
            &req.headers,
            req.client_ip,
            body,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(key = %req.key, error = %e, "origin request failed");
            return error_response(e.status(), &e.to_string());
        }
    };
    let authority = req.site.origin_authority();
    if let Some(paths) =
        http_cache::invalidation_targets(&req.method, resp.status(), authority, resp.headers())
    {
        let mut keys = vec![req.key.clone()];
        keys.extend(
            paths
                .iter()
                .filter_map(|p| path::normalize(p).ok())
                .map(|p| match p.split_once('?') {
                    Some((path, query)) => req
                        .site
                        .key(path, &meson_core::keying::client_params(Some(query))),
                    None => req.site.key(&p, &[]),
                }),
        );
        let removed = cache.index().remove_where(|m| keys.contains(&m.key));
        if !removed.objects.is_empty() {
            tracing::info!(method = %req.method, key = %req.key, objects = removed.objects.len(), "invalidated by unsafe method");
        }
        cache.delete_now(&removed);
    }
    origin_response(resp, req.method == Method::HEAD, &cache.stats)
}

/// Builds the response for a stored (or filling) object: conditionals, ranges, HEAD.
fn respond(
    cache: &Arc<Cache>,
    req: &ClientRequest,
    obj: ObjectRef,
    hint: Option<(u32, Arc<Fill>)>,
) -> Response<ResponseBody> {
    let meta = obj.meta.clone();
    let mut headers = meta.headers.clone();
    let age = http_cache::current_age(&meta.headers, &meta.times(), unix_now());
    headers.insert(header::AGE, HeaderValue::from(age));

    match http_cache::evaluate_conditionals(&req.method, &req.headers, meta.status, &meta.headers) {
        Conditional::NotModified => return not_modified(&headers),
        Conditional::PreconditionFailed => {
            return error_response(StatusCode::PRECONDITION_FAILED, "precondition failed")
        }
        Conditional::Proceed => {}
    }

    let len = meta.total_len;
    let mut status = meta.status;
    let mut segments = vec![Segment::Data(0..len)];
    let mut content_len = len;
    if meta.status == StatusCode::OK {
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        let wants_range = range::if_range_allows(req.headers.get(header::IF_RANGE), &meta.headers);
        let parsed = if wants_range {
            range::parse_range(req.headers.get(header::RANGE), len)
        } else {
            RangeRequest::Full
        };
        match parsed {
            RangeRequest::Full => {}
            RangeRequest::Unsatisfiable => {
                let mut resp =
                    error_response(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
                resp.headers_mut()
                    .insert(header::CONTENT_RANGE, range::unsatisfied_content_range(len));
                return resp;
            }
            RangeRequest::Satisfiable(ranges) if ranges.len() == 1 => {
                let r = ranges[0].clone();
                status = StatusCode::PARTIAL_CONTENT;
                headers.insert(header::CONTENT_RANGE, range::content_range(&r, len));
                content_len = r.end - r.start;
                segments = vec![Segment::Data(r)];
            }
            RangeRequest::Satisfiable(ranges) => {
                status = StatusCode::PARTIAL_CONTENT;
                let boundary = format!("meson-{}", obj.id);
                let ctype = headers.get(header::CONTENT_TYPE).cloned();
                segments.clear();
                content_len = 0;
                for r in ranges {
                    let part =
                        range::multipart_boundary_part_header(&boundary, ctype.as_ref(), &r, len);
                    content_len += part.len() as u64 + (r.end - r.start);
                    segments.push(Segment::Static(Bytes::from(part)));
                    segments.push(Segment::Data(r));
                }
                let trailer = range::multipart_trailer(&boundary);
                content_len += trailer.len() as u64;
                segments.push(Segment::Static(Bytes::from(trailer)));
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}"))
                        .expect("ascii"),
                );
            }
        }
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(content_len));
    // Only this terminal's own claim, never one stored from an origin's response (nor passed on from one).
    headers.remove(crate::served::SERVED);
    if matches!(status, StatusCode::OK | StatusCode::PARTIAL_CONTENT) {
        if let Some(claim) = crate::served::header(cache, &req.site, &obj) {
            headers.insert(crate::served::SERVED, claim);
        }
    }
    let body = if req.method == Method::HEAD || content_len == 0 {
        body::empty()
    } else {
        let template = req.fill_request(0, FillKind::Miss);
        let filler = cache.clone();
        Source {
            cache: cache.clone(),
            obj,
            fill_missing: Some(Box::new(move |obj: &ObjectRef, slice: u32| {
                let fr = FillRequest {
                    slice,
                    kind: FillKind::MissingSlice(obj.clone()),
                    ..template.clone()
                };
                fill::start(&filler, (obj.id, slice), fr).0
            })),
            hint,
        }
        .body(segments)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

/// Whether a stored response may answer a request carrying credentials (RFC 9111 §3.5).
fn authorization_allows(req_headers: &HeaderMap, obj: &ObjectRef) -> bool {
    if !req_headers.contains_key(header::AUTHORIZATION) {
        return true;
    }
    let d = http_cache::response_directives(&obj.meta.headers);
    d.public || d.must_revalidate || d.s_maxage.is_some()
}

/// The first byte a `Range: bytes=N-…` request wants, to fill that slice first.
fn first_wanted_byte(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = v.trim().strip_prefix("bytes=")?;
    let first = spec.split(',').next()?.trim();
    let (start, _) = first.split_once('-')?;
    start.trim().parse().ok()
}

/// A 304 carries the validators and caching fields of the stored response (RFC 9110 §15.4.5).
fn not_modified(stored: &HeaderMap) -> Response<ResponseBody> {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::NOT_MODIFIED;
    for name in [
        header::CACHE_CONTROL,
        header::CONTENT_LOCATION,
        header::DATE,
        header::ETAG,
        header::EXPIRES,
        header::VARY,
        header::LAST_MODIFIED,
        header::AGE,
    ] {
        for v in stored.get_all(&name) {
            resp.headers_mut().append(name.clone(), v.clone());
        }
    }
    resp
}

/// An origin response passed to the client as it is, less hop-by-hop fields.
fn origin_response(
    resp: Response<Incoming>,
    head_only: bool,
    stats: &Arc<Stats>,
) -> Response<ResponseBody> {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(crate::served::SERVED);
    // The client's connection has its own protocol version; the origin's (1.0, 2) says nothing about it.
    parts.version = http::Version::default();
    let body = if head_only {
        body::empty()
    } else {
        let stats = stats.clone();
        body.map_frame(move |f| {
            if let Some(d) = f.data_ref() {
                stats.count_out(d.len());
            }
            f
        })
        .map_err(Into::into)
        .boxed()
    };
    Response::from_parts(parts, body)
}

/// A request the sites refused: the status they gave, or a `302` back to the router.
fn refusal(refused: Refused) -> Response<ResponseBody> {
    match refused {
        Refused::Status(status, why) => error_response(status, &why),
        Refused::Bounce(location) => {
            let mut resp = error_response(StatusCode::FOUND, "ticket refreshed by the router");
            match HeaderValue::from_str(&location) {
                Ok(v) => {
                    resp.headers_mut().insert(header::LOCATION, v);
                    resp
                }
                Err(_) => error_response(StatusCode::FORBIDDEN, "no valid ticket"),
            }
        }
    }
}

/// Headers every response gets: `Via` and `X-Cache`.
fn finish(mut resp: Response<ResponseBody>, status: CacheStatus) -> Response<ResponseBody> {
    let h = resp.headers_mut();
    h.append(header::VIA, VIA);
    h.insert(X_CACHE, HeaderValue::from_static(status.as_str()));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_wanted_byte_reads_the_first_range() {
        let mut h = HeaderMap::new();
        assert_eq!(first_wanted_byte(&h), None);
        h.insert(
            header::RANGE,
            HeaderValue::from_static("bytes=1048576-2000000, 5-6"),
        );
        assert_eq!(first_wanted_byte(&h), Some(1048576));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=-500"));
        assert_eq!(first_wanted_byte(&h), None);
    }
}
