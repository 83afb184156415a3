//! `meson-cdn router`: the control plane and scheduler.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use meson_router::{Router, RouterConfig};

#[derive(Args)]
pub struct RouterArgs {
    /// Client redirects and the `/v1` API [default: 0.0.0.0:8000].
    #[arg(long, env = "MESON_ROUTER_LISTEN", default_value = "0.0.0.0:8000")]
    listen: SocketAddr,
    /// Where the router's key (`router.key`), database (`router.db`) and serial counter live.
    #[arg(
        long,
        env = "MESON_ROUTER_DATA_DIR",
        default_value = "meson-router-data"
    )]
    data_dir: PathBuf,
    /// Coverage-zone file: lines `CIDR REGION` mapping client addresses to regions.
    #[arg(long, env = "MESON_COVERAGE_ZONES")]
    coverage_zones: Option<PathBuf>,
    /// Seconds between terminal heartbeats; suspect after 2 missed, down after 3.
    #[arg(long, env = "MESON_HEARTBEAT_SECS", default_value_t = 5)]
    heartbeat_secs: u64,
    /// Seconds a redirect ticket stays valid (1 to 60).
    #[arg(long, env = "MESON_TICKET_LIFETIME", default_value_t = 30)]
    ticket_lifetime: u64,
    /// Bounded-loads factor: a terminal above this multiple of its fair share of load is skipped.
    #[arg(long, env = "MESON_LOAD_BOUND", default_value_t = 1.25)]
    load_bound: f64,
    /// The ledger's network name, written into its signed head.
    #[arg(long, env = "MESON_NETWORK", default_value = "meson-dev")]
    network: String,
    /// Charge sites and pay terminals each epoch from accepted usage; sites with an empty escrow are
    /// then sent to their origin. Off: traffic is not charged (development networks).
    #[arg(long, env = "MESON_BILLING")]
    billing: bool,
    /// Seconds per epoch: billing's, audits' and evidence's (fixed at genesis).
    #[arg(long, env = "MESON_EPOCH_SECS", default_value_t = 3600)]
    epoch_secs: u64,
    /// Tokens charged per GiB served (up to 9 decimals).
    #[arg(long, env = "MESON_PRICE_PER_GIB", default_value = "0.1")]
    price_per_gib: String,
    /// A region's own price, `REGION=TOKENS` (e.g. `eu=0.2`), repeatable; the most specific level of a
    /// terminal's region wins, else --price-per-gib.
    #[arg(long = "region-price", value_name = "REGION=TOKENS")]
    region_prices: Vec<String>,
    /// Protocol fee burned, in basis points of the charge (2000 = 20 %).
    #[arg(long, env = "MESON_FEE_BPS", default_value_t = 2000)]
    fee_bps: u32,
    /// Bootstrap subsidy: the treasury adds this many basis points of what each terminal earned from
    /// customers in an epoch (0 = off, at most 10000), within --subsidy-cap.
    #[arg(long, env = "MESON_SUBSIDY_BPS", default_value_t = 0)]
    subsidy_bps: u32,
    /// The most tokens the treasury pays in subsidies per epoch, across all terminals (up to 9 decimals).
    #[arg(
        long,
        env = "MESON_SUBSIDY_CAP",
        value_name = "TOKENS",
        default_value = "0"
    )]
    subsidy_cap: String,
    /// Tokens a terminal must hold at stake (staked with its node key) to receive traffic.
    #[arg(long, env = "MESON_MIN_STAKE", default_value = "0")]
    min_stake: String,
    /// Tokens slashed automatically per piece of objective evidence against a terminal (raised to cover
    /// the refunds owed to the sites it cheated, at most what it has at stake).
    #[arg(long, env = "MESON_SLASH_TOKENS", default_value = "10")]
    slash_tokens: String,
    /// Seconds an unstake waits before the tokens return to the wallet; longer than the longest a claim
    /// can take (--review-secs three times, --appeal-secs twice, and one more review as a margin).
    #[arg(long, env = "MESON_UNBONDING_SECS", default_value_t = 7 * 24 * 3600)]
    unbonding_secs: u64,
    /// Seconds the council has to vote on a claim, per round.
    #[arg(long, env = "MESON_REVIEW_SECS", default_value_t = 24 * 3600)]
    review_secs: u64,
    /// Seconds the losing party of a decided claim has to appeal it.
    #[arg(long, env = "MESON_APPEAL_SECS", default_value_t = 24 * 3600)]
    appeal_secs: u64,
    /// Tokens a hunter bonds at least per claim.
    #[arg(long, env = "MESON_MIN_BOND", default_value = "1")]
    min_bond: String,
    /// Claims a hunter may have awaiting their verdict at once.
    #[arg(long, env = "MESON_MAX_OPEN_CLAIMS", default_value_t = 10)]
    max_open_claims: u32,
    /// Claims a hunter may file in any 24 hours.
    #[arg(long, env = "MESON_MAX_CLAIMS_PER_DAY", default_value_t = 20)]
    max_claims_per_day: u32,
    /// Seconds per council term.
    #[arg(long, env = "MESON_COUNCIL_TERM_SECS", default_value_t = 30 * 24 * 3600)]
    council_term_secs: u64,
    /// Seats on the council.
    #[arg(long, env = "MESON_COUNCIL_SEATS", default_value_t = 5)]
    council_seats: u32,
    /// Tokens the treasury pays each member at the end of a term in which it voted on every claim it could.
    #[arg(long, env = "MESON_SEAT_REWARD", default_value = "10")]
    seat_reward: String,
    /// Tokens a council member locks at least for a term.
    #[arg(long, env = "MESON_COUNCIL_MIN_STAKE", default_value = "100")]
    council_min_stake: String,
    /// Bytes per second the router may fetch from origins to learn objects' sizes and roots (0: learn
    /// only what site owners push).
    #[arg(long, env = "MESON_ORIGIN_BYTES_PER_SEC", default_value = "2MiB")]
    origin_bytes_per_sec: meson_core::size::ByteSize,
    /// Mean seconds between two spot-check audits of one terminal (0: no audits).
    #[arg(long, env = "MESON_AUDIT_INTERVAL_SECS", default_value_t = 900)]
    audit_interval_secs: u64,
    /// Seconds a terminal has to answer an audit.
    #[arg(long, env = "MESON_AUDIT_TIMEOUT_SECS", default_value_t = 10)]
    audit_timeout_secs: u64,
    /// Audits a new terminal must pass before it gets full traffic.
    #[arg(long, env = "MESON_VETTING_AUDITS", default_value_t = 10)]
    vetting_audits: u64,
    /// A terminal whose pass rate (over its latest epochs holding at least --suspend-min-audits audits)
    /// falls below this is suspended from rotation.
    #[arg(long, env = "MESON_SUSPEND_BELOW", default_value_t = 0.9)]
    suspend_below: f64,
    /// Counted audits a terminal's pass rate is judged on at least [default: --vetting-audits]. More
    /// spares flaky honest terminals, fewer catches droppers sooner (bench/README, audit detection).
    #[arg(long, env = "MESON_SUSPEND_MIN_AUDITS")]
    suspend_min_audits: Option<u64>,
    /// With billing on: paid tickets a minute per client prefix (/24 or /48) and site; past it, clients
    /// are sent to the site's origin (0: no bound).
    #[arg(long, env = "MESON_PREFIX_TICKETS_PER_MIN", default_value_t = 600)]
    prefix_tickets_per_min: u32,
    /// Paid tickets a client prefix may take at once after a quiet spell.
    #[arg(long, env = "MESON_PREFIX_TICKET_BURST", default_value_t = 1200)]
    prefix_ticket_burst: u32,
    /// The share of a terminal's bytes for a site in an epoch that its top --max-prefix-share-top client
    /// prefixes may make up and still be paid (0 to 1; 1 turns the cap off); beyond it, withheld for review.
    #[arg(long, env = "MESON_MAX_PREFIX_SHARE", default_value_t = 0.5)]
    max_prefix_share: f64,
    /// How many client prefixes count as "few" for --max-prefix-share.
    #[arg(long, env = "MESON_MAX_PREFIX_SHARE_TOP", default_value_t = 3)]
    max_prefix_share_top: usize,
    /// A terminal's bytes for a site in an epoch below which nothing is withheld.
    #[arg(long, env = "MESON_PREFIX_SHARE_MIN_BYTES", default_value = "1GiB")]
    prefix_share_min_bytes: meson_core::size::ByteSize,
    /// The genesis value of any governed parameter, `NAME=VALUE` in its unit (`meson-cdn gov params`
    /// lists them); repeat for several. Like every flag above that names a parameter, it seeds a new
    /// network only: once a network has its genesis, governance alone changes the values.
    #[arg(long = "genesis", value_name = "NAME=VALUE")]
    genesis: Vec<String>,
}

pub fn run(args: RouterArgs) -> anyhow::Result<()> {
    let mut cfg = RouterConfig::new(args.listen, args.data_dir.clone());
    for g in &args.genesis {
        let (name, value) = g
            .split_once('=')
            .with_context(|| format!("--genesis {g:?}: NAME=VALUE"))?;
        let value = value.parse().with_context(|| {
            format!("--genesis {g:?}: the value is a whole number in the parameter's unit")
        })?;
        cfg.genesis.push((name.to_owned(), value));
    }
    cfg.heartbeat = Duration::from_secs(args.heartbeat_secs.max(1));
    cfg.ticket_lifetime_secs = args.ticket_lifetime;
    cfg.load_bound = args.load_bound;
    cfg.network = args.network.clone();
    cfg.min_stake = meson_ledger::parse_amount(&args.min_stake)
        .with_context(|| format!("--min-stake {:?}", args.min_stake))?;
    cfg.slash_tokens = meson_ledger::parse_amount(&args.slash_tokens)
        .with_context(|| format!("--slash-tokens {:?}", args.slash_tokens))?;
    cfg.unbonding_secs = args.unbonding_secs;
    cfg.review_secs = args.review_secs;
    cfg.appeal_secs = args.appeal_secs;
    cfg.hunt = meson_ledger::hunting::HuntRules {
        min_bond: meson_ledger::parse_amount(&args.min_bond)
            .with_context(|| format!("--min-bond {:?}", args.min_bond))?,
        max_open_per_hunter: args.max_open_claims,
        max_filed_per_day: args.max_claims_per_day,
    };
    cfg.council_term_secs = args.council_term_secs;
    cfg.council_seats = args.council_seats;
    cfg.seat_reward = meson_ledger::parse_amount(&args.seat_reward)
        .with_context(|| format!("--seat-reward {:?}", args.seat_reward))?;
    cfg.council_min_stake = meson_ledger::parse_amount(&args.council_min_stake)
        .with_context(|| format!("--council-min-stake {:?}", args.council_min_stake))?;
    if args.subsidy_bps > 10_000 {
        anyhow::bail!(
            "--subsidy-bps is {}: it must be 0 to 10000 (basis points of a terminal's earnings)",
            args.subsidy_bps
        );
    }
    let subsidy_cap = meson_ledger::parse_amount(&args.subsidy_cap)
        .with_context(|| format!("--subsidy-cap {:?}", args.subsidy_cap))?;
    // It would leave the subsidy silently unpaid.
    if args.subsidy_bps > 0 && subsidy_cap == 0 {
        anyhow::bail!("--subsidy-bps needs a positive --subsidy-cap (tokens per epoch)");
    }
    if args.epoch_secs == 0 || args.fee_bps > 10_000 {
        anyhow::bail!("--epoch-secs must be positive and --fee-bps at most 10000");
    }
    let price = meson_ledger::parse_amount(&args.price_per_gib)
        .with_context(|| format!("--price-per-gib {:?}", args.price_per_gib))?;
    let mut region_prices = Vec::new();
    for rp in &args.region_prices {
        let (region, tokens) = rp
            .split_once('=')
            .with_context(|| format!("--region-price {rp:?} must be REGION=TOKENS"))?;
        meson_core::schedule::Region::new(region)
            .with_context(|| format!("--region-price {rp:?}"))?;
        let price =
            meson_ledger::parse_amount(tokens).with_context(|| format!("--region-price {rp:?}"))?;
        region_prices.push((region.to_owned(), price));
    }
    let billing = meson_ledger::settlement::BillingConfig {
        epoch_secs: args.epoch_secs,
        price_per_gib: price,
        fee_bps: args.fee_bps,
        region_prices,
        subsidy_bps: args.subsidy_bps,
        subsidy_cap,
        holder_share_bps: 0,
    };
    // Without --billing the prices still seed a new network's genesis: turning billing on later
    // charges the network's governed values.
    if args.billing {
        cfg.billing = Some(billing);
    } else {
        cfg.billing_genesis = Some(billing);
    }
    cfg.origin_bytes_per_sec = args.origin_bytes_per_sec.0;
    cfg.prefix_budget = meson_router::budget::BudgetConfig {
        per_min: args.prefix_tickets_per_min,
        burst: args.prefix_ticket_burst,
    };
    if !(0.0..=1.0).contains(&args.max_prefix_share) {
        anyhow::bail!(
            "--max-prefix-share is {}: it must be a share from 0 to 1",
            args.max_prefix_share
        );
    }
    cfg.share_cap = meson_ledger::prefix_share::ShareCap {
        max_share_bps: (args.max_prefix_share * 10_000.0).round() as u32,
        top_k: args.max_prefix_share_top,
        min_bytes: args.prefix_share_min_bytes.0,
    };
    if args.audit_interval_secs > 0 {
        cfg.audit = Some(meson_router::audit::AuditConfig {
            interval: Duration::from_secs(args.audit_interval_secs),
            timeout: Duration::from_secs(args.audit_timeout_secs),
            // Audits are tallied by the billing epoch, so quality and pay share one period.
            epoch_secs: args.epoch_secs.max(1),
            rules: meson_core::audit::QualityRules {
                vetting_audits: args.vetting_audits,
                suspend_below: args.suspend_below,
                min_audits: args
                    .suspend_min_audits
                    .unwrap_or(args.vetting_audits)
                    .max(1),
            },
        });
    }
    if let Some(path) = &args.coverage_zones {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading coverage zones {}", path.display()))?;
        cfg.coverage_zones = Some(text);
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating data dir {}", args.data_dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let stop = crate::signals::Stop::install()?;
        let router = Router::start(cfg).await?;
        println!(
            "meson-cdn router serving http://{} (id {})",
            router.addr, router.id
        );
        println!(
            "operator token in {}",
            args.data_dir.join("operator.token").display()
        );
        stop.wait().await;
        tracing::info!("shutting down");
        router.shutdown().await;
        Ok(())
    })
}
