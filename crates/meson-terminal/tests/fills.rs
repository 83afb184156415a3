//! One origin request per miss, read while write, and fills that fail without leaving anything behind.

mod support;

use std::time::Duration;

use futures_util::future::join_all;
use http_body_util::BodyExt;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_clients_cause_one_origin_request() {
    let origin = Origin::start().await;
    let body = pattern(2 << 20, 11);
    origin.set(
        "/cold",
        Resource::new(body.clone(), &[("cache-control", "max-age=600")])
            .pace(32 * 1024, Duration::from_millis(5))
            .head_delay(Duration::from_millis(100)),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;

    let bodies = join_all((0..100).map(|_| async { get(t.addr, "/cold").await })).await;
    assert_eq!(origin.hits("/cold"), 1, "exactly one origin request");
    let want = blake3::hash(&body);
    for b in &bodies {
        assert_eq!(b.status, 200);
        assert_eq!(blake3::hash(&b.body), want);
    }
    assert!(bodies.iter().filter(|b| b.x_cache() == "MISS").count() >= 1);
    t.shutdown().await;
}

#[tokio::test]
async fn waiters_read_while_the_fill_writes() {
    let origin = Origin::start().await;
    let body = pattern(1 << 20, 12);
    origin.set(
        "/stream",
        Resource::new(body.clone(), &[("cache-control", "max-age=600")]).stall_at(300 * 1024),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;

    // Two clients, one of them joining the fill: both get the first 300 KiB while the origin is stalled.
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let req = http::Request::get(format!("http://{}/stream", t.addr))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let resp = client().request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        bodies.push(resp.into_body());
    }
    for b in &mut bodies {
        let mut got = 0;
        while got < 300 * 1024 {
            let frame = tokio::time::timeout(Duration::from_secs(10), b.frame())
                .await
                .expect("bytes arrive before the fill completes")
                .unwrap()
                .unwrap();
            got += frame.into_data().map(|d| d.len()).unwrap_or(0);
        }
        assert_eq!(got, 300 * 1024);
    }
    assert_eq!(origin.hits("/stream"), 1);
    origin.release();
    for b in bodies {
        let rest = tokio::time::timeout(Duration::from_secs(10), b.collect())
            .await
            .unwrap()
            .unwrap()
            .to_bytes();
        assert_eq!(&rest[..], &body[300 * 1024..]);
    }
    assert_eq!(get(t.addr, "/stream").await.x_cache(), "HIT");
    t.shutdown().await;
}

#[tokio::test]
async fn a_failed_fill_ends_bodies_with_an_error_and_stores_nothing() {
    let origin = Origin::start().await;
    let body = pattern(512 * 1024, 13);
    origin.set(
        "/flaky",
        Resource::new(body.clone(), &[("cache-control", "max-age=600")]).drop_at(200 * 1024),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;

    let results = join_all((0..5).map(|_| try_request(t.addr, "GET", "/flaky", &[]))).await;
    for r in &results {
        assert!(
            r.is_err(),
            "a truncated fill must not look complete: {:?}",
            r.as_ref().map(|g| g.body.len())
        );
    }
    assert_eq!(origin.hits("/flaky"), 1);
    settle(&t).await;
    let (status, listing) = admin(&t, "GET", "/v1/admin/objects", None).await;
    assert_eq!(status, 200);
    let listing: serde_json::Value = serde_json::from_slice(&listing).unwrap();
    assert_eq!(
        listing["objects"].as_array().unwrap().len(),
        0,
        "nothing stored: {listing}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "no temporary file left"
    );

    // The origin recovers: the next request fills the whole object.
    origin.set(
        "/flaky",
        Resource::new(body.clone(), &[("cache-control", "max-age=600")]),
    );
    let ok = get(t.addr, "/flaky").await;
    assert_eq!(
        (ok.x_cache(), blake3::hash(&ok.body)),
        ("MISS", blake3::hash(&body))
    );
    assert_eq!(get(t.addr, "/flaky").await.x_cache(), "HIT");
    t.shutdown().await;
}

#[tokio::test]
async fn a_client_that_goes_away_does_not_cancel_the_fill() {
    let origin = Origin::start().await;
    let body = pattern(1 << 20, 14);
    origin.set(
        "/left",
        Resource::new(body.clone(), &[("cache-control", "max-age=600")])
            .pace(16 * 1024, Duration::from_millis(2)),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    let req = http::Request::get(format!("http://{}/left", t.addr))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let resp = client().request(req).await.unwrap();
    drop(resp);
    eventually_within(BACKGROUND, "fill completes without its client", || {
        t.cache.index().object_count() == 1 && t.cache.index().used_bytes() == body.len() as u64
    })
    .await;
    let r = get(t.addr, "/left").await;
    assert_eq!(
        (r.x_cache(), blake3::hash(&r.body)),
        ("HIT", blake3::hash(&body))
    );
    assert_eq!(origin.hits("/left"), 1);
    t.shutdown().await;
}
