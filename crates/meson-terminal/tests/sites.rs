//! The cache engine serves whatever sites it is given: here two sites chosen by `Host`, as network mode does.

mod support;

use std::sync::Arc;
use std::time::Duration;

use meson_terminal::origin::OriginClient;
use meson_terminal::site::{Admitted, Refused, RequestInfo, Site, Sites};
use meson_terminal::Terminal;
use support::*;

struct ByHost(Vec<(String, Arc<Site>)>);

impl ByHost {
    fn find(&self, host: Option<&str>) -> Option<Arc<Site>> {
        let host = host?.split(':').next()?;
        self.0
            .iter()
            .find(|(h, _)| h == host)
            .map(|(_, s)| s.clone())
    }
}

impl Sites for ByHost {
    fn admit(&self, req: &RequestInfo<'_>) -> Result<Admitted, Refused> {
        let site = self.find(req.host).ok_or_else(|| {
            Refused::Status(http::StatusCode::MISDIRECTED_REQUEST, "unknown host".into())
        })?;
        Ok(Admitted::new(site, req.path, req.query))
    }

    fn for_url(&self, url: &http::Uri) -> Option<Arc<Site>> {
        self.find(url.host())
    }
}

fn site(name: &str, origin: &Origin) -> (String, Arc<Site>) {
    let client = OriginClient::new(
        origin.url().parse().unwrap(),
        Duration::from_secs(2),
        Duration::from_secs(5),
    );
    (
        name.to_string(),
        Arc::new(Site {
            id: 0,
            name: name.to_string(),
            origin: client,
            query_mode: Default::default(),
            settings: Default::default(),
        }),
    )
}

#[tokio::test]
async fn two_sites_by_host_with_separate_keys() {
    let a = Origin::start().await;
    let b = Origin::start().await;
    a.set(
        "/same/path",
        Resource::new("from a", &[("cache-control", "max-age=60")]),
    );
    b.set(
        "/same/path",
        Resource::new("from b", &[("cache-control", "max-age=60")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let sites = Arc::new(ByHost(vec![site("a.test", &a), site("b.test", &b)]));
    let t = Terminal::start_with_sites(config(&a, dir.path()), sites, None)
        .await
        .unwrap();

    for (host, want) in [("a.test", "from a"), ("b.test:8080", "from b")] {
        for x in ["MISS", "HIT"] {
            let r = request(t.addr, "GET", "/same/path", &[("host", host)]).await;
            assert_eq!((r.x_cache(), &r.body[..]), (x, want.as_bytes()), "{host}");
        }
    }
    assert_eq!((a.hits("/same/path"), b.hits("/same/path")), (1, 1));
    let r = request(t.addr, "GET", "/same/path", &[("host", "c.test")]).await;
    assert_eq!(r.status, 421, "a site this terminal does not serve");

    let (status, body) = admin(
        &t,
        "POST",
        "/v1/admin/purge",
        Some(serde_json::json!({ "url": "http://b.test/same/path" })),
    )
    .await;
    assert_eq!(
        (
            status,
            String::from_utf8_lossy(&body).contains("\"purged\":1")
        ),
        (200, true)
    );
    assert_eq!(
        request(t.addr, "GET", "/same/path", &[("host", "a.test")])
            .await
            .x_cache(),
        "HIT"
    );
    assert_eq!(
        request(t.addr, "GET", "/same/path", &[("host", "b.test")])
            .await
            .x_cache(),
        "MISS"
    );
    t.shutdown().await;
}
