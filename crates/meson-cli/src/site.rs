//! `meson-cdn account` and `meson-cdn site`: a business user's commands, as clients of the router's API.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use meson_api::accounts::{AccountCreated, NewAccount};
use meson_api::ledger::SiteBilling;
use meson_api::sites::{
    JobStarted, JobView, PurgeRequest, PushRequest, SiteRequest, SiteStats, Usage,
};
use meson_api::traffic::{SiteTraffic, Traffic};
use meson_api::SiteInfo;

use crate::client::{delete, get, post, runtime};

/// Where the router is and who is asking.
#[derive(Args)]
pub struct RouterClientArgs {
    /// The router's base URL, e.g. `http://127.0.0.1:8000`.
    #[arg(long, env = "MESON_ROUTER", global = true)]
    router: Option<String>,
}

impl RouterClientArgs {
    fn router(&self) -> anyhow::Result<&str> {
        self.router
            .as_deref()
            .context("--router is required (or MESON_ROUTER): the router's base URL, e.g. http://127.0.0.1:8000")
    }
}

#[derive(Args)]
pub struct AccountArgs {
    #[command(flatten)]
    client: RouterClientArgs,
    #[command(subcommand)]
    command: AccountCommand,
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account and print its API key (shown only this once).
    Create { name: String },
}

#[derive(Args)]
pub struct SiteArgs {
    #[command(flatten)]
    client: RouterClientArgs,
    /// The account's API key.
    #[arg(long, env = "MESON_API_KEY", global = true)]
    api_key: Option<String>,
    #[command(subcommand)]
    command: SiteCommand,
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Register a site: clients asking for HOST are served from ORIGIN's content.
    Add {
        host: String,
        /// `http://` or `https://` origin URL.
        origin: String,
        /// Freshness in seconds for responses with no caching headers.
        #[arg(long)]
        default_ttl: Option<u64>,
        /// How the query string enters the cache key: keep, ignore or sort.
        #[arg(long)]
        query_mode: Option<String>,
    },
    /// List the account's sites.
    List,
    /// Remove a site.
    Rm { host: String },
    /// Purge cached content of a site from every terminal, and wait until each has confirmed.
    Purge {
        host: String,
        /// One URL path (with its query), e.g. /img/logo.png.
        #[arg(long, group = "scope")]
        url: Option<String>,
        /// Every URL whose path starts with this, e.g. /img/.
        #[arg(long, group = "scope")]
        prefix: Option<String>,
        /// Every object the origin tagged with this Cache-Tag / Surrogate-Key.
        #[arg(long, group = "scope")]
        tag: Option<String>,
        /// Everything of the site.
        #[arg(long, group = "scope")]
        all: bool,
        /// Seconds to wait for every terminal's confirmation (0: do not wait).
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Place an object on the terminals clients of each region will be sent to, kept only if it hashes
    /// to ROOT (its BLAKE3 hex), and wait until each has confirmed.
    Push {
        host: String,
        /// URL path (with its query), e.g. /video/intro.mp4.
        path: String,
        #[arg(long)]
        root: String,
        /// Seconds the object stays fresh.
        #[arg(long)]
        ttl: u64,
        /// Seconds to wait for every terminal's confirmation (0: do not wait).
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Tell the router the size and BLAKE3 roots of the object at PATH, computed from FILE (the bytes the
    /// origin serves there): usage is counted against them and terminals audited on them.
    Roots {
        host: String,
        /// URL path (with its query), e.g. /video/intro.mp4.
        path: String,
        file: std::path::PathBuf,
        /// The origin's version of it (its ETag, else its Last-Modified).
        #[arg(long, default_value = "")]
        version: String,
    },
    /// Requests, cache hits and bytes served for a site, per hour (accepted usage).
    Stats {
        host: String,
        /// How many hours back.
        #[arg(long, default_value_t = 24)]
        hours: u64,
    },
    /// Where one epoch's traffic came from: bytes per terminal and per client prefix (the largest listed,
    /// the rest summed), with what is withheld from payment by the share cap.
    Traffic {
        host: String,
        /// The epoch [default: the current one].
        #[arg(long)]
        epoch: Option<u64>,
        /// How many client prefixes to list.
        #[arg(long, default_value_t = 20)]
        top: usize,
    },
    /// The site's escrow (balance, funded, low funds) and what it spent per billing epoch.
    Billing {
        host: String,
        /// How many epochs back.
        #[arg(long, default_value_t = 24)]
        epochs: u64,
    },
}

pub fn run_account(args: AccountArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        match args.command {
            AccountCommand::Create { name } => {
                let v: AccountCreated = post(
                    args.client.router()?,
                    "/v1/accounts",
                    None,
                    &NewAccount { name },
                )
                .await?;
                println!("account {}", v.account_id);
                println!("api key {}", v.api_key);
                println!("(store the key now: the router keeps only its hash)");
            }
        }
        Ok(())
    })
}

pub fn run_site(args: SiteArgs) -> anyhow::Result<()> {
    let router = args.client.router()?;
    let key = Some(args.api_key.as_deref().context(
        "--api-key is required (or MESON_API_KEY): `meson-cdn account create` prints one",
    )?);
    runtime()?.block_on(async {
        match args.command {
            SiteCommand::Add {
                host,
                origin,
                default_ttl,
                query_mode,
            } => {
                let body = SiteRequest {
                    host,
                    origin,
                    default_ttl_secs: default_ttl,
                    query_mode,
                };
                let site: SiteInfo = post(router, "/v1/sites", key, &body).await?;
                println!("added {} -> {} (site {})", site.host, site.origin, site.id);
            }
            SiteCommand::List => {
                let sites: Vec<SiteInfo> = get(router, "/v1/sites", key).await?;
                println!(
                    "{:<40} {:<40} {:>8} {:>7}",
                    "host", "origin", "ttl", "query"
                );
                for s in sites {
                    let ttl = s
                        .default_ttl_secs
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "-".into());
                    println!(
                        "{:<40} {:<40} {:>8} {:>7}",
                        s.host, s.origin, ttl, s.query_mode
                    );
                }
            }
            SiteCommand::Stats { host, hours } => {
                let v: SiteStats = get(
                    router,
                    &format!("/v1/sites/{host}/stats?hours={hours}"),
                    key,
                )
                .await?;
                let row = |label: &str, h: &Usage| {
                    println!(
                        "{label:<31} {:>10} {:>10} {:>9.1}% {:>16}",
                        h.requests,
                        h.hits,
                        h.hit_ratio * 100.0,
                        h.bytes
                    )
                };
                println!(
                    "{:<31} {:>10} {:>10} {:>10} {:>16}",
                    "hour (UTC)", "requests", "hits", "hit ratio", "bytes"
                );
                for h in &v.hours {
                    let start =
                        std::time::UNIX_EPOCH + std::time::Duration::from_secs(h.hour_start);
                    row(&httpdate::fmt_http_date(start), &h.usage);
                }
                row("total", &v.total);
            }
            SiteCommand::Traffic { host, epoch, top } => {
                let epoch = epoch.map(|e| format!("&epoch={e}")).unwrap_or_default();
                let v: SiteTraffic = get(
                    router,
                    &format!("/v1/sites/{host}/traffic?top={top}{epoch}"),
                    key,
                )
                .await?;
                println!(
                    "{} epoch {} ({} s from {})",
                    v.host,
                    v.epoch,
                    v.epoch_secs,
                    v.epoch * v.epoch_secs
                );
                let row = |label: &str, t: &Traffic| {
                    println!(
                        "{label:<66} {:>9} {:>16} {:>16} {:>16}",
                        t.tickets, t.bytes, t.withheld_bytes, t.rejected_bytes
                    )
                };
                let header = |what: &str| {
                    println!(
                        "{what:<66} {:>9} {:>16} {:>16} {:>16}",
                        "tickets", "bytes", "withheld", "rejected"
                    )
                };
                header("terminal");
                for t in &v.terminals {
                    row(&t.node_id, &t.traffic);
                }
                header("client prefix");
                for p in &v.prefixes {
                    row(&p.prefix, &p.traffic);
                }
                if v.other_prefixes > 0 {
                    row(&format!("{} other prefixes", v.other_prefixes), &v.other);
                }
                row("total", &v.total);
            }
            SiteCommand::Billing { host, epochs } => {
                let v: SiteBilling = get(
                    router,
                    &format!("/v1/sites/{host}/billing?epochs={epochs}"),
                    key,
                )
                .await?;
                println!(
                    "escrow account {}: balance {}{}",
                    v.escrow_account,
                    v.escrow
                        .as_ref()
                        .and_then(|a| a.balance.as_deref())
                        .unwrap_or("0"),
                    if !v.funded {
                        " (empty: clients go to the origin until it is funded)"
                    } else if v.low_funds {
                        " (low: less than one more epoch at the last epoch's spend)"
                    } else {
                        ""
                    }
                );
                println!(
                    "{:<31} {:>16} {:>20} {:>20} {:>20}",
                    "epoch start (UTC)", "bytes", "spent", "fee burned", "to terminals"
                );
                for e in &v.epochs {
                    let start = std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.start);
                    println!(
                        "{:<31} {:>16} {:>20} {:>20} {:>20}{}",
                        httpdate::fmt_http_date(start),
                        e.bytes,
                        e.spent,
                        e.fee_burned,
                        e.paid_to_terminals,
                        if e.settled { "" } else { " (not settled yet)" }
                    );
                }
            }
            SiteCommand::Purge {
                host,
                url,
                prefix,
                tag,
                all,
                wait,
            } => {
                let body = match (url, prefix, tag) {
                    (Some(u), _, _) => PurgeRequest {
                        url: Some(u),
                        ..Default::default()
                    },
                    (_, Some(p), _) => PurgeRequest {
                        prefix: Some(p),
                        ..Default::default()
                    },
                    (_, _, Some(t)) => PurgeRequest {
                        tag: Some(t),
                        ..Default::default()
                    },
                    _ if all => PurgeRequest {
                        all: true,
                        ..Default::default()
                    },
                    _ => bail!("give one of --url, --prefix, --tag or --all"),
                };
                let job: JobStarted =
                    post(router, &format!("/v1/sites/{host}/purge"), key, &body).await?;
                follow_job(router, key, &job, wait).await?;
            }
            SiteCommand::Push {
                host,
                path,
                root,
                ttl,
                wait,
            } => {
                let body = PushRequest {
                    path,
                    root,
                    ttl_secs: ttl,
                };
                let job: JobStarted =
                    post(router, &format!("/v1/sites/{host}/push"), key, &body).await?;
                follow_job(router, key, &job, wait).await?;
            }
            SiteCommand::Roots {
                host,
                path,
                file,
                version,
            } => {
                crate::verification::push_roots(router, key, &host, path, &file, version).await?;
            }
            SiteCommand::Rm { host } => {
                delete(router, &format!("/v1/sites/{host}"), key).await?;
                println!("removed {host}");
            }
        }
        Ok(())
    })
}

/// Polls a purge or push job until every terminal confirmed or `wait` seconds passed, printing progress
/// and each terminal's outcome. Fails if a terminal reported a failure or the wait ran out.
async fn follow_job(
    router: &str,
    key: Option<&str>,
    job: &JobStarted,
    wait: u64,
) -> anyhow::Result<()> {
    let id = job.job;
    println!("job {id} sent to {} terminals", job.terminals);
    if wait == 0 {
        return Ok(());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait);
    let mut last = usize::MAX;
    let view = loop {
        let v: JobView = get(router, &format!("/v1/jobs/{id}"), key).await?;
        if v.confirmed != last {
            eprintln!(
                "confirmed by {} of {} terminals",
                v.confirmed,
                v.terminals.len()
            );
            last = v.confirmed;
        }
        if v.complete || std::time::Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    for t in &view.terminals {
        println!(
            "  {} {:<7} {}",
            t.node_id,
            t.state.as_str(),
            t.detail.as_deref().unwrap_or("")
        );
    }
    if !view.complete {
        bail!("not every terminal confirmed within {wait} s (they get the job when they next heartbeat)");
    }
    if view.failed > 0 {
        bail!("{} terminals reported a failure", view.failed);
    }
    println!("done on every terminal");
    Ok(())
}
