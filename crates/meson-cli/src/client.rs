//! JSON requests to a Meson server (the router's API, or a terminal's admin API). Answers are read into
//! the endpoint's type (the router's are in [`meson_api`]): a 2xx answer that does not match is an error
//! naming the endpoint, never a default value; a non-2xx answer is an error carrying the server's reason.

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meson_api::ErrorBody;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The runtime a client command runs on: one thread is plenty for a command's few requests.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// `GET path`, read as `T`.
pub(crate) async fn get<T: DeserializeOwned>(
    server: &str,
    path: &str,
    key: Option<&str>,
) -> anyhow::Result<T> {
    let bytes = exchange(server, "GET", path, key, None).await?;
    read("GET", path, &bytes)
}

/// `GET path`, the answer's bytes as they came (for a signed or hashed document, which must not be
/// re-encoded).
pub(crate) async fn get_bytes(server: &str, path: &str) -> anyhow::Result<Bytes> {
    exchange(server, "GET", path, None, None).await
}

/// `POST path` with `body` as JSON, the answer read as `T`.
pub(crate) async fn post<T: DeserializeOwned>(
    server: &str,
    path: &str,
    key: Option<&str>,
    body: &impl Serialize,
) -> anyhow::Result<T> {
    let body = serde_json::to_vec(body).context("encoding the request")?;
    let bytes = exchange(server, "POST", path, key, Some(body)).await?;
    read("POST", path, &bytes)
}

/// `DELETE path`; the answer has no body.
pub(crate) async fn delete(server: &str, path: &str, key: Option<&str>) -> anyhow::Result<()> {
    exchange(server, "DELETE", path, key, None).await?;
    Ok(())
}

fn read<T: DeserializeOwned>(method: &str, path: &str, bytes: &[u8]) -> anyhow::Result<T> {
    // The query is not part of the endpoint's name.
    let endpoint = path.split('?').next().unwrap_or(path);
    serde_json::from_slice(bytes).with_context(|| {
        format!(
            "{method} {endpoint} answered with a body that is not a {}",
            std::any::type_name::<T>()
        )
    })
}

/// Sends the request; the body of a 2xx answer, or an error with the server's reason.
async fn exchange(
    server: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Vec<u8>>,
) -> anyhow::Result<Bytes> {
    let uri = format!("{}{path}", server.trim_end_matches('/'));
    let mut req = http::Request::builder().method(method).uri(&uri);
    if let Some(key) = key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Bytes::from(b)
        }
        None => Bytes::new(),
    };
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let resp = client
        .request(req.body(Full::new(body)).context("building the request")?)
        .await
        .with_context(|| format!("{method} {uri}"))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .with_context(|| format!("reading the answer of {uri}"))?
        .to_bytes();
    if !status.is_success() {
        let reason = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| "no reason given".to_owned());
        bail!("{method} {uri} refused: {status}: {reason}");
    }
    Ok(bytes)
}
