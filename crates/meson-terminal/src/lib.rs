//! The Meson CDN terminal: a verified, pull-through edge cache.
//!
//! [`Terminal::start`] opens the store (checking it after any crash), binds the client listeners and the
//! admin listener, and runs the background scrub. The cache engine ([`cache::Cache`]) does not know how
//! the terminal learned what to serve; this crate's single-origin mode is one way to feed it.
//!
//! The modules in layers; each uses only those of the layers before it, so no two import each other:
//! - leaves: [`body`] (the response body type), [`config`], [`object`], [`hot`], [`telemetry`],
//!   [`shutdown`]; then [`store`], [`index`], [`origin`], [`error`], [`hardware`], [`claims`] (signed
//!   claims of what is served, each signed once);
//! - [`site`] (what is served, and the [`site::Meter`] hook a request is metered by) and [`fills`] (fills
//!   in flight and what they publish);
//! - [`cache`]: the engine's state, and every method of [`cache::Cache`];
//! - [`fill`] (one fill: ask the origin, classify the answer with `meson_core::http_cache::classify`,
//!   stream and store) and [`source`] (response bodies read from slices and fills);
//! - [`audit`] (answering the router's spot checks), [`served`] (the claim a response carries), then
//!   [`proxy`] (one client request), [`ops`] (push), [`scrub`];
//! - [`network`] (the router link);
//! - [`server`] and [`admin`], the listeners.

pub mod admin;
pub mod audit;
pub mod body;
pub mod cache;
pub mod claims;
pub mod config;
pub mod error;
pub mod fill;
pub mod fills;
pub mod hardware;
pub mod hot;
pub mod index;
pub mod network;
pub mod object;
pub mod ops;
pub mod origin;
pub mod proxy;
pub mod scrub;
pub mod served;
pub mod server;
pub mod shutdown;
pub mod site;
pub mod source;
pub mod store;
pub mod telemetry;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use body::BoxError;
pub use config::TerminalConfig;
pub use error::TerminalError;

/// A running terminal. Dropping it does not stop it; call [`Terminal::shutdown`].
pub struct Terminal {
    pub addr: SocketAddr,
    pub tls_addr: Option<SocketAddr>,
    pub admin_addr: SocketAddr,
    pub cache: Arc<cache::Cache>,
    /// The terminal's link to its router, in network mode.
    pub node: Option<Arc<network::Node>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Reads the admin token, creating a random one (mode 0600) on first run.
pub fn load_or_create_token(data_dir: &Path) -> Result<String, TerminalError> {
    meson_node::load_or_create(&data_dir.join("admin.token"), || {
        hex::encode(rand::random::<[u8; 32]>())
    })
    .map_err(TerminalError::Secret)
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, TerminalError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| TerminalError::Bind { addr, source })
}

impl Terminal {
    /// A plain reverse-proxy cache: every request fills from `cfg.origin`.
    pub async fn start(cfg: TerminalConfig) -> Result<Terminal, TerminalError> {
        if !matches!(cfg.origin.scheme_str(), Some("http" | "https"))
            || cfg.origin.authority().is_none()
        {
            return Err(TerminalError::Origin(cfg.origin.to_string()));
        }
        let sites = Arc::new(site::SingleOrigin::new(
            origin::OriginClient::new(
                cfg.origin.clone(),
                cfg.timeouts.origin_connect,
                cfg.timeouts.origin_read,
            ),
            cfg.cache.clone(),
        ));
        Self::start_with_sites(cfg, sites, None).await
    }

    /// A network-mode terminal: its identity is `DATA_DIR/node.key` (created on first run); it joins the
    /// router in `net`, serves the sites the router lists, and only with the router's tickets.
    /// `cfg.origin` is not used.
    pub async fn start_network(
        cfg: TerminalConfig,
        net: network::NetworkConfig,
    ) -> Result<Terminal, TerminalError> {
        let key = Arc::new(meson_node::load_or_create_node_key(
            &cfg.data_dir.join("node.key"),
        )?);
        let sites = Arc::new(network::sites::RouterSites::new(
            &net.router,
            key.clone(),
            net.ticket_policy,
            cfg.cache.clone(),
            cfg.timeouts.origin_connect,
            cfg.timeouts.origin_read,
        ));
        let client = network::client::RouterClient::new(&net.router, key, net.call_timeout);
        let node = Arc::new(network::Node::new(net, client, sites.clone()));
        Self::start_with_sites(cfg, sites, Some(node)).await
    }

    /// A terminal serving whatever sites `sites` resolves requests to.
    pub async fn start_with_sites(
        cfg: TerminalConfig,
        sites: Arc<dyn site::Sites>,
        node: Option<Arc<network::Node>>,
    ) -> Result<Terminal, TerminalError> {
        telemetry::prometheus();
        let started = Instant::now();
        let cfg = Arc::new(cfg);
        // Listeners and TLS first: a start that cannot bind must not open the store and leave it marked as
        // running.
        let token: Arc<str> = load_or_create_token(&cfg.data_dir)?.into();
        let tls = match &cfg.tls {
            Some(t) => Some((
                server::tls_acceptor(&t.cert, &t.key)?,
                bind(t.listen).await?,
            )),
            None => None,
        };
        let listener = bind(cfg.listen).await?;
        if let Some(node) = &node {
            node.bound(listener.local_addr().expect("bound"))
                .map_err(TerminalError::Network)?;
        }
        let admin_listener = bind(cfg.admin_listen).await?;
        let c = cfg.clone();
        let (cache, report) = tokio::task::spawn_blocking(move || cache::Cache::open(c, sites))
            .await
            .expect("store open task")?;
        {
            let index = cache.index();
            tracing::info!(
                objects = index.object_count(),
                slices = index.slice_count(),
                used = index.used_bytes(),
                removed = report.removed,
                unclean = report.unclean,
                policy = index.policy_name(),
                ms = started.elapsed().as_millis() as u64,
                "store checked"
            );
        }
        if report.unclean {
            tracing::warn!(
                "previous run did not stop cleanly: every body is re-hashed before it is served"
            );
        }
        let addr = listener.local_addr().expect("bound");
        let admin_addr = admin_listener.local_addr().expect("bound");
        let (shutdown, rx) = watch::channel(false);

        let mut tasks = vec![tokio::spawn(server::serve(
            listener,
            None,
            cache.clone(),
            rx.clone(),
        ))];
        let mut tls_addr = None;
        if let Some((acceptor, l)) = tls {
            tls_addr = Some(l.local_addr().expect("bound"));
            tasks.push(tokio::spawn(server::serve(
                l,
                Some(acceptor),
                cache.clone(),
                rx.clone(),
            )));
        }
        let app = admin::router(admin::AdminState {
            cache: cache.clone(),
            token,
            started,
            node: node.clone(),
        });
        let mut admin_rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            let stop = async move { shutdown::stopped(&mut admin_rx).await };
            if let Err(e) = axum::serve(admin_listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "admin listener failed");
            }
        }));
        tasks.push(tokio::spawn(scrub::run(cache.clone(), rx.clone())));
        if let Some(node) = &node {
            tasks.push(tokio::spawn(node.clone().run(cache.clone(), rx.clone())));
        }
        tasks.push(tokio::spawn(sample(cache.clone(), rx)));
        tracing::info!(%addr, ?tls_addr, %admin_addr, "terminal serving");
        Ok(Terminal {
            addr,
            tls_addr,
            admin_addr,
            cache,
            node,
            shutdown,
            tasks,
        })
    }

    /// Stops accepting, lets in-flight responses finish (up to the configured grace), and records a clean stop.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        // Fills whose clients are answered may still be committing; their work is worth the wait.
        let deadline = Instant::now() + self.cache.config().timeouts.shutdown_grace;
        while self.cache.fills_in_flight() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(node) = &self.node {
            node.finish(self.cache.config().timeouts.shutdown_grace)
                .await;
        }
        // A stop is clean only if every slice this run trusts has been hashed: slices still unverified
        // since an earlier crash must be re-hashed by the next run too.
        let unverified = self.cache.index().unverified(1).len();
        if unverified == 0 {
            self.cache.store().mark_clean_shutdown();
            tracing::info!("terminal stopped cleanly");
        } else {
            tracing::warn!("terminal stopped with slices not yet re-hashed since a crash: the next start re-hashes them");
        }
    }
}

/// Every few seconds: free disk (and so admission) and the egress rate the heartbeat reports.
async fn sample(cache: Arc<cache::Cache>, mut shutdown: watch::Receiver<bool>) {
    const EVERY: Duration = Duration::from_secs(5);
    let mut last = cache.stats.bytes_out.load(Ordering::Relaxed);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown::stopped(&mut shutdown) => return,
        }
        let c = cache.clone();
        let _ = tokio::task::spawn_blocking(move || c.check_disk()).await;
        let now = cache.stats.bytes_out.load(Ordering::Relaxed);
        cache
            .stats
            .egress_rate
            .store((now - last) / EVERY.as_secs(), Ordering::Relaxed);
        last = now;
        cache.update_disk_gauges();
        // Histogram samples pile up in the recorder until drained; an unscraped terminal must not grow.
        telemetry::prometheus().run_upkeep();
    }
}
