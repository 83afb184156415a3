//! A terminal reduced to what a router checks of it: a node key signing real control messages
//! (registration, heartbeats, usage batches) and a real server answering the health path. Tests that
//! drive the router's control API the way a terminal does, without running a cache, use it; the tickets
//! it reports usage for come from real redirects ([`redirect_ticket`]).

use std::net::SocketAddr;

use meson_core::identity::NodeKey;
use meson_core::signed::SignedMessage;
use meson_core::wire;
use serde::Serialize;
use serde_json::Value;

use crate::client::{call, Got};
use crate::origin::{Origin, Resource};

use meson_node::unix_now;

/// A node key and its health server; see the module doc.
pub struct SigningTerminal {
    pub key: NodeKey,
    /// The public URL it registers (its health server's).
    pub url: String,
    health: Origin,
}

impl SigningTerminal {
    /// A new random key, healthy, listening on 127.0.0.1.
    pub async fn start() -> SigningTerminal {
        Self::start_on("127.0.0.1").await
    }

    /// A new random key, healthy, listening on `ip` (a 127.0.0.x address).
    pub async fn start_on(ip: &str) -> SigningTerminal {
        Self::with_key(NodeKey::from_secret_bytes(rand::random()), ip).await
    }

    /// A terminal holding `key`, healthy, listening on `ip`.
    pub async fn with_key(key: NodeKey, ip: &str) -> SigningTerminal {
        let health = Origin::start_on(ip).await;
        let t = SigningTerminal {
            key,
            url: health.url(),
            health,
        };
        t.set_healthy(true);
        t
    }

    /// Whether its health path answers 200 ("ok") or 503 ("sick").
    pub fn set_healthy(&self, ok: bool) {
        let r = if ok {
            Resource::new("ok", &[])
        } else {
            Resource::new("sick", &[]).status(503)
        };
        self.health.set(meson_core::wire::TERMINAL_HEALTH_PATH, r);
    }

    /// Stops its server: connections are refused from now on.
    pub fn stop_server(&self) {
        self.health.stop();
    }

    /// Listens again on its URL after [`SigningTerminal::stop_server`].
    pub async fn restart_server(&self) {
        self.health.restart().await;
    }

    /// Its server answers `path` with `r` too, as a terminal serving an object would (without the
    /// terminal's signed claim of it, unless `r` carries one).
    pub fn serve(&self, path: &str, r: Resource) {
        self.health.set(path, r);
    }

    pub fn node_id(&self) -> String {
        self.key.id().to_string()
    }

    /// `body` signed for `purpose`, timestamped now, with a fresh nonce.
    pub fn signed<T: Serialize>(&self, purpose: &str, body: &T) -> Value {
        self.signed_at(purpose, unix_now(), body)
    }

    pub fn signed_at<T: Serialize>(&self, purpose: &str, ts: u64, body: &T) -> Value {
        let msg = SignedMessage::sign(&self.key, purpose, ts, rand::random(), body).unwrap();
        serde_json::to_value(&msg).unwrap()
    }

    pub fn registration(&self, region: Option<&str>) -> wire::Register {
        wire::Register {
            public_url: self.url.clone(),
            capacity_bytes: 50 << 30,
            region: region.map(str::to_owned),
            lat: None,
            lon: None,
            hardware: serde_json::json!({"cpus": 2}),
            version: "test".into(),
        }
    }

    pub async fn register(&self, router: SocketAddr, region: Option<&str>) -> Got {
        let body = self.signed(wire::REGISTER, &self.registration(region));
        call(router, "POST", wire::REGISTER_PATH, &[], Some(body)).await
    }

    pub async fn heartbeat(&self, router: SocketAddr, load: u64, draining: bool) -> Got {
        self.send_heartbeat(router, &Self::heartbeat_body(load, draining))
            .await
    }

    /// A heartbeat reporting `load` connections, healthy with room on disk and nothing held.
    pub fn heartbeat_body(load: u64, draining: bool) -> wire::Heartbeat {
        wire::Heartbeat {
            active_connections: load,
            egress_bytes_per_sec: 0,
            free_disk_bytes: 1 << 30,
            disk_full: false,
            objects: 0,
            used_bytes: 0,
            roots_digest: String::new(),
            draining,
            version: "test".into(),
            done: vec![],
            added: vec![],
            evicted: vec![],
        }
    }

    /// Sends `hb`, signed.
    pub async fn send_heartbeat(&self, router: SocketAddr, hb: &wire::Heartbeat) -> Got {
        let body = self.signed(wire::HEARTBEAT, hb);
        call(router, "POST", wire::HEARTBEAT_PATH, &[], Some(body)).await
    }

    /// Reports `records` in one signed batch, as a terminal does once their tickets expired.
    pub async fn usage(&self, router: SocketAddr, records: Vec<wire::UsageRecord>) -> Got {
        let body = self.signed(wire::USAGE, &wire::UsageBatch { records });
        call(router, "POST", wire::USAGE_PATH, &[], Some(body)).await
    }

    /// Whether `location` (a redirect's target) points at this terminal.
    pub fn is_target_of(&self, location: &str) -> bool {
        location.starts_with(&format!("{}/", self.url))
    }
}

/// A usage record for `ticket`: `bytes` served over `requests` requests, `hits` of them from cache.
pub fn usage_record(ticket: &str, bytes: u64, requests: u64, hits: u64) -> wire::UsageRecord {
    wire::UsageRecord {
        ticket: ticket.to_owned(),
        bytes,
        requests,
        hits,
        served_at: unix_now(),
        version: None,
    }
}

/// Asks the router for `path` on site `host`, as a client would; the redirect's target and the ticket it
/// carries. Panics unless the router answered 302 with a ticket.
pub async fn redirect_ticket(router: SocketAddr, host: &str, path: &str) -> (String, String) {
    let resp = call(router, "GET", path, &[("host", host)], None).await;
    assert_eq!(resp.status, 302, "GET {path} for {host}: {:?}", resp.json());
    let location = resp.header("location").to_owned();
    let ticket = ticket_in(&location);
    (location, ticket)
}

/// The ticket a redirect's `Location` carries; panics without one.
pub fn ticket_in(location: &str) -> String {
    location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("meson_ticket="))
        .unwrap_or_else(|| panic!("no ticket in {location}"))
        .to_owned()
}

/// As the owner of site `host` (API key `api_key`), tells the router the size and roots of `path`: a body
/// of `size` [`crate::pattern`] bytes. Usage reported for the object is counted from then on (held before).
pub async fn publish_roots(router: SocketAddr, api_key: &str, host: &str, path: &str, size: usize) {
    let roots = meson_core::content::object_roots(&crate::pattern(size, 0));
    let body = serde_json::json!({
        "path": path,
        "size": roots.size,
        "root": roots.root.to_string(),
        "slice_roots": roots.slices.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    let auth = format!("Bearer {api_key}");
    let got = call(
        router,
        "POST",
        &format!("/v1/sites/{host}/roots"),
        &[("authorization", &auth)],
        Some(body),
    )
    .await;
    assert_eq!(
        got.status,
        201,
        "roots of {path} on {host}: {:?}",
        got.json()
    );
}
