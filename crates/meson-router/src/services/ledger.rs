//! The router's ledger: the core state machine ([`meson_core::ledger`]) kept in memory, every batch that
//! changes it appended to the audit log in the store before its results are returned, and the whole state
//! rebuilt from that log (with every check an auditor makes) at start-up. Balances are never stored apart
//! from the log, so they cannot disagree with it.

use std::sync::Arc;

use meson_core::identity::NodeKey;
use meson_core::ledger::audit::{encode_entry, Head, Replay, SignedHead};
use meson_core::ledger::{Account, AccountKind, Batch, BatchResults, Ledger, NewAccount};
use meson_store::{LedgerEntry, Store, StoreError};
use tokio::sync::Mutex;

/// The system accounts every network has, at fixed ids.
pub const ISSUANCE: u128 = 1;
pub const BURN: u128 = 2;
pub const TREASURY: u128 = 3;

/// Log entries read per query while replaying.
const PAGE: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored audit log does not verify: {0}")]
    Audit(#[from] meson_core::ledger::audit::AuditError),
}

struct State {
    ledger: Ledger,
    seq: u64,
    hash: [u8; 32],
}

pub struct LedgerService {
    store: Arc<dyn Store>,
    network: String,
    state: Mutex<State>,
}

async fn replay(store: &dyn Store) -> Result<State, LedgerError> {
    let mut r = Replay::new();
    loop {
        let entries = store.ledger_entries(r.seq(), PAGE).await?;
        if entries.is_empty() {
            break;
        }
        for e in entries {
            r.push(e.seq, &e.prev_hash, &e.hash, &e.body)?;
        }
    }
    let (ledger, seq, hash) = r.into_parts();
    Ok(State { ledger, seq, hash })
}

/// The ledger's totals as gauges, in tokens (floats: for dashboards, not for accounting).
fn publish(st: &State) {
    let tokens = |units: u128| units as f64 / meson_core::ledger::ONE_TOKEN as f64;
    let l = &st.ledger;
    metrics::gauge!("meson_router_ledger_entries").set(st.seq as f64);
    metrics::gauge!("meson_router_ledger_transfers").set(l.transfer_count() as f64);
    metrics::gauge!("meson_router_ledger_issued_tokens").set(tokens(l.issued()));
    metrics::gauge!("meson_router_ledger_burned_tokens").set(tokens(l.burned()));
    metrics::gauge!("meson_router_ledger_supply_tokens").set(tokens(l.supply()));
    let treasury = l.account(TREASURY).and_then(|a| a.balance()).unwrap_or(0);
    metrics::gauge!("meson_router_ledger_treasury_tokens").set(tokens(treasury));
}

impl LedgerService {
    /// Rebuilds the ledger from the store's log, verifying it, and opens the system accounts.
    pub async fn open(
        store: Arc<dyn Store>,
        network: String,
        now: u64,
    ) -> Result<LedgerService, LedgerError> {
        let state = replay(store.as_ref()).await?;
        publish(&state);
        tracing::info!(
            entries = state.seq,
            accounts = state.ledger.accounts().count(),
            "ledger replayed from its audit log"
        );
        let service = LedgerService {
            store,
            network,
            state: Mutex::new(state),
        };
        let system = |id, kind| NewAccount {
            id,
            kind,
            owner: None,
            user_data: 0,
        };
        service
            .submit(Batch::CreateAccounts {
                now,
                accounts: vec![
                    system(ISSUANCE, AccountKind::Issuance),
                    system(BURN, AccountKind::Burn),
                    system(TREASURY, AccountKind::Treasury),
                ],
            })
            .await?;
        Ok(service)
    }

    /// Applies a batch; if it changed anything, logs it durably before answering. Should the log write
    /// fail, the in-memory ledger is rebuilt from the log, so it never holds what the log does not.
    pub async fn submit(&self, batch: Batch) -> Result<BatchResults, LedgerError> {
        let mut st = self.state.lock().await;
        let results = st.ledger.apply(&batch);
        if !results.changed() {
            return Ok(results);
        }
        let seq = st.seq + 1;
        let (body, hash) = encode_entry(seq, &st.hash, &batch);
        let entry = LedgerEntry {
            seq,
            prev_hash: st.hash,
            hash,
            body,
            created_at: crate::unix_now(),
        };
        if let Err(e) = self.store.append_ledger_entry(&entry).await {
            tracing::error!(error = %e, "ledger batch not logged: rebuilding the ledger from the log");
            *st = replay(self.store.as_ref()).await?;
            return Err(e.into());
        }
        st.seq = seq;
        st.hash = hash;
        metrics::counter!("meson_router_ledger_batches_total").increment(1);
        publish(&st);
        Ok(results)
    }

    /// Opens an account (idempotent: opening it again with the same fields changes nothing) and returns
    /// its id.
    pub async fn open_account(
        &self,
        id: u128,
        kind: AccountKind,
        owner: Option<[u8; 32]>,
        user_data: u128,
    ) -> Result<u128, LedgerError> {
        self.submit(Batch::CreateAccounts {
            now: crate::unix_now(),
            accounts: vec![NewAccount {
                id,
                kind,
                owner,
                user_data,
            }],
        })
        .await?;
        Ok(id)
    }

    /// The head, signed with the router's `key`.
    pub async fn head(&self, key: &NodeKey) -> SignedHead {
        let st = self.state.lock().await;
        SignedHead::sign(Head::of(&self.network, st.seq, &st.hash, &st.ledger), key)
    }

    pub async fn account(&self, id: u128) -> Option<Account> {
        self.state.lock().await.ledger.account(id).copied()
    }

    /// Runs `f` on the current ledger (for reads that need several accounts at one moment).
    pub async fn read<R>(&self, f: impl FnOnce(&Ledger) -> R) -> R {
        f(&self.state.lock().await.ledger)
    }
}
