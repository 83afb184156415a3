//! Property: concurrent batches from several tasks into the router's ledger service over a real SQLite
//! file never break an invariant, and reopening the store (replaying its audit log with every check)
//! reaches exactly the live state.

use std::sync::Arc;

use meson_ledger::accounts::ISSUANCE;
use meson_ledger::{
    AccountKind, Batch, NewAccount, Transfer, TransferCode, TransferFlags, ONE_TOKEN,
};
use meson_router::ledger::LedgerService;
use meson_store::{SqliteStore, Store};
use proptest::prelude::*;

const ACCOUNTS: u128 = 6;
const FIRST: u128 = 100;

#[derive(Debug, Clone)]
enum Op {
    Plain {
        from: u128,
        to: u128,
        amount: u128,
    },
    Pending {
        from: u128,
        to: u128,
        amount: u128,
    },
    Post {
        of: usize,
    },
    Void {
        of: usize,
    },
    Linked {
        a: (u128, u128, u128),
        b: (u128, u128, u128),
    },
}

fn op() -> impl Strategy<Value = Op> {
    let acct = 0..ACCOUNTS;
    let amount = 1u128..3 * ONE_TOKEN;
    let leg = (acct.clone(), acct.clone(), amount.clone());
    prop_oneof![
        (acct.clone(), acct.clone(), amount.clone()).prop_map(|(from, to, amount)| Op::Plain {
            from,
            to,
            amount
        }),
        (acct.clone(), acct, amount).prop_map(|(from, to, amount)| Op::Pending {
            from,
            to,
            amount
        }),
        (0usize..64).prop_map(|of| Op::Post { of }),
        (0usize..64).prop_map(|of| Op::Void { of }),
        (leg.clone(), leg).prop_map(|(a, b)| Op::Linked { a, b }),
    ]
}

/// Turns one task's ops into batches; ids are unique across tasks by construction.
fn batches(task: u128, ops: &[Op]) -> Vec<Vec<Transfer>> {
    let id = |i: usize, k: u128| (task << 64) | ((i as u128) << 2) | k;
    let acct = |n: u128| FIRST + n;
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let t = match op {
            Op::Plain { from, to, amount } => vec![Transfer::new(
                id(i, 0),
                acct(*from),
                acct(*to),
                *amount,
                TransferCode::Transfer,
            )],
            Op::Pending { from, to, amount } => {
                let mut t = Transfer::new(
                    id(i, 0),
                    acct(*from),
                    acct(*to),
                    *amount,
                    TransferCode::Transfer,
                );
                t.flags.pending = true;
                t.timeout_secs = 3600;
                vec![t]
            }
            Op::Post { of } | Op::Void { of } => {
                let mut t = Transfer::new(id(i, 1), 0, 0, 0, TransferCode::Transfer);
                t.pending_id = id(*of, 0);
                t.flags = TransferFlags {
                    post_pending: matches!(op, Op::Post { .. }),
                    void_pending: matches!(op, Op::Void { .. }),
                    ..TransferFlags::default()
                };
                vec![t]
            }
            Op::Linked { a, b } => {
                let mut x =
                    Transfer::new(id(i, 2), acct(a.0), acct(a.1), a.2, TransferCode::Transfer);
                x.flags.linked = true;
                let y = Transfer::new(id(i, 3), acct(b.0), acct(b.1), b.2, TransferCode::Transfer);
                vec![x, y]
            }
        };
        out.push(t);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn concurrent_batches_keep_every_invariant_and_replay_to_the_live_state(
        tasks in proptest::collection::vec(proptest::collection::vec(op(), 1..24), 2..5)
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("router.db");
            let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
            let ledger = Arc::new(LedgerService::open(store.clone(), "t".into(), Default::default(), 1).await.unwrap());
            let accounts = (0..ACCOUNTS)
                .map(|n| NewAccount { id: FIRST + n, kind: AccountKind::Customer, owner: None, user_data: 0 })
                .collect();
            ledger.submit(Batch::CreateAccounts { now: 1, accounts }).await.unwrap();
            let mints = (0..ACCOUNTS)
                .map(|n| Transfer::new(1 + n, ISSUANCE, FIRST + n, 5 * ONE_TOKEN, TransferCode::Mint))
                .collect();
            ledger.submit(Batch::CreateTransfers { now: 1, transfers: mints }).await.unwrap();

            let handles: Vec<_> = tasks
                .iter()
                .enumerate()
                .map(|(t, ops)| {
                    let (ledger, ops) = (ledger.clone(), ops.clone());
                    tokio::spawn(async move {
                        for transfers in batches(t as u128 + 1, &ops) {
                            ledger.submit(Batch::CreateTransfers { now: 2, transfers }).await.unwrap();
                            ledger.read(|l| l.check_invariants()).await.expect("invariants hold after every batch");
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
            let live = ledger.read(|l| (l.state_digest(), l.supply())).await;
            prop_assert_eq!(live.1, ACCOUNTS * 5 * ONE_TOKEN, "transfers never change the supply");
            let reopened = LedgerService::open(store.clone(), "t".into(), Default::default(), 3).await.unwrap();
            let replayed = reopened.read(|l| (l.state_digest(), l.supply())).await;
            prop_assert_eq!(replayed, live);
            store.close().await;
            Ok(())
        })?;
    }
}
