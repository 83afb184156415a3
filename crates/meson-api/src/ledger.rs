//! The ledger over HTTP: its signed head and audit log, accounts and transfers, the operator's mint,
//! slash and correction, transactions signed by key holders, each site's spend and each terminal's
//! earnings per epoch, and the epochs' payout trees.
//!
//! Ids of accounts and transfers and amounts in base units are decimal strings; amounts in tokens are
//! decimal token strings with up to 9 decimals (`"1.5"`).

use meson_core::identity::NodeId;
use meson_ledger::audit::SignedHead;
use meson_ledger::{u128_string, AccountKind, Outcome, PendingStatus, Transfer, TransferCode};
use serde::{Deserialize, Serialize};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::schema::{self, Hash32};

/// `GET /v1/ledger/head`: the ledger's head as the router signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LedgerHead(pub SignedHead);

impl PartialSchema for LedgerHead {
    fn schema() -> RefOr<Schema> {
        schema::signed_head().into()
    }
}

impl ToSchema for LedgerHead {}

/// `GET /v1/ledger/log`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Entries after this sequence number (default 0: from the start).
    pub after: Option<u64>,
    /// At most this many entries (default and most 1000).
    pub limit: Option<usize>,
}

/// One audit log entry: a batch the ledger applied, chained to the one before by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    pub prev_hash: Hash32,
    pub hash: Hash32,
    /// The batch, as the ledger encodes it (JSON text).
    pub body: String,
}

/// A page of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// The `after` of the next page, or null when this page was not full.
    pub next: Option<u64>,
}

/// `GET /v1/ledger/accounts/{id}`: an account's totals, balance and available funds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub id: u128,
    #[schema(schema_with = schema::account_kind)]
    pub kind: AccountKind,
    /// Tokens: posted credits minus posted debits; null when debits are larger, which only an issuance
    /// account allows (its deficit is what it has minted).
    pub balance: Option<String>,
    /// Tokens the account may still spend: its balance less what pending transfers reserved; null for an
    /// issuance account in deficit.
    pub available: Option<String>,
    /// Base units.
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub debits_posted: u128,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub credits_posted: u128,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub debits_pending: u128,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub credits_pending: u128,
}

/// `GET /v1/ledger/transfers/{id}`: one committed transfer as submitted, what it moved, and, for a pending
/// one, where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransferView {
    #[schema(schema_with = schema::transfer)]
    pub transfer: Transfer,
    /// The accounts it moved between (a post or void names its pending transfer's).
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub debit_account: u128,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub credit_account: u128,
    /// Tokens it moved.
    pub amount: String,
    /// Ledger time it was applied, Unix seconds.
    pub at: u64,
    /// Where a pending transfer stands; null for any other.
    #[schema(schema_with = schema::pending_status_or_null)]
    pub pending: Option<PendingStatus>,
}

/// `GET /v1/ledger/accounts/{id}/transfers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// At most this many transfers (default 50, at most 1000).
    pub limit: Option<usize>,
}

/// Which way money moved, seen from the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// One transfer in an account's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryRow {
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub id: u128,
    /// Ledger time, Unix seconds.
    pub at: u64,
    #[schema(schema_with = schema::transfer_code)]
    pub code: TransferCode,
    pub direction: Direction,
    /// The account on the other side.
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub counterparty: u128,
    /// Tokens.
    pub amount: String,
    /// A reservation, resolved later by a post, a void or its expiry.
    pub pending: bool,
}

/// An account's transfers, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct History {
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub account: u128,
    pub transfers: Vec<HistoryRow>,
}

/// `POST /v1/ledger/mint` (operator): new tokens into an account, or into a key's wallet (a purchase).
/// Exactly one of `to` and `owner`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// The transfer id, non-zero: the same request sent twice mints once.
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub id: u128,
    /// An account id.
    #[serde(
        default,
        with = "u128_string::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub to: Option<u128>,
    /// A public key whose wallet account receives the tokens (opened if need be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<NodeId>,
    /// Tokens, with up to 9 decimals.
    pub amount: String,
}

/// What a mint did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Minted {
    #[schema(schema_with = schema::outcome)]
    pub outcome: Outcome,
    /// The account credited.
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub account: u128,
    /// Tokens.
    pub amount: String,
}

/// `POST /v1/ledger/tx` applied: the transfer made from the signer's wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TxApplied {
    /// The transfer's id (from the signer and nonce; for a bond, from the claim; for a council lock,
    /// from the member and term).
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub transfer: u128,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub from: u128,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub to: u128,
    /// Tokens.
    pub amount: String,
}

/// `POST /v1/ledger/slash` (operator): slash stake for objective evidence.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlashRequest {
    /// Whose stake: the accused terminal's public key, which the evidence must name.
    pub owner: NodeId,
    /// Tokens, with up to 9 decimals: raised to cover the refunds owed to the cheated sites, at most
    /// what is at stake.
    pub amount: String,
    /// The account paid the claimant's share.
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub claimant: u128,
    /// The objective evidence, refused unless it verifies against the router's key
    /// (`meson_core::evidence::verify`); the BLAKE3 of its canonical JSON makes the slash's transfer
    /// ids, so one piece of evidence slashes once.
    pub evidence: meson_core::evidence::Evidence,
}

/// A slash, shared between claimant, burn and treasury (tokens each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Slashed {
    /// Tokens taken from the stake.
    pub slashed: String,
    /// Of them, refunded to the sites that paid for the accused's bytes in the affected epochs.
    pub refunded: String,
    pub claimant: String,
    pub burned: String,
    pub treasury: String,
    /// The evidence's id: BLAKE3 of its canonical JSON (`GET /v1/evidence/{id}`).
    pub evidence: Hash32,
}

/// `POST /v1/ledger/correct` (operator): fix a mistaken transfer by a new one the other way (a mistaken
/// mint by a burn), never by an edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectRequest {
    /// The committed transfer that was a mistake.
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub reverses: u128,
    /// Tokens to move back, with up to 9 decimals (default: all it moved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

/// The correcting transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Corrected {
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub transfer: u128,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub reverses: u128,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub from: u128,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub to: u128,
    /// Tokens.
    pub amount: String,
    #[schema(schema_with = schema::transfer_code)]
    pub code: TransferCode,
}

/// `GET /v1/sites/{host}/billing` and `GET /v1/terminals/{node}/earnings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EpochsQuery {
    /// How many ended epochs back (default 24, at most 744).
    pub epochs: Option<u64>,
}

/// One epoch of a site's spend (tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SpentEpoch {
    pub epoch: u64,
    /// Unix seconds.
    pub start: u64,
    pub bytes: u64,
    /// Every line of the epoch is settled (an ended epoch is settled within a few seconds).
    pub settled: bool,
    pub spent: String,
    /// The protocol fee: burned, but for the holders' share (`holder_share_bps`), which goes to
    /// stakers.
    pub fee_burned: String,
    pub paid_to_terminals: String,
}

/// A site's escrow and what it spent per epoch with usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SiteBilling {
    pub host: String,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub escrow_account: u128,
    /// Null until the escrow account exists.
    pub escrow: Option<AccountView>,
    /// False once the escrow ran dry: clients then go to the origin.
    pub funded: bool,
    /// Funded for less than one more epoch at the last epoch's spend: top up before it runs dry.
    pub low_funds: bool,
    pub epoch_secs: u64,
    pub epochs: Vec<SpentEpoch>,
}

/// One epoch of a terminal's earnings (tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EarnedEpoch {
    pub epoch: u64,
    /// Unix seconds.
    pub start: u64,
    pub bytes: u64,
    pub settled: bool,
    /// Paid by customers.
    pub earned: String,
    /// Added by the treasury, kept apart from `earned`.
    pub subsidy: String,
    /// Why `earned` is what it is: the terminal's quality is its uptime times its audit pass rate, in
    /// basis points (10 000 is 100 %). Uptime is the share of the epoch the router saw it in rotation
    /// (since the router last started); the pass rate is over the epoch's counted spot-check audits
    /// (10 000 when none ran).
    pub uptime_bps: u32,
    pub audit_pass_bps: u32,
}

/// `GET /v1/holders/{key}/dividends`: a staker's share of the protocol fee, per epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HolderDividends {
    pub key: NodeId,
    /// Tokens now at stake (what earns dividends; unbonding stake does not).
    pub staked: String,
    /// Tokens paid in all.
    pub total: String,
    /// Every dividend, oldest epoch first.
    pub epochs: Vec<Dividend>,
}

/// What the revenue pool paid a staker for one epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Dividend {
    pub epoch: u64,
    /// Tokens.
    pub amount: String,
}

/// A terminal's earnings account and its earnings per epoch with usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TerminalEarnings {
    pub node_id: NodeId,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub account: u128,
    /// Null until the account exists.
    pub balance: Option<AccountView>,
    pub epoch_secs: u64,
    pub epochs: Vec<EarnedEpoch>,
}

/// One payout of an epoch: everything the account was paid for it (customer earnings and subsidy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PayoutLeaf {
    pub index: u64,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub account: u128,
    /// Base units.
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub amount: u128,
}

/// `GET /v1/ledger/payouts/{epoch}`: the epoch's payout leaves, in account order, and their Merkle root,
/// signed by the router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Payouts {
    pub epoch: u64,
    pub root: Hash32,
    /// How many leaves.
    pub size: u64,
    pub signer: NodeId,
    /// The router's signature over the epoch, size and root.
    pub signature: String,
    pub leaves: Vec<PayoutLeaf>,
}

/// `GET /v1/ledger/payouts/{epoch}/proof/{account}`: one payout's leaf and its audit path to the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PayoutProof {
    pub epoch: u64,
    pub index: u64,
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub account: u128,
    /// Base units.
    #[serde(with = "u128_string")]
    #[schema(value_type = String)]
    pub amount: u128,
    /// How many leaves the tree has.
    pub size: u64,
    pub path: Vec<Hash32>,
    pub root: Hash32,
}
