//! Which response header fields a shared cache keeps, and how a 304 updates them
//! (RFC 9111 §3.1, §3.2, §4.3.4).

use http::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, DATE};

use super::directives::{response_directives, CACHE_CONTROLLING_FIELDS};
use super::syntax::split_list;

/// Removed before storing: hop-by-hop fields (RFC 9110 §7.6.1, §11.7) that describe one connection,
/// plus Set-Cookie (see [`strip_for_storage`]).
const NOT_STORED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-authentication-info",
    "trailer",
    "set-cookie",
    "set-cookie2",
];

/// Fields a 304 may not change in the stored response (RFC 9111 §3.2).
const NOT_UPDATED_BY_304: &[&str] = &[
    "content-length",
    "content-encoding",
    "content-range",
    "content-digest",
    "transfer-encoding",
];

/// The header fields to store for a response: without hop-by-hop fields (Connection, Keep-Alive,
/// Proxy-Connection, TE, Transfer-Encoding, Upgrade, Proxy-Authenticate, Proxy-Authorization,
/// Proxy-Authentication-Info, Trailer), Set-Cookie and Set-Cookie2 (see below), fields named in
/// Connection, and fields named by a qualified `no-cache="…"` or `private="…"` (RFC 9111 §5.2.2.4,
/// §5.2.2.7; stripping the `no-cache` ones is stricter than required, since it removes them even
/// after a revalidation, but keeps the stored copy uniform).
///
/// A Connection option naming a field the cache's own decisions rest on (Cache-Control, Vary, Date,
/// …) does not remove it: the response's storability was decided with that field, and silently
/// dropping Vary in particular would serve one variant to every client.
///
/// RFC 9111 §7.3 lets a shared cache store Set-Cookie, but replaying one client's cookie to everyone
/// is the classic shared-cache leak; like the major CDNs we never store it. The client whose request
/// filled the cache still gets the origin's response as received.
pub fn strip_for_storage(resp_headers: &HeaderMap) -> HeaderMap {
    let mut out = resp_headers.clone();
    for name in NOT_STORED {
        out.remove(*name);
    }
    // Unlike a cache directive's field list, one unreadable Connection option must not keep the
    // readable ones from being removed: removing more is the safe side here.
    let connection_options = resp_headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|v| split_list(v.as_bytes()))
        .filter_map(|option| HeaderName::from_bytes(option).ok());
    for name in connection_options {
        if !CACHE_CONTROLLING_FIELDS.contains(&name.as_str()) {
            out.remove(&name);
        }
    }
    let directives = response_directives(resp_headers);
    for name in directives
        .no_cache_fields
        .iter()
        .chain(&directives.private_fields)
    {
        out.remove(name);
    }
    out
}

/// The stored header fields after a 304 (RFC 9111 §4.3.4): every field the 304 carries replaces all
/// stored lines of that field, except Content-Length, Content-Encoding, Content-Range,
/// Content-Digest and Transfer-Encoding (RFC 9111 §3.2: they describe the bytes of the 304, not
/// the stored ones) and what [`strip_for_storage`] would not store; everything else is kept. The result is stripped again because the 304 may bring new
/// qualified `private`/`no-cache` directives.
///
/// The terminal must also reset the entry's [`super::StoredTimes`] to the revalidation exchange, and
/// re-derive the variant's fields from the merged Vary.
pub fn merge_not_modified(stored: &HeaderMap, not_modified: &HeaderMap) -> HeaderMap {
    let update = strip_for_storage(not_modified);
    let mut merged = stored.clone();
    for name in update.keys() {
        if NOT_UPDATED_BY_304.contains(&name.as_str()) {
            continue;
        }
        merged.remove(name);
        for value in update.get_all(name) {
            merged.append(name.clone(), value.clone());
        }
    }
    strip_for_storage(&merged)
}

/// Adds `Date: now` to a response that has none, as RFC 9110 §6.6.1 requires of a cache, so that
/// `Expires` and the heuristic have a reference point. An existing Date, even an invalid one, is kept:
/// replacing it would turn an origin's unusable Expires into a usable one.
pub fn ensure_date(resp_headers: &mut HeaderMap, now: u64) {
    if resp_headers.contains_key(DATE) {
        return;
    }
    let date = httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(now));
    if let Ok(value) = HeaderValue::from_str(&date) {
        resp_headers.insert(DATE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_cache::test_support::headers;

    fn names(h: &HeaderMap) -> Vec<&str> {
        let mut n: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        n.sort_unstable();
        n
    }

    #[test]
    fn strip_removes_hop_by_hop_cookies_and_qualified_fields() {
        let h = headers(&[
            ("connection", "close, X-Conn-A"),
            ("connection", "x-conn-b, vary, bad name"),
            ("x-conn-a", "1"),
            ("x-conn-b", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-authenticate", "Basic"),
            ("proxy-authorization", "Basic x"),
            ("trailer", "x-t"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            (
                "cache-control",
                "max-age=60, no-cache=\"x-nc\", private=\"X-Priv\"",
            ),
            ("x-nc", "1"),
            ("x-priv", "1"),
            ("vary", "accept-encoding"),
            ("content-type", "text/plain"),
            ("etag", "\"a\""),
        ]);
        assert_eq!(
            names(&strip_for_storage(&h)),
            ["cache-control", "content-type", "etag", "vary"]
        );
    }

    #[test]
    fn merge_replaces_fields_except_framing() {
        let stored = headers(&[
            ("cache-control", "max-age=60"),
            ("content-length", "100"),
            ("content-encoding", "gzip"),
            ("content-type", "text/plain"),
            ("x-multi", "a"),
            ("x-multi", "b"),
            ("etag", "\"v1\""),
            ("date", "Tue, 14 Nov 2023 22:13:20 GMT"),
        ]);
        let not_modified = headers(&[
            ("cache-control", "max-age=120, private=\"x-new\""),
            ("content-length", "0"),
            ("content-encoding", "br"),
            ("x-multi", "c"),
            ("x-new", "secret"),
            ("set-cookie", "s=1"),
            ("connection", "x-hop"),
            ("x-hop", "1"),
            ("date", "Tue, 14 Nov 2023 22:20:00 GMT"),
        ]);
        let merged = merge_not_modified(&stored, &not_modified);
        assert_eq!(
            merged.get("cache-control").unwrap(),
            "max-age=120, private=\"x-new\""
        );
        assert_eq!(merged.get("content-length").unwrap(), "100");
        assert_eq!(merged.get("content-encoding").unwrap(), "gzip");
        assert_eq!(merged.get("content-type").unwrap(), "text/plain");
        assert_eq!(merged.get_all("x-multi").iter().collect::<Vec<_>>(), ["c"]);
        assert_eq!(merged.get("date").unwrap(), "Tue, 14 Nov 2023 22:20:00 GMT");
        assert_eq!(merged.get("etag").unwrap(), "\"v1\"");
        for gone in ["x-new", "set-cookie", "connection", "x-hop"] {
            assert!(!merged.contains_key(gone), "{gone}");
        }
    }

    #[test]
    fn ensure_date_only_when_absent() {
        let mut h = HeaderMap::new();
        ensure_date(&mut h, 1_700_000_000);
        assert_eq!(h.get(DATE).unwrap(), "Tue, 14 Nov 2023 22:13:20 GMT");
        let mut invalid = headers(&[("date", "whenever")]);
        ensure_date(&mut invalid, 1_700_000_000);
        assert_eq!(invalid.get(DATE).unwrap(), "whenever");
    }
}
