//! Transfers: the only way money moves, each one immutable and named by an id its sender chose.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::u128_string;

/// Why money moved. The ledger enforces rules for [`TransferCode::Mint`] and [`TransferCode::Burn`]
/// only; every other code is a label kept for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TransferCode {
    Transfer,
    /// New supply: debits an issuance account, and nothing else may.
    Mint,
    /// Supply destroyed: credits a burn account, and nothing else may.
    Burn,
    Deposit,
    Charge,
    Payout,
    Fee,
    Stake,
    Unstake,
    Slash,
    Bond,
    Subsidy,
    /// Undoes a mistake by a new transfer, since no transfer is ever edited.
    Correction,
    /// The treasury pays a council member for its seat.
    Reward,
    /// The revenue pool pays a staker its share of an epoch's protocol fees.
    Dividend,
}

impl TransferCode {
    /// Every code, in the order of [`TransferCode::as_u16`].
    pub const ALL: [TransferCode; 15] = [
        TransferCode::Transfer,
        TransferCode::Mint,
        TransferCode::Burn,
        TransferCode::Deposit,
        TransferCode::Charge,
        TransferCode::Payout,
        TransferCode::Fee,
        TransferCode::Stake,
        TransferCode::Unstake,
        TransferCode::Slash,
        TransferCode::Bond,
        TransferCode::Subsidy,
        TransferCode::Correction,
        TransferCode::Reward,
        TransferCode::Dividend,
    ];

    /// A stable number for the code, for binary encodings; never renumber, only append.
    pub fn as_u16(self) -> u16 {
        match self {
            TransferCode::Transfer => 1,
            TransferCode::Mint => 2,
            TransferCode::Burn => 3,
            TransferCode::Deposit => 4,
            TransferCode::Charge => 5,
            TransferCode::Payout => 6,
            TransferCode::Fee => 7,
            TransferCode::Stake => 8,
            TransferCode::Unstake => 9,
            TransferCode::Slash => 10,
            TransferCode::Bond => 11,
            TransferCode::Subsidy => 12,
            TransferCode::Correction => 13,
            TransferCode::Reward => 14,
            TransferCode::Dividend => 15,
        }
    }

    /// The code numbered `n` by [`TransferCode::as_u16`].
    pub fn from_u16(n: u16) -> Option<TransferCode> {
        TransferCode::ALL.into_iter().find(|c| c.as_u16() == n)
    }
}

/// How a transfer behaves. At most one of `pending`, `post_pending` and `void_pending` may be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TransferFlags {
    /// This transfer and the next in the batch commit together or not at all.
    pub linked: bool,
    /// Reserve the amount instead of moving it; a later post or void resolves the reservation.
    pub pending: bool,
    /// Move (part of) what the pending transfer `pending_id` reserved.
    pub post_pending: bool,
    /// Release what the pending transfer `pending_id` reserved.
    pub void_pending: bool,
}

/// A transfer as a client submits it. Fields a kind of transfer does not use must be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transfer {
    /// Any non-zero number the client picks; the same id never applies twice.
    #[serde(with = "u128_string")]
    pub id: u128,
    /// For a post or void, 0 (take the pending transfer's) or the pending transfer's.
    #[serde(default, with = "u128_string")]
    pub debit_account: u128,
    /// For a post or void, 0 (take the pending transfer's) or the pending transfer's.
    #[serde(default, with = "u128_string")]
    pub credit_account: u128,
    /// Base units. For a post, 0 means the whole pending amount; for a void, 0 or the pending amount.
    #[serde(with = "u128_string")]
    pub amount: Amount,
    /// The pending transfer a post or void resolves; 0 otherwise.
    #[serde(default, with = "u128_string")]
    pub pending_id: u128,
    /// For a pending transfer, seconds until it can no longer be posted; 0 means it never expires.
    #[serde(default)]
    pub timeout_secs: u64,
    pub code: TransferCode,
    /// Free for the client (an epoch, a claim id); the ledger never reads it.
    #[serde(default, with = "u128_string")]
    pub user_data: u128,
    #[serde(default)]
    pub flags: TransferFlags,
}

impl Transfer {
    /// A plain transfer with every optional field zero.
    pub fn new(
        id: u128,
        debit_account: u128,
        credit_account: u128,
        amount: Amount,
        code: TransferCode,
    ) -> Transfer {
        Transfer {
            id,
            debit_account,
            credit_account,
            amount,
            pending_id: 0,
            timeout_secs: 0,
            code,
            user_data: 0,
            flags: TransferFlags::default(),
        }
    }
}

/// A transfer the ledger committed: what was submitted, and what it did once a post or void was resolved
/// against its pending transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommittedTransfer {
    /// Exactly as submitted, which is what a resubmission is compared with.
    pub transfer: Transfer,
    #[serde(with = "u128_string")]
    pub debit_account: u128,
    #[serde(with = "u128_string")]
    pub credit_account: u128,
    /// What was moved or reserved; for a post, what was posted; for a void, what was released.
    #[serde(with = "u128_string")]
    pub amount: Amount,
    /// The ledger time of the batch that committed it.
    pub timestamp: u64,
}

/// Where a pending transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PendingStatus {
    /// Still reserved. From `expires_at` on (ledger time, seconds) it can no longer be posted or voided;
    /// `None` never expires.
    Pending { expires_at: Option<u64> },
    /// Posted by transfer `by`.
    Posted {
        #[serde(with = "u128_string")]
        by: u128,
    },
    /// Voided by transfer `by`.
    Voided {
        #[serde(with = "u128_string")]
        by: u128,
    },
    /// Released by [`Ledger::expire_pending`](crate::Ledger::expire_pending).
    Expired,
}

/// Why a transfer was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferError {
    #[error("transfer id must not be zero")]
    IdZero,
    #[error("a transfer with this id exists with different fields")]
    ExistsWithDifferentFields,
    #[error("at most one of pending, post_pending and void_pending may be set")]
    FlagsAreMutuallyExclusive,
    #[error("pending_id is only for post_pending and void_pending transfers")]
    PendingIdMustBeZero,
    #[error("timeout_secs is only for pending transfers")]
    TimeoutReservedForPending,
    #[error("debit and credit account must differ")]
    SameAccount,
    #[error("amount must not be zero")]
    AmountZero,
    #[error("debit account not found")]
    DebitAccountNotFound,
    #[error("credit account not found")]
    CreditAccountNotFound,
    #[error("an issuance account can only be debited by a mint")]
    IssuanceRequiresMint,
    #[error("a mint must debit an issuance account")]
    MintMustDebitIssuance,
    #[error("an issuance account is never credited: supply shrinks only by burning")]
    IssuanceCannotBeCredited,
    #[error("a burn account can only be credited by a burn")]
    BurnAccountRequiresBurn,
    #[error("a burn must credit a burn account")]
    BurnMustCreditBurnAccount,
    #[error("the debit account is credits-only and can never be debited")]
    DebitAccountIsCreditsOnly,
    #[error("insufficient funds: the debit would exceed the account's credits")]
    ExceedsCredits,
    #[error("an account or ledger total would overflow")]
    Overflow,
    #[error("post_pending and void_pending need a pending_id")]
    PendingIdRequired,
    #[error("pending transfer not found")]
    PendingNotFound,
    #[error("pending_id names a transfer that is not pending")]
    NotPending,
    #[error("the pending transfer was already posted")]
    PendingAlreadyPosted,
    #[error("the pending transfer was already voided")]
    PendingAlreadyVoided,
    #[error("the pending transfer has expired")]
    PendingExpired,
    #[error("a post or void must name the pending transfer's accounts, or 0")]
    PendingAccountsMismatch,
    #[error("a post or void must carry the pending transfer's code")]
    PendingCodeMismatch,
    #[error("a post cannot exceed the pending amount")]
    ExceedsPendingAmount,
    #[error("a void releases the whole pending amount: amount must be 0 or equal to it")]
    VoidAmountMismatch,
    #[error("another transfer of the linked chain failed")]
    LinkedEventFailed,
    #[error("the batch ends inside a linked chain: the last transfer has linked set")]
    LinkedEventChainOpen,
}
