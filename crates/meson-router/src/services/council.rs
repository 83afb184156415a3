//! Council stake. A council member locks stake for a term with a signed
//! [`TxAction::CouncilStake`](meson_core::ledger::tx::TxAction::CouncilStake): a pending transfer from
//! the wallet into the member's stake account, one per member and term. It is released (voided back to
//! the wallet) once the term has ended and the unbonding period after it has passed, so a member's
//! conduct in office stays slashable through the dispute window; a slash posts it into the stake first.
//! Terms are numbered from the Unix epoch: term `n` runs `[n·len, (n+1)·len)`.

use meson_core::identity::NodeId;
use meson_core::ledger::tx::{council_lock_id, stake_account};
use meson_core::ledger::{format_amount, CommittedTransfer, Ledger, Transfer, TransferCode};

use super::error::{ServiceError, ServiceResult};
use super::ledger::open_stake;
use crate::Shared;

impl Shared {
    pub(crate) fn council_term(&self, now: u64) -> u64 {
        now / self.cfg.council_term_secs
    }

    /// When the stake locked for `term` goes back to its owner.
    pub(crate) fn council_release_at(&self, term: u64) -> u64 {
        term.saturating_add(1)
            .saturating_mul(self.cfg.council_term_secs)
            .saturating_add(self.cfg.unbonding_secs)
    }
}

/// The open council locks (pending stake transfers; `user_data` is the term), in id order.
pub(crate) fn locks(l: &Ledger) -> impl Iterator<Item = &CommittedTransfer> + '_ {
    l.open_pending()
        .filter(|t| t.transfer.code == TransferCode::Stake)
}

/// The pending transfer locking `amount` from `wallet` into `owner`'s stake for `term`, after the checks:
/// the current or the next term, at least the least council stake, once per term.
pub(crate) async fn lock(
    s: &Shared,
    owner: &[u8; 32],
    wallet: u128,
    term: u64,
    amount: u128,
    now: u64,
) -> ServiceResult<Transfer> {
    let current = s.council_term(now);
    if term != current && term != current + 1 {
        return Err(ServiceError::Invalid(format!(
            "term {term} is neither the current term ({current}) nor the next"
        )));
    }
    if amount < s.cfg.council_min_stake {
        return Err(ServiceError::Invalid(format!(
            "a council member locks at least {}",
            format_amount(s.cfg.council_min_stake)
        )));
    }
    let id = council_lock_id(owner, term);
    if s.ledger.read(|l| l.transfer(id).is_some()).await {
        return Err(ServiceError::Conflict(format!(
            "stake for term {term} is already locked"
        )));
    }
    let stake = open_stake(s, owner).await?;
    let mut t = Transfer::new(id, wallet, stake, amount, TransferCode::Stake);
    t.flags.pending = true;
    t.user_data = u128::from(term);
    Ok(t)
}

/// Who locked stake for `term`, largest lock first (ties by key).
pub(crate) async fn members(s: &Shared, term: u64) -> Vec<(u128, NodeId)> {
    let mut members: Vec<(u128, NodeId)> = s
        .ledger
        .read(|l| {
            locks(l)
                .filter(|t| t.transfer.user_data == u128::from(term))
                .filter_map(|t| {
                    let owner = l.account(t.credit_account)?.owner?;
                    (stake_account(&owner) == t.credit_account)
                        .then(|| NodeId::from_bytes(&owner).ok())
                        .flatten()
                        .map(|id| (t.amount, id))
                })
                .collect()
        })
        .await;
    members.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    members
}
