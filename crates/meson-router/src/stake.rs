//! Stake: what makes cheating expensive. A terminal stakes with its node key (`meson-cdn wallet --key
//! DATA_DIR/node.key stake`); with `min_stake` set, a terminal whose stake account holds less is out of
//! rotation. Unstaking is a pending transfer from stake to wallet, posted only after the unbonding period,
//! which is longer than the dispute window, so there is always stake left to slash. A slash voids the
//! owner's unbonding transfers first, then moves the amount out of the stake in one linked chain: to the
//! claimant, to the burn account and to the treasury, with ids derived from the evidence so the same
//! evidence slashes once.

use std::sync::Arc;
use std::time::Duration;

use meson_core::economics::{settlement_id, split_slash};
use meson_core::ledger::tx::{stake_account, wallet_account};
use meson_core::ledger::{Batch, BatchResults, Transfer, TransferCode, TransferFlags};
use tokio::sync::watch;

use crate::ledger::{LedgerError, BURN, TREASURY};
use crate::Shared;

/// Posts each unbonding transfer whose period has passed (its `user_data` is the unlock time).
async fn release_matured(s: &Shared, now: u64) -> Result<usize, LedgerError> {
    let due: Vec<u128> = s
        .ledger
        .read(|l| {
            l.open_pending()
                .filter(|t| t.transfer.code == TransferCode::Unstake)
                .filter(|t| t.transfer.user_data <= u128::from(now))
                .map(|t| t.transfer.id)
                .collect()
        })
        .await;
    if due.is_empty() {
        return Ok(0);
    }
    let transfers = due
        .iter()
        .map(|id| Transfer {
            pending_id: *id,
            flags: TransferFlags {
                post_pending: true,
                ..TransferFlags::default()
            },
            ..Transfer::new(
                settlement_id(&[b"unbond", &id.to_le_bytes()]),
                0,
                0,
                0,
                TransferCode::Unstake,
            )
        })
        .collect();
    s.ledger
        .submit(Batch::CreateTransfers { now, transfers })
        .await?;
    tracing::info!(count = due.len(), "unbonded stake released");
    Ok(due.len())
}

/// Puts in rotation only terminals holding at least `min`.
async fn refresh_staked(s: &Shared, min: u128) {
    for (node, _) in s.registry.urls() {
        let held = s
            .ledger
            .account(stake_account(&node))
            .await
            .and_then(|a| a.available())
            .unwrap_or(0);
        s.registry.set_staked(&node, held >= min);
    }
}

/// Once per heartbeat interval: release matured unbonding, and check stakes against the minimum.
pub(crate) async fn run(s: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = release_matured(&s, crate::unix_now()).await {
            tracing::warn!(error = %e, "cannot release unbonded stake");
        }
        if s.cfg.min_stake > 0 {
            refresh_staked(&s, s.cfg.min_stake).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(s.cfg.heartbeat.max(Duration::from_millis(200))) => {}
            _ = stop.wait_for(|v| *v) => return,
        }
    }
}

/// What a slash did.
pub(crate) enum Slashed {
    /// Moved out of the stake now.
    Now {
        amount: u128,
        claimant: u128,
        burned: u128,
        treasury: u128,
    },
    /// This evidence was already used: nothing moved again.
    Before,
    /// Nothing left at stake.
    Nothing,
    /// The ledger refused the slash (an unknown claimant account, say).
    Refused(String),
}

/// Slashes up to `amount` of `owner`'s stake for the evidence whose digest is `evidence`: voids the
/// owner's unbonding first (that stake is still at stake), then pays claimant, burn and treasury.
pub(crate) async fn slash(
    s: &Shared,
    owner: &[u8; 32],
    amount: u128,
    claimant: u128,
    evidence: &[u8; 32],
) -> Result<Slashed, LedgerError> {
    let stake = stake_account(owner);
    let wallet = wallet_account(owner);
    let now = crate::unix_now();
    let unbonding: Vec<u128> = s
        .ledger
        .read(|l| {
            l.open_pending()
                .filter(|t| t.transfer.code == TransferCode::Unstake && t.debit_account == stake)
                .map(|t| t.transfer.id)
                .collect()
        })
        .await;
    if !unbonding.is_empty() {
        let voids = unbonding
            .iter()
            .map(|id| Transfer {
                pending_id: *id,
                flags: TransferFlags {
                    void_pending: true,
                    ..TransferFlags::default()
                },
                ..Transfer::new(
                    settlement_id(&[b"slash-void", evidence, &id.to_le_bytes()]),
                    stake,
                    wallet,
                    0,
                    TransferCode::Unstake,
                )
            })
            .collect();
        s.ledger
            .submit(Batch::CreateTransfers {
                now,
                transfers: voids,
            })
            .await?;
    }
    let held = s
        .ledger
        .account(stake)
        .await
        .and_then(|a| a.available())
        .unwrap_or(0);
    let first = settlement_id(&[b"slash", evidence, b"claimant"]);
    let burn_id = settlement_id(&[b"slash", evidence, b"burn"]);
    if s.ledger
        .read(|l| l.transfer(first).is_some() || l.transfer(burn_id).is_some())
        .await
    {
        return Ok(Slashed::Before);
    }
    let amount = amount.min(held);
    if amount == 0 {
        return Ok(Slashed::Nothing);
    }
    let (to_claimant, burned, treasury) = split_slash(amount, s.cfg.slash_shares);
    let id = |part: &[u8]| settlement_id(&[b"slash", evidence, part]);
    let mut transfers: Vec<Transfer> = [
        (id(b"claimant"), claimant, to_claimant, TransferCode::Slash),
        (id(b"burn"), BURN, burned, TransferCode::Burn),
        (id(b"treasury"), TREASURY, treasury, TransferCode::Slash),
    ]
    .into_iter()
    .filter(|(_, _, amount, _)| *amount > 0)
    .map(|(id, to, amount, code)| Transfer::new(id, stake, to, amount, code))
    .collect();
    let last = transfers.len() - 1;
    for (i, t) in transfers.iter_mut().enumerate() {
        t.flags.linked = i < last;
        t.user_data = u128::from_le_bytes(evidence[..16].try_into().expect("16 bytes"));
    }
    let results = s
        .ledger
        .submit(Batch::CreateTransfers { now, transfers })
        .await?;
    if let BatchResults::Transfers(r) = &results {
        if let Some(Err(e)) = r.iter().find(|r| r.is_err()) {
            return Ok(Slashed::Refused(e.to_string()));
        }
    }
    Ok(Slashed::Now {
        amount,
        claimant: to_claimant,
        burned,
        treasury,
    })
}
