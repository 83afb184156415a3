//! The terminal's hot-path metric handles; the recorder itself is the process-wide one of
//! `meson-telemetry`.

use std::sync::OnceLock;

pub use meson_telemetry::prometheus;

use crate::proxy::CacheStatus;

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
