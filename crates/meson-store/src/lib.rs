//! Router persistence for Meson CDN: the [`Store`] trait and its embedded SQLite backend, [`SqliteStore`].
//!
//! The router keeps everything durable behind [`Store`] (accounts and API keys, sites, the terminal
//! registry, usage (accepted, held or refused as inflated) and refused usage per reason, what the router
//! knows of objects (sizes and roots), spot-check audits, the ledger's audit log); liveness
//! such as heartbeats stays in the router's memory
//! and is never written. A PostgreSQL backend, for several routers sharing state, is planned as a second
//! implementation of the same trait, so the trait speaks only plain Rust types and says nothing about SQL.
//!
//! # The trait
//!
//! The router holds the store as `Arc<dyn Store>`, and `async fn` in a trait is not dyn-compatible, so
//! the trait uses [`async_trait`](mod@async_trait): each call returns a boxed `Send` future. One
//! allocation per call is noise next to a database round trip.
//!
//! Ids are the database's `i64`s. Sizes, byte counts, counts and timestamps (Unix seconds) are `u64`, as in
//! `meson-core`. SQL has only signed 64-bit integers (SQLite `INTEGER`, PostgreSQL `BIGINT`), so a `u64`
//! above `i64::MAX` is refused with [`StoreError::Invalid`], and query bounds above it mean "no bound". Ticket
//! serials are the exception: they are identifiers drawn from the whole `u64` range, compared only for
//! equality, so they are stored as the `i64` with the same bits.
//!
//! # Schema (`migrations/sqlite`)
//!
//! | table | key | columns | indexes |
//! |---|---|---|---|
//! | `accounts` | `id` | `name`, `created_at` | |
//! | `api_keys` | `id` | `key_hash` (32-byte BLAKE3, unique), `account_id` → accounts, `label`, `created_at` | `(account_id)` |
//! | `sites` | `id` | `account_id` → accounts, `host` (unique, lowercase), `origin`, `default_ttl_secs`, `query_mode`, `created_at` | `(account_id)` |
//! | `object_roots` | `(site_id, object_key, version)` | `path`, `size`, `root`, `slice_roots` (32 bytes each, concatenated), `source` (`origin` or `owner`), `learned_at`; what the router knows of each object without asking a terminal; deleted with their site | `(object_key)` |
//! | `terminals` | `node_id` | `short_id` (first 8 bytes, unique), `public_url`, `capacity_bytes`, `region`, `lat`, `lon`, `hardware_json`, `state`, `registered_at`, `updated_at` | |
//! | `usage_records` | `serial` | `terminal`, `site_id`, `object_key`, `bytes`, `requests`, `hits` (≤ `requests`), `served_at`, `accepted_at`, `state` (`accepted`, `held` until the size is known, `inflated`: over it), `batch` → usage_batches (held and inflated only), `judged_size`, `client_prefix` (the ticket's, as text), `withheld` (`withheld`, `released`, `rejected`: the share cap's review), `withheld_reason`, `withheld_epoch`, `reviewed_at` | partial, over accepted rows: `(site_id, served_at, bytes)`, `(terminal, served_at, bytes)`, `(accepted_at, site_id, terminal)`; `(site_id, object_key)` of held rows, `(terminal)` of inflated ones, `(withheld_epoch, site_id, terminal)` of withheld ones |
//! | `usage_batches` | `hash` (BLAKE3 of `signed`) | `terminal`, `signed` (the batch's signed message, as received), `received_at` | |
//! | `usage_rejections` | `(terminal, reason)` | `count` | |
//! | `audits` | `id` | `terminal`, `epoch`, `at`, `root`, `chunk_group`, `outcome` (`pass`, `fail`, `missing`, `not_held`, `timeout`), `detail`, `evidence` (a failure's signed answer) | `(terminal, epoch)` |
//! | `evidence` | `id` (BLAKE3 of `json`) | `accused`, `kind`, `first_epoch`, `epoch` (the affected epochs), `json` (the evidence, as served), `recorded_at`, `offence` (unique: evidence of one offence is kept once), `outcome`, `slashed`, `refunded` | `(accused, recorded_at)`, `(first_epoch)`, `(epoch)`, unslashed rows |
//! | `ledger_log` | `seq` | `prev_hash`, `hash` (unique), `body` (the batch, JSON), `created_at`; append-only (triggers refuse updates and deletes) | |
//!
//! Migrations are plain SQL files embedded in the binary and applied by [`SqliteStore::open`]
//! (`0001_router`, `0002_usage_hits`, `0003_ledger`, `0004_verification`, `0006_prefixes`); sqlx records them in `_sqlx_migrations`, so opening an
//! up-to-date database applies nothing, and a database migrated by a newer release is refused rather than
//! misread.
//!
//! # Decisions
//!
//! - **Only accepted usage counts.** Statistics and settlement read `state = 'accepted'` rows, through
//!   partial indexes. Held rows become accepted (with `accepted_at` set then, so they land in an open
//!   epoch) or inflated in the transaction that records the object's size ([`Store::record_object`]).
//! - **Withheld usage stays accepted.** The share cap withholds accepted records by a column beside their
//!   state, so statistics still show the bytes served; settlement leaves out those awaiting review or
//!   rejected. A release moves `accepted_at` to the time of release, so the record is paid in an open epoch.
//! - **A serial counts once.** `serial` is the primary key of `usage_records`. [`Store::accept_usage`]
//!   inserts a whole batch in one transaction with `ON CONFLICT (serial) DO NOTHING`; a row inserted means
//!   accepted, none means duplicate, whether the first copy came earlier in the same batch, in an earlier
//!   batch or in a batch racing on another connection (writers are serialized, so exactly one wins).
//! - **Durable before acknowledged.** `accept_usage` returns only after its transaction committed, and the
//!   SQLite database runs with `journal_mode=WAL` and `synchronous=FULL`: every commit is fsynced into the
//!   write-ahead log. `synchronous=NORMAL` would survive a crash of the router but could lose the last
//!   commits on power loss, and an acknowledged usage record that vanishes is unpaid work. WAL also lets
//!   readers (redirects looking up sites) proceed while a batch commits.
//! - **The usage transaction takes the write lock up front** (`BEGIN IMMEDIATE`): a batch waits for the lock
//!   (`busy_timeout`, 10 s) before writing anything instead of failing halfway through because another
//!   connection got there first. Other writes are single statements.
//! - **Usage outlives sites.** `usage_records` has no foreign keys, and site and account ids are never
//!   reused (`AUTOINCREMENT`), so removing a site neither blocks on nor erases what must still be paid, and
//!   old usage is never attributed to a new site on the same id.
//! - **`accepted_at` is kept** beside `served_at` so settlement can assign records to epochs by when they were
//!   accepted: a late batch then lands in an open epoch instead of one already settled.
//! - **Hourly statistics are aggregated on read** from covering indexes rather than kept in a rollup
//!   table: one source of truth, and a day of one site is a short index range scan.
//! - **Terminal state changes only through [`Store::set_terminal_state`].** Re-registration refreshes the
//!   address, capacity and hardware but keeps the state, so a drained node that restarts stays drained
//!   until the operator says otherwise. Tickets name a terminal by its node id's first 8 bytes, so a
//!   registration whose short id belongs to another node is a [`StoreError::Conflict`].
//! - **Hosts are lowercased by the store** on every write and lookup: host names are case-insensitive and
//!   the uniqueness of a site's host must be too.
//! - **API keys are revoked by id**, which [`Store::list_api_keys`] shows with each key's label, so a user
//!   can revoke a key they no longer have.
//! - **Clock.** Creation and update times come from the system clock at the call; usage times come from the
//!   terminal's records.
//! - **Pool.** Up to 8 connections: under WAL readers run in parallel with the one writer, and more
//!   connections would only hold more page caches.
//!
//! # For the PostgreSQL backend
//!
//! The statements use only what both databases accept (`ON CONFLICT ... DO NOTHING | DO UPDATE`,
//! `RETURNING`, integer division). Its migrations differ in types only: `BIGINT` generated identities
//! for ids, `BYTEA` for hashes and keys, `DOUBLE PRECISION` for coordinates. `SUM(bigint)` is `numeric`
//! there and must be cast back to `BIGINT`; `BEGIN IMMEDIATE` becomes a plain transaction, the primary
//! key on `serial` being what serializes racing batches.

mod council;
mod sqlite;

use std::path::PathBuf;

use async_trait::async_trait;

pub use council::{
    BallotRecord, ClaimFilter, ClaimKind, ClaimRecord, CouncilTermRecord, ElectionRecord,
    RoundRecord, VoteRecord,
};
pub use sqlite::SqliteStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing addressed does not exist (or does not belong to the account named).
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness rule would be broken, e.g. a host already registered.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input cannot be stored, e.g. a number larger than the database's integers.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database could not be opened or migrated.
    #[error("cannot open database {}: {reason}", path.display())]
    Open { path: PathBuf, reason: String },
    /// Anything else the database reported.
    #[error("database: {0}")]
    Backend(String),
}

/// A business user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub created_at: u64,
}

/// An API key as listed: never the key itself, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub account_id: i64,
    pub label: String,
    pub created_at: u64,
}

pub use meson_core::keying::QueryMode;
pub use meson_core::ticket::ClientPrefix;

/// A site to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSite {
    pub account_id: i64,
    /// Stored lowercased.
    pub host: String,
    pub origin: String,
    pub default_ttl_secs: Option<u64>,
    pub query_mode: QueryMode,
}

/// A host name served by the network from an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub id: i64,
    pub account_id: i64,
    /// Lowercase; unique across the network.
    pub host: String,
    pub origin: String,
    pub default_ttl_secs: Option<u64>,
    pub query_mode: QueryMode,
    pub created_at: u64,
}

/// Whether an admitted terminal receives new traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalState {
    Admitted,
    /// Out of rotation at the operator's request.
    Draining,
}

/// What a terminal declares when it registers (after the router has reached it on `public_url`).
#[derive(Debug, Clone, PartialEq)]
pub struct TerminalRegistration {
    /// Its ed25519 public key.
    pub node_id: [u8; 32],
    pub public_url: String,
    pub capacity_bytes: u64,
    pub region: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// The hardware description as the terminal sent it; the store does not interpret it.
    pub hardware_json: String,
}

/// A terminal in the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct TerminalRecord {
    /// What it declared when it last registered.
    pub declared: TerminalRegistration,
    pub state: TerminalState,
    /// When it first registered.
    pub registered_at: u64,
    /// When it last registered or changed state.
    pub updated_at: u64,
}

/// Bytes a terminal served against one ticket serial, as the router accepts it: the ticket is already
/// verified as issued to `terminal` and `bytes` already capped by the object's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    pub serial: u64,
    pub terminal: [u8; 32],
    pub site_id: i64,
    pub object_key: [u8; 16],
    pub bytes: u64,
    /// Requests served under the ticket, and how many of them from the cache.
    pub requests: u64,
    pub hits: u64,
    pub served_at: u64,
    /// The client prefix the ticket was issued for; `None` only for records stored before prefixes were.
    pub client_prefix: Option<ClientPrefix>,
    /// The origin's version the terminal says it served (`meson_core::wire::UsageRecord::version`).
    pub version: Option<String>,
}

/// The fate of one record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageStatus {
    /// First time this serial was seen: stored, and counted.
    Accepted,
    /// First time this serial was seen: stored, not counted until the object's size is known.
    Held,
    /// First time this serial was seen: stored as evidence, never counted.
    Inflated,
    /// The serial was already claimed (earlier in the batch, or before) with the same numbers: a resent
    /// record, not counted again.
    Duplicate,
    /// The serial was already claimed with other numbers (or by another terminal): not counted, and the
    /// two signed batches of one terminal are evidence.
    Conflict,
}

/// Per-record results of [`Store::accept_usage`], in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageOutcome {
    pub statuses: Vec<UsageStatus>,
}

impl UsageOutcome {
    pub fn accepted(&self) -> usize {
        self.count(UsageStatus::Accepted)
    }

    pub fn duplicates(&self) -> usize {
        self.count(UsageStatus::Duplicate)
    }

    pub fn held(&self) -> usize {
        self.count(UsageStatus::Held)
    }

    pub fn inflated(&self) -> usize {
        self.count(UsageStatus::Inflated)
    }

    pub fn conflicts(&self) -> usize {
        self.count(UsageStatus::Conflict)
    }

    fn count(&self, status: UsageStatus) -> usize {
        self.statuses.iter().filter(|s| **s == status).count()
    }
}

/// How a usage record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageState {
    /// Counted, and paid with billing on.
    Accepted,
    /// The object's size is not known yet: stored, not counted, until [`Store::record_object`] teaches it.
    Held,
    /// It claims more bytes than the object has: never counted; the signed batch is kept as evidence.
    Inflated {
        /// The object's size it was judged against.
        size: u64,
    },
}

impl UsageState {
    pub fn as_str(&self) -> &'static str {
        match self {
            UsageState::Accepted => "accepted",
            UsageState::Held => "held",
            UsageState::Inflated { .. } => "inflated",
        }
    }
}

/// A usage batch exactly as the terminal signed it (the JSON text of its signed message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBatch {
    /// BLAKE3 of `signed`.
    pub hash: [u8; 32],
    pub terminal: [u8; 32],
    pub signed: String,
}

/// A record refused as inflated, with the signed batch that claimed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvidence {
    pub serial: u64,
    pub site_id: i64,
    pub object_key: [u8; 16],
    /// Bytes the terminal claimed.
    pub claimed: u64,
    /// The object's size as the router knew it.
    pub size: u64,
    pub signed_batch: String,
    pub received_at: u64,
}

/// Where accepted usage withheld by the share cap stands (`meson_ledger::prefix_share`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithheldState {
    /// Not paid, awaiting the operator's review.
    Withheld,
    /// Paid, in the epoch it was released.
    Released,
    /// Never paid; not evidence of anything, so nothing is slashed.
    Rejected,
}

impl WithheldState {
    pub const ALL: [WithheldState; 3] = [
        WithheldState::Withheld,
        WithheldState::Released,
        WithheldState::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WithheldState::Withheld => "withheld",
            WithheldState::Released => "released",
            WithheldState::Rejected => "rejected",
        }
    }
}

impl std::str::FromStr for WithheldState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        named(
            &WithheldState::ALL,
            WithheldState::as_str,
            "withheld state",
            s,
        )
    }
}

/// Accepted usage of one site on one terminal from one client prefix, summed over a period by when it was
/// accepted (a released record counts in the period it was released).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixUsage {
    pub site_id: i64,
    pub terminal: [u8; 32],
    /// `None` for records stored before prefixes were.
    pub client_prefix: Option<ClientPrefix>,
    pub records: u64,
    pub requests: u64,
    /// Every accepted byte, whatever its review.
    pub bytes: u64,
    /// Of `bytes`: never withheld, withheld and awaiting review, released, rejected.
    pub unjudged_bytes: u64,
    pub withheld_bytes: u64,
    pub released_bytes: u64,
    pub rejected_bytes: u64,
}

/// A record withheld by the share cap, as the operator reviews it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithheldRecord {
    pub serial: u64,
    pub site_id: i64,
    pub terminal: [u8; 32],
    pub client_prefix: Option<ClientPrefix>,
    pub bytes: u64,
    pub requests: u64,
    pub served_at: u64,
    /// The epoch whose settlement withheld it.
    pub epoch: u64,
    pub reason: String,
    pub state: WithheldState,
    pub reviewed_at: Option<u64>,
}

/// Which withheld usage a review decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithheldSelector {
    Serial(u64),
    /// Everything one epoch's settlement withheld of one terminal's usage for one site.
    Group {
        site_id: i64,
        terminal: [u8; 32],
        epoch: u64,
    },
}

/// What a review changed: records moved from withheld to the decided state, records already in it, and
/// records decided the other way before (left as they are: a release is paid, a rejection final).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reviewed {
    pub changed: u64,
    pub bytes: u64,
    pub already: u64,
    pub other: u64,
}

/// Who told the router an object's size and roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSource {
    /// Its own fetch from the site's origin.
    Origin,
    /// The site's owner, through the API.
    Owner,
}

impl RootSource {
    pub const ALL: [RootSource; 2] = [RootSource::Origin, RootSource::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            RootSource::Origin => "origin",
            RootSource::Owner => "owner",
        }
    }
}

/// The value of `all` named `s`, as a stored enum is read back.
fn named<T: Copy>(all: &[T], name: fn(T) -> &'static str, what: &str, s: &str) -> Result<T> {
    all.iter()
        .copied()
        .find(|v| name(*v) == s)
        .ok_or_else(|| StoreError::Backend(format!("unknown {what} {s:?}")))
}

impl std::str::FromStr for RootSource {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        named(&RootSource::ALL, RootSource::as_str, "root source", s)
    }
}

/// What the router knows of one version of an object, from a source other than the terminals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownObject {
    pub site_id: i64,
    pub object_key: [u8; 16],
    /// The origin's version: its `ETag`, else its `Last-Modified`, else empty.
    pub version: String,
    /// The keyed path (path and query as the cache key has them).
    pub path: String,
    pub size: u64,
    /// BLAKE3 of the whole body.
    pub root: [u8; 32],
    /// The roots of its slices (see `meson_core::content::ObjectRoots`); empty for a small object.
    pub slice_roots: Vec<[u8; 32]>,
    pub source: RootSource,
    pub learned_at: u64,
}

impl KnownObject {
    /// Its pieces (the whole object, and each slice of a sliced one) with their lengths: what a terminal
    /// stores and reports holding, and what an audit may ask for.
    pub fn pieces(&self) -> Vec<(meson_core::content::Root, u64)> {
        use meson_core::content::{ObjectRoots, Root};
        let roots = ObjectRoots {
            size: self.size,
            root: Root(self.root),
            slices: self.slice_roots.iter().copied().map(Root).collect(),
        };
        std::iter::once(roots.root)
            .chain(roots.slices.iter().copied())
            .filter_map(|r| Some((r, roots.piece_len(&r)?)))
            .collect()
    }
}

/// Held usage an object's newly known size settled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Released {
    pub accepted: u64,
    pub inflated: u64,
    /// The serials refused as inflated that named the version learned: judged against its own size,
    /// evidence when the version is a strong one.
    pub over_version: Vec<u64>,
}

/// A stored usage record and the signed batch it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub record: UsageRecord,
    pub state: String,
    /// The batch as the terminal signed it (JSON of its signed message); None for records stored before
    /// batches were kept for every record.
    pub signed_batch: Option<String>,
}

/// A piece of objective evidence against a terminal and how its slash went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRecord {
    /// BLAKE3 of `json`.
    pub id: [u8; 32],
    pub accused: [u8; 32],
    /// `meson_core::evidence::Kind::as_str`.
    pub kind: String,
    /// The epochs of its earliest and latest signed messages.
    pub first_epoch: u64,
    pub epoch: u64,
    /// The evidence's canonical JSON, exactly as served.
    pub json: String,
    pub recorded_at: u64,
    /// What it proves, whatever signed messages prove it (`meson_core::evidence::Finding::offence`, else
    /// `id`): evidence of one offence is kept once.
    pub offence: [u8; 32],
    pub slash: Option<SlashRecord>,
}

/// What the slash for a piece of evidence did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlashRecord {
    pub outcome: SlashOutcome,
    /// Base units taken from the stake, and of them refunded to the cheated sites.
    pub slashed: u128,
    pub refunded: u128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlashOutcome {
    /// Taken now.
    Slashed,
    /// Nothing was at stake: the evidence is kept, the terminal's quality suspends it anyway.
    NothingAtStake,
    /// The ledger had slashed for this evidence before (through `POST /v1/ledger/slash`).
    Before,
}

impl SlashOutcome {
    pub const ALL: [SlashOutcome; 3] = [
        SlashOutcome::Slashed,
        SlashOutcome::NothingAtStake,
        SlashOutcome::Before,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SlashOutcome::Slashed => "slashed",
            SlashOutcome::NothingAtStake => "nothing_at_stake",
            SlashOutcome::Before => "before",
        }
    }
}

impl std::str::FromStr for SlashOutcome {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        named(&SlashOutcome::ALL, SlashOutcome::as_str, "slash outcome", s)
    }
}

/// How one spot check ended, as stored (`audits.outcome` holds [`AuditOutcome::as_str`]).
pub use meson_core::audit::Outcome as AuditOutcome;

pub(crate) fn audit_outcome(s: &str) -> Result<AuditOutcome> {
    named(&AuditOutcome::ALL, AuditOutcome::as_str, "audit outcome", s)
}

/// One spot check of one terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub terminal: [u8; 32],
    pub epoch: u64,
    pub at: u64,
    pub root: [u8; 32],
    pub group: u64,
    pub outcome: AuditOutcome,
    pub detail: String,
    /// For a failure, the terminal's signed answer as JSON.
    pub evidence: Option<String>,
}

/// A terminal's audits in one epoch, by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditTally {
    pub epoch: u64,
    pub pass: u64,
    pub fail: u64,
    pub missing: u64,
    pub not_held: u64,
    pub timeout: u64,
}

impl AuditTally {
    pub fn add(&mut self, outcome: AuditOutcome, n: u64) {
        let slot = match outcome {
            AuditOutcome::Pass => &mut self.pass,
            AuditOutcome::Fail => &mut self.fail,
            AuditOutcome::Missing => &mut self.missing,
            AuditOutcome::NotHeld => &mut self.not_held,
            AuditOutcome::Timeout => &mut self.timeout,
        };
        *slot += n;
    }

    /// The audits that count towards the pass rate.
    pub fn counted(&self) -> meson_core::audit::Tally {
        meson_core::audit::Tally {
            pass: self.pass,
            fail: self.fail,
            missing: self.missing,
            timeout: self.timeout,
        }
    }
}

/// Accepted usage of one site in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SiteHour {
    /// Unix seconds, a multiple of 3600.
    pub hour_start: u64,
    /// Accepted records: one per redirect ticket.
    pub tickets: u64,
    /// Requests served under those tickets, and how many of them from the cache.
    pub requests: u64,
    pub hits: u64,
    pub bytes: u64,
}

/// Accepted usage summed over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsageTotals {
    /// Accepted records: one per redirect ticket.
    pub tickets: u64,
    pub bytes: u64,
}

/// One committed ledger batch in the audit log. `hash` chains it to the entry before (`prev_hash`, zeros
/// for the first); the store keeps the chain whole but does not compute hashes: the ledger does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
    /// The batch, as the ledger encodes it (JSON).
    pub body: String,
    pub created_at: u64,
}

/// Accepted usage of one site on one terminal, summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSum {
    pub site_id: i64,
    pub terminal: [u8; 32],
    pub records: u64,
    pub bytes: u64,
}

/// The router's durable state. Time ranges are half-open, `from <= served_at < to`.
#[async_trait]
pub trait Store: Send + Sync {
    async fn create_account(&self, name: &str) -> Result<Account>;
    /// `NotFound` without such an account, `Conflict` if the hash is already registered.
    async fn add_api_key(&self, account_id: i64, key_hash: [u8; 32], label: &str)
        -> Result<ApiKey>;
    async fn list_api_keys(&self, account_id: i64) -> Result<Vec<ApiKey>>;
    /// `NotFound` unless the key exists and belongs to the account.
    async fn revoke_api_key(&self, account_id: i64, key_id: i64) -> Result<()>;
    /// The account owning the key whose BLAKE3 hash this is, unless the key was revoked.
    async fn account_by_key_hash(&self, key_hash: [u8; 32]) -> Result<Option<Account>>;

    /// `Conflict` if the host is taken, `NotFound` without such an account.
    async fn add_site(&self, site: NewSite) -> Result<Site>;
    async fn site_by_host(&self, host: &str) -> Result<Option<Site>>;
    async fn list_sites(&self, account_id: i64) -> Result<Vec<Site>>;
    async fn list_all_sites(&self) -> Result<Vec<Site>>;
    /// `NotFound` unless the account has a site on that host. Its usage stays; its known objects go.
    async fn remove_site(&self, account_id: i64, host: &str) -> Result<()>;

    /// Records an admitted terminal (as [`TerminalState::Admitted`]) or refreshes a known one, keeping its
    /// state and `registered_at`. `Conflict` if another node has the same first 8 bytes.
    async fn upsert_terminal(&self, registration: TerminalRegistration) -> Result<TerminalRecord>;
    async fn terminal(&self, node_id: [u8; 32]) -> Result<Option<TerminalRecord>>;
    async fn list_terminals(&self) -> Result<Vec<TerminalRecord>>;
    /// `NotFound` for an unknown terminal.
    async fn set_terminal_state(&self, node_id: [u8; 32], state: TerminalState) -> Result<()>;

    /// Stores each record whose serial was never claimed as accepted, atomically and durably before
    /// returning: [`Store::record_usage`] with every record [`UsageState::Accepted`].
    async fn accept_usage(&self, batch: &[UsageRecord]) -> Result<UsageOutcome> {
        let records: Vec<_> = batch
            .iter()
            .map(|r| (r.clone(), UsageState::Accepted))
            .collect();
        self.record_usage(&records, None).await
    }
    /// Adds `count` to the terminal's tally of records refused for `reason`.
    async fn record_rejections(&self, terminal: [u8; 32], reason: &str, count: u64) -> Result<()>;
    /// The terminal's refused records per reason, by reason.
    async fn rejections(&self, terminal: [u8; 32]) -> Result<Vec<(String, u64)>>;
    /// Hours with accepted usage for the site, in order; hours without any are left out.
    async fn usage_by_site_hour(&self, site_id: i64, from: u64, to: u64) -> Result<Vec<SiteHour>>;
    async fn usage_by_terminal(
        &self,
        terminal: [u8; 32],
        from: u64,
        to: u64,
    ) -> Result<UsageTotals>;

    /// Stores each record whose serial was never claimed, in the state given, atomically and durably;
    /// `batch` (required for held and inflated records) is kept beside them as the terminal signed it. A
    /// serial claimed before is a [`UsageStatus::Duplicate`] when its numbers are the same, else a
    /// [`UsageStatus::Conflict`].
    async fn record_usage(
        &self,
        records: &[(UsageRecord, UsageState)],
        batch: Option<&SignedBatch>,
    ) -> Result<UsageOutcome>;
    /// Records refused as inflated for the terminal, newest first.
    async fn usage_evidence(&self, terminal: [u8; 32], limit: usize) -> Result<Vec<UsageEvidence>>;
    /// The record stored for `serial`, with its signed batch.
    async fn claim(&self, serial: u64) -> Result<Option<Claim>>;
    /// Up to `limit` objects with held usage, as `(site_id, object_key)`.
    async fn held_objects(&self, limit: usize) -> Result<Vec<(i64, [u8; 16])>>;

    /// Remembers one version of an object (the latest report of a version wins, except that an owner's
    /// report never replaces what the router fetched from the origin), then settles the held
    /// usage of the object in the same transaction: a record naming this version against its size, any
    /// other against the largest size of its known versions; a record within it is accepted (as of now,
    /// for settlement), one over it refused as inflated.
    /// `NotFound` without such a site.
    async fn record_object(&self, object: &KnownObject) -> Result<Released>;
    /// The largest size of the object's known versions: what usage under one ticket may claim at most.
    async fn object_size(&self, site_id: i64, object_key: [u8; 16]) -> Result<Option<u64>>;
    /// One known version of an object.
    async fn object_version(
        &self,
        site_id: i64,
        object_key: [u8; 16],
        version: &str,
    ) -> Result<Option<KnownObject>>;
    /// Every known version of objects with this key, on any site.
    async fn known_objects(&self, object_key: [u8; 16]) -> Result<Vec<KnownObject>>;
    /// The site's known objects, most recently learned first.
    async fn list_known_objects(&self, site_id: i64, limit: usize) -> Result<Vec<KnownObject>>;

    async fn record_audit(&self, audit: &AuditRecord) -> Result<()>;
    /// Per terminal (only `terminal`, if given) and epoch, from `from_epoch` on, in order of terminal and
    /// epoch.
    async fn audit_tallies(
        &self,
        terminal: Option<[u8; 32]>,
        from_epoch: u64,
    ) -> Result<Vec<([u8; 32], AuditTally)>>;
    /// The terminal's latest audits (only those with evidence, if `with_evidence`), newest first.
    async fn audits(
        &self,
        terminal: [u8; 32],
        limit: usize,
        with_evidence: bool,
    ) -> Result<Vec<AuditRecord>>;

    /// Stores a piece of evidence, unless one with its id or its offence is stored: None when it is
    /// new, else the one stored before.
    async fn record_evidence(&self, evidence: &EvidenceRecord) -> Result<Option<EvidenceRecord>>;
    async fn evidence(&self, id: [u8; 32]) -> Result<Option<EvidenceRecord>>;
    /// Evidence against `accused`, newest first.
    async fn evidence_against(
        &self,
        accused: [u8; 32],
        limit: usize,
    ) -> Result<Vec<EvidenceRecord>>;
    /// Evidence whose slash has not run yet, oldest first.
    async fn unslashed_evidence(&self, limit: usize) -> Result<Vec<EvidenceRecord>>;
    /// Records how the slash for evidence `id` went. `NotFound` without such evidence.
    async fn record_slash(&self, id: [u8; 32], slash: &SlashRecord) -> Result<()>;
    /// Terminals with evidence whose affected epochs include `epoch`, or a claim upheld for good whose
    /// probes span it (its phase's JSON says `final` and `upheld`): their usage of it is not paid.
    async fn withheld(&self, epoch: u64) -> Result<Vec<[u8; 32]>>;

    /// Appends the next entry of the ledger's audit log, durably. `Conflict` unless `seq` is one past the
    /// last entry and `prev_hash` is that entry's hash (zeros and seq 1 for the first).
    async fn append_ledger_entry(&self, entry: &LedgerEntry) -> Result<()>;
    /// Up to `limit` entries after `after`, in order.
    async fn ledger_entries(&self, after: u64, limit: usize) -> Result<Vec<LedgerEntry>>;
    /// Accepted usage per site and terminal among records accepted in `from <= accepted_at < to`, leaving
    /// out usage withheld (awaiting review or rejected): what settlement pays.
    async fn usage_accepted_between(&self, from: u64, to: u64) -> Result<Vec<UsageSum>>;

    /// Accepted usage in `from <= accepted_at < to` per site (only `site_id`, if given), terminal and client
    /// prefix, in that order.
    async fn prefix_usage(
        &self,
        site_id: Option<i64>,
        from: u64,
        to: u64,
    ) -> Result<Vec<PrefixUsage>>;
    /// The never-withheld records of one site on one terminal from `prefixes`, accepted in
    /// `from <= accepted_at < to`, as `(serial, served_at, bytes)`.
    async fn prefix_records(
        &self,
        site_id: i64,
        terminal: [u8; 32],
        prefixes: &[ClientPrefix],
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, u64, u64)>>;
    /// Withholds the accepted, never-withheld records among `serials` for the settlement of `epoch`, with
    /// `reason`, in one transaction; returns how many it withheld.
    async fn withhold_usage(&self, serials: &[u64], epoch: u64, reason: &str) -> Result<u64>;
    /// Withheld records (in `state`, if given), the latest epoch first, then by site, terminal and serial.
    async fn withheld_usage(
        &self,
        state: Option<WithheldState>,
        limit: usize,
    ) -> Result<Vec<WithheldRecord>>;
    /// Releases (`to` [`WithheldState::Released`], counted as accepted now) or rejects the records awaiting
    /// review that `which` selects. `NotFound` when it selects no record that was ever withheld.
    async fn review_withheld(&self, which: WithheldSelector, to: WithheldState)
        -> Result<Reviewed>;

    /// Waits for in-flight calls and closes the database; later calls fail.
    /// Stores a claim once: None when stored now, the claim stored before under its id otherwise.
    async fn file_claim(&self, claim: &ClaimRecord) -> Result<Option<ClaimRecord>>;
    async fn claim_record(&self, id: [u8; 32]) -> Result<Option<ClaimRecord>>;
    /// Claims oldest first, at most `limit`.
    async fn list_claims(&self, filter: ClaimFilter, limit: usize) -> Result<Vec<ClaimRecord>>;
    /// Moves a claim to `phase` (JSON), with what its verdict moved (JSON) once executed.
    async fn update_claim(&self, id: [u8; 32], phase: &str, executed: Option<&str>) -> Result<()>;
    /// (open, filed since `since`) claims of the hunter `hunter`.
    async fn hunter_claims(&self, hunter: [u8; 32], since: u64) -> Result<(u64, u64)>;
    /// Opens a review round once: false if it was opened before.
    async fn open_round(&self, round: &RoundRecord) -> Result<bool>;
    /// A claim's rounds, first first.
    async fn rounds(&self, claim: [u8; 32]) -> Result<Vec<RoundRecord>>;
    /// The rounds opened in a council term, with each claim's votes in them.
    async fn rounds_in_term(&self, term: u64) -> Result<Vec<(RoundRecord, Vec<VoteRecord>)>>;
    /// Records a vote once per member and round: false if the member voted in that round before.
    async fn record_vote(&self, vote: &VoteRecord) -> Result<bool>;
    /// A claim's votes, in the order given.
    async fn votes(&self, claim: [u8; 32]) -> Result<Vec<VoteRecord>>;
    /// Opens an election once: None when opened now, the election opened before otherwise.
    async fn open_election(&self, election: &ElectionRecord) -> Result<Option<ElectionRecord>>;
    async fn election(&self, term: u64) -> Result<Option<ElectionRecord>>;
    /// Records a ballot, replacing the voter's earlier one in that election.
    async fn record_ballot(&self, ballot: &BallotRecord) -> Result<()>;
    /// An election's ballots, in the order last given.
    async fn ballots(&self, term: u64) -> Result<Vec<BallotRecord>>;
    /// Seats a term's members once: false if the term was seated before.
    async fn seat_term(
        &self,
        term: u64,
        seated_at: u64,
        members: &[([u8; 32], u128)],
    ) -> Result<bool>;
    async fn council_term(&self, term: u64) -> Result<Option<CouncilTermRecord>>;
    /// Replaces a seated term's members (a governance proposal seated or removed one); false if the
    /// term is not seated.
    async fn reseat(&self, term: u64, members: &[([u8; 32], u128)]) -> Result<bool>;
    /// Notes that the term's seat rewards were paid.
    async fn mark_rewarded(&self, term: u64) -> Result<()>;

    async fn close(&self);
}
