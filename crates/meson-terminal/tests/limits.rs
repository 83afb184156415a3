//! Limits and bad input: each gets a clear status, and nothing is lost or corrupted.

mod support;

use std::time::{Duration, Instant};

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends raw bytes and reads until the server closes or `limit` passes; returns what came back.
async fn raw(addr: std::net::SocketAddr, bytes: &[u8], limit: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test]
async fn oversized_and_too_many_headers_get_431() {
    let origin = Origin::start().await;
    origin.set("/", Resource::new("root", &[]));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&origin, dir.path());
    cfg.limits.max_header_bytes = 16 * 1024;
    cfg.limits.max_headers = 50;
    let t = terminal(cfg).await;

    let big = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    let resp = raw(t.addr, big.as_bytes(), Duration::from_secs(5)).await;
    assert!(resp.starts_with("HTTP/1.1 431"), "{resp}");

    let mut many = String::from("GET / HTTP/1.1\r\nhost: x\r\n");
    for i in 0..80 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let resp = raw(t.addr, many.as_bytes(), Duration::from_secs(5)).await;
    assert!(resp.starts_with("HTTP/1.1 431"), "{resp}");

    let resp = raw(t.addr, b"GARBAGE\r\n\r\n", Duration::from_secs(5)).await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert_eq!(origin.hits("/"), 0, "none of these reached the origin");
    let (_, metrics) = admin(&t, "GET", "/metrics", None).await;
    let metrics = String::from_utf8_lossy(&metrics);
    let bad = metrics
        .lines()
        .find_map(|l| l.strip_prefix("meson_terminal_bad_requests_total "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert!(
        bad.is_some_and(|n| n >= 3.0),
        "each refusal is counted and logged: {bad:?}"
    );
    // A normal request still works.
    assert_eq!(get(t.addr, "/").await.status, 200);
    t.shutdown().await;
}

/// Responses the terminal has dropped because their client stopped reading (process-wide counter).
async fn slow_client_drops(t: &meson_terminal::Terminal) -> u64 {
    let (_, metrics) = admin(t, "GET", "/metrics", None).await;
    String::from_utf8_lossy(&metrics)
        .lines()
        .find_map(|l| l.strip_prefix("meson_terminal_slow_client_drops_total "))
        .map_or(0, |v| {
            v.trim().parse::<f64>().expect("a counter value") as u64
        })
}

#[tokio::test]
async fn a_slow_client_is_cut_off() {
    let origin = Origin::start().await;
    let body = pattern(32 << 20, 2);
    origin.set(
        "/big",
        Resource::new(body, &[("cache-control", "max-age=600")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&origin, dir.path());
    cfg.timeouts.client_header = Duration::from_secs(1);
    cfg.timeouts.client_write = Duration::from_secs(1);
    let t = terminal(cfg).await;

    // Slowloris: half a request line, then nothing. The terminal closes the connection.
    let start = Instant::now();
    let resp = raw(t.addr, b"GET / HT", Duration::from_secs(10)).await;
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "connection closed by the header timeout"
    );
    assert!(
        resp.is_empty() || resp.starts_with("HTTP/1.1 408"),
        "{resp}"
    );

    // A client that asks for 32 MiB and reads nothing is dropped, and the fill still completes.
    let drops = slow_client_drops(&t).await;
    let mut s = TcpStream::connect(t.addr).await.unwrap();
    s.write_all(b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    settle(&t).await;
    eventually_async(
        "the terminal drops the client that reads nothing",
        || async { slow_client_drops(&t).await > drops },
    )
    .await;
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the terminal closed the connection");
    assert!(
        got.len() < 32 << 20,
        "the response was cut short ({} bytes)",
        got.len()
    );
    assert_eq!(
        get(t.addr, "/big").await.x_cache(),
        "HIT",
        "the fill completed regardless"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn paths_are_normalised_and_bad_ones_refused() {
    let origin = Origin::start().await;
    origin.set(
        "/etc/passwd",
        Resource::new("not a secret", &[("cache-control", "max-age=60")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    let r = raw(
        t.addr,
        b"GET /../../etc/passwd HTTP/1.1\r\nhost: x\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(
        r.starts_with("HTTP/1.1 200") && r.ends_with("not a secret"),
        "{r}"
    );
    let r = get(t.addr, "/a/%2e%2E/etc/./passwd").await;
    assert_eq!(
        (r.status, r.x_cache()),
        (200, "HIT"),
        "two spellings, one cache entry"
    );
    assert_eq!(origin.hits("/etc/passwd"), 1);
    let r = get(t.addr, "/a%00b").await;
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("control"));
    let r = get(t.addr, "/a%zz").await;
    assert_eq!(r.status, 400);
    // Nothing was written outside the data directory's own layout.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    names.sort();
    assert_eq!(names, ["admin.token", "objects", "running", "tmp"]);
    t.shutdown().await;
}

#[tokio::test]
async fn objects_above_the_size_limit_pass_through() {
    let origin = Origin::start().await;
    origin.set(
        "/huge",
        Resource::new(pattern(5000, 3), &[("cache-control", "max-age=600")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&origin, dir.path());
    cfg.limits.max_object_size = 1000;
    let t = terminal(cfg).await;
    for _ in 0..2 {
        let r = get(t.addr, "/huge").await;
        assert_eq!(
            (r.status, r.x_cache(), r.body.clone()),
            (200, "BYPASS", pattern(5000, 3))
        );
    }
    assert_eq!(t.cache.index().object_count(), 0);
    t.shutdown().await;
}

#[tokio::test]
async fn dead_and_slow_origins_give_502_and_504() {
    let origin = Origin::start().await;
    origin.set(
        "/slow",
        Resource::new("late", &[("cache-control", "max-age=60")])
            .head_delay(Duration::from_secs(3)),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&origin, dir.path());
    cfg.timeouts.origin_read = Duration::from_millis(500);
    let t = terminal(cfg).await;
    let r = get(t.addr, "/slow").await;
    assert_eq!(r.status, 504);
    assert!(String::from_utf8_lossy(&r.body).contains("did not answer"));
    origin.stop();
    let r = get(t.addr, "/anything").await;
    assert_eq!(r.status, 502);
    assert!(
        String::from_utf8_lossy(&r.body).contains("unreachable"),
        "{:?}",
        r.body
    );
    t.shutdown().await;
}

#[tokio::test]
async fn origin_errors_are_cached_only_when_allowed() {
    let origin = Origin::start().await;
    origin.set("/missing", Resource::new("nope", &[]).status(404));
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    get(t.addr, "/missing").await;
    assert_eq!(get(t.addr, "/missing").await.x_cache(), "BYPASS");
    assert_eq!(origin.hits("/missing"), 2);
    t.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&origin, dir.path());
    cfg.cache.cache_errors_ttl_secs = Some(60);
    let t = terminal(cfg).await;
    get(t.addr, "/missing").await;
    let r = get(t.addr, "/missing").await;
    assert_eq!((r.status, r.x_cache()), (404, "HIT"));
    assert_eq!(origin.hits("/missing"), 3);
    t.shutdown().await;
}

#[tokio::test]
async fn the_reserved_health_path_is_answered_by_the_terminal() {
    let origin = Origin::start().await;
    origin.set(
        "/.well-known/meson/health",
        Resource::new("origin must not answer", &[]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    for path in ["/.well-known/meson/health", "/.well-known/./meson/health"] {
        let r = get(t.addr, path).await;
        assert_eq!(
            (r.status, r.header("content-type")),
            (200, "application/json")
        );
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            (v["status"].as_str(), v["disk_full"].as_bool()),
            (Some("ok"), Some(false))
        );
    }
    assert_eq!(origin.hits("/.well-known/meson/health"), 0);
    t.shutdown().await;
}
