//! The admin API: token, push, delete, content by root, spot checks, index, purge, hardware, heartbeat.

mod support;

use meson_core::content::{self, Root};
use serde_json::{json, Value};
use support::*;

fn parse(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
}

#[tokio::test]
async fn the_admin_api_needs_the_token() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    let url = format!("http://{}/v1/admin/hardware", t.admin_addr);
    for auth in [None, Some("Bearer wrong")] {
        let mut req = http::Request::get(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = client()
            .request(req.body(Default::default()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    let (status, hw) = admin(&t, "GET", "/v1/admin/hardware", None).await;
    assert_eq!(status, 200);
    let hw = parse(&hw);
    assert!(hw["cpus"].as_u64().unwrap() >= 1);
    assert!(hw["disk_free_bytes"].as_u64().unwrap() > 0);
    assert!(hw["memory_total_bytes"].as_u64().unwrap() > 0);
    // /healthz and /metrics are open; no admin path reaches the origin.
    assert_eq!(admin(&t, "GET", "/healthz", None).await.0, 200);
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    assert_eq!(token.trim_end().len(), 64);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("admin.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        get(t.addr, "/v1/admin/hardware").await.status,
        404,
        "client port forwards to the origin"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn push_keeps_only_matching_bytes() {
    let origin = Origin::start().await;
    let body = pattern(100_000, 21);
    origin.set(
        "/push.bin",
        Resource::new(body.clone(), &[("cache-control", "no-cache")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    let root = Root(*blake3::hash(&body).as_bytes());
    let wrong = Root(*blake3::hash(b"something else").as_bytes());

    let (status, resp) = admin(
        &t,
        "POST",
        "/v1/admin/objects",
        Some(json!({ "url": format!("{}/push.bin", origin.url()), "root": wrong.to_string(), "ttl_secs": 600 })),
    )
    .await;
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&resp));
    assert!(String::from_utf8_lossy(&resp).contains("does not match"));
    assert_eq!(t.cache.index().object_count(), 0);

    let (status, resp) = admin(
        &t,
        "POST",
        "/v1/admin/objects",
        Some(json!({ "url": format!("{}/push.bin", origin.url()), "root": root.to_string(), "ttl_secs": 600 })),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    assert_eq!(parse(&resp)["size"], 100_000);
    // The TTL overrides the origin's no-cache: served as a hit.
    let r = get(t.addr, "/push.bin").await;
    assert_eq!((r.x_cache(), r.body.clone()), ("HIT", body.clone()));

    let (status, _) = admin(
        &t,
        "POST",
        "/v1/admin/objects",
        Some(json!({ "url": "http://elsewhere.example/x", "root": root.to_string(), "ttl_secs": 60 })),
    )
    .await;
    assert_eq!(status, 400, "a URL off this origin is refused");
    t.shutdown().await;
}

#[tokio::test]
async fn content_by_root_outboard_and_spot_checks_verify() {
    let origin = Origin::start().await;
    let body = pattern(100_000, 22);
    origin.set(
        "/c",
        Resource::new(body.clone(), &[("cache-control", "max-age=600")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    get(t.addr, "/c").await;
    settle(&t).await;
    let root = Root(*blake3::hash(&body).as_bytes());

    let (status, bytes) = admin(&t, "GET", &format!("/v1/admin/content/{root}"), None).await;
    assert_eq!((status, bytes.clone()), (200, body.clone()));
    let ranged = request(
        t.admin_addr,
        "GET",
        &format!("/v1/admin/content/{root}"),
        &[
            (
                "authorization",
                &format!("Bearer {}", admin_token(dir.path())),
            ),
            ("range", "bytes=10-19"),
        ],
    )
    .await;
    assert_eq!((ranged.status, &ranged.body[..]), (206, &body[10..20]));

    let (status, outboard) = admin(
        &t,
        "GET",
        &format!("/v1/admin/content/{root}/outboard"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    content::verify_outboard(&root, body.len() as u64, &outboard).unwrap();

    for group in 0..content::chunk_group_count(body.len() as u64) {
        let (status, proof) = admin(
            &t,
            "GET",
            &format!("/v1/admin/spot-check/{root}/{group}"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        let data = content::verify_chunk_group(&root, body.len() as u64, group, &proof)
            .expect("proof verifies");
        let r = content::chunk_group_range(body.len() as u64, group).unwrap();
        assert_eq!(&data[..], &body[r.start as usize..r.end as usize]);
    }
    let (status, _) = admin(&t, "GET", &format!("/v1/admin/spot-check/{root}/99"), None).await;
    assert_eq!(status, 404);
    let (status, _) = admin(&t, "GET", "/v1/admin/content/not-a-root", None).await;
    assert_eq!(status, 400);

    // Delete by root, then by URL.
    let (status, resp) = admin(
        &t,
        "DELETE",
        &format!("/v1/admin/objects?root={root}"),
        None,
    )
    .await;
    assert_eq!((status, parse(&resp)["removed"].as_u64()), (200, Some(1)));
    assert_eq!(get(t.addr, "/c").await.x_cache(), "MISS");
    let (status, resp) = admin(
        &t,
        "DELETE",
        &format!("/v1/admin/objects?url={}/c", origin.url()),
        None,
    )
    .await;
    assert_eq!((status, parse(&resp)["removed"].as_u64()), (200, Some(1)));
    assert_eq!(get(t.addr, "/c").await.x_cache(), "MISS");
    t.shutdown().await;
}

#[tokio::test]
async fn index_pages_purges_and_heartbeat() {
    let origin = Origin::start().await;
    for i in 0..7 {
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        origin.set(
            &format!("/img/{i}"),
            Resource::new(
                pattern(1000 + i, i as u64),
                &[
                    ("cache-control", "max-age=600"),
                    ("cache-tag", &format!("all, {tag}")),
                ],
            ),
        );
    }
    origin.set(
        "/css/a",
        Resource::new(
            "a",
            &[
                ("cache-control", "max-age=600"),
                ("surrogate-key", "styles all"),
            ],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    for i in 0..7 {
        get(t.addr, &format!("/img/{i}")).await;
    }
    get(t.addr, "/css/a").await;
    settle(&t).await;

    let mut seen = 0;
    let mut after = String::new();
    loop {
        let path = if after.is_empty() {
            "/v1/admin/objects?limit=3".to_string()
        } else {
            format!("/v1/admin/objects?limit=3&after={after}")
        };
        let (_, page) = admin(&t, "GET", &path, None).await;
        let page = parse(&page);
        let objects = page["objects"].as_array().unwrap();
        assert!(objects.len() <= 3);
        for o in objects {
            assert!(o["slices"][0]["root"].as_str().unwrap().len() == 64);
        }
        seen += objects.len();
        match page["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, 8);

    let (_, hb) = admin(&t, "GET", "/v1/admin/heartbeat", None).await;
    let hb = parse(&hb);
    assert_eq!(hb["held"]["objects"], 8);
    assert!(hb["used_bytes"].as_u64().unwrap() > 7000);
    assert_eq!(hb["roots_digest"], Value::Null);
    assert_eq!(hb["held"]["roots_digest"].as_str().unwrap().len(), 64);

    let purge = |body: Value| admin(&t, "POST", "/v1/admin/purge", Some(body));
    let (_, r) = purge(json!({ "url": format!("{}/img/0", origin.url()) })).await;
    assert_eq!(parse(&r)["purged"], 1);
    let (_, r) = purge(json!({ "tag": "odd" })).await;
    assert_eq!(parse(&r)["purged"], 3);
    let (_, r) = purge(json!({ "tag": "styles" })).await;
    assert_eq!(parse(&r)["purged"], 1);
    let (_, r) = purge(json!({ "prefix": "/img/" })).await;
    assert_eq!(parse(&r)["purged"], 3);
    assert_eq!(t.cache.index().object_count(), 0);
    let (status, _) = purge(json!({ "url": "/a", "tag": "x" })).await;
    assert_eq!(status, 400);
    assert_eq!(get(t.addr, "/img/2").await.x_cache(), "MISS");
    t.shutdown().await;
}

#[tokio::test]
async fn metrics_count_requests_hits_and_bytes() {
    let origin = Origin::start().await;
    origin.set(
        "/m",
        Resource::new(pattern(5000, 1), &[("cache-control", "max-age=600")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    get(t.addr, "/m").await;
    get(t.addr, "/m").await;
    let (status, m) = admin(&t, "GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let m = String::from_utf8_lossy(&m);
    for name in [
        "meson_terminal_requests_total{cache=\"HIT\"}",
        "meson_terminal_requests_total{cache=\"MISS\"}",
        "meson_terminal_bytes_out_total",
        "meson_terminal_origin_requests_total",
        "meson_terminal_origin_bytes_total",
        "meson_terminal_request_duration_seconds_bucket",
        "meson_terminal_disk_used_bytes",
    ] {
        assert!(m.contains(name), "missing {name} in\n{m}");
    }
    t.shutdown().await;
}
