//! The ledger itself: accounts, committed transfers, pending reservations, and the batch operations
//! that change them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::account::{Account, AccountError, AccountKind, NewAccount};
use crate::amount::Amount;
use crate::transfer::{CommittedTransfer, PendingStatus, Transfer, TransferCode, TransferError};

/// What a successful create did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Applied now.
    Created,
    /// Already applied with exactly these fields; nothing changed.
    Exists,
}

/// Ledger-wide sums, kept so that every transfer can be refused before any sum could overflow and so
/// that the supply is known without a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Totals {
    pub(super) posted: Amount,
    pub(super) pending: Amount,
    pub(super) issued: Amount,
    pub(super) burned: Amount,
}

/// How to undo one change of a linked chain that later fails.
#[derive(Debug, Clone)]
enum Undo {
    Account(Account),
    Transfer(u128),
    Pending(u128, Option<PendingStatus>),
    ExpiryAdded(u64, u128),
    ExpiryRemoved(u64, u128),
}

/// The ledger state machine. See the [module docs](super) for the rules.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub(super) accounts: BTreeMap<u128, Account>,
    pub(super) transfers: BTreeMap<u128, CommittedTransfer>,
    pub(super) pending: BTreeMap<u128, PendingStatus>,
    /// Open pending transfers that expire, by (expires_at, id): expiry order, then id order.
    pub(super) expiry: BTreeSet<(u64, u128)>,
    pub(super) totals: Totals,
    /// The latest `now` seen; time never runs backwards inside the ledger.
    pub(super) clock: u64,
    journal: Vec<Undo>,
    /// Governance, moved by the log's governance events ([`crate::governance`]).
    pub(super) gov: crate::governance::Governance,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    pub(super) fn tick(&mut self, now: u64) -> u64 {
        self.clock = self.clock.max(now);
        self.clock
    }

    /// The governance state: parameters in force, proposals, shutdowns.
    pub fn governance(&self) -> &crate::governance::Governance {
        &self.gov
    }

    /// Ledger time: the largest `now` any batch has passed.
    pub fn now(&self) -> u64 {
        self.clock
    }

    /// Opens accounts, one result per request, in order.
    pub fn create_accounts(
        &mut self,
        accounts: &[NewAccount],
        now: u64,
    ) -> Vec<Result<Outcome, AccountError>> {
        let now = self.tick(now);
        accounts
            .iter()
            .map(|new| {
                if new.id == 0 {
                    return Err(AccountError::IdZero);
                }
                match self.accounts.get(&new.id) {
                    Some(existing) if existing.matches(new) => Ok(Outcome::Exists),
                    Some(_) => Err(AccountError::ExistsWithDifferentFields),
                    None => {
                        self.accounts.insert(new.id, Account::open(new, now));
                        Ok(Outcome::Created)
                    }
                }
            })
            .collect()
    }

    /// Applies transfers in order, one result per transfer. A run of transfers with `linked` set,
    /// together with the first one after it without, commits all or nothing.
    pub fn create_transfers(
        &mut self,
        transfers: &[Transfer],
        now: u64,
    ) -> Vec<Result<Outcome, TransferError>> {
        let now = self.tick(now);
        let mut results: Vec<Result<Outcome, TransferError>> = Vec::with_capacity(transfers.len());
        let mut chain_start = 0;
        let mut chain_totals = self.totals;
        let mut chain_failed = false;
        self.journal.clear();
        for (i, transfer) in transfers.iter().enumerate() {
            let last_in_batch = i + 1 == transfers.len();
            let result = if transfer.flags.linked && last_in_batch {
                Err(TransferError::LinkedEventChainOpen)
            } else if chain_failed {
                Err(TransferError::LinkedEventFailed)
            } else {
                self.create_transfer(transfer, now)
            };
            if result.is_err() && !chain_failed {
                chain_failed = true;
                self.rollback(chain_totals);
                for earlier in &mut results[chain_start..] {
                    *earlier = Err(TransferError::LinkedEventFailed);
                }
            }
            results.push(result);
            if !transfer.flags.linked {
                chain_start = i + 1;
                chain_totals = self.totals;
                chain_failed = false;
                self.journal.clear();
            }
        }
        self.journal.clear();
        results
    }

    fn rollback(&mut self, totals: Totals) {
        while let Some(undo) = self.journal.pop() {
            match undo {
                Undo::Account(account) => {
                    self.accounts.insert(account.id, account);
                }
                Undo::Transfer(id) => {
                    self.transfers.remove(&id);
                }
                Undo::Pending(id, Some(status)) => {
                    self.pending.insert(id, status);
                }
                Undo::Pending(id, None) => {
                    self.pending.remove(&id);
                }
                Undo::ExpiryAdded(at, id) => {
                    self.expiry.remove(&(at, id));
                }
                Undo::ExpiryRemoved(at, id) => {
                    self.expiry.insert((at, id));
                }
            }
        }
        self.totals = totals;
    }

    /// Validates one transfer completely, then applies it; a refused transfer changes nothing.
    fn create_transfer(&mut self, t: &Transfer, now: u64) -> Result<Outcome, TransferError> {
        if t.id == 0 {
            return Err(TransferError::IdZero);
        }
        // Before any other check, so that a retry of a transfer that was valid when it was applied is
        // recognised even if the same transfer would be refused now (its pending transfer expired, say).
        if let Some(existing) = self.transfers.get(&t.id) {
            return if existing.transfer == *t {
                Ok(Outcome::Exists)
            } else {
                Err(TransferError::ExistsWithDifferentFields)
            };
        }
        let f = t.flags;
        if u8::from(f.pending) + u8::from(f.post_pending) + u8::from(f.void_pending) > 1 {
            return Err(TransferError::FlagsAreMutuallyExclusive);
        }
        if f.post_pending || f.void_pending {
            self.resolve_pending(t, now)
        } else {
            self.move_or_reserve(t, now)
        }
    }

    /// A plain transfer, or a pending one that reserves instead of moving.
    fn move_or_reserve(&mut self, t: &Transfer, now: u64) -> Result<Outcome, TransferError> {
        use TransferError as E;
        if t.pending_id != 0 {
            return Err(E::PendingIdMustBeZero);
        }
        if t.timeout_secs != 0 && !t.flags.pending {
            return Err(E::TimeoutReservedForPending);
        }
        if t.debit_account == t.credit_account {
            return Err(E::SameAccount);
        }
        if t.amount == 0 {
            return Err(E::AmountZero);
        }
        let mut debit = *self
            .accounts
            .get(&t.debit_account)
            .ok_or(E::DebitAccountNotFound)?;
        let mut credit = *self
            .accounts
            .get(&t.credit_account)
            .ok_or(E::CreditAccountNotFound)?;
        check_supply_rules(t.code, debit.kind, credit.kind)?;
        if debit.flags.credits_only {
            return Err(E::DebitAccountIsCreditsOnly);
        }
        let amount = t.amount;
        if debit.flags.debits_must_not_exceed_credits {
            let reserved = debit
                .debits_posted
                .checked_add(debit.debits_pending)
                .and_then(|d| d.checked_add(amount));
            if reserved.is_none_or(|d| d > debit.credits_posted) {
                return Err(E::ExceedsCredits);
            }
        }
        // Posted plus pending must fit everywhere, so that posting a reservation later never overflows.
        let fits = |a: Amount, b: Amount| a.checked_add(b).and_then(|s| s.checked_add(amount));
        fits(debit.debits_posted, debit.debits_pending).ok_or(E::Overflow)?;
        fits(credit.credits_posted, credit.credits_pending).ok_or(E::Overflow)?;
        fits(self.totals.posted, self.totals.pending).ok_or(E::Overflow)?;

        let mut totals = self.totals;
        if t.flags.pending {
            let expires_at = match t.timeout_secs {
                0 => None,
                secs => Some(now.checked_add(secs).ok_or(E::Overflow)?),
            };
            debit.debits_pending += amount;
            credit.credits_pending += amount;
            totals.pending += amount;
            self.set_pending(t.id, PendingStatus::Pending { expires_at });
            if let Some(at) = expires_at {
                self.expiry.insert((at, t.id));
                self.journal.push(Undo::ExpiryAdded(at, t.id));
            }
        } else {
            debit.debits_posted += amount;
            credit.credits_posted += amount;
            totals.posted += amount;
            count_supply(&mut totals, t.code, amount);
        }
        self.totals = totals;
        self.set_account(debit);
        self.set_account(credit);
        self.commit(t, t.debit_account, t.credit_account, amount, now);
        Ok(Outcome::Created)
    }

    /// A post or void of an earlier pending transfer.
    fn resolve_pending(&mut self, t: &Transfer, now: u64) -> Result<Outcome, TransferError> {
        use TransferError as E;
        if t.pending_id == 0 {
            return Err(E::PendingIdRequired);
        }
        if t.timeout_secs != 0 {
            return Err(E::TimeoutReservedForPending);
        }
        let pending = *self
            .transfers
            .get(&t.pending_id)
            .ok_or(E::PendingNotFound)?;
        if !pending.transfer.flags.pending {
            return Err(E::NotPending);
        }
        match self.pending.get(&t.pending_id) {
            Some(PendingStatus::Posted { .. }) => return Err(E::PendingAlreadyPosted),
            Some(PendingStatus::Voided { .. }) => return Err(E::PendingAlreadyVoided),
            Some(PendingStatus::Expired) => return Err(E::PendingExpired),
            Some(PendingStatus::Pending {
                expires_at: Some(at),
            }) if now >= *at => return Err(E::PendingExpired),
            Some(PendingStatus::Pending { .. }) => {}
            None => unreachable!("every pending transfer has a status"),
        }
        let same = |given: u128, actual: u128| given == 0 || given == actual;
        if !same(t.debit_account, pending.debit_account)
            || !same(t.credit_account, pending.credit_account)
        {
            return Err(E::PendingAccountsMismatch);
        }
        if t.code != pending.transfer.code {
            return Err(E::PendingCodeMismatch);
        }
        let reserved = pending.amount;
        let posted = if t.flags.post_pending {
            match t.amount {
                0 => reserved,
                a if a > reserved => return Err(E::ExceedsPendingAmount),
                a => a,
            }
        } else {
            if t.amount != 0 && t.amount != reserved {
                return Err(E::VoidAmountMismatch);
            }
            0
        };

        // No overflow or balance check is needed: the reservation already counted `reserved` in every
        // sum that `posted <= reserved` now moves into.
        let mut debit = self.accounts[&pending.debit_account];
        let mut credit = self.accounts[&pending.credit_account];
        debit.debits_pending -= reserved;
        debit.debits_posted += posted;
        credit.credits_pending -= reserved;
        credit.credits_posted += posted;
        self.totals.pending -= reserved;
        self.totals.posted += posted;
        count_supply(&mut self.totals, pending.transfer.code, posted);
        self.set_account(debit);
        self.set_account(credit);
        if let Some(PendingStatus::Pending {
            expires_at: Some(at),
        }) = self.pending.get(&t.pending_id).copied()
        {
            self.expiry.remove(&(at, t.pending_id));
            self.journal.push(Undo::ExpiryRemoved(at, t.pending_id));
        }
        let status = if t.flags.post_pending {
            PendingStatus::Posted { by: t.id }
        } else {
            PendingStatus::Voided { by: t.id }
        };
        self.set_pending(t.pending_id, status);
        let applied = if t.flags.post_pending {
            posted
        } else {
            reserved
        };
        self.commit(
            t,
            pending.debit_account,
            pending.credit_account,
            applied,
            now,
        );
        Ok(Outcome::Created)
    }

    fn set_account(&mut self, account: Account) {
        if let Some(old) = self.accounts.insert(account.id, account) {
            self.journal.push(Undo::Account(old));
        }
    }

    fn set_pending(&mut self, id: u128, status: PendingStatus) {
        let old = self.pending.insert(id, status);
        self.journal.push(Undo::Pending(id, old));
    }

    fn commit(&mut self, t: &Transfer, debit: u128, credit: u128, amount: Amount, now: u64) {
        self.transfers.insert(
            t.id,
            CommittedTransfer {
                transfer: *t,
                debit_account: debit,
                credit_account: credit,
                amount,
                timestamp: now,
            },
        );
        self.journal.push(Undo::Transfer(t.id));
    }

    /// Releases every pending transfer whose timeout has passed at `now` and returns their ids, in order
    /// of expiry time, then id.
    pub fn expire_pending(&mut self, now: u64) -> Vec<u128> {
        let now = self.tick(now);
        let mut expired = Vec::new();
        while let Some(&(at, id)) = self.expiry.first() {
            if at > now {
                break;
            }
            self.expiry.pop_first();
            let pending = self.transfers[&id];
            let amount = pending.amount;
            let debit = self
                .accounts
                .get_mut(&pending.debit_account)
                .expect("a pending transfer's accounts exist");
            debit.debits_pending -= amount;
            let credit = self
                .accounts
                .get_mut(&pending.credit_account)
                .expect("a pending transfer's accounts exist");
            credit.credits_pending -= amount;
            self.totals.pending -= amount;
            self.pending.insert(id, PendingStatus::Expired);
            expired.push(id);
        }
        expired
    }

    pub fn account(&self, id: u128) -> Option<&Account> {
        self.accounts.get(&id)
    }

    /// Every account, in id order.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> + '_ {
        self.accounts.values()
    }

    pub fn transfer(&self, id: u128) -> Option<&CommittedTransfer> {
        self.transfers.get(&id)
    }

    /// The committed transfers that debited or credited `account`, newest first, at most `limit`. A full
    /// scan: an account history is an occasional read, not a hot path.
    pub fn transfers_of(&self, account: u128, limit: usize) -> Vec<&CommittedTransfer> {
        let mut out: Vec<&CommittedTransfer> = self
            .transfers
            .values()
            .filter(|t| t.debit_account == account || t.credit_account == account)
            .collect();
        out.sort_by_key(|t| std::cmp::Reverse((t.timestamp, t.transfer.id)));
        out.truncate(limit);
        out
    }

    /// When the next open pending transfer expires, if any does: until then
    /// [`Ledger::expire_pending`] has nothing to release.
    pub fn next_expiry(&self) -> Option<u64> {
        self.expiry.first().map(|(at, _)| *at)
    }

    /// The pending transfers not yet posted, voided or expired, in id order.
    pub fn open_pending(&self) -> impl Iterator<Item = &CommittedTransfer> + '_ {
        self.pending
            .iter()
            .filter(|(_, st)| matches!(st, PendingStatus::Pending { .. }))
            .filter_map(|(id, _)| self.transfers.get(id))
    }

    /// Where the pending transfer `id` stands; `None` if `id` is not a pending transfer.
    pub fn pending_status(&self, id: u128) -> Option<PendingStatus> {
        self.pending.get(&id).copied()
    }

    /// How many transfers have been committed (resubmissions that returned `Exists` are not counted).
    pub fn transfer_count(&self) -> u64 {
        self.transfers.len() as u64
    }

    /// Everything ever minted (posted mints only).
    pub fn issued(&self) -> Amount {
        self.totals.issued
    }

    /// Everything ever burned (posted burns only).
    pub fn burned(&self) -> Amount {
        self.totals.burned
    }

    /// Tokens in existence: issued minus burned, which equals the posted balances of every account other
    /// than the issuance and burn accounts.
    pub fn supply(&self) -> Amount {
        self.totals.issued - self.totals.burned
    }

    /// BLAKE3 over a canonical encoding of every account in id order and the committed transfer count,
    /// so a replayed ledger can be compared with a live one.
    ///
    /// Encoding: `"meson/v1/ledger-state" 0x00`, the account count as u64 LE, then per account `id`
    /// (u128 LE), kind code (u8), flag bits (u8: bit 0 debits_must_not_exceed_credits, bit 1
    /// credits_only), owner (0x00, or 0x01 and 32 bytes), `user_data`, `debits_pending`, `debits_posted`,
    /// `credits_pending`, `credits_posted` (u128 LE each), `created_at` (u64 LE); finally the transfer
    /// count as u64 LE.
    pub fn state_digest(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(b"meson/v1/ledger-state\0");
        h.update(&(self.accounts.len() as u64).to_le_bytes());
        for a in self.accounts.values() {
            h.update(&a.id.to_le_bytes());
            h.update(&[a.kind.code(), a.flags.bits()]);
            match &a.owner {
                Some(key) => {
                    h.update(&[1]);
                    h.update(key);
                }
                None => {
                    h.update(&[0]);
                }
            }
            for v in [
                a.user_data,
                a.debits_pending,
                a.debits_posted,
                a.credits_pending,
                a.credits_posted,
            ] {
                h.update(&v.to_le_bytes());
            }
            h.update(&a.created_at.to_le_bytes());
        }
        h.update(&self.transfer_count().to_le_bytes());
        *h.finalize().as_bytes()
    }
}

/// Supply changes only through a mint out of an issuance account or a burn into a burn account.
fn check_supply_rules(
    code: TransferCode,
    debit: AccountKind,
    credit: AccountKind,
) -> Result<(), TransferError> {
    use TransferError as E;
    if credit == AccountKind::Issuance {
        return Err(E::IssuanceCannotBeCredited);
    }
    match (code == TransferCode::Mint, debit == AccountKind::Issuance) {
        (true, false) => return Err(E::MintMustDebitIssuance),
        (false, true) => return Err(E::IssuanceRequiresMint),
        _ => {}
    }
    match (code == TransferCode::Burn, credit == AccountKind::Burn) {
        (true, false) => Err(E::BurnMustCreditBurnAccount),
        (false, true) => Err(E::BurnAccountRequiresBurn),
        _ => Ok(()),
    }
}

/// Callers have checked that `issued` and `burned` fit: each is at most `posted`.
fn count_supply(totals: &mut Totals, code: TransferCode, amount: Amount) {
    match code {
        TransferCode::Mint => totals.issued += amount,
        TransferCode::Burn => totals.burned += amount,
        _ => {}
    }
}
