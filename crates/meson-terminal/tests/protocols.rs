//! HTTP/2 over TLS (ALPN), HTTP/1.1 over TLS, h2c, keep-alive, and graceful shutdown.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use meson_terminal::config::TlsConfig;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn tls_client(cert: &rcgen::Certificate, alpn: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![alpn.to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

#[tokio::test]
async fn h2_and_http1_over_tls_by_alpn() {
    let origin = Origin::start().await;
    origin.set(
        "/tls",
        Resource::new("secure", &[("cache-control", "max-age=60")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), key.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.signing_key.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let mut cfg = config(&origin, &data);
    cfg.tls = Some(TlsConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    });
    let t = terminal(cfg).await;
    let tls_addr = t.tls_addr.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();

    // h2
    let tcp = TcpStream::connect(tls_addr).await.unwrap();
    let tls = tls_client(&key.cert, b"h2")
        .connect(name.clone(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    for want in ["MISS", "HIT"] {
        let req = http::Request::get("https://localhost/tls")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = send.send_request(req).await.unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(resp.headers()["x-cache"], want);
        assert_eq!(
            &resp.into_body().collect().await.unwrap().to_bytes()[..],
            b"secure"
        );
    }

    // http/1.1
    let tcp = TcpStream::connect(tls_addr).await.unwrap();
    let tls = tls_client(&key.cert, b"http/1.1")
        .connect(name, tcp)
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get("/tls")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(
        (resp.version(), resp.headers()["x-cache"].to_str().unwrap()),
        (http::Version::HTTP_11, "HIT")
    );
    assert_eq!(origin.hits("/tls"), 1);
    t.shutdown().await;
}

#[tokio::test]
async fn h2c_with_prior_knowledge_and_keep_alive() {
    let origin = Origin::start().await;
    origin.set(
        "/k",
        Resource::new("kept", &[("cache-control", "max-age=60")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;

    let tcp = TcpStream::connect(t.addr).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(format!("http://{}/k", t.addr))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);

    // Two requests on one HTTP/1.1 connection.
    let mut s = TcpStream::connect(t.addr).await.unwrap();
    s.write_all(b"GET /k HTTP/1.1\r\nhost: x\r\n\r\nGET /k HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert_eq!(out.matches("kept").count(), 2);
    t.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_in_flight_responses() {
    let origin = Origin::start().await;
    let body = pattern(2 << 20, 4);
    origin.set(
        "/slow",
        Resource::new(body.clone(), &[("cache-control", "max-age=60")])
            .pace(64 * 1024, Duration::from_millis(20)),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    let addr = t.addr;
    let download = tokio::spawn(async move { try_request(addr, "GET", "/slow", &[]).await });
    // In flight: the first body bytes have gone out, and the origin's pacing leaves most still to send.
    eventually("the response is streaming", || {
        t.cache.stats.bytes_out.load(Ordering::Relaxed) > 0
    })
    .await;
    t.shutdown().await;
    let got = download
        .await
        .unwrap()
        .expect("the in-flight response completed");
    assert_eq!(blake3::hash(&got.body), blake3::hash(&body));
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
}
