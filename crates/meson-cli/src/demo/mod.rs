//! `meson-cdn demo`: a whole network on one machine. An origin of generated files, a router, and three
//! network-mode terminals in three "regions" (their own 127.0.0.x addresses and data directories, placed by
//! a coverage-zone file), each staking the router's minimum with its node key; a demo site; a burst of
//! traffic from clients in each region through real redirects; then the per-terminal tallies, the usage the
//! router accounted, the epoch's settlement (the site's escrow charged, each terminal's earnings, the fee
//! burned) and an audit of the ledger from its log. Runs until Ctrl-C.

mod origin;
mod traffic;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use meson_api::accounts::{AccountCreated, NewAccount};
use meson_api::ledger::{MintRequest, Minted, SiteBilling, SpentEpoch, TerminalEarnings};
use meson_api::sites::{SiteRequest, SiteStats};
use meson_api::terminals::TerminalList;
use meson_api::SiteInfo;
use meson_ledger::tx::TxAction;
use meson_ledger::{format_amount, parse_amount};
use meson_router::{Router, RouterConfig};
use meson_terminal::network::NetworkConfig;
use meson_terminal::{Terminal, TerminalConfig};
use tokio::sync::watch;

use crate::client::{get, post};
use traffic::{count, Clients, Tally};

const SITE: &str = "demo.meson.test";
const EPOCH_SECS: u64 = 5;
/// Tokens each terminal must stake to be in rotation.
const STAKE: &str = "10";
const ZONES: &str = "\
# CIDR            region
127.0.0.0/26      demo/eu
127.0.0.64/26     demo/na
127.0.0.128/26    demo/ap
";
/// (region, terminal address, client address)
const REGIONS: [(&str, &str, &str); 3] = [
    ("demo/eu", "127.0.0.10", "127.0.0.11"),
    ("demo/na", "127.0.0.70", "127.0.0.71"),
    ("demo/ap", "127.0.0.130", "127.0.0.131"),
];

#[derive(Args)]
pub struct DemoArgs {
    /// The router's listener; the URLs to try with curl use it.
    #[arg(long, default_value = "127.0.0.1:7070")]
    router_listen: SocketAddr,
    /// Keep the network's data here (router database, terminal caches) [default: a temporary directory,
    /// removed at exit].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Times each client fetches every file in the burst.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let stop = crate::signals::Stop::install()?;
    let temp;
    let dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir().context("creating a temporary directory")?;
            temp.path().to_path_buf()
        }
    };
    let (stop_origin, origin_rx) = watch::channel(false);
    let (origin_addr, origin_task) = origin::start("127.0.0.1:0".parse()?, origin_rx).await?;
    println!(
        "origin      http://{origin_addr}/ ({} generated files)",
        origin::FILES
    );

    let mut rcfg = RouterConfig::new(args.router_listen, dir.join("router"));
    rcfg.heartbeat = Duration::from_secs(1);
    rcfg.ticket_lifetime_secs = 5;
    rcfg.coverage_zones = Some(ZONES.into());
    // Short epochs so the demo settles while you watch; a steep price so a few MiB give readable amounts.
    rcfg.billing = Some(meson_ledger::settlement::BillingConfig {
        epoch_secs: EPOCH_SECS,
        price_per_gib: 100 * meson_ledger::ONE_TOKEN,
        fee_bps: 2_000,
        region_prices: Vec::new(),
        ..Default::default()
    });
    rcfg.min_stake = parse_amount(STAKE)?;
    let network = rcfg.network.clone();
    let router = Router::start(rcfg)
        .await
        .with_context(|| format!("starting the router on {}", args.router_listen))?;
    let router_url = format!("http://{}", router.addr);
    println!("router      {router_url} (id {})", router.id);

    let mut terminals = Vec::new();
    for (region, ip, _) in REGIONS {
        let data = dir.join(format!("terminal-{}", region.replace('/', "-")));
        let mut cfg = TerminalConfig::new(router_url.parse()?, data);
        cfg.listen = format!("{ip}:0").parse()?;
        cfg.admin_listen = "127.0.0.1:0".parse()?;
        cfg.capacity = 1 << 30;
        cfg.min_free_disk = 64 << 20;
        let net = NetworkConfig {
            router: router_url.clone(),
            public_url: None,
            region: None,
            lat: None,
            lon: None,
            ticket_policy: Default::default(),
            call_timeout: Duration::from_secs(10),
        };
        let t = Terminal::start_network(cfg, net)
            .await
            .with_context(|| format!("starting the terminal on {ip}"))?;
        println!(
            "terminal    http://{} in {region} (admin http://{})",
            t.addr, t.admin_addr
        );
        terminals.push(t);
    }

    let result = async {
        let account: AccountCreated =
            post(&router_url, "/v1/accounts", None, &NewAccount { name: "demo".into() }).await?;
        let key = account.api_key;
        let site = SiteRequest {
            host: SITE.into(),
            origin: format!("http://{origin_addr}"),
            default_ttl_secs: None,
            query_mode: Some("sort".into()),
        };
        let _: SiteInfo = post(&router_url, "/v1/sites", Some(&key), &site).await?;
        println!("site        {SITE} -> http://{origin_addr}");
        let token = std::fs::read_to_string(dir.join("router").join("operator.token"))
            .context("reading the router's operator token")?;
        fund(&router_url, &key, token.trim()).await?;
        stake(&router_url, token.trim(), &network, &terminals).await?;
        wait_for_rotation(&router_url, &terminals).await?;
        let tallies = burst(&router_url, args.rounds).await?;
        report(&router_url, &key, &terminals, &tallies).await?;
        settlement(&router_url, &key, &terminals).await?;
        println!();
        println!("Try it (the --interface address puts curl in a region):");
        println!("  curl -sL -H 'Host: {SITE}' {router_url}/files/3.bin -o /dev/null -w '%{{url_effective}} %{{http_code}}\\n'");
        println!("  curl -sL --interface 127.0.0.71 {router_url}/s/{SITE}/files/3.bin -D - -o /dev/null");
        println!("  curl -s -H 'Authorization: Bearer {key}' {router_url}/v1/sites/{SITE}/stats");
        println!("  curl -s {router_url}/v1/terminals");
        println!("  meson-cdn wallet --router {router_url} balance --terminal NODE_ID");
        println!("  meson-cdn ledger verify --router {router_url}");
        println!();
        println!("Press Ctrl-C to stop.");
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if result.is_ok() {
        stop.wait().await;
    }
    println!("stopping: terminals report their last usage, then the router closes its database");
    for t in terminals {
        t.shutdown().await;
    }
    router.shutdown().await;
    let _ = stop_origin.send(true);
    let _ = origin_task.await;
    result?;
    println!("stopped cleanly");
    Ok(())
}

/// Waits until every terminal has joined, learned the site, and is in the router's rotation.
async fn wait_for_rotation(router: &str, terminals: &[Terminal]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view: TerminalList = get(router, "/v1/terminals", None).await?;
        let in_rotation = view.terminals.iter().filter(|t| t.in_rotation).count();
        let with_site = terminals
            .iter()
            .filter(|t| t.node.as_ref().is_some_and(|n| n.sites.site_count() == 1))
            .count();
        if in_rotation == terminals.len() && with_site == terminals.len() {
            println!("network     {in_rotation} terminals joined and in rotation");
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "only {in_rotation} of {} terminals came into rotation within 30 s",
                terminals.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every client fetches every file, `rounds` times, the three regions at once.
async fn burst(router: &str, rounds: u32) -> anyhow::Result<BTreeMap<String, Tally>> {
    let mut tallies = BTreeMap::new();
    for round in 1..=rounds {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (_, _, client_ip) in REGIONS {
            let router = router.to_owned();
            let ip: IpAddr = client_ip.parse()?;
            tasks.push(tokio::spawn(async move {
                let clients = Clients::from(ip);
                let mut got = Vec::new();
                for n in 0..origin::FILES {
                    let path = format!("/files/{n}.bin");
                    let (terminal, hit, len) = clients.fetch(&router, SITE, &path).await?;
                    if len != origin::file_len(n) {
                        bail!(
                            "{path} from {terminal}: {len} bytes, expected {}",
                            origin::file_len(n)
                        );
                    }
                    got.push((terminal, hit, len));
                }
                Ok::<_, anyhow::Error>(got)
            }));
        }
        let (mut requests, mut hits) = (0, 0);
        for task in tasks {
            for (terminal, hit, len) in task.await.context("client task")?? {
                requests += 1;
                hits += u64::from(hit);
                count(&mut tallies, terminal, hit, len);
            }
        }
        println!(
            "burst       round {round}/{rounds}: {requests} requests through the router, {hits} cache hits, {} ms",
            started.elapsed().as_millis()
        );
    }
    Ok(tallies)
}

/// Prints what each terminal served, then waits for the router to account the same usage.
async fn report(
    router: &str,
    key: &str,
    terminals: &[Terminal],
    tallies: &BTreeMap<String, Tally>,
) -> anyhow::Result<()> {
    println!();
    println!(
        "{:<28} {:<9} {:>9} {:>7} {:>9} {:>12}",
        "terminal", "region", "requests", "hits", "hit ratio", "bytes"
    );
    let mut total = Tally::default();
    for (t, (region, _, _)) in terminals.iter().zip(REGIONS) {
        let url = format!("http://{}", t.addr);
        let tally = tallies.get(&url).cloned().unwrap_or_default();
        println!(
            "{url:<28} {region:<9} {:>9} {:>7} {:>8.0}% {:>12}",
            tally.requests,
            tally.hits,
            ratio(tally.hits, tally.requests) * 100.0,
            tally.bytes
        );
        total.requests += tally.requests;
        total.hits += tally.hits;
        total.bytes += tally.bytes;
    }
    // Usage is reported once each ticket expired (5 s here) at the next heartbeat (1 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let stats: SiteStats = get(
            router,
            &format!("/v1/sites/{SITE}/stats?hours=1"),
            Some(key),
        )
        .await?;
        if stats.total.tickets == total.requests || Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!();
    println!(
        "usage accounted by the router: {} tickets, {} requests, {} hits, {} bytes",
        stats.total.tickets, stats.total.requests, stats.total.hits, stats.total.bytes
    );
    let agrees = stats.total.tickets == total.requests
        && stats.total.bytes == total.bytes
        && stats.total.hits == total.hits;
    println!(
        "the clients counted {} requests, {} hits, {} bytes: {}",
        total.requests,
        total.hits,
        total.bytes,
        if agrees {
            "the router's account agrees"
        } else {
            "the router's account does not agree (yet)"
        }
    );
    Ok(())
}

/// The site owner buys 100 tokens into the site's escrow (the operator mints them), and the router starts
/// sending the site's clients to terminals once it sees the funds.
async fn fund(router: &str, key: &str, token: &str) -> anyhow::Result<()> {
    let billing_path = format!("/v1/sites/{SITE}/billing");
    let billing: SiteBilling = get(router, &billing_path, Some(key)).await?;
    let escrow = billing.escrow_account;
    let mint = MintRequest {
        id: 1,
        to: Some(escrow),
        owner: None,
        amount: "100".into(),
    };
    let _: Minted = post(router, "/v1/ledger/mint", Some(token), &mint).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !get::<SiteBilling>(router, &billing_path, Some(key))
        .await?
        .funded
    {
        if Instant::now() > deadline {
            bail!("the router never saw the site funded");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("escrow      100 tokens deposited for {SITE} (account {escrow})");
    Ok(())
}

/// Each terminal's operator buys STAKE tokens and stakes them with the terminal's node key, as `meson-cdn
/// wallet --key DATA_DIR/node.key stake` does: the router keeps a terminal with less out of rotation.
async fn stake(
    router: &str,
    token: &str,
    network: &str,
    terminals: &[Terminal],
) -> anyhow::Result<()> {
    for (i, t) in terminals.iter().enumerate() {
        let key_path = t.cache.config().data_dir.join("node.key");
        let key = crate::wallet::load_key(&key_path)?;
        let mint = MintRequest {
            id: 100 + i as u128,
            to: None,
            owner: Some(key.id()),
            amount: STAKE.into(),
        };
        let _: Minted = post(router, "/v1/ledger/mint", Some(token), &mint).await?;
        let amount = parse_amount(STAKE)?;
        crate::wallet::send(router, &key_path, network, TxAction::Stake { amount }).await?;
    }
    println!(
        "stake       each terminal staked {STAKE} tokens with its node key (the router's minimum)"
    );
    Ok(())
}

/// Waits for the burst's epochs to settle, prints what the site paid and each terminal earned, and
/// audits the ledger from its log.
async fn settlement(router: &str, key: &str, terminals: &[Terminal]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(4 * EPOCH_SECS + 30);
    let billing = loop {
        let b: SiteBilling = get(
            router,
            &format!("/v1/sites/{SITE}/billing?epochs=50"),
            Some(key),
        )
        .await?;
        if !b.epochs.is_empty() && b.epochs.iter().all(|e| e.settled) {
            break b;
        }
        if Instant::now() > deadline {
            bail!("the burst's epochs did not settle in time");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let sum = |field: fn(&SpentEpoch) -> &str| -> anyhow::Result<u128> {
        let mut total = 0;
        for e in &billing.epochs {
            total += parse_amount(field(e))?;
        }
        Ok(total)
    };
    println!();
    println!(
        "settled at 100 tokens per GiB, 20 % fee: the site paid {} ({} burned, {} to terminals); escrow now {}",
        format_amount(sum(|e| &e.spent)?),
        format_amount(sum(|e| &e.fee_burned)?),
        format_amount(sum(|e| &e.paid_to_terminals)?),
        billing
            .escrow
            .as_ref()
            .and_then(|a| a.balance.as_deref())
            .unwrap_or("?")
    );
    for t in terminals {
        let Some(node) = &t.node else { continue };
        let id = node.standing(&t.cache).node_id;
        let e: TerminalEarnings = get(
            router,
            &format!("/v1/terminals/{id}/earnings?epochs=50"),
            None,
        )
        .await?;
        println!(
            "  terminal http://{} earned {} (account {})",
            t.addr,
            e.balance
                .as_ref()
                .and_then(|a| a.balance.as_deref())
                .unwrap_or("0"),
            e.account
        );
    }
    let (_, replay) = crate::ledger::verify(router, None).await?;
    println!(
        "ledger audited: {} log entries replayed, every invariant holds, the signed head matches (supply {})",
        replay.seq(),
        format_amount(replay.ledger().supply())
    );
    Ok(())
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
