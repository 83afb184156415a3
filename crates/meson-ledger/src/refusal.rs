//! Why a money rule refuses a request, before anything is submitted to the ledger. Each refusal has a
//! [`RefusalKind`], which a server turns into its answer (the router: 400, 409, 422 or 404).

use crate::standing::Standing;
use crate::tx::MAX_TX_LIFETIME_SECS;
use crate::{format_amount, Amount, AmountError};

/// What sort of refusal: the request is malformed, conflicts with what the ledger already holds, is
/// well-formed but cannot be done, or names something the ledger does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    Invalid,
    Conflict,
    Unprocessable,
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the transaction is for network {tx:?}; this router's is {ours:?}")]
    WrongNetwork { tx: String, ours: String },
    #[error("the transaction expired at {0}")]
    TxExpired(u64),
    #[error("expiry more than {MAX_TX_LIFETIME_SECS} s ahead")]
    TxTooLong,
    #[error("{field}: {source}")]
    Amount {
        field: &'static str,
        source: AmountError,
    },
    #[error("a claim's bond is at least {}", format_amount(*min))]
    BondTooSmall { min: Amount },
    #[error("claim {} already has a bond", hex::encode(claim))]
    AlreadyBonded { claim: [u8; 32] },
    #[error("{accused} has nothing at stake: a claim against it could slash nothing")]
    NothingAtStake { accused: String },
    #[error("a hunter has at most {max} claims awaiting a verdict")]
    TooManyOpenClaims { max: u32 },
    #[error("a hunter files at most {max} claims a day")]
    FilingRateLimited { max: u32 },
    #[error("no bond on claim {}", hex::encode(claim))]
    NoBond { claim: [u8; 32] },
    #[error("the dispute window closed without a verdict: the bond went back to the hunter")]
    DisputeClosed,
    #[error("the claim was already judged: {}", standing.as_str())]
    AlreadyJudged { standing: Standing },
    #[error("a rejected claim slashes nothing")]
    RejectionSlashes,
    #[error("this claim's evidence has already slashed the accused: it can only be upheld")]
    EvidenceSlashed,
    #[error("an upheld claim names the stake to slash: \"slash\": TOKENS")]
    UpholdWithoutSlash,
    #[error("term {term} is neither the current term ({current}) nor the next")]
    NotATerm { term: u64, current: u64 },
    #[error("a council member locks at least {}", format_amount(*min))]
    CouncilStakeTooSmall { min: Amount },
    #[error("stake for term {term} is already locked")]
    AlreadyLocked { term: u64 },
    #[error("no site {host}")]
    NoSite { host: String },
    #[error("no transfer {id}")]
    NoTransfer { id: u128 },
    #[error("transfer {reverses} was already corrected by {by}")]
    AlreadyCorrected { reverses: u128, by: u128 },
    #[error("a reservation moved nothing: it ends by its post, void or expiry")]
    ReservationMovedNothing,
    #[error("burned tokens are gone: a burn is never reversed")]
    BurnIsFinal,
    #[error("a correction moves more than 0 and at most the {} the transfer moved", format_amount(*moved))]
    CorrectionAmount { moved: Amount },
    #[error("no proposal {}", hex::encode(proposal))]
    NoProposal { proposal: [u8; 32] },
    #[error(
        "proposal {} is {phase}: a veto locks against a proposal voting or queued",
        hex::encode(proposal)
    )]
    ProposalEnded {
        proposal: [u8; 32],
        phase: &'static str,
    },
    #[error("shutdown round {asked} is not the open one ({open})")]
    NotTheRound { asked: u64, open: u64 },
    #[error("a shutdown is on until {until}: locks go to the next round once it expires")]
    ShutdownOn { until: u64 },
    #[error("a lock moves at least one base unit")]
    EmptyLock,
}

impl Refusal {
    pub fn kind(&self) -> RefusalKind {
        match self {
            Refusal::WrongNetwork { .. }
            | Refusal::TxExpired(_)
            | Refusal::TxTooLong
            | Refusal::Amount { .. }
            | Refusal::BondTooSmall { .. }
            | Refusal::RejectionSlashes
            | Refusal::UpholdWithoutSlash
            | Refusal::NotATerm { .. }
            | Refusal::CouncilStakeTooSmall { .. }
            | Refusal::CorrectionAmount { .. }
            | Refusal::EmptyLock => RefusalKind::Invalid,
            Refusal::AlreadyBonded { .. }
            | Refusal::DisputeClosed
            | Refusal::AlreadyJudged { .. }
            | Refusal::EvidenceSlashed
            | Refusal::AlreadyLocked { .. }
            | Refusal::AlreadyCorrected { .. }
            | Refusal::ProposalEnded { .. }
            | Refusal::NotTheRound { .. }
            | Refusal::ShutdownOn { .. } => RefusalKind::Conflict,
            Refusal::NothingAtStake { .. }
            | Refusal::TooManyOpenClaims { .. }
            | Refusal::FilingRateLimited { .. }
            | Refusal::ReservationMovedNothing
            | Refusal::BurnIsFinal => RefusalKind::Unprocessable,
            Refusal::NoBond { .. }
            | Refusal::NoSite { .. }
            | Refusal::NoTransfer { .. }
            | Refusal::NoProposal { .. } => RefusalKind::NotFound,
        }
    }
}

/// Reads the token amount `text` given as `field`.
pub fn amount(field: &'static str, text: &str) -> Result<Amount, Refusal> {
    crate::parse_amount(text).map_err(|source| Refusal::Amount { field, source })
}
