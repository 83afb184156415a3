//! Sites: what the terminal serves, and where each fills from. The cache engine asks a [`Sites`] for the
//! site of every request and never learns how the sites were configured, so the single-origin mode here
//! and a router-fed network mode share one engine.

use std::sync::Arc;

use http::Uri;

use crate::origin::OriginClient;

/// One site: the namespace of its cache keys, and its origin.
pub struct Site {
    /// Prefix of every cache key of this site (the origin's authority in single-origin mode).
    pub name: String,
    pub origin: OriginClient,
}

impl Site {
    /// The cache key of a normalised path and query on this site.
    pub fn key(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.name)
    }

    /// The origin's `host[:port]`, which same-origin `Location` headers name.
    pub fn origin_authority(&self) -> &str {
        self.origin
            .origin()
            .authority()
            .map(|a| a.as_str())
            .unwrap_or("")
    }
}

/// Where the engine learns which site a request or an admin URL belongs to.
pub trait Sites: Send + Sync {
    /// The site for a client request's `Host` (or `:authority`); None refuses the request.
    fn for_host(&self, host: Option<&str>) -> Option<Arc<Site>>;
    /// The site an operator's URL names: an absolute URL on a site or its origin, or a bare path where
    /// that is unambiguous.
    fn for_url(&self, url: &Uri) -> Option<Arc<Site>>;
}

/// Every request, whatever its `Host`, goes to one origin: a plain reverse-proxy cache.
pub struct SingleOrigin(pub Arc<Site>);

impl SingleOrigin {
    pub fn new(origin: OriginClient) -> Self {
        let name = origin
            .origin()
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        SingleOrigin(Arc::new(Site { name, origin }))
    }
}

impl Sites for SingleOrigin {
    fn for_host(&self, _host: Option<&str>) -> Option<Arc<Site>> {
        Some(self.0.clone())
    }

    fn for_url(&self, url: &Uri) -> Option<Arc<Site>> {
        let origin = self.0.origin.origin();
        let ours = url.authority().is_none()
            || (url.authority() == origin.authority() && url.scheme() == origin.scheme());
        ours.then(|| self.0.clone())
    }
}
