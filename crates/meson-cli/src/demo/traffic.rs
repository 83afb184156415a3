//! The demo's clients: each on its own 127.0.0.x address (so the router places it in a region), asking
//! the router for a file and following the redirect to a terminal, as `curl -L` would.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// What one terminal answered during the burst.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub requests: u64,
    pub hits: u64,
    pub bytes: u64,
}

pub struct Clients {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Clients {
    pub fn from(ip: IpAddr) -> Self {
        let mut conn = HttpConnector::new();
        conn.set_local_address(Some(ip));
        Clients {
            client: Client::builder(TokioExecutor::new()).build(conn),
        }
    }

    async fn get(&self, url: &str, host: Option<&str>) -> anyhow::Result<http::Response<Bytes>> {
        let mut req = http::Request::get(url);
        if let Some(h) = host {
            req = req.header(http::header::HOST, h);
        }
        let req = req.body(Empty::new()).context("building a request")?;
        let fut = async {
            let resp = self.client.request(req).await?;
            let (parts, body) = resp.into_parts();
            let bytes = body.collect().await?.to_bytes();
            Ok::<_, anyhow::Error>(http::Response::from_parts(parts, bytes))
        };
        tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .with_context(|| format!("GET {url}: no answer within 30 s"))?
            .with_context(|| format!("GET {url}"))
    }

    /// Asks the router for `path` on `site`, follows the redirect, and returns the terminal's base URL,
    /// its `X-Cache` and the body length.
    pub async fn fetch(
        &self,
        router: &str,
        site: &str,
        path: &str,
    ) -> anyhow::Result<(String, bool, usize)> {
        let redirect = self.get(&format!("{router}{path}"), Some(site)).await?;
        if redirect.status() != http::StatusCode::FOUND {
            bail!("the router answered {} for {path}", redirect.status());
        }
        let location = redirect
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .context("a redirect without Location")?
            .to_owned();
        let served = self.get(&location, None).await?;
        if !served.status().is_success() {
            bail!("{location} answered {}", served.status());
        }
        let hit = served
            .headers()
            .get("x-cache")
            .is_some_and(|v| v.as_bytes() == b"HIT");
        let terminal = location
            .splitn(4, '/')
            .take(3)
            .collect::<Vec<_>>()
            .join("/");
        Ok((terminal, hit, served.body().len()))
    }
}

/// Adds one answer to the per-terminal tallies.
pub fn count(tallies: &mut BTreeMap<String, Tally>, terminal: String, hit: bool, bytes: usize) {
    let t = tallies.entry(terminal).or_default();
    t.requests += 1;
    t.hits += u64::from(hit);
    t.bytes += bytes as u64;
}
