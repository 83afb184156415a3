//! The terminal's resolved configuration. The CLI merges flags, environment and a TOML file into this.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use meson_core::eviction::PolicyKind;
use meson_core::http_cache::CacheSettings;

/// How hard the store pushes committed objects to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// fsync the body and outboard before the rename that commits them, and the directory after: an object
    /// that is visible after a power loss is complete. Costs one or two disk flushes per fill.
    Always,
    /// Rely on the kernel's write-back. A process crash (`kill -9`) loses nothing committed; a power loss may
    /// leave a committed file short or zeroed, which the start-up check and the scrub then find and delete.
    Never,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            other => Err(format!(
                "unknown fsync policy {other:?} (use always or never)"
            )),
        }
    }
}

/// What an idle connection, a slow client or a slow origin may cost before it is cut off.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// Time allowed to receive a request's header section (slowloris guard; also the keep-alive idle limit).
    pub client_header: Duration,
    /// Time a client may take to accept one chunk of a response before the connection is dropped.
    pub client_write: Duration,
    /// TCP (and TLS) connect to the origin.
    pub origin_connect: Duration,
    /// From sending the request to the origin's response head, and between two body chunks from it.
    pub origin_read: Duration,
    /// How long in-flight responses may run after SIGTERM before the terminal exits anyway.
    pub shutdown_grace: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            client_header: Duration::from_secs(10),
            client_write: Duration::from_secs(30),
            origin_connect: Duration::from_secs(5),
            origin_read: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Caps on what a client may send.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request header section in bytes (HTTP/1.1 read buffer; HTTP/2 header list size). Larger: 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request. More: 431.
    pub max_headers: usize,
    /// Largest object the cache stores; larger responses are passed through uncached.
    pub max_object_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            max_object_size: 64 << 30,
        }
    }
}

/// TLS for the client listener: PEM files; ALPN offers h2 and http/1.1.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub listen: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything a terminal needs to run.
#[derive(Debug, Clone)]
pub struct TerminalConfig {
    /// The origin every request is filled from (`http://` or `https://`, no path).
    pub origin: http::Uri,
    pub listen: SocketAddr,
    pub tls: Option<TlsConfig>,
    pub admin_listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Byte budget for cached bodies.
    pub capacity: u64,
    /// Objects larger than this are fetched and stored in slices of this size. In network mode it must
    /// stay the network's ([`meson_core::content::SLICE_SIZE`], the default): audits name slices by the roots
    /// the router computes at that size.
    pub slice_size: u64,
    /// Stop admitting new objects while the data directory's file system has less free space than this.
    pub min_free_disk: u64,
    pub policy: PolicyKind,
    pub fsync: FsyncPolicy,
    /// Bytes per second the background scrub re-hashes; 0 turns it off.
    pub scrub_rate: u64,
    /// Memory for hot small bodies (each at most 64 KiB), served without touching the disk; 0 turns it off.
    pub memory_cache: u64,
    pub cache: CacheSettings,
    pub timeouts: Timeouts,
    pub limits: Limits,
}

impl TerminalConfig {
    /// A configuration with the documented defaults for `origin` and `data_dir`.
    pub fn new(origin: http::Uri, data_dir: PathBuf) -> Self {
        Self {
            origin,
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            tls: None,
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9080)),
            data_dir,
            capacity: 50 << 30,
            slice_size: meson_core::content::SLICE_SIZE,
            min_free_disk: 1 << 30,
            policy: PolicyKind::DEFAULT,
            fsync: FsyncPolicy::Always,
            scrub_rate: 8 << 20,
            memory_cache: 8 << 20,
            cache: CacheSettings::default(),
            timeouts: Timeouts::default(),
            limits: Limits::default(),
        }
    }
}
