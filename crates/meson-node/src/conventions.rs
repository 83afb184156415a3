//! Names every Meson server answers to the same way, so probes, dashboards and log searches need one
//! spelling.

use http::HeaderName;

/// Liveness: `200` while the process serves.
pub const HEALTH_PATH: &str = "/healthz";

/// Prometheus text, see `meson_telemetry::metrics_text`.
pub const METRICS_PATH: &str = "/metrics";

/// The request id a client may send, kept when valid and echoed back, and logged with the request.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
