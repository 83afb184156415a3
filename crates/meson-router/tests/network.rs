//! The network end to end: a real router, real network-mode terminals on their own 127.0.0.x addresses,
//! a real origin, and clients on other 127.0.0.x addresses following real redirects.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use meson_api::ledger::{LedgerHead, Minted, PayoutProof, Payouts, SiteBilling, TerminalEarnings};
use meson_api::sites::{JobStarted, JobView, SiteStats};
use meson_api::terminals::TerminalList;
use meson_ledger::Outcome;
use meson_terminal::network::sites::TicketPolicy;
use meson_terminal::Terminal;
use meson_testkit::{admin_request, admin_token, get_url_from, Got, Origin, Resource};
use serde_json::{json, Value};

const ZONES: &str = "127.0.0.0/26 eu\n127.0.0.64/26 na\n";
const SITE: &str = "cdn.example.com";

/// Waits until the terminal has joined, knows `sites` sites, and is in the router's rotation.
async fn joined(router: SocketAddr, t: &Terminal, sites: u64) {
    eventually("terminal joined with its sites", || async {
        let s = standing(t).await;
        s["registered"] == true
            && s["sites"] == sites
            && is_in_rotation(router, s["node_id"].as_str().unwrap()).await
    })
    .await;
}

/// A client at `from` asks the router for `path` on the site, then follows the redirect.
async fn through_router(router: SocketAddr, from: &str, path: &str) -> (Got, Got) {
    let redirect = get_url_from(
        ip(from),
        &format!("http://{router}{path}"),
        &[("host", SITE)],
    )
    .await
    .unwrap();
    assert_eq!(redirect.status, 302, "{:?}", redirect.body);
    let location = redirect.header("location").to_owned();
    let served = get_url_from(ip(from), &location, &[]).await.unwrap();
    (redirect, served)
}

struct Net {
    _dirs: Vec<tempfile::TempDir>,
    router: meson_router::Router,
    origin: Origin,
    key: String,
}

async fn network() -> Net {
    network_with(|_| {}).await
}

async fn network_with(tweak: impl FnOnce(&mut meson_router::RouterConfig)) -> Net {
    let rdir = tempfile::tempdir().unwrap();
    let (router, origin, key, _) = router_with_site(rdir.path(), SITE, "sort", |c| {
        c.coverage_zones = Some(ZONES.into());
        c.heartbeat = Duration::from_secs(1);
        c.ticket_lifetime_secs = 2;
        tweak(c);
    })
    .await;
    Net {
        _dirs: vec![rdir],
        router,
        origin,
        key,
    }
}

#[tokio::test]
async fn clients_are_served_by_their_regions_terminal_and_usage_is_accounted_once() {
    let net = network().await;
    let a = net.router.addr;
    let body = meson_testkit::pattern(100_000, 3);
    net.origin.set("/v.bin", Resource::cacheable(body.clone()));
    let (deu, dna) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let eu = network_terminal(a, "127.0.0.10", deu.path(), TicketPolicy::Bounce).await;
    let na = network_terminal(a, "127.0.0.70", dna.path(), TicketPolicy::Refuse).await;
    joined(a, &eu, 1).await;
    joined(a, &na, 1).await;
    assert_eq!(standing(&eu).await["region"], "eu");
    assert_eq!(standing(&na).await["region"], "na");

    // Each client lands on its own region's terminal; the first is a miss, the next a hit, one fill.
    let (r1, s1) = through_router(a, "127.0.0.11", "/v.bin?b=2&a=1").await;
    assert!(r1
        .header("location")
        .starts_with(&format!("http://{}/", eu.addr)));
    assert_eq!((s1.status, s1.x_cache(), &s1.body), (200, "MISS", &body));
    assert_eq!(
        s1.header("x-request-id"),
        r1.header("x-request-id"),
        "the request id follows the redirect"
    );
    let (_, s2) = through_router(a, "127.0.0.12", "/v.bin?a=1&b=2").await;
    assert_eq!(
        (s2.x_cache(), &s2.body),
        ("HIT", &body),
        "sorted query: one object"
    );
    let (r3, s3) = through_router(a, "127.0.0.71", "/v.bin?a=1&b=2").await;
    assert!(r3
        .header("location")
        .starts_with(&format!("http://{}/", na.addr)));
    assert_eq!((s3.x_cache(), &s3.body), ("MISS", &body));
    assert_eq!(net.origin.fills("/v.bin"), 2, "one fill per terminal");
    // The router's own fetch to learn the object's roots is a client like any other: it must not carry
    // the router's parameters either.
    let origin_saw = net.origin.seen("/v.bin");
    assert!(
        origin_saw
            .iter()
            .all(|s| !s.query.as_deref().unwrap_or("").contains("meson_")),
        "the router's parameters never reach the origin: {:?}",
        origin_saw.iter().map(|s| &s.query).collect::<Vec<_>>()
    );

    // Tickets: missing, forged, for another object, another client, another terminal.
    let eu_url = format!("http://{}/v.bin?a=1&b=2", eu.addr);
    let bare = get_url_from(ip("127.0.0.11"), &eu_url, &[("host", SITE)])
        .await
        .unwrap();
    assert_eq!(bare.status, 302, "bounce policy: back to the router");
    assert_eq!(
        bare.header("location"),
        format!("http://{a}/s/{SITE}/v.bin?a=1&b=2")
    );
    let na_bare = get_url_from(ip("127.0.0.71"), &format!("http://{}/v.bin", na.addr), &[])
        .await
        .unwrap();
    assert_eq!(na_bare.status, 403, "refuse policy");
    let good = r3.header("location").to_owned();
    let forged = {
        let i = good.len() - 5;
        let c = if &good[i..i + 1] == "A" { "B" } else { "A" };
        format!("{}{c}{}", &good[..i], &good[i + 1..])
    };
    let refused = |g: &Got| g.status == 403 && g.x_cache() == "BYPASS";
    assert!(refused(
        &get_url_from(ip("127.0.0.71"), &forged, &[]).await.unwrap()
    ));
    let other_object = good.replace("/v.bin?", "/other.bin?");
    assert!(refused(
        &get_url_from(ip("127.0.0.71"), &other_object, &[])
            .await
            .unwrap()
    ));
    assert!(
        refused(&get_url_from(ip("127.0.1.9"), &good, &[]).await.unwrap()),
        "client outside the ticket's prefix"
    );
    let at_eu = good.replace(&na.addr.to_string(), &eu.addr.to_string());
    let misdirected = get_url_from(ip("127.0.0.71"), &at_eu, &[]).await.unwrap();
    assert_eq!(
        misdirected.status, 403,
        "another terminal's ticket names no site to bounce to"
    );
    let misdirected = get_url_from(ip("127.0.0.71"), &at_eu, &[("host", SITE)])
        .await
        .unwrap();
    assert_eq!(
        misdirected.status, 302,
        "with the site's Host it is bounced"
    );
    let post = get_url_from(ip("127.0.0.71"), &good, &[]).await.unwrap();
    assert_eq!(
        post.status, 200,
        "the same ticket serves again until it expires"
    );

    // Usage: three tickets served (one of them twice). A terminal reports a ticket's usage once the ticket
    // has expired, so the router accepting all of it is the sign that `good` has expired too.
    let n = body.len() as u64;
    let all_served = |s: &SiteStats| s.total.tickets == 3 && s.total.requests == 4;
    eventually("the terminals report the three expired tickets", || async {
        all_served(&site_stats(a, &net.key).await)
    })
    .await;
    let expired = get_url_from(ip("127.0.0.71"), &good, &[]).await.unwrap();
    assert!(refused(&expired), "expired: {:?}", expired.body);

    // Stopping the terminals reports nothing more: the refused request was not served.
    eu.shutdown().await;
    na.shutdown().await;
    let stats = site_stats(a, &net.key).await;
    assert_eq!(stats.total.tickets, 3, "{stats:?}");
    assert_eq!(stats.total.requests, 4, "{stats:?}");
    assert_eq!(stats.total.hits, 2, "{stats:?}");
    // Four bodies sent, but a ticket is paid at most the object's size: `good` served it twice, for one.
    assert_eq!(stats.total.bytes, 3 * n, "{stats:?}");
    net.router.shutdown().await;
}

async fn site_stats(router: SocketAddr, key: &str) -> SiteStats {
    let stats = call(
        router,
        "GET",
        &format!("/v1/sites/{SITE}/stats"),
        &[("authorization", &format!("Bearer {key}"))],
        None,
    )
    .await;
    assert_eq!(stats.status, 200, "{:?}", stats.json());
    stats.parse()
}

async fn in_rotation(router: SocketAddr, t: &Terminal) -> bool {
    let node = standing(t).await["node_id"].as_str().unwrap().to_owned();
    is_in_rotation(router, &node).await
}

#[tokio::test]
async fn a_drained_terminal_gets_no_clients_until_undrained() {
    let net = network().await;
    let a = net.router.addr;
    net.origin.set("/d.bin", Resource::cacheable("drain me"));
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let t1 = network_terminal(a, "127.0.0.20", d1.path(), TicketPolicy::Bounce).await;
    let t2 = network_terminal(a, "127.0.0.21", d2.path(), TicketPolicy::Bounce).await;
    joined(a, &t1, 1).await;
    joined(a, &t2, 1).await;
    let (r, _) = through_router(a, "127.0.0.30", "/d.bin").await;
    let (chosen, other) = if r.header("location").contains(&t1.addr.to_string()) {
        (&t1, &t2)
    } else {
        (&t2, &t1)
    };
    let token = admin_token(&chosen.cache.config().data_dir);
    let drain = |on: bool| {
        admin_request(
            chosen.admin_addr,
            &token,
            "POST",
            "/v1/admin/drain",
            Some(json!({ "draining": on })),
        )
    };
    assert_eq!(drain(true).await.status, 200);
    eventually("the router takes the drained terminal out", || async {
        !in_rotation(a, chosen).await && standing(chosen).await["in_rotation"] == false
    })
    .await;
    for i in 0..5 {
        let (r, s) = through_router(a, &format!("127.0.0.{}", 30 + i), "/d.bin").await;
        assert!(r.header("location").contains(&other.addr.to_string()));
        assert_eq!(s.body, "drain me");
    }
    assert_eq!(drain(false).await.status, 200);
    eventually("undrained: back in rotation", || in_rotation(a, chosen)).await;
    t1.shutdown().await;
    t2.shutdown().await;
    net.router.shutdown().await;
}

#[tokio::test]
async fn a_terminal_that_stops_goes_down_and_rejoins_when_it_comes_back() {
    let net = network().await;
    let a = net.router.addr;
    let dir = tempfile::tempdir().unwrap();
    let t = network_terminal(a, "127.0.0.40", dir.path(), TicketPolicy::Bounce).await;
    joined(a, &t, 1).await;
    let node = standing(&t).await["node_id"].as_str().unwrap().to_owned();
    t.shutdown().await;
    eventually("no heartbeats: down", || async {
        terminal_view(a, &node).await.map(|v| v.state) == Some(meson_api::terminals::Health::Down)
    })
    .await;
    let none = get_url_from(
        ip("127.0.0.41"),
        &format!("http://{a}/x"),
        &[("host", SITE)],
    )
    .await
    .unwrap();
    assert_eq!(none.status, 503, "no terminal left to send clients to");
    // The same node (same key in the same data directory) comes back, on another port.
    let t = network_terminal(a, "127.0.0.40", dir.path(), TicketPolicy::Bounce).await;
    joined(a, &t, 1).await;
    assert_eq!(standing(&t).await["node_id"], node.as_str());
    net.origin.set("/x", Resource::cacheable("back"));
    let (r, s) = through_router(a, "127.0.0.41", "/x").await;
    assert!(r.header("location").contains(&t.addr.to_string()));
    assert_eq!(s.body, "back");
    t.shutdown().await;
    net.router.shutdown().await;
}

#[tokio::test]
async fn a_router_restart_loses_no_accepted_usage_and_terminals_carry_on() {
    let net = network().await;
    let a = net.router.addr;
    let body = meson_testkit::pattern(5_000, 9);
    net.origin.set("/r.bin", Resource::cacheable(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let t = network_terminal(a, "127.0.0.50", dir.path(), TicketPolicy::Bounce).await;
    joined(a, &t, 1).await;
    for i in 0..4 {
        let (_, s) = through_router(a, &format!("127.0.0.{}", 51 + i), "/r.bin").await;
        assert_eq!(s.body, body);
    }
    eventually("the four tickets' usage is accepted", || async {
        site_stats(a, &net.key).await.total.tickets == 4
    })
    .await;
    let before = site_stats(a, &net.key).await;

    // The router stops; the terminal's heartbeats fail meanwhile; the router comes back on its address
    // and data directory.
    let rdir = net._dirs[0].path().to_path_buf();
    net.router.shutdown().await;
    eventually("the terminal sees its calls to the router fail", || async {
        standing(&t).await["last_error"].is_string()
    })
    .await;
    let router = start(&rdir, |c| {
        c.listen = a;
        c.coverage_zones = Some(ZONES.into());
        c.heartbeat = Duration::from_secs(1);
        c.ticket_lifetime_secs = 2;
    })
    .await;
    let again = site_stats(a, &net.key).await;
    assert_eq!(
        again.hours, before.hours,
        "accepted usage survived the restart"
    );
    eventually("the terminal is back in rotation", || in_rotation(a, &t)).await;
    let (_, s) = through_router(a, "127.0.0.60", "/r.bin").await;
    assert_eq!((s.x_cache(), &s.body), ("HIT", &body));
    t.shutdown().await;
    let after = site_stats(a, &net.key).await;
    assert_eq!(after.total.tickets, 5, "{after:?}");
    assert_eq!(after.total.bytes, 5 * body.len() as u64, "{after:?}");
    router.shutdown().await;
}

/// Starts a job through the API and waits until every terminal confirmed it.
async fn run_job(router: SocketAddr, key: &str, what: &str, body: Value) -> JobView {
    let auth = format!("Bearer {key}");
    let started = call(
        router,
        "POST",
        &format!("/v1/sites/{SITE}/{what}"),
        &[("authorization", &auth)],
        Some(body),
    )
    .await;
    assert_eq!(started.status, 202, "{:?}", started.json());
    let id = started.parse::<JobStarted>().job;
    let path = format!("/v1/jobs/{id}");
    poll(&format!("job {id} complete"), || async {
        let view: JobView = call(router, "GET", &path, &[("authorization", &auth)], None)
            .await
            .parse();
        view.complete.then_some(view)
    })
    .await
}

#[tokio::test]
async fn purges_reach_every_holder_and_pushes_land_where_clients_will_be_sent() {
    let net = network().await;
    let a = net.router.addr;
    net.origin.set("/p.bin", Resource::cacheable("purge me"));
    net.origin.set(
        "/t.bin",
        Resource::new(
            "tagged",
            &[("cache-control", "max-age=600"), ("cache-tag", "news, top")],
        ),
    );
    let (deu, dna) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let eu = network_terminal(a, "127.0.0.10", deu.path(), TicketPolicy::Bounce).await;
    let na = network_terminal(a, "127.0.0.70", dna.path(), TicketPolicy::Bounce).await;
    joined(a, &eu, 1).await;
    joined(a, &na, 1).await;
    for from in ["127.0.0.11", "127.0.0.71"] {
        for path in ["/p.bin", "/t.bin"] {
            through_router(a, from, path).await;
            assert_eq!(through_router(a, from, path).await.1.x_cache(), "HIT");
        }
    }

    let view = run_job(a, &net.key, "purge", json!({"url": "/p.bin"})).await;
    assert_eq!((view.confirmed, view.failed), (2, 0), "{view:?}");
    for t in &view.terminals {
        assert_eq!(t.detail.as_deref(), Some("purged 1 objects"), "{view:?}");
    }
    let view = run_job(a, &net.key, "purge", json!({"tag": "top"})).await;
    assert_eq!(view.confirmed, 2, "{view:?}");
    for from in ["127.0.0.11", "127.0.0.71"] {
        for path in ["/p.bin", "/t.bin"] {
            assert_eq!(
                through_router(a, from, path).await.1.x_cache(),
                "MISS",
                "{from} {path}"
            );
        }
    }
    let bad = call(
        a,
        "POST",
        &format!("/v1/sites/{SITE}/purge"),
        &[("authorization", &format!("Bearer {}", net.key))],
        Some(json!({"url": "/p.bin", "tag": "x"})),
    )
    .await;
    assert_eq!(bad.status, 400, "{:?}", bad.json());

    // Push: verified against its root, placed on each region's terminal before any client asks.
    let body = meson_testkit::pattern(300_000, 8);
    net.origin
        .set("/pushed.bin", Resource::cacheable(body.clone()));
    let root = meson_testkit::b3(&body);
    let view = run_job(
        a,
        &net.key,
        "push",
        json!({"path": "/pushed.bin", "root": root, "ttl_secs": 600}),
    )
    .await;
    assert_eq!((view.confirmed, view.failed), (2, 0), "{view:?}");
    assert_eq!(net.origin.hits("/pushed.bin"), 2);
    for from in ["127.0.0.11", "127.0.0.71"] {
        let (_, s) = through_router(a, from, "/pushed.bin").await;
        assert_eq!((s.x_cache(), &s.body), ("HIT", &body), "{from}");
    }
    let wrong = meson_testkit::b3(b"something else");
    net.origin.set("/other.bin", Resource::cacheable("other"));
    let view = run_job(
        a,
        &net.key,
        "push",
        json!({"path": "/other.bin", "root": wrong, "ttl_secs": 600}),
    )
    .await;
    assert_eq!(view.failed, 2, "a root mismatch keeps nothing: {view:?}");
    assert_eq!(
        through_router(a, "127.0.0.11", "/other.bin")
            .await
            .1
            .x_cache(),
        "MISS"
    );
    eu.shutdown().await;
    na.shutdown().await;
    net.router.shutdown().await;
}

/// Polls until `f` yields a value, for at most [`WAIT`].
async fn poll<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn billing_view(router: SocketAddr, key: &str) -> SiteBilling {
    let got = call(
        router,
        "GET",
        &format!("/v1/sites/{SITE}/billing?epochs=100"),
        &[("authorization", &format!("Bearer {key}"))],
        None,
    )
    .await;
    assert_eq!(got.status, 200, "{:?}", got.json());
    got.parse()
}

#[tokio::test]
async fn an_epoch_charges_the_escrow_pays_the_terminal_burns_the_fee_once_and_audits_clean() {
    let billing = meson_ledger::settlement::BillingConfig {
        epoch_secs: 2,
        price_per_gib: meson_ledger::ONE_TOKEN,
        fee_bps: 2_000,
        // The terminal at 127.0.0.10 is in `eu` (coverage zones): its bytes cost twice the default.
        region_prices: vec![("eu".into(), 2 * meson_ledger::ONE_TOKEN)],
        ..Default::default()
    };
    let net = network_with(|c| c.billing = Some(billing.clone())).await;
    let a = net.router.addr;
    let body = meson_testkit::pattern(1 << 20, 5);
    net.origin
        .set("/big.bin", Resource::cacheable(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let t = network_terminal(a, "127.0.0.10", dir.path(), TicketPolicy::Bounce).await;
    joined(a, &t, 1).await;

    // No funds: clients are sent to the origin, not served for free.
    let unfunded = poll("an empty escrow sends clients to the origin", || async {
        let url = format!("http://{a}/big.bin");
        let r = get_url_from(ip("127.0.0.11"), &url, &[("host", SITE)])
            .await
            .unwrap();
        (r.header("x-meson-billing") == "escrow-empty").then_some(r)
    })
    .await;
    assert_eq!(
        unfunded.header("location"),
        format!("{}/big.bin", net.origin.url())
    );

    // The owner's deposit: the operator mints the tokens bought into the site's escrow.
    let view = billing_view(a, &net.key).await;
    let escrow = view.escrow_account;
    let op = std::fs::read_to_string(net._dirs[0].path().join("operator.token")).unwrap();
    let mint = json!({"id": "77", "to": escrow.to_string(), "amount": "0.01"});
    let auth = format!("Bearer {}", op.trim());
    let minted = call(
        a,
        "POST",
        "/v1/ledger/mint",
        &[("authorization", &auth)],
        Some(mint.clone()),
    )
    .await;
    assert_eq!(minted.status, 200, "{:?}", minted.json());
    assert_eq!(minted.parse::<Minted>().outcome, Outcome::Created);
    let again = call(
        a,
        "POST",
        "/v1/ledger/mint",
        &[("authorization", &auth)],
        Some(mint),
    )
    .await;
    assert_eq!(
        again.parse::<Minted>().outcome,
        Outcome::Exists,
        "the same mint id applies once"
    );
    let no_op = call(
        a,
        "POST",
        "/v1/ledger/mint",
        &[("authorization", "Bearer nope")],
        Some(json!({"id": "78", "to": "3", "amount": "1"})),
    )
    .await;
    assert_eq!(no_op.status, 401);
    eventually("the site is funded", || async {
        billing_view(a, &net.key).await.funded
    })
    .await;

    for from in ["127.0.0.11", "127.0.0.12", "127.0.0.13"] {
        let (_, s) = through_router(a, from, "/big.bin").await;
        assert_eq!(s.body, body);
    }
    // The terminal stays up (and in rotation, so its uptime is full); its usage is reported as its
    // tickets expire.
    let node = get_json::<TerminalList>(a, "/v1/terminals").await.terminals[0]
        .node_id
        .clone();
    let all_bytes = 3 * body.len() as u64;
    let view = poll("every byte's epoch settles", || async {
        let view = billing_view(a, &net.key).await;
        let bytes: u64 = view.epochs.iter().map(|e| e.bytes).sum();
        let settled = view.epochs.iter().all(|e| e.settled);
        (bytes == all_bytes && settled).then_some(view)
    })
    .await;

    let bytes = 3 * body.len() as u64;
    let want =
        meson_ledger::economics::line(bytes, 2 * meson_ledger::ONE_TOKEN, billing.fee_bps, 10_000);
    let epochs = &view.epochs;
    let spent: u128 = epochs.iter().map(|e| tokens(&e.spent)).sum();
    let burned: u128 = epochs.iter().map(|e| tokens(&e.fee_burned)).sum();
    assert_eq!((spent, burned), (want.paid(), want.fee), "{view:?}");
    assert_eq!(
        balance(view.escrow.as_ref().unwrap()),
        meson_ledger::ONE_TOKEN / 100 - want.paid()
    );
    let earnings: TerminalEarnings =
        get_json(a, &format!("/v1/terminals/{node}/earnings?epochs=100")).await;
    assert_eq!(
        balance(earnings.balance.as_ref().unwrap()),
        want.earned,
        "{earnings:?}"
    );

    // The epoch's payout root: the terminal's payout is a leaf anyone can check against the signed root.
    let epoch = epochs[0].epoch;
    let account = earnings.account;
    let payouts: Payouts = get_json(a, &format!("/v1/ledger/payouts/{epoch}")).await;
    let proof: PayoutProof =
        get_json(a, &format!("/v1/ledger/payouts/{epoch}/proof/{account}")).await;
    let first_paid = tokens(&epochs[0].paid_to_terminals);
    assert_eq!(proof.amount, first_paid, "{proof:?}");
    let root = payouts.root.0;
    let path: Vec<[u8; 32]> = proof.path.iter().map(|h| h.0).collect();
    let (index, size) = (proof.index, proof.size);
    let leaf = meson_ledger::merkle::leaf_hash(&meson_ledger::economics::payout_leaf(
        epoch, index, account, first_paid,
    ));
    assert!(meson_ledger::merkle::verify_inclusion(
        index, size, &leaf, &path, &root
    ));
    let sig: meson_core::identity::Signature = payouts.signature.parse().unwrap();
    net.router
        .id
        .verify(
            meson_ledger::economics::PAYOUT_ROOT_DOMAIN,
            &meson_ledger::economics::payout_root_message(epoch, size, &root),
            &sig,
        )
        .expect("the router signed the payout root");

    // What is left covers less than another epoch like this one: the owner is warned.
    poll("the owner is warned of low funds", || async {
        billing_view(a, &net.key).await.low_funds.then_some(())
    })
    .await;
    let r = audit(a).await;
    assert_eq!(r.ledger().issued(), meson_ledger::ONE_TOKEN / 100);
    assert_eq!(r.ledger().burned(), want.fee, "the burn equals the fee");

    // A restart replays the log to the same head and settles nothing twice. The terminal stays up through
    // it; once one more epoch, with new usage, has settled, the restarted router has been through every
    // epoch before it (it settles them in order), so the ones settled before the restart show whether any
    // was settled again.
    let LedgerHead(head) = get_json(a, "/v1/ledger/head").await;
    let rdir = net._dirs[0].path().to_path_buf();
    net.router.shutdown().await;
    let router = start(&rdir, |c| {
        c.listen = a;
        c.coverage_zones = Some(ZONES.into());
        c.heartbeat = Duration::from_secs(1);
        c.ticket_lifetime_secs = 2;
        c.billing = Some(billing.clone());
    })
    .await;
    let LedgerHead(replayed) = get_json(a, "/v1/ledger/head").await;
    assert_eq!(replayed.head, head.head, "the log replays to the same head");
    eventually("the terminal is back in rotation", || in_rotation(a, &t)).await;
    let (_, s) = through_router(a, "127.0.0.14", "/big.bin").await;
    assert_eq!((s.x_cache(), &s.body), ("HIT", &body));
    let again = poll("the new usage's epoch settles", || async {
        let view = billing_view(a, &net.key).await;
        let bytes: u64 = view.epochs.iter().map(|e| e.bytes).sum();
        let settled = view.epochs.iter().all(|e| e.settled);
        (bytes == all_bytes + body.len() as u64 && settled).then_some(view)
    })
    .await;
    let new_epochs = &again.epochs;
    for old in epochs {
        assert!(
            new_epochs.contains(old),
            "an epoch settled before the restart is unchanged: {old:?} in {new_epochs:?}"
        );
    }
    let spent: u128 = new_epochs.iter().map(|e| tokens(&e.spent)).sum();
    let burned: u128 = new_epochs.iter().map(|e| tokens(&e.fee_burned)).sum();
    assert!(spent > want.paid(), "the new epoch was charged: {again:?}");
    assert_eq!(
        balance(again.escrow.as_ref().unwrap()),
        meson_ledger::ONE_TOKEN / 100 - spent,
        "the escrow paid each epoch once: {again:?}"
    );
    let r = audit(a).await;
    assert_eq!(r.ledger().issued(), meson_ledger::ONE_TOKEN / 100);
    assert_eq!(r.ledger().burned(), burned, "each epoch's fee burned once");
    t.shutdown().await;
    router.shutdown().await;
}
