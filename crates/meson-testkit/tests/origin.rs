//! The test origin itself answers as its documentation says.

use std::time::Duration;

use meson_testkit::*;

#[tokio::test]
async fn resources_ranges_conditionals_and_records() {
    let origin = Origin::start().await;
    let body = pattern(10, 1);
    origin.set("/r", Resource::cacheable(body.clone()));
    origin.set("/r?v=2", Resource::new("two", &[]).status(203));
    origin.set("/whole", Resource::new(body.clone(), &[]).no_ranges());

    let full = get(origin.addr, "/r").await;
    assert_full(&full, "/r", &body);
    assert_eq!(full.header("accept-ranges"), "bytes");
    assert_eq!(full.header("cache-control"), "max-age=3600");
    assert_eq!(
        get(origin.addr, "/r?v=1").await.body,
        body,
        "query falls back"
    );
    let q = get(origin.addr, "/r?v=2").await;
    assert_eq!((q.status, &q.body[..]), (203, &b"two"[..]));
    assert_eq!(origin.body("/r?v=9"), body);

    for (a, b, spec) in [(2, 5, "bytes=2-5"), (7, 9, "bytes=-3"), (8, 9, "bytes=8-")] {
        let got = request(origin.addr, "GET", "/r", &[("range", spec)]).await;
        assert_range(&got, "/r", a, b, &body);
    }
    let many = request(origin.addr, "GET", "/r", &[("range", "bytes=0-1,4-5")]).await;
    assert_full(&many, "/r", &body);
    let past = request(origin.addr, "GET", "/r", &[("range", "bytes=10-")]).await;
    assert_eq!(
        (past.status, past.header("content-range")),
        (416, "bytes */10")
    );
    let whole = request(origin.addr, "GET", "/whole", &[("range", "bytes=0-1")]).await;
    assert_full(&whole, "/whole", &body);
    assert_eq!(whole.header("accept-ranges"), "");

    let etag = full.header("etag").to_string();
    for inm in [etag.as_str(), "*", &format!("\"x\", {etag}")] {
        let got = request(origin.addr, "GET", "/r", &[("if-none-match", inm)]).await;
        assert_eq!((got.status, got.body.len()), (304, 0), "{inm}");
    }
    let got = request(origin.addr, "GET", "/r", &[("if-none-match", "\"x\"")]).await;
    assert_eq!(got.status, 200);
    let head = request(origin.addr, "HEAD", "/r", &[]).await;
    assert_eq!((head.header("content-length"), head.body.len()), ("10", 0));
    assert_eq!(get(origin.addr, "/nothing").await.status, 404);

    let seen = origin.seen("/r");
    assert_eq!(seen.len(), origin.hits("/r"));
    assert_eq!(
        seen.len(),
        13,
        "GET, 2 with a query, 3 ranges, 2 more, 4 conditionals, HEAD"
    );
    assert_eq!(seen[3].headers["range"], "bytes=2-5");
    assert_eq!(seen.last().unwrap().method, http::Method::HEAD);
}

#[tokio::test]
async fn paced_stalled_and_dropped_bodies() {
    let origin = Origin::start().await;
    let body = pattern(100_000, 2);
    origin.set("/stall", Resource::new(body.clone(), &[]).stall_at(40_000));
    origin.set("/drop", Resource::new(body.clone(), &[]).drop_at(50_000));
    origin.set("/paced", Resource::new(body.clone(), &[]));
    origin.pace(10_000, Duration::from_millis(50));

    let addr = origin.addr;
    let stalled = tokio::spawn(async move { get(addr, "/stall").await });
    let paced = tokio::spawn(async move { get(addr, "/paced").await });
    eventually("both bodies stream", || origin.active() == 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!stalled.is_finished(), "the stalled body waits for release");
    assert_full(&paced.await.unwrap(), "/paced", &body);
    origin.release();
    assert_full(&stalled.await.unwrap(), "/stall", &body);
    eventually("no body streams", || origin.active() == 0).await;

    let cut = try_request(addr, "GET", "/drop", &[]).await;
    assert!(cut.is_err(), "a dropped body is an error: {cut:?}");
}

#[tokio::test]
async fn stop_refuses_connections_and_restart_serves_again() {
    let origin = Origin::start().await;
    origin.set(
        "/a",
        Resource::new("a", &[]).head_delay(Duration::from_millis(10)),
    );
    assert_eq!(get(origin.addr, "/a").await.status, 200);
    origin.stop();
    assert!(try_request(origin.addr, "GET", "/a", &[]).await.is_err());
    origin.restart().await;
    assert_eq!(&get(origin.addr, "/a").await.body[..], b"a");
    assert_eq!(origin.hits("/a"), 2);
}

#[test]
fn patterns_are_deterministic_and_differ_by_seed() {
    assert_eq!(pattern(1000, 7), pattern(1000, 7));
    assert_ne!(pattern(1000, 7), pattern(1000, 8));
    assert_eq!(pattern(1000, 7)[..10], pattern(10, 7)[..]);
    assert_eq!(slice_count(0, 4), 1);
    assert_eq!(slice_count(9, 4), 3);
    assert_eq!(key_path("127.0.0.1:80/a?b"), "/a?b");
}
