//! Network mode: the terminal joins a router, proves it is reachable, reports its health, learns the
//! sites it serves, serves them only with the router's tickets, and reports the bytes served per ticket.
//!
//! [`Node::run`] is the control loop: fetch the router's identity, register (the router probes the
//! public address before it admits), fetch the sites, then every heartbeat interval send a signed
//! heartbeat, refetch the sites when the router says they changed, and send the usage that is final. A
//! router that is unreachable or restarts is retried with backoff and re-joined without the operator: the
//! terminal keeps serving the sites it knows meanwhile, since tickets are checked offline.

pub mod client;
pub mod sites;
pub mod usage;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use meson_core::wire::{
    self, Heartbeat, HeartbeatReply, Job, JobAction, JobResult, PurgeScope, Register, Registered,
    SiteList, SitesQuery, UsageBatch, UsageReceipt,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};

use crate::cache::Cache;
use crate::index::Journal;
use crate::object::Purge;
use crate::ops;
use crate::site::Admitted;
use client::{CallError, RouterClient};
use sites::RouterSites;

/// Records per usage batch (the router takes at most 10,000).
const BATCH: usize = 5_000;
/// Longest wait between attempts to reach a router that does not answer.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the operator declares when joining.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The router's base URL.
    pub router: String,
    /// Where clients reach this terminal, e.g. `http://203.0.113.7:8080`; by default `http://` and the
    /// client listener's address (which must then not be a wildcard like 0.0.0.0).
    pub public_url: Option<String>,
    pub region: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub ticket_policy: sites::TicketPolicy,
    /// How long one call to the router may take (default 10 s).
    pub call_timeout: Duration,
}

/// The terminal's standing with its router, shown by the admin API and read by `terminal drain`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Standing {
    pub router: String,
    pub node_id: String,
    pub public_url: String,
    pub registered: bool,
    pub region: Option<String>,
    pub in_rotation: bool,
    pub draining: bool,
    pub sites: usize,
    pub active_connections: u64,
    /// Ticket serials whose usage is not yet acknowledged by the router.
    pub usage_pending: usize,
    pub usage_accepted: u64,
    pub last_error: Option<String>,
    /// Why the router keeps this terminal out of rotation for its audits, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<String>,
}

pub struct Node {
    cfg: NetworkConfig,
    client: RouterClient,
    pub sites: Arc<RouterSites>,
    public_url: OnceLock<String>,
    registered: AtomicBool,
    in_rotation: AtomicBool,
    draining: AtomicBool,
    region: Mutex<Option<String>>,
    last_error: Mutex<Option<String>>,
    /// The router's reason for suspending this terminal, from the last heartbeat reply.
    suspended: Mutex<Option<String>>,
    sites_version: AtomicU64,
    usage_accepted: AtomicU64,
    /// Results of the router's jobs, for the next heartbeat.
    done: Mutex<Vec<JobResult>>,
    /// Jobs under way, so a job the router sends again is not run twice at once.
    running: Mutex<HashSet<u64>>,
    /// Rung when a job finishes, to confirm it without waiting a whole interval.
    wake: Notify,
}

impl Node {
    pub fn new(cfg: NetworkConfig, client: RouterClient, sites: Arc<RouterSites>) -> Self {
        Node {
            public_url: OnceLock::new(),
            cfg,
            client,
            sites,
            registered: AtomicBool::new(false),
            in_rotation: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            region: Mutex::new(None),
            last_error: Mutex::new(None),
            suspended: Mutex::new(None),
            sites_version: AtomicU64::new(u64::MAX),
            usage_accepted: AtomicU64::new(0),
            done: Mutex::new(Vec::new()),
            running: Mutex::new(HashSet::new()),
            wake: Notify::new(),
        }
    }

    pub fn standing(&self, cache: &Cache) -> Standing {
        Standing {
            router: self.client.base().to_owned(),
            node_id: self.client.key().id().to_string(),
            public_url: self.public_url().to_owned(),
            registered: self.registered.load(Ordering::Relaxed),
            region: lock(&self.region).clone(),
            in_rotation: self.in_rotation.load(Ordering::Relaxed),
            draining: self.draining.load(Ordering::Relaxed),
            sites: self.sites.site_count(),
            active_connections: cache.stats.active_connections.load(Ordering::Relaxed),
            usage_pending: self.sites.book.len(),
            usage_accepted: self.usage_accepted.load(Ordering::Relaxed),
            last_error: lock(&self.last_error).clone(),
            suspended: lock(&self.suspended).clone(),
        }
    }

    /// Settles the public URL once the client listener is bound.
    pub fn bound(&self, addr: std::net::SocketAddr) -> Result<(), String> {
        let url = match &self.cfg.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None if addr.ip().is_unspecified() => {
                return Err(format!(
                    "the terminal listens on {addr}: give the address clients reach it on with --public-url"
                ))
            }
            None => format!("http://{addr}"),
        };
        let _ = self.public_url.set(url);
        Ok(())
    }

    pub fn public_url(&self) -> &str {
        self.public_url.get().map(String::as_str).unwrap_or("")
    }

    /// Takes the node out of rotation (or puts it back) from the next heartbeat on.
    pub fn set_draining(&self, draining: bool) {
        self.draining.store(draining, Ordering::Relaxed);
        tracing::info!(draining, "drain state changed by the operator");
    }

    fn failed(&self, e: &CallError) {
        let text = e.to_string();
        let mut last = lock(&self.last_error);
        if last.as_deref() != Some(text.as_str()) {
            tracing::warn!(error = %text, "router call failed");
        }
        *last = Some(text);
    }

    /// Logs a change of the router's verdict on this terminal's audits.
    fn note_suspension(&self, now: &Option<String>) {
        let mut suspended = lock(&self.suspended);
        if *suspended != *now {
            match now {
                Some(why) => tracing::warn!(reason = %why, "the router suspended this terminal"),
                None => tracing::info!("the router lifted this terminal's suspension"),
            }
            suspended.clone_from(now);
        }
    }

    fn succeeded(&self) {
        if lock(&self.last_error).take().is_some() {
            tracing::info!("router reachable again");
        }
    }

    /// The control loop, until `shutdown`.
    pub async fn run(self: Arc<Self>, cache: Arc<Cache>, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_secs(1);
        let mut interval = Duration::from_secs(5);
        loop {
            let wait = if self.registered.load(Ordering::Relaxed) {
                match self.clone().beat(&cache).await {
                    Ok(()) => interval,
                    Err(e) => {
                        if e.not_admitted() {
                            self.registered.store(false, Ordering::Relaxed);
                            self.in_rotation.store(false, Ordering::Relaxed);
                        }
                        self.failed(&e);
                        interval
                    }
                }
            } else {
                match self.join(&cache).await {
                    Ok(secs) => {
                        interval = Duration::from_secs(secs.max(1));
                        backoff = Duration::from_secs(1);
                        Duration::ZERO
                    }
                    Err(e) => {
                        self.failed(&e);
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        backoff
                    }
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = crate::shutdown::stopped(&mut shutdown) => return,
            }
        }
    }

    /// Learns the router's identity, registers, and fetches the sites; returns the heartbeat interval.
    async fn join(&self, cache: &Cache) -> Result<u64, CallError> {
        let info = self.client.info().await?;
        if let Err(e) = self.sites.set_router(info.id) {
            return Err(CallError::BadReply {
                path: wire::ROUTER_INFO_PATH,
                reason: e,
            });
        }
        let register = Register {
            public_url: self.public_url().to_owned(),
            capacity_bytes: cache.config().capacity,
            region: self.cfg.region.clone(),
            lat: self.cfg.lat,
            lon: self.cfg.lon,
            hardware: serde_json::to_value(crate::hardware::probe(cache.store().dir()))
                .unwrap_or_default(),
            version: env!("CARGO_PKG_VERSION").into(),
        };
        let reply: Registered = self
            .client
            .call(wire::REGISTER_PATH, wire::REGISTER, &register)
            .await?;
        *lock(&self.region) = reply.region.clone();
        self.fetch_sites().await?;
        self.registered.store(true, Ordering::Relaxed);
        self.in_rotation.store(true, Ordering::Relaxed);
        self.succeeded();
        tracing::info!(router = %self.client.base(), node = %self.client.key().id(), region = ?reply.region, sites = self.sites.site_count(), "joined the network");
        Ok(reply.heartbeat_secs)
    }

    async fn fetch_sites(&self) -> Result<(), CallError> {
        let list: SiteList = self
            .client
            .call(wire::SITES_PATH, wire::SITES, &SitesQuery::default())
            .await?;
        self.sites.replace(list.sites);
        Ok(())
    }

    async fn beat(self: Arc<Self>, cache: &Arc<Cache>) -> Result<(), CallError> {
        let index_summary = {
            let mut index = cache.index();
            (
                index.object_count() as u64,
                index.used_bytes(),
                index.roots_digest(),
                index.take_journal(),
            )
        };
        let journal = index_summary.3;
        let stats = &cache.stats;
        let hb = Heartbeat {
            active_connections: stats.active_connections.load(Ordering::Relaxed),
            egress_bytes_per_sec: stats.egress_rate.load(Ordering::Relaxed),
            free_disk_bytes: cache.free_disk(),
            disk_full: cache.disk_full(),
            objects: index_summary.0,
            used_bytes: index_summary.1,
            roots_digest: index_summary.2,
            draining: self.draining.load(Ordering::Relaxed),
            version: env!("CARGO_PKG_VERSION").into(),
            done: std::mem::take(&mut *lock(&self.done)),
            added: journal.added,
            evicted: journal.evicted,
        };
        let reply: HeartbeatReply = match self
            .client
            .call(wire::HEARTBEAT_PATH, wire::HEARTBEAT, &hb)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                lock(&self.done).extend(hb.done);
                cache.index().restore_journal(Journal {
                    added: hb.added,
                    evicted: hb.evicted,
                });
                return Err(e);
            }
        };
        self.note_suspension(&reply.suspended);
        if self.in_rotation.swap(reply.in_rotation, Ordering::Relaxed) != reply.in_rotation {
            tracing::info!(in_rotation = reply.in_rotation, "rotation changed");
        }
        if self.sites_version.load(Ordering::Relaxed) != reply.sites_version {
            self.fetch_sites().await?;
            self.sites_version
                .store(reply.sites_version, Ordering::Relaxed);
        }
        self.succeeded();
        for job in reply.jobs {
            if lock(&self.running).insert(job.id) {
                tokio::spawn(self.clone().execute(cache.clone(), job));
            }
        }
        self.report_usage(false).await
    }

    /// Runs one job of the router's and queues its result for the next heartbeat.
    async fn execute(self: Arc<Self>, cache: Arc<Cache>, job: Job) {
        let (ok, detail) = match self.sites.site(job.site) {
            None => (
                false,
                format!("this terminal does not serve site {}", job.site),
            ),
            Some(site) => match run_job(&cache, site, &job.action).await {
                Ok(detail) => (true, detail),
                Err(why) => (false, why),
            },
        };
        tracing::info!(job = job.id, ok, %detail, "job done");
        lock(&self.done).push(JobResult {
            id: job.id,
            ok,
            detail,
        });
        lock(&self.running).remove(&job.id);
        self.wake.notify_one();
    }

    /// Sends the usage that is final (all of it when `all`), batch by batch; unacknowledged records are
    /// kept for the next attempt.
    pub async fn report_usage(&self, all: bool) -> Result<(), CallError> {
        loop {
            let records = self
                .sites
                .book
                .take_due(crate::cache::unix_now(), all, BATCH);
            if records.is_empty() {
                return Ok(());
            }
            let batch = UsageBatch {
                records: records.iter().map(|(_, r)| r.clone()).collect(),
            };
            match self
                .client
                .call::<_, UsageReceipt>(wire::USAGE_PATH, wire::USAGE, &batch)
                .await
            {
                Ok(receipt) => {
                    self.usage_accepted
                        .fetch_add(receipt.accepted, Ordering::Relaxed);
                    metrics::counter!("meson_terminal_usage_records_total", "outcome" => "accepted")
                        .increment(receipt.accepted);
                    metrics::counter!("meson_terminal_usage_records_total", "outcome" => "duplicate")
                        .increment(receipt.duplicate);
                    for (reason, n) in &receipt.rejected {
                        tracing::warn!(%reason, records = n, "router rejected usage");
                        metrics::counter!("meson_terminal_usage_records_total", "outcome" => "rejected")
                            .increment(*n);
                    }
                }
                Err(e) => {
                    self.sites.book.restore(records);
                    return Err(e);
                }
            }
        }
    }

    /// At shutdown, once no response is streaming: reports every record left, within `grace`.
    pub async fn finish(&self, grace: Duration) {
        match tokio::time::timeout(grace, self.report_usage(true)).await {
            Ok(Ok(())) => tracing::info!("usage reported"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, pending = self.sites.book.len(), "usage not reported at shutdown: it is lost")
            }
            Err(_) => {
                tracing::warn!(
                    pending = self.sites.book.len(),
                    "usage not reported within the shutdown grace: it is lost"
                )
            }
        }
    }
}

async fn run_job(
    cache: &Arc<Cache>,
    site: Arc<crate::site::Site>,
    action: &JobAction,
) -> Result<String, String> {
    // Every key of a site starts with its name and then the path's `/`, so this prefix is the site alone.
    let within = format!("{}/", site.name);
    let split = |url: &str| -> Result<Admitted, String> {
        let (path, query) = match url.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (url, None),
        };
        let path = meson_core::path::normalize(path).map_err(|e| e.to_string())?;
        Ok(Admitted::new(site.clone(), &path, query))
    };
    match action {
        JobAction::Purge(scope) => {
            let n = match scope {
                PurgeScope::Url(url) => cache.purge(Purge::Key(&split(url)?.key)).await,
                PurgeScope::Prefix(p) if p.starts_with('/') => {
                    cache
                        .purge(Purge::Prefix(&format!("{}{p}", site.name)))
                        .await
                }
                PurgeScope::Prefix(p) => return Err(format!("prefix {p:?} must start with /")),
                PurgeScope::Tag(tag) => {
                    cache
                        .purge(Purge::Tag {
                            tag,
                            within: &within,
                        })
                        .await
                }
                PurgeScope::All => cache.purge(Purge::Prefix(&within)).await,
            };
            Ok(format!("purged {n} objects"))
        }
        JobAction::Push {
            path,
            root,
            ttl_secs,
        } => {
            let root = root.parse().map_err(|e| format!("root: {e}"))?;
            let a = split(path)?;
            let pushed = ops::push(cache, a.site, a.key, a.path_and_query, root, *ttl_secs)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("stored {} bytes", pushed.len))
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
