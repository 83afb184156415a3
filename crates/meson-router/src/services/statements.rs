//! What billing did, read back for statements: a site's spend and a terminal's earnings per ended epoch,
//! and each epoch's payout leaves, from which the signed payout root and its proofs are built. What a
//! line settled and the leaves are [`meson_ledger::settlement`]'s reading of the ledger; this service
//! pairs them with the usage the store accepted.

use std::collections::BTreeMap;

use meson_ledger::economics::payout_leaf;
use meson_ledger::merkle;
use meson_ledger::settlement;

use super::billing::accepted;
use super::error::{ServiceError, ServiceResult};
use crate::Shared;

/// The last `n` ended epochs, oldest first, and the billing config; `409` when billing is off.
pub(crate) fn epochs(s: &Shared, n: Option<u64>) -> ServiceResult<(u64, Vec<u64>)> {
    if s.cfg.billing.is_none() {
        return Err(ServiceError::Conflict(
            "billing is off on this router".into(),
        ));
    }
    let epoch_secs = s.epoch_secs();
    let current = meson_node::unix_now() / epoch_secs;
    let n = n.unwrap_or(24).clamp(1, 24 * 31);
    Ok((epoch_secs, (current.saturating_sub(n)..current).collect()))
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
        let mut lines = accepted(s, epoch_secs, e).await?;
        lines.retain(|u| keep(u.site, &u.node));
        let settled: Vec<Option<(u128, u128)>> = s
            .ledger
            .read(|l| {
                lines
                    .iter()
                    .map(|u| settlement::settled(l, e, u.site, &u.node))
                    .collect()
            })
            .await;
        let mut t = EpochTotal {
            bytes: 0,
            fee: 0,
            earned: 0,
            settled: true,
        };
        for (u, settled) in lines.iter().zip(settled) {
            match settled {
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

/// The epoch's payout leaves ([`settlement::payout_leaves`]): (index, account, amount) per terminal
/// account, in account order.
pub(crate) async fn payout_leaves(s: &Shared, epoch: u64) -> ServiceResult<Vec<(u64, u128, u128)>> {
    if s.cfg.billing.is_none() {
        return Err(ServiceError::Conflict(
            "billing is off on this router".into(),
        ));
    }
    let epoch_secs = s.epoch_secs();
    if epoch >= meson_node::unix_now() / epoch_secs {
        return Err(ServiceError::Invalid(format!(
            "epoch {epoch} has not ended"
        )));
    }
    let usage = accepted(s, epoch_secs, epoch).await?;
    s.ledger
        .read(|l| settlement::payout_leaves(l, epoch, &usage))
        .await
        .ok_or_else(|| ServiceError::Conflict(format!("epoch {epoch} is not settled yet")))
}

pub(crate) fn leaf_hashes(epoch: u64, leaves: &[(u64, u128, u128)]) -> Vec<merkle::Hash> {
    leaves
        .iter()
        .map(|(i, a, v)| merkle::leaf_hash(&payout_leaf(epoch, *i, *a, *v)))
        .collect()
}
