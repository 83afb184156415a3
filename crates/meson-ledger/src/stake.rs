//! Stake: locks and slashes. Unstaking is a pending transfer from stake to wallet ([`Memo::UnlockAt`]),
//! posted once the unbonding period has passed; council stake is a pending transfer the other way
//! ([`crate::council`]), voided once its term and an unbonding period have passed.
//!
//! A slash takes everything the owner has at stake, in two steps a server submits one after the other:
//! [`Slash::unlocks`] voids the owner's unbonding and posts its council locks into the stake, then
//! [`Slash::plan`], on the ledger after them, moves the amount out of the stake in one linked chain: first
//! refunds to the sites the accused cheated ([`owed`]: what each paid for its bytes in the affected
//! epochs, pro rata when the slash is smaller), then what is left to the claimant, the burn account and
//! the treasury ([`crate::economics::split_slash`]). Ids derive from the evidence, so the same evidence
//! slashes once.

use crate::accounts::{escrow_account, stake_account, wallet_account, BURN, TREASURY};
use crate::chains::{link, resolve};
use crate::council::{self, CouncilRules};
use crate::economics::{mul_div_floor, split_slash, SlashShares};
use crate::ids::{Purpose, SlashPart};
use crate::memo::Memo;
use crate::{Amount, CommittedTransfer, Ledger, Transfer, TransferCode};

/// The locks whose time has come at `now`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matured {
    /// Posts of unstakes whose unbonding has passed and voids of council locks whose term and unbonding
    /// have passed, in one batch.
    pub transfers: Vec<Transfer>,
    /// Some reservation has expired (a bond whose dispute window closed unjudged): submit
    /// `ExpirePending` first.
    pub expire: bool,
}

/// What to release at `now`.
pub fn matured(l: &Ledger, council: &CouncilRules, now: u64) -> Matured {
    let unbonded = l
        .open_pending()
        .filter(|t| Memo::unlock_at(&t.transfer).is_some_and(|at| at <= now))
        .map(|t| {
            resolve(
                t,
                Purpose::Unbond {
                    pending: t.transfer.id,
                },
                false,
            )
        });
    let served = council::locks(l)
        .filter(|t| Memo::term(&t.transfer).is_some_and(|term| council.release_at(term) <= now))
        .map(|t| {
            resolve(
                t,
                Purpose::Unbond {
                    pending: t.transfer.id,
                },
                true,
            )
        });
    Matured {
        transfers: unbonded.chain(served).collect(),
        expire: l.next_expiry().is_some_and(|at| at <= now),
    }
}

/// Whether the evidence whose digest is `evidence` has slashed already.
pub fn slashed_for(l: &Ledger, evidence: &[u8; 32]) -> bool {
    SlashPart::ALL.iter().any(|&part| {
        l.transfer(
            Purpose::Slash {
                evidence: *evidence,
                part,
            }
            .id(),
        )
        .is_some()
    })
}

/// What a site is refunded out of a slash: what it paid for the accused terminal's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refund {
    pub site: i64,
    pub amount: Amount,
}

/// What each of `sites` paid (fee and payout, as settled) for `node`'s bytes in `epochs`: the refunds a
/// slash of `node` owes first. Sites that paid nothing are left out; epochs and sites count once.
pub fn owed(l: &Ledger, node: &[u8; 32], epochs: &[u64], sites: &[i64]) -> Vec<Refund> {
    let epochs: std::collections::BTreeSet<u64> = epochs.iter().copied().collect();
    let sites: std::collections::BTreeSet<i64> = sites.iter().copied().collect();
    sites
        .into_iter()
        .map(|site| Refund {
            site,
            amount: epochs
                .iter()
                .filter_map(|e| crate::settlement::settled(l, *e, site, node))
                .map(|(fee, paid)| fee + paid)
                .sum(),
        })
        .filter(|r| r.amount > 0)
        .collect()
}

/// `owed` cut to fit `amount`: in full when it covers them, else each pro rata (rounded down).
pub fn refunds(owed: &[Refund], amount: Amount) -> Vec<Refund> {
    let total: Amount = owed.iter().map(|r| r.amount).sum();
    owed.iter()
        .map(|r| Refund {
            site: r.site,
            amount: if amount >= total {
                r.amount
            } else {
                mul_div_floor(r.amount, amount, total)
            },
        })
        .filter(|r| r.amount > 0)
        .collect()
}

/// A slash of up to `amount` of `owner`'s stake for the evidence whose digest is `evidence`: the
/// `owed` refunds first (the amount is raised to cover them, within what is at stake), then the
/// claimant's share paid to the account `claimant`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slash {
    pub owner: [u8; 32],
    pub amount: Amount,
    pub claimant: u128,
    pub evidence: [u8; 32],
    pub owed: Vec<Refund>,
}

/// What the second step of a slash does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashPlan {
    /// Nothing left at stake: no transfer.
    Nothing,
    /// Submit `transfers` (one linked chain) to take `amount`, shared as the other fields say.
    Take {
        transfers: Vec<Transfer>,
        amount: Amount,
        refunds: Vec<Refund>,
        claimant: Amount,
        burned: Amount,
        treasury: Amount,
    },
}

impl Slash {
    /// Whether this evidence has slashed already, refunds included.
    pub fn done(&self, l: &Ledger) -> bool {
        slashed_for(l, &self.evidence)
            || self
                .owed
                .iter()
                .any(|r| l.transfer(self.refund_id(r.site)).is_some())
    }

    fn refund_id(&self, site: i64) -> u128 {
        Purpose::SlashRefund {
            evidence: self.evidence,
            site,
        }
        .id()
    }

    /// Step one: everything the owner has at stake made slashable (unbonding voided back into the stake,
    /// council locks posted into it); `None` when this evidence has slashed already.
    pub fn unlocks(&self, l: &Ledger) -> Option<Vec<Transfer>> {
        if self.done(l) {
            return None;
        }
        let (stake, wallet) = (stake_account(&self.owner), wallet_account(&self.owner));
        let unlock = |t: &CommittedTransfer| Purpose::SlashUnlock {
            evidence: self.evidence,
            pending: t.transfer.id,
        };
        let unbonding = l
            .open_pending()
            .filter(|t| t.transfer.code == TransferCode::Unstake && t.debit_account == stake)
            .map(|t| resolve(t, unlock(t), true));
        let locked = council::locks(l)
            .filter(|t| t.debit_account == wallet && t.credit_account == stake)
            .map(|t| resolve(t, unlock(t), false));
        Some(unbonding.chain(locked).collect())
    }

    /// Step two, on the ledger after the unlocks: at least the refunds owed and at most what the stake
    /// holds; the refunds first, the rest shared by `shares`.
    pub fn plan(&self, l: &Ledger, shares: SlashShares) -> SlashPlan {
        let stake = stake_account(&self.owner);
        let held = l.account(stake).and_then(|a| a.available()).unwrap_or(0);
        let owed_total: Amount = self.owed.iter().map(|r| r.amount).sum();
        let amount = self.amount.max(owed_total).min(held);
        if amount == 0 {
            return SlashPlan::Nothing;
        }
        let refunds = refunds(&self.owed, amount);
        let refunded: Amount = refunds.iter().map(|r| r.amount).sum();
        let (to_claimant, burned, treasury) = split_slash(amount - refunded, shares);
        let id = |part| {
            Purpose::Slash {
                evidence: self.evidence,
                part,
            }
            .id()
        };
        let back = refunds.iter().map(|r| {
            (
                self.refund_id(r.site),
                escrow_account(r.site),
                r.amount,
                TransferCode::Slash,
            )
        });
        let shared = [
            (
                SlashPart::Claimant,
                self.claimant,
                to_claimant,
                TransferCode::Slash,
            ),
            (SlashPart::Burn, BURN, burned, TransferCode::Burn),
            (SlashPart::Treasury, TREASURY, treasury, TransferCode::Slash),
        ]
        .into_iter()
        .map(|(part, to, amount, code)| (id(part), to, amount, code));
        let mut transfers: Vec<Transfer> = back
            .chain(shared)
            .filter(|(_, _, amount, _)| *amount > 0)
            .map(|(id, to, amount, code)| {
                Transfer::new(id, stake, to, amount, code).with_memo(Memo::Evidence(self.evidence))
            })
            .collect();
        link(&mut transfers);
        SlashPlan::Take {
            transfers,
            amount,
            refunds,
            claimant: to_claimant,
            burned,
            treasury,
        }
    }
}
