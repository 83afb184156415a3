//! Signed wallet transactions against a real router: deposits and transfers from a key's wallet, and the
//! refusals a wallet must get (replayed, reused nonce, insufficient funds, unknown account, expired, another
//! network, forged), with the audit log verifying after all of it.

mod common;

use common::*;
use meson_api::ledger::{
    AccountView, Corrected, LedgerHead, Minted, Slashed, TransferView, TxApplied,
};
use meson_core::identity::NodeKey;
use meson_core::signed::SignedMessage;
use meson_ledger::accounts::wallet_account;
use meson_ledger::tx::{Tx, TxAction, TX};
use meson_ledger::{TransferCode, ONE_TOKEN};
use meson_testkit::evidence::{failed_audit, router_key};
use serde_json::{json, Value};

fn signed(key: &NodeKey, network: &str, nonce: u64, expires: u64, action: TxAction) -> Value {
    let tx = Tx {
        network: network.into(),
        nonce,
        expires,
        action,
    };
    serde_json::to_value(SignedMessage::sign(key, TX, now(), rand::random(), &tx).unwrap()).unwrap()
}

/// The account's balance in tokens, as the router shows it.
async fn tokens_in(router: std::net::SocketAddr, account: u128) -> String {
    get_json::<AccountView>(router, &format!("/v1/ledger/accounts/{account}"))
        .await
        .balance
        .expect("a balance")
}

#[tokio::test]
async fn signed_transactions_move_tokens_once_and_refuse_what_they_must() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |_| {}).await;
    let a = router.addr;
    let api_key = account(a).await;
    assert_eq!(
        add_site(a, &api_key, "shop.example", "keep").await.status,
        201
    );
    let op = std::fs::read_to_string(dir.path().join("operator.token")).unwrap();
    let op = format!("Bearer {}", op.trim());
    let key = NodeKey::from_secret_bytes([42; 32]);
    let wallet = wallet_account(key.id().as_bytes());
    let minted = call(
        a,
        "POST",
        "/v1/ledger/mint",
        &[("authorization", &op)],
        Some(json!({"id": "1", "owner": key.id().to_string(), "amount": "5"})),
    )
    .await;
    assert_eq!(minted.status, 200, "{:?}", minted.json());
    assert_eq!(minted.parse::<Minted>().account, wallet);

    let later = now() + 60;
    let deposit = signed(
        &key,
        "meson-dev",
        1,
        later,
        TxAction::Deposit {
            site: "shop.example".into(),
            amount: 2 * ONE_TOKEN,
        },
    );
    let done = call(a, "POST", "/v1/ledger/tx", &[], Some(deposit.clone())).await;
    assert_eq!(done.status, 200, "{:?}", done.json());
    let escrow = done.parse::<TxApplied>().to;
    assert_eq!(tokens_in(a, escrow).await, "2");
    assert_eq!(tokens_in(a, wallet).await, "3");

    let replayed = call(a, "POST", "/v1/ledger/tx", &[], Some(deposit)).await;
    assert_eq!(
        replayed.status,
        409,
        "the same message again: {:?}",
        replayed.json()
    );
    let same_nonce = signed(
        &key,
        "meson-dev",
        1,
        later,
        TxAction::Deposit {
            site: "shop.example".into(),
            amount: 2 * ONE_TOKEN,
        },
    );
    let reused = call(a, "POST", "/v1/ledger/tx", &[], Some(same_nonce)).await;
    assert_eq!(reused.status, 409, "{:?}", reused.json());
    assert!(reused.error().contains("nonce 1 was already used"));
    assert_eq!(tokens_in(a, wallet).await, "3", "applied once");

    let cases = [
        (
            signed(
                &key,
                "meson-dev",
                2,
                later,
                TxAction::Transfer {
                    to: escrow,
                    amount: 10 * ONE_TOKEN,
                },
            ),
            422,
            "insufficient funds",
        ),
        (
            signed(
                &key,
                "meson-dev",
                3,
                later,
                TxAction::Transfer { to: 999, amount: 1 },
            ),
            422,
            "unknown account",
        ),
        (
            signed(
                &key,
                "meson-dev",
                4,
                now() - 1,
                TxAction::Transfer {
                    to: escrow,
                    amount: 1,
                },
            ),
            400,
            "expired",
        ),
        (
            signed(
                &key,
                "other-net",
                5,
                later,
                TxAction::Transfer {
                    to: escrow,
                    amount: 1,
                },
            ),
            400,
            "network",
        ),
        (
            signed(
                &key,
                "meson-dev",
                6,
                later,
                TxAction::Deposit {
                    site: "nope.example".into(),
                    amount: 1,
                },
            ),
            404,
            "no site",
        ),
    ];
    for (msg, status, why) in cases {
        let r = call(a, "POST", "/v1/ledger/tx", &[], Some(msg)).await;
        assert_eq!(r.status, status, "{why}: {:?}", r.json());
        assert!(r.error().contains(why), "{why}: {:?}", r.json());
    }
    let mut forged = signed(
        &key,
        "meson-dev",
        7,
        later,
        TxAction::Transfer {
            to: escrow,
            amount: 1,
        },
    );
    let body = forged["body"].as_str().unwrap().replace("\"1\"", "\"2\"");
    forged["body"] = json!(body);
    assert_eq!(
        call(a, "POST", "/v1/ledger/tx", &[], Some(forged))
            .await
            .status,
        401
    );

    let moved = signed(
        &key,
        "meson-dev",
        8,
        later,
        TxAction::Transfer {
            to: escrow,
            amount: ONE_TOKEN / 2,
        },
    );
    assert_eq!(
        call(a, "POST", "/v1/ledger/tx", &[], Some(moved))
            .await
            .status,
        200
    );
    assert_eq!(tokens_in(a, escrow).await, "2.5");
    assert_eq!(tokens_in(a, wallet).await, "2.5");
    let no_op = call(
        a,
        "POST",
        "/v1/ledger/mint",
        &[("authorization", "Bearer x")],
        Some(json!({"id": "2", "to": "3", "amount": "1"})),
    )
    .await;
    assert_eq!(no_op.status, 401);
    router.shutdown().await;
}

#[tokio::test]
async fn stake_gates_rotation_unbonds_after_its_period_and_is_slashed_once_per_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |c| {
        c.heartbeat = std::time::Duration::from_secs(1);
        c.min_stake = ONE_TOKEN;
        // The shortest unbonding the router takes: longer than the longest a claim can take with
        // one-second review and appeal windows (6 s).
        c.unbonding_secs = 7;
        c.review_secs = 1;
        c.appeal_secs = 1;
    })
    .await;
    let a = router.addr;
    let op = std::fs::read_to_string(dir.path().join("operator.token")).unwrap();
    let op = format!("Bearer {}", op.trim());
    let t = SigningTerminal::start_on("127.0.0.5").await;
    assert_eq!(t.register(a, None).await.status, 200);
    let node = t.node_id();
    let view = || {
        let (t, node) = (&t, node.clone());
        async move {
            t.heartbeat(a, 0, false).await;
            terminal_view(a, &node).await.expect("registered")
        }
    };
    eventually("no stake: out of rotation", || async {
        !view().await.staked
    })
    .await;
    assert!(!view().await.in_rotation);

    let mint = |id: &str, owner: String, amount: &str| {
        let body = json!({"id": id, "owner": owner, "amount": amount});
        let op = op.clone();
        async move {
            call(
                a,
                "POST",
                "/v1/ledger/mint",
                &[("authorization", &op)],
                Some(body),
            )
            .await
        }
    };
    assert_eq!(mint("10", node.clone(), "5").await.status, 200);
    let wallet = wallet_account(t.key.id().as_bytes());
    let later = now() + 60;
    let tx = |nonce, action| {
        let body = signed(&t.key, "meson-dev", nonce, later, action);
        async move { call(a, "POST", "/v1/ledger/tx", &[], Some(body)).await }
    };
    assert_eq!(
        tx(
            1,
            TxAction::Stake {
                amount: 2 * ONE_TOKEN
            }
        )
        .await
        .status,
        200
    );
    eventually("staked: in rotation", || async { view().await.in_rotation }).await;

    // Unstaking below the minimum takes it out of rotation at once; the tokens come back after 7 s.
    assert_eq!(
        tx(
            2,
            TxAction::Unstake {
                amount: 3 * ONE_TOKEN / 2
            }
        )
        .await
        .status,
        200
    );
    eventually("below the minimum: out of rotation", || async {
        !view().await.staked
    })
    .await;
    assert_eq!(
        tokens_in(a, wallet).await,
        "3",
        "not back before the unbonding period"
    );
    eventually("unbonded", || async { tokens_in(a, wallet).await == "4.5" }).await;

    // A slash voids the unbonding first: that stake is still at stake.
    assert_eq!(
        tx(
            3,
            TxAction::Stake {
                amount: 2 * ONE_TOKEN
            }
        )
        .await
        .status,
        200
    );
    assert_eq!(
        tx(4, TxAction::Unstake { amount: ONE_TOKEN }).await.status,
        200
    );
    let hunter = NodeKey::from_secret_bytes([9; 32]);
    let claimant = mint("11", hunter.id().to_string(), "0.000000001").await;
    let claimant = claimant.parse::<Minted>().account.to_string();
    let router_key = router_key(dir.path());
    let evidence = failed_audit(&router_key, &t.key, 1);
    let slash_with = |amount: &str, evidence: Value| {
        let body =
            json!({"owner": node, "amount": amount, "claimant": claimant, "evidence": evidence});
        let op = op.clone();
        async move {
            call(
                a,
                "POST",
                "/v1/ledger/slash",
                &[("authorization", &op)],
                Some(body),
            )
            .await
        }
    };
    let slash = |amount: &str| slash_with(amount, json!(evidence));
    // Evidence that does not verify, or accuses another key, slashes nothing.
    let mut forged = json!(evidence);
    let body = forged["answer"]["body"]
        .as_str()
        .unwrap()
        .replacen("proof", "Proof", 1);
    forged["answer"]["body"] = json!(body);
    let refused = slash_with("2", forged).await;
    assert_eq!(refused.status, 422, "{:?}", refused.json());
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{:?}",
        refused.json()
    );
    let other = NodeKey::from_secret_bytes([31; 32]);
    let refused = slash_with("2", json!(failed_audit(&router_key, &other, 1))).await;
    assert_eq!(refused.status, 422, "{:?}", refused.json());
    let not_router = slash_with("2", json!(failed_audit(&other, &t.key, 1))).await;
    assert_eq!(not_router.status, 422, "{:?}", not_router.json());
    let done = slash("2").await;
    assert_eq!(done.status, 200, "{:?}", done.json());
    let done: Slashed = done.parse();
    assert_eq!(
        (&*done.claimant, &*done.burned, &*done.treasury),
        ("1", "0.6", "0.4")
    );
    let stake = meson_ledger::accounts::stake_account(t.key.id().as_bytes());
    assert_eq!(tokens_in(a, stake).await, "0.5", "2.5 at stake, 2 slashed");
    assert_eq!(
        tokens_in(a, wallet).await,
        "2.5",
        "the voided unstake never arrives"
    );
    assert_eq!(
        slash("0.5").await.status,
        409,
        "the same evidence slashes once"
    );
    let LedgerHead(head) = get_json(a, "/v1/ledger/head").await;
    assert_eq!(head.head.burned, ONE_TOKEN * 6 / 10);
    router.shutdown().await;
}

#[tokio::test]
async fn a_mistake_is_fixed_by_a_correcting_transfer_never_an_edit() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |_| {}).await;
    let a = router.addr;
    let op = std::fs::read_to_string(dir.path().join("operator.token")).unwrap();
    let op = format!("Bearer {}", op.trim());
    let post = |path: &'static str, body: Value| {
        let op = op.clone();
        async move { call(a, "POST", path, &[("authorization", &op)], Some(body)).await }
    };
    let key = NodeKey::from_secret_bytes([21; 32]);
    let wallet = wallet_account(key.id().as_bytes());
    // A purchase of 5 minted as 50.
    let mint = post(
        "/v1/ledger/mint",
        json!({"id": "7", "owner": key.id().to_string(), "amount": "50"}),
    )
    .await;
    assert_eq!(mint.status, 200);
    let LedgerHead(before) = get_json(a, "/v1/ledger/head").await;

    assert_eq!(
        call(
            a,
            "POST",
            "/v1/ledger/correct",
            &[],
            Some(json!({"reverses": "7", "amount": "45"}))
        )
        .await
        .status,
        401,
        "only the operator corrects"
    );
    for (body, status, why) in [
        (json!({"reverses": "99"}), 404, "unknown transfer"),
        (
            json!({"reverses": "7", "amount": "51"}),
            400,
            "more than it moved",
        ),
        (json!({"reverses": "7", "amount": "0"}), 400, "nothing"),
    ] {
        let r = post("/v1/ledger/correct", body).await;
        assert_eq!(r.status, status, "{why}: {:?}", r.json());
    }
    let fixed = post(
        "/v1/ledger/correct",
        json!({"reverses": "7", "amount": "45"}),
    )
    .await;
    assert_eq!(fixed.status, 200, "{:?}", fixed.json());
    let fixed: Corrected = fixed.parse();
    assert_eq!(
        fixed.code,
        TransferCode::Burn,
        "a mint is corrected by a burn"
    );
    assert_eq!(tokens_in(a, wallet).await, "5");
    assert_eq!(
        post(
            "/v1/ledger/correct",
            json!({"reverses": "7", "amount": "1"})
        )
        .await
        .status,
        409,
        "one correction per transfer"
    );
    let burn = fixed.transfer;
    let shown: TransferView = get_json(a, &format!("/v1/ledger/transfers/{burn}")).await;
    assert_eq!(
        shown.transfer.user_data, 7,
        "the correction names what it corrects"
    );
    assert_eq!(shown.amount, "45");
    assert_eq!(
        call(a, "GET", "/v1/ledger/transfers/12345", &[], None)
            .await
            .status,
        404
    );
    let again = post("/v1/ledger/correct", json!({"reverses": burn.to_string()})).await;
    assert_eq!(again.status, 422, "{:?}", again.json());

    // A transfer to the wrong account comes back from it.
    let sent = call(
        a,
        "POST",
        "/v1/ledger/tx",
        &[],
        Some(signed(
            &key,
            "meson-dev",
            1,
            now() + 60,
            TxAction::Transfer {
                to: 3,
                amount: 2 * ONE_TOKEN,
            },
        )),
    )
    .await;
    assert_eq!(sent.status, 200);
    let id = sent.parse::<TxApplied>().transfer.to_string();
    let back = post("/v1/ledger/correct", json!({"reverses": id})).await;
    assert_eq!(back.status, 200, "{:?}", back.json());
    assert_eq!(back.parse::<Corrected>().code, TransferCode::Correction);
    assert_eq!(tokens_in(a, wallet).await, "5");

    // The mistakes are still in the log, each followed by its correction.
    let replay = audit(a).await;
    let l = replay.ledger();
    assert_eq!(l.issued(), 50 * ONE_TOKEN);
    assert_eq!(l.burned(), 45 * ONE_TOKEN);
    assert!(replay.seq() > before.head.seq);
    router.shutdown().await;
}
