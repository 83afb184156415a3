//! `kill -9` of the real `meson-cdn router` while it settles an epoch, again and again: every restart
//! rebuilds the ledger from its log, and in the end each site's epoch is settled exactly once, every
//! escrow is charged exactly what it owes, and `meson-cdn ledger verify` passes.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use meson_store::{SqliteStore, Store, UsageRecord};
use support::*;

const SITES: i64 = 60;

/// Starts the router on `addr`, with or without billing.
fn router(addr: SocketAddr, dir: &Path, billing: bool) -> RouterProc {
    let mut args = vec!["--price-per-gib", "1000", "--fee-bps", "2000"];
    if billing {
        args.extend(["--billing", "--epoch-secs", "1"]);
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
    let key: serde_json::Value = serde_json::from_slice(&key.body).unwrap();
    let key = key["api_key"].as_str().unwrap().to_owned();
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
        let escrow = meson_router::ledger::escrow_account(i + 1);
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
    r.kill();

    // Accepted usage, written straight into the store: 3 terminals per site, all in one epoch.
    {
        let store = SqliteStore::open(&data.join("router.db")).await.unwrap();
        let mut serial = 1;
        let mut batch = Vec::new();
        for site in 1..=SITES {
            for t in 1..=3u8 {
                batch.push(UsageRecord {
                    serial,
                    terminal: [t; 32],
                    site_id: site,
                    object_key: [0; 16],
                    bytes: 1 << 20,
                    requests: 1,
                    hits: 1,
                    served_at: 1,
                });
                serial += 1;
            }
        }
        store.accept_usage(&batch).await.unwrap();
        store.close().await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Settlement starts as soon as the epoch has ended; kill it at staggered moments, and note how far
    // the log had got each time (entries are whole batches: the sites' escrow accounts are opened in
    // their own entries, and an epoch's transfers are in one entry or not at all).
    let mut progress = Vec::new();
    for delay_ms in [30u64, 60, 90, 120, 200, 300] {
        let mut r = router(addr, &data, true);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        r.kill();
        let store = SqliteStore::open(&data.join("router.db")).await.unwrap();
        progress.push(store.ledger_entries(0, 100_000).await.unwrap().len());
        store.close().await;
    }
    eprintln!("log entries after each kill: {progress:?}");
    let mut r = router(addr, &data, true);
    // 1 MiB at 1000 tokens per GiB: 0.9765625 tokens per terminal line, 3 lines per site.
    let line =
        meson_core::economics::line(1 << 20, 1000 * meson_core::ledger::ONE_TOKEN, 2000, 10_000);
    let owed = 1000 * meson_core::ledger::ONE_TOKEN - 3 * line.paid();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut settled = 0;
        for e in &escrows {
            let a =
                json_request(addr, None, "GET", &format!("/v1/ledger/accounts/{e}"), None).await;
            let a: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
            let balance = meson_core::ledger::parse_amount(a["balance"].as_str().unwrap()).unwrap();
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
    let head: serde_json::Value = serde_json::from_slice(&head.body).unwrap();
    assert_eq!(
        head["head"]["burned"],
        (SITES as u128 * 3 * line.fee).to_string()
    );
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
