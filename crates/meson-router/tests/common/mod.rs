//! A real router on 127.0.0.1:0 with SQLite in a temp dir, and fake terminals: real node keys signing real
//! wire messages, each with a real HTTP server answering the health path.

#![allow(dead_code)] // each test binary uses a different part of the kit

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meson_core::identity::NodeKey;
use meson_core::signed::SignedMessage;
use meson_core::wire;
use meson_router::{Router, RouterConfig};
use serde::Serialize;
use serde_json::Value;

pub const WAIT: Duration = Duration::from_secs(10);

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub async fn start(dir: &std::path::Path, tweak: impl FnOnce(&mut RouterConfig)) -> Router {
    let mut cfg = RouterConfig::new("127.0.0.1:0".parse().unwrap(), dir);
    cfg.probe_timeout = Duration::from_millis(500);
    tweak(&mut cfg);
    Router::start(cfg).await.expect("router starts")
}

pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

/// One HTTP/1.1 request from `from` (a 127.0.0.x source address) to the router.
pub async fn call_from(
    from: Option<IpAddr>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Resp {
    let mut conn = HttpConnector::new();
    conn.set_local_address(from);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .unwrap();
    let resp = tokio::time::timeout(WAIT, client.request(req))
        .await
        .expect("router answers in time")
        .expect("request succeeds");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Resp {
        status,
        headers,
        json,
    }
}

pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Resp {
    call_from(
        None,
        addr,
        method,
        path,
        headers,
        body.map(|b| b.to_string()),
    )
    .await
}

/// A terminal as far as the router can tell: a node key and a server answering the health path.
pub struct FakeTerminal {
    pub key: NodeKey,
    pub url: String,
    pub healthy: Arc<AtomicBool>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeTerminal {
    /// Listens on `ip` (a 127.0.0.x address).
    pub async fn start_on(ip: &str) -> FakeTerminal {
        let healthy = Arc::new(AtomicBool::new(true));
        let flag = healthy.clone();
        let app = axum::Router::new().route(
            "/.well-known/meson/health",
            axum::routing::get(move || {
                let ok = flag.load(Ordering::SeqCst);
                async move {
                    if ok {
                        (http::StatusCode::OK, "ok")
                    } else {
                        (http::StatusCode::SERVICE_UNAVAILABLE, "sick")
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeTerminal {
            key: NodeKey::from_secret_bytes(rand::random()),
            url: format!("http://{addr}"),
            healthy,
            server,
        }
    }

    pub async fn start() -> FakeTerminal {
        Self::start_on("127.0.0.1").await
    }

    pub fn stop_server(&self) {
        self.server.abort();
    }

    pub fn signed<T: Serialize>(&self, purpose: &str, body: &T) -> Value {
        self.signed_at(purpose, now(), body)
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

    pub async fn register(&self, router: SocketAddr, region: Option<&str>) -> Resp {
        let body = self.signed(wire::REGISTER, &self.registration(region));
        call(router, "POST", wire::REGISTER_PATH, &[], Some(body)).await
    }

    pub async fn heartbeat(&self, router: SocketAddr, load: u64, draining: bool) -> Resp {
        let hb = wire::Heartbeat {
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
        };
        let body = self.signed(wire::HEARTBEAT, &hb);
        call(router, "POST", wire::HEARTBEAT_PATH, &[], Some(body)).await
    }

    pub async fn usage(&self, router: SocketAddr, records: Vec<wire::UsageRecord>) -> Resp {
        let body = self.signed(wire::USAGE, &wire::UsageBatch { records });
        call(router, "POST", wire::USAGE_PATH, &[], Some(body)).await
    }

    pub fn node_id(&self) -> String {
        self.key.id().to_string()
    }
}

/// The registry entry of `node`, as `GET /v1/terminals` shows it.
pub async fn terminal_view(router: SocketAddr, node: &str) -> Value {
    let resp = call(router, "GET", "/v1/terminals", &[], None).await;
    resp.json["terminals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["node_id"] == node)
        .cloned()
        .unwrap_or(Value::Null)
}

#[allow(unused_imports)] // not every test binary polls
pub use meson_testkit::eventually_async as eventually;

/// An account and its API key.
pub async fn account(router: SocketAddr) -> String {
    let resp = call(
        router,
        "POST",
        "/v1/accounts",
        &[],
        Some(serde_json::json!({"name": "acme"})),
    )
    .await;
    assert_eq!(resp.status, 201, "{:?}", resp.json);
    resp.json["api_key"].as_str().unwrap().to_owned()
}

pub async fn add_site(router: SocketAddr, key: &str, host: &str, query_mode: &str) -> Resp {
    add_site_for(router, key, host, "http://127.0.0.1:9", query_mode).await
}

pub async fn add_site_for(
    router: SocketAddr,
    key: &str,
    host: &str,
    origin: &str,
    query_mode: &str,
) -> Resp {
    call(
        router,
        "POST",
        "/v1/sites",
        &[("authorization", &format!("Bearer {key}"))],
        Some(serde_json::json!({
            "host": host, "origin": origin, "query_mode": query_mode
        })),
    )
    .await
}

/// Base units of a human amount in a router's JSON.
pub fn tokens(v: &Value) -> u128 {
    meson_core::ledger::parse_amount(v.as_str().unwrap_or("0")).unwrap()
}

/// Replays the router's published log as an auditor would and checks it against the signed head.
pub async fn audit(router: SocketAddr) -> meson_core::ledger::audit::Replay {
    let head: meson_core::ledger::audit::SignedHead =
        serde_json::from_value(call(router, "GET", "/v1/ledger/head", &[], None).await.json)
            .unwrap();
    head.verify(None).unwrap();
    let log = call(router, "GET", "/v1/ledger/log?after=0", &[], None)
        .await
        .json;
    let mut r = meson_core::ledger::audit::Replay::new();
    for e in log["entries"].as_array().unwrap() {
        let h = |k: &str| -> [u8; 32] {
            hex::decode(e[k].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        };
        r.push(
            e["seq"].as_u64().unwrap(),
            &h("prev_hash"),
            &h("hash"),
            e["body"].as_str().unwrap(),
        )
        .unwrap();
    }
    r.matches(&head.head).unwrap();
    r
}

/// A 127.0.0.x address standing in for a place.
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A network-mode terminal listening on `listen_ip`, joined to `router`.
pub async fn network_terminal(
    router: SocketAddr,
    listen_ip: &str,
    dir: &std::path::Path,
    policy: meson_terminal::network::sites::TicketPolicy,
) -> meson_terminal::Terminal {
    let mut cfg = meson_terminal::TerminalConfig::new(
        "http://unused.invalid".parse().unwrap(),
        dir.to_path_buf(),
    );
    cfg.listen = format!("{listen_ip}:0").parse().unwrap();
    cfg.admin_listen = "127.0.0.1:0".parse().unwrap();
    cfg.fsync = meson_terminal::config::FsyncPolicy::Never;
    cfg.min_free_disk = 0;
    cfg.timeouts.shutdown_grace = Duration::from_secs(5);
    let net = meson_terminal::network::NetworkConfig {
        router: format!("http://{router}"),
        public_url: None,
        region: None,
        lat: None,
        lon: None,
        ticket_policy: policy,
        call_timeout: Duration::from_secs(5),
    };
    meson_terminal::Terminal::start_network(cfg, net)
        .await
        .expect("terminal starts")
}

/// The terminal's own view of its standing in the network (its admin API).
pub async fn standing(t: &meson_terminal::Terminal) -> Value {
    let token = meson_testkit::admin_token(&t.cache.config().data_dir);
    let got =
        meson_testkit::admin_request(t.admin_addr, &token, "GET", "/v1/admin/network", None).await;
    assert_eq!(got.status, 200);
    serde_json::from_slice(&got.body).unwrap()
}
