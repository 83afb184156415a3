mod common;

use std::net::SocketAddr;

use common::*;
use meson_core::identity::NodeKey;
use meson_core::ticket::{object_digest, ClientPrefix, Ticket};
use meson_core::wire::UsageRecord;
use meson_store::{SqliteStore, Store};

/// A ticket the router issued to whichever terminal it picked, by asking for `path` on the site.
async fn ticket_for(router: SocketAddr, path: &str) -> (String, String) {
    let resp = call(router, "GET", path, &[("host", "cdn.example.com")], None).await;
    assert_eq!(resp.status, 302, "{:?}", resp.json);
    let location = resp.header("location").to_owned();
    let ticket = location.split("meson_ticket=").nth(1).unwrap().to_owned();
    (location, ticket)
}

fn record(ticket: &str, bytes: u64) -> UsageRecord {
    UsageRecord {
        ticket: ticket.to_owned(),
        bytes,
        requests: 3,
        hits: 2,
        served_at: now(),
    }
}

#[tokio::test]
async fn usage_counts_a_serial_once_only_for_its_terminal_and_capped_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |_| {}).await;
    let a = router.addr;
    let key = account(a).await;
    let site = add_site(a, &key, "cdn.example.com", "keep").await;
    let site_id = site.json["id"].as_i64().unwrap();
    let t = FakeTerminal::start().await;
    assert_eq!(t.register(a, None).await.status, 200);
    let other = FakeTerminal::start().await;

    let (location, ticket) = ticket_for(a, "/a.bin").await;
    assert!(location.starts_with(&t.url));
    let first = t.usage(a, vec![record(&ticket, 1000)]).await;
    assert_eq!(first.status, 200, "{:?}", first.json);
    assert_eq!(
        (
            first.json["accepted"].as_u64(),
            first.json["duplicate"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let again = t.usage(a, vec![record(&ticket, 1000)]).await;
    assert_eq!(
        (
            again.json["accepted"].as_u64(),
            again.json["duplicate"].as_u64()
        ),
        (Some(0), Some(1))
    );

    // The site's owner sees the accepted request in its hourly stats; another account does not see the site.
    let auth = format!("Bearer {key}");
    let stats = call(
        a,
        "GET",
        "/v1/sites/cdn.example.com/stats?hours=2",
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(stats.status, 200, "{:?}", stats.json);
    assert_eq!(
        (
            stats.json["tickets"].as_u64(),
            stats.json["requests"].as_u64(),
            stats.json["hits"].as_u64(),
            stats.json["bytes"].as_u64()
        ),
        (Some(1), Some(3), Some(2), Some(1000))
    );
    assert!((stats.json["hit_ratio"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        stats.json["hours"][0]["hour_start"].as_u64(),
        Some(now() / 3600 * 3600)
    );
    let stranger = format!("Bearer {}", account(a).await);
    let hidden = call(
        a,
        "GET",
        "/v1/sites/cdn.example.com/stats",
        &[("authorization", &stranger)],
        None,
    )
    .await;
    assert_eq!(hidden.status, 404);

    // Another terminal presenting t's ticket: it has to be admitted to report at all, then is refused.
    let unadmitted = other.usage(a, vec![record(&ticket, 1)]).await;
    assert_eq!(unadmitted.status, 403);
    assert_eq!(other.register(a, None).await.status, 200);
    let forged = Ticket {
        terminal: other.key.id().short_id(),
        site: site_id as u64,
        object: object_digest(b"cdn.example.com/a.bin"),
        client_prefix: ClientPrefix::around("127.0.0.1".parse().unwrap()),
        expires: now() + 30,
        serial: 999_999_999,
    }
    .issue(&NodeKey::from_secret_bytes([9; 32]), now())
    .unwrap();
    let receipt = other
        .usage(
            a,
            vec![
                record(&ticket, 10),
                record(&forged, 10),
                record("garbage", 1),
            ],
        )
        .await;
    assert_eq!(receipt.status, 200, "{:?}", receipt.json);
    assert_eq!(receipt.json["accepted"], 0);
    let rejected = receipt.json["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 3, "{rejected:?}");

    let view = call(
        a,
        "GET",
        &format!("/v1/terminals/{}/rejections", other.node_id()),
        &[],
        None,
    )
    .await;
    assert_eq!(view.status, 200);
    let by_reason = view.json["rejections"].as_object().unwrap();
    assert_eq!(by_reason["ticket issued to another terminal"], 1);
    assert_eq!(by_reason["forged ticket (not signed by this router)"], 1);
    assert_eq!(by_reason["malformed ticket"], 1);

    // Bytes are capped by the object's size once the router knows it.
    let (location, capped) = ticket_for(a, "/a.bin").await;
    let store = SqliteStore::open(&dir.path().join("router.db"))
        .await
        .unwrap();
    store
        .record_object_size(site_id, object_digest(b"cdn.example.com/a.bin"), 500)
        .await
        .unwrap();
    let owner = if location.starts_with(&t.url) {
        &t
    } else {
        &other
    };
    let before = if std::ptr::eq(owner, &t) { 1000 } else { 0 };
    let r = owner.usage(a, vec![record(&capped, 10_000)]).await;
    assert_eq!(r.json["accepted"], 1, "{:?}", r.json);
    let totals = store
        .usage_by_terminal(*owner.key.id().as_bytes(), 0, u64::MAX)
        .await
        .unwrap();
    assert_eq!(
        totals.bytes,
        before + 500,
        "10,000 bytes capped at the object's 500"
    );
    store.close().await;
    router.shutdown().await;
}
