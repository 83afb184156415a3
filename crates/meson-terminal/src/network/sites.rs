//! The sites a network-mode terminal serves: learned from the router, and entered only with a ticket the
//! router signed for this terminal, this site, this object and this client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use http::{Method, StatusCode, Uri};
use meson_core::audit::{self, Answer, Challenge};
use meson_core::http_cache::CacheSettings;
use meson_core::identity::{NodeId, NodeKey};
use meson_core::keying::{self, host_name, TICKET_PARAM};
use meson_core::signed::{ReplayGuard, SignedMessage};
use meson_core::ticket::{object_digest, Expect, Ticket, TicketError};
use meson_core::wire::SiteInfo;

use super::usage::UsageBook;
use crate::cache::unix_now;
use crate::claims::Claims;
use crate::origin::OriginClient;
use crate::site::{Admitted, Meter, Refused, RequestInfo, Site, Sites};

/// Challenges remembered against replay at most; past it, challenges are refused until older ones expire.
const CHALLENGES_REMEMBERED: usize = 10_000;

/// What a terminal does with a request whose ticket is missing or not good for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TicketPolicy {
    /// `302` back to the router's `/s/<site>/<path>`, which sends the client on with a fresh ticket: a
    /// bookmarked or shared terminal URL keeps working.
    #[default]
    Bounce,
    /// `403` with the reason.
    Refuse,
}

impl std::str::FromStr for TicketPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bounce" => Ok(TicketPolicy::Bounce),
            "refuse" => Ok(TicketPolicy::Refuse),
            other => Err(format!("ticket policy {other:?} must be bounce or refuse")),
        }
    }
}

#[derive(Default)]
struct SiteMap {
    by_id: HashMap<u64, Arc<Site>>,
    by_host: HashMap<String, Arc<Site>>,
    infos: HashMap<u64, SiteInfo>,
}

pub struct RouterSites {
    router_url: String,
    /// The router's identity, known once `GET /v1/router` answered; until then every ticket is refused.
    router: OnceLock<NodeId>,
    key: Arc<NodeKey>,
    me: u64,
    /// Challenges already answered, against replay.
    challenges: Mutex<ReplayGuard>,
    claims: Claims,
    policy: TicketPolicy,
    base: CacheSettings,
    origin_connect: Duration,
    origin_read: Duration,
    sites: RwLock<Arc<SiteMap>>,
    pub(crate) book: Arc<UsageBook>,
}

impl RouterSites {
    pub fn new(
        router_url: &str,
        key: Arc<NodeKey>,
        policy: TicketPolicy,
        base: CacheSettings,
        origin_connect: Duration,
        origin_read: Duration,
    ) -> Self {
        RouterSites {
            router_url: router_url.trim_end_matches('/').to_owned(),
            router: OnceLock::new(),
            me: key.id().short_id(),
            claims: Claims::new(key.clone()),
            key,
            challenges: Mutex::new(ReplayGuard::new(
                audit::MAX_CHALLENGE_SECS,
                CHALLENGES_REMEMBERED,
            )),
            policy,
            base,
            origin_connect,
            origin_read,
            sites: RwLock::default(),
            book: Arc::default(),
        }
    }

    /// Trusts tickets signed by `router` from now on. A terminal follows one router for its lifetime.
    pub fn set_router(&self, router: NodeId) -> Result<(), String> {
        match self.router.get_or_init(|| router) {
            known if *known == router => Ok(()),
            known => Err(format!(
                "the router's identity changed from {known} to {router}; restart the terminal to follow the new router"
            )),
        }
    }

    fn map(&self) -> Arc<SiteMap> {
        self.sites.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn site(&self, id: u64) -> Option<Arc<Site>> {
        self.map().by_id.get(&id).cloned()
    }

    pub fn site_count(&self) -> usize {
        self.map().by_id.len()
    }

    /// Replaces the site list, keeping the origin clients (and their pooled connections) of sites
    /// that did not change. Sites whose origin is not a valid URL are skipped and logged.
    pub fn replace(&self, list: Vec<SiteInfo>) {
        let old = self.map();
        let mut next = SiteMap::default();
        for info in list {
            let site = match old.by_id.get(&info.id) {
                Some(site) if old.infos.get(&info.id) == Some(&info) => site.clone(),
                _ => match self.build(&info) {
                    Ok(site) => Arc::new(site),
                    Err(e) => {
                        tracing::warn!(site = %info.host, origin = %info.origin, error = %e, "site skipped");
                        continue;
                    }
                },
            };
            next.by_host.insert(info.host.clone(), site.clone());
            next.by_id.insert(info.id, site);
            next.infos.insert(info.id, info);
        }
        let (before, after) = (old.by_id.len(), next.by_id.len());
        *self.sites.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        tracing::info!(before, after, "site list updated");
    }

    fn build(&self, info: &SiteInfo) -> Result<Site, String> {
        let origin: Uri = info.origin.parse().map_err(|e| format!("{e}"))?;
        if !matches!(origin.scheme_str(), Some("http" | "https")) || origin.authority().is_none() {
            return Err("not an absolute http(s) URL".into());
        }
        let mut settings = self.base.clone();
        if info.default_ttl_secs.is_some() {
            settings.default_ttl_secs = info.default_ttl_secs;
        }
        Ok(Site {
            id: info.id,
            name: info.host.clone(),
            origin: OriginClient::new(origin, self.origin_connect, self.origin_read),
            query_mode: info.query_mode,
            settings,
        })
    }

    /// Refuses, or sends the client back to the router for the same URL on the site it named.
    fn refuse(&self, site: Option<&Site>, req: &RequestInfo<'_>, why: &str) -> Refused {
        metrics::counter!("meson_terminal_tickets_refused_total").increment(1);
        match (self.policy, site) {
            (TicketPolicy::Bounce, Some(site)) => {
                let params = keying::client_params(req.query);
                let target = keying::with_params(req.path, &params);
                tracing::info!(why, site = %site.name, "no valid ticket: bounced to the router");
                Refused::Bounce(format!("{}/s/{}{target}", self.router_url, site.name))
            }
            _ => {
                tracing::info!(why, "no valid ticket: refused");
                Refused::Status(
                    StatusCode::FORBIDDEN,
                    format!(
                        "{why}; request this URL through the router at {}",
                        self.router_url
                    ),
                )
            }
        }
    }
}

impl Sites for RouterSites {
    fn check_challenge(&self, msg: &SignedMessage<Challenge>) -> Result<Challenge, String> {
        let router = self
            .router
            .get()
            .ok_or("this terminal has not yet reached its router")?;
        let now = unix_now();
        let mut guard = self.challenges.lock().unwrap_or_else(|e| e.into_inner());
        let v = msg
            .verify(audit::CHALLENGE, now, &mut guard)
            .map_err(|e| e.to_string())?;
        audit::check_challenge(&v.signer, &v.body, router, &self.key.id(), now)
            .map_err(|e| e.to_string())?;
        Ok(v.body)
    }

    fn sign_answer(&self, answer: &Answer) -> Result<SignedMessage<Answer>, String> {
        SignedMessage::sign(&self.key, audit::ANSWER, unix_now(), rand::random(), answer)
            .map_err(|e| e.to_string())
    }

    fn claims(&self) -> Option<&Claims> {
        Some(&self.claims)
    }

    fn admit(&self, req: &RequestInfo<'_>) -> Result<Admitted, Refused> {
        let map = self.map();
        let by_host = req.host.map(host_name).and_then(|h| map.by_host.get(&h));
        if req.method != Method::GET && req.method != Method::HEAD {
            return Err(Refused::Status(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "{} is not served through the CDN; use GET or HEAD",
                    req.method
                ),
            ));
        }
        let Some(token) = keying::param(req.query, TICKET_PARAM) else {
            return Err(self.refuse(by_host.map(|s| &**s), req, "no ticket"));
        };
        let Some(router) = self.router.get() else {
            return Err(Refused::Status(
                StatusCode::SERVICE_UNAVAILABLE,
                "this terminal has not yet reached its router".into(),
            ));
        };
        let ticket = match Ticket::verify_issuer(token, router, self.me) {
            Ok(t) => t,
            Err(e) => return Err(self.refuse(by_host.map(|s| &**s), req, &e.to_string())),
        };
        let Some(site) = map.by_id.get(&ticket.site) else {
            // A site this terminal was not given (or not yet: the list refreshes with the heartbeat).
            return Err(Refused::Status(
                StatusCode::MISDIRECTED_REQUEST,
                format!("this terminal does not serve site {}", ticket.site),
            ));
        };
        if by_host.is_some_and(|h| h.id != site.id) {
            return Err(self.refuse(Some(site), req, "the ticket names another site than Host"));
        }
        let admitted = Admitted::new(site.clone(), req.path, req.query);
        let expect = Expect {
            terminal: self.me,
            site: site.id,
            object: object_digest(admitted.key.as_bytes()),
            client_ip: req
                .client_ip
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        };
        let now = unix_now();
        if let Err(e) = ticket.check(now, &expect) {
            let why = match e {
                TicketError::Expired { .. } => "the ticket expired".to_owned(),
                e => e.to_string(),
            };
            return Err(self.refuse(Some(site), req, &why));
        }
        Ok(Admitted {
            meter: self
                .book
                .open(ticket.serial, token, ticket.expires, now)
                .map(|c| Box::new(c) as Box<dyn Meter>),
            ..admitted
        })
    }

    fn for_url(&self, url: &Uri) -> Option<Arc<Site>> {
        let map = self.map();
        let host = url.host().map(|h| h.to_ascii_lowercase())?;
        map.by_host.get(&host).cloned().or_else(|| {
            map.by_id
                .values()
                .find(|s| s.origin.origin().authority() == url.authority())
                .cloned()
        })
    }
}
