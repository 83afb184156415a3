//! Meson CDN's money, with no I/O: the token ledger (a pure, deterministic state machine in the style of
//! TigerBeetle) and its audit log, and every rule that decides who pays and who is paid, as functions over
//! the ledger's state that return the transfers to submit. A server applies what they return and logs it;
//! an auditor runs the same functions and gets the same transfers.
//!
//! # Modules
//!
//! | module | what it holds |
//! | --- | --- |
//! | (root) | the state machine: [`Ledger`], [`Account`], [`Transfer`], [`Batch`], [`Amount`], invariants |
//! | [`audit`] | the hash-chained audit log, its signed [`audit::Head`] and [`audit::Replay`] |
//! | [`u128_string`] | `u128` as decimal JSON strings |
//! | [`ids`] | every derived account and transfer id, from a typed [`ids::Purpose`] |
//! | [`accounts`] | the system accounts (issuance, burn, treasury, revenue pool) and the accounts of keys, sites, terminals and claims |
//! | [`memo`] | what a transfer's `user_data` means, as a typed [`memo::Memo`] |
//! | [`tx`] | the transactions key holders sign |
//! | [`economics`] | prices, fees, quality, subsidy and slash shares, payout leaves: the formulas |
//! | [`merkle`] | RFC 6962 trees over the payout leaves |
//! | [`settlement`] | the plan: an epoch's settlement, subsidy and dividends, and what it settled and paid |
//! | [`prefix_share`] | the share cap against self-dealing: what of a terminal's usage from few client prefixes is withheld |
//! | [`stake`] | the plans: locks released when due, a slash in its two steps |
//! | [`claims`] | the plans: a bond's checks and a claim's verdict |
//! | [`claim_life`] | a claim's life: filed, under review, decided, appealed, final or expired, and the council's tally |
//! | [`hunting`] | hunter economics: who may file, what an upheld claim slashes and pays, what filing is worth |
//! | [`council`] | the council's terms, the lock a member makes, the members of a term |
//! | [`election`] | council elections: the snapshot of voting power, ballots, the tally, who is seated |
//! | [`params`] | the parameter registry: every governed parameter's unit, hard bounds, step and default, and the values in force |
//! | [`governance`] | proposals, snapshot votes, the timelock, veto escrow, council delay and shutdown: a state machine fed by the log |
//! | [`seat_reward`] | the plan: a term's seat rewards, to the members that voted whenever they were asked |
//! | [`transactions`] | the plans: a transaction's checks and transfer, the operator's mint and correction |
//! | [`refusal`] | why a plan refuses, and of what kind |
//!
//! # The ledger
//!
//! Money is an [`Amount`], a `u128` count of base units; one token is `10^9` of them ([`DECIMALS`]), and
//! no float ever touches it. [`parse_amount`] and [`format_amount`] convert exactly to and from the
//! decimal text people write (`"12.5"`). The ledger does no I/O and reads no clock: every batch carries
//! its `now` (Unix seconds), and the ledger keeps the largest `now` it has seen as its own time, so time
//! never runs backwards inside it even if a caller's clock does.
//!
//! # Accounts
//!
//! An [`Account`] has a caller-chosen non-zero `u128` id, an [`AccountKind`], an optional owner (an
//! ed25519 public key) and free `user_data`, plus four totals that only move through transfers:
//! `debits_posted`, `credits_posted`, and the `debits_pending` / `credits_pending` reserved by pending
//! transfers. Its balance is `credits_posted - debits_posted`. The kind fixes the [`AccountFlags`]:
//! every kind except `issuance` has `debits_must_not_exceed_credits` (`debits_posted + debits_pending`
//! never exceeds `credits_posted`, so a balance never goes negative, counting reservations), and `burn`
//! is `credits_only` (never debited). Flags are not the caller's to choose, so no account can be opened
//! that weakens a guarantee. Opening an account twice with the same fields returns
//! [`Outcome::Exists`]; with different fields, [`AccountError::ExistsWithDifferentFields`].
//!
//! # Transfers
//!
//! A [`Transfer`] moves `amount` from `debit_account` to `credit_account` and is never edited or
//! deleted: mistakes are fixed by a new transfer (code `correction`). Its client-chosen non-zero id makes
//! it idempotent: submitting the same id with the same fields again returns [`Outcome::Exists`] and
//! applies nothing (even if the transfer would now be refused, say because its pending transfer has
//! since expired); the same id with any field different is
//! [`TransferError::ExistsWithDifferentFields`]. A plain or pending transfer needs two different,
//! existing accounts and a non-zero amount, and may not take the debit account's
//! `debits_posted + debits_pending` above its `credits_posted` ([`TransferError::ExceedsCredits`]).
//! Every sum is checked before anything changes ([`TransferError::Overflow`]): each account's posted
//! plus pending totals, and the ledger's lifetime volume (everything ever posted plus what is pending),
//! which must stay below 2^128 base units (about 3.4 × 10^29 tokens) so that any sum over the ledger
//! fits. Posted plus pending is bounded, not just posted, so posting a reservation can never overflow.
//! A transfer that is refused changes nothing.
//!
//! # Supply: mint and burn
//!
//! New tokens come only out of an `issuance` account, by a transfer with code [`TransferCode::Mint`],
//! and leave only into a `burn` account, by code [`TransferCode::Burn`]; each rule works both ways (a
//! mint must debit issuance and only a mint may; a burn must credit burn and only a burn may), and an
//! issuance account is never credited. So [`Ledger::supply`], issued minus burned, changes only through
//! mints and burns, and always equals the sum of the balances of every account other than issuance and
//! burn. Other codes are labels for the audit trail.
//!
//! # Two-phase transfers
//!
//! A transfer with `pending` set reserves its amount (`debits_pending` and `credits_pending`) instead of
//! moving it; the reservation already counts against the debit account's funds. `timeout_secs` sets
//! when it expires (`now + timeout_secs`; 0 means never, as stake locks need). A later transfer with
//! `post_pending` or `void_pending` names it by `pending_id` and resolves it exactly once:
//!
//! - **post** moves `amount` (0 means the whole pending amount; otherwise at most the pending amount)
//!   and releases the rest of the reservation;
//! - **void** releases all of it (its `amount` must be 0 or the pending amount).
//!
//! A post or void may leave `debit_account` and `credit_account` as 0 or repeat the pending transfer's,
//! must carry the pending transfer's code (so mint and burn rules hold when the money actually moves),
//! and has `timeout_secs` 0. From its expiry time on, a pending transfer can be neither posted nor
//! voided ([`TransferError::PendingExpired`]); [`Ledger::expire_pending`] releases every such
//! reservation and returns their ids. Which pending transfers exist and how each ended is
//! [`Ledger::pending_status`].
//!
//! # Batches and linked chains
//!
//! [`Ledger::create_accounts`] and [`Ledger::create_transfers`] take a batch and return one result per
//! item, in order; items apply one after another, so a later item sees the earlier ones. A run of
//! transfers with `linked` set, together with the first transfer after it without `linked`, is a chain
//! that commits all or nothing: if one fails, it reports its own error, every other transfer of the
//! chain reports [`TransferError::LinkedEventFailed`], and none is applied. A batch whose last transfer
//! has `linked` set leaves the chain open: that transfer reports
//! [`TransferError::LinkedEventChainOpen`] and the chain fails. `Exists` counts as success inside a
//! chain, so resubmitting a committed chain returns `Exists` for each transfer.
//!
//! # Replay and audit
//!
//! The ledger is a function of the batches it was given: the same [`Batch`]es, with the same `now` values, in
//! the same order, always give the same state (no hash maps with random seeds are iterated, no clock is
//! read). Batches serialise to JSON, with every `u128` (ids, amounts, user data) written as a decimal string
//! so JavaScript clients keep full precision ([`u128_string`]). A [`Batch::Record`] carries a council event
//! ([`LogRecord`]: a claim filed, a vote, a claim's new phase, a ballot, an election opened, a council
//! seated): it moves nothing, but is logged and advances the ledger clock like any batch, so the council's
//! decisions are chained into the same log as the money they move. A server logs each batch before applying
//! it; an auditor replays the log ([`Ledger::replay`]) and compares [`Ledger::state_digest`], a BLAKE3 hash
//! over every account and the committed transfer count. [`Ledger::check_invariants`] re-derives every
//! invariant by a full scan: posted debits equal posted credits and pending debits equal pending credits; no
//! account with `debits_must_not_exceed_credits` is overdrawn; no `credits_only` account has a debit; and the
//! balances outside issuance and burn sum to the supply.

mod account;
pub mod accounts;
mod amount;
pub mod audit;
mod batch;
mod chains;
pub mod claim_life;
pub mod claims;
pub mod council;
pub mod economics;
pub mod election;
pub mod governance;
pub mod hunting;
pub mod ids;
mod invariants;
pub mod memo;
pub mod merkle;
pub mod params;
pub mod prefix_share;
pub mod refusal;
pub mod seat_reward;
pub mod settlement;
pub mod stake;
mod standing;
mod state;
pub mod transactions;
mod transfer;
pub mod tx;
pub mod u128_string;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod revenue_proptests;
#[cfg(test)]
mod rules_proptests;
#[cfg(test)]
mod test_ledger;
#[cfg(test)]
mod tests;

pub use account::{Account, AccountError, AccountFlags, AccountKind, NewAccount};
pub use amount::{format_amount, parse_amount, Amount, AmountError, DECIMALS, ONE_TOKEN};
pub use batch::{Batch, BatchResults, LogRecord};
pub use invariants::InvariantError;
pub use state::{Ledger, Outcome};
pub use transfer::{
    CommittedTransfer, PendingStatus, Transfer, TransferCode, TransferError, TransferFlags,
};
