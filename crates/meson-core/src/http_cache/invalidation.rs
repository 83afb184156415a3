//! Invalidation after unsafe requests (RFC 9111 §4.4).

use http::header::{HeaderMap, CONTENT_LOCATION, LOCATION};
use http::uri::{Authority, Uri};
use http::{Method, StatusCode};

use super::syntax::trim_ows;

/// Whether the method is not one of RFC 9110 §9.2.1's safe methods. Extension methods count as
/// unsafe: RFC 9111 §4.4 treats "methods whose safety is unknown" like unsafe ones.
pub fn is_unsafe(method: &Method) -> bool {
    ![Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE].contains(method)
}

/// RFC 9111 §4.4: after a non-error (2xx/3xx) response to an unsafe request the cache must
/// invalidate the target URI, and may invalidate the URIs in Location and Content-Location when
/// they have the same origin.
///
/// Returns `None` when nothing is to be invalidated, `Some(paths)` when the target URI must be
/// (the terminal handles that itself) plus these extra paths (origin-form, path and query, without
/// fragment, deduplicated). `paths` holds only absolute-path references (`/a?b`) and absolute or
/// network-path URIs (`https://host/a`, `//host/a`) whose host and port match `request_authority`.
/// Host comparison ignores case; ports 80 and 443 compare equal to no port, because the terminal
/// serves a site under one cache whatever the scheme. Path-relative references (`a/b`, `../a`) are
/// skipped, since resolving them needs the target URI's path, which the caller has and this
/// function does not.
pub fn invalidation_targets(
    method: &Method,
    status: StatusCode,
    request_authority: &str,
    resp_headers: &HeaderMap,
) -> Option<Vec<String>> {
    if !is_unsafe(method) || !(status.is_success() || status.is_redirection()) {
        return None;
    }
    let origin = authority_key(request_authority);
    let mut paths = Vec::new();
    for value in resp_headers
        .get_all(LOCATION)
        .iter()
        .chain(resp_headers.get_all(CONTENT_LOCATION))
    {
        if let Some(path) = same_origin_path(value.as_bytes(), origin.as_deref()) {
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    Some(paths)
}

/// `host[:port]`, host lowercased, default ports dropped.
fn authority_key(authority: &str) -> Option<String> {
    let a: Authority = authority.parse().ok()?;
    let host = a.host().to_ascii_lowercase();
    Some(match a.port_u16() {
        Some(port) if port != 80 && port != 443 => format!("{host}:{port}"),
        _ => host,
    })
}

fn same_origin_path(value: &[u8], origin: Option<&str>) -> Option<String> {
    let value = std::str::from_utf8(trim_ows(value)).ok()?;
    let value = value.split('#').next()?;
    if value.starts_with('/') && !value.starts_with("//") {
        let uri: Uri = value.parse().ok()?;
        return Some(uri.path_and_query()?.as_str().to_string());
    }
    let absolute = if value.starts_with("//") {
        format!("http:{value}")
    } else {
        value.to_string()
    };
    let uri: Uri = absolute.parse().ok()?;
    let scheme = uri.scheme_str()?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    if authority_key(uri.authority()?.as_str())? != origin? {
        return None;
    }
    Some(uri.path_and_query().map_or("/", |p| p.as_str()).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_cache::test_support::headers;

    #[test]
    fn unsafe_methods() {
        for safe in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert!(!is_unsafe(&safe), "{safe}");
        }
        for unsafe_ in [
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::CONNECT,
        ] {
            assert!(is_unsafe(&unsafe_), "{unsafe_}");
        }
        assert!(is_unsafe(&Method::from_bytes(b"PROPFIND").unwrap()));
    }

    #[test]
    fn only_unsafe_methods_with_non_error_responses() {
        let none = HeaderMap::new();
        let t = |m: Method, s: u16| {
            invalidation_targets(&m, StatusCode::from_u16(s).unwrap(), "cdn.example", &none)
        };
        assert_eq!(t(Method::GET, 200), None);
        assert_eq!(t(Method::HEAD, 204), None);
        assert_eq!(t(Method::POST, 404), None);
        assert_eq!(t(Method::POST, 500), None);
        assert_eq!(t(Method::POST, 100), None);
        assert_eq!(t(Method::POST, 200), Some(vec![]));
        assert_eq!(t(Method::DELETE, 303), Some(vec![]));
    }

    #[test]
    fn same_origin_locations_only() {
        let h = headers(&[
            ("location", "/new?x=1#frag"),
            ("content-location", "https://CDN.example:443/a"),
            ("content-location", "http://cdn.example/a"),
            ("location", "//cdn.example/b"),
            ("location", "https://other.example/c"),
            ("location", "http://cdn.example:8080/d"),
            ("location", "https://cdn.example.evil/e"),
            ("location", "https://user@cdn.example"),
            ("location", "relative/f"),
            ("location", "ftp://cdn.example/g"),
            ("location", "mailto:x@cdn.example"),
            ("location", "/bad path"),
        ]);
        let got = invalidation_targets(&Method::POST, StatusCode::CREATED, "cdn.example", &h);
        assert_eq!(
            got,
            Some(vec![
                "/new?x=1".to_string(),
                "/b".into(),
                "/".into(),
                "/a".into()
            ])
        );

        let port = invalidation_targets(&Method::PUT, StatusCode::OK, "cdn.example:8080", &h);
        assert_eq!(port, Some(vec!["/new?x=1".to_string(), "/d".into()]));

        let garbage = invalidation_targets(&Method::PUT, StatusCode::OK, "not an authority", &h);
        assert_eq!(garbage, Some(vec!["/new?x=1".to_string()]));
    }
}
