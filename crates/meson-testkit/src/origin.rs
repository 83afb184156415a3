//! A real origin HTTP server (HTTP/1.1 and h2c) on 127.0.0.1 whose resources each test sets.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::b3;

type OriginBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// One resource the origin serves: its status, headers and body, and how it sends them.
///
/// For GET and HEAD: an `If-None-Match` that matches the resource's `ETag` (or `*`) gets 304; on a 200
/// resource that takes ranges, one `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` gets 206 with
/// `Content-Range`, an unsatisfiable or malformed one 416, and several ranges at once are ignored (200).
/// Other methods get the status, headers and body as they are.
#[derive(Clone, Debug)]
pub struct Resource {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    ranges: bool,
    head_delay: Duration,
    chunk: usize,
    chunk_delay: Duration,
    stall_at: Option<usize>,
    drop_at: Option<usize>,
}

impl Resource {
    /// Status 200 with exactly these headers (and `Content-Length`, `Accept-Ranges`), answering ranges, sent at
    /// full speed in 64 KiB chunks.
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

    /// A cacheable file: `Cache-Control: max-age=3600`, `Content-Type: application/octet-stream`, and a strong
    /// `ETag` derived from the body.
    pub fn cacheable(body: impl Into<Bytes>) -> Self {
        let body = body.into();
        let etag = format!("\"{}\"", &b3(&body)[..16]);
        Resource::new(
            body,
            &[
                ("cache-control", "max-age=3600"),
                ("content-type", "application/octet-stream"),
                ("etag", &etag),
            ],
        )
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Ignores `Range` (always the whole body, no `Accept-Ranges`).
    pub fn no_ranges(mut self) -> Self {
        self.ranges = false;
        self
    }

    /// Waits this long before sending the response head.
    pub fn head_delay(mut self, delay: Duration) -> Self {
        self.head_delay = delay;
        self
    }

    /// Sends the body in `chunk`-byte pieces with `delay` between them (`Duration::ZERO`: full speed).
    pub fn pace(mut self, chunk: usize, delay: Duration) -> Self {
        self.chunk = chunk.max(1);
        self.chunk_delay = delay;
        self
    }

    /// Stops after `n` body bytes until [`Origin::release`] (to observe read-while-write).
    pub fn stall_at(mut self, n: usize) -> Self {
        self.stall_at = Some(n);
        self
    }

    /// Aborts the response (and its connection) after `n` body bytes: a failed fill.
    pub fn drop_at(mut self, n: usize) -> Self {
        self.drop_at = Some(n);
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
    /// The path, without the query.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
}

#[derive(Default)]
struct State {
    resources: Mutex<HashMap<String, Resource>>,
    seen: Mutex<Vec<Seen>>,
    /// Response bodies being streamed right now.
    active: AtomicUsize,
    release: Notify,
}

impl State {
    /// The resource for a request target: set under the path and query, or else under the path alone.
    fn lookup(&self, target: &str) -> Option<Resource> {
        let map = self.resources.lock().unwrap();
        map.get(target)
            .or_else(|| map.get(target.split('?').next().unwrap()))
            .cloned()
    }
}

/// A real origin on 127.0.0.1: paths it was not given answer 404. Stops listening when dropped.
pub struct Origin {
    pub addr: SocketAddr,
    state: Arc<State>,
    /// The accept loop; None once stopped.
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Origin {
    /// Starts an origin on an ephemeral port of 127.0.0.1 with no resources.
    pub async fn start() -> Origin {
        Self::start_on("127.0.0.1").await
    }

    /// Starts an origin on an ephemeral port of `ip` (a 127.0.0.x address stands in for a place) with no
    /// resources.
    pub async fn start_on(ip: &str) -> Origin {
        let listener = TcpListener::bind(format!("{ip}:0")).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let task = Mutex::new(Some(serve(listener, state.clone())));
        Origin { addr, state, task }
    }

    /// Stops listening: new connections are refused until [`Origin::restart`]. Connections already open keep
    /// being served.
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap().as_ref() {
            task.abort();
        }
    }

    /// Listens again on the same address, with the same resources and records (after [`Origin::stop`]).
    pub async fn restart(&self) {
        let old = self.task.lock().unwrap().take();
        if let Some(old) = old {
            old.abort();
            // Aborted: this returns once the old listener is closed.
            let _ = old.await;
        }
        let listener = TcpListener::bind(self.addr).await.unwrap();
        *self.task.lock().unwrap() = Some(serve(listener, self.state.clone()));
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `r` for `path` (a path, or a path and query that takes precedence over its path alone).
    pub fn set(&self, path: &str, r: Resource) {
        self.state
            .resources
            .lock()
            .unwrap()
            .insert(path.to_string(), r);
    }

    /// The body served for `path` (a query that was not set on its own is ignored).
    pub fn body(&self, path: &str) -> Bytes {
        self.state
            .lookup(path)
            .unwrap_or_else(|| panic!("origin has no {path}"))
            .body
    }

    /// Re-paces every resource the origin holds: `chunk`-byte pieces with `delay` between them.
    pub fn pace(&self, chunk: usize, delay: Duration) {
        for r in self.state.resources.lock().unwrap().values_mut() {
            *r = r.clone().pace(chunk, delay);
        }
    }

    /// Lets every body stalled by [`Resource::stall_at`] right now continue.
    pub fn release(&self) {
        self.state.release.notify_waiters();
    }

    /// Requests the origin received for `path` (without query), oldest first.
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

    /// How many requests the origin received for `path` (without query).
    pub fn hits(&self, path: &str) -> usize {
        self.seen(path).len()
    }

    /// Requests for `path` from anything but a router's auditor (which fetches objects to learn their
    /// roots): the fills of terminals and other clients.
    pub fn fills(&self, path: &str) -> usize {
        self.seen(path)
            .iter()
            .filter(|s| {
                s.headers
                    .get(http::header::USER_AGENT)
                    .map(|v| v.as_bytes())
                    != Some(meson_core::audit::AUDITOR_USER_AGENT.as_bytes())
            })
            .count()
    }

    /// Response bodies being streamed right now.
    pub fn active(&self) -> usize {
        self.state.active.load(Ordering::Relaxed)
    }
}

fn serve(listener: TcpListener, state: Arc<State>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let st = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let st = st.clone();
                    async move { Ok::<_, Infallible>(handle(st, req).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}

/// A single `bytes=a-b`, `bytes=a-` or `bytes=-n` on a body of `len` bytes; None when unsatisfiable or
/// malformed.
fn parse_range(v: &str, len: usize) -> Option<(usize, usize)> {
    let spec = v.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    if len == 0 {
        return None;
    }
    if a.is_empty() {
        let n: usize = b.parse().ok()?;
        return (n > 0).then(|| (len.saturating_sub(n), len - 1));
    }
    let a: usize = a.parse().ok()?;
    let b: usize = if b.is_empty() {
        len - 1
    } else {
        b.parse::<usize>().ok()?.min(len - 1)
    };
    (a <= b && a < len).then_some((a, b))
}

async fn handle(st: Arc<State>, req: Request<Incoming>) -> Response<OriginBody> {
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    st.seen.lock().unwrap().push(Seen {
        method: req.method().clone(),
        path: req.uri().path().to_string(),
        query: req.uri().query().map(str::to_owned),
        headers: req.headers().clone(),
    });
    let Some(res) = st.lookup(&target) else {
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
        let range = req.headers().get("range").and_then(|v| v.to_str().ok());
        if let Some(r) = range.filter(|r| !r.contains(',')) {
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
    builder.body(stream_body(st, res, body)).unwrap()
}

/// Counts a body in [`State::active`] while it streams.
struct Active(Arc<State>);

impl Active {
    fn new(st: Arc<State>) -> Self {
        st.active.fetch_add(1, Ordering::Relaxed);
        Active(st)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Streams `body` as `res` says: in chunks with pauses between them, stalling or aborting where it says.
fn stream_body(st: Arc<State>, res: Resource, body: Bytes) -> OriginBody {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
    let active = Active::new(st);
    tokio::spawn(async move {
        let st = &active.0;
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
            if pos < body.len() && !res.chunk_delay.is_zero() {
                tokio::time::sleep(res.chunk_delay).await;
            }
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    StreamBody::new(stream).boxed()
}

fn full_body(b: Bytes) -> OriginBody {
    Full::new(b).map_err(|e| match e {}).boxed()
}
