//! `meson-cdn`: one subcommand per role and tool.

mod audit_sim;
mod cache_sim;
mod claim;
mod client;
mod council;
mod demo;
mod evidence;
mod gov;
mod hunt_sim;
mod hunter;
mod ledger;
mod operator;
mod probing;
mod router;
mod seeds;
mod signals;
mod site;
mod terminal;
mod verification;
mod wallet;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "meson-cdn",
    version,
    about = "Meson CDN: a decentralized content delivery network"
)]
struct Cli {
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `meson_terminal=debug`.
    #[arg(long, global = true, env = "MESON_LOG", default_value = "info")]
    log: String,
    /// Write logs as JSON lines instead of text.
    #[arg(long, global = true, env = "MESON_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a terminal: an edge cache in front of one origin, or joined to a router's network; drain one,
    /// or show its audits.
    Terminal(Box<terminal::TerminalCommand>),
    /// Run a router: terminal registry and health, sites API, redirects with signed tickets, usage intake.
    Router(router::RouterArgs),
    /// Create an account on a router (prints its API key).
    Account(site::AccountArgs),
    /// Manage the sites of an account on a router: add, list, rm, stats, traffic, purge, push, roots,
    /// billing.
    Site(site::SiteArgs),
    /// Run a whole network on this machine: origin, router, three terminals in three regions, traffic.
    Demo(demo::DemoArgs),
    /// Audit a router's ledger (replay its log, check the signed head); the operator's mint, slash,
    /// correct and review of withheld usage.
    Ledger(ledger::LedgerArgs),
    /// Probe terminals as a client does, and file bonded claims on what is found.
    Hunter(hunter::HunterArgs),
    /// Claims: file one with its evidence and bond, list, show, appeal, and re-run every check of one.
    Claim(claim::ClaimArgs),
    /// The council: serve as a member (re-probe and vote), show it, vote in its elections.
    Council(council::CouncilArgs),
    /// Governance: the parameters in force, proposals, votes, vetoes, the queue, the shutdown.
    Gov(gov::GovArgs),
    /// Objective evidence against a terminal: re-verify a slash offline.
    Evidence(evidence::EvidenceArgs),
    /// A key that holds tokens: signed transfers, deposits, stake; balances, earnings, payout proofs.
    Wallet(wallet::WalletArgs),
    /// Replay a request trace through the terminal's eviction policies and print hit ratios.
    CacheSim(cache_sim::CacheSimArgs),
    /// Simulate spot-check audits over many seeded networks with cheating terminals: detection per
    /// epoch, false positives, the auditor's traffic.
    AuditSim(audit_sim::AuditSimArgs),
    /// Simulate a hunter probing like a client over many seeded networks with a cheating terminal and
    /// flaky honest ones: hours until the cheater is claimed and upheld, false claims.
    HuntSim(hunt_sim::HuntSimArgs),
}

fn init_logging(filter: &str, json: bool) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid --log filter {filter:?}: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log, cli.log_json)?;
    match cli.command {
        Command::Terminal(args) => terminal::run(*args),
        Command::Router(args) => router::run(args),
        Command::Account(args) => site::run_account(args),
        Command::Site(args) => site::run_site(args),
        Command::Demo(args) => demo::run(args),
        Command::Ledger(args) => ledger::run(args),
        Command::Evidence(args) => evidence::run(args),
        Command::Hunter(args) => hunter::run(args),
        Command::Claim(args) => claim::run(args),
        Command::Council(args) => council::run(args),
        Command::Gov(args) => gov::run(args),
        Command::Wallet(args) => wallet::run(args),
        Command::CacheSim(args) => cache_sim::run(args),
        Command::AuditSim(args) => audit_sim::run(args),
        Command::HuntSim(args) => hunt_sim::run(args),
    }
}
