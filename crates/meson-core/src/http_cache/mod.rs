//! The HTTP caching rules of a shared cache (RFC 9111, RFC 9110 §13, RFC 9213, RFC 5861, RFC 8246),
//! as plain functions over headers and times, for the terminal to call.
//!
//! Why these are written here rather than taken from the `http-cache-semantics` crate: that crate
//! implements RFC 7234 for one response at a time behind its own policy object, has no
//! CDN-Cache-Control (RFC 9213), and no stale-if-error decision a gateway can use when its origin
//! fails. A CDN terminal needs each rule as a separate decision (may I store this, is it fresh for
//! this request, may I serve it stale because the origin is down, which fields do I keep, which
//! variant is this) so the rules live here as small pure functions, tested on their own and shared
//! with the simulator.
//!
//! Conventions: times are unix seconds (`u64`) supplied by the caller; every arithmetic step
//! saturates; header values are read as bytes, so obs-text or garbage never panics and always gets
//! the conservative reading. Where the RFCs leave room, the choice is documented on the function
//! that makes it; the directive-conflict rules are on [`response_directives`].

mod conditional;
mod directives;
mod fill;
mod freshness;
mod headers;
mod invalidation;
mod structured;
pub(crate) mod syntax;
mod vary;

pub(crate) use conditional::{entity_tag, response_etag};
pub use conditional::{evaluate_conditionals, revalidation_headers, Conditional};
pub use directives::{
    request_directives, response_directives, RequestDirectives, ResponseDirectives,
    CDN_CACHE_CONTROL,
};
pub use fill::{
    classify, Answer, FillContext, NewHead, NoCacheReason, PassOn, Stored, ToStore, Unusable,
    Wanted,
};
pub use freshness::{
    current_age, evaluate, freshness_lifetime, may_serve_stale_on_error, Evaluation, Freshness,
    StoredTimes,
};
pub use headers::{ensure_date, merge_not_modified, strip_for_storage};
pub use invalidation::{invalidation_targets, is_unsafe};
pub use vary::{vary_fields, vary_key, VaryStar};

use http::header::{HeaderMap, AUTHORIZATION};

#[cfg(test)]
pub(crate) mod test_support {
    use http::header::{HeaderMap, HeaderName};

    /// A header map from name/value pairs, in order; a repeated name makes several field lines.
    pub(crate) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }
}
use http::{Method, StatusCode};

/// Operator policy for responses whose origin said nothing explicit about freshness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// Share of `Date - Last-Modified` used as a heuristic lifetime (RFC 9111 §4.2.2 suggests 10%).
    pub heuristic_fraction_percent: u64,
    /// Ceiling of the heuristic lifetime.
    pub max_heuristic_secs: u64,
    /// Lifetime of a successful response with no explicit freshness and no Last-Modified (or no
    /// Date to measure it against); `None`: such responses are not stored.
    pub default_ttl_secs: Option<u64>,
    /// Lifetime of a 404, 410 or 5xx with no explicit freshness ("negative caching"); `None`: those
    /// are stored only when the origin gave them an explicit lifetime.
    pub cache_errors_ttl_secs: Option<u64>,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            heuristic_fraction_percent: 10,
            max_heuristic_secs: 86_400,
            default_ttl_secs: None,
            cache_errors_ttl_secs: None,
        }
    }
}

/// Why a response may not be stored, worded for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotStorable {
    #[error("request method is not GET")]
    Method,
    #[error("status is not stored as a whole response (1xx, 206, 304, or one whose caching rules we do not implement)")]
    Status,
    #[error("request carries Cache-Control: no-store")]
    RequestNoStore,
    #[error("response carries no-store")]
    NoStore,
    #[error("response is private to one user")]
    Private,
    #[error("request carries Authorization and the response has none of public, s-maxage or must-revalidate")]
    Authorization,
    #[error("response has no explicit freshness and no positive heuristic or configured lifetime")]
    NoFreshnessInfo,
    #[error("response varies on `*`, so no later request can match it")]
    VaryStar,
}

/// RFC 9111 §3 for a shared cache, plus this cache's own limits:
/// - only GET: a HEAD response has no content to serve a later GET, and POST responses are
///   practically never reusable (the terminal fills with GET);
/// - only statuses whose caching rules we implement: 200, 203, 204, 206, 300–303, 307, 308, 400,
///   403, 404, 405, 410, 414, 451, 500–504. Never 1xx or 304 (not complete responses), 201/202/205
///   (not representations of the target), 401/407/429 (about one client's credentials or rate);
/// - request `no-store` (§5.2.1.5) and response `no-store` (§5.2.2.5) forbid storing, except that
///   `must-understand` with an understood status overrides `no-store` (§5.2.2.3);
/// - unqualified `private`; a qualified one allows storing without the named fields;
/// - Authorization in the request only with `public`, `s-maxage` or `must-revalidate` (§3.5);
/// - `Vary: *`, which can never be matched (§4.1);
/// - explicit freshness (`max-age`, `s-maxage`, `Expires`, even when it gives 0: the entry can be
///   revalidated), or a positive implicit lifetime (see [`freshness_lifetime`]), or a successful
///   heuristically cacheable response with a validator (`ETag`, `Last-Modified`) whose heuristic
///   lifetime rounds to 0 (a file modified seconds ago): it is stale on arrival, but a 304 refreshes
///   it for the price of a header, which beats fetching the body again. Without any of these,
///   storing what is stale on arrival with nothing to revalidate it by is wasted disk.
///
/// 206 is checked last: for a 206, `Err(NotStorable::Status)` means every other rule allows storing,
/// so the terminal may store the slice itself.
pub fn storable(
    method: &Method,
    req_headers: &HeaderMap,
    status: StatusCode,
    resp_headers: &HeaderMap,
    settings: &CacheSettings,
) -> Result<(), NotStorable> {
    if method != Method::GET {
        return Err(NotStorable::Method);
    }
    if !understood(status) {
        return Err(NotStorable::Status);
    }
    if request_directives(req_headers).no_store {
        return Err(NotStorable::RequestNoStore);
    }
    let d = response_directives(resp_headers);
    if d.no_store && !d.must_understand {
        return Err(NotStorable::NoStore);
    }
    if d.private {
        return Err(NotStorable::Private);
    }
    if req_headers.contains_key(AUTHORIZATION)
        && !(d.public || d.s_maxage.is_some() || d.must_revalidate)
    {
        return Err(NotStorable::Authorization);
    }
    vary_fields(resp_headers).map_err(|VaryStar| NotStorable::VaryStar)?;
    let revalidatable = status.is_success()
        && (resp_headers.contains_key(http::header::ETAG)
            || resp_headers.contains_key(http::header::LAST_MODIFIED));
    if freshness::explicit_lifetime(&d, resp_headers).is_none()
        && freshness::implicit_lifetime(&d, status, resp_headers, settings) == 0
        && !revalidatable
    {
        return Err(NotStorable::NoFreshnessInfo);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        return Err(NotStorable::Status);
    }
    Ok(())
}

/// Statuses whose caching semantics this cache implements (listed on [`storable`]): RFC 9110's
/// heuristically cacheable ones, the other redirects, and the errors a CDN commonly caches.
pub(crate) fn understood(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        200 | 203
            | 204
            | 206
            | 300
            | 301
            | 302
            | 303
            | 307
            | 308
            | 400
            | 403
            | 404
            | 405
            | 410
            | 414
            | 451
            | 500
            | 501
            | 502
            | 503
            | 504
    )
}

/// RFC 9110 §15.1's heuristically cacheable statuses.
pub(crate) fn heuristically_cacheable(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        200 | 203 | 204 | 206 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_cache::test_support::headers;
    use http::header::HeaderName;
    use proptest::prelude::*;

    const NOW: u64 = 1_700_000_000;

    fn date(t: u64) -> String {
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t))
    }

    #[test]
    fn settings_default() {
        let d = CacheSettings::default();
        assert_eq!(
            (d.heuristic_fraction_percent, d.max_heuristic_secs),
            (10, 86_400)
        );
        assert_eq!((d.default_ttl_secs, d.cache_errors_ttl_secs), (None, None));
    }

    #[test]
    fn storable_table() {
        use NotStorable::{
            Authorization, NoFreshnessInfo, NoStore, Private, RequestNoStore, Status, VaryStar,
        };
        let lm = date(NOW - 1000);
        let now = date(NOW);
        let heuristic: Vec<(&str, &str)> = vec![("last-modified", &lm), ("date", &now)];
        // Modified this very second: the heuristic lifetime is 0, but the validator makes it worth keeping.
        let just_modified: Vec<(&str, &str)> = vec![("last-modified", &now), ("date", &now)];
        let fresh: &[(&str, &str)] = &[("cache-control", "max-age=60")];
        let none: &[(&str, &str)] = &[];
        let auth: &[(&str, &str)] = &[("authorization", "Bearer x")];
        let g = Method::GET;
        let s = CacheSettings::default();
        let with_default = CacheSettings {
            default_ttl_secs: Some(60),
            ..CacheSettings::default()
        };
        let negative = CacheSettings {
            cache_errors_ttl_secs: Some(10),
            ..CacheSettings::default()
        };
        type Row<'a> = (
            Method,
            &'a [(&'a str, &'a str)],
            u16,
            &'a [(&'a str, &'a str)],
            &'a CacheSettings,
            Result<(), NotStorable>,
        );
        let table: Vec<Row> = vec![
            (g.clone(), none, 200, fresh, &s, Ok(())),
            (Method::HEAD, none, 200, fresh, &s, Err(NotStorable::Method)),
            (Method::POST, none, 200, fresh, &s, Err(NotStorable::Method)),
            // statuses
            (g.clone(), none, 100, fresh, &s, Err(Status)),
            (g.clone(), none, 304, fresh, &s, Err(Status)),
            (g.clone(), none, 201, fresh, &s, Err(Status)),
            (g.clone(), none, 401, fresh, &s, Err(Status)),
            (g.clone(), none, 599, fresh, &s, Err(Status)),
            (g.clone(), none, 206, fresh, &s, Err(Status)),
            (
                g.clone(),
                none,
                206,
                &[("cache-control", "no-store")],
                &s,
                Err(NoStore),
            ),
            (g.clone(), none, 302, fresh, &s, Ok(())),
            (g.clone(), none, 500, fresh, &s, Ok(())),
            // heuristics and defaults
            (g.clone(), none, 200, &heuristic, &s, Ok(())),
            (g.clone(), none, 200, none, &s, Err(NoFreshnessInfo)),
            (g.clone(), none, 200, &just_modified, &s, Ok(())),
            (
                g.clone(),
                none,
                404,
                &just_modified,
                &s,
                Err(NoFreshnessInfo),
            ),
            (g.clone(), none, 200, none, &with_default, Ok(())),
            (g.clone(), none, 302, &heuristic, &s, Err(NoFreshnessInfo)),
            (
                g.clone(),
                none,
                200,
                &[("cache-control", "public")],
                &s,
                Err(NoFreshnessInfo),
            ),
            (g.clone(), none, 404, none, &s, Err(NoFreshnessInfo)),
            (g.clone(), none, 404, none, &negative, Ok(())),
            (g.clone(), none, 502, none, &negative, Ok(())),
            (g.clone(), none, 403, none, &negative, Err(NoFreshnessInfo)),
            (
                g.clone(),
                none,
                200,
                &[("cache-control", "max-age=0")],
                &s,
                Ok(()),
            ),
            (g.clone(), none, 200, &[("expires", "0")], &s, Ok(())),
            // no-store, private, must-understand
            (
                g.clone(),
                &[("cache-control", "no-store")],
                200,
                fresh,
                &s,
                Err(RequestNoStore),
            ),
            (g.clone(), &[("pragma", "no-cache")], 200, fresh, &s, Ok(())),
            (
                g.clone(),
                none,
                200,
                &[("cache-control", "max-age=60, no-store")],
                &s,
                Err(NoStore),
            ),
            (
                g.clone(),
                none,
                200,
                &[("cache-control", "max-age=60, no-store, must-understand")],
                &s,
                Ok(()),
            ),
            (
                g.clone(),
                none,
                200,
                &[("cache-control", "max-age=60, private")],
                &s,
                Err(Private),
            ),
            (
                g.clone(),
                none,
                200,
                &[("cache-control", "max-age=60, private=\"set-cookie\"")],
                &s,
                Ok(()),
            ),
            (
                g.clone(),
                none,
                200,
                &[("cache-control", "max-age=60, no-cache")],
                &s,
                Ok(()),
            ),
            // CDN-Cache-Control overrides Cache-Control entirely
            (
                g.clone(),
                none,
                200,
                &[
                    ("cache-control", "private"),
                    ("cdn-cache-control", "max-age=60"),
                ],
                &s,
                Ok(()),
            ),
            (
                g.clone(),
                none,
                200,
                &[
                    ("cache-control", "max-age=60"),
                    ("cdn-cache-control", "no-store"),
                ],
                &s,
                Err(NoStore),
            ),
            // Authorization
            (g.clone(), auth, 200, fresh, &s, Err(Authorization)),
            (
                g.clone(),
                auth,
                200,
                &[("cache-control", "max-age=60, public")],
                &s,
                Ok(()),
            ),
            (
                g.clone(),
                auth,
                200,
                &[("cache-control", "s-maxage=60")],
                &s,
                Ok(()),
            ),
            (
                g.clone(),
                auth,
                200,
                &[("cache-control", "max-age=60, must-revalidate")],
                &s,
                Ok(()),
            ),
            (
                g.clone(),
                auth,
                200,
                &[("cache-control", "max-age=60, proxy-revalidate")],
                &s,
                Err(Authorization),
            ),
            // Vary
            (
                g.clone(),
                none,
                200,
                &[("cache-control", "max-age=60"), ("vary", "accept-encoding")],
                &s,
                Ok(()),
            ),
            (
                g.clone(),
                none,
                200,
                &[
                    ("cache-control", "max-age=60"),
                    ("vary", "accept-encoding, *"),
                ],
                &s,
                Err(VaryStar),
            ),
        ];
        for (method, req, status, resp, settings, want) in table {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(
                storable(&method, &headers(req), status, &headers(resp), settings),
                want,
                "{method} {req:?} {status} {resp:?}"
            );
        }
    }

    const FIELDS: &[&str] = &[
        "cache-control",
        "cdn-cache-control",
        "pragma",
        "expires",
        "date",
        "last-modified",
        "age",
        "etag",
        "vary",
        "connection",
        "authorization",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
        "range",
        "content-range",
        "location",
        "content-location",
    ];

    /// Bytes that make up the syntax these fields use, so random values reach deep into parsers.
    fn field_value() -> impl Strategy<Value = Vec<u8>> {
        let syntax = prop::sample::select(
            b"max-age=s-maxage,private;no-cache\"\\ \t0123456789-*W/:?()stale-if-error/GMT\xff"
                .to_vec(),
        );
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            prop::collection::vec(syntax, 0..40),
        ]
    }

    proptest! {
        #[test]
        fn no_rule_panics_on_arbitrary_fields(
            fields in prop::collection::vec((0..FIELDS.len(), field_value()), 0..12),
            request_time in any::<u64>(),
            response_time in any::<u64>(),
            now in any::<u64>(),
            status in 100u16..1000,
        ) {
            let mut h = HeaderMap::new();
            for (i, bytes) in fields {
                if let Ok(v) = http::HeaderValue::from_bytes(&bytes) {
                    h.append(HeaderName::from_static(FIELDS[i]), v);
                }
            }
            let status = StatusCode::from_u16(status).unwrap();
            let s = CacheSettings { default_ttl_secs: Some(u64::MAX), cache_errors_ttl_secs: Some(u64::MAX), ..CacheSettings::default() };
            let times = StoredTimes { request_time, response_time };
            let _ = storable(&Method::GET, &h, status, &h, &s);
            let e = evaluate(&h, status, &h, &times, now, &s);
            prop_assert_eq!(e.lifetime, freshness_lifetime(status, &h, &s));
            let _ = may_serve_stale_on_error(&h, &h, &times, now, &s);
            let fields = vary_fields(&h).unwrap_or_default();
            let _ = vary_key(&fields, &h);
            let _ = revalidation_headers(&h);
            let _ = merge_not_modified(&h, &strip_for_storage(&h));
            let _ = evaluate_conditionals(&Method::GET, &h, status, &h);
            let _ = invalidation_targets(&Method::POST, status, "cdn.example", &h);
            let len = now % 100_000;
            if let crate::range::RangeRequest::Satisfiable(ranges) = crate::range::parse_range(h.get("range"), len) {
                prop_assert!(ranges.iter().all(|r| r.start < r.end && r.end <= len));
            }
            let _ = crate::range::if_range_allows(h.get("if-range"), &h);
            if let Some(v) = h.get("content-range") {
                if let Some((r, total)) = crate::range::parse_content_range(v) {
                    prop_assert!(r.start < r.end && total.is_none_or(|t| r.end <= t));
                }
            }
        }
    }

    #[test]
    fn reasons_read_well() {
        assert_eq!(
            NotStorable::Private.to_string(),
            "response is private to one user"
        );
        assert!(NotStorable::Authorization
            .to_string()
            .contains("Authorization"));
    }
}
