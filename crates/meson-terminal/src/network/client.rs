//! The terminal's side of the control protocol: signed JSON requests to the router (see
//! [`meson_core::wire`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meson_core::identity::NodeKey;
use meson_core::signed::SignedMessage;
use meson_core::wire::{self, RouterInfo};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cache::unix_now;

/// Largest router reply read; a site list for thousands of sites fits many times over.
const MAX_REPLY: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("router {url} unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    /// The router answered with an error; `message` is its `{"error"}` text.
    #[error("router refused {path}: {status} {message}")]
    Refused {
        path: &'static str,
        status: StatusCode,
        message: String,
    },
    #[error("router sent an unreadable reply to {path}: {reason}")]
    BadReply { path: &'static str, reason: String },
}

impl CallError {
    /// The router no longer knows this terminal (it lost its registry, or never admitted it).
    pub fn not_admitted(&self) -> bool {
        matches!(self, CallError::Refused { status, .. } if *status == StatusCode::FORBIDDEN)
    }
}

pub struct RouterClient {
    base: String,
    key: Arc<NodeKey>,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl RouterClient {
    /// `base` is the router's URL (`http://host:port`); calls give up after `timeout`.
    pub fn new(base: &str, key: Arc<NodeKey>, timeout: Duration) -> Self {
        RouterClient {
            base: base.trim_end_matches('/').to_owned(),
            key,
            client: Client::builder(TokioExecutor::new())
                .build(meson_node::http::connector(timeout, false)),
            timeout,
        }
    }

    pub fn key(&self) -> &NodeKey {
        &self.key
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn info(&self) -> Result<RouterInfo, CallError> {
        self.send(Method::GET, wire::ROUTER_INFO_PATH, Bytes::new())
            .await
    }

    /// Signs `body` for `purpose` and POSTs it to `path`.
    pub async fn call<T: Serialize, R: DeserializeOwned>(
        &self,
        path: &'static str,
        purpose: &str,
        body: &T,
    ) -> Result<R, CallError> {
        let msg = SignedMessage::sign(&self.key, purpose, unix_now(), rand::random(), body)
            .map_err(|e| CallError::BadReply {
                path,
                reason: format!("cannot sign the request: {e}"),
            })?;
        let json = serde_json::to_vec(&msg).map_err(|e| CallError::BadReply {
            path,
            reason: format!("cannot encode the request: {e}"),
        })?;
        self.send(Method::POST, path, Bytes::from(json)).await
    }

    async fn send<R: DeserializeOwned>(
        &self,
        method: Method,
        path: &'static str,
        body: Bytes,
    ) -> Result<R, CallError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |reason: String| CallError::Unreachable {
            url: url.clone(),
            reason,
        };
        let req = Request::builder()
            .method(method)
            .uri(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::USER_AGENT,
                concat!("meson-terminal/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body))
            .map_err(|e| unreachable(e.to_string()))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| unreachable(crate::origin::error_chain(&e)))?;
            let status = resp.status();
            let bytes = http_body_util::Limited::new(resp.into_body(), MAX_REPLY)
                .collect()
                .await
                .map_err(|e| unreachable(e.to_string()))?
                .to_bytes();
            Ok::<_, CallError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))??;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_owned());
            return Err(CallError::Refused {
                path,
                status,
                message,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| CallError::BadReply {
            path,
            reason: e.to_string(),
        })
    }
}
