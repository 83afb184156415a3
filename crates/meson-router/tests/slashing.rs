//! Automatic slashing on objective evidence, through the real HTTP API: a terminal (its real node key)
//! that inflates usage or claims a serial twice is refused, the evidence is stored and served byte for
//! byte, and its stake is slashed once per piece of evidence.

mod common;

use std::net::SocketAddr;

use common::*;
use meson_api::verification::TerminalSlashes;
use meson_api::UsageReceipt;
use meson_core::evidence::{self, Evidence, Kind};
use meson_core::signed::SignedMessage;
use meson_core::wire::UsageRecord;
use meson_ledger::accounts::stake_account;
use meson_ledger::tx::{Tx, TxAction, TX};
use meson_ledger::ONE_TOKEN;
use meson_testkit::{pattern, redirect_ticket, usage_record, Resource, SigningTerminal};
use serde_json::json;

const HOST: &str = "cdn.example.com";

/// A record of `bytes` under `ticket`, naming the origin's version it served.
fn served(ticket: &str, bytes: u64, version: &str) -> UsageRecord {
    UsageRecord {
        version: Some(version.to_owned()),
        ..usage_record(ticket, bytes, 1, 0)
    }
}

async fn slashes(router: SocketAddr, t: &SigningTerminal) -> TerminalSlashes {
    get_json(router, &format!("/v1/terminals/{}/slashes", t.node_id())).await
}

async fn stake_of(router: SocketAddr, t: &SigningTerminal) -> u128 {
    let a: meson_api::ledger::AccountView = get_json(
        router,
        &format!(
            "/v1/ledger/accounts/{}",
            stake_account(t.key.id().as_bytes())
        ),
    )
    .await;
    balance(&a)
}

#[tokio::test]
async fn inflated_usage_and_a_serial_claimed_twice_slash_the_stake_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let (router, origin, key, _) = router_with_site(dir.path(), HOST, "keep", |_| {}).await;
    origin.set("/small.txt", Resource::cacheable(pattern(1024, 2)));
    let a = router.addr;
    let op = std::fs::read_to_string(dir.path().join("operator.token")).unwrap();
    let op = format!("Bearer {}", op.trim());
    let t = SigningTerminal::start().await;
    assert_eq!(t.register(a, None).await.status, 200);

    // The terminal stakes 25 tokens with its node key.
    let minted = call(
        a,
        "POST",
        "/v1/ledger/mint",
        &[("authorization", &op)],
        Some(json!({"id": "1", "owner": t.node_id(), "amount": "25"})),
    )
    .await;
    assert_eq!(minted.status, 200, "{:?}", minted.json());
    let tx = Tx {
        network: "meson-dev".into(),
        nonce: 1,
        expires: now() + 60,
        action: TxAction::Stake {
            amount: 25 * ONE_TOKEN,
        },
    };
    let signed = SignedMessage::sign(&t.key, TX, now(), rand::random(), &tx).unwrap();
    let staked = call(a, "POST", "/v1/ledger/tx", &[], Some(json!(signed))).await;
    assert_eq!(staked.status, 200, "{:?}", staked.json());
    assert_eq!(stake_of(a, &t).await, 25 * ONE_TOKEN);

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
    let batch = t.signed(
        meson_core::wire::USAGE,
        &meson_core::wire::UsageBatch {
            records: vec![served(ticket, 1_000_000_000_000_000, &version)],
        },
    );
    let post = |body: serde_json::Value| async move {
        call(a, "POST", meson_core::wire::USAGE_PATH, &[], Some(body)).await
    };
    let receipt = post(batch.clone()).await;
    assert_eq!(receipt.status, 200, "{:?}", receipt.json());
    let receipt: UsageReceipt = receipt.parse();
    assert_eq!((receipt.accepted, receipt.held), (0, 0));
    assert_eq!(stake_of(a, &t).await, 15 * ONE_TOKEN);
    let found = slashes(a, &t).await.slashes;
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
    let id = found[0].id.to_string();
    let bytes = meson_testkit::get(a, &format!("/v1/evidence/{id}")).await;
    assert_eq!(bytes.status, 200);
    assert_eq!(hex::encode(blake3::hash(&bytes.body).as_bytes()), id);
    let e: Evidence = serde_json::from_slice(&bytes.body).unwrap();
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
            records: vec![served(ticket, 1_000_000_000_000_000, &version)],
        },
    );
    let again: UsageReceipt = post(resent).await.parse();
    assert_eq!((again.accepted, again.duplicate), (0, 1));
    assert_eq!(stake_of(a, &t).await, 15 * ONE_TOKEN);
    assert_eq!(slashes(a, &t).await.slashes.len(), 1);

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
    assert_eq!(stake_of(a, &t).await, 5 * ONE_TOKEN);
    let found = slashes(a, &t).await.slashes;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].kind, "serial_twice");

    // Evidence with less at stake than the amount takes what is left; with nothing left, it is still
    // kept.
    t.usage(a, vec![served(third, 5000, &version)]).await;
    assert_eq!(stake_of(a, &t).await, 0);
    t.usage(a, vec![served(fourth, 5000, &version)]).await;
    let found = slashes(a, &t).await.slashes;
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
    assert_eq!(slashes(a, &t).await.slashes.len(), 4);
    router.shutdown().await;
}
