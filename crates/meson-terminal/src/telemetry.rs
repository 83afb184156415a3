//! The terminal's counters: the live ones the heartbeat reports, how each response was produced, and
//! the hot-path metric handles. The recorder itself is the process-wide one of `meson-telemetry`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

pub use meson_telemetry::prometheus;

/// How a response was produced, reported in `X-Cache` and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    Stale,
    Revalidated,
    Bypass,
}

impl CacheStatus {
    pub const ALL: [CacheStatus; 5] = [
        CacheStatus::Hit,
        CacheStatus::Miss,
        CacheStatus::Stale,
        CacheStatus::Revalidated,
        CacheStatus::Bypass,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
            CacheStatus::Stale => "STALE",
            CacheStatus::Revalidated => "REVALIDATED",
            CacheStatus::Bypass => "BYPASS",
        }
    }
}

/// Live counters the heartbeat reports; the same events also go to the Prometheus metrics.
#[derive(Debug, Default)]
pub struct Stats {
    pub bytes_out: AtomicU64,
    pub active_connections: AtomicU64,
    pub requests: AtomicU64,
    /// Bytes per second sent to clients over the last sampling interval.
    pub egress_rate: AtomicU64,
}

impl Stats {
    /// Counts bytes sent to clients, for the metrics and the heartbeat's egress rate.
    pub fn count_out(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        request_metrics().bytes_out.increment(n as u64);
    }
}

/// Handles for the metrics every request touches, registered once: looking a metric up by name and
/// labels on each request costs more than the increment itself.
pub struct RequestMetrics {
    /// Indexed by [`CacheStatus`] (`status as usize`).
    pub requests: [metrics::Counter; 5],
    pub bytes_out: metrics::Counter,
    pub duration: metrics::Histogram,
}

static REQUEST_METRICS: OnceLock<RequestMetrics> = OnceLock::new();

pub fn request_metrics() -> &'static RequestMetrics {
    REQUEST_METRICS.get_or_init(|| {
        // Handles bind to the recorder installed when they are made: install ours first.
        prometheus();
        RequestMetrics {
            requests: CacheStatus::ALL
                .map(|s| metrics::counter!("meson_terminal_requests_total", "cache" => s.as_str())),
            bytes_out: metrics::counter!("meson_terminal_bytes_out_total"),
            duration: metrics::histogram!("meson_terminal_request_duration_seconds"),
        }
    })
}
