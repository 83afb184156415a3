mod common;

use std::net::SocketAddr;

use common::*;
use meson_api::sites::SiteStats;
use meson_api::terminals::Rejections;
use meson_api::{SiteInfo, UsageReceipt};
use meson_core::identity::NodeKey;
use meson_core::ticket::{object_digest, ClientPrefix, Ticket};
use meson_core::wire::UsageRecord;
use meson_testkit::{redirect_ticket, usage_record};

/// A ticket the router issued to whichever terminal it picked, by asking for `path` on the site.
async fn ticket_for(router: SocketAddr, path: &str) -> (String, String) {
    redirect_ticket(router, "cdn.example.com", path).await
}

fn record(ticket: &str, bytes: u64) -> UsageRecord {
    usage_record(ticket, bytes, 3, 2)
}

async fn site_stats(router: SocketAddr, key: &str) -> SiteStats {
    let stats = call(
        router,
        "GET",
        "/v1/sites/cdn.example.com/stats?hours=2",
        &[("authorization", &format!("Bearer {key}"))],
        None,
    )
    .await;
    assert_eq!(stats.status, 200, "{:?}", stats.json());
    stats.parse()
}

/// Accepted and duplicate records of a usage receipt.
fn counted(receipt: &Got) -> (u64, u64) {
    let r: UsageReceipt = receipt.parse();
    (r.accepted, r.duplicate)
}

// The cap of reported bytes at the object's size is not exercised here: the router does not learn object
// sizes yet (nothing in the product records one), so no test can give it one through the product.
#[tokio::test]
async fn usage_counts_a_serial_once_only_for_its_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |_| {}).await;
    let a = router.addr;
    let key = account(a).await;
    let site = add_site(a, &key, "cdn.example.com", "keep").await;
    let site_id = site.parse::<SiteInfo>().id;
    let t = SigningTerminal::start().await;
    assert_eq!(t.register(a, None).await.status, 200);
    let other = SigningTerminal::start().await;

    let (location, ticket) = ticket_for(a, "/a.bin").await;
    assert!(t.is_target_of(&location), "{location}");
    let first = t.usage(a, vec![record(&ticket, 1000)]).await;
    assert_eq!(first.status, 200, "{:?}", first.json());
    assert_eq!(counted(&first), (1, 0));
    let again = t.usage(a, vec![record(&ticket, 1000)]).await;
    assert_eq!(counted(&again), (0, 1));

    // The site's owner sees the accepted request in its hourly stats; another account does not see the site.
    let stats = site_stats(a, &key).await;
    let total = &stats.total;
    assert_eq!(
        (total.tickets, total.requests, total.hits, total.bytes),
        (1, 3, 2, 1000)
    );
    assert!((total.hit_ratio - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(stats.hours[0].hour_start, now() / 3600 * 3600);
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
        site: site_id,
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
    assert_eq!(receipt.status, 200, "{:?}", receipt.json());
    let receipt: UsageReceipt = receipt.parse();
    assert_eq!(receipt.accepted, 0);
    let rejected = &receipt.rejected;
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
    let by_reason = view.parse::<Rejections>().rejections;
    assert_eq!(by_reason["ticket issued to another terminal"], 1);
    assert_eq!(by_reason["forged ticket (not signed by this router)"], 1);
    assert_eq!(by_reason["malformed ticket"], 1);

    // A second ticket, reported by the terminal it was issued to, counts beside the first; no size is known
    // for the object, so its bytes are taken as reported.
    let (location, second) = ticket_for(a, "/a.bin").await;
    let owner = if t.is_target_of(&location) {
        &t
    } else {
        &other
    };
    assert!(owner.is_target_of(&location), "{location}");
    let r = owner.usage(a, vec![record(&second, 10_000)]).await;
    assert_eq!(r.parse::<UsageReceipt>().accepted, 1, "{:?}", r.json());
    let stats = site_stats(a, &key).await;
    assert_eq!(
        (stats.total.tickets, stats.total.bytes),
        (2, 11_000),
        "{stats:?}"
    );
    router.shutdown().await;
}
