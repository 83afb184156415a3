//! How a site's request becomes a cache key. The router derives the key to schedule the object and to
//! bind it in the ticket; the terminal derives it again to check the ticket and to store the object. Both
//! call [`cache_key`], so they cannot disagree.
//!
//! The key is the site's host, the path made canonical by [`crate::path::normalize`], then the query as
//! the site's [`QueryMode`] says, without the router's own parameters ([`TICKET_PARAM`], [`RID_PARAM`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The query parameter that carries a redirect ticket to a terminal; terminals strip it before keying.
pub const TICKET_PARAM: &str = "meson_ticket";
/// The query parameter carrying the router's request id to the terminal, which logs it and strips it before
/// keying: a header cannot follow a redirect.
pub const RID_PARAM: &str = "meson_rid";

/// What to do with a request's query string when forming the cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum QueryMode {
    /// Part of the cache key as sent.
    #[default]
    Keep,
    /// Dropped: every query string maps to the same object.
    Ignore,
    /// Parameters sorted, so their order does not split the cache.
    Sort,
}

impl QueryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryMode::Keep => "keep",
            QueryMode::Ignore => "ignore",
            QueryMode::Sort => "sort",
        }
    }
}

impl fmt::Display for QueryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query mode {0:?} must be keep, ignore or sort")]
pub struct UnknownQueryMode(pub String);

impl FromStr for QueryMode {
    type Err = UnknownQueryMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "keep" => Ok(QueryMode::Keep),
            "ignore" => Ok(QueryMode::Ignore),
            "sort" => Ok(QueryMode::Sort),
            other => Err(UnknownQueryMode(other.to_owned())),
        }
    }
}

/// A `Host` header's name as sites are registered: without its port or a final dot, lowercased.
pub fn host_name(host: &str) -> String {
    let h = if host.starts_with('[') {
        host
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    h.trim_end_matches('.').to_ascii_lowercase()
}

/// The value of parameter `name` in a query, as sent (the router's parameters are URL-safe as they are).
pub fn param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
}

/// The query's parameters, in order, without the router's own.
pub fn client_params(query: Option<&str>) -> Vec<&str> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            name != TICKET_PARAM && name != RID_PARAM
        })
        .collect()
}

/// `path` followed by `params` as a query, if any.
pub fn with_params(path: &str, params: &[&str]) -> String {
    if params.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", params.join("&"))
    }
}

/// The normalised path and the client's parameters as the site's cache key uses them.
pub fn keyed_path(path: &str, params: &[&str], mode: QueryMode) -> String {
    match mode {
        QueryMode::Keep => with_params(path, params),
        QueryMode::Ignore => path.to_owned(),
        QueryMode::Sort => {
            let mut sorted = params.to_vec();
            sorted.sort_unstable();
            with_params(path, &sorted)
        }
    }
}

/// The keyed path of a site-relative URL (`/path?query`): its path normalised, its query per `mode`.
pub fn keyed_url(path_and_query: &str, mode: QueryMode) -> Result<String, crate::path::PathError> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let path = crate::path::normalize(path)?;
    Ok(keyed_path(&path, &client_params(query), mode))
}

/// The cache key of a keyed path on a site.
pub fn cache_key(host: &str, keyed_path: &str) -> String {
    format!("{host}{keyed_path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_parameters_never_enter_the_cache_key() {
        let params = client_params(Some("b=2&meson_ticket=x&a=1&meson_rid=r"));
        assert_eq!(params, ["b=2", "a=1"]);
        assert_eq!(keyed_path("/p", &params, QueryMode::Keep), "/p?b=2&a=1");
        assert_eq!(keyed_path("/p", &params, QueryMode::Sort), "/p?a=1&b=2");
        assert_eq!(keyed_path("/p", &params, QueryMode::Ignore), "/p");
        assert_eq!(keyed_path("/p", &[], QueryMode::Keep), "/p");
        assert_eq!(client_params(Some("&&meson_rid=1&")), Vec::<&str>::new());
        assert_eq!(
            param(Some("a=1&meson_ticket=abc&b"), TICKET_PARAM),
            Some("abc")
        );
        assert_eq!(param(Some("meson_tickets=abc"), TICKET_PARAM), None);
        assert_eq!(param(None, TICKET_PARAM), None);
    }

    #[test]
    fn host_loses_port_case_and_final_dot() {
        assert_eq!(host_name("CDN.Example.com.:8080"), "cdn.example.com");
        assert_eq!(host_name("cdn.example.com"), "cdn.example.com");
        assert_eq!(host_name("[::1]"), "[::1]");
    }

    #[test]
    fn a_site_relative_url_is_keyed_like_a_request() {
        assert_eq!(
            keyed_url("/a/../b?z=1&y=2&meson_rid=x", QueryMode::Sort).unwrap(),
            "/b?y=2&z=1"
        );
        assert!(keyed_url("b", QueryMode::Keep).is_err());
    }

    #[test]
    fn query_modes_round_trip_through_their_names() {
        for m in [QueryMode::Keep, QueryMode::Ignore, QueryMode::Sort] {
            assert_eq!(m.as_str().parse::<QueryMode>(), Ok(m));
        }
        assert!("Keep".parse::<QueryMode>().is_err());
    }
}
