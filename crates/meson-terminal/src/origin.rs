//! Requests to the origin: one pooled HTTP/1.1 + HTTP/2 client for `http://` and `https://` origins, with
//! connect and read timeouts, and the header rewriting a gateway owes the origin (RFC 9110 §7.6).

use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::body::BoxError;

/// Why the origin could not give a response head.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error("origin unreachable: {0}")]
    Connect(String),
    #[error("origin did not answer within {0:?}")]
    Timeout(Duration),
    #[error("invalid origin request: {0}")]
    Request(String),
}

impl OriginError {
    /// The status a gateway answers with when it has nothing better (RFC 9110 §15.6.3, §15.6.5).
    pub fn status(&self) -> http::StatusCode {
        match self {
            OriginError::Timeout(_) => http::StatusCode::GATEWAY_TIMEOUT,
            _ => http::StatusCode::BAD_GATEWAY,
        }
    }
}

pub type RequestBody = BoxBody<Bytes, BoxError>;

#[derive(Clone)]
pub struct OriginClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, RequestBody>,
    origin: Uri,
    read_timeout: Duration,
    via: HeaderValue,
}

/// Fields that describe one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Removes hop-by-hop fields, including those the `Connection` field names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

impl OriginClient {
    pub fn new(origin: Uri, connect_timeout: Duration, read_timeout: Duration) -> Self {
        let https = meson_node::http::connector(connect_timeout, true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(https);
        Self {
            client,
            origin,
            read_timeout,
            via: HeaderValue::from_static("1.1 meson"),
        }
    }

    pub fn origin(&self) -> &Uri {
        &self.origin
    }

    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// Sends `method path_and_query` to the origin with the client's headers made fit to forward.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        client_headers: &HeaderMap,
        client_addr: Option<std::net::IpAddr>,
        body: RequestBody,
    ) -> Result<Response<Incoming>, OriginError> {
        let uri = format!(
            "{}://{}{}",
            self.origin.scheme_str().unwrap_or("http"),
            self.origin.authority().map(|a| a.as_str()).unwrap_or(""),
            path_and_query
        );
        let mut headers = client_headers.clone();
        strip_hop_by_hop(&mut headers);
        // The origin sees its own name, as a reverse proxy in front of one origin must send it.
        headers.remove(header::HOST);
        headers.append(header::VIA, self.via.clone());
        if let Some(ip) = client_addr {
            let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
                Some(prev) => format!("{prev}, {ip}"),
                None => ip.to_string(),
            };
            if let Ok(v) = HeaderValue::from_str(&xff) {
                headers.insert("x-forwarded-for", v);
            }
        }
        let mut req = Request::builder()
            .method(method)
            .uri(&uri)
            .body(body)
            .map_err(|e| OriginError::Request(e.to_string()))?;
        *req.headers_mut() = headers;
        match tokio::time::timeout(self.read_timeout, self.client.request(req)).await {
            Err(_) => Err(OriginError::Timeout(self.read_timeout)),
            Ok(Err(e)) => Err(OriginError::Connect(error_chain(&e))),
            Ok(Ok(resp)) => Ok(resp),
        }
    }
}

/// An empty request body.
pub fn empty_body() -> RequestBody {
    http_body_util::Empty::new().map_err(|e| match e {}).boxed()
}

/// An error and its causes on one line, for logs and error pages.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
