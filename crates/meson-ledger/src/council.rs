//! Council stake. A member locks stake for a term: a pending transfer from the wallet into the member's
//! stake account ([`Purpose::CouncilLock`], [`Memo::Term`]), one per member and term. It is released
//! (voided back to the wallet) once the term has ended and the unbonding period after it has passed, so a
//! member's conduct in office stays slashable through the dispute window; a slash posts it into the
//! stake first. Terms are numbered from the Unix epoch: term `n` runs `[n·len, (n+1)·len)`.

use crate::accounts::{stake_account, wallet_account};
use crate::ids::Purpose;
use crate::memo::Memo;
use crate::refusal::Refusal;
use crate::{Amount, CommittedTransfer, Ledger, Transfer, TransferCode};

/// The council's terms and stake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CouncilRules {
    /// Seconds per term (positive).
    pub term_secs: u64,
    /// Seconds locked stake stays slashable after its term.
    pub unbonding_secs: u64,
    /// The least stake a member locks for a term.
    pub min_stake: Amount,
}

impl CouncilRules {
    /// The term running at `now`.
    pub fn term(&self, now: u64) -> u64 {
        now / self.term_secs
    }

    /// When the stake locked for `term` goes back to its owner.
    pub fn release_at(&self, term: u64) -> u64 {
        term.saturating_add(1)
            .saturating_mul(self.term_secs)
            .saturating_add(self.unbonding_secs)
    }

    /// The pending transfer locking `amount` from `owner`'s wallet into its stake account for `term`,
    /// after the checks: the current or the next term, at least the least council stake, once per term.
    pub fn lock(
        &self,
        l: &Ledger,
        owner: &[u8; 32],
        term: u64,
        amount: Amount,
        now: u64,
    ) -> Result<Transfer, Refusal> {
        let current = self.term(now);
        if term != current && term != current + 1 {
            return Err(Refusal::NotATerm { term, current });
        }
        if amount < self.min_stake {
            return Err(Refusal::CouncilStakeTooSmall {
                min: self.min_stake,
            });
        }
        let id = Purpose::CouncilLock {
            owner: *owner,
            term,
        }
        .id();
        if l.transfer(id).is_some() {
            return Err(Refusal::AlreadyLocked { term });
        }
        let (wallet, stake) = (wallet_account(owner), stake_account(owner));
        let mut t = Transfer::new(id, wallet, stake, amount, TransferCode::Stake)
            .with_memo(Memo::Term(term));
        t.flags.pending = true;
        Ok(t)
    }
}

/// The open council locks (pending stake transfers), in id order.
pub fn locks(l: &Ledger) -> impl Iterator<Item = &CommittedTransfer> + '_ {
    l.open_pending()
        .filter(|t| t.transfer.code == TransferCode::Stake)
}

/// Who locked stake for `term`: (amount, owner) of each lock into its owner's own stake account,
/// largest first (ties by key).
pub fn members(l: &Ledger, term: u64) -> Vec<(Amount, [u8; 32])> {
    let mut members: Vec<(Amount, [u8; 32])> = locks(l)
        .filter(|t| Memo::term(&t.transfer) == Some(term))
        .filter_map(|t| {
            let owner = l.account(t.credit_account)?.owner?;
            (stake_account(&owner) == t.credit_account).then_some((t.amount, owner))
        })
        .collect();
    members.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    members
}
