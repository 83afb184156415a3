//! Batches as they are logged: one record per call into the ledger, enough to replay it exactly.

use serde::{Deserialize, Serialize};

use crate::account::{AccountError, NewAccount};
use crate::state::{Ledger, Outcome};
use crate::transfer::{Transfer, TransferError};
use crate::u128_string;

/// One call into the ledger, with the time it was made at. Replaying the same batches in the same order
/// on a fresh [`Ledger`] reaches the same state, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Batch {
    CreateAccounts { now: u64, accounts: Vec<NewAccount> },
    CreateTransfers { now: u64, transfers: Vec<Transfer> },
    ExpirePending { now: u64 },
}

/// What a [`Batch`] returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchResults {
    Accounts(Vec<Result<Outcome, AccountError>>),
    Transfers(Vec<Result<Outcome, TransferError>>),
    /// Ids of the pending transfers released.
    Expired(#[serde(with = "u128_string::seq")] Vec<u128>),
}

impl BatchResults {
    /// Whether the batch changed the ledger: created something or released a reservation. Only such
    /// batches need to be logged.
    pub fn changed(&self) -> bool {
        match self {
            BatchResults::Accounts(r) => r.iter().any(|r| matches!(r, Ok(Outcome::Created))),
            BatchResults::Transfers(r) => r.iter().any(|r| matches!(r, Ok(Outcome::Created))),
            BatchResults::Expired(ids) => !ids.is_empty(),
        }
    }
}

impl Ledger {
    /// Runs one logged batch. A batch that changes nothing leaves the ledger exactly as it was, its
    /// clock included, so a server need not log it and a replay of the log still ends in the same state.
    pub fn apply(&mut self, batch: &Batch) -> BatchResults {
        let clock = self.clock;
        let results = self.apply_unlogged(batch);
        if !results.changed() {
            self.clock = clock;
        }
        results
    }

    fn apply_unlogged(&mut self, batch: &Batch) -> BatchResults {
        match batch {
            Batch::CreateAccounts { now, accounts } => {
                BatchResults::Accounts(self.create_accounts(accounts, *now))
            }
            Batch::CreateTransfers { now, transfers } => {
                BatchResults::Transfers(self.create_transfers(transfers, *now))
            }
            Batch::ExpirePending { now } => BatchResults::Expired(self.expire_pending(*now)),
        }
    }

    /// A fresh ledger after `batches`, in order.
    pub fn replay<'a>(batches: impl IntoIterator<Item = &'a Batch>) -> Ledger {
        let mut ledger = Ledger::new();
        for batch in batches {
            ledger.apply(batch);
        }
        ledger
    }
}
