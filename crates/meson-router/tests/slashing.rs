//! Automatic slashing on objective evidence, through the real HTTP API: a terminal (its real node key)
//! that inflates usage or claims a serial twice is refused, the evidence is stored and served byte for
//! byte, and its stake is slashed once per piece of evidence.

mod common;

use std::net::SocketAddr;

use common::*;
use std::time::Duration;

use meson_api::ledger::{AccountView, LedgerHead, SiteBilling, TerminalEarnings};
use meson_api::UsageReceipt;
use meson_core::content::{object_roots, Root};
use meson_core::evidence::{self, Evidence, Kind};
use meson_core::ticket::{object_digest, Ticket};
use meson_core::wire::{HeldPiece, UsageRecord, HEARTBEAT};
use meson_ledger::economics::line;
use meson_ledger::settlement::BillingConfig;
use meson_ledger::ONE_TOKEN;
use meson_testkit::{
    get_url_from, pattern, publish_roots, redirect_ticket, second_over, ticket_in, usage_record,
    Resource, SigningTerminal,
};
use serde_json::json;

const HOST: &str = "cdn.example.com";

/// A record of `bytes` under `ticket`, naming the origin's version it served.
fn served(ticket: &str, bytes: u64, version: &str) -> UsageRecord {
    UsageRecord {
        version: Some(version.to_owned()),
        ..usage_record(ticket, bytes, 1, 0)
    }
}

/// The evidence `id` as the router serves it: the bytes whose BLAKE3 is the id.
async fn served_evidence(router: SocketAddr, id: &str) -> Evidence {
    let bytes = meson_testkit::get(router, &format!("/v1/evidence/{id}")).await;
    assert_eq!(bytes.status, 200);
    assert_eq!(hex::encode(blake3::hash(&bytes.body).as_bytes()), id);
    serde_json::from_slice(&bytes.body).unwrap()
}

#[tokio::test]
async fn inflated_usage_and_a_serial_claimed_twice_slash_the_stake_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let (router, origin, key, _) = router_with_site(dir.path(), HOST, "keep", |_| {}).await;
    origin.set("/small.txt", Resource::cacheable(pattern(1024, 2)));
    let a = router.addr;
    let t = SigningTerminal::start().await;
    assert_eq!(t.register(a, None).await.status, 200);
    // The terminal stakes 25 tokens with its node key.
    stake(a, dir.path(), &t.key, 25).await;

    // Every ticket the terminal will claim, taken now: after its first piece of evidence it gets no
    // clients again.
    let mut tickets = Vec::new();
    for _ in 0..5 {
        let (location, ticket) = redirect_ticket(a, HOST, "/small.txt").await;
        assert!(t.is_target_of(&location), "{location}");
        tickets.push(ticket);
    }
    let [ticket, second, third, fourth, fifth] = &tickets[..] else {
        unreachable!()
    };
    let known = learned(a, &key, HOST, "/small.txt").await;
    let (version, size) = (known.version, known.size);
    assert_eq!(size, 1024);
    assert!(evidence::is_strong(&version), "{version}");

    // One real ticket of a 1 KiB object, claimed as a petabyte for the version served: refused, kept,
    // and slashed by the default 10 tokens.
    // One record, sent twice below: a resent batch repeats it exactly (served_at included).
    let inflated = served(ticket, 1_000_000_000_000_000, &version);
    let batch = t.signed(
        meson_core::wire::USAGE,
        &meson_core::wire::UsageBatch {
            records: vec![inflated.clone()],
        },
    );
    let post = |body: serde_json::Value| async move {
        call(a, "POST", meson_core::wire::USAGE_PATH, &[], Some(body)).await
    };
    let receipt = post(batch.clone()).await;
    assert_eq!(receipt.status, 200, "{:?}", receipt.json());
    let receipt: UsageReceipt = receipt.parse();
    assert_eq!((receipt.accepted, receipt.held), (0, 0));
    assert_eq!(stake_of(a, &t.key).await, 15 * ONE_TOKEN);
    let found = slashes_of(a, &t.node_id()).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, "usage_over_size");
    assert_eq!(
        (
            found[0].outcome.as_deref(),
            &*found[0].slashed,
            &*found[0].refunded
        ),
        (Some("slashed"), "10", "0")
    );
    // Disqualified: out of rotation for good, and told why.
    let reply = t.heartbeat(a, 0, false).await.json();
    assert_eq!(reply["in_rotation"], false, "{reply}");
    assert!(
        reply["suspended"]
            .as_str()
            .is_some_and(|s| s.starts_with("disqualified: objective evidence of usage_over_size")),
        "{reply}"
    );
    let refused = call(a, "GET", "/small.txt", &[("host", HOST)], None).await;
    assert_eq!(refused.status, 503, "{:?}", refused.json());
    // The evidence is served as the bytes its id hashes, and re-verifies offline against the router's key.
    let e = served_evidence(a, &found[0].id.to_string()).await;
    let router_id = meson_testkit::evidence::router_key(dir.path()).id();
    let finding = evidence::verify(&e, &router_id).unwrap();
    assert_eq!(
        (finding.terminal, finding.kind),
        (t.key.id(), Kind::UsageOverSize)
    );

    // The same batch again (a new envelope, the same record) slashes nothing more.
    let resent = t.signed(
        meson_core::wire::USAGE,
        &meson_core::wire::UsageBatch {
            records: vec![inflated.clone()],
        },
    );
    let again: UsageReceipt = post(resent).await.parse();
    assert_eq!((again.accepted, again.duplicate), (0, 1));
    assert_eq!(stake_of(a, &t.key).await, 15 * ONE_TOKEN);
    assert_eq!(slashes_of(a, &t.node_id()).await.len(), 1);

    // A second ticket claimed honestly, then again with other bytes: the two signed batches slash.
    let first: UsageReceipt = t
        .usage(a, vec![served(second, 1000, &version)])
        .await
        .parse();
    assert_eq!(first.accepted, 1);
    let twice: UsageReceipt = t
        .usage(a, vec![served(second, 500, &version)])
        .await
        .parse();
    assert_eq!((twice.accepted, twice.duplicate), (0, 0));
    assert_eq!(stake_of(a, &t.key).await, 5 * ONE_TOKEN);
    let found = slashes_of(a, &t.node_id()).await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].kind, "serial_twice");

    // Evidence with less at stake than the amount takes what is left; with nothing left, it is still
    // kept.
    t.usage(a, vec![served(third, 5000, &version)]).await;
    assert_eq!(stake_of(a, &t.key).await, 0);
    t.usage(a, vec![served(fourth, 5000, &version)]).await;
    let found = slashes_of(a, &t.node_id()).await;
    assert_eq!(found.len(), 4, "{found:?}");
    assert_eq!(
        (found[0].outcome.as_deref(), &*found[0].slashed),
        (Some("nothing_at_stake"), "0")
    );
    assert_eq!(
        (found[1].outcome.as_deref(), &*found[1].slashed),
        (Some("slashed"), "5")
    );
    // Of the 25 tokens slashed, 30 % were burned; the rest went to the treasury (claimant and share).
    let meson_api::ledger::LedgerHead(head) = get_json(a, "/v1/ledger/head").await;
    assert_eq!(head.head.burned, 25 * ONE_TOKEN * 3 / 10);

    // A record that names no version is judged against the largest known size and refused, but proves
    // nothing (the object may have changed between versions): no evidence.
    let r: UsageReceipt = t
        .usage(a, vec![usage_record(fifth, 5000, 1, 0)])
        .await
        .parse();
    assert_eq!(r.accepted, 0);
    assert_eq!(slashes_of(a, &t.node_id()).await.len(), 4);
    router.shutdown().await;
}

/// The object digest of `path` on the site, as tickets and held pieces name it.
fn object_of(path: &str) -> String {
    hex::encode(object_digest(format!("{HOST}{path}").as_bytes()))
}

/// A piece of `path` reported held: `root` over `len` bytes of `version`.
fn piece(path: &str, root: Root, len: u64, version: &str) -> HeldPiece {
    HeldPiece {
        object: object_of(path),
        root,
        len,
        version: Some(version.to_owned()),
    }
}

/// As the site's owner, tells the router the roots of version `version` of `path`, whose body is `body`.
async fn push_version(router: SocketAddr, key: &str, path: &str, body: &[u8], version: &str) {
    let roots = object_roots(body);
    let got = call(
        router,
        "POST",
        &format!("/v1/sites/{HOST}/roots"),
        &[("authorization", &format!("Bearer {key}"))],
        Some(json!({
            "path": path, "size": roots.size, "root": roots.root.to_string(),
            "slice_roots": roots.slices.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "version": version,
        })),
    )
    .await;
    assert_eq!(got.status, 201, "{:?}", got.json());
}

/// The held piece each root-mismatch evidence against `t` names, newest first.
async fn mismatched(router: SocketAddr, t: &SigningTerminal) -> Vec<HeldPiece> {
    let mut pieces = Vec::new();
    for s in slashes_of(router, &t.node_id()).await {
        if let Evidence::RootMismatch {
            heartbeat, piece, ..
        } = served_evidence(router, &s.id.to_string()).await
        {
            let h = heartbeat.verify_signature(HEARTBEAT).unwrap();
            pieces.push(h.body.added[piece].clone());
        }
    }
    pieces
}

#[tokio::test]
async fn a_held_piece_that_is_none_of_its_strong_versions_pieces_slashes_once() {
    let dir = tempfile::tempdir().unwrap();
    let (router, origin, key, _) = router_with_site(dir.path(), HOST, "keep", |_| {}).await;
    let small = pattern(1024, 2);
    origin.set("/small.txt", Resource::cacheable(small.clone()));
    origin.set("/other.txt", Resource::cacheable(pattern(2048, 3)));
    let a = router.addr;
    let t = SigningTerminal::start().await;
    assert_eq!(t.register(a, None).await.status, 200);
    stake(a, dir.path(), &t.key, 25).await;
    let router_id = meson_testkit::evidence::router_key(dir.path()).id();

    // The router learns the strong versions of /small.txt and /other.txt from the origin; the owner
    // pushes a strong, a weak and a dated version of other objects.
    let (_, ticket) = redirect_ticket(a, HOST, "/small.txt").await;
    let issued = Ticket::verify_issuer(&ticket, &router_id, t.key.id().short_id()).unwrap();
    assert_eq!(hex::encode(issued.object), object_of("/small.txt"));
    redirect_ticket(a, HOST, "/other.txt").await;
    let other = learned(a, &key, HOST, "/other.txt").await.version;
    let known = learned(a, &key, HOST, "/small.txt").await;
    let (learned, size) = (known.version, known.size);
    assert_eq!(size, 1024);
    assert!(evidence::is_strong(&learned), "{learned}");
    let pushed = pattern(5000, 5);
    const DATED: &str = "Tue, 15 Nov 1994 08:12:31 GMT";
    for (path, version) in [
        ("/pushed.bin", "\"p1\""),
        ("/weak.bin", "W/\"w1\""),
        ("/dated.bin", DATED),
    ] {
        push_version(a, &key, path, &pushed, version).await;
    }

    // A heartbeat reporting the piece the terminal should hold, and another root for the same version.
    let wrong = object_roots(&pattern(1024, 99)).root;
    let mut hb = SigningTerminal::heartbeat_body(0, false);
    hb.added = vec![
        piece("/small.txt", object_roots(&small).root, 1024, &learned),
        piece("/small.txt", wrong, 1024, &learned),
    ];
    assert_eq!(t.send_heartbeat(a, &hb).await.status, 200);
    eventually("the root mismatch is evidence, slashed", || async {
        let found = slashes_of(a, &t.node_id()).await;
        !found.is_empty() && found.iter().all(|x| x.outcome.is_some())
    })
    .await;
    let found = slashes_of(a, &t.node_id()).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, "root_mismatch");
    assert_eq!(
        (
            found[0].outcome.as_deref(),
            &*found[0].slashed,
            &*found[0].refunded
        ),
        (Some("slashed"), "10", "0")
    );
    assert_eq!(stake_of(a, &t.key).await, 15 * ONE_TOKEN);
    let e = served_evidence(a, &found[0].id.to_string()).await;
    let finding = evidence::verify(&e, &router_id).unwrap();
    assert_eq!(
        (finding.terminal, finding.kind),
        (t.key.id(), Kind::RootMismatch)
    );
    assert_eq!(mismatched(a, &t).await, vec![hb.added[1].clone()]);
    // The operator cannot slash again with it, nor with the same offence signed in another heartbeat;
    // the router's slash stays on record as it went.
    let Evidence::RootMismatch {
        piece: index,
        known,
        ..
    } = e.clone()
    else {
        unreachable!()
    };
    let resigned = Evidence::RootMismatch {
        heartbeat: meson_core::signed::SignedMessage::sign(
            &t.key,
            HEARTBEAT,
            now(),
            rand::random(),
            &hb,
        )
        .unwrap(),
        piece: index,
        known,
    };
    for evidence in [e, resigned] {
        let again = call(
            a,
            "POST",
            "/v1/ledger/slash",
            &[("authorization", &operator(dir.path()))],
            Some(
                json!({"owner": t.node_id(), "amount": "1", "claimant": "3", "evidence": evidence}),
            ),
        )
        .await;
        assert_eq!(again.status, 409, "{:?}", again.json());
    }
    let found = slashes_of(a, &t.node_id()).await;
    assert_eq!(
        (found.len(), found[0].outcome.as_deref(), &*found[0].slashed),
        (1, Some("slashed"), "10")
    );
    assert_eq!(stake_of(a, &t.key).await, 15 * ONE_TOKEN);

    // A later heartbeat reports that piece again, pieces with wrong roots that prove nothing (a weak
    // ETag, a Last-Modified date, a version or an object the router does not know, a version only the
    // owner vouches for), the pushed version's own piece, and last a wrong piece of another version the
    // router fetched itself. Pieces are checked in order: once the last is evidence, the others were
    // judged. (The terminal is disqualified since its first evidence; it is still judged on what it signs.)
    hb.added = vec![
        piece("/small.txt", wrong, 1024, &learned),
        piece("/weak.bin", wrong, 5000, "W/\"w1\""),
        piece("/dated.bin", wrong, 5000, DATED),
        piece("/small.txt", wrong, 1024, "\"unknown\""),
        piece("/nothing.bin", wrong, 5000, "\"p1\""),
        piece("/pushed.bin", object_roots(&pushed).root, 5000, "\"p1\""),
        piece("/pushed.bin", wrong, 5000, "\"p1\""),
        piece("/other.txt", wrong, 2048, &other),
    ];
    assert_eq!(t.send_heartbeat(a, &hb).await.status, 200);
    eventually(
        "the other version's wrong piece is evidence, slashed",
        || async {
            let found = slashes_of(a, &t.node_id()).await;
            found.iter().all(|x| x.outcome.is_some())
                && mismatched(a, &t)
                    .await
                    .iter()
                    .any(|p| p.object == object_of("/other.txt"))
        },
    )
    .await;
    assert_eq!(
        mismatched(a, &t).await,
        vec![
            hb.added[7].clone(),
            piece("/small.txt", wrong, 1024, &learned)
        ]
    );
    assert_eq!(stake_of(a, &t.key).await, 5 * ONE_TOKEN);
    let LedgerHead(head) = get_json(a, "/v1/ledger/head").await;
    assert_eq!(head.head.burned, 20 * ONE_TOKEN * 3 / 10);
    audit(a).await;
    router.shutdown().await;
}

/// Client networks by region: clients in 127.0.0.0/16 go to the `eu` terminal, 127.1.0.0/16 to `na`.
const ZONES: &str = "127.0.0.0/16 eu\n127.1.0.0/16 na\n";

/// Waits for the wall clock to reach the start of an epoch of `secs` seconds, and returns it.
async fn next_epoch(secs: u64) -> u64 {
    let epoch = now() / secs + 1;
    second_over(epoch * secs - 1).await;
    epoch
}

/// A client at each of `from` asks the router for `path`; each is sent to `t`. Their tickets.
async fn tickets_to(
    router: SocketAddr,
    t: &SigningTerminal,
    from: &[&str],
    path: &str,
) -> Vec<String> {
    let mut tickets = Vec::new();
    for f in from {
        let got = get_url_from(ip(f), &format!("http://{router}{path}"), &[("host", HOST)])
            .await
            .unwrap();
        assert_eq!(got.status, 302, "{:?}", got.json());
        let location = got.header("location");
        assert!(t.is_target_of(location), "{location}");
        tickets.push(ticket_in(location));
    }
    tickets
}

/// `t` reports `bytes` for each ticket, in one batch that must be accepted whole.
async fn serve(router: SocketAddr, t: &SigningTerminal, tickets: &[String], bytes: u64) {
    let records = tickets
        .iter()
        .map(|k| usage_record(k, bytes, 1, 0))
        .collect();
    let receipt: UsageReceipt = t.usage(router, records).await.parse();
    assert_eq!(receipt.accepted, tickets.len() as u64, "{receipt:?}");
}

/// Base units in `account`; 0 before it is opened.
async fn balance_of(router: SocketAddr, account: u128) -> u128 {
    let got = call(
        router,
        "GET",
        &format!("/v1/ledger/accounts/{account}"),
        &[],
        None,
    )
    .await;
    if got.status == 404 {
        return 0;
    }
    balance(&got.parse::<AccountView>())
}

async fn earned(router: SocketAddr, t: &SigningTerminal) -> u128 {
    let e: TerminalEarnings = get_json(
        router,
        &format!("/v1/terminals/{}/earnings?epochs=100", t.node_id()),
    )
    .await;
    e.balance.as_ref().map_or(0, balance)
}

#[tokio::test]
async fn a_slash_refunds_what_the_site_paid_for_the_cheaters_bytes_and_leaves_its_unsettled_epochs_unpaid(
) {
    const N: u64 = 1 << 20;
    let billing = BillingConfig {
        epoch_secs: 4,
        price_per_gib: ONE_TOKEN,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let (router, _origin, key, _) = router_with_site(dir.path(), HOST, "keep", |c| {
        c.coverage_zones = Some(ZONES.into());
        c.billing = Some(billing.clone());
        // Terminals heartbeat by hand here: a long interval keeps them in rotation for the whole test.
        c.heartbeat = Duration::from_secs(60);
        c.origin_bytes_per_sec = 0;
    })
    .await;
    let a = router.addr;
    publish_roots(a, &key, HOST, "/big.bin", N as usize).await;
    let honest = SigningTerminal::start().await;
    let cheater = SigningTerminal::start().await;
    assert_eq!(honest.register(a, Some("eu")).await.status, 200);
    assert_eq!(cheater.register(a, Some("na")).await.status, 200);
    stake(a, dir.path(), &honest.key, 25).await;
    stake(a, dir.path(), &cheater.key, 25).await;
    let owner = format!("Bearer {key}");
    let site_billing = || async {
        call(
            a,
            "GET",
            &format!("/v1/sites/{HOST}/billing?epochs=100"),
            &[("authorization", &owner)],
            None,
        )
        .await
        .parse::<SiteBilling>()
    };
    let escrow = site_billing().await.escrow_account;
    let minted = call(
        a,
        "POST",
        "/v1/ledger/mint",
        &[("authorization", &operator(dir.path()))],
        Some(json!({"id": "1", "to": escrow.to_string(), "amount": "1"})),
    )
    .await;
    assert_eq!(minted.status, 200, "{:?}", minted.json());
    eventually("the site is funded", || async {
        site_billing().await.funded
    })
    .await;
    let settled = |epoch: u64| {
        let site_billing = &site_billing;
        async move {
            site_billing()
                .await
                .epochs
                .iter()
                .any(|e| e.epoch == epoch && e.settled)
        }
    };
    let pay = |bytes: u64| line(bytes, ONE_TOKEN, billing.fee_bps, 10_000);

    // In one epoch each terminal serves 2 MiB, and the epoch is settled: the site pays both.
    let first = next_epoch(billing.epoch_secs).await;
    let honest_tickets = tickets_to(a, &honest, &["127.0.1.1", "127.0.2.1"], "/big.bin").await;
    let cheater_tickets = tickets_to(a, &cheater, &["127.1.1.1", "127.1.2.1"], "/big.bin").await;
    // The tickets it will claim in the later epoch too: once evidence is against it, it gets no clients.
    let later_tickets = tickets_to(a, &cheater, &["127.1.3.1", "127.1.4.1"], "/big.bin").await;
    serve(a, &honest, &honest_tickets, N).await;
    serve(a, &cheater, &cheater_tickets, N).await;
    assert_eq!(
        now() / billing.epoch_secs,
        first,
        "the usage fell in one epoch"
    );
    eventually("the first epoch settles", || settled(first)).await;
    assert_eq!(earned(a, &honest).await, pay(2 * N).earned);
    assert_eq!(earned(a, &cheater).await, pay(2 * N).earned);
    let escrow_paid = ONE_TOKEN - 2 * pay(2 * N).paid();
    assert_eq!(balance_of(a, escrow).await, escrow_paid);

    // Later, the cheater claims one of those tickets again with other bytes, signed with its key: the two
    // batches are evidence whose first epoch is the settled one. The site gets back exactly what it paid
    // for the cheater's bytes in it; the rest of the 10 tokens is shared out.
    let LedgerHead(before) = get_json(a, "/v1/ledger/head").await;
    let treasury_before = balance_of(a, meson_ledger::accounts::TREASURY).await;
    let again: UsageReceipt = cheater
        .usage(a, vec![usage_record(&cheater_tickets[0], N / 2, 1, 0)])
        .await
        .parse();
    assert_eq!((again.accepted, again.duplicate), (0, 0));
    let refund = pay(2 * N).paid();
    assert_eq!(balance_of(a, escrow).await, escrow_paid + refund);
    assert_eq!(stake_of(a, &cheater.key).await, 15 * ONE_TOKEN);
    let rest = 10 * ONE_TOKEN - refund;
    let LedgerHead(after) = get_json(a, "/v1/ledger/head").await;
    assert_eq!(after.head.burned - before.head.burned, rest * 3 / 10);
    assert_eq!(
        balance_of(a, meson_ledger::accounts::TREASURY).await - treasury_before,
        rest - rest * 3 / 10,
        "the claimant's share (the treasury, for an automatic slash) and the treasury's"
    );
    let found = slashes_of(a, &cheater.node_id()).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (
            found[0].kind.as_str(),
            found[0].first_epoch,
            found[0].outcome.as_deref(),
            &*found[0].slashed,
            tokens(&found[0].refunded)
        ),
        ("serial_twice", first, Some("slashed"), "10", refund)
    );

    // In a later epoch both serve again and the cheater claims a ticket of it twice before it is
    // settled: its usage of that epoch is not paid at all, the honest terminal's is.
    let second = next_epoch(billing.epoch_secs).await;
    let honest_tickets = tickets_to(a, &honest, &["127.0.3.1"], "/big.bin").await;
    serve(a, &honest, &honest_tickets, N).await;
    serve(a, &cheater, &later_tickets, N).await;
    cheater
        .usage(a, vec![usage_record(&later_tickets[0], N / 2, 1, 0)])
        .await;
    assert_eq!(
        now() / billing.epoch_secs,
        second,
        "all of it fell in one epoch"
    );
    let found = slashes_of(a, &cheater.node_id()).await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        (found[0].first_epoch, found[0].epoch, &*found[0].refunded),
        (second, second, "0")
    );
    assert_eq!(stake_of(a, &cheater.key).await, 5 * ONE_TOKEN);
    eventually("the second epoch settles", || settled(second)).await;
    assert_eq!(earned(a, &honest).await, pay(2 * N).earned + pay(N).earned);
    assert_eq!(earned(a, &cheater).await, pay(2 * N).earned);
    assert_eq!(
        balance_of(a, escrow).await,
        escrow_paid + refund - pay(N).paid()
    );
    assert_eq!(stake_of(a, &honest.key).await, 25 * ONE_TOKEN);
    assert!(slashes_of(a, &honest.node_id()).await.is_empty());
    audit(a).await;
    router.shutdown().await;
}
