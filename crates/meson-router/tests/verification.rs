//! What the router verifies, end to end on real servers: object sizes and roots it learns from the origin
//! or the site's owner (never from terminals), usage judged against them, spot-check audits of real
//! terminals, and the evidence it keeps.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use meson_core::content::object_roots;
use meson_terminal::network::sites::TicketPolicy;
use meson_terminal::Terminal;
use meson_testkit::{get_url_from, pattern, Origin, Resource};
use serde_json::{json, Value};

const SITE: &str = "cdn.verify.example";

struct Net {
    _dir: tempfile::TempDir,
    router: meson_router::Router,
    origin: Origin,
    key: String,
}

impl Net {
    fn addr(&self) -> SocketAddr {
        self.router.addr
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.key)
    }

    /// What the router knows of the site's objects, by keyed path.
    async fn known(&self) -> Vec<Value> {
        let got = call(
            self.addr(),
            "GET",
            &format!("/v1/sites/{SITE}/roots"),
            &[("authorization", &self.auth())],
            None,
        )
        .await;
        assert_eq!(got.status, 200, "{:?}", got.json());
        got.json()["objects"].as_array().unwrap().clone()
    }

    async fn known_path(&self, path: &str) -> Option<Value> {
        self.known().await.into_iter().find(|o| o["path"] == path)
    }

    async fn push_roots(&self, body: Value) -> meson_testkit::Got {
        call(
            self.addr(),
            "POST",
            &format!("/v1/sites/{SITE}/roots"),
            &[("authorization", &self.auth())],
            Some(body),
        )
        .await
    }
}

async fn network(tweak: impl FnOnce(&mut meson_router::RouterConfig)) -> Net {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |c| {
        c.heartbeat = Duration::from_secs(1);
        c.ticket_lifetime_secs = 2;
        tweak(c);
    })
    .await;
    let origin = Origin::start().await;
    let key = account(router.addr).await;
    let site = add_site_for(router.addr, &key, SITE, &origin.url(), "keep").await;
    assert_eq!(site.status, 201, "{:?}", site.json());
    Net {
        _dir: dir,
        router,
        origin,
        key,
    }
}

async fn joined(router: SocketAddr, dir: &std::path::Path) -> Terminal {
    let t = network_terminal(router, "127.0.0.1", dir, TicketPolicy::Refuse).await;
    eventually("the terminal joined with the site", || async {
        let s = standing(&t).await;
        s["registered"] == true && s["sites"] == 1
    })
    .await;
    t
}

/// A client asks the router for `path` and follows the redirect to the terminal.
async fn fetch(router: SocketAddr, path: &str, headers: &[(&str, &str)]) -> meson_testkit::Got {
    let mut h = vec![("host", SITE)];
    h.extend_from_slice(headers);
    let redirect = get_url_from(ip("127.0.0.1"), &format!("http://{router}{path}"), &h)
        .await
        .unwrap();
    assert_eq!(redirect.status, 302, "{:?}", redirect.body);
    let location = redirect.header("location").to_owned();
    get_url_from(ip("127.0.0.1"), &location, headers)
        .await
        .unwrap()
}

/// The slice roots a terminal stored, by key path, from its admin API.
async fn stored_roots(t: &Terminal) -> Vec<(String, Vec<String>)> {
    let token = meson_testkit::admin_token(&t.cache.config().data_dir);
    let got =
        meson_testkit::admin_request(t.admin_addr, &token, "GET", "/v1/admin/objects", None).await;
    assert_eq!(got.status, 200);
    got.json()["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let key = o["key"].as_str().unwrap();
            let roots = o["slices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["root"].as_str().unwrap().to_owned())
                .collect();
            (key[SITE.len()..].to_owned(), roots)
        })
        .collect()
}

#[tokio::test]
async fn the_router_learns_roots_from_the_origin_that_equal_the_terminals() {
    let net = network(|_| {}).await;
    let small = pattern(3000, 1);
    // Three network slices, the last one short: the terminal stores it in slices when asked for a range.
    let big = pattern(2 * (4 << 20) + 5000, 2);
    net.origin
        .set("/small.txt", Resource::cacheable(small.clone()));
    net.origin.set("/big.bin", Resource::cacheable(big.clone()));
    let tdir = tempfile::tempdir().unwrap();
    let t = joined(net.addr(), tdir.path()).await;

    let got = fetch(net.addr(), "/small.txt", &[]).await;
    assert_eq!(got.status, 200);
    let got = fetch(net.addr(), "/big.bin", &[("range", "bytes=0-99")]).await;
    assert_eq!(got.status, 206);
    // Fill every slice.
    for at in [(4 << 20) + 10, (8 << 20) + 10] {
        let range = format!("bytes={at}-{}", at + 9);
        assert_eq!(
            fetch(net.addr(), "/big.bin", &[("range", &range)])
                .await
                .status,
            206
        );
    }

    eventually("the router learned both objects", || async {
        net.known().await.len() == 2
    })
    .await;
    let want_small = object_roots(&small);
    let want_big = object_roots(&big);
    let learned_small = net.known_path("/small.txt").await.unwrap();
    assert_eq!(learned_small["size"], 3000);
    assert_eq!(learned_small["root"], want_small.root.to_string());
    assert_eq!(learned_small["source"], "origin");
    assert!(learned_small.get("slice_roots").is_none());
    let learned_big = net.known_path("/big.bin").await.unwrap();
    assert_eq!(learned_big["size"], big.len());
    assert_eq!(learned_big["root"], want_big.root.to_string());
    let slices: Vec<String> = want_big.slices.iter().map(|r| r.to_string()).collect();
    assert_eq!(learned_big["slice_roots"], json!(slices));

    // What the honest terminal stored hashes to exactly what the router learned on its own.
    let stored = stored_roots(&t).await;
    let of = |p: &str| stored.iter().find(|(k, _)| k == p).unwrap().1.clone();
    assert_eq!(of("/small.txt"), vec![want_small.root.to_string()]);
    assert_eq!(of("/big.bin"), slices);
    t.shutdown().await;
    net.router.shutdown().await;
}

#[tokio::test]
async fn the_owner_pushes_roots_checked_for_shape_and_only_for_its_own_site() {
    let net = network(|c| c.origin_bytes_per_sec = 0).await;
    let body = pattern((4 << 20) + 1, 3);
    let roots = object_roots(&body);
    let slices: Vec<String> = roots.slices.iter().map(|r| r.to_string()).collect();
    let good = json!({
        "path": "/v/../a.bin", "size": roots.size, "root": roots.root.to_string(),
        "slice_roots": slices, "version": "\"v1\""
    });
    let recorded = net.push_roots(good.clone()).await;
    assert_eq!(recorded.status, 201, "{:?}", recorded.json());
    let object = &recorded.json()["object"];
    assert_eq!(object["path"], "/a.bin", "keyed like a request");
    assert_eq!(object["source"], "owner");
    assert_eq!(object["slice_roots"], json!(slices));
    assert_eq!(net.known().await.len(), 1);

    let mut short = good.clone();
    short["slice_roots"] = json!([slices[0]]);
    assert_eq!(net.push_roots(short).await.status, 400);
    let mut bad = good.clone();
    bad["root"] = json!("xyz");
    assert_eq!(net.push_roots(bad).await.status, 400);
    let stranger = account(net.addr()).await;
    let refused = call(
        net.addr(),
        "POST",
        &format!("/v1/sites/{SITE}/roots"),
        &[("authorization", &format!("Bearer {stranger}"))],
        Some(good),
    )
    .await;
    assert_eq!(refused.status, 404);
    net.router.shutdown().await;
}
