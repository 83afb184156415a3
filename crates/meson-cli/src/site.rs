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
    /// Requests and bytes served for a site, per hour (accepted usage).
    Stats {
        host: String,
        /// How many hours back.
        #[arg(long, default_value_t = 24)]
        hours: u64,
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
                println!("{:<31} {:>12} {:>16}", "hour (UTC)", "requests", "bytes");
                for h in v["hours"].as_array().into_iter().flatten() {
                    let start = std::time::UNIX_EPOCH
                        + std::time::Duration::from_secs(h["hour_start"].as_u64().unwrap_or(0));
                    println!(
                        "{:<31} {:>12} {:>16}",
                        httpdate::fmt_http_date(start),
                        h["requests"],
                        h["bytes"]
                    );
                }
                println!("{:<31} {:>12} {:>16}", "total", v["requests"], v["bytes"]);
            }
            SiteCommand::Rm { host } => {
                call(router, "DELETE", &format!("/v1/sites/{host}"), key, None).await?;
                println!("removed {host}");
            }
        }
        Ok(())
    })
}
