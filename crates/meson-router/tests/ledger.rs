//! Signed wallet transactions against a real router: deposits and transfers from a key's wallet, and the
//! refusals a wallet must get (replayed, reused nonce, insufficient funds, unknown account, expired, another
//! network, forged), with the audit log verifying after all of it.

mod common;

use common::*;
use meson_core::identity::NodeKey;
use meson_core::ledger::tx::{wallet_account, Tx, TxAction, TX};
use meson_core::ledger::ONE_TOKEN;
use meson_core::signed::SignedMessage;
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

async fn balance(router: std::net::SocketAddr, account: u128) -> Value {
    call(
        router,
        "GET",
        &format!("/v1/ledger/accounts/{account}"),
        &[],
        None,
    )
    .await
    .json["balance"]
        .clone()
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
    assert_eq!(minted.status, 200, "{:?}", minted.json);
    assert_eq!(minted.json["account"], wallet.to_string());

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
    assert_eq!(done.status, 200, "{:?}", done.json);
    let escrow: u128 = done.json["to"].as_str().unwrap().parse().unwrap();
    assert_eq!(balance(a, escrow).await, "2");
    assert_eq!(balance(a, wallet).await, "3");

    let replayed = call(a, "POST", "/v1/ledger/tx", &[], Some(deposit)).await;
    assert_eq!(
        replayed.status, 409,
        "the same message again: {:?}",
        replayed.json
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
    assert_eq!(reused.status, 409, "{:?}", reused.json);
    assert!(reused.json["error"]
        .as_str()
        .unwrap()
        .contains("nonce 1 was already used"));
    assert_eq!(balance(a, wallet).await, "3", "applied once");

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
        assert_eq!(r.status, status, "{why}: {:?}", r.json);
        assert!(
            r.json["error"].as_str().unwrap().contains(why),
            "{why}: {:?}",
            r.json
        );
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
    assert_eq!(balance(a, escrow).await, "2.5");
    assert_eq!(balance(a, wallet).await, "2.5");
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
