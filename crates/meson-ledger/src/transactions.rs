//! What a signed transaction ([`crate::tx::Tx`]) and the operator's requests may do to the ledger: the
//! checks they must pass and the transfer each makes. The signature, the replay guard and finding a
//! deposit's site are the server's; everything about money is here.

use crate::accounts::{self, BURN, ISSUANCE};
use crate::claims::BondRules;
use crate::council::CouncilRules;
use crate::governance;
use crate::ids::Purpose;
use crate::memo::Memo;
use crate::refusal::{self, Refusal};
use crate::tx::{Tx, TxAction, MAX_TX_LIFETIME_SECS};
use crate::{Amount, Ledger, NewAccount, Transfer, TransferCode};

/// The rules a transaction is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxRules<'a> {
    /// The network this ledger belongs to.
    pub network: &'a str,
    /// Seconds an unstake waits before the tokens return to the wallet.
    pub unbonding_secs: u64,
    pub bonds: BondRules,
    pub council: CouncilRules,
}

/// What a transaction does: open `accounts` (besides the signer's wallet, which every transaction
/// opens first), then submit `transfer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxPlan {
    pub accounts: Vec<NewAccount>,
    pub transfer: Transfer,
}

impl TxRules<'_> {
    /// Whether `tx` is for this network and within its lifetime at `now`.
    pub fn check(&self, tx: &Tx, now: u64) -> Result<(), Refusal> {
        if tx.network != self.network {
            return Err(Refusal::WrongNetwork {
                tx: tx.network.clone(),
                ours: self.network.to_owned(),
            });
        }
        if tx.expires < now {
            return Err(Refusal::TxExpired(tx.expires));
        }
        if tx.expires > now + MAX_TX_LIFETIME_SECS {
            return Err(Refusal::TxTooLong);
        }
        Ok(())
    }

    /// The transfer `tx`, signed by `signer`, makes at `now`; `site` is the id of the site a deposit
    /// names, `None` if there is no such site. The transfer's id derives from (signer, nonce), except that bonds and council locks are
    /// named by their claim or term.
    pub fn plan(
        &self,
        l: &Ledger,
        tx: &Tx,
        signer: &meson_core::identity::NodeId,
        site: Option<i64>,
        now: u64,
    ) -> Result<TxPlan, Refusal> {
        let owner = signer.as_bytes();
        let from = accounts::wallet_account(owner);
        let id = Purpose::Tx {
            owner: *owner,
            nonce: tx.nonce,
        }
        .id();
        let plain = |to, amount, code| Transfer::new(id, from, to, amount, code);
        let plan = |accounts, transfer| TxPlan { accounts, transfer };
        Ok(match tx.action {
            TxAction::Transfer { to, amount } => {
                plan(vec![], plain(to, amount, TransferCode::Transfer))
            }
            TxAction::Deposit {
                site: ref host,
                amount,
            } => {
                let site = site.ok_or_else(|| Refusal::NoSite { host: host.clone() })?;
                let escrow = accounts::escrow(site);
                plan(
                    vec![escrow],
                    plain(escrow.id, amount, TransferCode::Deposit),
                )
            }
            TxAction::Stake { amount } => {
                let stake = accounts::stake(owner);
                plan(vec![stake], plain(stake.id, amount, TransferCode::Stake))
            }
            TxAction::Unstake { amount } => {
                let stake = accounts::stake(owner);
                // Posted after the unbonding period; until then still slashable.
                let mut t = Transfer::new(id, stake.id, from, amount, TransferCode::Unstake)
                    .with_memo(Memo::UnlockAt(now + self.unbonding_secs));
                t.flags.pending = true;
                plan(vec![stake], t)
            }
            TxAction::Bond {
                claim,
                accused,
                amount,
            } => {
                let (escrow, t) = self.bonds.bond(l, from, &claim, &accused, amount)?;
                plan(vec![escrow], t)
            }
            TxAction::CouncilStake { term, amount } => {
                let t = self.council.lock(l, owner, term, amount, now)?;
                plan(vec![accounts::stake(owner)], t)
            }
            TxAction::Veto { proposal, amount } => {
                let p = l
                    .governance()
                    .proposal(&proposal)
                    .ok_or(Refusal::NoProposal { proposal })?;
                if p.phase.is_final() {
                    return Err(Refusal::ProposalEnded {
                        proposal,
                        phase: p.phase.name(),
                    });
                }
                let escrow = governance::veto_account(&proposal);
                plan(
                    vec![escrow],
                    lock(plain(escrow.id, amount, TransferCode::Bond))?,
                )
            }
            TxAction::Shutdown { round, amount } => {
                let gov = l.governance();
                if let Some(s) = gov.shutdown_at(now) {
                    return Err(Refusal::ShutdownOn { until: s.until });
                }
                let open = gov.open_round();
                if round != open {
                    return Err(Refusal::NotTheRound { asked: round, open });
                }
                let escrow = governance::shutdown_account(round);
                plan(
                    vec![escrow],
                    lock(plain(escrow.id, amount, TransferCode::Bond))?,
                )
            }
        })
    }
}

/// `t` as a reservation that stays until the rule that made it releases it.
fn lock(mut t: Transfer) -> Result<Transfer, Refusal> {
    if t.amount == 0 {
        return Err(Refusal::EmptyLock);
    }
    t.flags.pending = true;
    Ok(t)
}

/// The operator's mint of `amount` new tokens into the account `to`, under the id it chose.
pub fn mint(id: u128, to: u128, amount: Amount) -> Transfer {
    Transfer::new(id, ISSUANCE, to, amount, TransferCode::Mint)
}

/// The operator's correction of the mistaken transfer `reverses`: a new transfer the other way (a
/// mistaken mint is burned, since issuance is never credited), never an edit. Its id derives from the
/// transfer it corrects and its memo names it: one correction per transfer. `amount` is the text of the
/// tokens to move back (default: all the transfer moved).
pub fn correction(l: &Ledger, reverses: u128, amount: Option<&str>) -> Result<Transfer, Refusal> {
    let id = Purpose::Correction { reverses }.id();
    let original = *l
        .transfer(reverses)
        .ok_or(Refusal::NoTransfer { id: reverses })?;
    if l.transfer(id).is_some() {
        return Err(Refusal::AlreadyCorrected { reverses, by: id });
    }
    let flags = original.transfer.flags;
    if flags.pending || flags.void_pending {
        return Err(Refusal::ReservationMovedNothing);
    }
    let (code, to) = match original.transfer.code {
        TransferCode::Burn => return Err(Refusal::BurnIsFinal),
        TransferCode::Mint => (TransferCode::Burn, BURN),
        _ => (TransferCode::Correction, original.debit_account),
    };
    let amount = match amount {
        Some(text) => refusal::amount("amount", text)?,
        None => original.amount,
    };
    if amount == 0 || amount > original.amount {
        return Err(Refusal::CorrectionAmount {
            moved: original.amount,
        });
    }
    Ok(Transfer::new(id, original.credit_account, to, amount, code)
        .with_memo(Memo::Reverses(reverses)))
}
