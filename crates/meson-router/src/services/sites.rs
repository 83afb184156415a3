//! Accounts and their sites: API keys, the sites each account owns, and the in-memory copy of every
//! site that redirects read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use http::{header, HeaderMap};
use meson_core::wire::SiteInfo;
use meson_ledger::accounts;
use meson_store::{NewSite, Site, SiteHour, Store, StoreError};

use super::error::{ServiceError, ServiceResult};
use super::ledger;
use crate::Shared;

/// Sites by host, kept in memory so redirects never wait on the database. Updated on this router's own
/// writes; routers sharing one database (the PostgreSQL backend) will need to refresh it.
#[derive(Default)]
/// The sites by host, and a version that changes with every edit so terminals know to refetch.
pub(crate) struct SiteCache(RwLock<HashMap<String, Arc<Site>>>, AtomicU64);

impl SiteCache {
    pub async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let sites = store.list_all_sites().await?;
        Ok(SiteCache(
            RwLock::new(
                sites
                    .into_iter()
                    .map(|s| (s.host.clone(), Arc::new(s)))
                    .collect(),
            ),
            AtomicU64::new(meson_node::unix_now()),
        ))
    }

    pub fn get(&self, host: &str) -> Option<Arc<Site>> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
            .cloned()
    }

    pub fn insert(&self, site: Site) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(site.host.clone(), Arc::new(site));
        self.1.fetch_add(1, Ordering::Relaxed);
    }

    /// The site with this id (a scan: for background tasks, not for every request).
    pub fn by_id(&self, id: i64) -> Option<Arc<Site>> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .find(|s| s.id == id)
            .cloned()
    }

    /// Starts at the router's start time, so a restarted router never repeats a version a terminal saw.
    pub fn version(&self) -> u64 {
        self.1.load(Ordering::Relaxed)
    }

    pub fn remove(&self, host: &str) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(host);
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

/// Opens an account named `name` and returns its id and its first API key (shown once: only its hash is
/// kept). Anyone may open an account; what it may do is bounded by the sites it owns.
pub(crate) async fn create_account(s: &Shared, name: &str) -> ServiceResult<(i64, String)> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ServiceError::Invalid(
            "name must be 1 to 200 characters".into(),
        ));
    }
    let account = s.store.create_account(name).await?;
    let api_key = format!("msk_{}", hex::encode(rand::random::<[u8; 32]>()));
    s.store
        .add_api_key(account.id, key_hash(&api_key), "created with the account")
        .await?;
    Ok((account.id, api_key))
}

fn key_hash(api_key: &str) -> [u8; 32] {
    *blake3::hash(api_key.as_bytes()).as_bytes()
}

/// The account whose API key `headers` carry as `Authorization: Bearer <key>`.
pub(crate) async fn account(s: &Shared, headers: &HeaderMap) -> ServiceResult<i64> {
    let unauthorized = |m: &str| ServiceError::Unauthorized(m.to_owned());
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            unauthorized("send the account's API key as `Authorization: Bearer <key>`")
        })?;
    // The lookup is by hash, so comparing happens inside the database on a value the caller cannot steer.
    match s.store.account_by_key_hash(key_hash(key.trim())).await? {
        Some(a) => Ok(a.id),
        None => Err(unauthorized("unknown or revoked API key")),
    }
}

/// The caller's site `host`. Another account's site answers like a missing one: site names are not to be
/// probed this way.
pub(crate) async fn owned_site(s: &Shared, headers: &HeaderMap, host: &str) -> ServiceResult<Site> {
    let account_id = account(s, headers).await?;
    let host = host.to_ascii_lowercase();
    match s.store.site_by_host(&host).await? {
        Some(site) if site.account_id == account_id => Ok(site),
        _ => Err(ServiceError::NotFound(format!(
            "no site {host} in this account"
        ))),
    }
}

pub(crate) fn site_info(site: &Site) -> SiteInfo {
    SiteInfo {
        id: site.id as u64,
        host: site.host.clone(),
        origin: site.origin.clone(),
        default_ttl_secs: site.default_ttl_secs,
        query_mode: site.query_mode,
    }
}

/// Adds a site, with its escrow account from the start so the owner can deposit before any traffic.
pub(crate) async fn add_site(s: &Shared, new: NewSite) -> ServiceResult<SiteInfo> {
    let site = s.store.add_site(new).await?;
    let info = site_info(&site);
    if let Err(e) = ledger::open(s, accounts::escrow(site.id)).await {
        tracing::error!(site = %site.host, error = %e, "cannot open the site's escrow account");
    }
    s.sites.insert(site);
    Ok(info)
}

pub(crate) async fn list_sites(s: &Shared, account_id: i64) -> ServiceResult<Vec<Site>> {
    Ok(s.store.list_sites(account_id).await?)
}

pub(crate) async fn remove_site(s: &Shared, account_id: i64, host: &str) -> ServiceResult<()> {
    let host = host.to_ascii_lowercase();
    s.store.remove_site(account_id, &host).await?;
    s.sites.remove(&host);
    Ok(())
}

/// A site's accepted usage per hour over the last `hours` (1 to 31 days' worth) up to now.
pub(crate) struct Stats {
    pub from: u64,
    pub to: u64,
    pub hours: Vec<SiteHour>,
    pub total: SiteHour,
}

pub(crate) async fn stats(s: &Shared, site: &Site, hours: Option<u64>) -> ServiceResult<Stats> {
    let hours = hours.unwrap_or(24).clamp(1, 24 * 31);
    let to = meson_node::unix_now();
    let from = (to / 3600).saturating_sub(hours - 1) * 3600;
    let rows = s.store.usage_by_site_hour(site.id, from, to + 1).await?;
    let mut total = SiteHour::default();
    for h in &rows {
        total.tickets += h.tickets;
        total.requests += h.requests;
        total.hits += h.hits;
        total.bytes += h.bytes;
    }
    Ok(Stats {
        from,
        to,
        hours: rows,
        total,
    })
}
