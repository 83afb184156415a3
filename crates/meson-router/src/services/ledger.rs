//! The router's ledger: the state machine of [`meson_ledger`] kept in memory, every batch that changes
//! it appended to the audit log in the store before its results are returned, and the whole state
//! rebuilt from that log (with every check an auditor makes) at start-up. Balances are never stored apart
//! from the log, so they cannot disagree with it.
//!
//! Besides the service, the plumbing every money service shares: the operator check, opening accounts
//! ([`meson_ledger::accounts`] names them), `submit`, and the operator's mint and correction, whose
//! transfers [`meson_ledger::transactions`] makes.

use std::sync::Arc;

use http::HeaderMap;
use meson_core::identity::{NodeId, NodeKey};
use meson_ledger::accounts::{self, TREASURY};
use meson_ledger::audit::{encode_entry, Head, Replay, SignedHead};
use meson_ledger::governance::{GovEvent, Schedule};
use meson_ledger::params::Params;
use meson_ledger::transactions::{correction, mint as mint_transfer};
use meson_ledger::{
    Account, Batch, BatchResults, Ledger, LogRecord, NewAccount, Outcome, Transfer, TransferCode,
    TransferError,
};
use meson_store::{LedgerEntry, Store};
use tokio::sync::Mutex;

pub use super::error::LedgerError;
use super::error::{ServiceError, ServiceResult};
use crate::Shared;

/// Log entries read per query while replaying.
const PAGE: usize = 1_000;

struct State {
    ledger: Ledger,
    seq: u64,
    hash: [u8; 32],
}

pub struct LedgerService {
    store: Arc<dyn Store>,
    network: String,
    state: Mutex<State>,
    /// The governance's parameter schedule, copied out of the ledger whenever a governance event is
    /// applied, so the services read parameters without waiting for the ledger.
    schedule: std::sync::RwLock<Schedule>,
    /// The parameters of the epoch asked last, so the redirect path does not fold the schedule per
    /// request; cleared when the schedule changes.
    current: std::sync::RwLock<Option<(u64, Arc<Params>)>>,
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
    let tokens = |units: u128| units as f64 / meson_ledger::ONE_TOKEN as f64;
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
    /// Rebuilds the ledger from the store's log, verifying it, opens the system accounts and, on a new
    /// network, logs the governance genesis: `genesis`, the parameters it starts from. A network that
    /// has one keeps it; governance alone changes it.
    pub async fn open(
        store: Arc<dyn Store>,
        network: String,
        genesis: Params,
        now: u64,
    ) -> Result<LedgerService, LedgerError> {
        let state = replay(store.as_ref()).await?;
        publish(&state);
        tracing::info!(
            entries = state.seq,
            accounts = state.ledger.accounts().count(),
            "ledger replayed from its audit log"
        );
        let schedule = std::sync::RwLock::new(state.ledger.governance().schedule().clone());
        let service = LedgerService {
            store,
            network,
            state: Mutex::new(state),
            schedule,
            current: std::sync::RwLock::new(None),
        };
        service
            .submit(Batch::CreateAccounts {
                now,
                accounts: accounts::system().to_vec(),
            })
            .await?;
        let logged = service.read(|l| l.governance().genesis().cloned()).await;
        match logged {
            None => {
                let event = GovEvent::Genesis {
                    network: service.network.clone(),
                    params: genesis,
                };
                if let BatchResults::Refused(e) = service
                    .submit(Batch::Record {
                        now,
                        record: LogRecord::Gov(event),
                    })
                    .await?
                {
                    return Err(LedgerError::Genesis(e.to_string()));
                }
            }
            Some(logged) if logged != genesis => tracing::warn!(
                "the parameter flags differ from this network's genesis: they only seed a new network, and the values in force are governance's (meson-cdn gov params)"
            ),
            Some(_) => {}
        }
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
            created_at: meson_node::unix_now(),
        };
        if let Err(e) = self.store.append_ledger_entry(&entry).await {
            tracing::error!(error = %e, "ledger batch not logged: rebuilding the ledger from the log");
            *st = replay(self.store.as_ref()).await?;
            return Err(e.into());
        }
        st.seq = seq;
        st.hash = hash;
        if let Batch::Record {
            record: LogRecord::Gov(_),
            ..
        } = batch
        {
            *self.schedule.write().unwrap_or_else(|e| e.into_inner()) =
                st.ledger.governance().schedule().clone();
            *self.current.write().unwrap_or_else(|e| e.into_inner()) = None;
        }
        metrics::counter!("meson_router_ledger_batches_total").increment(1);
        publish(&st);
        Ok(results)
    }

    /// Opens `accounts` (idempotent: opening one again with the same fields changes nothing).
    pub async fn open_accounts(&self, accounts: Vec<NewAccount>) -> Result<(), LedgerError> {
        if !accounts.is_empty() {
            self.submit(Batch::CreateAccounts {
                now: meson_node::unix_now(),
                accounts,
            })
            .await?;
        }
        Ok(())
    }

    /// The head, signed with the router's `key`.
    pub async fn head(&self, key: &NodeKey) -> SignedHead {
        let st = self.state.lock().await;
        SignedHead::sign(Head::of(&self.network, st.seq, &st.hash, &st.ledger), key)
    }

    /// The parameters in force per epoch.
    pub fn schedule(&self) -> Schedule {
        self.schedule
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The parameters in force at `now`.
    pub fn params_now(&self, now: u64) -> Arc<Params> {
        let schedule = self.schedule.read().unwrap_or_else(|e| e.into_inner());
        let epoch = schedule.epoch(now);
        if let Some((e, p)) = &*self.current.read().unwrap_or_else(|e| e.into_inner()) {
            if *e == epoch {
                return p.clone();
            }
        }
        let p = Arc::new(schedule.at(epoch));
        drop(schedule);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some((epoch, p.clone()));
        p
    }

    pub async fn account(&self, id: u128) -> Option<Account> {
        self.state.lock().await.ledger.account(id).copied()
    }

    /// Runs `f` on the current ledger (for reads that need several accounts at one moment).
    pub async fn read<R>(&self, f: impl FnOnce(&Ledger) -> R) -> R {
        f(&self.state.lock().await.ledger)
    }
}

/// Checks the operator's bearer token (in constant time, see [`meson_node::bearer_matches`]).
pub(crate) fn operator(s: &Shared, headers: &HeaderMap) -> ServiceResult<()> {
    if meson_node::bearer_matches(headers, &s.operator_token) {
        Ok(())
    } else {
        Err(ServiceError::Unauthorized(
            "operator token required (DATA_DIR/operator.token)".into(),
        ))
    }
}

/// Opens `account` (idempotent) and returns its id.
pub(crate) async fn open(s: &Shared, account: NewAccount) -> Result<u128, LedgerError> {
    s.ledger.open_accounts(vec![account]).await?;
    Ok(account.id)
}

/// Submits `transfers` (a linked chain, or one transfer); a refusal becomes a `422` that says why.
pub(crate) async fn submit(s: &Shared, transfers: Vec<Transfer>) -> ServiceResult<Vec<Outcome>> {
    let results = s
        .ledger
        .submit(Batch::CreateTransfers {
            now: meson_node::unix_now(),
            transfers,
        })
        .await?;
    let refused = ServiceError::Refused;
    let BatchResults::Transfers(results) = results else {
        return Err(ServiceError::Invalid("unexpected batch result".into()));
    };
    // In a failed chain the others report only that the chain failed: name the transfer that did.
    let failed = results
        .iter()
        .find(|r| !matches!(r, Err(TransferError::LinkedEventFailed) | Ok(_)))
        .or_else(|| results.iter().find(|r| r.is_err()));
    match failed {
        Some(Err(TransferError::ExceedsCredits)) => Err(refused("insufficient funds".into())),
        Some(Err(TransferError::CreditAccountNotFound)) => Err(refused(
            "unknown account: the recipient has no ledger account".into(),
        )),
        Some(Err(e)) => Err(refused(e.to_string())),
        _ => Ok(results.into_iter().flatten().collect()),
    }
}

/// Appends a council event (a claim filed, a vote, a ballot, …) to the audit log: it moves no money,
/// but whoever replays the log sees it, signed messages verbatim.
pub(crate) async fn log(s: &Shared, record: LogRecord) -> ServiceResult<()> {
    s.ledger
        .submit(Batch::Record {
            now: meson_node::unix_now(),
            record,
        })
        .await?;
    Ok(())
}

/// Submits one transfer, as [`submit`].
pub(crate) async fn one_transfer(s: &Shared, transfer: Transfer) -> ServiceResult<Outcome> {
    submit(s, vec![transfer])
        .await?
        .pop()
        .ok_or_else(|| ServiceError::Invalid("empty batch".into()))
}

/// Mints `amount` new tokens into account `to`, or into `owner`'s wallet (opened if need be), as the
/// transfer `id`: the same request sent twice mints once. Returns the outcome and the account credited.
pub(crate) async fn mint(
    s: &Shared,
    id: u128,
    to: Option<u128>,
    owner: Option<NodeId>,
    amount: u128,
) -> ServiceResult<(Outcome, u128)> {
    let to = match (to, owner) {
        (Some(to), None) => to,
        (None, Some(owner)) => open(s, accounts::wallet(owner.as_bytes())).await?,
        _ => {
            return Err(ServiceError::Invalid(
                "give exactly one of to (an account id) and owner (a public key)".into(),
            ))
        }
    };
    Ok((one_transfer(s, mint_transfer(id, to, amount)).await?, to))
}

/// What a correction moved.
pub(crate) struct Correction {
    pub id: u128,
    pub from: u128,
    pub to: u128,
    pub amount: u128,
    pub code: TransferCode,
}

/// Fixes the mistaken transfer `reverses` by the correction [`meson_ledger::transactions::correction`]
/// makes, moving `amount` tokens (default: all it moved).
pub(crate) async fn correct(
    s: &Shared,
    reverses: u128,
    amount: Option<&str>,
) -> ServiceResult<Correction> {
    let t = s.ledger.read(|l| correction(l, reverses, amount)).await?;
    one_transfer(s, t).await?;
    Ok(Correction {
        id: t.id,
        from: t.debit_account,
        to: t.credit_account,
        amount: t.amount,
        code: t.code,
    })
}
