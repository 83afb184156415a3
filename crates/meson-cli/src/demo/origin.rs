//! The demo's origin: a small site of generated files with the caching headers a real site would send.

use std::net::SocketAddr;

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Files `/files/0.bin` … `/files/{FILES-1}.bin`.
pub const FILES: u64 = 24;

/// File `n` is `(n + 1) * 16 KiB` (16 KiB to 384 KiB) of bytes that depend on `n` and the offset.
pub fn file_len(n: u64) -> usize {
    ((n + 1) * 16 * 1024) as usize
}

fn file_body(n: u64) -> Vec<u8> {
    (0..file_len(n))
        .map(|i| (i as u64).wrapping_mul(31).wrapping_add(n * 7) as u8)
        .collect()
}

async fn index() -> Response {
    let mut html = String::from(
        "<!doctype html><title>Meson CDN demo</title><h1>Meson CDN demo origin</h1><ul>",
    );
    for n in 0..FILES {
        html.push_str(&format!(
            "<li><a href=\"/files/{n}.bin\">/files/{n}.bin</a> ({} bytes)</li>",
            file_len(n)
        ));
    }
    html.push_str("</ul>");
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        html,
    )
        .into_response()
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(n) = name
        .strip_suffix(".bin")
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n < FILES)
    else {
        return (StatusCode::NOT_FOUND, "no such file\n").into_response();
    };
    let etag = format!("\"demo-{n}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CACHE_CONTROL, "public, max-age=3600".to_owned()),
            (header::ETAG, etag),
        ],
        file_body(n),
    )
        .into_response()
}

/// Serves the origin on `addr` until `stop`.
pub async fn start(
    addr: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/", get(index))
        .route("/files/{name}", get(file));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    });
    Ok((bound, task))
}
