//! Stake: what makes cheating expensive. A terminal stakes with its node key (`meson-cdn wallet --key
//! DATA_DIR/node.key stake`); with `min_stake` set, a terminal whose stake account holds less is out of
//! rotation. Unstaking is a pending transfer from stake to wallet, posted only after the unbonding period,
//! which is longer than the dispute window, so there is always stake left to slash.
//!
//! The rules are [`meson_ledger::stake`]'s: [`meson_ledger::stake::matured`] says which locks to release
//! now, and a [`Slash`] plans a slash in its two steps (unlock everything at stake, then take the amount
//! in one linked chain to claimant, burn and treasury, with ids derived from the evidence so the same
//! evidence slashes once). This service runs the release task and submits what the plans return.

use meson_ledger::params::Param;
use std::sync::Arc;
use std::time::Duration;

use meson_ledger::accounts::stake_account;
use meson_ledger::stake::{matured, Slash, SlashPlan};
use meson_ledger::{Amount, Batch, BatchResults};
use tokio::sync::watch;

use crate::services::error::{ServiceError, ServiceResult};
use crate::services::ledger::LedgerError;
use crate::Shared;

/// Resolves the locks whose time has come ([`matured`]): posts unstakes past their unbonding, voids
/// council locks past their term and unbonding, and releases the reservations that expired (bonds whose
/// dispute window closed unjudged).
async fn release_matured(s: &Shared, now: u64) -> Result<usize, LedgerError> {
    let council = s.params().council();
    let due = s.ledger.read(|l| matured(l, &council, now)).await;
    if due.expire {
        s.ledger.submit(Batch::ExpirePending { now }).await?;
    }
    if due.transfers.is_empty() {
        return Ok(0);
    }
    let count = due.transfers.len();
    s.ledger
        .submit(Batch::CreateTransfers {
            now,
            transfers: due.transfers,
        })
        .await?;
    tracing::info!(count, "locked stake released");
    Ok(count)
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
        if let Err(e) = release_matured(&s, meson_node::unix_now()).await {
            tracing::warn!(error = %e, "cannot release unbonded stake");
        }
        let min_stake = s.params().get(Param::MinStake);
        if min_stake > 0 {
            refresh_staked(&s, min_stake).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(s.cfg.heartbeat.max(Duration::from_millis(200))) => {}
            _ = stop.wait_for(|v| *v) => return,
        }
    }
}

/// What a slash did.
pub(crate) enum Slashed {
    /// Moved out of the stake now: `refunded` of it back to the cheated sites first.
    Now {
        amount: Amount,
        refunded: Amount,
        claimant: Amount,
        burned: Amount,
        treasury: Amount,
    },
    /// This evidence was already used: nothing moved again.
    Before,
    /// Nothing left at stake.
    Nothing,
}

/// Whether slashing is paused by a shutdown now; the error to give if so.
pub(crate) async fn paused(s: &Shared) -> Option<ServiceError> {
    let now = meson_node::unix_now();
    s.ledger
        .read(|l| l.governance().shutdown_at(now))
        .await
        .map(|sd| {
            ServiceError::Conflict(format!(
                "slashing is paused by a shutdown until {} (Unix seconds)",
                sd.until
            ))
        })
}

/// Carries out `slash`: its unlocks, then, on the ledger after them, its transfers.
pub(crate) async fn slash(s: &Shared, slash: Slash) -> ServiceResult<Slashed> {
    if let Some(paused) = paused(s).await {
        return Err(paused);
    }
    let now = meson_node::unix_now();
    let Some(unlocks) = s.ledger.read(|l| slash.unlocks(l)).await else {
        return Ok(Slashed::Before);
    };
    if !unlocks.is_empty() {
        s.ledger
            .submit(Batch::CreateTransfers {
                now,
                transfers: unlocks,
            })
            .await?;
    }
    let plan = s
        .ledger
        .read(|l| slash.plan(l, s.params().slash_shares()))
        .await;
    // Refunds go to site escrows, which settlement opened when the sites paid.
    let SlashPlan::Take {
        transfers,
        amount,
        refunds,
        claimant,
        burned,
        treasury,
    } = plan
    else {
        return Ok(Slashed::Nothing);
    };
    let results = s
        .ledger
        .submit(Batch::CreateTransfers { now, transfers })
        .await?;
    if let BatchResults::Transfers(r) = &results {
        if let Some(Err(e)) = r.iter().find(|r| r.is_err()) {
            // The ledger refused the slash (an unknown claimant account, say).
            return Err(ServiceError::Refused(e.to_string()));
        }
    }
    Ok(Slashed::Now {
        amount,
        refunded: refunds.iter().map(|r| r.amount).sum(),
        claimant,
        burned,
        treasury,
    })
}
