//! The Meson CDN router: the control plane terminals join and report to, the sites API for business users,
//! the ledger that charges sites and pays terminals, and the redirect front door that sends each client to
//! a terminal with a signed ticket.
//!
//! [`Router::start`] loads (or creates) the router's identity from `DATA_DIR/router.key` and the operator
//! token from `DATA_DIR/operator.token`, opens the store at `DATA_DIR/router.db`, replays the ledger from
//! its audit log, and serves one HTTP listener. Background tasks probe terminals' health, release matured
//! stake, learn objects' sizes and roots from their origins, audit terminals (with audits on) and, with
//! billing on, settle each ended epoch.
//!
//! # Layers
//!
//! - `http/`: `routes.rs` registers every route below; one handler file per resource (`info`, `sites`,
//!   `jobs`, `terminals`, `control`, `redirect`, `ledger`, `claims`, `council`, `roots`, `audits`,
//!   `traffic`) parses,
//!   calls services, answers with the [`meson_api`] types and describes itself for the OpenAPI document
//!   `openapi.rs` assembles; `error.rs` is the leaf they share (`ApiError` and the body, path and query
//!   extractors that refuse with it). No handler imports another.
//! - `services/`: the router's state and the work around the rules, none aware of HTTP. The money rules
//!   are [`meson_ledger`]'s pure plans; a money service reads the ledger, calls its plan, opens the
//!   accounts and submits the transfers the plan returns, and logs: `ledger` (the ledger service and its
//!   audit log, account openers, `submit`, the operator check, mint and correction by
//!   `meson_ledger::transactions`), `billing` (epoch settlement by `meson_ledger::settlement`, uptime,
//!   unfunded sites), `stake` (release and slash by `meson_ledger::stake`), `claims` (verdicts by
//!   `meson_ledger::claims`), `council` (the configured rules and members by `meson_ledger::council`),
//!   `transactions` (signed wallet transactions, checked and planned by `meson_ledger::transactions`),
//!   `statements` (spend, earnings and payout leaves per epoch, read by `meson_ledger::settlement`);
//!   and `sites` (accounts, API keys, the site cache), `registry` (liveness, scheduling, vetting and
//!   suspension), `usage` (usage intake, once per serial, judged against object sizes), `jobs` (purges
//!   and pushes), `serial` (ticket serials), `roots` (ground truth: object sizes and roots from origins
//!   and site owners), `holdings` (bounded samples of what each terminal should hold), `audit` (the
//!   auditor and terminals' standing), `budget` (paid tickets per client prefix), `withholding` (the
//!   share cap at settlement, its review, the owner's traffic view), `slashing` (objective evidence built,
//!   verified, stored and slashed once, refunds first). Their errors are `services::error::ServiceError` (a plan's refusal
//!   maps to it by kind), which `http/error.rs` turns into statuses.
//! - below: the [`meson_store::Store`] for durable state; liveness (heartbeats, probes, load) only in
//!   memory, so after a restart every terminal is *down* until its next heartbeat.
//!
//! # Routes
//!
//! | method, path | who | what |
//! | --- | --- | --- |
//! | `GET /healthz`, `GET /metrics` | anyone | liveness, Prometheus text |
//! | `GET /v1/router` | anyone | [`meson_core::wire::RouterInfo`] |
//! | `GET /v1/openapi.json` | anyone | the OpenAPI 3.1 document of every `/v1` route, generated from the [`meson_api`] types |
//! | `POST /v1/accounts` | anyone | `{name}` → `{account_id, api_key}` (the key is shown once) |
//! | `POST /v1/sites`, `GET /v1/sites`, `DELETE /v1/sites/{host}` | account (`Authorization: Bearer <api_key>`) | the caller's sites |
//! | `GET /v1/sites/{host}/stats?hours=N` | site owner | accepted usage per hour: tickets, requests, hits, hit ratio, bytes |
//! | `GET /v1/sites/{host}/traffic?epoch=N&top=M` | site owner | one epoch's accepted usage per terminal and per client prefix, with what the share cap withheld |
//! | `POST /v1/sites/{host}/purge`, `POST /v1/sites/{host}/push` | site owner | a purge (`url`, `prefix`, `tag` or `all`) or a push (`path`, `root`, `ttl_secs`) as a job, `202` |
//! | `GET /v1/jobs/{id}` | site owner | the job and each terminal's confirmation |
//! | `GET /v1/sites/{host}/billing?epochs=N` | site owner | escrow account and balance, spend per epoch |
//! | `GET /v1/terminals/{node}/earnings?epochs=N` | anyone | a terminal's earnings account and payouts per epoch |
//! | `GET /v1/holders/{key}/dividends` | anyone | what the revenue pool paid a staker, per epoch |
//! | `GET /v1/gov/…`, `POST /v1/gov/…` | see `http/gov.rs` | governance: parameters, proposals, votes, council delay, shutdown |
//! | `GET /v1/ledger/head` | anyone | the head the router signs ([`meson_ledger::audit::SignedHead`]) |
//! | `GET /v1/ledger/log?after=N&limit=M` | anyone | audit log entries after `N` (at most 1000) |
//! | `GET /v1/ledger/accounts/{id}` | anyone | an account's totals, balance and available funds |
//! | `GET /v1/ledger/accounts/{id}/transfers?limit=N` | anyone | the account's transfers, newest first |
//! | `GET /v1/ledger/transfers/{id}` | anyone | one transfer as submitted, what it moved, and a pending one's status |
//! | `POST /v1/ledger/mint` | operator | `{"id","to" or "owner","amount"}`: new tokens into an account or a key's wallet |
//! | `POST /v1/ledger/tx` | a key holder | a signed [`meson_ledger::tx::Tx`]: transfer, deposit, stake, unstake, claim bond or council stake |
//! | `POST /v1/ledger/slash` | operator | `{"owner","amount","claimant","evidence"}`: stake slashed once per piece of objective evidence ([`meson_core::evidence::Evidence`], refused unless it verifies and names `owner`), refunds to the cheated sites first |
//! | `POST /v1/ledger/correct` | operator | `{"reverses","amount"?}`: a transfer back (a burn, for a mint) fixing a mistaken one |
//! | `GET /v1/ledger/claims/{claim}` | anyone | the claim's accused, hunter, bond, window and status |
//! | `POST /v1/ledger/claims/{claim}/verdict` | operator | `{"upheld": true, "slash": "TOKENS"}` or `{"upheld": false}` |
//! | `GET /v1/council/term` | anyone | the current term, its bounds and the least stake |
//! | `GET /v1/council/stakes?term=N` | anyone | who locked stake for term `N` (default: current), largest first |
//! | `GET /v1/ledger/payouts/{epoch}` | anyone | the epoch's payout leaves and their Merkle root, signed |
//! | `GET /v1/ledger/payouts/{epoch}/proof/{account}` | anyone | one payout's leaf and audit path |
//! | `GET /v1/terminals`, `GET /v1/terminals/{node}/rejections` | anyone | the registry, and a terminal's refused usage per reason |
//! | `POST /v1/sites/{host}/roots`, `GET /v1/sites/{host}/roots?limit=N` | site owner | an object's size and roots from its owner; what the router knows of the site's objects |
//! | `GET /v1/terminals/{node}/audits?epochs=N` | anyone | the terminal's standing, audits per epoch and the latest ones |
//! | `GET /v1/terminals/{node}/evidence` | anyone | inflated usage with its signed batch, failed audits with their signed answers |
//! | `GET /v1/usage/withheld?state=S&limit=N` | operator | usage withheld by the share cap, latest epoch first |
//! | `POST /v1/usage/withheld/{serial}`, `POST /v1/usage/withheld` | operator | `{"action": "release"\|"reject"}` for one record, or with `site`, `node_id`, `epoch` for a group |
//! | `GET /v1/terminals/{node}/slashes` | anyone | the objective evidence against the terminal, each with its slash and refunds |
//! | `GET /v1/evidence/{id}` | anyone | one piece of objective evidence, the exact JSON bytes its id is the BLAKE3 of |
//! | `POST /v1/terminals/{register,heartbeat,sites,usage}` | a terminal | signed control messages, see [`meson_core::wire`] |
//! | `GET`/`HEAD` of any path whose `Host` is a site, or `/s/<host>/<path>` | clients | `302` to a terminal with a ticket |

mod http;
mod services;

pub use services::{audit, budget, ledger};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use services::{
    billing, elections, governance, holdings, jobs, registry, review, roots, serial, sites,
    slashing, stake,
};

use meson_core::identity::{NodeId, NodeKey};
use meson_core::schedule::{CoverageZones, ZoneError};
use meson_core::signed::ReplayGuard;
use meson_core::ticket::MAX_LIFETIME_SECS;
use meson_ledger::params::{Key, Param, Params};
use meson_store::{SqliteStore, Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Most `(signer, nonce)` pairs remembered against replay at once; beyond, control messages wait.
const REPLAY_CAPACITY: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("coverage zones: {0}")]
    Zones(#[from] ZoneError),
    #[error("router key {0}")]
    Key(#[from] meson_node::KeyFileError),
    #[error("ticket serials {path}: {source}")]
    Serials {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ledger: {0}")]
    Ledger(#[from] ledger::LedgerError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What [`Router::start`] needs. [`RouterConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    pub listen: SocketAddr,
    /// Holds `router.key`, `router.db` and `serials`.
    pub data_dir: PathBuf,
    /// How often terminals heartbeat (default 5 s). A terminal is *suspect* after two intervals without
    /// one and *down* after three; its health URL is probed once per interval. Terminals are told the
    /// interval in whole seconds (at least 1), so sub-second values are for tests that drive heartbeats
    /// themselves.
    pub heartbeat: Duration,
    /// The text of a coverage-zone file (see [`CoverageZones`]); without it every client is of unknown
    /// region and may be sent to any terminal.
    pub coverage_zones: Option<String>,
    /// How long a redirect ticket is valid: 1 to 60 s, default 30.
    pub ticket_lifetime_secs: u64,
    /// The bounded-loads factor `c` (default 1.25): a terminal above `c` × its fair share is skipped.
    pub load_bound: f64,
    /// How long the reachability check and health probes wait for `/.well-known/meson/health` (default 2 s).
    pub probe_timeout: Duration,
    /// How far a control message's timestamp may be from the router's clock (default 60 s).
    pub max_skew_secs: u64,
    /// The ledger's network name, in its signed head (default `meson-dev`).
    pub network: String,
    /// Charging sites and paying terminals per epoch; off (`None`, the default) leaves traffic
    /// unaccounted in the ledger, for development networks.
    pub billing: Option<meson_ledger::settlement::BillingConfig>,
    /// With billing off, the prices, fee and epoch a new network's genesis still takes (billing may be
    /// turned on later, and then charges the network's governed values, not the flags of that start).
    pub billing_genesis: Option<meson_ledger::settlement::BillingConfig>,
    /// Base units a terminal must hold in its stake account to be in rotation (default 0: none).
    pub min_stake: u128,
    /// Seconds an unstake waits before the tokens return (default 7 days): longer than the dispute
    /// window, so stake under a claim cannot leave before the claim is judged.
    pub unbonding_secs: u64,
    /// Seconds the council has to vote on a claim in each round (default 1 day).
    pub review_secs: u64,
    /// Seconds the losing party of a decided claim has to appeal it (default 1 day).
    pub appeal_secs: u64,
    /// What hunters' claims take: the least bond (default 1 token), and at most 10 open claims and 20
    /// filed a day per hunter.
    pub hunt: meson_ledger::hunting::HuntRules,
    /// Seconds per council term (default 30 days); terms are numbered from the Unix epoch.
    pub council_term_secs: u64,
    /// Seats on the council (default 5).
    pub council_seats: u32,
    /// Base units paid from the treasury to each member at the end of a term in which it voted on every
    /// claim it could (default 10 tokens).
    pub seat_reward: u128,
    /// The least stake a council member locks for a term, in base units (default 100 tokens).
    pub council_min_stake: u128,
    /// How slashed stake is shared between claimant, burn and treasury.
    pub slash_shares: meson_ledger::economics::SlashShares,
    /// Base units slashed automatically per piece of objective evidence (default 10 tokens), raised to
    /// cover the refunds owed to the cheated sites, at most what is at stake.
    pub slash_tokens: u128,
    /// The learner's budget for fetching objects from origins to learn their sizes and roots, in bytes
    /// per second (default 2 MiB/s); 0 fetches nothing, and only roots pushed by site owners are known.
    pub origin_bytes_per_sec: u64,
    /// Spot-check audits of terminals; off (`None`, the default) audits nobody.
    pub audit: Option<audit::AuditConfig>,
    /// Paid tickets per client prefix and site (default 600 a minute, bursts of 1200); with billing on
    /// only, since without it no ticket is paid. A client past it is sent to the site's origin.
    pub prefix_budget: budget::BudgetConfig,
    /// The cap, applied at settlement, on the share of a terminal's paid bytes for a site that its top
    /// client prefixes may make up (default: half from the top 3, from 1 GiB a terminal and epoch).
    pub share_cap: meson_ledger::prefix_share::ShareCap,
    /// Further genesis values of registry parameters by name (`voting_secs`, `timelock_secs`, …),
    /// applied after the fields above.
    pub genesis: Vec<(String, u128)>,
}

impl RouterConfig {
    pub fn new(listen: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        RouterConfig {
            listen,
            data_dir: data_dir.into(),
            heartbeat: Duration::from_secs(5),
            coverage_zones: None,
            ticket_lifetime_secs: 30,
            load_bound: 1.25,
            probe_timeout: Duration::from_secs(2),
            max_skew_secs: 60,
            network: "meson-dev".into(),
            billing: None,
            billing_genesis: None,
            min_stake: 0,
            unbonding_secs: 7 * 24 * 3600,
            review_secs: 24 * 3600,
            appeal_secs: 24 * 3600,
            hunt: meson_ledger::hunting::HuntRules {
                min_bond: meson_ledger::ONE_TOKEN,
                max_open_per_hunter: 10,
                max_filed_per_day: 20,
            },
            council_term_secs: 30 * 24 * 3600,
            council_seats: 5,
            seat_reward: 10 * meson_ledger::ONE_TOKEN,
            council_min_stake: 100 * meson_ledger::ONE_TOKEN,
            slash_shares: Default::default(),
            slash_tokens: 10 * meson_ledger::ONE_TOKEN,
            origin_bytes_per_sec: 2 << 20,
            audit: None,
            prefix_budget: Default::default(),
            share_cap: Default::default(),
            genesis: Vec::new(),
        }
    }

    /// The parameters a new network starts from: the fields above and `genesis`, each within the
    /// registry's hard bounds, together consistent. A network that has a genesis in its log keeps it.
    pub fn genesis_params(&self) -> Result<Params, RouterError> {
        let billing = self
            .billing
            .clone()
            .or(self.billing_genesis.clone())
            .unwrap_or_default();
        let audit = self.audit.clone().unwrap_or_default();
        let bps = |f: f64| (f * 10_000.0).round() as u128;
        let mut values: Vec<(Key, u128)> = [
            (Param::EpochSecs, u128::from(self.epoch_secs())),
            (Param::PricePerGib, billing.price_per_gib),
            (Param::FeeBps, u128::from(billing.fee_bps)),
            (Param::SubsidyBps, u128::from(billing.subsidy_bps)),
            (Param::HolderShareBps, u128::from(billing.holder_share_bps)),
            (Param::SubsidyCap, billing.subsidy_cap),
            (Param::MinStake, self.min_stake),
            (Param::SlashTokens, self.slash_tokens),
            (
                Param::SlashClaimantBps,
                u128::from(self.slash_shares.claimant_bps),
            ),
            (Param::SlashBurnBps, u128::from(self.slash_shares.burn_bps)),
            (Param::UnbondingSecs, u128::from(self.unbonding_secs)),
            (Param::ReviewSecs, u128::from(self.review_secs)),
            (Param::AppealSecs, u128::from(self.appeal_secs)),
            (Param::MinBond, self.hunt.min_bond),
            (
                Param::MaxOpenClaims,
                u128::from(self.hunt.max_open_per_hunter),
            ),
            (
                Param::MaxClaimsPerDay,
                u128::from(self.hunt.max_filed_per_day),
            ),
            (Param::CouncilTermSecs, u128::from(self.council_term_secs)),
            (Param::CouncilSeats, u128::from(self.council_seats)),
            (Param::SeatReward, self.seat_reward),
            (Param::CouncilMinStake, self.council_min_stake),
            (Param::AuditIntervalMs, audit.interval.as_millis()),
            (Param::VettingAudits, u128::from(audit.rules.vetting_audits)),
            (Param::SuspendBelowBps, bps(audit.rules.suspend_below)),
            (Param::SuspendMinAudits, u128::from(audit.rules.min_audits)),
            (
                Param::PrefixTicketsPerMin,
                u128::from(self.prefix_budget.per_min),
            ),
            (
                Param::PrefixTicketBurst,
                u128::from(self.prefix_budget.burst),
            ),
            (
                Param::MaxPrefixShareBps,
                u128::from(self.share_cap.max_share_bps),
            ),
            (Param::MaxPrefixShareTop, self.share_cap.top_k as u128),
            (
                Param::PrefixShareMinBytes,
                u128::from(self.share_cap.min_bytes),
            ),
        ]
        .into_iter()
        .map(|(p, v)| (Key::Param(p), v))
        .collect();
        for (region, price) in &billing.region_prices {
            values.push((Key::RegionPrice(region.clone()), *price));
        }
        for (name, v) in &self.genesis {
            values.push((Key::parse(name).map_err(config)?, *v));
        }
        let mut params = Params::default();
        for (key, v) in values {
            params.seed(key, v).map_err(config)?;
        }
        params.consistent().map_err(config)?;
        Ok(params)
    }

    /// Seconds per epoch, the period evidence names its affected epochs by: billing's, else the audits',
    /// else an hour.
    pub fn epoch_secs(&self) -> u64 {
        self.billing
            .as_ref()
            .or(self.billing_genesis.as_ref())
            .map(|b| b.epoch_secs)
            .or(self.audit.as_ref().map(|a| a.epoch_secs))
            .unwrap_or(3600)
    }

    fn validate(&self) -> Result<(), RouterError> {
        if !(1..=MAX_LIFETIME_SECS).contains(&self.ticket_lifetime_secs) {
            return Err(RouterError::Config(format!(
                "ticket lifetime must be 1 to {MAX_LIFETIME_SECS} s, got {}",
                self.ticket_lifetime_secs
            )));
        }
        if self.heartbeat.is_zero() || self.probe_timeout.is_zero() {
            return Err(RouterError::Config(
                "heartbeat interval and probe timeout must be positive".into(),
            ));
        }
        if self.review_secs == 0 || self.appeal_secs == 0 {
            return Err(RouterError::Config(
                "the review and appeal windows must be positive".into(),
            ));
        }
        self.genesis_params()?;
        if self.council_term_secs == 0
            || self.hunt.min_bond == 0
            || self.council_min_stake == 0
            || self.council_seats == 0
        {
            return Err(RouterError::Config(
                "the council term and seats, the least bond and the least council stake must be positive"
                    .into(),
            ));
        }
        if let Some(a) = &self.audit {
            a.validate().map_err(RouterError::Config)?;
            // Settlement pays by the pass rate of the epoch it settles: one period for both.
            if let Some(b) = self
                .billing
                .as_ref()
                .filter(|b| b.epoch_secs != a.epoch_secs)
            {
                return Err(RouterError::Config(format!(
                    "audits are tallied by the billing epoch: audit epoch {} s differs from billing epoch {} s",
                    a.epoch_secs, b.epoch_secs
                )));
            }
        }
        self.share_cap.validate().map_err(RouterError::Config)?;
        if self.load_bound.is_nan() || self.load_bound < 1.0 {
            return Err(RouterError::Config(format!(
                "load bound must be at least 1, got {}",
                self.load_bound
            )));
        }
        Ok(())
    }
}

fn config(e: meson_ledger::params::ParamError) -> RouterError {
    RouterError::Config(e.to_string())
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub cfg: RouterConfig,
    pub key: NodeKey,
    pub id: NodeId,
    pub store: Arc<dyn Store>,
    pub zones: CoverageZones,
    pub replay: Mutex<ReplayGuard>,
    pub registry: registry::Registry,
    pub sites: sites::SiteCache,
    pub serials: serial::Serials,
    pub prober: registry::Prober,
    pub jobs: jobs::Jobs,
    pub roots: roots::Roots,
    pub holdings: holdings::Holdings,
    pub auditor: audit::Auditor,
    pub ledger: ledger::LedgerService,
    pub unfunded: billing::Unfunded,
    pub uptime: billing::Uptime,
    pub budget: budget::PrefixBudget,
    /// Operator endpoints (minting) need this bearer token, from `DATA_DIR/operator.token`.
    pub operator_token: String,
    /// Held while a claim is filed or moved along its life (`services::review`): each reads the
    /// claim's phase, moves it and executes a final verdict, and two at once would execute it twice.
    pub claim_moves: tokio::sync::Mutex<()>,
    /// Held while a governance event is checked and logged, and while the governance loop moves what
    /// is due: a deposit is taken and its proposal logged, or neither.
    pub gov_moves: tokio::sync::Mutex<()>,
}

impl Shared {
    pub fn heartbeat_secs(&self) -> u64 {
        self.cfg.heartbeat.as_secs_f64().ceil().max(1.0) as u64
    }

    /// Seconds per epoch (fixed at genesis).
    pub fn epoch_secs(&self) -> u64 {
        self.params().secs(Param::EpochSecs).max(1)
    }

    /// The parameters in force now: from the ledger's governance, changed only at epoch boundaries.
    pub fn params(&self) -> Arc<Params> {
        self.ledger.params_now(meson_node::unix_now())
    }

    /// The paid-ticket budget per client prefix in force now.
    pub fn budget_config(&self) -> budget::BudgetConfig {
        let p = self.params();
        let count = |q| u32::try_from(p.get(q)).unwrap_or(u32::MAX);
        budget::BudgetConfig {
            per_min: count(Param::PrefixTicketsPerMin),
            burst: count(Param::PrefixTicketBurst),
        }
    }

    /// The parameters in force in `epoch`, which settles, audits and judges it.
    pub fn params_in(&self, epoch: u64) -> Params {
        self.ledger.schedule().at(epoch)
    }

    /// Spot-check audits as configured, at the parameters in force now; `None` with audits off.
    pub fn audit_config(&self) -> Option<audit::AuditConfig> {
        let a = self.cfg.audit.as_ref()?;
        let p = self.params();
        Some(audit::AuditConfig {
            interval: Duration::from_millis(p.secs(Param::AuditIntervalMs)),
            timeout: a.timeout,
            epoch_secs: p.secs(Param::EpochSecs),
            rules: p.quality(),
        })
    }
}

/// A running router. Dropping it does not stop it; call [`Router::shutdown`].
pub struct Router {
    pub addr: SocketAddr,
    pub id: NodeId,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Router {
    pub async fn start(cfg: RouterConfig) -> Result<Router, RouterError> {
        cfg.validate()?;
        // Before anything records a metric (the ledger's gauges are set as it opens).
        meson_telemetry::prometheus();
        let zones = match &cfg.coverage_zones {
            Some(text) => CoverageZones::parse(text)?,
            None => CoverageZones::default(),
        };
        let key = meson_node::load_or_create_node_key(&cfg.data_dir.join("router.key"))?;
        let id = key.id();
        let serials = serial::Serials::open(&cfg.data_dir.join("serials"))?;
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&cfg.data_dir.join("router.db")).await?);
        let registry = registry::Registry::default();
        if cfg.audit.is_some() {
            registry.start_vetting();
        }
        for record in store.list_terminals().await? {
            registry.load(record, &zones);
        }
        let sites = sites::SiteCache::load(store.as_ref()).await?;
        let ledger = ledger::LedgerService::open(
            store.clone(),
            cfg.network.clone(),
            cfg.genesis_params()?,
            meson_node::unix_now(),
        )
        .await?;
        let operator_token =
            meson_node::load_or_create(&cfg.data_dir.join("operator.token"), || {
                hex::encode(rand::random::<[u8; 32]>())
            })?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| RouterError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| RouterError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let auditor = audit::Auditor::new(
            cfg.audit
                .as_ref()
                .map_or(Duration::from_secs(10), |a| a.timeout),
        );
        let shared = Arc::new(Shared {
            replay: Mutex::new(ReplayGuard::new(cfg.max_skew_secs, REPLAY_CAPACITY)),
            prober: registry::Prober::new(cfg.probe_timeout),
            jobs: jobs::Jobs::new(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(1),
            ),
            cfg,
            key,
            id,
            store,
            zones,
            registry,
            sites,
            serials,
            roots: roots::Roots::default(),
            holdings: holdings::Holdings::default(),
            auditor,
            ledger,
            unfunded: billing::Unfunded::default(),
            uptime: billing::Uptime::default(),
            budget: budget::PrefixBudget::new(budget::MAX_TRACKED),
            operator_token,
            claim_moves: tokio::sync::Mutex::new(()),
            gov_moves: tokio::sync::Mutex::new(()),
        });
        let (shutdown, rx) = watch::channel(false);
        let app = http::routes::app(shared.clone());
        let mut stop = rx.clone();
        let server = tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "router listener failed");
            }
        });
        let health = tokio::spawn(registry::health_loop(shared.clone(), rx.clone()));
        let mut tasks = vec![
            server,
            health,
            tokio::spawn(stake::run(shared.clone(), rx.clone())),
            tokio::spawn(slashing::resume(shared.clone())),
            tokio::spawn(review::run(shared.clone(), rx.clone())),
            tokio::spawn(elections::run(shared.clone(), rx.clone())),
            tokio::spawn(governance::run(shared.clone(), rx.clone())),
        ];
        if shared.cfg.origin_bytes_per_sec > 0 {
            tasks.push(tokio::spawn(roots::run(
                shared.clone(),
                shared.cfg.origin_bytes_per_sec,
                rx.clone(),
            )));
        }
        if shared.cfg.audit.is_some() {
            tasks.push(tokio::spawn(audit::run(shared.clone(), rx.clone())));
        }
        if shared.cfg.billing.is_some() {
            tasks.push(tokio::spawn(billing::run(shared.clone(), rx)));
        }
        tracing::info!(%addr, router = %id, "router listening");
        Ok(Router {
            addr,
            id,
            shared,
            shutdown,
            tasks,
        })
    }

    /// Stops accepting, lets in-flight requests finish, stops the health task and closes the store.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.shared.store.close().await;
    }
}

/// Every `/v1` route this router serves, as (method, path) with path parameters in braces: what the
/// OpenAPI document at `GET /v1/openapi.json` must describe.
pub fn api_routes() -> Vec<(::http::Method, &'static str)> {
    http::routes::api()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect()
}

/// Time since `t`, for ages shown to operators.
pub(crate) fn age(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}
