//! `meson-cdn account` and `meson-cdn site`: a business user's commands, as clients of the router's API.

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meson_core::wire::SiteInfo;
use serde_json::{json, Value};

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
    /// Requests, cache hits and bytes served for a site, per hour (accepted usage).
    Stats {
        host: String,
        /// How many hours back.
        #[arg(long, default_value_t = 24)]
        hours: u64,
    },
    /// The site's escrow (balance, funded, low funds) and what it spent per billing epoch.
    Billing {
        host: String,
        /// How many epochs back.
        #[arg(long, default_value_t = 24)]
        epochs: u64,
    },
}

/// One JSON request to a Meson server (the router, or a terminal's admin API); a non-2xx answer becomes
/// an error carrying the server's message.
pub(crate) async fn call(
    router: &str,
    method: &str,
    path: &str,
    api_key: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let uri = format!("{}{path}", router.trim_end_matches('/'));
    let mut req = http::Request::builder().method(method).uri(&uri);
    if let Some(key) = api_key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let resp = client
        .request(req.body(Full::new(body)).context("building the request")?)
        .await
        .with_context(|| format!("{method} {uri}"))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .with_context(|| format!("reading the answer of {uri}"))?
        .to_bytes();
    let value: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{uri} answered {status} with something that is not JSON"))?
    };
    if !status.is_success() {
        let msg = value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no reason given");
        bail!("{method} {uri} refused: {status}: {msg}");
    }
    Ok(value)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub fn run_account(args: AccountArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        match args.command {
            AccountCommand::Create { name } => {
                let v = call(
                    args.client.router()?,
                    "POST",
                    "/v1/accounts",
                    None,
                    Some(json!({ "name": name })),
                )
                .await?;
                println!("account {}", v["account_id"]);
                println!("api key {}", v["api_key"].as_str().unwrap_or_default());
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
                let mut body = json!({ "host": host, "origin": origin });
                if let Some(t) = default_ttl {
                    body["default_ttl_secs"] = json!(t);
                }
                if let Some(q) = query_mode {
                    body["query_mode"] = json!(q);
                }
                let site: SiteInfo = serde_json::from_value(
                    call(router, "POST", "/v1/sites", key, Some(body)).await?,
                )
                .context("reading the new site")?;
                println!("added {} -> {} (site {})", site.host, site.origin, site.id);
            }
            SiteCommand::List => {
                let sites: Vec<SiteInfo> =
                    serde_json::from_value(call(router, "GET", "/v1/sites", key, None).await?)
                        .context("reading the site list")?;
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
                let v = call(
                    router,
                    "GET",
                    &format!("/v1/sites/{host}/stats?hours={hours}"),
                    key,
                    None,
                )
                .await?;
                let row = |label: &str, h: &Value| {
                    println!(
                        "{label:<31} {:>10} {:>10} {:>9.1}% {:>16}",
                        h["requests"],
                        h["hits"],
                        h["hit_ratio"].as_f64().unwrap_or(0.0) * 100.0,
                        h["bytes"]
                    )
                };
                println!(
                    "{:<31} {:>10} {:>10} {:>10} {:>16}",
                    "hour (UTC)", "requests", "hits", "hit ratio", "bytes"
                );
                for h in v["hours"].as_array().into_iter().flatten() {
                    let start = std::time::UNIX_EPOCH
                        + std::time::Duration::from_secs(h["hour_start"].as_u64().unwrap_or(0));
                    row(&httpdate::fmt_http_date(start), h);
                }
                row("total", &v);
            }
            SiteCommand::Billing { host, epochs } => {
                let v = call(
                    router,
                    "GET",
                    &format!("/v1/sites/{host}/billing?epochs={epochs}"),
                    key,
                    None,
                )
                .await?;
                let escrow = &v["escrow"];
                println!(
                    "escrow account {}: balance {}{}",
                    v["escrow_account"].as_str().unwrap_or(""),
                    escrow["balance"].as_str().unwrap_or("0"),
                    if v["funded"] == false {
                        " (empty: clients go to the origin until it is funded)"
                    } else if v["low_funds"] == true {
                        " (low: less than one more epoch at the last epoch's spend)"
                    } else {
                        ""
                    }
                );
                println!(
                    "{:<31} {:>16} {:>20} {:>20} {:>20}",
                    "epoch start (UTC)", "bytes", "spent", "fee burned", "to terminals"
                );
                for e in v["epochs"].as_array().into_iter().flatten() {
                    let start = std::time::UNIX_EPOCH
                        + std::time::Duration::from_secs(e["start"].as_u64().unwrap_or(0));
                    println!(
                        "{:<31} {:>16} {:>20} {:>20} {:>20}{}",
                        httpdate::fmt_http_date(start),
                        e["bytes"],
                        e["spent"].as_str().unwrap_or(""),
                        e["fee_burned"].as_str().unwrap_or(""),
                        e["paid_to_terminals"].as_str().unwrap_or(""),
                        if e["settled"] == true {
                            ""
                        } else {
                            " (not settled yet)"
                        }
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
                    (Some(u), _, _) => json!({ "url": u }),
                    (_, Some(p), _) => json!({ "prefix": p }),
                    (_, _, Some(t)) => json!({ "tag": t }),
                    _ if all => json!({ "all": true }),
                    _ => bail!("give one of --url, --prefix, --tag or --all"),
                };
                let job = call(
                    router,
                    "POST",
                    &format!("/v1/sites/{host}/purge"),
                    key,
                    Some(body),
                )
                .await?;
                follow_job(router, key, &job, wait).await?;
            }
            SiteCommand::Push {
                host,
                path,
                root,
                ttl,
                wait,
            } => {
                let body = json!({ "path": path, "root": root, "ttl_secs": ttl });
                let job = call(
                    router,
                    "POST",
                    &format!("/v1/sites/{host}/push"),
                    key,
                    Some(body),
                )
                .await?;
                follow_job(router, key, &job, wait).await?;
            }
            SiteCommand::Rm { host } => {
                call(router, "DELETE", &format!("/v1/sites/{host}"), key, None).await?;
                println!("removed {host}");
            }
        }
        Ok(())
    })
}

/// Polls a purge or push job until every terminal confirmed or `wait` seconds passed, printing progress
/// and each terminal's outcome. Fails if a terminal reported a failure or the wait ran out.
async fn follow_job(router: &str, key: Option<&str>, job: &Value, wait: u64) -> anyhow::Result<()> {
    let id = job["job"]
        .as_u64()
        .context("the router's answer names no job")?;
    println!("job {id} sent to {} terminals", job["terminals"]);
    if wait == 0 {
        return Ok(());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait);
    let mut last = usize::MAX;
    let view = loop {
        let v = call(router, "GET", &format!("/v1/jobs/{id}"), key, None).await?;
        let confirmed = v["confirmed"].as_u64().unwrap_or(0) as usize;
        let of = v["terminals"].as_array().map_or(0, Vec::len);
        if confirmed != last {
            eprintln!("confirmed by {confirmed} of {of} terminals");
            last = confirmed;
        }
        if v["complete"] == true || std::time::Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    for t in view["terminals"].as_array().into_iter().flatten() {
        println!(
            "  {} {:<7} {}",
            t["node_id"].as_str().unwrap_or(""),
            t["state"].as_str().unwrap_or(""),
            t["detail"].as_str().unwrap_or("")
        );
    }
    if view["complete"] != true {
        bail!("not every terminal confirmed within {wait} s (they get the job when they next heartbeat)");
    }
    if view["failed"].as_u64().unwrap_or(0) > 0 {
        bail!("{} terminals reported a failure", view["failed"]);
    }
    println!("done on every terminal");
    Ok(())
}
