//! Sites: what the terminal serves, and where each fills from. The cache engine asks a [`Sites`] to admit
//! every request and never learns how the sites were configured, so the single-origin mode here and the
//! router-fed network mode ([`crate::network`]) share one engine.

use std::net::IpAddr;
use std::sync::Arc;

use http::{Method, StatusCode, Uri};
use meson_core::audit::{Answer, Challenge};
use meson_core::http_cache::CacheSettings;
use meson_core::keying::{self, QueryMode};
use meson_core::signed::SignedMessage;

use crate::body::ResponseBody;
use crate::claims::Claims;
use crate::origin::OriginClient;

/// One site: the namespace of its cache keys, its origin and its caching rules.
pub struct Site {
    /// The router's id for the site; 0 in single-origin mode.
    pub id: u64,
    /// Prefix of every cache key of this site: its host in network mode, the origin's authority in
    /// single-origin mode.
    pub name: String,
    pub origin: OriginClient,
    pub query_mode: QueryMode,
    /// Freshness rules, with the site's own default TTL where it has one.
    pub settings: CacheSettings,
}

impl Site {
    /// The cache key of a normalised path and the client's query parameters on this site; the router
    /// derives the same key for the same request (see [`meson_core::keying`]).
    pub fn key(&self, path: &str, params: &[&str]) -> String {
        keying::cache_key(
            &self.name,
            &keying::keyed_path(path, params, self.query_mode),
        )
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

/// What the engine knows of a request when it asks whether and as what to serve it.
pub struct RequestInfo<'a> {
    pub method: &'a Method,
    /// `Host` (or `:authority`), as sent.
    pub host: Option<&'a str>,
    /// The path, already normalised.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub client_ip: Option<IpAddr>,
}

/// Accounts the bytes of one response to whoever the request is charged to (network mode: its redirect
/// ticket), so the engine meters without knowing what is metered or why.
pub trait Meter: Send {
    /// Wraps the response body; `hit` says the response came from the cache, `object_len` is the length
    /// of the whole object the response is (part of), when it says, and `version` the origin's version
    /// of it ([`meson_core::evidence::origin_version`]).
    fn meter(
        self: Box<Self>,
        body: ResponseBody,
        hit: bool,
        object_len: Option<u64>,
        version: Option<String>,
    ) -> ResponseBody;
}

/// A request the terminal will serve.
pub struct Admitted {
    pub site: Arc<Site>,
    pub key: String,
    /// What the origin is asked for: the path and the client's parameters, never the router's.
    pub path_and_query: String,
    /// Meters the response's bytes, when something accounts for them.
    pub meter: Option<Box<dyn Meter>>,
}

impl Admitted {
    pub fn new(site: Arc<Site>, path: &str, query: Option<&str>) -> Self {
        let params = keying::client_params(query);
        Admitted {
            key: site.key(path, &params),
            path_and_query: keying::with_params(path, &params),
            site,
            meter: None,
        }
    }
}

/// Why a request is not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Answered with this status and explanation.
    Status(StatusCode, String),
    /// Sent back to the router (`302` to this URL) for a fresh ticket.
    Bounce(String),
}

/// Where the engine learns which site a request or an admin URL belongs to.
pub trait Sites: Send + Sync {
    /// The site and cache key a client request is served as, or why it is refused.
    fn admit(&self, req: &RequestInfo<'_>) -> Result<Admitted, Refused>;
    /// The site an operator's URL names: an absolute URL on a site or its origin, or a bare path where
    /// that is unambiguous.
    fn for_url(&self, url: &Uri) -> Option<Arc<Site>>;
    /// A router's spot-check challenge, checked: signed by the router this terminal follows, for this
    /// terminal, fresh and never seen before. Only a network-mode terminal is audited.
    fn check_challenge(&self, _msg: &SignedMessage<Challenge>) -> Result<Challenge, String> {
        Err("this terminal follows no router: nobody audits it".into())
    }
    /// The answer signed with this terminal's node key.
    fn sign_answer(&self, _answer: &Answer) -> Result<SignedMessage<Answer>, String> {
        Err("this terminal has no node key".into())
    }
    /// This terminal's signed claims of what it serves, which every response it serves from its store
    /// carries: only a network-mode terminal, whose every client comes with the router's ticket, makes them.
    fn claims(&self) -> Option<&Claims> {
        None
    }
}

/// Every request, whatever its `Host`, goes to one origin: a plain reverse-proxy cache.
pub struct SingleOrigin(pub Arc<Site>);

impl SingleOrigin {
    pub fn new(origin: OriginClient, settings: CacheSettings) -> Self {
        let name = origin
            .origin()
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        SingleOrigin(Arc::new(Site {
            id: 0,
            name,
            origin,
            query_mode: QueryMode::Keep,
            settings,
        }))
    }
}

impl Sites for SingleOrigin {
    fn admit(&self, req: &RequestInfo<'_>) -> Result<Admitted, Refused> {
        Ok(Admitted::new(self.0.clone(), req.path, req.query))
    }

    fn for_url(&self, url: &Uri) -> Option<Arc<Site>> {
        let origin = self.0.origin.origin();
        let ours = url.authority().is_none()
            || (url.authority() == origin.authority() && url.scheme() == origin.scheme());
        ours.then(|| self.0.clone())
    }
}
