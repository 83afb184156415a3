//! Claims and their bonds. A hunter who finds objective evidence against a terminal (bytes that do not
//! match a root, a serial claimed twice, a failed spot check) files a claim: its id is the BLAKE3 of the
//! evidence, and a signed [`TxAction::Bond`](meson_ledger::tx::TxAction::Bond) reserves the
//! hunter's bond into the claim's escrow account (owned by the accused) as a pending transfer that
//! expires with the dispute window ([`meson_ledger::claims::BondRules`]). The verdict
//! ([`meson_ledger::claims::verdict`]) resolves it exactly once:
//!
//! - **upheld**: the accused's stake is slashed (the hunter's wallet is the claimant) and the bond is
//!   voided back to the hunter;
//! - **rejected**: the bond is posted into the claim's escrow and forwarded to the treasury in one linked
//!   chain, so a frivolous claim costs its bond;
//! - **no verdict within the dispute window**: the reservation expires and the bond returns.
//!
//! Every transfer id derives from the claim, so a verdict retried after a crash finishes what it began
//! and never applies twice. The operator gives verdicts until the council does; this service reads the
//! claim, submits what the verdict returns (an upheld one's slash through [`crate::services::stake`]).

use meson_ledger::claims::{self, Claim};
use meson_ledger::Amount;

use super::error::ServiceResult;
use super::ledger::submit;
use super::stake::{self, Slashed};
use crate::Shared;

/// The claim `claim` as the ledger holds it ([`claims::find`]).
pub(crate) async fn find(s: &Shared, claim: &[u8; 32]) -> ServiceResult<Claim> {
    Ok(s.ledger.read(|l| claims::find(l, claim)).await?)
}

/// What a verdict did.
pub(crate) enum Verdict {
    /// The bond went to the treasury.
    Rejected { forfeited: Amount },
    /// The accused's stake was slashed (or had been, or held nothing) and the bond went back.
    Upheld {
        slashed: Slashed,
        bond_returned: Amount,
    },
}

/// Judges the claim `id` once by [`claims::verdict`]: upheld, slashing up to `slash` tokens of the
/// accused's stake, or rejected.
pub(crate) async fn judge(
    s: &Shared,
    id: &[u8; 32],
    upheld: bool,
    slash: Option<&str>,
) -> ServiceResult<Verdict> {
    let now = meson_node::unix_now();
    let verdict = s
        .ledger
        .read(|l| claims::verdict(l, id, upheld, slash, now))
        .await?;
    match verdict {
        claims::Verdict::Reject {
            transfers,
            forfeited,
        } => {
            submit(s, transfers).await?;
            Ok(Verdict::Rejected { forfeited })
        }
        claims::Verdict::Uphold {
            slash,
            return_bond,
            bond,
        } => {
            let slashed = stake::slash(s, *slash).await?;
            submit(s, vec![return_bond]).await?;
            Ok(Verdict::Upheld {
                slashed,
                bond_returned: bond,
            })
        }
    }
}
