//! Transactions signed by key holders ([`meson_ledger::tx::Tx`]): a transfer, deposit, stake, unstake,
//! claim bond or council stake from the signer's wallet account. This service verifies the signature and
//! the replay guard and finds a deposit's site; [`meson_ledger::transactions::TxRules`] checks the rest
//! and makes the transfer, which is applied once.

use meson_core::signed::SignedMessage;
use meson_ledger::accounts;
use meson_ledger::claims::BondRules;
use meson_ledger::ids::Purpose;
use meson_ledger::transactions::TxRules;
use meson_ledger::tx::{Tx, TxAction, TX};
use meson_ledger::Outcome;

use super::error::{ServiceError, ServiceResult};
use super::ledger::{one_transfer, open};
use crate::Shared;
use meson_ledger::params::{Param, Params};

/// The rules a transaction is held to: the network's, at the parameters in force.
fn tx_rules<'a>(network: &'a str, p: &Params) -> TxRules<'a> {
    TxRules {
        network,
        unbonding_secs: p.secs(Param::UnbondingSecs),
        bonds: BondRules {
            min_bond: p.get(Param::MinBond),
            dispute_secs: p.life().dispute_secs(),
        },
        council: p.council(),
    }
}

/// What an applied transaction moved.
pub(crate) struct Applied {
    pub transfer: u128,
    pub from: u128,
    pub to: u128,
    pub amount: u128,
}

/// Verifies `msg` (signature, freshness, replay) and applies the transaction once, as its rules allow.
/// A bond is refused here: it comes with its claim's evidence ([`crate::services::claims::file`]), which
/// the router must check before the bond is taken.
pub(crate) async fn apply(s: &Shared, msg: SignedMessage<Tx>) -> ServiceResult<Applied> {
    apply_any(s, msg, false).await
}

/// [`apply`] for the bond of a claim whose evidence was checked.
pub(crate) async fn apply_bond(s: &Shared, msg: SignedMessage<Tx>) -> ServiceResult<Applied> {
    apply_any(s, msg, true).await
}

async fn apply_any(s: &Shared, msg: SignedMessage<Tx>, bond: bool) -> ServiceResult<Applied> {
    let unchecked = msg.verify_signature(TX)?.body;
    if bond != matches!(unchecked.action, TxAction::Bond { .. }) {
        return Err(ServiceError::Invalid(if bond {
            "a claim's bond must be a bond transaction".into()
        } else {
            "a bond comes with its claim's evidence: POST /v1/claims".into()
        }));
    }
    let v = {
        let mut guard = s.replay.lock().unwrap_or_else(|e| e.into_inner());
        msg.verify(TX, meson_node::unix_now(), &mut guard)
    }?;
    let tx = v.body;
    let params = s.params();
    let rules = tx_rules(&s.cfg.network, &params);
    let now = meson_node::unix_now();
    rules.check(&tx, now)?;
    let owner = *v.signer.as_bytes();
    let from = open(s, accounts::wallet(&owner)).await?;
    let site = match &tx.action {
        TxAction::Deposit { site, .. } => s
            .store
            .site_by_host(&site.to_ascii_lowercase())
            .await?
            .map(|site| site.id),
        _ => None,
    };
    let plan = s
        .ledger
        .read(|l| rules.plan(l, &tx, &v.signer, site, now))
        .await?;
    s.ledger.open_accounts(plan.accounts).await?;
    let t = plan.transfer;
    // Bonds and council locks are named by their claim or term, not by the nonce.
    let by_nonce = t.id
        == Purpose::Tx {
            owner,
            nonce: tx.nonce,
        }
        .id();
    match one_transfer(s, t).await? {
        Outcome::Created => Ok(Applied {
            transfer: t.id,
            from,
            to: t.credit_account,
            amount: t.amount,
        }),
        Outcome::Exists if by_nonce => Err(ServiceError::Conflict(format!(
            "nonce {} was already used: the transaction applied before",
            tx.nonce
        ))),
        Outcome::Exists => Err(ServiceError::Conflict(
            "the transaction applied before".into(),
        )),
    }
}
