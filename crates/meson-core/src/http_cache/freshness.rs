//! Freshness lifetime, age, and what a stored response may be used for (RFC 9111 §4.2, RFC 5861).
//!
//! All arithmetic saturates: the inputs are attacker- or clock-controlled, and a wrapped age would
//! turn a stale response fresh.

use http::header::{HeaderMap, AGE, DATE, EXPIRES, LAST_MODIFIED};
use http::StatusCode;

use super::directives::{
    request_directives, response_directives, RequestDirectives, ResponseDirectives,
};
use super::syntax::{date_field, delta_seconds, split_list};
use super::CacheSettings;

/// When the stored response was requested from and received from the origin (or last successfully
/// revalidated: the terminal updates both after a 304), in unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredTimes {
    pub request_time: u64,
    pub response_time: u64,
}

/// What the cache may do with a stored response for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Serve it as is. This includes a stale response the client accepts through `max-stale`.
    Fresh,
    /// Serve it now and revalidate in the background (RFC 5861 §3).
    StaleWhileRevalidate,
    /// Validate (or refetch) before serving.
    Stale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    pub freshness: Freshness,
    /// [`current_age`] of the stored response, for the `Age` header the terminal sends.
    pub age: u64,
    /// [`freshness_lifetime`] of the stored response.
    pub lifetime: u64,
}

/// RFC 9111 §4.2.1, for a shared cache: `s-maxage`, then `max-age`, then `Expires - Date`
/// (ignored when the directives came from CDN-Cache-Control, RFC 9213 §2.2), then, with no explicit
/// freshness at all:
/// - 4xx/5xx: `cache_errors_ttl_secs` for 404, 410 and 5xx, otherwise 0. Error pages get neither a
///   heuristic nor `default_ttl_secs`: an error page's Last-Modified says nothing about how long the
///   resource will stay missing, and negative caching is an explicit operator decision;
/// - a heuristically cacheable status (RFC 9110 §15.1), or any understood status marked `public`
///   (RFC 9111 §5.2.2.9): `heuristic_fraction_percent` of `Date - Last-Modified`, at most
///   `max_heuristic_secs` (§4.2.2); without both Last-Modified and Date, `default_ttl_secs`;
/// - anything else: 0.
///
/// An invalid or conflicting Expires, or Expires without a Date, gives 0 (§5.3: an invalid Expires
/// is in the past). The terminal should add Date to a response that lacks one before storing it
/// (RFC 9110 §6.6.1), see [`super::ensure_date`].
pub fn freshness_lifetime(
    status: StatusCode,
    resp_headers: &HeaderMap,
    settings: &CacheSettings,
) -> u64 {
    lifetime(
        &response_directives(resp_headers),
        status,
        resp_headers,
        settings,
    )
}

pub(crate) fn lifetime(
    d: &ResponseDirectives,
    status: StatusCode,
    headers: &HeaderMap,
    settings: &CacheSettings,
) -> u64 {
    explicit_lifetime(d, headers).unwrap_or_else(|| implicit_lifetime(d, status, headers, settings))
}

/// The lifetime the origin stated, if it stated one.
pub(crate) fn explicit_lifetime(d: &ResponseDirectives, headers: &HeaderMap) -> Option<u64> {
    if let Some(s) = d.s_maxage.or(d.max_age) {
        return Some(s);
    }
    if d.from_cdn_cache_control || !headers.contains_key(EXPIRES) {
        return None;
    }
    Some(
        match (date_field(headers, &EXPIRES), date_field(headers, &DATE)) {
            (Some(expires), Some(date)) => expires.saturating_sub(date),
            _ => 0,
        },
    )
}

/// The lifetime the cache assigns when the origin stated none.
pub(crate) fn implicit_lifetime(
    d: &ResponseDirectives,
    status: StatusCode,
    headers: &HeaderMap,
    settings: &CacheSettings,
) -> u64 {
    if status.is_client_error() || status.is_server_error() {
        let negative = matches!(status.as_u16(), 404 | 410) || status.is_server_error();
        return match settings.cache_errors_ttl_secs {
            Some(ttl) if negative => ttl,
            _ => 0,
        };
    }
    if !(super::heuristically_cacheable(status) || (d.public && super::understood(status))) {
        return 0;
    }
    match (
        date_field(headers, &LAST_MODIFIED),
        date_field(headers, &DATE),
    ) {
        (Some(last_modified), Some(date)) => {
            let since_modified = u128::from(date.saturating_sub(last_modified));
            let heuristic = since_modified * u128::from(settings.heuristic_fraction_percent) / 100;
            u64::try_from(heuristic)
                .unwrap_or(u64::MAX)
                .min(settings.max_heuristic_secs)
        }
        _ => settings.default_ttl_secs.unwrap_or(0),
    }
}

/// RFC 9111 §4.2.3, term by term. A missing or invalid Date counts as the response time (apparent
/// age 0); a missing or invalid Age as 0; a list-valued Age uses its first member (§5.1).
pub fn current_age(resp_headers: &HeaderMap, times: &StoredTimes, now: u64) -> u64 {
    let date_value = date_field(resp_headers, &DATE).unwrap_or(times.response_time);
    let age_value = resp_headers
        .get(AGE)
        .and_then(|v| {
            split_list(v.as_bytes())
                .first()
                .and_then(|first| delta_seconds(first))
        })
        .unwrap_or(0);
    let apparent_age = times.response_time.saturating_sub(date_value);
    let response_delay = times.response_time.saturating_sub(times.request_time);
    let corrected_age_value = age_value.saturating_add(response_delay);
    let corrected_initial_age = apparent_age.max(corrected_age_value);
    let resident_time = now.saturating_sub(times.response_time);
    corrected_initial_age.saturating_add(resident_time)
}

/// Decides whether a stored response can serve this request (RFC 9111 §4.2, §4.2.4, §5.2; RFC 5861).
///
/// - Request `no-cache` (or `Pragma: no-cache`) or unqualified response `no-cache`: [`Freshness::Stale`].
/// - Request `max-age=n` with an older response: `Stale`, whatever `max-stale` says.
/// - Fresh when `lifetime > age` and the remaining lifetime is at least the request's `min-fresh`.
///   A response that is still fresh but not `min-fresh` enough is `Stale`: the client asked for more
///   freshness than a background revalidation would give it now.
/// - Once stale, `must-revalidate`/`proxy-revalidate` forbid any stale use. Otherwise the response's
///   `stale-while-revalidate` window gives `StaleWhileRevalidate` (checked first, so the entry is
///   refreshed even for a client that would also have accepted it through `max-stale`), and the
///   request's `max-stale` gives `Fresh` unless the response has `s-maxage`.
///
/// `s-maxage` implies `proxy-revalidate` for a shared cache (§5.2.2.10), and we apply that to the
/// staleness a *client* asks for (`max-stale`), but not to `stale-while-revalidate` sent by the origin
/// in the same response: `s-maxage=1, stale-while-revalidate=59` is how origins (Next.js, for one)
/// say exactly "serve stale while refreshing", and every major CDN honours it. Reading the implied
/// proxy-revalidate as overriding the origin's explicit grant would defeat what it wrote; an explicit
/// `must-revalidate`/`proxy-revalidate` still wins.
///
/// A shared cache that wants to shield its origin from clients forcing revalidation can pass a
/// request header map without Cache-Control and Pragma.
pub fn evaluate(
    req_headers: &HeaderMap,
    status: StatusCode,
    resp_headers: &HeaderMap,
    times: &StoredTimes,
    now: u64,
    settings: &CacheSettings,
) -> Evaluation {
    let req = request_directives(req_headers);
    let resp = response_directives(resp_headers);
    let lifetime = lifetime(&resp, status, resp_headers, settings);
    let age = current_age(resp_headers, times, now);
    Evaluation {
        freshness: freshness(&req, &resp, lifetime, age),
        age,
        lifetime,
    }
}

fn freshness(
    req: &RequestDirectives,
    resp: &ResponseDirectives,
    lifetime: u64,
    age: u64,
) -> Freshness {
    if req.no_cache || resp.no_cache || req.max_age.is_some_and(|max| age > max) {
        return Freshness::Stale;
    }
    if lifetime > age {
        return if lifetime - age >= req.min_fresh.unwrap_or(0) {
            Freshness::Fresh
        } else {
            Freshness::Stale
        };
    }
    if forbids_stale(resp) || req.min_fresh.is_some_and(|m| m > 0) {
        return Freshness::Stale;
    }
    let staleness = age - lifetime;
    if resp
        .stale_while_revalidate
        .is_some_and(|window| staleness <= window)
    {
        return Freshness::StaleWhileRevalidate;
    }
    let client_accepts = match req.max_stale {
        Some(None) => true,
        Some(Some(max)) => staleness <= max,
        None => false,
    };
    if client_accepts && resp.s_maxage.is_none() {
        Freshness::Fresh
    } else {
        Freshness::Stale
    }
}

/// Directives after which nothing may serve the response stale (RFC 9111 §4.2.4).
fn forbids_stale(resp: &ResponseDirectives) -> bool {
    resp.must_revalidate || resp.proxy_revalidate || resp.no_cache
}

/// Whether a stale stored response may answer this request because the origin failed (an error,
/// a 500/502/503/504 answer, or no answer), per RFC 5861 §4.
///
/// RFC 5861 says `stale-if-error` applies "regardless of other freshness information", but RFC 9111
/// §4.2.4 and §5.2.2.2 are explicit that `must-revalidate` (and, for shared caches,
/// `proxy-revalidate`) exists precisely so a disconnected cache answers 504 rather than stale, and
/// `no-cache` demands a *successful* validation. Those win here: an origin that sent both asked for the
/// strict behaviour in so many words.
///
/// The window is the request's `stale-if-error` when the client sent one (it may narrow the
/// origin's; it may widen it only when the response has no `s-maxage`, whose implied
/// proxy-revalidate bars client-granted staleness), else the response's. As in [`evaluate`], the
/// origin's own `stale-if-error` is honoured despite its own `s-maxage`.
pub fn may_serve_stale_on_error(
    req_headers: &HeaderMap,
    resp_headers: &HeaderMap,
    times: &StoredTimes,
    now: u64,
    settings: &CacheSettings,
) -> bool {
    let resp = response_directives(resp_headers);
    if forbids_stale(&resp) {
        return false;
    }
    let req = request_directives(req_headers);
    let window = match (req.stale_if_error, resp.stale_if_error) {
        (Some(client), Some(origin)) if resp.s_maxage.is_some() => Some(client.min(origin)),
        (Some(_), None) if resp.s_maxage.is_some() => None,
        (Some(client), _) => Some(client),
        (None, origin) => origin,
    };
    let Some(window) = window else {
        return false;
    };
    // No status is passed in: the explicit lifetime does not depend on it, and for an implicit
    // one a successful response is assumed, since that is the only kind worth serving stale.
    let lifetime = lifetime(&resp, StatusCode::OK, resp_headers, settings);
    let staleness = current_age(resp_headers, times, now).saturating_sub(lifetime);
    staleness <= window
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderName;

    const NOW: u64 = 1_700_000_000;

    /// Evaluates a 200 stored at `NOW` (request and response) for a request with `req` at time `t`.
    fn eval_at(req: &HeaderMap, h: &HeaderMap, t: u64) -> Evaluation {
        let times = StoredTimes {
            request_time: NOW,
            response_time: NOW,
        };
        evaluate(req, StatusCode::OK, h, &times, t, &settings())
    }
    fn date(t: u64) -> String {
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t))
    }

    type Fields = Vec<(&'static str, String)>;

    fn headers(pairs: &[(&str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn cc(value: &str) -> HeaderMap {
        headers(&[("cache-control", value.to_string()), ("date", date(NOW))])
    }

    fn settings() -> CacheSettings {
        CacheSettings::default()
    }

    #[test]
    fn explicit_lifetime_precedence() {
        let ok = StatusCode::OK;
        let s = settings();
        let table: &[(Vec<(&str, String)>, u64)] = &[
            (
                vec![("cache-control", "s-maxage=10, max-age=20".into())],
                10,
            ),
            (
                vec![
                    ("cache-control", "max-age=20".into()),
                    ("expires", date(NOW + 99)),
                    ("date", date(NOW)),
                ],
                20,
            ),
            (vec![("expires", date(NOW + 99)), ("date", date(NOW))], 99),
            (vec![("expires", date(NOW - 99)), ("date", date(NOW))], 0),
            (vec![("expires", "0".into()), ("date", date(NOW))], 0),
            (
                vec![
                    ("expires", "garbage".into()),
                    ("date", date(NOW)),
                    ("last-modified", date(NOW - 1000)),
                ],
                0,
            ),
            (vec![("expires", date(NOW + 99))], 0),
            (
                vec![
                    ("expires", date(NOW + 99)),
                    ("expires", date(NOW + 50)),
                    ("date", date(NOW)),
                ],
                0,
            ),
            (
                vec![("expires", date(NOW + 99)), ("date", "bogus".into())],
                0,
            ),
            (
                vec![
                    ("cache-control", "max-age=0".into()),
                    ("last-modified", date(NOW - 1000)),
                    ("date", date(NOW)),
                ],
                0,
            ),
        ];
        for (pairs, want) in table {
            assert_eq!(
                freshness_lifetime(ok, &headers(pairs), &s),
                *want,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn cdn_cache_control_ignores_expires() {
        let h = headers(&[
            ("cdn-cache-control", "public".into()),
            ("cache-control", "max-age=500".into()),
            ("expires", date(NOW + 99)),
            ("date", date(NOW)),
            ("last-modified", date(NOW - 1000)),
        ]);
        assert_eq!(
            freshness_lifetime(StatusCode::OK, &h, &settings()),
            100,
            "heuristic, not Expires"
        );
    }

    #[test]
    fn heuristic_and_defaults() {
        let lm = |ago: u64| vec![("last-modified", date(NOW - ago)), ("date", date(NOW))];
        let with_default = CacheSettings {
            default_ttl_secs: Some(300),
            cache_errors_ttl_secs: Some(30),
            ..settings()
        };
        type Row<'a> = (u16, Fields, &'a CacheSettings, u64);
        let table: &[Row] = &[
            (200, lm(1000), &settings(), 100),
            (200, lm(10_000_000), &settings(), 86_400),
            (301, lm(1000), &settings(), 100),
            (
                200,
                vec![("last-modified", date(NOW + 50)), ("date", date(NOW))],
                &settings(),
                0,
            ),
            (200, vec![], &settings(), 0),
            (200, vec![], &with_default, 300),
            (200, lm(1000), &with_default, 100),
            (
                200,
                vec![("last-modified", date(NOW - 1000))],
                &with_default,
                300,
            ),
            (302, lm(1000), &with_default, 0),
            (307, vec![], &with_default, 0),
            (404, lm(1000), &settings(), 0),
            (404, lm(1000), &with_default, 30),
            (410, vec![], &with_default, 30),
            (503, vec![], &with_default, 30),
            (403, vec![], &with_default, 0),
            (405, lm(1000), &with_default, 0),
        ];
        for (status, pairs, s, want) in table {
            let status = StatusCode::from_u16(*status).unwrap();
            assert_eq!(
                freshness_lifetime(status, &headers(pairs), s),
                *want,
                "{status} {pairs:?}"
            );
        }
        let mut custom = settings();
        custom.heuristic_fraction_percent = 50;
        assert_eq!(
            freshness_lifetime(StatusCode::OK, &headers(&lm(1000)), &custom),
            500
        );
    }

    #[test]
    fn public_makes_understood_statuses_heuristically_cacheable() {
        let mut h = headers(&[("last-modified", date(NOW - 1000)), ("date", date(NOW))]);
        assert_eq!(freshness_lifetime(StatusCode::FOUND, &h, &settings()), 0);
        h.insert("cache-control", "public".parse().unwrap());
        assert_eq!(freshness_lifetime(StatusCode::FOUND, &h, &settings()), 100);
    }

    #[test]
    fn current_age_follows_section_4_2_3() {
        let times = StoredTimes {
            request_time: NOW - 2,
            response_time: NOW,
        };
        let table: &[(Fields, u64, u64)] = &[
            // apparent age from Date dominates
            (vec![("date", date(NOW - 10))], NOW, 10),
            // Age plus response delay dominates
            (vec![("date", date(NOW)), ("age", "30".into())], NOW, 32),
            (
                vec![("date", date(NOW)), ("age", "30".into())],
                NOW + 100,
                132,
            ),
            // Date in the future: apparent age clamps at 0
            (vec![("date", date(NOW + 500))], NOW, 2),
            // no Date: apparent age 0
            (vec![], NOW + 5, 7),
            // list-valued Age uses the first member; invalid Age is ignored
            (vec![("age", "40, 10".into())], NOW, 42),
            (vec![("age", "-5".into())], NOW, 2),
            (vec![("age", "soon".into())], NOW, 2),
            (
                vec![("age", "99999999999999999999999".into())],
                NOW,
                (1 << 31) + 2,
            ),
            // a clock that went backwards never underflows
            (vec![("date", date(NOW))], NOW - 100, 2),
        ];
        for (pairs, now, want) in table {
            assert_eq!(
                current_age(&headers(pairs), &times, *now),
                *want,
                "{pairs:?} at {now}"
            );
        }
        let weird = StoredTimes {
            request_time: u64::MAX,
            response_time: 0,
        };
        assert_eq!(current_age(&HeaderMap::new(), &weird, u64::MAX), u64::MAX);
    }

    fn eval(req: &str, resp: &str, age: u64) -> Freshness {
        let mut req_headers = HeaderMap::new();
        if !req.is_empty() {
            req_headers.insert("cache-control", req.parse().unwrap());
        }
        let times = StoredTimes {
            request_time: NOW,
            response_time: NOW,
        };
        let e = evaluate(
            &req_headers,
            StatusCode::OK,
            &cc(resp),
            &times,
            NOW + age,
            &settings(),
        );
        assert_eq!(e.age, age);
        e.freshness
    }

    #[test]
    fn evaluate_table() {
        use Freshness::*;
        let table: &[(&str, &str, u64, Freshness)] = &[
            ("", "max-age=100", 0, Fresh),
            ("", "max-age=100", 99, Fresh),
            ("", "max-age=100", 100, Stale),
            ("", "max-age=0", 0, Stale),
            // request no-cache / response no-cache
            ("no-cache", "max-age=100", 0, Stale),
            ("", "max-age=100, no-cache", 0, Stale),
            ("", "max-age=100, no-cache=\"set-cookie\"", 0, Fresh),
            // request max-age
            ("max-age=10", "max-age=100", 10, Fresh),
            ("max-age=10", "max-age=100", 11, Stale),
            ("max-age=10, max-stale", "max-age=5", 11, Stale),
            // min-fresh
            ("min-fresh=20", "max-age=100", 80, Fresh),
            ("min-fresh=20", "max-age=100", 81, Stale),
            (
                "min-fresh=20",
                "max-age=100, stale-while-revalidate=100",
                120,
                Stale,
            ),
            (
                "min-fresh=0",
                "max-age=100, stale-while-revalidate=100",
                120,
                StaleWhileRevalidate,
            ),
            // max-stale
            ("max-stale=50", "max-age=100", 150, Fresh),
            ("max-stale=50", "max-age=100", 151, Stale),
            ("max-stale", "max-age=100", 1_000_000, Fresh),
            ("max-stale", "max-age=100, must-revalidate", 101, Stale),
            ("max-stale", "max-age=100, proxy-revalidate", 101, Stale),
            ("max-stale", "s-maxage=100", 101, Stale),
            ("max-stale", "max-age=100, no-cache", 101, Stale),
            // stale-while-revalidate
            (
                "",
                "max-age=100, stale-while-revalidate=50",
                150,
                StaleWhileRevalidate,
            ),
            ("", "max-age=100, stale-while-revalidate=50", 151, Stale),
            (
                "",
                "max-age=100, stale-while-revalidate=50, must-revalidate",
                120,
                Stale,
            ),
            (
                "",
                "max-age=100, stale-while-revalidate=50, proxy-revalidate",
                120,
                Stale,
            ),
            (
                "",
                "s-maxage=1, stale-while-revalidate=59",
                30,
                StaleWhileRevalidate,
            ),
            (
                "max-stale",
                "max-age=100, stale-while-revalidate=50",
                120,
                StaleWhileRevalidate,
            ),
            (
                "max-stale",
                "max-age=100, stale-while-revalidate=50",
                200,
                Fresh,
            ),
            (
                "no-cache",
                "max-age=100, stale-while-revalidate=50",
                120,
                Stale,
            ),
        ];
        for (req, resp, age, want) in table {
            assert_eq!(
                eval(req, resp, *age),
                *want,
                "req {req:?} resp {resp:?} age {age}"
            );
        }
    }

    #[test]
    fn age_from_upstream_counts_against_lifetime() {
        let h = headers(&[
            ("cache-control", "max-age=60".into()),
            ("age", "50".into()),
            ("date", date(NOW)),
        ]);
        let at = |t| eval_at(&HeaderMap::new(), &h, t);
        assert_eq!(at(NOW + 9).freshness, Freshness::Fresh);
        assert_eq!(at(NOW + 10).freshness, Freshness::Stale);
        assert_eq!(at(NOW + 10).age, 60);
    }

    #[test]
    fn evaluate_uses_cdn_cache_control() {
        let h = headers(&[
            ("cache-control", "max-age=5, must-revalidate".into()),
            (
                "cdn-cache-control",
                "max-age=600, stale-while-revalidate=60".into(),
            ),
            ("date", date(NOW)),
        ]);
        let at = |t| eval_at(&HeaderMap::new(), &h, t);
        assert_eq!(at(NOW + 100).freshness, Freshness::Fresh);
        assert_eq!(at(NOW + 630).freshness, Freshness::StaleWhileRevalidate);
        assert_eq!(at(NOW + 661).freshness, Freshness::Stale);
    }

    #[test]
    fn evaluate_honours_pragma_and_reports_lifetime() {
        let req = headers(&[("pragma", "no-cache".into())]);
        let times = StoredTimes {
            request_time: NOW,
            response_time: NOW,
        };
        let e = evaluate(
            &req,
            StatusCode::OK,
            &cc("max-age=60"),
            &times,
            NOW,
            &settings(),
        );
        assert_eq!(
            e,
            Evaluation {
                freshness: Freshness::Stale,
                age: 0,
                lifetime: 60
            }
        );
    }

    fn stale_on_error(req: &str, resp: &str, age: u64) -> bool {
        let mut req_headers = HeaderMap::new();
        if !req.is_empty() {
            req_headers.insert("cache-control", req.parse().unwrap());
        }
        let times = StoredTimes {
            request_time: NOW,
            response_time: NOW,
        };
        may_serve_stale_on_error(&req_headers, &cc(resp), &times, NOW + age, &settings())
    }

    #[test]
    fn stale_if_error_table() {
        let table: &[(&str, &str, u64, bool)] = &[
            ("", "max-age=100", 101, false),
            ("", "max-age=100, stale-if-error=50", 150, true),
            ("", "max-age=100, stale-if-error=50", 151, false),
            ("", "max-age=100, stale-if-error=50", 10, true),
            (
                "",
                "max-age=100, stale-if-error=50, must-revalidate",
                120,
                false,
            ),
            (
                "",
                "max-age=100, stale-if-error=50, proxy-revalidate",
                120,
                false,
            ),
            ("", "max-age=100, stale-if-error=50, no-cache", 120, false),
            ("", "s-maxage=100, stale-if-error=50", 120, true),
            // the client's window replaces the origin's...
            (
                "stale-if-error=10",
                "max-age=100, stale-if-error=50",
                120,
                false,
            ),
            (
                "stale-if-error=100",
                "max-age=100, stale-if-error=50",
                180,
                true,
            ),
            ("stale-if-error=100", "max-age=100", 180, true),
            // ...but cannot widen it past s-maxage's implied proxy-revalidate
            ("stale-if-error=100", "s-maxage=100", 120, false),
            (
                "stale-if-error=100",
                "s-maxage=100, stale-if-error=50",
                180,
                false,
            ),
            (
                "stale-if-error=100",
                "s-maxage=100, stale-if-error=50",
                140,
                true,
            ),
            (
                "stale-if-error=10",
                "s-maxage=100, stale-if-error=50",
                120,
                false,
            ),
            (
                "stale-if-error=100",
                "max-age=100, must-revalidate",
                120,
                false,
            ),
        ];
        for (req, resp, age, want) in table {
            assert_eq!(
                stale_on_error(req, resp, *age),
                *want,
                "req {req:?} resp {resp:?} age {age}"
            );
        }
    }
}
