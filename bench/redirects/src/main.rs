//! An in-process router with many registered, heartbeating terminals, for measuring redirects per second.
//!
//! It starts a `meson-router` on 127.0.0.1:0 (data dir in a temp dir), one small HTTP server answering the
//! terminal health path, and registers `--terminals` terminals (default 1,000): each has its own random node
//! key and sends real signed `Register` and `Heartbeat` messages, and all point their `public_url` at that one
//! health server. They are spread over `--regions` regions with varied capacities and reported loads. A
//! background task keeps every terminal healthy by sending its heartbeat once per interval, spread evenly
//! over the interval. It then creates an account and the site `bench.example` through the router's API,
//! prints
//!
//! ```text
//! ROUTER 127.0.0.1:PORT
//! READY http://127.0.0.1:PORT /s/bench.example/obj
//! ```
//!
//! and runs until SIGTERM or SIGINT (or, with `--exit-on-eof`, until stdin closes). Used by
//! `bench/router-vs-nginx-302.sh`; see `bench/README.md`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
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
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const SITE: &str = "bench.example";
const REGIONS: [&str; 8] = [
    "eu/west", "eu/east", "na/east", "na/west", "ap/south", "ap/east", "sa/east", "af/south",
];
/// Concurrent registrations and initial heartbeats.
const PARALLEL: usize = 32;

struct Options {
    terminals: usize,
    regions: usize,
    heartbeat: Duration,
    exit_on_eof: bool,
}

const USAGE: &str =
    "usage: meson-bench-redirects [--terminals N (1000)] [--regions R (4, at most 8)] \
                     [--heartbeat-secs S (5)] [--exit-on-eof]";

fn options() -> Result<Options> {
    let mut o = Options {
        terminals: 1000,
        regions: 4,
        heartbeat: Duration::from_secs(5),
        exit_on_eof: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> Result<u64> {
            args.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))?
                .parse()
                .with_context(|| format!("{name} needs a number\n{USAGE}"))
        };
        match a.as_str() {
            "--terminals" => o.terminals = value("--terminals")? as usize,
            "--regions" => o.regions = value("--regions")? as usize,
            "--heartbeat-secs" => o.heartbeat = Duration::from_secs(value("--heartbeat-secs")?),
            "--exit-on-eof" => o.exit_on_eof = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => bail!("unknown argument {a:?}\n{USAGE}"),
        }
    }
    if o.terminals == 0 || !(1..=REGIONS.len()).contains(&o.regions) || o.heartbeat.is_zero() {
        bail!("need at least one terminal, 1 to 8 regions and a positive heartbeat\n{USAGE}");
    }
    Ok(o)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// One JSON request to the router; returns the status and the parsed body.
async fn call(
    client: &HttpClient,
    router: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> Result<(u16, Value)> {
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("http://{router}{path}"));
    if let Some(key) = bearer {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(Full::new(Bytes::from(
        body.map(|b| b.to_string()).unwrap_or_default(),
    )))?;
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .with_context(|| format!("{method} {path}: no answer in 30 s"))?
        .with_context(|| format!("{method} {path}"))?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await?.to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok((status, json))
}

/// A fake terminal: its own key, signing real control messages.
struct Terminal {
    key: NodeKey,
    region: &'static str,
    capacity_bytes: u64,
    /// What it reports as `active_connections`, so scheduling sees varied loads.
    load: u64,
}

impl Terminal {
    fn signed<T: Serialize>(&self, purpose: &str, body: &T) -> Result<Value> {
        let msg = SignedMessage::sign(&self.key, purpose, now(), rand::random(), body)?;
        Ok(serde_json::to_value(&msg)?)
    }

    async fn register(&self, client: &HttpClient, router: SocketAddr, url: &str) -> Result<()> {
        let body = self.signed(
            wire::REGISTER,
            &wire::Register {
                public_url: url.to_owned(),
                capacity_bytes: self.capacity_bytes,
                region: Some(self.region.to_owned()),
                lat: None,
                lon: None,
                hardware: json!({"cpus": 2}),
                version: "bench".into(),
            },
        )?;
        post_signed(client, router, wire::REGISTER_PATH, body).await
    }

    async fn heartbeat(&self, client: &HttpClient, router: SocketAddr) -> Result<()> {
        let body = self.signed(
            wire::HEARTBEAT,
            &wire::Heartbeat {
                active_connections: self.load,
                egress_bytes_per_sec: 0,
                free_disk_bytes: self.capacity_bytes / 2,
                disk_full: false,
                objects: 0,
                used_bytes: self.capacity_bytes / 2,
                roots_digest: String::new(),
                draining: false,
                version: "bench".into(),
                done: vec![],
                added: vec![],
                evicted: vec![],
            },
        )?;
        post_signed(client, router, wire::HEARTBEAT_PATH, body).await
    }
}

/// POSTs a signed control message to the router; anything but 200 is an error with the router's reply.
async fn post_signed(
    client: &HttpClient,
    router: SocketAddr,
    path: &str,
    body: Value,
) -> Result<()> {
    let (status, reply) = call(client, router, "POST", path, None, Some(body)).await?;
    if status != 200 {
        bail!("{path} answered {status}: {reply}");
    }
    Ok(())
}

/// Runs `f` for every terminal, `PARALLEL` at a time; fails on the first error.
async fn for_all<F, Fut>(terminals: &[Arc<Terminal>], f: F) -> Result<()>
where
    F: Fn(Arc<Terminal>) -> Fut,
    Fut: std::future::Future<Output = Result<()>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(PARALLEL));
    let mut set = JoinSet::new();
    for t in terminals {
        let permit = permits.clone().acquire_owned().await?;
        let fut = f(t.clone());
        set.spawn(async move {
            let r = fut.await;
            drop(permit);
            r
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(())
}

/// The one health server all terminals point at.
async fn health_server() -> Result<String> {
    let app = axum::Router::new().route(
        "/.well-known/meson/health",
        axum::routing::get(|| async { "ok" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("health server failed: {e}");
        }
    });
    Ok(format!("http://{addr}"))
}

/// Keeps every terminal healthy: each one heartbeats once per `interval`, the sends spread evenly.
fn heartbeats(
    client: HttpClient,
    router: SocketAddr,
    terminals: Vec<Arc<Terminal>>,
    interval: Duration,
) {
    let failures = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval / terminals.len() as u32);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for t in terminals.iter().cycle() {
            tick.tick().await;
            let (t, client, failures) = (t.clone(), client.clone(), failures.clone());
            tokio::spawn(async move {
                if let Err(e) = t.heartbeat(&client, router).await {
                    let n = failures.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_power_of_two() {
                        eprintln!("heartbeat failed ({n} so far): {e:#}");
                    }
                }
            });
        }
    });
}

async fn wait_for_stop(exit_on_eof: bool) -> Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let eof = async {
        if exit_on_eof {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 256];
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        () = eof => {}
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let o = options()?;
    let dir = tempfile::Builder::new()
        .prefix("meson-bench-redirects-")
        .tempdir()?;
    let mut cfg = RouterConfig::new("127.0.0.1:0".parse()?, dir.path());
    cfg.heartbeat = o.heartbeat;
    let router = Router::start(cfg).await.context("starting the router")?;
    let addr = router.addr;
    println!("ROUTER {addr}");

    let health_url = health_server().await?;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build(HttpConnector::new());

    let terminals: Vec<Arc<Terminal>> = (0..o.terminals)
        .map(|i| {
            Arc::new(Terminal {
                key: NodeKey::from_secret_bytes(rand::random()),
                region: REGIONS[i % o.regions],
                // 10 to 500 GiB, and 0 to 49 active connections.
                capacity_bytes: (10 + (i as u64 * 37) % 491) << 30,
                load: (i as u64 * 13) % 50,
            })
        })
        .collect();

    let started = std::time::Instant::now();
    let (c, url) = (client.clone(), Arc::new(health_url));
    for_all(&terminals, |t| {
        let (c, url) = (c.clone(), url.clone());
        async move { t.register(&c, addr, &url).await }
    })
    .await
    .context("registering the terminals")?;
    let c = client.clone();
    for_all(&terminals, |t| {
        let c = c.clone();
        async move { t.heartbeat(&c, addr).await }
    })
    .await
    .context("first heartbeats")?;
    heartbeats(client.clone(), addr, terminals.clone(), o.heartbeat);

    let (status, view) = call(&client, addr, "GET", "/v1/terminals", None, None).await?;
    let in_rotation = view["terminals"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|t| t["in_rotation"] == true).count());
    if status != 200 || in_rotation != o.terminals {
        bail!(
            "{in_rotation} of {} terminals in rotation (GET /v1/terminals answered {status})",
            o.terminals
        );
    }
    println!(
        "TERMINALS {} registered and in rotation over {} region(s), in {:.1} s",
        o.terminals,
        o.regions,
        started.elapsed().as_secs_f64()
    );

    let (status, acct) = call(
        &client,
        addr,
        "POST",
        "/v1/accounts",
        None,
        Some(json!({"name": "bench"})),
    )
    .await?;
    let Some(api_key) = acct["api_key"].as_str().filter(|_| status == 201) else {
        bail!("POST /v1/accounts answered {status}: {acct}");
    };
    let (status, site) = call(
        &client,
        addr,
        "POST",
        "/v1/sites",
        Some(api_key),
        Some(json!({"host": SITE, "origin": "http://127.0.0.1:9", "query_mode": "keep"})),
    )
    .await?;
    if !(200..300).contains(&status) {
        bail!("POST /v1/sites answered {status}: {site}");
    }
    println!("READY http://{addr} /s/{SITE}/obj");

    wait_for_stop(o.exit_on_eof).await?;
    router.shutdown().await;
    Ok(())
}
