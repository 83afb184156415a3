//! The properties no sequence of operations may break, checked from scratch over the whole ledger.

use crate::account::AccountKind;
use crate::amount::Amount;
use crate::state::Ledger;
use crate::transfer::PendingStatus;

/// A broken invariant: a bug in the ledger, never a caller's mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvariantError {
    #[error("posted debits {debits} differ from posted credits {credits}")]
    PostedImbalance { debits: Amount, credits: Amount },
    #[error("pending debits {debits} differ from pending credits {credits}")]
    PendingImbalance { debits: Amount, credits: Amount },
    #[error("account {account}: debits posted and pending exceed credits posted")]
    DebitsExceedCredits { account: u128 },
    #[error("credits-only account {account} has been debited")]
    CreditsOnlyDebited { account: u128 },
    #[error("issuance account {account} has been credited")]
    IssuanceCredited { account: u128 },
    #[error("balances held {held} differ from supply {supply} (issued minus burned)")]
    SupplyMismatch { held: Amount, supply: Amount },
    #[error("ledger totals {tracked} differ from the sum over accounts {summed}")]
    TotalsMismatch { tracked: Amount, summed: Amount },
    #[error("open pending transfers reserve {reserved} but accounts hold {held} pending")]
    PendingNotTracked { reserved: Amount, held: Amount },
    #[error("pending transfer {id} is open but missing from the expiry index, or the reverse")]
    ExpiryIndex { id: u128 },
    #[error("burned {burned} exceeds issued {issued}")]
    BurnedExceedsIssued { issued: Amount, burned: Amount },
    #[error("a sum over the ledger overflows")]
    Overflow,
}

fn add(a: Amount, b: Amount) -> Result<Amount, InvariantError> {
    a.checked_add(b).ok_or(InvariantError::Overflow)
}

impl Ledger {
    /// Checks every invariant by a full scan (linear in accounts and pending transfers): for tests, audits
    /// and replays, not for each request.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        use InvariantError as E;
        let (mut dpost, mut cpost, mut dpend, mut cpend) = (0, 0, 0, 0);
        let mut held: Amount = 0;
        for a in self.accounts.values() {
            let id = a.id;
            if a.flags.debits_must_not_exceed_credits
                && a.debits_posted
                    .checked_add(a.debits_pending)
                    .is_none_or(|d| d > a.credits_posted)
            {
                return Err(E::DebitsExceedCredits { account: id });
            }
            if a.flags.credits_only && (a.debits_posted != 0 || a.debits_pending != 0) {
                return Err(E::CreditsOnlyDebited { account: id });
            }
            if a.kind == AccountKind::Issuance && (a.credits_posted != 0 || a.credits_pending != 0)
            {
                return Err(E::IssuanceCredited { account: id });
            }
            dpost = add(dpost, a.debits_posted)?;
            cpost = add(cpost, a.credits_posted)?;
            dpend = add(dpend, a.debits_pending)?;
            cpend = add(cpend, a.credits_pending)?;
            if !matches!(a.kind, AccountKind::Issuance | AccountKind::Burn) {
                // Every such account is non-negative by the check above.
                held = add(held, a.credits_posted - a.debits_posted)?;
            }
        }
        if dpost != cpost {
            return Err(E::PostedImbalance {
                debits: dpost,
                credits: cpost,
            });
        }
        if dpend != cpend {
            return Err(E::PendingImbalance {
                debits: dpend,
                credits: cpend,
            });
        }
        let t = self.totals;
        if t.posted != dpost {
            return Err(E::TotalsMismatch {
                tracked: t.posted,
                summed: dpost,
            });
        }
        if t.pending != dpend {
            return Err(E::TotalsMismatch {
                tracked: t.pending,
                summed: dpend,
            });
        }
        let supply = t
            .issued
            .checked_sub(t.burned)
            .ok_or(E::BurnedExceedsIssued {
                issued: t.issued,
                burned: t.burned,
            })?;
        if held != supply {
            return Err(E::SupplyMismatch { held, supply });
        }
        let mut reserved: Amount = 0;
        for (&id, status) in &self.pending {
            let open_expiring = match status {
                PendingStatus::Pending { expires_at } => {
                    reserved = add(reserved, self.transfers[&id].amount)?;
                    *expires_at
                }
                _ => None,
            };
            if let Some(at) = open_expiring {
                if !self.expiry.contains(&(at, id)) {
                    return Err(E::ExpiryIndex { id });
                }
            }
        }
        for &(at, id) in &self.expiry {
            if self.pending.get(&id)
                != Some(&PendingStatus::Pending {
                    expires_at: Some(at),
                })
            {
                return Err(E::ExpiryIndex { id });
            }
        }
        if reserved != dpend {
            return Err(E::PendingNotTracked {
                reserved,
                held: dpend,
            });
        }
        Ok(())
    }
}
