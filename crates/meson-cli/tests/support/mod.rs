//! Process-level test support: a real origin HTTP server on 127.0.0.1, the real `meson-cdn` binary run as a
//! child process (killed when its guard drops), and a plain HTTP client. Every wait is bounded.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

pub const BIN: &str = env!("CARGO_BIN_EXE_meson-cdn");

/// Upper bound for any single wait in these tests: a hang fails instead of blocking CI.
pub const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------------------

/// Deterministic pseudo-random bytes (xorshift64), different at every offset and for every seed.
pub fn pattern(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out.into()
}

pub fn b3(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

// ---------------------------------------------------------------------------------------------------------
// Origin
// ---------------------------------------------------------------------------------------------------------

#[derive(Default)]
pub struct OriginState {
    bodies: Mutex<HashMap<String, Bytes>>,
    /// Requests per path (without query).
    hits: Mutex<HashMap<String, usize>>,
    /// Body chunk size and the pause after each chunk but the last (0: stream as fast as possible).
    chunk: AtomicUsize,
    chunk_delay_ms: AtomicU64,
    /// Response bodies being streamed right now.
    pub active: AtomicUsize,
    /// Body bytes sent in total.
    pub bytes_sent: AtomicU64,
}

/// A real HTTP/1.1 origin: every path it knows answers 200 with its body, `Cache-Control: max-age=3600`, a
/// strong ETag, and single `Range: bytes=a-b` requests with 206 + Content-Range.
pub struct Origin {
    pub addr: SocketAddr,
    pub state: Arc<OriginState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Origin {
    pub async fn start() -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(OriginState::default());
        state.chunk.store(64 * 1024, Ordering::Relaxed);
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, Infallible>(origin_handle(st, req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
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

    pub fn put(&self, path: &str, body: Bytes) {
        self.state
            .bodies
            .lock()
            .unwrap()
            .insert(path.to_string(), body);
    }

    /// The body served for `path` (query ignored).
    pub fn body(&self, path: &str) -> Bytes {
        let path = path.split('?').next().unwrap();
        self.state
            .bodies
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_else(|| panic!("origin has no {path}"))
    }

    pub fn hits(&self, path: &str) -> usize {
        *self.state.hits.lock().unwrap().get(path).unwrap_or(&0)
    }

    /// Streams bodies in `chunk`-byte pieces with `delay` between them; `Duration::ZERO` for full speed.
    pub fn pace(&self, chunk: usize, delay: Duration) {
        self.state.chunk.store(chunk, Ordering::Relaxed);
        self.state
            .chunk_delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn active(&self) -> usize {
        self.state.active.load(Ordering::Relaxed)
    }
}

/// A single `bytes=a-b`, `bytes=a-` or `bytes=-n`; None when unsatisfiable or malformed.
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

type OriginBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

struct ActiveGuard(Arc<OriginState>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

fn origin_handle(st: Arc<OriginState>, req: Request<Incoming>) -> Response<OriginBody> {
    let path = req.uri().path().to_string();
    *st.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let body = st.bodies.lock().unwrap().get(&path).cloned();
    let Some(body) = body else {
        return Response::builder()
            .status(404)
            .body(full_body(Bytes::from_static(b"no such resource\n")))
            .unwrap();
    };
    let len = body.len();
    let etag = format!("\"{}\"", &b3(&body)[..16]);
    let mut builder = Response::builder()
        .header("cache-control", "max-age=3600")
        .header("content-type", "application/octet-stream")
        .header("accept-ranges", "bytes")
        .header("etag", &etag);
    if req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return builder.status(304).body(full_body(Bytes::new())).unwrap();
    }
    let mut part = body.clone();
    let range = req.headers().get("range").and_then(|v| v.to_str().ok());
    match range {
        Some(r) if !r.contains(',') => match parse_range(r, len) {
            Some((a, b)) => {
                builder = builder
                    .status(206)
                    .header("content-range", format!("bytes {a}-{b}/{len}"));
                part = body.slice(a..=b);
            }
            None => {
                return builder
                    .status(416)
                    .header("content-range", format!("bytes */{len}"))
                    .body(full_body(Bytes::new()))
                    .unwrap()
            }
        },
        _ => builder = builder.status(200),
    }
    builder = builder.header("content-length", part.len());
    if req.method() == Method::HEAD {
        return builder.body(full_body(Bytes::new())).unwrap();
    }
    let chunk = st.chunk.load(Ordering::Relaxed).max(1);
    let delay = Duration::from_millis(st.chunk_delay_ms.load(Ordering::Relaxed));
    if delay.is_zero() {
        st.bytes_sent
            .fetch_add(part.len() as u64, Ordering::Relaxed);
        return builder.body(full_body(part)).unwrap();
    }
    st.active.fetch_add(1, Ordering::Relaxed);
    let guard = ActiveGuard(st.clone());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
    tokio::spawn(async move {
        let _guard = guard;
        let mut pos = 0;
        while pos < part.len() {
            let end = (pos + chunk).min(part.len());
            if tx
                .send(Ok(Frame::data(part.slice(pos..end))))
                .await
                .is_err()
            {
                return;
            }
            guard_bytes(&_guard.0, end - pos);
            pos = end;
            if pos < part.len() {
                tokio::time::sleep(delay).await;
            }
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    builder.body(StreamBody::new(stream).boxed()).unwrap()
}

fn guard_bytes(st: &OriginState, n: usize) {
    st.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
}

fn full_body(b: Bytes) -> OriginBody {
    Full::new(b).map_err(|e| match e {}).boxed()
}

// ---------------------------------------------------------------------------------------------------------
// The meson-cdn binary
// ---------------------------------------------------------------------------------------------------------

/// A command for the binary with no `MESON_*` variables inherited from the environment.
pub fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MESON_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// The result of running the binary to completion.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary to completion (bounded by [`WAIT`]; killed if it takes longer).
pub async fn run(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard(cmd.spawn().expect("spawn meson-cdn"));
    let read_all = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = read_all(Box::new(child.0.stdout.take().unwrap()));
    let err = read_all(Box::new(child.0.stderr.take().unwrap()));
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "meson-cdn {:?} did not exit within {WAIT:?}",
            cmd.get_args().collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Kills the child when dropped (a failing test never leaves a process behind).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

static LOG_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running `meson-cdn terminal`. Dropping it SIGKILLs the process if it still runs; when the test is
/// failing, the terminal's log is printed.
pub struct TerminalProc {
    child: Child,
    exited: Option<ExitStatus>,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

impl Drop for TerminalProc {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- terminal log {} ----\n{}",
                self.log.display(),
                tail(&self.log_text(), 60)
            );
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Options every test terminal gets: ephemeral ports, the data directory, and no free-disk floor.
pub fn terminal_command(origin: &str, data_dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = command();
    cmd.arg("terminal")
        .args(["--origin", origin])
        .args(["--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--min-free-disk", "0"])
        .args(extra);
    cmd
}

impl TerminalProc {
    /// Starts `meson-cdn terminal` for `origin` on `data_dir` and waits for both listening lines.
    pub async fn start(origin: &str, data_dir: &Path, extra: &[&str]) -> TerminalProc {
        let cmd = terminal_command(origin, data_dir, extra);
        Self::spawn(cmd, data_dir).await
    }

    /// Starts a prepared command (which must print the listening lines) and waits for them.
    pub async fn spawn(mut cmd: Command, data_dir: &Path) -> TerminalProc {
        let log = std::env::temp_dir().join(format!(
            "meson-cli-test-{}-{}.log",
            std::process::id(),
            LOG_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let log_file = std::fs::File::create(&log).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        let mut child = cmd.spawn().expect("spawn meson-cdn terminal");
        let stdout = child.stdout.take().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    // Keep draining so the child never blocks on a full pipe.
                }
            }
        });
        let mut proc = TerminalProc {
            child,
            exited: None,
            addr: "0.0.0.0:0".parse().unwrap(),
            admin: "0.0.0.0:0".parse().unwrap(),
            data_dir: data_dir.to_path_buf(),
            log,
        };
        let (mut addr, mut admin) = (None, None);
        let deadline = Instant::now() + WAIT;
        while addr.is_none() || admin.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, rx.recv()).await {
                Ok(Some(line)) => {
                    if let Some(a) = line.strip_prefix("meson-cdn terminal serving http://") {
                        addr = Some(a.trim().parse::<SocketAddr>().expect("client address"));
                    } else if let Some(rest) = line.strip_prefix("admin API") {
                        let a = rest.rsplit("http://").next().unwrap();
                        admin = Some(a.trim().parse::<SocketAddr>().expect("admin address"));
                    }
                }
                Ok(None) => {
                    let status = proc.child.wait().ok();
                    proc.exited = status;
                    panic!(
                        "terminal exited before listening ({status:?}):\n{}",
                        proc.log_text()
                    );
                }
                Err(_) => panic!(
                    "terminal did not print its addresses within {WAIT:?}:\n{}",
                    proc.log_text()
                ),
            }
        }
        proc.addr = addr.unwrap();
        proc.admin = admin.unwrap();
        proc
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: i32) {
        assert!(self.exited.is_none(), "terminal already exited");
        // SAFETY: plain kill(2) on our own child's pid, which has not been reaped yet.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(s) = self.exited {
            return s;
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                self.exited = Some(s);
                return s;
            }
            if Instant::now() > deadline {
                panic!("terminal did not exit within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL, and reap.
    pub async fn kill9(&mut self) {
        use std::os::unix::process::ExitStatusExt;
        self.signal(libc::SIGKILL);
        let s = self.wait_exit(WAIT).await;
        assert_eq!(
            s.signal(),
            Some(libc::SIGKILL),
            "terminal had already exited on its own: {s:?}\n{}",
            self.log_text()
        );
    }

    /// Whether the process has a handler for `sig` (Linux: the `SigCgt` mask in `/proc/PID/status`).
    pub fn catches(&self, sig: i32) -> bool {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|mask| mask & (1u64 << (sig - 1)) != 0)
    }

    /// Waits (bounded) until the process handles SIGTERM. The terminal prints its addresses before it
    /// installs the handler; a SIGTERM in between kills it outright (see `sigterm_right_after_ready`).
    pub async fn wait_sigterm_handler(&self) {
        let deadline = Instant::now() + WAIT;
        while !self.catches(libc::SIGTERM) {
            assert!(
                Instant::now() < deadline,
                "terminal never installed a SIGTERM handler"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// SIGTERM (once the process handles it), and expect a clean exit with status 0.
    pub async fn stop(&mut self) {
        self.wait_sigterm_handler().await;
        self.signal(libc::SIGTERM);
        let s = self.wait_exit(WAIT).await;
        assert!(
            s.success(),
            "terminal exit after SIGTERM: {s:?}\n{}",
            self.log_text()
        );
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// GET on the admin listener with the token; the JSON answer.
    pub async fn admin_get(&self, path: &str) -> (u16, serde_json::Value) {
        let auth = format!("Bearer {}", self.token());
        let got = request(self.admin, "GET", path, &[("authorization", &auth)])
            .await
            .unwrap_or_else(|e| panic!("admin GET {path}: {e}"));
        let v = serde_json::from_slice(&got.body).unwrap_or(serde_json::Value::Null);
        (got.status, v)
    }

    /// Every object the admin API lists (all pages).
    pub async fn objects(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/admin/objects?limit=1000&after={a}"),
                None => "/v1/admin/objects?limit=1000".to_string(),
            };
            let (status, v) = self.admin_get(&path).await;
            assert_eq!(status, 200, "{path}: {v}");
            out.extend(v["objects"].as_array().expect("objects array").clone());
            match v["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => return out,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------------------

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
            .and_then(|v| v.to_str().ok())
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

/// One request on a fresh connection, bounded by [`WAIT`]; an error, reset or timeout is `Err`.
pub async fn request(
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
    let req = req.body(Full::new(Bytes::new())).unwrap();
    let fut = async move {
        let resp = client().request(req).await.map_err(|e| format!("{e:?}"))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e:?}"))?
            .to_bytes();
        Ok(Got {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(WAIT, fut).await.unwrap_or_else(|_| {
        Err(format!(
            "{method} {path}: no complete response within {WAIT:?}"
        ))
    })
}

pub async fn get(addr: SocketAddr, path: &str) -> Got {
    request(addr, "GET", path, &[])
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

pub async fn get_range(addr: SocketAddr, path: &str, a: usize, b: usize) -> Got {
    let r = format!("bytes={a}-{b}");
    request(addr, "GET", path, &[("range", &r)])
        .await
        .unwrap_or_else(|e| panic!("GET {path} {r}: {e}"))
}

/// Asserts a full GET answered 200 with exactly `want`.
pub fn assert_full(got: &Got, path: &str, want: &[u8]) {
    assert_eq!(
        got.status,
        200,
        "GET {path}: status (x-cache {})",
        got.x_cache()
    );
    assert_eq!(
        got.body.len(),
        want.len(),
        "GET {path}: body length (x-cache {})",
        got.x_cache()
    );
    assert!(
        b3(&got.body) == b3(want),
        "GET {path}: body differs from the origin's (x-cache {}; first differing byte at {:?})",
        got.x_cache(),
        got.body.iter().zip(want).position(|(a, b)| a != b)
    );
}

/// Asserts a `bytes=a-b` GET answered 206 with exactly those bytes of `want`.
pub fn assert_range(got: &Got, path: &str, a: usize, b: usize, want: &[u8]) {
    assert_eq!(got.status, 206, "GET {path} bytes={a}-{b}: status");
    assert_eq!(
        got.header("content-range"),
        format!("bytes {a}-{b}/{}", want.len()),
        "GET {path} bytes={a}-{b}: Content-Range"
    );
    assert!(
        b3(&got.body) == b3(&want[a..=b]),
        "GET {path} bytes={a}-{b}: body differs from the origin's (x-cache {})",
        got.x_cache()
    );
}

/// Polls `f` until it returns true, for at most [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {WAIT:?} waiting for: {what}");
}

// ---------------------------------------------------------------------------------------------------------
// What the store holds
// ---------------------------------------------------------------------------------------------------------

/// The path and query of an admin listing's `key` (`127.0.0.1:PORT/path?query`).
pub fn key_path(key: &str) -> &str {
    &key[key.find('/').expect("key has a path")..]
}

/// Checks every listed object against the origin: status 200, size, and each slice's `len` and `root` equal
/// to the BLAKE3 of the bytes it covers. Returns, per path and query, how many slices are stored.
pub fn check_listing(
    objects: &[serde_json::Value],
    origin: &Origin,
    slice_size: usize,
) -> HashMap<String, usize> {
    let mut stored = HashMap::new();
    for o in objects {
        let key = o["key"].as_str().expect("key");
        let pq = key_path(key);
        let body = origin.body(pq);
        let len = body.len();
        assert_eq!(o["status"], 200, "{key}: status in {o}");
        assert_eq!(o["size"].as_u64(), Some(len as u64), "{key}: size in {o}");
        let sliced = o["sliced"].as_bool().expect("sliced");
        let s = if sliced { slice_size } else { len };
        if !sliced {
            assert!(
                len <= slice_size,
                "{key}: {len} bytes stored unsliced with slice size {slice_size}"
            );
        }
        let slices = o["slices"].as_array().expect("slices");
        for sl in slices {
            let i = sl["index"].as_u64().expect("index") as usize;
            let start = i * s;
            assert!(start < len.max(1), "{key}: slice {i} past the end in {o}");
            let end = ((i + 1) * s).min(len);
            assert_eq!(
                sl["len"].as_u64(),
                Some((end - start) as u64),
                "{key}: slice {i} len in {o}"
            );
            assert_eq!(
                sl["root"].as_str(),
                Some(b3(&body[start..end]).as_str()),
                "{key}: slice {i} root is not the BLAKE3 of bytes {start}..{end} of the origin's body"
            );
        }
        assert!(
            stored.insert(pq.to_string(), slices.len()).is_none(),
            "{key} listed twice"
        );
    }
    stored
}

/// Slices a body of `len` bytes has with `slice_size`.
pub fn slice_count(len: usize, slice_size: usize) -> usize {
    if len <= slice_size {
        1
    } else {
        len.div_ceil(slice_size)
    }
}

/// Stored body files under `DATA_DIR/objects`, with the key from their object's `meta.json`:
/// `(key, slice index, path)`.
pub fn body_files(data_dir: &Path) -> Vec<(String, u32, PathBuf)> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(data_dir.join("objects")).unwrap() {
        let shard = shard.unwrap().path();
        if !shard.is_dir() {
            continue;
        }
        for obj in std::fs::read_dir(&shard).unwrap() {
            let obj = obj.unwrap().path();
            let Ok(meta) = std::fs::read(obj.join("meta.json")) else {
                continue;
            };
            let meta: serde_json::Value = serde_json::from_slice(&meta).unwrap();
            let key = meta["key"]
                .as_str()
                .expect("meta.json has a key")
                .to_string();
            for f in std::fs::read_dir(&obj).unwrap() {
                let f = f.unwrap().path();
                let name = f.file_name().unwrap().to_str().unwrap().to_string();
                if name == "meta.json" || name.ends_with(".obao") {
                    continue;
                }
                let Some((slice, _root)) = name.split_once('.') else {
                    continue;
                };
                out.push((key.clone(), slice.parse().unwrap(), f));
            }
        }
    }
    out
}

/// The stored body file of slice `slice` of the object whose key ends with `path`.
pub fn body_file(data_dir: &Path, path: &str, slice: u32) -> PathBuf {
    body_files(data_dir)
        .into_iter()
        .find(|(k, s, _)| key_path(k) == path && *s == slice)
        .map(|(_, _, p)| p)
        .unwrap_or_else(|| panic!("no stored body for {path} slice {slice}"))
}

/// Flips every bit of the byte in the middle of a file.
pub fn flip_middle_byte(path: &Path) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let len = f.metadata().unwrap().len();
    assert!(len > 0, "{} is empty", path.display());
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, len / 2).unwrap();
    b[0] ^= 0xff;
    f.write_all_at(&b, len / 2).unwrap();
    f.sync_all().unwrap();
}

/// Cuts a file to half its length.
pub fn truncate_half(path: &Path) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len / 2).unwrap();
    f.sync_all().unwrap();
}

/// Overwrites the second half of a file with zeros, keeping its length (what a power loss can leave).
pub fn zero_tail(path: &Path) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    f.write_all_at(&vec![0u8; (len - len / 2) as usize], len / 2)
        .unwrap();
    f.sync_all().unwrap();
}

/// Waits (bounded) until the terminal lists exactly `want` (path and query → stored slices), checking every
/// listed slice against the origin on each look.
pub async fn wait_stored(
    term: &TerminalProc,
    origin: &Origin,
    slice_size: usize,
    want: &HashMap<String, usize>,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = check_listing(&term.objects().await, origin, slice_size);
        if &got == want {
            return;
        }
        if Instant::now() > deadline {
            let mut diff: Vec<String> = want
                .iter()
                .filter(|(k, n)| got.get(*k) != Some(n))
                .map(|(k, n)| format!("{k}: want {n} slices, listed {:?}", got.get(k)))
                .collect();
            diff.extend(
                got.keys()
                    .filter(|k| !want.contains_key(*k))
                    .map(|k| format!("{k}: listed, not expected")),
            );
            diff.sort();
            panic!(
                "the store never held what was expected within {WAIT:?}:\n{}",
                diff.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
