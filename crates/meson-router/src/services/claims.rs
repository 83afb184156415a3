//! Claims and their bonds. A hunter who finds objective evidence against a terminal (bytes that do not
//! match a root, a serial claimed twice, a failed spot check) files a claim: its id is the BLAKE3 of the
//! evidence, and a signed [`TxAction::Bond`](meson_ledger::tx::TxAction::Bond) reserves the
//! hunter's bond into the claim's escrow account (owned by the accused) as a pending transfer that
//! expires with the dispute window. The verdict resolves it exactly once:
//!
//! - **upheld**: the accused's stake is slashed (the hunter's wallet is the claimant) and the bond is
//!   voided back to the hunter;
//! - **rejected**: the bond is posted into the claim's escrow and forwarded to the treasury in one linked
//!   chain, so a frivolous claim costs its bond;
//! - **no verdict within the dispute window**: the reservation expires and the bond returns.
//!
//! Every transfer id derives from the claim, so a verdict retried after a crash finishes what it began
//! and never applies twice. The operator gives verdicts until the council does.

use meson_core::identity::NodeId;
use meson_ledger::accounts::stake_account;
use meson_ledger::ids::Purpose;
use meson_ledger::{
    format_amount, parse_amount, CommittedTransfer, PendingStatus, Transfer, TransferCode,
};

use super::error::{ServiceError, ServiceResult};
use super::ledger::{open, submit};
use super::stake::{self, resolve, Slashed};
use crate::Shared;
use meson_ledger::accounts::TREASURY;

fn conflict(why: String) -> ServiceError {
    ServiceError::Conflict(why)
}

/// The pending transfer that reserves a bond on `claim` from the hunter's `wallet`, after the checks a
/// hunter must pass: a bond of at least the minimum, against a key with stake, on a claim not yet bonded.
pub(crate) async fn bond(
    s: &Shared,
    wallet: u128,
    claim: &[u8; 32],
    accused: &NodeId,
    amount: u128,
) -> ServiceResult<Transfer> {
    if amount < s.cfg.min_bond {
        return Err(ServiceError::Invalid(format!(
            "a claim's bond is at least {}",
            format_amount(s.cfg.min_bond)
        )));
    }
    let id = Purpose::Bond { claim: *claim }.id();
    let (bonded, at_stake) = s
        .ledger
        .read(|l| {
            (
                l.transfer(id).is_some(),
                l.account(stake_account(accused.as_bytes()))
                    // Unbonding and council locks count: a slash takes them first.
                    .map(|a| a.credits_posted + a.credits_pending > a.debits_posted)
                    .unwrap_or(false),
            )
        })
        .await;
    if bonded {
        return Err(conflict(format!(
            "claim {} already has a bond",
            hex::encode(claim)
        )));
    }
    if !at_stake {
        return Err(ServiceError::Refused(format!(
            "{accused} has nothing at stake: a claim against it could slash nothing"
        )));
    }
    let escrow = open(s, meson_ledger::accounts::claim(claim, accused.as_bytes())).await?;
    let mut t = Transfer::new(id, wallet, escrow, amount, TransferCode::Bond);
    t.flags.pending = true;
    t.timeout_secs = s.cfg.dispute_secs;
    Ok(t)
}

/// A claim as the ledger holds it: its bond, the accused, and where the bond stands.
pub(crate) struct Claim {
    pub bond: CommittedTransfer,
    pub accused: [u8; 32],
    pub status: PendingStatus,
}

pub(crate) async fn find(s: &Shared, claim: &[u8; 32]) -> ServiceResult<Claim> {
    let id = Purpose::Bond { claim: *claim }.id();
    let found = s
        .ledger
        .read(|l| {
            let bond = *l.transfer(id)?;
            let accused = l.account(bond.credit_account)?.owner?;
            Some(Claim {
                bond,
                accused,
                status: l.pending_status(id)?,
            })
        })
        .await;
    found.ok_or_else(|| ServiceError::NotFound(format!("no bond on claim {}", hex::encode(claim))))
}

/// Where a claim stands, from its bond's pending status.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    Open,
    Upheld,
    Rejected,
    /// The dispute window closed without a verdict.
    Expired,
}

impl Standing {
    pub fn of(status: &PendingStatus, now: u64) -> Standing {
        match status {
            PendingStatus::Pending {
                expires_at: Some(at),
            } if *at <= now => Standing::Expired,
            PendingStatus::Pending { .. } => Standing::Open,
            PendingStatus::Voided { .. } => Standing::Upheld,
            PendingStatus::Posted { .. } => Standing::Rejected,
            PendingStatus::Expired => Standing::Expired,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Open => "open",
            Standing::Upheld => "upheld",
            Standing::Rejected => "rejected",
            Standing::Expired => "expired",
        }
    }
}

/// What a verdict did.
pub(crate) enum Verdict {
    /// The bond went to the treasury.
    Rejected { forfeited: u128 },
    /// The accused's stake was slashed (or had been, or held nothing) and the bond went back.
    Upheld {
        slashed: Slashed,
        bond_returned: u128,
    },
}

/// Judges the claim `id` once: upheld, slashing up to `slash` tokens of the accused's stake, or
/// rejected.
pub(crate) async fn judge(
    s: &Shared,
    id: &[u8; 32],
    upheld: bool,
    slash: Option<&str>,
) -> ServiceResult<Verdict> {
    let c = find(s, id).await?;
    match Standing::of(&c.status, meson_node::unix_now()) {
        Standing::Open => {}
        Standing::Expired => {
            return Err(conflict(
                "the dispute window closed without a verdict: the bond went back to the hunter"
                    .into(),
            ))
        }
        done => {
            return Err(conflict(format!(
                "the claim was already judged: {}",
                done.as_str()
            )))
        }
    }
    let bond = c.bond.amount;
    if !upheld {
        if slash.is_some() {
            return Err(ServiceError::Invalid(
                "a rejected claim slashes nothing".into(),
            ));
        }
        // Its evidence slashed already (an upheld verdict cut short, or the operator's own slash):
        // rejecting it now would take the bond of a hunter who was right.
        if stake::slashed_for(s, id).await {
            return Err(conflict(
                "this claim's evidence has already slashed the accused: it can only be upheld"
                    .into(),
            ));
        }
        let forward = Transfer::new(
            Purpose::ForfeitToTreasury { claim: *id }.id(),
            c.bond.credit_account,
            TREASURY,
            bond,
            TransferCode::Bond,
        );
        let mut forfeit = resolve(&c.bond, Purpose::Forfeit { claim: *id }, false);
        forfeit.flags.linked = true;
        submit(s, vec![forfeit, forward]).await?;
        return Ok(Verdict::Rejected { forfeited: bond });
    }
    let amount = slash.ok_or_else(|| {
        ServiceError::Invalid("an upheld claim names the stake to slash: \"slash\": TOKENS".into())
    })?;
    let amount = parse_amount(amount).map_err(|e| ServiceError::Invalid(format!("slash: {e}")))?;
    // The slash first: should the router stop between the two, the claim is still open and the
    // verdict, given again, finds this evidence used and only returns the bond.
    let slashed = stake::slash(s, &c.accused, amount, c.bond.debit_account, id).await?;
    let back = resolve(&c.bond, Purpose::ReturnBond { claim: *id }, true);
    submit(s, vec![back]).await?;
    Ok(Verdict::Upheld {
        slashed,
        bond_returned: bond,
    })
}
