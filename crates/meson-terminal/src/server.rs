//! The client listeners: plain HTTP/1.1 and h2c, and TLS with ALPN (h2, http/1.1), with header limits,
//! slow-client timeouts, a request id on every request, and graceful shutdown.

use meson_core::keying::RID_PARAM;
use meson_core::wire::valid_request_id;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderValue, Request};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use meson_node::X_REQUEST_ID;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::cache::Cache;
use crate::config::Limits;

/// Loads a PEM certificate chain and private key into a TLS acceptor that offers h2 and http/1.1.
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<TlsAcceptor, crate::error::TerminalError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let tls_err = |what: &str, e: &dyn std::fmt::Display| {
        crate::error::TerminalError::Tls(format!("{what}: {e}"))
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls_err(&format!("reading {}", cert.display()), &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(&format!("parsing {}", cert.display()), &e))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| tls_err(&format!("reading {}", key.display()), &e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| tls_err("protocol versions", &e))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| tls_err("certificate and key", &e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn builder(limits: &Limits, header_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        // hyper answers 431 when the header section outgrows this buffer; it needs at least 8 KiB.
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.max_header_bytes as u32)
        .max_concurrent_streams(256);
    b
}

/// Accepts connections until `shutdown` turns true, then lets in-flight responses finish within the grace.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    cache: Arc<Cache>,
    mut shutdown: watch::Receiver<bool>,
) {
    let cfg = cache.config().clone();
    let builder = Arc::new(builder(&cfg.limits, cfg.timeouts.client_header));
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = crate::shutdown::stopped(&mut shutdown) => break,
        };
        let _ = stream.set_nodelay(true);
        let cache = cache.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let handshake_timeout = cfg.timeouts.client_header;
        tokio::spawn(async move {
            cache
                .stats
                .active_connections
                .fetch_add(1, Ordering::Relaxed);
            metrics::gauge!("meson_terminal_connections").increment(1.0);
            match tls {
                None => serve_conn(stream, peer, cache.clone(), &builder, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => serve_conn(s, peer, cache.clone(), &builder, watcher).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            cache
                .stats
                .active_connections
                .fetch_sub(1, Ordering::Relaxed);
            metrics::gauge!("meson_terminal_connections").decrement(1.0);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections finished"),
        _ = tokio::time::sleep(cfg.timeouts.shutdown_grace) => {
            tracing::warn!(grace = ?cfg.timeouts.shutdown_grace, "shutdown grace expired with connections open");
        }
    }
}

async fn serve_conn<S>(
    stream: S,
    peer: SocketAddr,
    cache: Arc<Cache>,
    builder: &auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: Request<Incoming>| {
        let cache = cache.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(cache, req, peer).await) }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(conn).await {
        log_connection_error(peer, &*e);
    }
}

/// hyper answers malformed and oversized requests (400, 431) and header timeouts (408) itself; this is
/// the log line that says so. Clients that simply hang up are not worth more than a debug line.
fn log_connection_error(peer: SocketAddr, e: &(dyn std::error::Error + 'static)) {
    let hyper_err = e.downcast_ref::<hyper::Error>();
    let reason = match hyper_err {
        Some(h) if h.is_parse_too_large() => {
            "request header section too large or too many fields: answered 431"
        }
        Some(h) if h.is_parse() => "malformed request: answered 400",
        Some(h) if h.is_timeout() => {
            "client too slow to send its request headers: connection closed"
        }
        _ => {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
            return;
        }
    };
    metrics::counter!("meson_terminal_bad_requests_total").increment(1);
    tracing::info!(%peer, error = %e, "{reason}");
}

/// Gives the request an id (the client's `X-Request-Id`, or the router's from the redirect, when it is a
/// sane one), a span, and timing.
async fn handle(
    cache: Arc<Cache>,
    mut req: Request<Incoming>,
    peer: SocketAddr,
) -> http::Response<crate::body::ResponseBody> {
    // The router's id travels in the redirect URL, since a header cannot follow a redirect.
    let from_router = meson_core::keying::param(req.uri().query(), RID_PARAM);
    let id = req
        .headers()
        .get(X_REQUEST_ID)
        .map(HeaderValue::as_bytes)
        .or(from_router.map(str::as_bytes))
        .filter(|v| valid_request_id(v))
        .and_then(|v| HeaderValue::from_bytes(v).ok())
        .unwrap_or_else(|| HeaderValue::from_str(&new_request_id()).expect("hex"));
    req.headers_mut().insert(X_REQUEST_ID, id.clone());
    let span = tracing::info_span!("request", id = %id.to_str().unwrap_or(""), method = %req.method(), path = %req.uri().path(), client = %peer.ip());
    let start = Instant::now();
    cache.stats.requests.fetch_add(1, Ordering::Relaxed);
    let mut resp = crate::proxy::handle(&cache, req, Some(peer.ip()))
        .instrument(span.clone())
        .await;
    let elapsed = start.elapsed();
    crate::telemetry::request_metrics()
        .duration
        .record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::debug!(status = resp.status().as_u16(), cache = ?resp.headers().get(crate::proxy::X_CACHE), ms = elapsed.as_secs_f64() * 1e3, "served")
    });
    resp.headers_mut().insert(X_REQUEST_ID, id);
    resp
}

fn new_request_id() -> String {
    let bytes: [u8; 8] = rand::random();
    hex::encode(bytes)
}
