//! The process-wide Prometheus recorder behind every `metrics::` call, rendered at `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::proxy::CacheStatus;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder on first use; later calls (more servers in one process) share it.
pub fn prometheus() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("duration_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ],
            )
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding program's); ours then only renders.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
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
