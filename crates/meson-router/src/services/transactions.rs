//! Transactions signed by key holders ([`meson_ledger::tx::Tx`]): a transfer, deposit, stake,
//! unstake, claim bond or council stake from the signer's wallet account, checked and applied once.

use meson_core::signed::SignedMessage;
use meson_ledger::ids::Purpose;
use meson_ledger::tx::{Tx, TxAction, MAX_TX_LIFETIME_SECS, TX};
use meson_ledger::{Outcome, Transfer, TransferCode};

use super::error::{ServiceError, ServiceResult};
use meson_ledger::accounts;

use super::ledger::{one_transfer, open};
use super::{claims, council};
use crate::Shared;

/// What an applied transaction moved.
pub(crate) struct Applied {
    pub transfer: u128,
    pub from: u128,
    pub to: u128,
    pub amount: u128,
}

/// Verifies `msg` (signature, freshness, replay), checks it is for this network and unexpired, and
/// applies it.
pub(crate) async fn apply(s: &Shared, msg: SignedMessage<Tx>) -> ServiceResult<Applied> {
    let v = {
        let mut guard = s.replay.lock().unwrap_or_else(|e| e.into_inner());
        msg.verify(TX, meson_node::unix_now(), &mut guard)
    }?;
    let tx = v.body;
    if tx.network != s.cfg.network {
        return Err(ServiceError::Invalid(format!(
            "the transaction is for network {:?}; this router's is {:?}",
            tx.network, s.cfg.network
        )));
    }
    let now = meson_node::unix_now();
    if tx.expires < now {
        return Err(ServiceError::Invalid(format!(
            "the transaction expired at {}",
            tx.expires
        )));
    }
    if tx.expires > now + MAX_TX_LIFETIME_SECS {
        return Err(ServiceError::Invalid(format!(
            "expiry more than {MAX_TX_LIFETIME_SECS} s ahead"
        )));
    }
    let from = open(s, accounts::wallet(v.signer.as_bytes())).await?;
    let owner = *v.signer.as_bytes();
    let id = Purpose::Tx {
        owner,
        nonce: tx.nonce,
    }
    .id();
    let transfer = match tx.action {
        TxAction::Transfer { to, amount } => {
            Transfer::new(id, from, to, amount, TransferCode::Transfer)
        }
        TxAction::Deposit { site, amount } => {
            let found = s.store.site_by_host(&site.to_ascii_lowercase()).await?;
            let site = found.ok_or_else(|| ServiceError::NotFound(format!("no site {site}")))?;
            let escrow = open(s, accounts::escrow(site.id)).await?;
            Transfer::new(id, from, escrow, amount, TransferCode::Deposit)
        }
        TxAction::Stake { amount } => {
            let stake = open(s, accounts::stake(&owner)).await?;
            Transfer::new(id, from, stake, amount, TransferCode::Stake)
        }
        TxAction::Unstake { amount } => {
            let stake = open(s, accounts::stake(&owner)).await?;
            let mut t = Transfer::new(id, stake, from, amount, TransferCode::Unstake);
            t.flags.pending = true;
            // Released by the router after the unbonding period; until then still slashable.
            t.user_data = u128::from(now + s.cfg.unbonding_secs);
            t
        }
        TxAction::Bond {
            claim,
            accused,
            amount,
        } => claims::bond(s, from, &claim, &accused, amount).await?,
        TxAction::CouncilStake { term, amount } => {
            council::lock(s, &owner, from, term, amount, now).await?
        }
    };
    // Bonds and council locks are named by their claim or term, not by the nonce.
    let (made, to, amount) = (transfer.id, transfer.credit_account, transfer.amount);
    match one_transfer(s, transfer).await? {
        Outcome::Created => Ok(Applied {
            transfer: made,
            from,
            to,
            amount,
        }),
        Outcome::Exists if made == id => Err(ServiceError::Conflict(format!(
            "nonce {} was already used: the transaction applied before",
            tx.nonce
        ))),
        Outcome::Exists => Err(ServiceError::Conflict(
            "the transaction applied before".into(),
        )),
    }
}
