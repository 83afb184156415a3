//! Claims and their bonds. A hunter who finds objective evidence against a terminal files a claim: its
//! id is the BLAKE3 of the evidence, and a bond reserves the hunter's tokens into the claim's escrow
//! account (owned by the accused) as a pending transfer that expires with the dispute window. The
//! verdict resolves it exactly once:
//!
//! - **upheld**: the accused's stake is slashed ([`crate::stake::Slash`], the hunter's wallet as the
//!   claimant), then the bond is voided back to the hunter;
//! - **rejected**: the bond is posted into the claim's escrow and forwarded to the treasury in one linked
//!   chain, so a frivolous claim costs its bond;
//! - **no verdict** (the council reached no quorum, [`release`]): the bond is voided back to the hunter;
//!   should the router not do so, the reservation expires with the dispute window and the bond returns.
//!
//! Every transfer id derives from the claim, so a verdict retried after a crash finishes what it began
//! and never applies twice.

use meson_core::identity::NodeId;

use crate::accounts::{self, stake_account, TREASURY};
use crate::chains::resolve;
use crate::ids::Purpose;
use crate::refusal::{self, Refusal};
use crate::stake::{slashed_for, Slash};
pub use crate::standing::Standing;
use crate::{Amount, CommittedTransfer, Ledger, NewAccount, PendingStatus, Transfer, TransferCode};

/// A claim's id, which is also the evidence digest its slash derives transfer ids from: the BLAKE3 of
/// the evidence, so one piece of evidence makes one claim and slashes once.
pub fn claim_id(evidence: &[u8]) -> [u8; 32] {
    *blake3::hash(evidence).as_bytes()
}

/// What bonds take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BondRules {
    /// The least bond per claim.
    pub min_bond: Amount,
    /// Seconds a claim may wait for its verdict; an unjudged claim's bond then returns.
    pub dispute_secs: u64,
}

impl BondRules {
    /// The claim's escrow to open and the pending transfer that reserves a bond of `amount` on `claim`
    /// from the hunter's `wallet`, after the checks a hunter must pass: a bond of at least the minimum,
    /// on a claim not yet bonded, against a key with stake.
    pub fn bond(
        &self,
        l: &Ledger,
        wallet: u128,
        claim: &[u8; 32],
        accused: &NodeId,
        amount: Amount,
    ) -> Result<(NewAccount, Transfer), Refusal> {
        if amount < self.min_bond {
            return Err(Refusal::BondTooSmall { min: self.min_bond });
        }
        let id = Purpose::Bond { claim: *claim }.id();
        if l.transfer(id).is_some() {
            return Err(Refusal::AlreadyBonded { claim: *claim });
        }
        let at_stake = l
            .account(stake_account(accused.as_bytes()))
            // Unbonding and council locks count: a slash takes them first.
            .is_some_and(|a| a.credits_posted + a.credits_pending > a.debits_posted);
        if !at_stake {
            return Err(Refusal::NothingAtStake {
                accused: accused.to_string(),
            });
        }
        let escrow = accounts::claim(claim, accused.as_bytes());
        let mut t = Transfer::new(id, wallet, escrow.id, amount, TransferCode::Bond);
        t.flags.pending = true;
        t.timeout_secs = self.dispute_secs;
        Ok((escrow, t))
    }
}

/// A claim as the ledger holds it: its bond, the accused, and where the bond stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub bond: CommittedTransfer,
    pub accused: [u8; 32],
    pub status: PendingStatus,
}

/// The claim `claim`, if a bond was filed on it.
pub fn find(l: &Ledger, claim: &[u8; 32]) -> Result<Claim, Refusal> {
    let id = Purpose::Bond { claim: *claim }.id();
    let found = (|| {
        let bond = *l.transfer(id)?;
        let accused = l.account(bond.credit_account)?.owner?;
        Some(Claim {
            bond,
            accused,
            status: l.pending_status(id)?,
        })
    })();
    found.ok_or(Refusal::NoBond { claim: *claim })
}

/// What a verdict does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Rejected: submit `transfers` (the bond posted and forwarded to the treasury, one chain).
    Reject {
        transfers: Vec<Transfer>,
        forfeited: Amount,
    },
    /// Upheld: carry out `slash` first, then submit `return_bond`. Should the server stop between the
    /// two, the claim is still open and the verdict, given again, finds the evidence used and only
    /// returns the bond.
    Uphold {
        /// Boxed: a slash carries its list of refunds, far larger than a rejection.
        slash: Box<Slash>,
        return_bond: Transfer,
        bond: Amount,
    },
}

/// The verdict on `claim` at `now`: `slash` is the text of the tokens to slash, which an upheld claim
/// must name and a rejected one may not.
pub fn verdict(
    l: &Ledger,
    claim: &[u8; 32],
    upheld: bool,
    slash: Option<&str>,
    now: u64,
) -> Result<Verdict, Refusal> {
    let c = find(l, claim)?;
    match Standing::of(&c.status, now) {
        Standing::Open => {}
        Standing::Expired => return Err(Refusal::DisputeClosed),
        standing => return Err(Refusal::AlreadyJudged { standing }),
    }
    let bond = c.bond.amount;
    if !upheld {
        if slash.is_some() {
            return Err(Refusal::RejectionSlashes);
        }
        // Its evidence slashed already (an upheld verdict cut short, or the operator's own slash):
        // rejecting it now would take the bond of a hunter who was right.
        if slashed_for(l, claim) {
            return Err(Refusal::EvidenceSlashed);
        }
        let mut forfeit = resolve(&c.bond, Purpose::Forfeit { claim: *claim }, false);
        forfeit.flags.linked = true;
        let forward = Transfer::new(
            Purpose::ForfeitToTreasury { claim: *claim }.id(),
            c.bond.credit_account,
            TREASURY,
            bond,
            TransferCode::Bond,
        );
        return Ok(Verdict::Reject {
            transfers: vec![forfeit, forward],
            forfeited: bond,
        });
    }
    let amount = refusal::amount("slash", slash.ok_or(Refusal::UpholdWithoutSlash)?)?;
    Ok(Verdict::Uphold {
        slash: Box::new(Slash {
            owner: c.accused,
            amount,
            claimant: c.bond.debit_account,
            evidence: *claim,
            owed: Vec::new(),
        }),
        return_bond: resolve(&c.bond, Purpose::ReturnBond { claim: *claim }, true),
        bond,
    })
}

/// The bond of a claim that reached no verdict (no quorum of the council in time), voided back to the
/// hunter under the same id as an upheld claim's return, so it moves once whichever comes.
pub fn release(l: &Ledger, claim: &[u8; 32], now: u64) -> Result<Transfer, Refusal> {
    let c = find(l, claim)?;
    match Standing::of(&c.status, now) {
        Standing::Open => Ok(resolve(
            &c.bond,
            Purpose::ReturnBond { claim: *claim },
            true,
        )),
        Standing::Expired => Err(Refusal::DisputeClosed),
        standing => Err(Refusal::AlreadyJudged { standing }),
    }
}
