//! What hunters, voters and council members do against a real router: signed transactions and council
//! messages, bonds on evidence, claims, and probes of a terminal made as any client makes them (through
//! the router's redirect, then a real request to the terminal, its outcome recorded by
//! `meson_core::probe::outcome_of`).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use meson_api::claims::{ClaimDetail, Execution};
use meson_api::ledger::AccountView;
use meson_core::identity::{NodeId, NodeKey};
use meson_core::probe::{self, Outcome, Probe, Record};
use meson_core::served::SERVED_HEADER;
use meson_core::signed::SignedMessage;
use meson_ledger::tx::{Tx, TxAction, TX};
use serde::Serialize;
use serde_json::{json, Value};

use super::{balance, call, eventually, get_json, ip, now, operator, tokens, Got, SigningTerminal};

/// A router whose claims' review and elections move every 300 ms, configured by `tweak`.
pub async fn quick_router(
    dir: &Path,
    tweak: impl FnOnce(&mut meson_router::RouterConfig),
) -> meson_router::Router {
    super::start(dir, |c| {
        c.heartbeat = std::time::Duration::from_millis(300);
        tweak(c)
    })
    .await
}

/// `body` signed by `key` for `purpose`, timestamped now, with a fresh nonce, as JSON.
pub fn signed<T: Serialize>(key: &NodeKey, purpose: &str, body: &T) -> Value {
    let msg = SignedMessage::sign(key, purpose, now(), rand::random(), body).unwrap();
    serde_json::to_value(msg).unwrap()
}

/// `msg` as sent by someone else: the signer is `other`, the signature still `msg`'s.
pub fn forged(mut msg: Value, other: &NodeKey) -> Value {
    msg["signer"] = json!(other.id().to_string());
    msg
}

/// Mints `amount` (a token amount, `"1.5"`) to the wallet of `owner`, as the operator of the router whose
/// data directory is `dir`.
pub async fn mint(router: SocketAddr, dir: &Path, owner: &NodeKey, amount: &str) {
    mint_json(
        router,
        dir,
        json!({"owner": owner.id().to_string(), "amount": amount}),
    )
    .await;
}

/// Mints `amount` into the account `to` (the treasury, say).
pub async fn mint_to(router: SocketAddr, dir: &Path, to: u128, amount: &str) {
    mint_json(router, dir, json!({"to": to.to_string(), "amount": amount})).await;
}

async fn mint_json(router: SocketAddr, dir: &Path, mut body: Value) {
    body["id"] = json!((rand::random::<u64>() | 1).to_string());
    let minted = call(
        router,
        "POST",
        "/v1/ledger/mint",
        &[("authorization", &operator(dir))],
        Some(body),
    )
    .await;
    assert_eq!(minted.status, 200, "{:?}", minted.json());
}

/// `action` signed by `key` as a transaction, with a fresh nonce.
pub fn tx(key: &NodeKey, action: TxAction) -> Value {
    let tx = Tx {
        network: "meson-dev".into(),
        nonce: rand::random::<u64>() | 1,
        expires: now() + 60,
        action,
    };
    signed(key, TX, &tx)
}

/// `POST /v1/ledger/tx` of `action` signed by `key`.
pub async fn send_tx(router: SocketAddr, key: &NodeKey, action: TxAction) -> Got {
    call(router, "POST", "/v1/ledger/tx", &[], Some(tx(key, action))).await
}

/// The claim id of `evidence`: its BLAKE3, in hex.
pub fn claim_id(evidence: &str) -> String {
    blake3::hash(evidence.as_bytes()).to_hex().to_string()
}

/// `hunter`'s signed bond of `amount` base units on the claim whose evidence is `evidence`.
pub fn bond(hunter: &NodeKey, evidence: &str, accused: &NodeId, amount: u128) -> Value {
    let claim = *blake3::hash(evidence.as_bytes()).as_bytes();
    let action = TxAction::Bond {
        claim,
        accused: *accused,
        amount,
    };
    tx(hunter, action)
}

/// `POST /v1/claims`.
pub async fn file(router: SocketAddr, kind: &str, evidence: &str, bond: Value) -> Got {
    let body = json!({"kind": kind, "evidence": evidence, "bond": bond});
    call(router, "POST", "/v1/claims", &[], Some(body)).await
}

/// Files `evidence` of `kind` with `hunter`'s bond of `amount` on it, which must be taken; the claim.
pub async fn filed(
    router: SocketAddr,
    kind: &str,
    evidence: &str,
    hunter: &NodeKey,
    accused: &NodeId,
    amount: u128,
) -> ClaimDetail {
    let got = file(
        router,
        kind,
        evidence,
        bond(hunter, evidence, accused, amount),
    )
    .await;
    assert_eq!(got.status, 201, "{:?}", got.json());
    got.parse()
}

pub async fn claim(router: SocketAddr, id: &str) -> ClaimDetail {
    get_json(router, &format!("/v1/claims/{id}")).await
}

/// Waits until claim `id` is in phase `phase` (as serialised: `"under_review"`); the claim then.
pub async fn claim_in(router: SocketAddr, id: &str, phase: &str) -> ClaimDetail {
    let is = |c: &ClaimDetail| serde_json::to_value(c.phase.phase).unwrap() == phase;
    eventually(&format!("claim {id} is {phase}"), || async {
        is(&claim(router, id).await)
    })
    .await;
    claim(router, id).await
}

/// What an executed verdict moved, in tokens.
pub fn moved(slashed: &str, reward: &str, bond: &str, bond_returned: bool) -> Execution {
    Execution {
        slashed: slashed.into(),
        refunded: "0".into(),
        reward: reward.into(),
        bond: bond.into(),
        bond_returned,
    }
}

/// Waits until the verdict on claim `id` (or its expiry) has executed; the claim then.
pub async fn executed(router: SocketAddr, id: &str) -> ClaimDetail {
    eventually(&format!("claim {id} executed"), || async {
        claim(router, id).await.executed.is_some()
    })
    .await;
    claim(router, id).await
}

/// A wallet's balance and available funds, in base units.
pub async fn funds(router: SocketAddr, key: &NodeKey) -> (u128, u128) {
    account_funds(
        router,
        meson_ledger::accounts::wallet_account(key.id().as_bytes()),
    )
    .await
}

pub async fn account_funds(router: SocketAddr, id: u128) -> (u128, u128) {
    let a: AccountView = get_json(router, &format!("/v1/ledger/accounts/{id}")).await;
    (
        balance(&a),
        tokens(a.available.as_deref().expect("available")),
    )
}

/// Waits until `t`'s server refuses connections (after [`SigningTerminal::stop_server`]).
pub async fn refusing(t: &SigningTerminal) {
    let addr = t.url.trim_start_matches("http://").to_owned();
    eventually(&format!("{addr} refuses connections"), || async {
        tokio::net::TcpStream::connect(&addr).await.is_err()
    })
    .await;
}

/// `n` tickets to `t` for `path` of site `host`, from the router's redirects as a client gets them
/// (`t` heartbeats before each ask, and redirects to other terminals are passed over).
pub async fn tickets_to(
    router: SocketAddr,
    t: &SigningTerminal,
    host: &str,
    path: &str,
    n: usize,
) -> Vec<String> {
    let urls = RefCell::new(Vec::new());
    eventually(&format!("{n} redirects to {}", t.url), || async {
        assert_eq!(t.heartbeat(router, 0, false).await.status, 200);
        let resp = call(router, "GET", path, &[("host", host)], None).await;
        let location = resp.header("location");
        if resp.status == 302 && t.is_target_of(location) {
            urls.borrow_mut().push(location.to_owned());
        }
        urls.borrow().len() >= n
    })
    .await;
    urls.into_inner()
}

/// One probe of `url` on `terminal`: the request really sent, its outcome recorded as hunters and
/// council members record it.
pub async fn probe(url: &str, terminal: NodeId) -> Probe {
    let at = now();
    let started = Instant::now();
    let outcome = match meson_testkit::get_url_from(ip("127.0.0.1"), url, &[]).await {
        Ok(got) => probe::outcome_of(
            got.status,
            got.headers.get(SERVED_HEADER).and_then(|v| v.to_str().ok()),
            &got.body,
        ),
        Err(error) => Outcome::Failed { error },
    };
    Probe {
        terminal,
        at,
        url: url.to_owned(),
        latency_ms: started.elapsed().as_millis() as u64,
        outcome,
    }
}

/// A probe record of `path` on site `host` (no statement of the router's), as JSON text: a council
/// claim's evidence, or a vote's record.
pub async fn record(host: &str, path: &str, urls: &[String], terminal: NodeId) -> String {
    let mut probes = Vec::new();
    for url in urls {
        probes.push(probe(url, terminal).await);
    }
    let r = Record {
        host: host.to_owned(),
        path: path.to_owned(),
        known: None,
        probes,
    };
    serde_json::to_string(&r).unwrap()
}

/// Whether every probe of the record `text` failed to connect.
pub fn all_failed(text: &str) -> bool {
    let r: Record = serde_json::from_str(text).unwrap();
    r.probes
        .iter()
        .all(|p| matches!(p.outcome, Outcome::Failed { .. }))
}
