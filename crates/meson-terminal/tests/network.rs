//! A network-mode terminal joined to a real router signs what it serves: the `meson-served` header of a
//! response under a ticket verifies under the terminal's key, names the object's roots, and makes a
//! probe of it good. A single-origin terminal adds none.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use meson_core::content::{object_roots, SLICE_SIZE};
use meson_core::identity::NodeId;
use meson_core::probe::{self, Probe, ProbeVerdict};
use meson_core::served::{self, Served, SERVED, SERVED_HEADER};
use meson_core::ticket::object_digest;
use meson_router::{Router, RouterConfig};
use meson_terminal::network::sites::TicketPolicy;
use meson_terminal::network::NetworkConfig;
use meson_terminal::Terminal;
use support::*;

const SITE: &str = "cdn.example.com";
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Net {
    router: Router,
    origin: Origin,
    terminal: Terminal,
    site: u64,
    _dirs: [tempfile::TempDir; 2],
}

/// A router with the site in front of a real origin, and one network-mode terminal in its rotation.
async fn network() -> Net {
    let origin = Origin::start().await;
    let rdir = tempfile::tempdir().unwrap();
    let mut cfg = RouterConfig::new("127.0.0.1:0".parse().unwrap(), rdir.path());
    cfg.heartbeat = Duration::from_secs(1);
    cfg.probe_timeout = Duration::from_millis(500);
    let router = Router::start(cfg).await.expect("router starts");
    let account = call(
        router.addr,
        "POST",
        "/v1/accounts",
        &[],
        Some(serde_json::json!({"name": "acme"})),
    )
    .await;
    let key = account.json()["api_key"].as_str().unwrap().to_owned();
    let site = call(
        router.addr,
        "POST",
        "/v1/sites",
        &[("authorization", &format!("Bearer {key}"))],
        Some(serde_json::json!({"host": SITE, "origin": origin.url()})),
    )
    .await;
    assert_eq!(site.status, 201, "{:?}", site.json());
    let site = site.json()["id"].as_u64().unwrap();
    let tdir = tempfile::tempdir().unwrap();
    let net = NetworkConfig {
        router: format!("http://{}", router.addr),
        public_url: None,
        region: None,
        lat: None,
        lon: None,
        ticket_policy: TicketPolicy::Refuse,
        call_timeout: Duration::from_secs(5),
    };
    let terminal = Terminal::start_network(config(&origin, tdir.path()), net)
        .await
        .expect("terminal starts");
    eventually_async("the terminal is in rotation", || async {
        let list = get(router.addr, "/v1/terminals").await.json();
        list["terminals"][0]["in_rotation"] == true
    })
    .await;
    Net {
        router,
        origin,
        terminal,
        site,
        _dirs: [rdir, tdir],
    }
}

impl Net {
    /// Puts `len` bytes at `path` on the origin, cacheable, with a strong `etag`; the body.
    fn publish(&self, path: &str, len: usize, etag: &str) -> bytes::Bytes {
        let body = pattern(len, len as u64);
        let headers = [("cache-control", "max-age=600"), ("etag", etag)];
        self.origin.set(path, Resource::new(body.clone(), &headers));
        body
    }

    /// Where the router sends a client for `path`: the terminal's URL with a fresh ticket.
    async fn location(&self, path: &str) -> String {
        let url = format!("http://{}{path}", self.router.addr);
        let r = get_url_from(CLIENT, &url, &[("host", SITE)]).await.unwrap();
        assert_eq!(r.status, 302, "{:?}", r.body);
        r.header("location").to_owned()
    }

    /// `method` of `path` on the terminal under a fresh ticket, as a client sent by the router.
    async fn fetch(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> (String, Got) {
        let location = self.location(path).await;
        let on_terminal = location
            .split_once(&self.terminal.addr.to_string())
            .map(|(_, p)| p.to_owned())
            .unwrap_or_else(|| panic!("{location} is not the terminal"));
        let got = request(self.terminal.addr, method, &on_terminal, headers).await;
        (location, got)
    }

    /// The first ticketed `method` of `path` that carries a claim, once the terminal has made it.
    async fn claimed(&self, method: &str, path: &str) -> (String, Got) {
        let found = std::sync::Mutex::new(None);
        let found = &found;
        eventually_async(&format!("a claim on {path}"), || async move {
            let (location, got) = self.fetch(method, path, &[]).await;
            assert_eq!(got.status, 200);
            let claimed = got.headers.contains_key(SERVED_HEADER);
            *found.lock().unwrap() = claimed.then_some((location, got));
            claimed
        })
        .await;
        let claimed = found.lock().unwrap().take();
        claimed.unwrap()
    }

    fn node(&self) -> String {
        let node = self.terminal.node.as_ref().unwrap();
        node.standing(&self.terminal.cache).node_id
    }

    /// The object's claim as the terminal should sign it.
    fn expected(&self, path: &str, version: &str, body: &[u8]) -> Served {
        let key = meson_core::keying::cache_key(SITE, path);
        Served::new(
            self.site,
            hex::encode(object_digest(key.as_bytes())),
            Some(version.into()),
            object_roots(body),
        )
    }
}

/// The claim a response carries, checked to be signed by `node`.
fn claim_of(got: &Got, node: &str) -> Served {
    let m = served::from_header(got.header(SERVED_HEADER)).expect("a claim");
    let v = m.verify_signature(SERVED).expect("signed");
    assert_eq!(v.signer.to_string(), node);
    v.body
}

#[tokio::test]
async fn a_ticketed_response_carries_the_terminals_claim_on_the_objects_roots() {
    let net = network().await;
    let etag = "\"v1\"";
    let body = net.publish("/a.bin", 100_000, etag);
    let (location, got) = net.claimed("GET", "/a.bin").await;
    assert_eq!(got.body, body);
    let node = net.node();
    assert_eq!(claim_of(&got, &node), net.expected("/a.bin", etag, &body));

    // Signed once: a HEAD and a range repeat the very claim.
    let (_, head) = net.fetch("HEAD", "/a.bin", &[]).await;
    let (_, part) = net
        .fetch("GET", "/a.bin", &[("range", "bytes=10-99")])
        .await;
    assert_eq!((head.status, part.status), (200, 206));
    for r in [&head, &part] {
        assert_eq!(r.header(SERVED_HEADER), got.header(SERVED_HEADER));
    }

    // What a hunter records of the response is judged good against the router's key.
    let router: NodeId = get(net.router.addr, "/v1/router").await.json()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let p = Probe {
        terminal: node.parse().unwrap(),
        at: unix_now(),
        url: location,
        latency_ms: 1,
        outcome: probe::outcome_of(200, Some(got.header(SERVED_HEADER)), &got.body),
    };
    assert_eq!(probe::judge_probe(&p, &router, None), ProbeVerdict::Good);
    net.terminal.shutdown().await;
}

#[tokio::test]
async fn a_sliced_object_is_claimed_once_its_roots_are_computed() {
    let net = network().await;
    let etag = "\"big\"";
    let body = net.publish("/big.bin", 2 * SLICE_SIZE as usize + 1_000, etag);
    // The client's GET fills every slice; the roots are computed after, in the background.
    let (_, whole) = net.fetch("GET", "/big.bin", &[]).await;
    assert_eq!(whole.body, body);
    let (_, got) = net.claimed("HEAD", "/big.bin").await;
    let claim = claim_of(&got, &net.node());
    assert_eq!(claim.slice_roots.len(), 3);
    assert_eq!(claim, net.expected("/big.bin", etag, &body));
    net.terminal.shutdown().await;
}

#[tokio::test]
async fn a_single_origin_terminal_claims_nothing_and_passes_on_no_origins_claim() {
    let origin = Origin::start().await;
    origin.set(
        "/a.bin",
        Resource::new(
            pattern(5_000, 1),
            &[
                ("cache-control", "max-age=600"),
                ("etag", "\"v1\""),
                (SERVED_HEADER, "not-this-terminals"),
            ],
        ),
    );
    origin.set(
        "/private",
        Resource::new(
            "mine",
            &[("cache-control", "no-store"), (SERVED_HEADER, "x")],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    for (path, x) in [
        ("/a.bin", "MISS"),
        ("/a.bin", "HIT"),
        ("/private", "BYPASS"),
    ] {
        let r = get(t.addr, path).await;
        assert_eq!((r.status, r.x_cache()), (200, x));
        assert!(!r.headers.contains_key(SERVED_HEADER), "{path} {x}");
    }
    t.shutdown().await;
}
