//! HTTP caching as a shared cache (RFC 9111, RFC 5861, RFC 9213), through a real terminal and origin.

mod support;

use std::time::Duration;

use support::*;

#[tokio::test]
async fn miss_then_hit_with_age_via_and_one_origin_request() {
    let origin = Origin::start().await;
    origin.set(
        "/a",
        Resource::new(
            "hello",
            &[
                ("cache-control", "max-age=60"),
                ("content-type", "text/plain"),
            ],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;

    let first = get(t.addr, "/a").await;
    assert_eq!(
        (first.status, first.x_cache(), &first.body[..]),
        (200, "MISS", &b"hello"[..])
    );
    let second = get(t.addr, "/a").await;
    assert_eq!(
        (second.status, second.x_cache(), &second.body[..]),
        (200, "HIT", &b"hello"[..])
    );
    assert!(second.header("age").parse::<u64>().is_ok(), "Age on a hit");
    assert!(second.header("via").contains("meson"));
    assert_eq!(second.header("content-type"), "text/plain");
    assert_eq!(second.header("content-length"), "5");
    assert!(!second.header("x-request-id").is_empty());
    assert_eq!(origin.hits("/a"), 1);
    let seen = &origin.seen("/a")[0];
    assert!(seen.headers.get("via").is_some(), "origin sees Via");
    assert_eq!(seen.headers.get("x-forwarded-for").unwrap(), "127.0.0.1");
    t.shutdown().await;
}

#[tokio::test]
async fn uncacheable_responses_are_not_stored() {
    let origin = Origin::start().await;
    origin.set(
        "/nostore",
        Resource::new("x", &[("cache-control", "no-store")]),
    );
    origin.set(
        "/private",
        Resource::new("x", &[("cache-control", "private, max-age=60")]),
    );
    origin.set(
        "/auth",
        Resource::new("x", &[("cache-control", "max-age=60")]),
    );
    origin.set(
        "/authpublic",
        Resource::new("x", &[("cache-control", "public, max-age=60")]),
    );
    origin.set("/err", Resource::new("boom", &[]).status(500));
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;

    for path in ["/nostore", "/private", "/err"] {
        let a = get(t.addr, path).await;
        let b = get(t.addr, path).await;
        assert_eq!(a.x_cache(), "BYPASS", "{path}");
        assert_eq!(b.x_cache(), "BYPASS", "{path}");
        assert_eq!(origin.hits(path), 2, "{path} goes to the origin every time");
    }
    assert_eq!(
        get(t.addr, "/err").await.status,
        500,
        "origin errors pass through"
    );

    let auth = [("authorization", "Bearer secret")];
    request(t.addr, "GET", "/auth", &auth).await;
    request(t.addr, "GET", "/auth", &auth).await;
    assert_eq!(
        origin.hits("/auth"),
        2,
        "Authorization without public is not shared"
    );
    request(t.addr, "GET", "/authpublic", &auth).await;
    let hit = request(t.addr, "GET", "/authpublic", &auth).await;
    assert_eq!(
        hit.x_cache(),
        "HIT",
        "public makes an authorized response shareable"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn s_maxage_and_cdn_cache_control_take_precedence() {
    let origin = Origin::start().await;
    origin.set(
        "/s",
        Resource::new("s", &[("cache-control", "max-age=0, s-maxage=60")]),
    );
    origin.set(
        "/cdn",
        Resource::new(
            "c",
            &[
                ("cache-control", "no-store"),
                ("cdn-cache-control", "max-age=60"),
            ],
        ),
    );
    origin.set(
        "/cdn0",
        Resource::new(
            "c",
            &[
                ("cache-control", "max-age=60"),
                ("cdn-cache-control", "no-store"),
            ],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    for path in ["/s", "/cdn", "/cdn0"] {
        get(t.addr, path).await;
    }
    assert_eq!(get(t.addr, "/s").await.x_cache(), "HIT");
    assert_eq!(get(t.addr, "/cdn").await.x_cache(), "HIT");
    assert_eq!(get(t.addr, "/cdn0").await.x_cache(), "BYPASS");
    assert_eq!(origin.hits("/cdn0"), 2);
    t.shutdown().await;
}

#[tokio::test]
async fn stale_responses_are_revalidated_and_304_merged() {
    let origin = Origin::start().await;
    origin.set(
        "/v",
        Resource::new(
            "body-v1",
            &[
                ("cache-control", "max-age=1"),
                ("etag", "\"v1\""),
                ("x-version", "1"),
            ],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    assert_eq!(get(t.addr, "/v").await.x_cache(), "MISS");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The origin's 304 carries a new header value; the stored head must take it (RFC 9111 §4.3.4).
    origin.set(
        "/v",
        Resource::new(
            "body-v1",
            &[
                ("cache-control", "max-age=60"),
                ("etag", "\"v1\""),
                ("x-version", "2"),
            ],
        ),
    );
    let r = get(t.addr, "/v").await;
    assert_eq!((r.x_cache(), &r.body[..]), ("REVALIDATED", &b"body-v1"[..]));
    assert_eq!(r.header("x-version"), "2");
    let seen = origin.seen("/v");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].headers.get("if-none-match").unwrap(), "\"v1\"");
    let again = get(t.addr, "/v").await;
    assert_eq!((again.x_cache(), again.header("x-version")), ("HIT", "2"));
    t.shutdown().await;
}

#[tokio::test]
async fn changed_content_replaces_the_stored_copy() {
    let origin = Origin::start().await;
    origin.set(
        "/c",
        Resource::new("old", &[("cache-control", "max-age=1"), ("etag", "\"a\"")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    get(t.addr, "/c").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    origin.set(
        "/c",
        Resource::new(
            "new!",
            &[("cache-control", "max-age=60"), ("etag", "\"b\"")],
        ),
    );
    let r = get(t.addr, "/c").await;
    assert_eq!((r.x_cache(), &r.body[..]), ("MISS", &b"new!"[..]));
    let r = get(t.addr, "/c").await;
    assert_eq!(
        (r.x_cache(), &r.body[..], r.header("etag")),
        ("HIT", &b"new!"[..], "\"b\"")
    );
    t.shutdown().await;
}

#[tokio::test]
async fn request_directives_are_honoured() {
    let origin = Origin::start().await;
    origin.set(
        "/r",
        Resource::new("r", &[("cache-control", "max-age=1"), ("etag", "\"r\"")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;

    let miss = request(
        t.addr,
        "GET",
        "/missing-only",
        &[("cache-control", "only-if-cached")],
    )
    .await;
    assert_eq!(miss.status, 504, "only-if-cached on a miss");
    assert_eq!(origin.hits("/missing-only"), 0);

    get(t.addr, "/r").await;
    // A no-cache request that arrives while the first fill is still running joins it (a response fresh
    // from the origin); once that fill is stored, no-cache must go to the origin.
    settle(&t).await;
    let nc = request(t.addr, "GET", "/r", &[("cache-control", "no-cache")]).await;
    assert_eq!(nc.x_cache(), "REVALIDATED", "no-cache forces validation");
    assert_eq!(origin.hits("/r"), 2);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let ms = request(t.addr, "GET", "/r", &[("cache-control", "max-stale=600")]).await;
    assert_eq!(ms.x_cache(), "HIT", "max-stale accepts a stale response");
    let oic = request(t.addr, "GET", "/r", &[("cache-control", "only-if-cached")]).await;
    assert_eq!(oic.status, 504, "stale and only-if-cached");
    assert_eq!(origin.hits("/r"), 2);
    t.shutdown().await;
}

#[tokio::test]
async fn client_conditionals_are_answered_from_cache() {
    let origin = Origin::start().await;
    origin.set(
        "/e",
        Resource::new(
            "etagged",
            &[
                ("cache-control", "max-age=60"),
                ("etag", "\"e1\""),
                ("last-modified", "Mon, 02 Nov 2026 10:00:00 GMT"),
            ],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    get(t.addr, "/e").await;
    let r = request(t.addr, "GET", "/e", &[("if-none-match", "\"x\", W/\"e1\"")]).await;
    assert_eq!(
        (r.status, r.header("etag"), r.body.len()),
        (304, "\"e1\"", 0)
    );
    let r = request(
        t.addr,
        "GET",
        "/e",
        &[("if-modified-since", "Tue, 03 Nov 2026 10:00:00 GMT")],
    )
    .await;
    assert_eq!(r.status, 304);
    let r = request(t.addr, "GET", "/e", &[("if-match", "\"other\"")]).await;
    assert_eq!(r.status, 412);
    let r = request(t.addr, "GET", "/e", &[("if-none-match", "\"x\"")]).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"etagged"[..]));
    assert_eq!(origin.hits("/e"), 1);
    t.shutdown().await;
}

#[tokio::test]
async fn vary_keeps_one_variant_per_request_value() {
    let origin = Origin::start().await;
    origin.set(
        "/v",
        Resource::new(
            "variant",
            &[("cache-control", "max-age=60"), ("vary", "Accept-Encoding")],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    let gz = [("accept-encoding", "gzip")];
    let br = [("accept-encoding", "br")];
    assert_eq!(request(t.addr, "GET", "/v", &gz).await.x_cache(), "MISS");
    assert_eq!(request(t.addr, "GET", "/v", &br).await.x_cache(), "MISS");
    assert_eq!(request(t.addr, "GET", "/v", &gz).await.x_cache(), "HIT");
    assert_eq!(request(t.addr, "GET", "/v", &br).await.x_cache(), "HIT");
    assert_eq!(origin.hits("/v"), 2);
    t.shutdown().await;
}

#[tokio::test]
async fn stale_while_revalidate_answers_at_once_and_refreshes_in_background() {
    let origin = Origin::start().await;
    origin.set(
        "/swr",
        Resource::new(
            "one",
            &[("cache-control", "max-age=1, stale-while-revalidate=60")],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    get(t.addr, "/swr").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    origin.set(
        "/swr",
        Resource::new("two", &[("cache-control", "max-age=60")]),
    );
    let r = get(t.addr, "/swr").await;
    assert_eq!((r.x_cache(), &r.body[..]), ("STALE", &b"one"[..]));
    eventually_within(BACKGROUND, "background revalidation", || {
        origin.hits("/swr") == 2
    })
    .await;
    let mut fresh = get(t.addr, "/swr").await;
    for _ in 0..50 {
        if &fresh.body[..] == b"two" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        fresh = get(t.addr, "/swr").await;
    }
    assert_eq!((fresh.x_cache(), &fresh.body[..]), ("HIT", &b"two"[..]));
    t.shutdown().await;
}

#[tokio::test]
async fn stale_if_error_serves_stale_when_the_origin_fails_and_502_otherwise() {
    let origin = Origin::start().await;
    origin.set(
        "/sie",
        Resource::new(
            "keep",
            &[("cache-control", "max-age=1, stale-if-error=600")],
        ),
    );
    origin.set(
        "/plain",
        Resource::new("gone", &[("cache-control", "max-age=1")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    get(t.addr, "/sie").await;
    get(t.addr, "/plain").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // First the origin answers 503, then it is gone entirely.
    origin.set("/sie", Resource::new("down", &[]).status(503));
    let r = get(t.addr, "/sie").await;
    assert_eq!(
        (r.status, r.x_cache(), &r.body[..]),
        (200, "STALE", &b"keep"[..])
    );

    origin.stop();
    let r = get(t.addr, "/sie").await;
    assert_eq!(
        (r.status, r.x_cache(), &r.body[..]),
        (200, "STALE", &b"keep"[..])
    );
    let r = get(t.addr, "/plain").await;
    assert_eq!(r.status, 502, "dead origin and nothing allowed stale");
    t.shutdown().await;
}

#[tokio::test]
async fn unsafe_methods_are_forwarded_and_invalidate() {
    let origin = Origin::start().await;
    origin.set(
        "/item",
        Resource::new(
            "v1",
            &[("cache-control", "max-age=60"), ("location", "/other")],
        ),
    );
    origin.set(
        "/other",
        Resource::new("o", &[("cache-control", "max-age=60")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    get(t.addr, "/item").await;
    get(t.addr, "/other").await;
    assert_eq!(get(t.addr, "/item").await.x_cache(), "HIT");
    let post = request(t.addr, "POST", "/item", &[]).await;
    assert_eq!((post.status, post.x_cache()), (200, "BYPASS"));
    assert_eq!(
        origin.seen("/item").last().unwrap().method,
        http::Method::POST
    );
    assert_eq!(
        get(t.addr, "/item").await.x_cache(),
        "MISS",
        "POST invalidated the target"
    );
    assert_eq!(
        get(t.addr, "/other").await.x_cache(),
        "MISS",
        "and its Location"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn heuristic_and_expires_freshness() {
    let origin = Origin::start().await;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let old =
        httpdate::fmt_http_date(std::time::SystemTime::now() - Duration::from_secs(86400 * 10));
    let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
    origin.set(
        "/lm",
        Resource::new("lm", &[("date", &date), ("last-modified", &old)]),
    );
    origin.set(
        "/exp",
        Resource::new("exp", &[("date", &date), ("expires", &later)]),
    );
    origin.set(
        "/exp0",
        Resource::new("exp0", &[("date", &date), ("expires", "0")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    for p in ["/lm", "/exp", "/exp0"] {
        get(t.addr, p).await;
    }
    assert_eq!(
        get(t.addr, "/lm").await.x_cache(),
        "HIT",
        "10% of 10 days is fresh"
    );
    assert_eq!(get(t.addr, "/exp").await.x_cache(), "HIT");
    assert_ne!(
        get(t.addr, "/exp0").await.x_cache(),
        "HIT",
        "Expires: 0 is already stale"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn head_requests_are_served_from_cache() {
    let origin = Origin::start().await;
    origin.set(
        "/h",
        Resource::new("0123456789", &[("cache-control", "max-age=60")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    let head = request(t.addr, "HEAD", "/h", &[]).await;
    assert_eq!(
        (head.status, head.header("content-length"), head.body.len()),
        (200, "10", 0)
    );
    let got = get(t.addr, "/h").await;
    assert_eq!((got.x_cache(), &got.body[..]), ("HIT", &b"0123456789"[..]));
    assert_eq!(origin.hits("/h"), 1, "a HEAD miss fills with GET");
    t.shutdown().await;
}
