//! Ground truth: what the router knows of each object — size and BLAKE3 roots per origin version —
//! from sources independent of the terminals it pays and audits.
//!
//! - **Its own origin fetch.** The learner task fetches objects from the site's origin within a bandwidth
//!   budget (`RouterConfig::origin_bytes_per_sec`) and hashes them with `meson_core::content::ObjectHasher`,
//!   the roots a terminal computes for what it stores. It samples by popularity, the redirects it issues:
//!   objects whose usage is held for want of a size first, then at random weighted by redirects, each at
//!   most once per [`RELEARN`].
//! - **The site owner**, who pushes an object's size and roots through `POST /v1/sites/{host}/roots`.
//!
//! Terminals are never asked: their agreement would be a hint, not proof. Each learned version is stored
//! ([`meson_store::Store::record_object`]), which settles the usage held for the object in the same
//! transaction.
//!
//! Popularity lives in memory, bounded by [`MAX_TRACKED`] objects: when full, every count is halved and
//! objects left at zero are forgotten, so what stays is what is requested now.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meson_core::content::{ObjectHasher, ObjectRoots};
use meson_store::{KnownObject, Released, RootSource, Site};
use rand::Rng;
use tokio::sync::{watch, Notify};

use super::error::{ServiceError, ServiceResult};
use crate::Shared;

/// Objects whose popularity is tracked at most.
const MAX_TRACKED: usize = 100_000;
/// A known object is fetched again (a new origin version may have appeared) at most this often.
pub(crate) const RELEARN: Duration = Duration::from_secs(3600);
/// An object whose fetch failed is tried again after this.
const RETRY: Duration = Duration::from_secs(30);
/// The largest object the learner fetches (a terminal's own default limit).
const MAX_OBJECT: u64 = 64 << 30;
/// How long the learner waits for an origin to connect and between two pieces of a body.
const ORIGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Held objects loaded from the store at start, at most.
const HELD_AT_START: usize = 10_000;

type ObjectId = (i64, [u8; 16]);

struct Seen {
    /// The keyed path and the origin URL it is fetched from.
    path: Arc<str>,
    url: Arc<str>,
    redirects: u64,
    /// When the learner last fetched it, and whether that worked.
    tried: Option<(Instant, bool)>,
}

impl Seen {
    fn due(&self, wanted: bool) -> bool {
        match self.tried {
            None => true,
            Some((at, ok)) => {
                let wait = if ok && !wanted { RELEARN } else { RETRY };
                at.elapsed() >= wait
            }
        }
    }
}

#[derive(Default)]
struct Popularity {
    objects: HashMap<ObjectId, Seen>,
    /// Objects with usage held for want of their size.
    wanted: HashSet<ObjectId>,
}

impl Popularity {
    fn decay(&mut self) {
        self.objects.retain(|id, seen| {
            seen.redirects /= 2;
            seen.redirects > 0 || self.wanted.contains(id)
        });
    }

    /// A wanted object the learner can fetch, else one drawn at random weighted by redirects.
    fn next(&self) -> Option<(ObjectId, Arc<str>, Arc<str>)> {
        let pick = |id: &ObjectId, seen: &Seen| (*id, seen.path.clone(), seen.url.clone());
        if let Some(found) = self
            .wanted
            .iter()
            .find_map(|id| Some((id, self.objects.get(id).filter(|s| s.due(true))?)))
        {
            return Some(pick(found.0, found.1));
        }
        let due = || self.objects.iter().filter(|(_, s)| s.due(false));
        let total: u64 = due().map(|(_, s)| s.redirects).sum();
        if total == 0 {
            return None;
        }
        let mut at = rand::rng().random_range(0..total);
        for (id, seen) in due() {
            if at < seen.redirects {
                return Some(pick(id, seen));
            }
            at -= seen.redirects;
        }
        None
    }
}

/// Paces the learner's origin traffic to a number of bytes per second, averaged from its start.
struct Pace {
    bytes_per_sec: u64,
    started: Instant,
    bytes: u64,
}

impl Pace {
    /// Waits until `n` more bytes fit the budget.
    async fn consume(&mut self, n: u64) {
        self.bytes += n;
        let due = Duration::from_secs_f64(self.bytes as f64 / self.bytes_per_sec as f64);
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The learner's state shared with the redirect path and usage intake.
pub(crate) struct Roots {
    popularity: Mutex<Popularity>,
    wake: Notify,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            popularity: Mutex::default(),
            wake: Notify::new(),
            client: Client::builder(TokioExecutor::new())
                .build(meson_node::http::connector(ORIGIN_TIMEOUT, false)),
        }
    }
}

impl Roots {
    fn lock(&self) -> std::sync::MutexGuard<'_, Popularity> {
        self.popularity.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a redirect for the object `object` (digest of its cache key) at `keyed_path` on `site`.
    pub fn seen(&self, site: &Site, object: [u8; 16], keyed_path: &str) {
        let mut p = self.lock();
        if p.objects.len() >= MAX_TRACKED && !p.objects.contains_key(&(site.id, object)) {
            p.decay();
        }
        let seen = p.objects.entry((site.id, object)).or_insert_with(|| Seen {
            path: keyed_path.into(),
            url: format!("{}{keyed_path}", site.origin.trim_end_matches('/')).into(),
            redirects: 0,
            tried: None,
        });
        seen.redirects += 1;
        let new = seen.redirects == 1;
        drop(p);
        if new {
            // A new object for the learner, which may be idle.
            self.wake.notify_one();
        }
    }

    /// Usage for the object waits for its size: the learner fetches it first.
    pub fn want(&self, site_id: i64, object: [u8; 16]) {
        if self.lock().wanted.insert((site_id, object)) {
            self.wake.notify_one();
        }
    }

    fn tried(&self, id: ObjectId, ok: bool) {
        let mut p = self.lock();
        if ok {
            p.wanted.remove(&id);
        }
        if let Some(seen) = p.objects.get_mut(&id) {
            seen.tried = Some((Instant::now(), ok));
        }
    }
}

/// Stores one version of an object and settles its held usage; logs what it released.
pub(crate) async fn record(s: &Shared, object: KnownObject) -> ServiceResult<Released> {
    let released = s.store.record_object(&object).await?;
    s.roots.tried((object.site_id, object.object_key), true);
    super::slashing::held_over_size(s, &released.over_version).await;
    metrics::counter!("meson_router_objects_learned_total", "source" => object.source.as_str())
        .increment(1);
    if released != Released::default() {
        tracing::info!(site = object.site_id, path = %object.path, size = object.size, accepted = released.accepted, inflated = released.inflated, "held usage settled");
        metrics::counter!("meson_router_usage_released_total", "outcome" => "accepted")
            .increment(released.accepted);
        metrics::counter!("meson_router_usage_released_total", "outcome" => "inflated")
            .increment(released.inflated);
    }
    Ok(released)
}

/// What the site owner says of one object: checked for shape (a root per slice), then recorded.
pub(crate) async fn push(
    s: &Shared,
    site: &Site,
    keyed_path: String,
    version: String,
    roots: ObjectRoots,
) -> ServiceResult<(KnownObject, Released)> {
    let want = ObjectRoots::slice_count(roots.size);
    if roots.slices.len() as u64 != want && !roots.slices.is_empty() {
        return Err(ServiceError::Invalid(format!(
            "an object of {} bytes has {want} slices of {} bytes, got {} slice roots",
            roots.size,
            meson_core::content::SLICE_SIZE,
            roots.slices.len()
        )));
    }
    let object = known(site, keyed_path, version, &roots, RootSource::Owner);
    let released = record(s, object.clone()).await?;
    Ok((object, released))
}

fn known(
    site: &Site,
    keyed_path: String,
    version: String,
    roots: &ObjectRoots,
    source: RootSource,
) -> KnownObject {
    let cache_key = meson_core::keying::cache_key(&site.host, &keyed_path);
    KnownObject {
        site_id: site.id,
        object_key: meson_core::ticket::object_digest(cache_key.as_bytes()),
        version,
        path: keyed_path,
        size: roots.size,
        root: roots.root.0,
        slice_roots: roots.slices.iter().map(|r| r.0).collect(),
        source,
        learned_at: meson_node::unix_now(),
    }
}

/// The origin's version of what it sent, named as terminals name it; empty when it names none.
fn version(headers: &http::HeaderMap) -> String {
    meson_core::evidence::origin_version(headers).unwrap_or_default()
}

/// Fetches `url` and hashes what the origin answers, within the pace.
async fn fetch(
    roots: &Roots,
    url: &str,
    pace: &mut Pace,
) -> Result<(String, ObjectRoots, u64), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let req = http::Request::get(uri)
        .header(http::header::ACCEPT_ENCODING, "identity")
        .header(
            http::header::USER_AGENT,
            meson_core::audit::AUDITOR_USER_AGENT,
        )
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(ORIGIN_TIMEOUT, roots.client.request(req))
        .await
        .map_err(|_| format!("{url} did not answer within {ORIGIN_TIMEOUT:?}"))?
        .map_err(|e| format!("{url}: {e}"))?;
    // Terminals serve what the origin answers, error pages included; a server error is not an object.
    if resp.status().is_server_error() {
        return Err(format!("{url} answered {}", resp.status()));
    }
    let version = version(resp.headers());
    let mut body = resp.into_body();
    let mut hasher = ObjectHasher::new();
    let mut fetched = 0;
    loop {
        let frame = tokio::time::timeout(ORIGIN_TIMEOUT, body.frame())
            .await
            .map_err(|_| format!("{url} stalled for {ORIGIN_TIMEOUT:?}"))?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| format!("{url}: {e}"))?;
        if let Some(data) = frame.data_ref() {
            hasher.update(data);
            fetched += data.len() as u64;
            metrics::counter!("meson_router_auditor_origin_bytes_total")
                .increment(data.len() as u64);
            if hasher.size() > MAX_OBJECT {
                return Err(format!("{url} is larger than {MAX_OBJECT} bytes"));
            }
            pace.consume(data.len() as u64).await;
        }
    }
    Ok((version, hasher.finalize(), fetched))
}

/// The learner: fetches popular and wanted objects from their origins, one at a time, within the
/// budget, until `stop`.
pub(crate) async fn run(s: Arc<Shared>, bytes_per_sec: u64, mut stop: watch::Receiver<bool>) {
    match s.store.held_objects(HELD_AT_START).await {
        Ok(held) => s.roots.lock().wanted.extend(held),
        Err(e) => tracing::warn!(error = %e, "cannot load the objects with held usage"),
    }
    let mut pace = Pace {
        bytes_per_sec,
        started: Instant::now(),
        bytes: 0,
    };
    loop {
        let next = s.roots.lock().next();
        let Some((id, path, url)) = next else {
            tokio::select! {
                _ = s.roots.wake.notified() => {}
                // Objects become due again with time, not only on events.
                _ = tokio::time::sleep(RETRY) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            continue;
        };
        // A fresh pace after idling: the budget is a rate, not credit saved up while idle.
        if pace.bytes == 0
            || pace.started.elapsed().as_secs_f64() * bytes_per_sec as f64 > pace.bytes as f64
        {
            pace.started = Instant::now();
            pace.bytes = 0;
        }
        let fetched = tokio::select! {
            f = fetch(&s.roots, &url, &mut pace) => f,
            _ = stop.wait_for(|s| *s) => return,
        };
        match fetched {
            Ok((version, roots, _)) => {
                let Some(site) = s.sites.by_id(id.0) else {
                    s.roots.tried(id, true);
                    continue;
                };
                let object = known(&site, path.to_string(), version, &roots, RootSource::Origin);
                if let Err(e) = record(&s, object).await {
                    tracing::warn!(%url, error = %e, "cannot record what the origin sent");
                    s.roots.tried(id, false);
                }
            }
            Err(why) => {
                tracing::info!(%url, %why, "origin fetch for ground truth failed");
                metrics::counter!("meson_router_auditor_origin_failures_total").increment(1);
                s.roots.tried(id, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site {
            id: 1,
            account_id: 1,
            host: "cdn.example".into(),
            origin: "http://127.0.0.1:9/".into(),
            default_ttl_secs: None,
            query_mode: meson_core::keying::QueryMode::Keep,
            created_at: 0,
        }
    }

    #[test]
    fn wanted_objects_come_first_and_popular_ones_are_drawn_by_weight() {
        let roots = Roots::default();
        let site = site();
        for _ in 0..10 {
            roots.seen(&site, [1; 16], "/hot");
        }
        roots.seen(&site, [2; 16], "/cold");
        let (id, path, url) = roots.lock().next().unwrap();
        assert!(id.1 == [1; 16] || id.1 == [2; 16]);
        assert!(url.ends_with(&*path) && url.starts_with("http://127.0.0.1:9/"));
        roots.want(1, [2; 16]);
        assert_eq!(roots.lock().next().unwrap().0, (1, [2; 16]));
        // Learned: no longer wanted, and not due again for an hour; the other is drawn.
        roots.tried((1, [2; 16]), true);
        assert_eq!(roots.lock().next().unwrap().0, (1, [1; 16]));
        roots.tried((1, [1; 16]), true);
        assert!(roots.lock().next().is_none());
    }

    #[test]
    fn a_full_table_forgets_what_is_no_longer_requested() {
        let mut p = Popularity::default();
        let seen = |n| Seen {
            path: "/".into(),
            url: "http://o/".into(),
            redirects: n,
            tried: None,
        };
        p.objects.insert((1, [1; 16]), seen(1));
        p.objects.insert((1, [2; 16]), seen(8));
        p.objects.insert((1, [3; 16]), seen(1));
        p.wanted.insert((1, [3; 16]));
        p.decay();
        assert!(!p.objects.contains_key(&(1, [1; 16])));
        assert_eq!(p.objects[&(1, [2; 16])].redirects, 4);
        assert!(p.objects.contains_key(&(1, [3; 16])), "wanted objects stay");
    }
}
