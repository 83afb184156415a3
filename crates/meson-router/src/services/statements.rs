//! What billing did, read back for statements: a site's spend and a terminal's earnings per ended epoch,
//! and each epoch's payout leaves, from which the signed payout root and its proofs are built.

use std::collections::BTreeMap;

use meson_ledger::economics::payout_leaf;
use meson_ledger::merkle;

use super::billing;
use super::error::{ServiceError, ServiceResult};
use crate::Shared;
use meson_ledger::accounts::terminal_account;

/// The last `n` ended epochs, oldest first, and the billing config; `409` when billing is off.
pub(crate) fn epochs(s: &Shared, n: Option<u64>) -> ServiceResult<(u64, Vec<u64>)> {
    let cfg = s
        .cfg
        .billing
        .as_ref()
        .ok_or_else(|| ServiceError::Conflict("billing is off on this router".into()))?;
    let current = meson_node::unix_now() / cfg.epoch_secs;
    let n = n.unwrap_or(24).clamp(1, 24 * 31);
    Ok((
        cfg.epoch_secs,
        (current.saturating_sub(n)..current).collect(),
    ))
}

/// One epoch's accepted usage among the lines `keep` selects, and what settling it moved.
pub(crate) struct EpochTotal {
    pub bytes: u64,
    pub fee: u128,
    pub earned: u128,
    /// Every selected line is settled (an ended epoch is settled within a few seconds).
    pub settled: bool,
}

/// For each epoch with usage among the lines `keep` selects: its bytes and settlement.
pub(crate) async fn settled_per_epoch(
    s: &Shared,
    epoch_secs: u64,
    epochs: &[u64],
    keep: impl Fn(i64, &[u8; 32]) -> bool,
) -> ServiceResult<BTreeMap<u64, EpochTotal>> {
    let mut out = BTreeMap::new();
    for &e in epochs {
        let sums = s
            .store
            .usage_accepted_between(e * epoch_secs, (e + 1) * epoch_secs)
            .await?;
        let mut t = EpochTotal {
            bytes: 0,
            fee: 0,
            earned: 0,
            settled: true,
        };
        for u in sums.iter().filter(|u| keep(u.site_id, &u.terminal)) {
            match billing::settled(s, e, u.site_id, &u.terminal).await {
                Some((f, p)) => {
                    t.fee += f;
                    t.earned += p;
                }
                None => t.settled = false,
            }
            t.bytes += u.bytes;
        }
        if t.bytes > 0 {
            out.insert(e, t);
        }
    }
    Ok(out)
}

/// The epoch's payouts, one leaf per terminal account in account order: (index, account, amount), the
/// amount being all the account was paid for the epoch (customer earnings and subsidy), so its proof
/// covers every token it received.
pub(crate) async fn payout_leaves(s: &Shared, epoch: u64) -> ServiceResult<Vec<(u64, u128, u128)>> {
    let cfg = s
        .cfg
        .billing
        .as_ref()
        .ok_or_else(|| ServiceError::Conflict("billing is off on this router".into()))?;
    if epoch >= meson_node::unix_now() / cfg.epoch_secs {
        return Err(ServiceError::Invalid(format!(
            "epoch {epoch} has not ended"
        )));
    }
    let sums = s
        .store
        .usage_accepted_between(epoch * cfg.epoch_secs, (epoch + 1) * cfg.epoch_secs)
        .await?;
    let mut by_account: BTreeMap<u128, u128> = BTreeMap::new();
    let mut terminals = std::collections::BTreeSet::new();
    for u in &sums {
        match billing::settled(s, epoch, u.site_id, &u.terminal).await {
            Some((_, earned)) if earned > 0 => {
                *by_account.entry(terminal_account(&u.terminal)).or_default() += earned
            }
            Some(_) => {}
            None => {
                return Err(ServiceError::Conflict(format!(
                    "epoch {epoch} is not settled yet"
                )))
            }
        }
        terminals.insert(u.terminal);
    }
    // A terminal's subsidy is one transfer per epoch, however many sites it served.
    for node in &terminals {
        let subsidy = billing::subsidy_paid(s, epoch, node).await;
        if subsidy > 0 {
            *by_account.entry(terminal_account(node)).or_default() += subsidy;
        }
    }
    Ok(by_account
        .into_iter()
        .enumerate()
        .map(|(i, (account, amount))| (i as u64, account, amount))
        .collect())
}

pub(crate) fn leaf_hashes(epoch: u64, leaves: &[(u64, u128, u128)]) -> Vec<merkle::Hash> {
    leaves
        .iter()
        .map(|(i, a, v)| merkle::leaf_hash(&payout_leaf(epoch, *i, *a, *v)))
        .collect()
}
