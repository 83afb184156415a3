//! The in-memory side of the terminal registry: liveness from heartbeats and probes, load, and the
//! scheduler's view of which terminals are in rotation.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meson_api::terminals::{Health, TerminalView};
use meson_core::identity::{IdentityError, NodeId};
use meson_core::schedule::{Candidate, CandidateSet, CoverageZones, Region};
use meson_core::wire::Heartbeat;
use meson_store::{TerminalRecord, TerminalState};
use tokio::sync::watch;

use crate::Shared;

/// The region of terminals that declared none and whose address no coverage zone covers. Only clients
/// of unknown region, or a fallback to "everywhere", reach them; the name is not one an operator would
/// give a zone.
const UNPLACED: &str = "unplaced";

struct Entry {
    record: TerminalRecord,
    region: Region,
    last_heartbeat: Option<Instant>,
    /// Active connections at the last heartbeat.
    load: u64,
    /// Redirects sent to it since that heartbeat.
    redirected: u64,
    draining: bool,
    /// Its disk is full (or below its free-space floor): pushes go elsewhere.
    disk_full: bool,
    free_disk: u64,
    probe_ok: bool,
    /// Holds at least the minimum stake (always, when none is required).
    staked: bool,
    /// Passed enough audits for full traffic (always, when the router does not audit).
    vetted: bool,
    /// Why its audits keep it out of rotation, if they do.
    suspended: Option<String>,
    /// Objective evidence against it: out of rotation for good, whatever its audits say next.
    disqualified: Option<String>,
    /// What the health task last logged, to log only transitions.
    reported: Health,
}

impl Entry {
    /// A terminal known from the store or just admitted, not yet heard from.
    fn new(record: TerminalRecord, region: Region, vetted: bool) -> Self {
        Entry {
            record,
            region,
            last_heartbeat: None,
            load: 0,
            redirected: 0,
            draining: false,
            disk_full: false,
            free_disk: 0,
            probe_ok: true,
            staked: true,
            vetted,
            suspended: None,
            disqualified: None,
            reported: Health::Down,
        }
    }

    /// Its scheduling weight: its capacity in GiB once vetted; 1, the least, while new terminals are
    /// vetted, so they get a small share of traffic until they have passed enough audits.
    fn weight(&self) -> u32 {
        if self.vetted {
            weight(self.record.declared.capacity_bytes)
        } else {
            1
        }
    }

    fn health(&self, interval: Duration) -> Health {
        match self.last_heartbeat.map(|t| t.elapsed()) {
            None => Health::Down,
            Some(age) if age > interval * 3 => Health::Down,
            Some(age) if age > interval * 2 || !self.probe_ok => Health::Suspect,
            Some(_) => Health::Healthy,
        }
    }

    fn in_rotation(&self, interval: Duration) -> bool {
        self.health(interval) == Health::Healthy
            && !self.draining
            && self.staked
            && self.suspended.is_none()
            && self.disqualified.is_none()
            && self.record.state == TerminalState::Admitted
    }
}

/// The scheduler's candidates, rebuilt only when the set in rotation changes (a BLAKE3 call per terminal)
/// or once per heartbeat interval; loads are kept in it as they change, so a redirect costs no pass over
/// every terminal.
struct Schedule {
    /// Parallel to the candidates of `set`.
    terminals: Vec<Scheduled>,
    index: HashMap<[u8; 32], usize>,
    set: CandidateSet,
    built: Instant,
}

/// What a redirect needs of a terminal in rotation, kept so that a pick copies no string.
struct Scheduled {
    id: [u8; 32],
    /// Parsed at its first pick and carried over periodic rebuilds: parsing decompresses a curve point,
    /// which costs more than the rest of a pick (about 10 µs against 3 µs among 1,000 terminals).
    node: Option<NodeId>,
    public_url: Arc<str>,
}

/// The terminal a redirect goes to.
pub(crate) struct Picked {
    pub node: NodeId,
    pub public_url: Arc<str>,
}

#[derive(Default)]
pub(crate) struct Registry {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    schedule: Mutex<Option<Schedule>>,
    /// Terminals start unvetted (the router audits them).
    vetting: std::sync::atomic::AtomicBool,
}

/// The region a terminal is placed in: declared, else its address's coverage zone, else [`UNPLACED`].
pub(crate) fn place(
    declared: Option<&str>,
    public_url: &str,
    zones: &CoverageZones,
) -> Option<Region> {
    if let Some(r) = declared.and_then(|r| Region::new(r).ok()) {
        return Some(r);
    }
    let host = public_url.parse::<http::Uri>().ok()?.host()?.to_owned();
    let ip: IpAddr = host.trim_matches(['[', ']']).parse().ok()?;
    zones.region_of(ip).cloned()
}

fn weight(capacity_bytes: u64) -> u32 {
    (capacity_bytes >> 30).clamp(1, u64::from(u32::MAX)) as u32
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn invalidate(&self) {
        *self.schedule.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// A terminal known from the store, not yet heard from.
    pub fn load(&self, record: TerminalRecord, zones: &CoverageZones) {
        let region = place(
            record.declared.region.as_deref(),
            &record.declared.public_url,
            zones,
        )
        .unwrap_or_else(|| Region::new(UNPLACED).expect("valid region name"));
        self.lock().insert(
            record.declared.node_id,
            Entry::new(record, region, self.vetted_at_start()),
        );
        self.invalidate();
    }

    /// A terminal that just passed the reachability check: healthy, as if it had heartbeaten.
    pub fn admit(&self, record: TerminalRecord, region: Option<Region>) {
        let node = record.declared.node_id;
        let region = region.unwrap_or_else(|| Region::new(UNPLACED).expect("valid region name"));
        let mut entries = self.lock();
        let entry = entries
            .entry(node)
            .or_insert_with(|| Entry::new(record.clone(), region.clone(), self.vetted_at_start()));
        entry.record = record;
        entry.region = region;
        entry.last_heartbeat = Some(Instant::now());
        entry.probe_ok = true;
        drop(entries);
        self.invalidate();
    }

    /// Terminals joining from now on start unvetted: the router audits them.
    pub fn start_vetting(&self) {
        self.vetting
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for e in self.lock().values_mut() {
            e.vetted = false;
        }
        self.invalidate();
    }

    fn vetted_at_start(&self) -> bool {
        !self.vetting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records what audits say of a terminal; true if that changed its traffic (vetted, or suspended).
    pub fn set_quality(&self, node: &[u8; 32], vetted: bool, suspended: Option<String>) -> bool {
        let changed = self.lock().get_mut(node).is_some_and(|e| {
            let changed = e.vetted != vetted || e.suspended.is_some() != suspended.is_some();
            e.vetted = vetted;
            e.suspended = suspended;
            changed
        });
        if changed {
            self.invalidate();
        }
        changed
    }

    /// Takes the terminal out of rotation for good, for objective evidence against it; true the first time.
    pub fn disqualify(&self, node: &[u8; 32], why: String) -> bool {
        let first = self.lock().get_mut(node).is_some_and(|e| {
            let first = e.disqualified.is_none();
            e.disqualified.get_or_insert(why);
            first
        });
        if first {
            self.invalidate();
        }
        first
    }

    /// Why the terminal is out of rotation for good, if it is.
    pub fn disqualification(&self, node: &[u8; 32]) -> Option<String> {
        self.lock().get(node)?.disqualified.clone()
    }

    /// Why the terminal is out of rotation for what the router found (objective evidence, or its audits),
    /// if it is.
    pub fn suspension(&self, node: &[u8; 32]) -> Option<String> {
        let entries = self.lock();
        let e = entries.get(node)?;
        e.disqualified.clone().or_else(|| e.suspended.clone())
    }

    pub fn is_admitted(&self, node: &[u8; 32]) -> bool {
        self.lock().contains_key(node)
    }

    /// Records a heartbeat; returns whether the terminal is now in rotation, or None if not admitted.
    pub fn heartbeat(&self, node: &[u8; 32], hb: &Heartbeat, interval: Duration) -> Option<bool> {
        let active_connections = hb.active_connections;
        let mut entries = self.lock();
        let entry = entries.get_mut(node)?;
        let before = entry.in_rotation(interval);
        entry.last_heartbeat = Some(Instant::now());
        entry.load = active_connections;
        entry.redirected = 0;
        entry.draining = hb.draining;
        entry.disk_full = hb.disk_full;
        entry.free_disk = hb.free_disk_bytes;
        let after = entry.in_rotation(interval);
        drop(entries);
        if before != after {
            self.invalidate();
        } else if let Some(s) = self
            .schedule
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            if let Some(&i) = s.index.get(node) {
                let _ = s.set.set_load(i, active_connections);
            }
        }
        Some(after)
    }

    /// Records whether the terminal holds the minimum stake; out of rotation while it does not.
    pub fn set_staked(&self, node: &[u8; 32], staked: bool) {
        let changed = self.lock().get_mut(node).is_some_and(|e| {
            let changed = e.staked != staked;
            e.staked = staked;
            changed
        });
        if changed {
            self.invalidate();
        }
    }

    fn set_probe(&self, node: &[u8; 32], ok: bool) {
        let changed = self.lock().get_mut(node).is_some_and(|e| {
            let changed = e.probe_ok != ok;
            e.probe_ok = ok;
            changed
        });
        if changed {
            self.invalidate();
        }
    }

    /// Picks the terminal for `key` near `client_region` and counts the redirect in its load. `Ok(None)`
    /// if no terminal is in rotation; an error if the chosen terminal's stored id is not a public key.
    pub fn pick(
        &self,
        client_region: Option<&Region>,
        key: &[u8],
        c: f64,
        interval: Duration,
    ) -> Result<Option<Picked>, IdentityError> {
        let mut entries = self.lock();
        let mut schedule = self.schedule.lock().unwrap_or_else(|e| e.into_inner());
        // Health also decays with time, not only on events: rebuild at least once per interval.
        if schedule
            .as_ref()
            .is_none_or(|s| s.built.elapsed() > interval)
        {
            let old = schedule.take();
            let parsed = |id: &[u8; 32]| {
                let old = old.as_ref()?;
                old.terminals[*old.index.get(id)?].node
            };
            let mut terminals = Vec::new();
            let mut candidates = Vec::new();
            for (id, e) in entries.iter().filter(|(_, e)| e.in_rotation(interval)) {
                terminals.push(Scheduled {
                    id: *id,
                    node: parsed(id),
                    public_url: e.record.declared.public_url.as_str().into(),
                });
                candidates.push(Candidate {
                    id: *id,
                    region: e.region.clone(),
                    weight: e.weight(),
                    load: e.load + e.redirected,
                });
            }
            let index = terminals
                .iter()
                .enumerate()
                .map(|(i, t)| (t.id, i))
                .collect();
            *schedule = Some(Schedule {
                terminals,
                index,
                set: CandidateSet::new(candidates),
                built: Instant::now(),
            });
        }
        let Some(s) = schedule.as_mut() else {
            return Ok(None);
        };
        let Some(&chosen) = s.set.pick(client_region, key, 1, c).first() else {
            return Ok(None);
        };
        let terminal = &mut s.terminals[chosen];
        let node = match terminal.node {
            Some(node) => node,
            None => *terminal.node.insert(NodeId::from_bytes(&terminal.id)?),
        };
        let public_url = terminal.public_url.clone();
        if s.set.add_load(chosen, 1).is_err() {
            return Ok(None);
        }
        if let Some(entry) = entries.get_mut(&terminal.id) {
            entry.redirected += 1;
        }
        Ok(Some(Picked { node, public_url }))
    }

    pub fn views(&self, interval: Duration) -> Vec<TerminalView> {
        let mut out: Vec<TerminalView> = self
            .lock()
            .values()
            .map(|e| {
                let id = NodeId::from_bytes(&e.record.declared.node_id).ok();
                TerminalView {
                    node_id: id.map(|i| i.to_string()).unwrap_or_default(),
                    short_id: id
                        .map(|i| format!("{:016x}", i.short_id()))
                        .unwrap_or_default(),
                    public_url: e.record.declared.public_url.clone(),
                    region: e.region.as_str().to_owned(),
                    capacity_bytes: e.record.declared.capacity_bytes,
                    state: e.health(interval),
                    draining: e.draining || e.record.state == TerminalState::Draining,
                    in_rotation: e.in_rotation(interval),
                    staked: e.staked,
                    disk_full: e.disk_full,
                    free_disk_bytes: e.free_disk,
                    last_heartbeat_age_secs: e.last_heartbeat.map(crate::age),
                    load: e.load + e.redirected,
                }
            })
            .collect();
        out.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        out
    }

    /// The terminals the scheduler would send each region's clients to for `key`: one per region with
    /// terminals in rotation and room on disk (a full one would pass the object through uncached),
    /// ignoring load. Where a push places an object.
    pub fn placements(&self, key: &[u8], interval: Duration) -> Vec<[u8; 32]> {
        let entries = self.lock();
        let (ids, candidates): (Vec<[u8; 32]>, Vec<Candidate>) = entries
            .iter()
            .filter(|(_, e)| e.in_rotation(interval) && !e.disk_full)
            .map(|(id, e)| {
                let c = Candidate {
                    id: *id,
                    region: e.region.clone(),
                    weight: e.weight(),
                    load: 0,
                };
                (*id, c)
            })
            .unzip();
        drop(entries);
        let regions: std::collections::BTreeSet<Region> =
            candidates.iter().map(|c| c.region.clone()).collect();
        let set = CandidateSet::new(candidates);
        let mut out: Vec<[u8; 32]> = regions
            .iter()
            .filter_map(|r| {
                set.pick(Some(r), key, 1, f64::INFINITY)
                    .first()
                    .map(|&i| ids[i])
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Each terminal's region and whether it is in rotation now: what billing samples for uptime and
    /// prices by.
    pub(crate) fn rotation(&self, interval: Duration) -> Vec<([u8; 32], Region, bool)> {
        self.lock()
            .iter()
            .map(|(id, e)| (*id, e.region.clone(), e.in_rotation(interval)))
            .collect()
    }

    /// Admitted terminals heard from lately (healthy or suspect, not down), with their public URLs: what
    /// the auditor may challenge, in rotation or not; not the disqualified, which get no clients and whose
    /// every further failure would slash again for what is already proven.
    pub(crate) fn up(&self, interval: Duration) -> Vec<([u8; 32], String)> {
        self.lock()
            .iter()
            .filter(|(_, e)| e.health(interval) != Health::Down && e.disqualified.is_none())
            .map(|(id, e)| (*id, e.record.declared.public_url.clone()))
            .collect()
    }

    pub(crate) fn urls(&self) -> Vec<([u8; 32], String)> {
        self.lock()
            .iter()
            .map(|(id, e)| (*id, e.record.declared.public_url.clone()))
            .collect()
    }

    /// Logs and counts state changes since the last call.
    fn report(&self, interval: Duration) {
        let mut counts = [0u64; 3];
        let mut changed = false;
        for (id, e) in self.lock().iter_mut() {
            let now = e.health(interval);
            counts[now as usize] += 1;
            if now != e.reported {
                let node = NodeId::from_bytes(id)
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                tracing::info!(terminal = %node, url = %e.record.declared.public_url, from = ?e.reported, to = ?now, "terminal health changed");
                e.reported = now;
                changed = true;
            }
        }
        if changed {
            self.invalidate();
        }
        for (state, n) in ["healthy", "suspect", "down"].into_iter().zip(counts) {
            metrics::gauge!("meson_router_terminals", "state" => state).set(n as f64);
        }
    }
}

/// GETs terminals' health URLs, http or https.
pub(crate) struct Prober {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
}

impl Prober {
    pub fn new(timeout: Duration) -> Self {
        let https = meson_node::http::connector(timeout, false);
        Prober {
            // No idle connections kept: a pooled probe connection would count as a client on the
            // terminal, and a drain waits for its clients to leave.
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build(https),
            timeout,
        }
    }

    /// `Ok` if `{public_url}/.well-known/meson/health` answers 200 in time; else why not.
    pub async fn check(&self, public_url: &str) -> Result<(), String> {
        let url = format!("{public_url}{}", meson_core::wire::TERMINAL_HEALTH_PATH);
        let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        match tokio::time::timeout(self.timeout, self.client.get(uri)).await {
            Err(_) => Err(format!("{url} did not answer within {:?}", self.timeout)),
            Ok(Err(e)) => Err(format!("{url} is unreachable: {e}")),
            Ok(Ok(resp)) if resp.status() == http::StatusCode::OK => Ok(()),
            Ok(Ok(resp)) => Err(format!("{url} answered {}", resp.status())),
        }
    }
}

/// Once per heartbeat interval: probe every terminal's health URL, then log state changes.
pub(crate) async fn health_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let interval = shared.cfg.heartbeat;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let probes = shared.registry.urls().into_iter().map(|(id, url)| {
            let shared = shared.clone();
            async move {
                let ok = shared.prober.check(&url).await;
                if let Err(why) = &ok {
                    tracing::debug!(%url, %why, "health probe failed");
                }
                shared.registry.set_probe(&id, ok.is_ok());
            }
        });
        tokio::select! {
            _ = futures_join(probes) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        shared.registry.report(interval);
    }
}

async fn futures_join(
    probes: impl Iterator<Item = impl std::future::Future<Output = ()> + Send + 'static>,
) {
    let handles: Vec<_> = probes.map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meson_store::TerminalRegistration;

    fn record(n: u8) -> TerminalRecord {
        let key = meson_core::identity::NodeKey::from_secret_bytes([n; 32]);
        TerminalRecord {
            declared: TerminalRegistration {
                node_id: *key.id().as_bytes(),
                public_url: format!("http://127.0.0.{n}:80"),
                capacity_bytes: 50 << 30,
                region: None,
                lat: None,
                lon: None,
                hardware_json: "{}".into(),
            },
            state: TerminalState::Admitted,
            registered_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn unvetted_terminals_get_a_small_share_and_suspended_ones_none() {
        let r = Registry::default();
        r.start_vetting();
        let (a, b) = (record(1), record(2));
        let (ida, idb) = (a.declared.node_id, b.declared.node_id);
        r.admit(a, None);
        r.admit(b, None);
        assert!(r.set_quality(&ida, true, None), "a is vetted");
        let hb = Duration::from_secs(60);
        let mut to_b = 0;
        for k in 0..2000u32 {
            let picked = r
                .pick(None, &k.to_le_bytes(), f64::INFINITY, hb)
                .unwrap()
                .unwrap();
            to_b += usize::from(*picked.node.as_bytes() == idb);
        }
        // Weight 1 against 50: about 2 %.
        assert!(
            (1..200).contains(&to_b),
            "{to_b} of 2000 went to the unvetted terminal"
        );
        assert!(r.set_quality(&ida, true, Some("failing".into())));
        assert_eq!(r.suspension(&ida).as_deref(), Some("failing"));
        for k in 0..100u32 {
            let picked = r
                .pick(None, &k.to_le_bytes(), f64::INFINITY, hb)
                .unwrap()
                .unwrap();
            assert_eq!(
                *picked.node.as_bytes(),
                idb,
                "a suspended terminal gets nothing"
            );
        }
    }

    #[test]
    fn a_disqualified_terminal_stays_out_whatever_its_audits_say() {
        let r = Registry::default();
        let (a, b) = (record(1), record(2));
        let (ida, idb) = (a.declared.node_id, b.declared.node_id);
        r.admit(a, None);
        r.admit(b, None);
        let hb = Duration::from_secs(60);
        let beat = meson_testkit::SigningTerminal::heartbeat_body(0, false);
        for id in [ida, idb] {
            assert_eq!(r.heartbeat(&id, &beat, hb), Some(true));
        }
        assert!(r.disqualify(&ida, "disqualified: evidence".into()));
        assert!(!r.disqualify(&ida, "again".into()), "once");
        assert!(
            !r.set_quality(&ida, true, None),
            "audits cannot bring it back"
        );
        assert_eq!(
            r.suspension(&ida).as_deref(),
            Some("disqualified: evidence")
        );
        assert_eq!(r.disqualification(&idb), None);
        let up: Vec<_> = r.up(hb).into_iter().map(|(id, _)| id).collect();
        assert_eq!(up, vec![idb], "the disqualified is not audited");
        for (id, _, in_rotation) in r.rotation(hb) {
            assert_eq!(in_rotation, id == idb);
        }
    }
}
