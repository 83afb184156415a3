mod common;

use std::net::SocketAddr;

use common::*;
use meson_api::sites::SiteStats;
use meson_api::terminals::Rejections;
use meson_api::verification::{Evidence, RootsRecorded, UsageEvidence};
use meson_api::UsageReceipt;
use meson_core::identity::NodeKey;
use meson_core::signed::SignedMessage;
use meson_core::ticket::{object_digest, ClientPrefix, Ticket};
use meson_core::wire::UsageBatch;
use meson_core::wire::UsageRecord;
use meson_testkit::{pattern, redirect_ticket, usage_record, Origin, Resource};

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

/// A router, an account, and the site `cdn.example.com` in front of a real origin.
async fn site_with_origin(
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut meson_router::RouterConfig),
) -> (meson_router::Router, Origin, String, u64) {
    router_with_site(dir, "cdn.example.com", "keep", tweak).await
}

#[tokio::test]
async fn usage_counts_a_serial_once_only_for_its_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (router, origin, key, site_id) = site_with_origin(dir.path(), |_| {}).await;
    origin.set("/a.bin", Resource::cacheable(pattern(20_000, 1)));
    let a = router.addr;
    let t = SigningTerminal::start().await;
    assert_eq!(t.register(a, None).await.status, 200);
    let other = SigningTerminal::start().await;

    let (location, ticket) = ticket_for(a, "/a.bin").await;
    assert!(t.is_target_of(&location), "{location}");
    // The redirect made the object popular; the router fetches it from the origin to learn its size.
    assert_eq!(
        learned(a, &key, "cdn.example.com", "/a.bin").await.size,
        20_000
    );
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

    // A second ticket, reported by the terminal it was issued to, counts beside the first: its bytes are
    // within the object's size.
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

const INFLATED: &str = "bytes over the object's size (kept as evidence)";

async fn evidence(router: SocketAddr, t: &SigningTerminal) -> Evidence {
    let got = call(
        router,
        "GET",
        &format!("/v1/terminals/{}/evidence", t.node_id()),
        &[],
        None,
    )
    .await;
    assert_eq!(got.status, 200, "{:?}", got.json());
    got.parse()
}

/// The signed batch kept as evidence verifies as the terminal's own signature, offline, and holds the
/// claim.
fn check_signed_claim(e: &UsageEvidence, t: &SigningTerminal, ticket: &str, claimed: u64) {
    let batch: SignedMessage<UsageBatch> = serde_json::from_str(&e.signed_batch).unwrap();
    let v = batch.verify_signature(meson_core::wire::USAGE).unwrap();
    assert_eq!(v.signer, t.key.id());
    assert!(v
        .body
        .records
        .iter()
        .any(|r| r.ticket == ticket && r.bytes == claimed));
}

#[tokio::test]
async fn an_inflated_claim_is_refused_through_the_api_and_kept_as_signed_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let (router, origin, key, _) = site_with_origin(dir.path(), |_| {}).await;
    origin.set("/small.txt", Resource::cacheable(pattern(1024, 2)));
    let a = router.addr;
    let t = SigningTerminal::start().await;
    assert_eq!(t.register(a, None).await.status, 200);
    let (location, ticket) = ticket_for(a, "/small.txt").await;
    assert!(t.is_target_of(&location), "{location}");
    assert_eq!(
        learned(a, &key, "cdn.example.com", "/small.txt").await.size,
        1024
    );

    // One real ticket of a 1 KiB object, claimed as a petabyte.
    let claim = 1_000_000_000_000_000;
    let receipt = t.usage(a, vec![record(&ticket, claim)]).await;
    assert_eq!(receipt.status, 200, "{:?}", receipt.json());
    let receipt: UsageReceipt = receipt.parse();
    assert_eq!((receipt.accepted, receipt.held), (0, 0));
    assert_eq!(receipt.rejected, vec![(INFLATED.to_owned(), 1)]);
    let stats = site_stats(a, &key).await;
    assert_eq!((stats.total.tickets, stats.total.bytes), (0, 0));
    // The serial is spent: the same ticket reported afterwards with other bytes is never paid, and is a
    // second claim of one serial (evidence in its own right), not a resend.
    let again = t.usage(a, vec![record(&ticket, 1024)]).await;
    assert_eq!(counted(&again), (0, 0));
    assert_eq!(
        again.parse::<UsageReceipt>().rejected,
        vec![(
            "serial claimed before with other numbers (kept as evidence)".to_owned(),
            1
        )]
    );

    let e = evidence(a, &t).await;
    let usage = &e.usage;
    assert_eq!(usage.len(), 1, "{e:?}");
    assert_eq!((usage[0].claimed, usage[0].size), (claim, 1024));
    check_signed_claim(&usage[0], &t, &ticket, claim);
    router.shutdown().await;
}

#[tokio::test]
async fn usage_of_an_unknown_object_is_held_until_its_size_is_learned() {
    let dir = tempfile::tempdir().unwrap();
    // No origin fetches: only the owner can teach the router the object's size.
    let (router, _origin, key, _) =
        site_with_origin(dir.path(), |c| c.origin_bytes_per_sec = 0).await;
    let a = router.addr;
    let t = SigningTerminal::start().await;
    assert_eq!(t.register(a, None).await.status, 200);
    let (_, first) = ticket_for(a, "/v.bin").await;
    let (_, second) = ticket_for(a, "/v.bin").await;
    let receipt: UsageReceipt = t
        .usage(a, vec![record(&first, 500), record(&second, 5000)])
        .await
        .parse();
    assert_eq!((receipt.accepted, receipt.held), (0, 2), "{receipt:?}");
    let resent: UsageReceipt = t.usage(a, vec![record(&first, 500)]).await.parse();
    assert_eq!(resent.duplicate, 1, "held records keep their serial");
    let stats = site_stats(a, &key).await;
    assert_eq!(stats.total.tickets, 0, "held usage is not counted");

    let body = pattern(1000, 3);
    let roots = meson_core::content::object_roots(&body);
    let pushed = call(
        a,
        "POST",
        "/v1/sites/cdn.example.com/roots",
        &[("authorization", &format!("Bearer {key}"))],
        Some(serde_json::json!({"path": "/v.bin", "size": 1000, "root": roots.root.to_string()})),
    )
    .await;
    assert_eq!(pushed.status, 201, "{:?}", pushed.json());
    let pushed: RootsRecorded = pushed.parse();
    assert_eq!((pushed.released, pushed.inflated), (1, 1));
    let stats = site_stats(a, &key).await;
    assert_eq!((stats.total.tickets, stats.total.bytes), (1, 500));
    let e = evidence(a, &t).await;
    assert_eq!(e.usage.len(), 1);
    check_signed_claim(&e.usage[0], &t, &second, 5000);
    router.shutdown().await;
}
