//! One way to build the outbound HTTP(S) connector, so the terminal's origin and router clients and the
//! router's health probes agree on TLS roots and timeouts.

use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// `http://` and `https://` (webpki roots), with a TCP connect timeout and `TCP_NODELAY`; HTTP/2 is
/// offered by ALPN only when `http2`.
pub fn connector(connect_timeout: Duration, http2: bool) -> HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let builder = HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1();
    if http2 {
        builder.enable_http2().wrap_connector(http)
    } else {
        builder.wrap_connector(http)
    }
}
