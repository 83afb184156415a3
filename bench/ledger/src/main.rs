//! Committed ledger transfers per second on SQLite: the router's ledger service (apply in memory, append
//! the batch to the hash-chained log with `synchronous=FULL`, then answer) driven with batches of 1, 10,
//! 100 and 1,000 transfers between funded accounts. Prints transfers/s and batches/s per size, and checks
//! that replaying the log at the end verifies.
//!
//! `cargo run --release -p meson-bench-ledger [SECONDS_PER_SIZE]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use meson_ledger::accounts::ISSUANCE;
use meson_ledger::{AccountKind, Batch, NewAccount, Transfer, TransferCode, ONE_TOKEN};
use meson_router::ledger::LedgerService;
use meson_store::{SqliteStore, Store};

const ACCOUNTS: u128 = 1_000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let secs: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().context("seconds per batch size"))
        .transpose()?
        .unwrap_or(5);
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("router.db")).await?);
    let ledger = LedgerService::open(store.clone(), "bench".into(), Default::default(), 1).await?;
    let first = 100u128;
    let accounts = (first..first + ACCOUNTS)
        .map(|id| NewAccount {
            id,
            kind: AccountKind::Customer,
            owner: None,
            user_data: 0,
        })
        .collect();
    ledger
        .submit(Batch::CreateAccounts { now: 1, accounts })
        .await?;
    let mints = (first..first + ACCOUNTS)
        .map(|id| Transfer::new(id, ISSUANCE, id, 1_000_000 * ONE_TOKEN, TransferCode::Mint))
        .collect();
    ledger
        .submit(Batch::CreateTransfers {
            now: 1,
            transfers: mints,
        })
        .await?;

    let mut next_id = 1_000_000u128;
    println!("{:>10} {:>14} {:>12}", "batch", "transfers/s", "batches/s");
    for size in [1usize, 10, 100, 1_000] {
        let started = Instant::now();
        let (mut transfers, mut batches) = (0u64, 0u64);
        while started.elapsed() < Duration::from_secs(secs) {
            let batch: Vec<Transfer> = (0..size)
                .map(|i| {
                    next_id += 1;
                    let from = first + (next_id % ACCOUNTS);
                    let to = first + ((next_id + 1 + i as u128) % ACCOUNTS);
                    let to = if to == from {
                        first + (to + 1 - first) % ACCOUNTS
                    } else {
                        to
                    };
                    Transfer::new(
                        next_id,
                        from,
                        to,
                        1 + (next_id % 1000),
                        TransferCode::Transfer,
                    )
                })
                .collect();
            ledger
                .submit(Batch::CreateTransfers {
                    now: 2,
                    transfers: batch,
                })
                .await?;
            transfers += size as u64;
            batches += 1;
        }
        let s = started.elapsed().as_secs_f64();
        println!(
            "{size:>10} {:>14.0} {:>12.1}",
            transfers as f64 / s,
            batches as f64 / s
        );
    }
    // The log must still replay to the live state.
    let replayed = Instant::now();
    drop(ledger);
    LedgerService::open(store.clone(), "bench".into(), Default::default(), 3).await?;
    println!(
        "log replayed and verified on reopening in {:.2} s",
        replayed.elapsed().as_secs_f64()
    );
    store.close().await;
    Ok(())
}
