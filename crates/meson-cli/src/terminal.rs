//! `meson-cdn terminal`: flags, `MESON_*` environment variables and a TOML file, merged in that order of
//! precedence into one [`TerminalConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use meson_core::eviction::PolicyKind;
use meson_core::size::ByteSize;
use meson_terminal::config::{FsyncPolicy, TlsConfig};
use meson_terminal::network::sites::TicketPolicy;
use meson_terminal::network::{NetworkConfig, Standing};
use meson_terminal::{Terminal, TerminalConfig};
use serde::Deserialize;

/// `meson-cdn terminal [OPTIONS]` runs a terminal; `meson-cdn terminal drain` takes a running one out of
/// rotation.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TerminalCommand {
    #[command(subcommand)]
    action: Option<TerminalAction>,
    #[command(flatten)]
    run: TerminalArgs,
}

#[derive(Subcommand)]
enum TerminalAction {
    /// Take a running network-mode terminal out of rotation, and wait until the router agrees and its
    /// client connections have finished (`--undo` puts it back).
    Drain(DrainArgs),
    /// A terminal's spot-check audits as its router records them: standing, pass rate, per epoch.
    Audits(AuditsArgs),
}

#[derive(Args)]
struct AuditsArgs {
    /// The terminal's node id.
    node: meson_core::identity::NodeId,
    /// The router.
    #[arg(long, env = "MESON_ROUTER")]
    router: String,
    /// How many epochs back.
    #[arg(long, default_value_t = 24)]
    epochs: u64,
}

#[derive(Args)]
struct DrainArgs {
    /// The terminal's admin listener.
    #[arg(long, env = "MESON_ADMIN_URL", default_value = "http://127.0.0.1:9080")]
    admin: String,
    /// The terminal's data directory, to read its admin token from.
    #[arg(long, env = "MESON_DATA_DIR", default_value = "meson-data")]
    data_dir: PathBuf,
    /// Put the terminal back into rotation instead.
    #[arg(long)]
    undo: bool,
    /// Give up waiting after this many seconds (the drain itself stays in effect).
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Every option is also a TOML key of the same name (`--max-object-size` is `max-object-size`).
#[derive(Args, Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TerminalArgs {
    /// TOML file with any of these options; flags and environment variables override it.
    #[arg(long, env = "MESON_CONFIG")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// The origin to cache, e.g. `https://origin.example.com` (single-origin mode: required unless --router).
    #[arg(long, env = "MESON_ORIGIN")]
    origin: Option<String>,
    /// Join the network of this router, e.g. `http://router.example.com:7070`: serve the sites it lists,
    /// to the clients it redirects with tickets (network mode).
    #[arg(long, env = "MESON_ROUTER", conflicts_with = "origin")]
    router: Option<String>,
    /// Network mode: the URL clients reach this terminal on [default: http:// and the --listen address].
    #[arg(long, env = "MESON_PUBLIC_URL")]
    public_url: Option<String>,
    /// Network mode: the region to declare, e.g. `eu/west` [default: the router's coverage zone of the address].
    #[arg(long, env = "MESON_REGION")]
    region: Option<String>,
    /// Network mode: latitude to declare.
    #[arg(long, env = "MESON_LAT", allow_negative_numbers = true)]
    lat: Option<f64>,
    /// Network mode: longitude to declare.
    #[arg(long, env = "MESON_LON", allow_negative_numbers = true)]
    lon: Option<f64>,
    /// Network mode: a request with a missing, expired or wrong ticket is sent back to the router for a
    /// fresh one (bounce) or answered 403 (refuse) [default: bounce].
    #[arg(long, env = "MESON_TICKET_POLICY")]
    #[serde(default, deserialize_with = "parsed")]
    ticket_policy: Option<TicketPolicy>,
    /// Client listener (plain HTTP/1.1 and h2c) [default: 0.0.0.0:8080].
    #[arg(long, env = "MESON_LISTEN")]
    listen: Option<SocketAddr>,
    /// TLS client listener (h2 and http/1.1 by ALPN); needs --tls-cert and --tls-key.
    #[arg(long, env = "MESON_TLS_LISTEN")]
    tls_listen: Option<SocketAddr>,
    /// PEM certificate chain for --tls-listen.
    #[arg(long, env = "MESON_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-listen.
    #[arg(long, env = "MESON_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Admin API, /metrics and /healthz [default: 127.0.0.1:9080].
    #[arg(long, env = "MESON_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
    /// Where objects, the index and the admin token live [default: ./meson-data].
    #[arg(long, env = "MESON_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Byte budget for cached content, e.g. 50GiB [default: 50GiB].
    #[arg(long, env = "MESON_CAPACITY")]
    capacity: Option<ByteSize>,
    /// Objects larger than this are fetched and stored in slices by Range requests [default: 4MiB].
    #[arg(long, env = "MESON_SLICE_SIZE")]
    slice_size: Option<ByteSize>,
    /// Larger responses are passed through uncached [default: 64GiB].
    #[arg(long, env = "MESON_MAX_OBJECT_SIZE")]
    max_object_size: Option<ByteSize>,
    /// Stop admitting new objects while the disk has less free space than this [default: 1GiB].
    #[arg(long, env = "MESON_MIN_FREE_DISK")]
    min_free_disk: Option<ByteSize>,
    /// Eviction policy: s3fifo, wtinylfu or lru [default: s3fifo].
    #[arg(long, env = "MESON_POLICY")]
    #[serde(default, deserialize_with = "parsed")]
    policy: Option<PolicyKind>,
    /// always: fsync each object before it becomes visible; never: leave it to the kernel [default: always].
    #[arg(long, env = "MESON_FSYNC")]
    #[serde(default, deserialize_with = "parsed")]
    fsync: Option<FsyncPolicy>,
    /// Bytes per second the background scrub re-hashes; 0 turns it off [default: 8MiB].
    #[arg(long, env = "MESON_SCRUB_RATE")]
    scrub_rate: Option<ByteSize>,
    /// Memory for hot small bodies (each at most 64KiB) served without touching the disk; 0 turns it off [default: 8MiB].
    #[arg(long, env = "MESON_MEMORY_CACHE")]
    memory_cache: Option<ByteSize>,
    /// Freshness in seconds for responses with no caching headers and no Last-Modified [default: none].
    #[arg(long, env = "MESON_DEFAULT_TTL")]
    default_ttl: Option<u64>,
    /// Cache 404/410/5xx without explicit freshness for this many seconds [default: never].
    #[arg(long, env = "MESON_CACHE_ERRORS_TTL")]
    cache_errors_ttl: Option<u64>,
    /// Largest request header section; larger gets 431 [default: 32KiB].
    #[arg(long, env = "MESON_MAX_HEADER_BYTES")]
    max_header_bytes: Option<ByteSize>,
    /// Most header fields in one request; more gets 431 [default: 100].
    #[arg(long, env = "MESON_MAX_HEADERS")]
    max_headers: Option<usize>,
    /// Seconds a client has to send a request's headers (also the keep-alive idle limit) [default: 10].
    #[arg(long, env = "MESON_CLIENT_HEADER_TIMEOUT")]
    client_header_timeout: Option<u64>,
    /// Seconds a client may take to accept each chunk of a response [default: 30].
    #[arg(long, env = "MESON_CLIENT_WRITE_TIMEOUT")]
    client_write_timeout: Option<u64>,
    /// Seconds to connect to the origin [default: 5].
    #[arg(long, env = "MESON_ORIGIN_CONNECT_TIMEOUT")]
    origin_connect_timeout: Option<u64>,
    /// Seconds to wait for the origin's response head, and between its body chunks [default: 30].
    #[arg(long, env = "MESON_ORIGIN_TIMEOUT")]
    origin_timeout: Option<u64>,
    /// Seconds in-flight responses may run after SIGTERM [default: 30].
    #[arg(long, env = "MESON_SHUTDOWN_GRACE")]
    shutdown_grace: Option<u64>,
}

/// Reads a TOML string through the type's `FromStr`, as the command line does.
fn parsed<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let s = String::deserialize(de)?;
    s.parse().map(Some).map_err(serde::de::Error::custom)
}

/// Fills every option not given on the command line or in the environment from the file.
macro_rules! fill_from {
    ($cli:ident, $file:ident, $($field:ident),* $(,)?) => {
        $( if $cli.$field.is_none() { $cli.$field = $file.$field.take(); } )*
    };
}

impl TerminalArgs {
    fn resolve(mut self) -> anyhow::Result<(TerminalConfig, Option<NetworkConfig>)> {
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config {}", path.display()))?;
            let mut file: TerminalArgs = toml::from_str(&text)
                .with_context(|| format!("parsing config {}", path.display()))?;
            fill_from!(
                self,
                file,
                origin,
                router,
                public_url,
                region,
                lat,
                lon,
                ticket_policy,
                listen,
                tls_listen,
                tls_cert,
                tls_key,
                admin_listen,
                data_dir,
                capacity,
                slice_size,
                max_object_size,
                min_free_disk,
                policy,
                fsync,
                scrub_rate,
                memory_cache,
                default_ttl,
                cache_errors_ttl,
                max_header_bytes,
                max_headers,
                client_header_timeout,
                client_write_timeout,
                origin_connect_timeout,
                origin_timeout,
                shutdown_grace,
            );
        }
        let (origin, network) = match (self.origin, self.router) {
            (Some(_), Some(_)) => bail!("--origin and --router exclude each other: a terminal either caches one origin or joins a network"),
            (None, None) => bail!("--origin or --router is required (or in the config file, or MESON_ORIGIN / MESON_ROUTER)"),
            (Some(origin), None) => (origin, None),
            (None, Some(router)) => {
                let net = NetworkConfig {
                    router: router.clone(),
                    public_url: self.public_url,
                    region: self.region,
                    lat: self.lat,
                    lon: self.lon,
                    ticket_policy: self.ticket_policy.unwrap_or_default(),
                    call_timeout: Duration::from_secs(10),
                };
                // Network mode has no single origin; the router stands in so the config stays whole.
                (router, Some(net))
            }
        };
        let origin: http::Uri = origin
            .parse()
            .with_context(|| format!("invalid URL {origin:?}"))?;
        if !matches!(origin.scheme_str(), Some("http" | "https")) || origin.host().is_none() {
            bail!("{origin} must be an absolute http:// or https:// URL");
        }
        let data_dir = self.data_dir.unwrap_or_else(|| PathBuf::from("meson-data"));
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let mut cfg = TerminalConfig::new(origin, data_dir);
        let secs = Duration::from_secs;
        if let Some(v) = self.listen {
            cfg.listen = v;
        }
        if let Some(v) = self.admin_listen {
            cfg.admin_listen = v;
        }
        cfg.tls = match (self.tls_listen, self.tls_cert, self.tls_key) {
            (Some(listen), Some(cert), Some(key)) => Some(TlsConfig { listen, cert, key }),
            (None, None, None) => None,
            _ => bail!("--tls-listen, --tls-cert and --tls-key go together"),
        };
        if let Some(v) = self.capacity {
            cfg.capacity = v.0;
        }
        if let Some(v) = self.slice_size {
            if v.0 < 64 * 1024 {
                bail!("--slice-size must be at least 64KiB, got {v}");
            }
            cfg.slice_size = v.0;
        }
        if let Some(v) = self.max_object_size {
            cfg.limits.max_object_size = v.0;
        }
        if let Some(v) = self.min_free_disk {
            cfg.min_free_disk = v.0;
        }
        if let Some(v) = self.policy {
            cfg.policy = v;
        }
        if let Some(v) = self.fsync {
            cfg.fsync = v;
        }
        if let Some(v) = self.scrub_rate {
            cfg.scrub_rate = v.0;
        }
        if let Some(v) = self.memory_cache {
            cfg.memory_cache = v.0;
        }
        cfg.cache.default_ttl_secs = self.default_ttl.or(cfg.cache.default_ttl_secs);
        cfg.cache.cache_errors_ttl_secs = self.cache_errors_ttl.or(cfg.cache.cache_errors_ttl_secs);
        if let Some(v) = self.max_header_bytes {
            cfg.limits.max_header_bytes =
                usize::try_from(v.0).context("--max-header-bytes too large")?;
        }
        if let Some(v) = self.max_headers {
            cfg.limits.max_headers = v;
        }
        let t = &mut cfg.timeouts;
        t.client_header = self
            .client_header_timeout
            .map(secs)
            .unwrap_or(t.client_header);
        t.client_write = self
            .client_write_timeout
            .map(secs)
            .unwrap_or(t.client_write);
        t.origin_connect = self
            .origin_connect_timeout
            .map(secs)
            .unwrap_or(t.origin_connect);
        t.origin_read = self.origin_timeout.map(secs).unwrap_or(t.origin_read);
        t.shutdown_grace = self.shutdown_grace.map(secs).unwrap_or(t.shutdown_grace);
        Ok((cfg, network))
    }
}

pub fn run(cmd: TerminalCommand) -> anyhow::Result<()> {
    match cmd.action {
        Some(TerminalAction::Drain(args)) => drain(args),
        Some(TerminalAction::Audits(args)) => crate::client::runtime()?.block_on(
            crate::verification::show_audits(&args.router, &args.node, args.epochs),
        ),
        None => serve(cmd.run),
    }
}

fn serve(args: TerminalArgs) -> anyhow::Result<()> {
    let (cfg, network) = args.resolve()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let stop = crate::signals::Stop::install()?;
        let terminal = match network {
            Some(net) => {
                let router = net.router.clone();
                let t = Terminal::start_network(cfg, net).await?;
                let node = t.node.as_ref().expect("network mode");
                println!(
                    "meson-cdn terminal {} joining {router} as {}",
                    node.standing(&t.cache).node_id,
                    node.public_url()
                );
                t
            }
            None => Terminal::start(cfg).await?,
        };
        println!("meson-cdn terminal serving http://{}", terminal.addr);
        if let Some(a) = terminal.tls_addr {
            println!("meson-cdn terminal serving https://{a}");
        }
        println!(
            "admin API, /metrics and /healthz on http://{}",
            terminal.admin_addr
        );
        stop.wait().await;
        tracing::info!("shutting down: finishing in-flight responses");
        terminal.shutdown().await;
        Ok(())
    })
}

/// Asks the terminal to drain (or undrain), then polls its standing until the router agrees and, when
/// draining, the last client connection has closed.
fn drain(args: DrainArgs) -> anyhow::Result<()> {
    let token = std::fs::read_to_string(args.data_dir.join("admin.token")).with_context(|| {
        format!(
            "reading the admin token in {} (give the terminal's --data-dir)",
            args.data_dir.display()
        )
    })?;
    let admin = args.admin.trim_end_matches('/').to_owned();
    let rt = crate::client::runtime()?;
    rt.block_on(async move {
        let token = Some(token.trim());
        let draining = !args.undo;
        let body = serde_json::json!({ "draining": draining });
        let _: Standing = crate::client::post(&admin, "/v1/admin/drain", token, &body).await?;
        let deadline = std::time::Instant::now() + Duration::from_secs(args.timeout);
        let mut last = String::new();
        loop {
            let s: Standing = crate::client::get(&admin, "/v1/admin/network", token).await?;
            let (in_rotation, connections) = (s.in_rotation, s.active_connections);
            let line = format!("in rotation: {in_rotation}, client connections: {connections}");
            if line != last {
                eprintln!("{line}");
                last = line;
            }
            let done = if draining {
                !in_rotation && connections == 0
            } else {
                in_rotation
            };
            if done {
                println!(
                    "{}",
                    if draining {
                        "drained: out of rotation with no client connections"
                    } else {
                        "back in rotation"
                    }
                );
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                bail!(
                    "gave up after {} s ({last}); the drain request stays in effect",
                    args.timeout
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}
