//! Accounts: who holds tokens, what kind of holder it is, and the four running totals.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::u128_string;

/// What an account is for. The kind fixes the account's flags, so no caller can open, say, a customer
/// account that may run below zero or a burn account that can be spent from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A business user paying for delivery.
    Customer,
    /// A terminal's earnings.
    Terminal,
    /// A hunter's earnings.
    Hunter,
    /// A council member's earnings.
    Council,
    /// The protocol's own funds.
    Treasury,
    /// Where burned tokens go; never debited.
    Burn,
    /// Funds set aside for a purpose (a customer's prepaid delivery, a claim's bond).
    Escrow,
    /// Locked stake.
    Stake,
    /// The source of minted supply: the only kind that runs below zero, by exactly what was minted.
    Issuance,
}

impl AccountKind {
    /// Every kind, in the order of [`AccountKind::code`].
    pub const ALL: [AccountKind; 9] = [
        AccountKind::Customer,
        AccountKind::Terminal,
        AccountKind::Hunter,
        AccountKind::Council,
        AccountKind::Treasury,
        AccountKind::Burn,
        AccountKind::Escrow,
        AccountKind::Stake,
        AccountKind::Issuance,
    ];

    /// The flags every account of this kind carries.
    pub fn flags(self) -> AccountFlags {
        AccountFlags {
            debits_must_not_exceed_credits: self != AccountKind::Issuance,
            credits_only: self == AccountKind::Burn,
        }
    }

    /// A stable number for the kind in [`Ledger::state_digest`](crate::Ledger::state_digest); never
    /// renumber, only append.
    pub fn code(self) -> u8 {
        match self {
            AccountKind::Customer => 1,
            AccountKind::Terminal => 2,
            AccountKind::Hunter => 3,
            AccountKind::Council => 4,
            AccountKind::Treasury => 5,
            AccountKind::Burn => 6,
            AccountKind::Escrow => 7,
            AccountKind::Stake => 8,
            AccountKind::Issuance => 9,
        }
    }
}

/// Limits on how an account's totals may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct AccountFlags {
    /// `debits_posted + debits_pending` may never exceed `credits_posted`: the balance cannot go below
    /// zero, counting money already reserved by pending transfers.
    pub debits_must_not_exceed_credits: bool,
    /// The account can never be debited, not even by a pending transfer.
    pub credits_only: bool,
}

impl AccountFlags {
    pub(crate) fn bits(self) -> u8 {
        u8::from(self.debits_must_not_exceed_credits) | (u8::from(self.credits_only) << 1)
    }
}

/// A request to open an account. Its id is chosen by the caller, so a retried request is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NewAccount {
    /// Any non-zero number the caller picks; unique across the ledger's accounts.
    #[serde(with = "u128_string")]
    pub id: u128,
    pub kind: AccountKind,
    /// The ed25519 public key that controls the account, if anyone does.
    #[serde(default, with = "owner_text")]
    pub owner: Option<[u8; 32]>,
    /// Free for the caller (a site id, a terminal's short id); the ledger never reads it.
    #[serde(default, with = "u128_string")]
    pub user_data: u128,
}

/// An open account and its running totals. Totals only grow, except that pending amounts are released
/// when a pending transfer is posted, voided or expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Account {
    #[serde(with = "u128_string")]
    pub id: u128,
    pub kind: AccountKind,
    pub flags: AccountFlags,
    #[serde(default, with = "owner_text")]
    pub owner: Option<[u8; 32]>,
    #[serde(default, with = "u128_string")]
    pub user_data: u128,
    /// Reserved for pending transfers out of this account.
    #[serde(with = "u128_string")]
    pub debits_pending: Amount,
    #[serde(with = "u128_string")]
    pub debits_posted: Amount,
    /// Promised by pending transfers into this account; not yet spendable.
    #[serde(with = "u128_string")]
    pub credits_pending: Amount,
    #[serde(with = "u128_string")]
    pub credits_posted: Amount,
    /// The ledger time of the batch that opened it.
    pub created_at: u64,
}

impl Account {
    pub(crate) fn open(new: &NewAccount, now: u64) -> Account {
        Account {
            id: new.id,
            kind: new.kind,
            flags: new.kind.flags(),
            owner: new.owner,
            user_data: new.user_data,
            debits_pending: 0,
            debits_posted: 0,
            credits_pending: 0,
            credits_posted: 0,
            created_at: now,
        }
    }

    /// Whether `new` asks for exactly this account (so a retry is [`Outcome::Exists`](crate::Outcome)).
    pub(crate) fn matches(&self, new: &NewAccount) -> bool {
        self.kind == new.kind && self.owner == new.owner && self.user_data == new.user_data
    }

    /// Posted credits minus posted debits; `None` when debits are larger, which only an issuance account
    /// allows (its deficit is what it has minted).
    pub fn balance(&self) -> Option<Amount> {
        self.credits_posted.checked_sub(self.debits_posted)
    }

    /// What the account may still spend: its balance less what pending transfers have reserved; `None`
    /// for an issuance account in deficit.
    pub fn available(&self) -> Option<Amount> {
        self.balance()?.checked_sub(self.debits_pending)
    }
}

/// Why an account could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountError {
    #[error("account id must not be zero")]
    IdZero,
    #[error("an account with this id exists with a different kind, owner or user_data")]
    ExistsWithDifferentFields,
}

/// An owner key in JSON: 43 characters of URL-safe base64 without padding, like every other key in
/// Meson's protocol, or `null`.
mod owner_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(owner: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match owner {
            Some(key) => s.serialize_some(&meson_core::identity::encode(key)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => meson_core::identity::decode_array::<32>(&text)
                .map(Some)
                .ok_or_else(|| {
                    serde::de::Error::custom(
                        "an owner is 43 characters of URL-safe base64 without padding (32 bytes)",
                    )
                }),
        }
    }
}
