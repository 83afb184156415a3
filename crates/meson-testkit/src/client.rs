//! A plain HTTP client: one request per fresh connection, the whole response collected, every wait bounded.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

use crate::{b3, WAIT};

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Got {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    /// The header's value, "" when absent; panics on a value that is not visible ASCII.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .unwrap_or_else(|_| panic!("header {name} is not visible ASCII: {v:?}"))
            })
            .unwrap_or("")
    }

    pub fn x_cache(&self) -> &str {
        self.header("x-cache")
    }

    /// The body as JSON; a body that is not JSON comes back as a JSON string of its text, so that an
    /// assertion's message still shows what the server said.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&self.body).into_owned())
        })
    }
}

impl Got {
    /// The body read as the answer's type (the router's are in `meson_api`): a field missing, renamed
    /// or of another type fails here, naming the status and the body, instead of reading as null.
    pub fn parse<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: the body is not a {}: {e}: {}",
                self.status,
                std::any::type_name::<T>(),
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The reason of a refusal: the body must be an [`ErrorBody`](meson_core::wire::ErrorBody).
    pub fn error(&self) -> String {
        self.parse::<meson_core::wire::ErrorBody>().error
    }
}

pub type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// A new client (its own connection pool).
pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// One request on a fresh client, bounded by [`WAIT`]: a connection error, a reset, an aborted body or a
/// timeout is `Err`.
pub async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Got, String> {
    send(addr, method, path, headers, Bytes::new()).await
}

/// Like [`try_request`], but anything short of a complete response panics.
pub async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Got {
    try_request(addr, method, path, headers)
        .await
        .unwrap_or_else(|e| panic!("{method} {path} {headers:?}: {e}"))
}

pub async fn get(addr: SocketAddr, path: &str) -> Got {
    request(addr, "GET", path, &[]).await
}

/// GET `path`, which must answer `200` with a `T`.
pub async fn get_json<T: DeserializeOwned>(addr: SocketAddr, path: &str) -> T {
    let got = get(addr, path).await;
    assert_eq!(got.status, 200, "GET {path}: {:?}", got.json());
    got.parse()
}

/// GET with `Range: bytes=a-b`.
pub async fn get_range(addr: SocketAddr, path: &str, a: usize, b: usize) -> Got {
    request(addr, "GET", path, &[("range", &format!("bytes={a}-{b}"))]).await
}

/// The admin API token a terminal wrote to its data directory.
pub fn admin_token(data_dir: &Path) -> String {
    let path = data_dir.join("admin.token");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

/// A call on a terminal's admin listener with `token`, and `json` as the request body if given; anything short
/// of a complete response panics.
pub async fn admin_request(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    json: Option<serde_json::Value>,
) -> Got {
    json_request(addr, Some(token), method, path, json).await
}

/// A call with an optional bearer token and an optional JSON body; anything short of a complete
/// response panics.
pub async fn json_request(
    addr: SocketAddr,
    bearer: Option<&str>,
    method: &str,
    path: &str,
    json: Option<serde_json::Value>,
) -> Got {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    call(addr, method, path, &headers, json).await
}

/// A call with any headers and an optional JSON body (sent with its content type); anything short of a
/// complete response panics.
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    json: Option<serde_json::Value>,
) -> Got {
    let mut headers = headers.to_vec();
    let body = match json {
        Some(j) => {
            headers.push(("content-type", "application/json"));
            Bytes::from(j.to_string())
        }
        None => Bytes::new(),
    };
    send(addr, method, path, &headers, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A GET of an absolute `http://` URL from source address `from` (a 127.0.0.x address stands in for a
/// client somewhere), bounded by [`WAIT`].
pub async fn get_url_from(
    from: IpAddr,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<Got, String> {
    request_from(from, "GET", url, headers, Bytes::new()).await
}

/// `method url` with `body`, sent from the local address `from`.
pub async fn request_from(
    from: IpAddr,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Got, String> {
    let mut conn = HttpConnector::new();
    conn.set_local_address(Some(from));
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(conn);
    exchange(client, method, url.to_owned(), headers, body).await
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Got, String> {
    exchange(
        client(),
        method,
        format!("http://{addr}{path}"),
        headers,
        body,
    )
    .await
}

async fn exchange(
    client: Client,
    method: &str,
    url: String,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Got, String> {
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, HeaderValue::from_str(v).unwrap());
    }
    let req = req.body(Full::new(body)).unwrap();
    let fut = async move {
        let resp = client.request(req).await.map_err(|e| format!("{e:?}"))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e:?}"))?
            .to_bytes();
        Ok(Got {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| Err(format!("no complete response within {WAIT:?}")))
}

/// Asserts a full GET answered 200 with exactly `want`.
pub fn assert_full(got: &Got, path: &str, want: &[u8]) {
    assert_eq!(
        got.status,
        200,
        "GET {path}: status (x-cache {})",
        got.x_cache()
    );
    assert_eq!(
        got.body.len(),
        want.len(),
        "GET {path}: body length (x-cache {})",
        got.x_cache()
    );
    assert!(
        b3(&got.body) == b3(want),
        "GET {path}: body differs from the origin's (x-cache {}; first differing byte at {:?})",
        got.x_cache(),
        got.body.iter().zip(want).position(|(a, b)| a != b)
    );
}

/// Asserts a `bytes=a-b` GET answered 206 with exactly those bytes of `want`.
pub fn assert_range(got: &Got, path: &str, a: usize, b: usize, want: &[u8]) {
    assert_eq!(got.status, 206, "GET {path} bytes={a}-{b}: status");
    assert_eq!(
        got.header("content-range"),
        format!("bytes {a}-{b}/{}", want.len()),
        "GET {path} bytes={a}-{b}: Content-Range"
    );
    assert!(
        b3(&got.body) == b3(&want[a..=b]),
        "GET {path} bytes={a}-{b}: body differs from the origin's (x-cache {})",
        got.x_cache()
    );
}
