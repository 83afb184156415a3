//! Shared by the integration tests: a real origin server on 127.0.0.1 whose resources each test sets,
//! a real terminal in front of it, and a plain HTTP client.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use meson_terminal::{Terminal, TerminalConfig};
use tokio::net::TcpListener;
use tokio::sync::Notify;

type OriginBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// One resource the origin serves.
#[derive(Clone)]
pub struct Resource {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Answer `Range: bytes=a-b` with 206.
    pub ranges: bool,
    /// Wait this long before sending the response head.
    pub head_delay: Duration,
    /// Send the body in chunks of this size, pausing `chunk_delay` between them.
    pub chunk: usize,
    pub chunk_delay: Duration,
    /// Stop after this many body bytes and wait for `release` (to observe read-while-write).
    pub stall_at: Option<usize>,
    /// After this many body bytes, abort the connection (a failed fill).
    pub drop_at: Option<usize>,
}

impl Resource {
    pub fn new(body: impl Into<Bytes>, headers: &[(&str, &str)]) -> Self {
        Resource {
            status: 200,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
            ranges: true,
            head_delay: Duration::ZERO,
            chunk: 64 * 1024,
            chunk_delay: Duration::ZERO,
            stall_at: None,
            drop_at: None,
        }
    }

    pub fn status(mut self, s: u16) -> Self {
        self.status = s;
        self
    }

    pub fn no_ranges(mut self) -> Self {
        self.ranges = false;
        self
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A request the origin received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
}

#[derive(Default)]
pub struct OriginState {
    resources: Mutex<HashMap<String, Resource>>,
    seen: Mutex<Vec<Seen>>,
    pub release: Notify,
}

pub struct Origin {
    pub addr: SocketAddr,
    pub state: Arc<OriginState>,
    task: tokio::task::JoinHandle<()>,
}

impl Origin {
    pub async fn start() -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve_on(listener, Arc::new(OriginState::default()))
    }

    /// Starts serving again on the same address with the same resources (after [`Origin::stop`]).
    pub async fn restart(addr: SocketAddr, state: Arc<OriginState>) -> Origin {
        let listener = TcpListener::bind(addr).await.unwrap();
        Self::serve_on(listener, state)
    }

    fn serve_on(listener: TcpListener, state: Arc<OriginState>) -> Origin {
        let addr = listener.local_addr().unwrap();
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, Infallible>(origin_handle(st, req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Origin { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, path: &str, r: Resource) {
        self.state
            .resources
            .lock()
            .unwrap()
            .insert(path.to_string(), r);
    }

    /// Requests the origin received for `path`.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    pub fn hits(&self, path: &str) -> usize {
        self.seen(path).len()
    }

    /// Stops listening: the origin is dead (connections refused) until restarted.
    pub fn stop(self) -> (SocketAddr, Arc<OriginState>) {
        self.task.abort();
        (self.addr, self.state)
    }
}

fn parse_range(v: &str, len: usize) -> Option<(usize, usize)> {
    let spec = v.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let a: usize = a.parse().ok()?;
    let b: usize = if b.is_empty() {
        len - 1
    } else {
        b.parse::<usize>().ok()?.min(len - 1)
    };
    (a <= b && a < len).then_some((a, b))
}

async fn origin_handle(st: Arc<OriginState>, req: Request<Incoming>) -> Response<OriginBody> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    st.seen.lock().unwrap().push(Seen {
        method: req.method().clone(),
        path: req.uri().path().to_string(),
        headers: req.headers().clone(),
    });
    let res = {
        let map = st.resources.lock().unwrap();
        map.get(&path)
            .or_else(|| map.get(req.uri().path()))
            .cloned()
    };
    let Some(res) = res else {
        let mut r = Response::new(full_body(Bytes::from_static(b"no such resource\n")));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    };
    if !res.head_delay.is_zero() {
        tokio::time::sleep(res.head_delay).await;
    }
    let mut builder = Response::builder().status(res.status);
    for (k, v) in &res.headers {
        builder = builder.header(k, v);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return builder.body(full_body(res.body.clone())).unwrap();
    }
    if let (Some(inm), Some(etag)) = (req.headers().get("if-none-match"), res.header("etag")) {
        if inm
            .to_str()
            .unwrap_or("")
            .split(',')
            .any(|t| t.trim() == etag || t.trim() == "*")
        {
            return builder.status(304).body(full_body(Bytes::new())).unwrap();
        }
    }
    let len = res.body.len();
    let mut body = res.body.clone();
    if res.ranges && res.status == 200 {
        builder = builder.header("accept-ranges", "bytes");
        if let Some(r) = req.headers().get("range").and_then(|v| v.to_str().ok()) {
            match parse_range(r, len) {
                Some((a, b)) => {
                    builder = builder
                        .status(206)
                        .header("content-range", format!("bytes {a}-{b}/{len}"));
                    body = body.slice(a..=b);
                }
                None => {
                    return builder
                        .status(416)
                        .header("content-range", format!("bytes */{len}"))
                        .body(full_body(Bytes::new()))
                        .unwrap()
                }
            }
        }
    }
    builder = builder.header("content-length", body.len());
    if req.method() == Method::HEAD {
        return builder.body(full_body(Bytes::new())).unwrap();
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(2);
    tokio::spawn(async move {
        let mut pos = 0;
        let mut stalled = false;
        while pos < body.len() {
            if !stalled && res.stall_at.is_some_and(|s| pos >= s) {
                stalled = true;
                st.release.notified().await;
            }
            if res.drop_at.is_some_and(|d| pos >= d) {
                let _ = tx
                    .send(Err(std::io::Error::other("origin dropped the connection")))
                    .await;
                return;
            }
            let mut end = (pos + res.chunk).min(body.len());
            for limit in [res.stall_at, res.drop_at].into_iter().flatten() {
                if pos < limit {
                    end = end.min(limit);
                }
            }
            if tx
                .send(Ok(Frame::data(body.slice(pos..end))))
                .await
                .is_err()
            {
                return;
            }
            pos = end;
            if !res.chunk_delay.is_zero() {
                tokio::time::sleep(res.chunk_delay).await;
            }
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    builder.body(StreamBody::new(stream).boxed()).unwrap()
}

fn full_body(b: Bytes) -> OriginBody {
    Full::new(b).map_err(|e| match e {}).boxed()
}

/// A terminal configuration for tests: ephemeral ports on 127.0.0.1, a fresh data directory.
pub fn config(origin: &Origin, dir: &std::path::Path) -> TerminalConfig {
    let mut cfg = TerminalConfig::new(origin.url().parse().unwrap(), dir.to_path_buf());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin_listen = "127.0.0.1:0".parse().unwrap();
    cfg.fsync = meson_terminal::config::FsyncPolicy::Never;
    cfg.min_free_disk = 0;
    cfg.timeouts.origin_read = Duration::from_secs(5);
    cfg
}

pub async fn terminal(cfg: TerminalConfig) -> Terminal {
    Terminal::start(cfg).await.expect("terminal starts")
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Got {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    pub fn x_cache(&self) -> &str {
        self.header("x-cache")
    }
}

pub type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

pub async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Got {
    try_request(addr, method, path, headers)
        .await
        .expect("complete response")
}

/// Like [`request`], but an aborted body is an error instead of a panic.
pub async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Got, String> {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, HeaderValue::from_str(v).unwrap());
    }
    let resp = client()
        .request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(Got {
        status,
        headers,
        body,
    })
}

pub async fn get(addr: SocketAddr, path: &str) -> Got {
    request(addr, "GET", path, &[]).await
}

/// Deterministic pseudo-random bytes, so bodies differ at every offset.
pub fn pattern(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// An admin API call with the terminal's token.
pub async fn admin(
    t: &Terminal,
    method: &str,
    path: &str,
    json: Option<serde_json::Value>,
) -> (u16, Bytes) {
    let token = std::fs::read_to_string(t.cache.config().data_dir.join("admin.token")).unwrap();
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", t.admin_addr))
        .header("authorization", format!("Bearer {token}"));
    let body = match json {
        Some(j) => {
            req = req.header("content-type", "application/json");
            Bytes::from(j.to_string())
        }
        None => Bytes::new(),
    };
    let resp = client()
        .request(req.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

/// Waits until the terminal has no fill in flight (fills commit just after their clients are answered).
pub async fn settle(t: &Terminal) {
    eventually("fills settle", || t.cache.fills_in_flight() == 0).await;
}

/// Polls `f` until it holds, for at most 10 s: background work (revalidation, scrub) finishes on its own time.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}
