//! `kill -9` of the real `meson-cdn router` while it settles an epoch, again and again: every restart
//! rebuilds the ledger from its log, and in the end each site's epoch is settled exactly once, every
//! escrow is charged exactly what it owes, and `meson-cdn ledger verify` passes. The usage it settles is
//! reported through the router's control API by terminals' node keys, for tickets from real redirects.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use meson_api::accounts::AccountCreated;
use meson_api::ledger::{AccountView, LedgerHead};
use meson_api::UsageReceipt;
use meson_store::{SqliteStore, Store};
use support::*;

const SITES: i64 = 60;

/// Starts the router on `addr`, with or without billing; its prices and 1-s epochs are the network's
/// genesis either way.
fn router(addr: SocketAddr, dir: &Path, billing: bool) -> RouterProc {
    let mut args = vec![
        "--price-per-gib",
        "1000",
        "--fee-bps",
        "2000",
        "--epoch-secs",
        "1",
    ];
    if billing {
        args.push("--billing");
    }
    RouterProc::start(&addr.to_string(), dir, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_killed_mid_settlement_settles_each_epoch_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("router");
    let addr = free_addr();

    // Sites and their funded escrows, through the API of a router without billing.
    let mut r = router(addr, &data, false);
    let key = json_request(
        addr,
        None,
        "POST",
        "/v1/accounts",
        Some(serde_json::json!({"name": "shop"})),
    )
    .await;
    let key = key.parse::<AccountCreated>().api_key;
    let op = std::fs::read_to_string(data.join("operator.token")).unwrap();
    let mut escrows = Vec::new();
    for i in 0..SITES {
        let host = format!("s{i}.example");
        let site = json_request(
            addr,
            Some(&key),
            "POST",
            "/v1/sites",
            Some(serde_json::json!({"host": host, "origin": "http://127.0.0.1:9"})),
        )
        .await;
        assert_eq!(site.status, 201);
        let billing = json_request(
            addr,
            Some(&key),
            "GET",
            &format!("/v1/sites/{host}/billing"),
            None,
        )
        .await;
        assert_eq!(billing.status, 409, "billing is off");
        let escrow = meson_ledger::accounts::escrow_account(i + 1);
        let minted = json_request(addr, Some(op.trim()), "POST", "/v1/ledger/mint",
            Some(serde_json::json!({"id": (1000 + i).to_string(), "to": escrow.to_string(), "amount": "1000"}))).await;
        assert_eq!(
            minted.status,
            200,
            "{:?}",
            String::from_utf8_lossy(&minted.body)
        );
        escrows.push(escrow);
    }

    // Accepted usage, through the router's control API as terminals report it: 3 terminals, admitted and
    // in rotation, each with a ticket of every site from a real redirect, report 1 MiB per ticket.
    let terminals = [
        SigningTerminal::start().await,
        SigningTerminal::start().await,
        SigningTerminal::start().await,
    ];
    for t in &terminals {
        let joined = t.register(addr, None).await;
        assert_eq!(joined.status, 200, "{:?}", joined.json());
    }
    let mut tickets: [Vec<String>; 3] = Default::default();
    for i in 0..SITES {
        let host = format!("s{i}.example");
        // Heartbeats keep all three in rotation and reset their loads, so the redirects spread.
        for t in &terminals {
            assert_eq!(t.heartbeat(addr, 0, false).await.status, 200);
        }
        let mut got = [false; 3];
        for n in 0.. {
            assert!(n < 300, "{host}: redirects never reached all 3 terminals");
            let path = format!("/o{n}");
            let (location, ticket) = redirect_ticket(addr, &host, &path).await;
            let k = terminals
                .iter()
                .position(|t| t.is_target_of(&location))
                .unwrap_or_else(|| panic!("redirected to an unknown terminal: {location}"));
            if !got[k] {
                got[k] = true;
                tickets[k].push(ticket);
                // The site's owner tells the router the object's size, without which usage is held.
                publish_roots(addr, &key, &host, &path, 1 << 20).await;
            }
            if got == [true; 3] {
                break;
            }
        }
    }
    let mut accepted_by = 0;
    for (t, tickets) in terminals.iter().zip(&tickets) {
        let records = tickets
            .iter()
            .map(|ticket| usage_record(ticket, 1 << 20, 1, 1))
            .collect();
        let receipt = t.usage(addr, records).await;
        assert_eq!(receipt.status, 200, "{:?}", receipt.json());
        assert_eq!(
            receipt.parse::<UsageReceipt>().accepted,
            SITES as u64,
            "{:?}",
            receipt.json()
        );
        accepted_by = unix_now();
    }
    r.kill();
    // The usage is in the epochs (1 s each) up to the second the last receipt came in; settling starts
    // once that epoch is over.
    meson_testkit::second_over(accepted_by).await;

    // Settlement starts as soon as the epoch has ended; kill it at staggered moments, and note how far
    // the log had got before billing and after each kill (entries are whole batches: the terminals'
    // accounts are opened in their own entries, and an epoch's transfers are in one entry or not at all).
    // A debug router here settles the 60 sites within about 30 ms of serving, hence the early kills.
    let mut progress = Vec::new();
    {
        let store = SqliteStore::open(&data.join("router.db")).await.unwrap();
        progress.push(store.ledger_entries(0, 100_000).await.unwrap().len());
        store.close().await;
    }
    for delay_ms in [0u64, 5, 10, 20, 30, 60, 90, 120, 200, 300] {
        let mut r = router(addr, &data, true);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        r.kill();
        let store = SqliteStore::open(&data.join("router.db")).await.unwrap();
        progress.push(store.ledger_entries(0, 100_000).await.unwrap().len());
        store.close().await;
    }
    eprintln!("log entries before billing, then after each kill: {progress:?}");
    let mut r = router(addr, &data, true);
    // 1 MiB at 1000 tokens per GiB: 0.9765625 tokens per terminal line, 3 lines per site.
    let line = meson_ledger::economics::line(1 << 20, 1000 * meson_ledger::ONE_TOKEN, 2000, 10_000);
    let owed = 1000 * meson_ledger::ONE_TOKEN - 3 * line.paid();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut settled = 0;
        for e in &escrows {
            let a =
                json_request(addr, None, "GET", &format!("/v1/ledger/accounts/{e}"), None).await;
            let a: AccountView = a.parse();
            let balance = meson_ledger::parse_amount(&a.balance.unwrap()).unwrap();
            assert!(
                balance >= owed,
                "escrow {e} charged more than once: {balance} < {owed}"
            );
            settled += usize::from(balance == owed);
        }
        if settled == escrows.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {settled} of {} sites settled",
            escrows.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let head = json_request(addr, None, "GET", "/v1/ledger/head", None).await;
    let LedgerHead(head) = head.parse();
    assert_eq!(head.head.burned, SITES as u128 * 3 * line.fee);
    let mut verify = command();
    verify.args(["ledger", "verify", "--router", &format!("http://{addr}")]);
    let out = run(verify).await;
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("verified against the head"),
        "{}",
        out.stdout
    );
    r.kill();
}
