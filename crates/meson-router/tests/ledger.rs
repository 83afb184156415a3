//! Signed wallet transactions against a real router: deposits and transfers from a key's wallet, and the
//! refusals a wallet must get (replayed, reused nonce, insufficient funds, unknown account, expired, another
//! network, forged), with the audit log verifying after all of it.

mod common;

use common::*;
use meson_core::identity::NodeKey;
use meson_core::signed::SignedMessage;
use meson_ledger::accounts::wallet_account;
use meson_ledger::tx::{Tx, TxAction, TX};
use meson_ledger::ONE_TOKEN;
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
    .json()["balance"]
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
    assert_eq!(minted.status, 200, "{:?}", minted.json());
    assert_eq!(minted.json()["account"], wallet.to_string());

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
    let escrow: u128 = done.json()["to"].as_str().unwrap().parse().unwrap();
    assert_eq!(balance(a, escrow).await, "2");
    assert_eq!(balance(a, wallet).await, "3");

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
    assert!(reused.json()["error"]
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
        assert_eq!(r.status, status, "{why}: {:?}", r.json());
        assert!(
            r.json()["error"].as_str().unwrap().contains(why),
            "{why}: {:?}",
            r.json()
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

#[tokio::test]
async fn stake_gates_rotation_unbonds_after_its_period_and_is_slashed_once_per_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |c| {
        c.heartbeat = std::time::Duration::from_secs(1);
        c.min_stake = ONE_TOKEN;
        c.unbonding_secs = 2;
        c.dispute_secs = 1;
    })
    .await;
    let a = router.addr;
    let op = std::fs::read_to_string(dir.path().join("operator.token")).unwrap();
    let op = format!("Bearer {}", op.trim());
    let t = SigningTerminal::start_on("127.0.0.5").await;
    assert_eq!(t.register(a, None).await.status, 200);
    let node = t.node_id();
    let view = |field: &'static str| {
        let (t, node) = (&t, node.clone());
        async move {
            t.heartbeat(a, 0, false).await;
            terminal_view(a, &node).await[field].clone()
        }
    };
    eventually("no stake: out of rotation", || async {
        view("staked").await == false
    })
    .await;
    assert_eq!(view("in_rotation").await, false);

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
    eventually("staked: in rotation", || async {
        view("in_rotation").await == true
    })
    .await;

    // Unstaking below the minimum takes it out of rotation at once; the tokens come back after 2 s.
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
        view("staked").await == false
    })
    .await;
    assert_eq!(
        balance(a, wallet).await,
        "3",
        "not back before the unbonding period"
    );
    eventually("unbonded", || async { balance(a, wallet).await == "4.5" }).await;

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
    let claimant = claimant.json()["account"].as_str().unwrap().to_owned();
    let evidence = json!({"kind": "root_mismatch", "root": "ab12", "terminal": node});
    let slash = |amount: &str| {
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
    let done = slash("2").await;
    assert_eq!(done.status, 200, "{:?}", done.json());
    assert_eq!(
        (
            &done.json()["claimant"],
            &done.json()["burned"],
            &done.json()["treasury"]
        ),
        (&json!("1"), &json!("0.6"), &json!("0.4"))
    );
    let stake = meson_ledger::accounts::stake_account(t.key.id().as_bytes());
    assert_eq!(balance(a, stake).await, "0.5", "2.5 at stake, 2 slashed");
    assert_eq!(
        balance(a, wallet).await,
        "2.5",
        "the voided unstake never arrives"
    );
    assert_eq!(
        slash("0.5").await.status,
        409,
        "the same evidence slashes once"
    );
    let head = call(a, "GET", "/v1/ledger/head", &[], None).await.json();
    assert_eq!(head["head"]["burned"], (ONE_TOKEN * 6 / 10).to_string());
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
    let entries_before =
        call(a, "GET", "/v1/ledger/head", &[], None).await.json()["head"]["seq"].clone();

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
    assert_eq!(
        fixed.json()["code"],
        "burn",
        "a mint is corrected by a burn"
    );
    assert_eq!(balance(a, wallet).await, "5");
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
    let burn = fixed.json()["transfer"].as_str().unwrap().to_owned();
    let shown = call(a, "GET", &format!("/v1/ledger/transfers/{burn}"), &[], None).await;
    assert_eq!(shown.status, 200);
    assert_eq!(
        shown.json()["transfer"]["user_data"],
        "7",
        "the correction names what it corrects"
    );
    assert_eq!(shown.json()["amount"], "45");
    assert_eq!(
        call(a, "GET", "/v1/ledger/transfers/12345", &[], None)
            .await
            .status,
        404
    );
    let again = post("/v1/ledger/correct", json!({"reverses": burn})).await;
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
    let id = sent.json()["transfer"].as_str().unwrap().to_owned();
    let back = post("/v1/ledger/correct", json!({"reverses": id})).await;
    assert_eq!(back.status, 200, "{:?}", back.json());
    assert_eq!(back.json()["code"], "correction");
    assert_eq!(balance(a, wallet).await, "5");

    // The mistakes are still in the log, each followed by its correction.
    let replay = audit(a).await;
    let l = replay.ledger();
    assert_eq!(l.issued(), 50 * ONE_TOKEN);
    assert_eq!(l.burned(), 45 * ONE_TOKEN);
    assert!(replay.seq() > entries_before.as_u64().unwrap());
    router.shutdown().await;
}
