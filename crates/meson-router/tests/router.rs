mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use meson_api::terminals::Health;
use meson_api::{HeartbeatReply, SiteInfo};
use meson_core::ticket::{object_digest, Expect, Ticket};
use meson_core::wire;
use serde_json::json;

#[tokio::test]
async fn identity_persists_and_info_health_and_metrics_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |_| {}).await;
    let info = call(router.addr, "GET", wire::ROUTER_INFO_PATH, &[], None).await;
    assert_eq!(info.status, 200);
    let info: wire::RouterInfo = serde_json::from_value(info.json()).unwrap();
    assert_eq!((info.id, info.heartbeat_secs), (router.id, 5));
    let mode = std::fs::metadata(dir.path().join("router.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        call(router.addr, "GET", "/healthz", &[], None).await.status,
        200
    );
    let metrics = call(router.addr, "GET", "/metrics", &[], None).await;
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8_lossy(&metrics.body);
    for gauge in [
        "meson_router_ledger_entries",
        "meson_router_ledger_supply_tokens",
        "meson_router_ledger_treasury_tokens",
    ] {
        assert!(text.contains(gauge), "{gauge} in {text}");
    }
    let first = router.id;
    router.shutdown().await;

    let again = start(dir.path(), |_| {}).await;
    assert_eq!(again.id, first, "the key file is reused after a restart");
    again.shutdown().await;
}

#[tokio::test]
async fn a_ticket_lifetime_over_a_minute_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = meson_router::RouterConfig::new("127.0.0.1:0".parse().unwrap(), dir.path());
    cfg.ticket_lifetime_secs = 61;
    let err = meson_router::Router::start(cfg).await.err().unwrap();
    assert!(err.to_string().contains("ticket lifetime"), "{err}");
}

#[tokio::test]
async fn accounts_manage_their_own_sites_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |_| {}).await;
    let a = router.addr;
    let key = account(a).await;
    let other = account(a).await;
    assert_ne!(key, other);

    let no_auth = call(a, "GET", "/v1/sites", &[], None).await;
    assert_eq!(no_auth.status, 401);
    assert!(no_auth.error().contains("Bearer"));
    let bad_key = call(
        a,
        "GET",
        "/v1/sites",
        &[("authorization", "Bearer nope")],
        None,
    )
    .await;
    assert_eq!(bad_key.status, 401);

    let auth = format!("Bearer {key}");
    let h = [("authorization", auth.as_str())];
    for (host, origin) in [
        ("cdn.example.com", "ftp://origin.example.com"),
        ("cdn.example.com", "not a url"),
        ("cdn.example.com", "https://origin.example.com/path"),
        ("bad host!", "https://origin.example.com"),
    ] {
        let resp = call(
            a,
            "POST",
            "/v1/sites",
            &h,
            Some(json!({"host": host, "origin": origin})),
        )
        .await;
        assert_eq!(resp.status, 400, "{host} {origin}: {:?}", resp.json());
        assert!(!resp.error().is_empty());
    }
    let bad_mode = call(
        a,
        "POST",
        "/v1/sites",
        &h,
        Some(json!({"host": "x.example.com", "origin": "https://o.example.com", "query_mode": "mix"})),
    )
    .await;
    assert_eq!(bad_mode.status, 400);
    let malformed = call(a, "POST", "/v1/sites", &h, Some(json!({"host": 3}))).await;
    assert_eq!(malformed.status, 422);
    assert!(!malformed.error().is_empty());

    let added = call(
        a,
        "POST",
        "/v1/sites",
        &h,
        Some(json!({"host": "CDN.Example.com", "origin": "https://origin.example.com/", "default_ttl_secs": 60})),
    )
    .await;
    assert_eq!(added.status, 201, "{:?}", added.json());
    let added: SiteInfo = added.parse();
    assert_eq!(added.host, "cdn.example.com");
    assert_eq!(added.origin, "https://origin.example.com");
    assert_eq!(added.query_mode, meson_core::keying::QueryMode::Keep);
    let taken = add_site(a, &other, "cdn.example.com", "keep").await;
    assert_eq!(taken.status, 409);

    let listed = call(a, "GET", "/v1/sites", &h, None).await;
    assert_eq!(listed.parse::<Vec<SiteInfo>>().len(), 1);
    let others = call(
        a,
        "GET",
        "/v1/sites",
        &[("authorization", &format!("Bearer {other}"))],
        None,
    )
    .await;
    assert_eq!(others.parse::<Vec<SiteInfo>>().len(), 0);

    let not_theirs = call(
        a,
        "DELETE",
        "/v1/sites/cdn.example.com",
        &[("authorization", &format!("Bearer {other}"))],
        None,
    )
    .await;
    assert_eq!(not_theirs.status, 404);
    assert_eq!(
        call(a, "DELETE", "/v1/sites/cdn.example.com", &h, None)
            .await
            .status,
        204
    );
    assert_eq!(
        call(a, "DELETE", "/v1/sites/cdn.example.com", &h, None)
            .await
            .status,
        404
    );
    router.shutdown().await;
}

#[tokio::test]
async fn a_terminal_is_admitted_only_when_reachable_and_bad_messages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |_| {}).await;
    let a = router.addr;
    let t = SigningTerminal::start().await;

    t.set_healthy(false);
    let sick = t.register(a, None).await;
    assert_eq!(sick.status, 422, "{:?}", sick.json());
    assert!(sick.error().contains("reachability"));

    let gone = SigningTerminal::start().await;
    gone.stop_server();
    let unreachable = gone.register(a, None).await;
    assert_eq!(unreachable.status, 422, "{:?}", unreachable.json());

    let early_hb = t.heartbeat(a, 0, false).await;
    assert_eq!(early_hb.status, 403, "{:?}", early_hb.json());

    t.set_healthy(true);
    let msg = t.signed(wire::REGISTER, &t.registration(Some("eu/west")));
    let ok = call(a, "POST", wire::REGISTER_PATH, &[], Some(msg.clone())).await;
    assert_eq!(ok.status, 200, "{:?}", ok.json());
    let registered: wire::Registered = serde_json::from_value(ok.json()).unwrap();
    assert_eq!(registered.router, router.id);
    assert_eq!(registered.region.as_deref(), Some("eu/west"));

    let replayed = call(a, "POST", wire::REGISTER_PATH, &[], Some(msg.clone())).await;
    assert_eq!(replayed.status, 409);
    assert!(replayed.error().contains("replayed"));

    let mut forged = t.signed(wire::REGISTER, &t.registration(None));
    forged["body"] = json!(serde_json::to_string(&wire::Register {
        public_url: "http://203.0.113.1".into(),
        ..t.registration(None)
    })
    .unwrap());
    let forged = call(a, "POST", wire::REGISTER_PATH, &[], Some(forged)).await;
    assert_eq!(forged.status, 401);
    assert!(forged.error().contains("signature"));

    let stale = t.signed_at(wire::REGISTER, now() - 3600, &t.registration(None));
    let stale = call(a, "POST", wire::REGISTER_PATH, &[], Some(stale)).await;
    assert_eq!(stale.status, 401);
    assert!(stale.error().contains("stale"));

    let wrong = t.signed(wire::HEARTBEAT, &t.registration(None));
    let wrong = call(a, "POST", wire::REGISTER_PATH, &[], Some(wrong)).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.error().contains("purpose"));

    let hb = t.heartbeat(a, 3, false).await;
    assert_eq!(hb.status, 200, "{:?}", hb.json());
    assert!(hb.parse::<HeartbeatReply>().in_rotation);

    let view = terminal_view(a, &t.node_id()).await.unwrap();
    assert_eq!(view.state, Health::Healthy);
    assert_eq!(view.public_url, t.url);
    assert_eq!(view.region, "eu/west");
    assert_eq!(view.load, 3);

    let sites = t.signed(wire::SITES, &wire::SitesQuery {});
    let sites = call(a, "POST", wire::SITES_PATH, &[], Some(sites)).await;
    assert_eq!(sites.status, 200);
    let stranger = SigningTerminal::start().await;
    let refused = stranger.signed(wire::SITES, &wire::SitesQuery {});
    let refused = call(a, "POST", wire::SITES_PATH, &[], Some(refused)).await;
    assert_eq!(refused.status, 403);
    router.shutdown().await;
}

async fn state(a: std::net::SocketAddr, node: &str) -> Option<Health> {
    terminal_view(a, node).await.map(|t| t.state)
}

#[tokio::test]
async fn missed_heartbeats_make_a_terminal_suspect_then_down_and_a_heartbeat_brings_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |c| c.heartbeat = Duration::from_millis(200)).await;
    let a = router.addr;
    let t = SigningTerminal::start().await;
    assert_eq!(t.register(a, None).await.status, 200);
    let node = t.node_id();
    assert_eq!(state(a, &node).await, Some(Health::Healthy));

    eventually("suspect after two missed intervals", || async {
        state(a, &node).await == Some(Health::Suspect)
    })
    .await;
    eventually("down after three", || async {
        state(a, &node).await == Some(Health::Down)
    })
    .await;

    let hb = t.heartbeat(a, 0, false).await;
    assert!(hb.parse::<HeartbeatReply>().in_rotation);
    assert_eq!(state(a, &node).await, Some(Health::Healthy));

    // Heartbeats alone do not keep a terminal whose public address stops answering in rotation.
    t.set_healthy(false);
    eventually("suspect when the probe fails", || async {
        t.heartbeat(a, 0, false).await;
        state(a, &node).await == Some(Health::Suspect)
    })
    .await;
    t.set_healthy(true);
    eventually("healthy once the probe passes", || async {
        t.heartbeat(a, 0, false).await;
        state(a, &node).await == Some(Health::Healthy)
    })
    .await;

    let drained = t.heartbeat(a, 0, true).await;
    assert!(!drained.parse::<HeartbeatReply>().in_rotation);
    router.shutdown().await;
}

#[tokio::test]
async fn clients_are_redirected_to_their_region_with_a_valid_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let zones = "127.0.0.1/32 eu\n127.0.0.2/32 na\n";
    let router = start(dir.path(), |c| c.coverage_zones = Some(zones.into())).await;
    let a = router.addr;
    let key = account(a).await;
    let site = add_site(a, &key, "cdn.example.com", "keep").await;
    let site_id = site.parse::<SiteInfo>().id;

    let none = call(a, "GET", "/video.mp4", &[("host", "cdn.example.com")], None).await;
    assert_eq!(none.status, 503);
    assert!(none.error().contains("no healthy terminal"));
    assert_eq!(
        call(a, "GET", "/s/unknown.example.com/x", &[], None)
            .await
            .status,
        404
    );

    let eu = SigningTerminal::start_on("127.0.0.1").await;
    let na = SigningTerminal::start_on("127.0.0.2").await;
    assert_eq!(eu.register(a, Some("eu")).await.status, 200);
    assert_eq!(
        na.register(a, None)
            .await
            .parse::<wire::Registered>()
            .region
            .as_deref(),
        Some("na"),
        "placed by its address"
    );

    for (client, want) in [("127.0.0.1", &eu), ("127.0.0.2", &na)] {
        let ip: std::net::IpAddr = client.parse().unwrap();
        for path in ["/a.mp4?x=1", "/b/c.js"] {
            let resp = meson_testkit::get_url_from(
                ip,
                &format!("http://{a}{path}"),
                &[("host", "cdn.example.com:8080"), ("x-request-id", "req-42")],
            )
            .await
            .unwrap();
            assert_eq!(resp.status, 302, "{:?}", resp.json());
            assert_eq!(resp.header("cache-control"), "no-store");
            assert_eq!(resp.header("x-request-id"), "req-42");
            let location = resp.header("location");
            let (base, query) = location.split_once('?').unwrap();
            let (_, orig_query) = path.split_once('?').map_or((path, ""), |(p, q)| (p, q));
            let plain_path = path.split('?').next().unwrap();
            assert_eq!(
                base,
                format!("{}{plain_path}", want.url),
                "client {client} → its region"
            );
            let params: Vec<&str> = query.split('&').collect();
            if !orig_query.is_empty() {
                assert_eq!(params[0], orig_query);
            }
            assert!(params.contains(&"meson_rid=req-42"), "{location}");
            let ticket = params
                .iter()
                .find_map(|p| p.strip_prefix("meson_ticket="))
                .unwrap();
            let expect = Expect {
                terminal: want.key.id().short_id(),
                site: site_id,
                object: object_digest(format!("cdn.example.com{path}").as_bytes()),
                client_ip: ip,
            };
            let t = Ticket::verify(ticket, &router.id, now(), &expect).expect("ticket verifies");
            assert!(t.expires <= now() + 31);
        }
    }

    let by_path = call(a, "GET", "/s/cdn.example.com/a.mp4", &[], None).await;
    assert_eq!(by_path.status, 302);
    assert!(by_path
        .header("location")
        .starts_with(&format!("{}/a.mp4?meson_rid=", eu.url)));
    let post = call(a, "POST", "/x", &[("host", "cdn.example.com")], None).await;
    assert_eq!(post.status, 405);
    router.shutdown().await;
}

#[tokio::test]
async fn redirects_avoid_terminals_that_are_down_or_draining() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |c| c.heartbeat = Duration::from_millis(200)).await;
    let a = router.addr;
    let key = account(a).await;
    add_site(a, &key, "cdn.example.com", "keep").await;
    let t1 = SigningTerminal::start().await;
    let t2 = SigningTerminal::start().await;
    assert_eq!(t1.register(a, None).await.status, 200);
    assert_eq!(t2.register(a, None).await.status, 200);
    t2.heartbeat(a, 0, true).await;

    // Only t1 heartbeats from now on; t2 drains, then goes silent.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let t1 = std::sync::Arc::new(t1);
    let beat = {
        let (stop, t1) = (stop.clone(), t1.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                t1.heartbeat(a, 0, false).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    for i in 0..20 {
        let resp = call(
            a,
            "GET",
            &format!("/o{i}"),
            &[("host", "cdn.example.com")],
            None,
        )
        .await;
        assert_eq!(resp.status, 302);
        assert!(
            resp.header("location").starts_with(&t1.url),
            "draining t2 never chosen"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    beat.await.unwrap();
    eventually("no terminal left once t1 falls silent", || async {
        call(a, "GET", "/o", &[("host", "cdn.example.com")], None)
            .await
            .status
            == 503
    })
    .await;
    router.shutdown().await;
}
