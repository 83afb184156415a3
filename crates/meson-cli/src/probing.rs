//! Fetching as a client does, for hunters and council members alike: from a chosen source address, the
//! router's `302` followed by hand to the terminal it names, and each fetch from a terminal recorded as
//! a [`Probe`] by [`probe::outcome_of`], so that both record exactly alike and the router, the council
//! and `meson-cdn claim verify` judge the same bytes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meson_api::terminals::TerminalList;
use meson_api::ErrorBody;
use meson_core::evidence::KnownObject;
use meson_core::identity::NodeId;
use meson_core::probe::{self, Outcome, Probe};
use meson_core::served::SERVED_HEADER;
use meson_core::signed::SignedMessage;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::get;

/// The most of a body read from a terminal: objects past it are not hunted (a record keeps bodies of
/// up to [`probe::MAX_RECORDED_BODY`] verbatim, so larger ones could not be checked anyway).
const MAX_BODY: usize = 64 << 20;

/// An HTTP client bound to one source address, which follows no redirect by itself.
pub(crate) struct Prober {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

/// A response as fetched.
struct Fetched {
    status: u16,
    location: Option<String>,
    served: Option<String>,
    body: Bytes,
}

impl Prober {
    /// A client whose connections leave from `source` (any address when None).
    pub fn new(source: Option<IpAddr>, timeout: Duration) -> Prober {
        let mut connector = HttpConnector::new();
        connector.set_local_address(source);
        connector.set_connect_timeout(Some(timeout));
        Prober {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Fetched, String> {
        let mut req = http::Request::builder().method(method).uri(url);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("building the request: {e}"))?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                // The connector's reason (refused, reset, unreachable) is in the error's source.
                let mut why = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    why = format!("{why}: {s}");
                    source = s.source();
                }
                why
            })?;
            let status = resp.status().as_u16();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let (location, served) = (header("location"), header(SERVED_HEADER));
            let body = Limited::new(resp.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("reading the body: {e}"))?
                .to_bytes();
            Ok(Fetched {
                status,
                location,
                served,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {:?}", self.timeout)))
    }

    /// The router's `302` for `path` of `host`, as a client at this prober's address gets it: the
    /// terminal's URL with its ticket.
    pub async fn redirect(&self, router: &str, host: &str, path: &str) -> Result<String, String> {
        let url = format!("{}/s/{host}{path}", router.trim_end_matches('/'));
        let got = self.send("GET", &url, None).await?;
        match (got.status, got.location) {
            (302, Some(location)) => Ok(location),
            (status, _) => Err(format!(
                "the router answered {status} instead of a redirect: {}",
                String::from_utf8_lossy(&got.body).trim()
            )),
        }
    }

    /// Fetches `url` from `terminal` and records what came back.
    pub async fn probe(&self, terminal: NodeId, url: &str) -> Probe {
        let at = meson_node::unix_now();
        let started = Instant::now();
        let outcome = match self.send("GET", url, None).await {
            Ok(got) => probe::outcome_of(got.status, got.served.as_deref(), &got.body),
            Err(error) => Outcome::Failed { error },
        };
        Probe {
            terminal,
            at,
            url: url.to_owned(),
            latency_ms: started.elapsed().as_millis() as u64,
            outcome,
        }
    }

    /// `POST` of `body` to the router from this prober's address (a request whose answer depends on it,
    /// such as a ticket for re-probing), the answer read as `T`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        router: &str,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", router.trim_end_matches('/'));
        let got = self
            .send("POST", &url, Some(serde_json::to_vec(body)?))
            .await
            .map_err(|e| anyhow::anyhow!("POST {url}: {e}"))?;
        if !(200..300).contains(&got.status) {
            let reason = serde_json::from_slice::<ErrorBody>(&got.body)
                .map(|e| e.error)
                .unwrap_or_else(|_| "no reason given".to_owned());
            bail!("POST {url} refused: {}: {reason}", got.status);
        }
        serde_json::from_slice(&got.body).with_context(|| format!("the answer of POST {url}"))
    }
}

/// The router's terminals by public URL, to name the terminal a `302` sends a prober to.
#[derive(Default)]
pub(crate) struct Directory(HashMap<String, NodeId>);

impl Directory {
    pub async fn fetch(router: &str) -> anyhow::Result<Directory> {
        let list: TerminalList = get(router, "/v1/terminals", None).await?;
        Ok(Directory(
            list.terminals
                .into_iter()
                .filter_map(|t| {
                    let node = t.node_id.parse().ok()?;
                    Some((t.public_url.trim_end_matches('/').to_owned(), node))
                })
                .collect(),
        ))
    }

    /// The terminal whose public URL `location` is under.
    pub fn terminal_of(&self, location: &str) -> Option<NodeId> {
        self.0
            .iter()
            .find(|(url, _)| {
                location
                    .strip_prefix(url.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            })
            .map(|(_, node)| *node)
    }
}

/// The router's signed statement of `path` of `host` (`GET /v1/sites/{host}/known`), if it knows it.
pub(crate) async fn known(
    router: &str,
    host: &str,
    path: &str,
) -> Option<SignedMessage<KnownObject>> {
    let value: String = path
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    get(
        router,
        &format!("/v1/sites/{host}/known?path={value}"),
        None,
    )
    .await
    .ok()
}
