//! Stake: what makes cheating expensive. A terminal stakes with its node key (`meson-cdn wallet --key
//! DATA_DIR/node.key stake`); with `min_stake` set, a terminal whose stake account holds less is out of
//! rotation. Unstaking is a pending transfer from stake to wallet, posted only after the unbonding period,
//! which is longer than the dispute window, so there is always stake left to slash. Council stake is a
//! pending transfer the other way, voided once its term and an unbonding period have passed
//! ([`crate::services::council`]). A slash voids the owner's unbonding and posts its council locks first, then
//! moves the amount out of the stake in one linked chain: to the claimant, to the burn account and to the
//! treasury, with ids derived from the evidence so the same evidence slashes once.

use std::sync::Arc;
use std::time::Duration;

use meson_ledger::accounts::{stake_account, wallet_account};
use meson_ledger::economics::split_slash;
use meson_ledger::ids::{Purpose, SlashPart};
use meson_ledger::{Batch, BatchResults, CommittedTransfer, Transfer, TransferCode, TransferFlags};
use tokio::sync::watch;

use crate::services::error::{ServiceError, ServiceResult};
use meson_ledger::accounts::{BURN, TREASURY};

use crate::services::ledger::LedgerError;
use crate::Shared;

/// Resolves the locks whose time has come: posts each unbonding transfer whose period has passed (its
/// `user_data` is the unlock time), voids each council lock whose term and unbonding have passed, and
/// releases the reservations that expired (bonds whose dispute window closed unjudged).
async fn release_matured(s: &Shared, now: u64) -> Result<usize, LedgerError> {
    let (due, expired) = s
        .ledger
        .read(|l| {
            let unbonded = l
                .open_pending()
                .filter(|t| t.transfer.code == TransferCode::Unstake)
                .filter(|t| t.transfer.user_data <= u128::from(now))
                .map(|t| resolve(t, unbond(t), false));
            let served = crate::services::council::locks(l)
                .filter(|t| {
                    let term = u64::try_from(t.transfer.user_data).unwrap_or(u64::MAX);
                    s.council_release_at(term) <= now
                })
                .map(|t| resolve(t, unbond(t), true));
            let due: Vec<Transfer> = unbonded.chain(served).collect();
            (due, l.next_expiry().is_some_and(|at| at <= now))
        })
        .await;
    if expired {
        s.ledger.submit(Batch::ExpirePending { now }).await?;
    }
    if due.is_empty() {
        return Ok(0);
    }
    let count = due.len();
    s.ledger
        .submit(Batch::CreateTransfers {
            now,
            transfers: due,
        })
        .await?;
    tracing::info!(count, "locked stake released");
    Ok(count)
}

fn unbond(t: &CommittedTransfer) -> Purpose {
    Purpose::Unbond {
        pending: t.transfer.id,
    }
}

/// Posts (`void` false) or voids the pending transfer `t`, with the id of `purpose`.
pub(crate) fn resolve(t: &CommittedTransfer, purpose: Purpose, void: bool) -> Transfer {
    Transfer {
        pending_id: t.transfer.id,
        flags: TransferFlags {
            post_pending: !void,
            void_pending: void,
            ..TransferFlags::default()
        },
        ..Transfer::new(purpose.id(), 0, 0, 0, t.transfer.code)
    }
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
}

fn slash_id(evidence: &[u8; 32], part: SlashPart) -> u128 {
    Purpose::Slash {
        evidence: *evidence,
        part,
    }
    .id()
}

/// Whether the evidence whose digest is `evidence` has slashed already.
pub(crate) async fn slashed_for(s: &Shared, evidence: &[u8; 32]) -> bool {
    s.ledger
        .read(|l| {
            SlashPart::ALL
                .iter()
                .any(|part| l.transfer(slash_id(evidence, *part)).is_some())
        })
        .await
}

/// Slashes up to `amount` of `owner`'s stake for the evidence whose digest is `evidence`: voids the
/// owner's unbonding and posts its council locks first (all of it is at stake), then pays claimant,
/// burn and treasury.
pub(crate) async fn slash(
    s: &Shared,
    owner: &[u8; 32],
    amount: u128,
    claimant: u128,
    evidence: &[u8; 32],
) -> ServiceResult<Slashed> {
    let stake = stake_account(owner);
    let wallet = wallet_account(owner);
    let now = meson_node::unix_now();
    if slashed_for(s, evidence).await {
        return Ok(Slashed::Before);
    }
    // Everything the owner has at stake: unbonding goes back into the stake (voided), council locks
    // move into it (posted).
    let unlock = |t: &CommittedTransfer| Purpose::SlashUnlock {
        evidence: *evidence,
        pending: t.transfer.id,
    };
    let unlocks: Vec<Transfer> = s
        .ledger
        .read(|l| {
            let unbonding = l
                .open_pending()
                .filter(|t| t.transfer.code == TransferCode::Unstake && t.debit_account == stake)
                .map(|t| resolve(t, unlock(t), true));
            let council = crate::services::council::locks(l)
                .filter(|t| t.debit_account == wallet && t.credit_account == stake)
                .map(|t| resolve(t, unlock(t), false));
            unbonding.chain(council).collect()
        })
        .await;
    if !unlocks.is_empty() {
        s.ledger
            .submit(Batch::CreateTransfers {
                now,
                transfers: unlocks,
            })
            .await?;
    }
    let held = s
        .ledger
        .account(stake)
        .await
        .and_then(|a| a.available())
        .unwrap_or(0);
    let amount = amount.min(held);
    if amount == 0 {
        return Ok(Slashed::Nothing);
    }
    let (to_claimant, burned, treasury) = split_slash(amount, s.cfg.slash_shares);
    let id = |part| slash_id(evidence, part);
    let mut transfers: Vec<Transfer> = [
        (
            id(SlashPart::Claimant),
            claimant,
            to_claimant,
            TransferCode::Slash,
        ),
        (id(SlashPart::Burn), BURN, burned, TransferCode::Burn),
        (
            id(SlashPart::Treasury),
            TREASURY,
            treasury,
            TransferCode::Slash,
        ),
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
            // The ledger refused the slash (an unknown claimant account, say).
            return Err(ServiceError::Refused(e.to_string()));
        }
    }
    Ok(Slashed::Now {
        amount,
        claimant: to_claimant,
        burned,
        treasury,
    })
}
