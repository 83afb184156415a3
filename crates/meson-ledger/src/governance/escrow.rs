//! The escrows and reservations governance moves tokens through: a proposal's deposit, the veto and
//! shutdown locks, and what the router moves once a proposal or a shutdown ended.

use super::{Action, Governance, Phase};
use crate::accounts::{wallet_account, TREASURY};
use crate::chains::resolve;
use crate::ids::Purpose;
use crate::{Amount, CommittedTransfer, Ledger, NewAccount, Transfer, TransferCode};

/// The escrow account of a proposal's veto locks.
pub fn veto_account(proposal: &[u8; 32]) -> NewAccount {
    escrow_of(Purpose::VetoEscrow {
        proposal: *proposal,
    })
}

/// The escrow account of a shutdown round's locks.
pub fn shutdown_account(round: u64) -> NewAccount {
    escrow_of(Purpose::ShutdownEscrow { round })
}

fn escrow_of(purpose: Purpose) -> NewAccount {
    NewAccount {
        id: purpose.id(),
        kind: crate::AccountKind::Escrow,
        owner: None,
        user_data: 0,
    }
}

/// The deposit of a proposal: a reservation from the proposer's wallet to the treasury, posted if a veto
/// cancels the proposal, voided (returned) otherwise.
pub fn deposit(proposer: &[u8; 32], proposal: &[u8; 32], amount: Amount) -> Transfer {
    let mut t = Transfer::new(
        Purpose::ProposalDeposit {
            proposal: *proposal,
        }
        .id(),
        wallet_account(proposer),
        TREASURY,
        amount,
        TransferCode::Bond,
    );
    t.flags.pending = true;
    t
}

/// Ends the reservation `t` (a deposit or a lock): posted when `post` (a forfeited deposit), voided
/// (returned) otherwise; once, whichever.
pub fn release(t: &CommittedTransfer, post: bool) -> Transfer {
    resolve(
        t,
        Purpose::Unbond {
            pending: t.transfer.id,
        },
        !post,
    )
}

/// What is locked, pending, in an escrow account.
pub(super) fn locked(l: &Ledger, account: u128) -> Amount {
    l.account(account).map_or(0, |a| a.credits_pending)
}

impl Governance {
    /// What the router moves for the proposals and shutdowns that ended by `now`: deposits returned (or
    /// forfeited, for a cancelled proposal), veto and shutdown locks returned, and an executed
    /// proposal's spends, each under an id derived from what it is for, so submitting them again
    /// moves nothing twice. Accounts to open come first.
    pub fn settlements(&self, l: &Ledger, now: u64) -> (Vec<NewAccount>, Vec<Transfer>) {
        let mut accounts = Vec::new();
        let mut out = Vec::new();
        let release_all = |account: u128, out: &mut Vec<Transfer>| {
            // Most ended escrows are empty already: the scan of open reservations is for the rest.
            if locked(l, account) == 0 {
                return;
            }
            out.extend(
                l.open_pending()
                    .filter(|t| t.credit_account == account)
                    .map(|t| release(t, false)),
            );
        };
        for p in self.proposals.values().filter(|p| p.phase.is_final()) {
            let deposit_id = deposit(&p.proposer, &p.id, p.deposit).id;
            if let (Some(t), Some(crate::PendingStatus::Pending { .. })) =
                (l.transfer(deposit_id), l.pending_status(deposit_id))
            {
                out.push(release(t, matches!(p.phase, Phase::Cancelled { .. })));
            }
            release_all(veto_account(&p.id).id, &mut out);
            if matches!(p.phase, Phase::Executed { .. }) {
                for (index, a) in p.actions.iter().enumerate() {
                    let id = Purpose::GovAction {
                        proposal: p.id,
                        index: index as u32,
                    }
                    .id();
                    if l.transfer(id).is_some() {
                        continue;
                    }
                    match a {
                        Action::Spend { to, amount } => {
                            accounts.push(crate::accounts::wallet(to.as_bytes()));
                            out.push(Transfer::new(
                                id,
                                TREASURY,
                                wallet_account(to.as_bytes()),
                                *amount,
                                TransferCode::Transfer,
                            ));
                        }
                        Action::Distribute { amount } => {
                            accounts.push(crate::accounts::revenue());
                            out.push(Transfer::new(
                                id,
                                TREASURY,
                                crate::accounts::REVENUE,
                                *amount,
                                TransferCode::Transfer,
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
        for s in self.shutdowns.iter().filter(|s| now >= s.until) {
            release_all(shutdown_account(s.round).id, &mut out);
        }
        (accounts, out)
    }
}
