//! The process-wide Prometheus recorder behind every `metrics::` call, rendered at each server's
//! `/metrics`. One recorder per process, shared by whatever servers run in it (a router and terminals in
//! one demo process, several terminals in one test), because `metrics` has a single global recorder.

use std::sync::OnceLock;

use http::header::{HeaderName, CONTENT_TYPE};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder on first use; later calls share it.
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

/// The body of a `/metrics` answer, with its content type: usable as an axum handler as it is.
pub async fn metrics_text() -> ([(HeaderName, &'static str); 1], String) {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus().render(),
    )
}
