//! Council stake. A council member locks stake for a term with a signed
//! [`TxAction::CouncilStake`](meson_ledger::tx::TxAction::CouncilStake): a pending transfer from
//! the wallet into the member's stake account, one per member and term. It is released (voided back to
//! the wallet) once the term has ended and the unbonding period after it has passed, so a member's
//! conduct in office stays slashable through the dispute window; a slash posts it into the stake first.
//! Terms are numbered from the Unix epoch: term `n` runs `[n·len, (n+1)·len)`.

use meson_core::identity::NodeId;
use meson_ledger::accounts::stake_account;
use meson_ledger::council::CouncilRules;
use meson_ledger::ids::Purpose;
use meson_ledger::{format_amount, CommittedTransfer, Ledger, Transfer, TransferCode};

use super::error::{ServiceError, ServiceResult};
use super::ledger::open;
use crate::{RouterConfig, Shared};

impl RouterConfig {
    /// The council's terms and stake, as configured.
    pub(crate) fn council(&self) -> CouncilRules {
        CouncilRules {
            term_secs: self.council_term_secs,
            unbonding_secs: self.unbonding_secs,
            min_stake: self.council_min_stake,
        }
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
    let current = s.cfg.council().term(now);
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
    let id = Purpose::CouncilLock {
        owner: *owner,
        term,
    }
    .id();
    if s.ledger.read(|l| l.transfer(id).is_some()).await {
        return Err(ServiceError::Conflict(format!(
            "stake for term {term} is already locked"
        )));
    }
    let stake = open(s, meson_ledger::accounts::stake(owner)).await?;
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
