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
}

pub fn run(args: RouterArgs) -> anyhow::Result<()> {
    let mut cfg = RouterConfig::new(args.listen, args.data_dir.clone());
    cfg.heartbeat = Duration::from_secs(args.heartbeat_secs.max(1));
    cfg.ticket_lifetime_secs = args.ticket_lifetime;
    cfg.load_bound = args.load_bound;
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
        stop.wait().await;
        tracing::info!("shutting down");
        router.shutdown().await;
        Ok(())
    })
}
