//! What the router verifies, end to end on real servers: object sizes and roots it learns from the origin
//! or the site's owner (never from terminals), usage judged against them, spot-check audits of real
//! terminals, and the evidence it keeps.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use meson_core::content::object_roots;
use meson_ledger::economics::{line, quality_bps};
use meson_ledger::settlement::BillingConfig;
use meson_ledger::ONE_TOKEN;
use meson_terminal::network::sites::TicketPolicy;
use meson_terminal::Terminal;
use meson_testkit::{get_url_from, pattern, Origin, Resource};

use meson_api::ledger::{SiteBilling, TerminalEarnings};
use meson_api::sites::JobStarted;
use meson_api::verification::{
    AuditEpoch, Evidence, KnownObject, KnownObjects, RootsRecorded, TerminalAudits,
};
use meson_api::RouterInfo;
use serde_json::{json, Value};

const SITE: &str = "cdn.verify.example";

struct Net {
    dir: tempfile::TempDir,
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

    fn operator_token(&self) -> String {
        let token = std::fs::read_to_string(self.dir.path().join("operator.token")).unwrap();
        token.trim().to_owned()
    }

    /// What the router knows of the site's objects, by keyed path.
    async fn known(&self) -> Vec<KnownObject> {
        let got = call(
            self.addr(),
            "GET",
            &format!("/v1/sites/{SITE}/roots"),
            &[("authorization", &self.auth())],
            None,
        )
        .await;
        assert_eq!(got.status, 200, "{:?}", got.json());
        got.parse::<KnownObjects>().objects
    }

    async fn known_path(&self, path: &str) -> Option<KnownObject> {
        self.known().await.into_iter().find(|o| o.path == path)
    }

    /// What the router keeps against terminal `node`.
    async fn evidence(&self, node: &str) -> Evidence {
        let got = call(
            self.addr(),
            "GET",
            &format!("/v1/terminals/{node}/evidence"),
            &[],
            None,
        )
        .await;
        assert_eq!(got.status, 200, "{:?}", got.json());
        got.parse()
    }

    /// The site's escrow and spend, as its owner sees them.
    async fn billing(&self) -> SiteBilling {
        let got = call(
            self.addr(),
            "GET",
            &format!("/v1/sites/{SITE}/billing"),
            &[("authorization", &self.auth())],
            None,
        )
        .await;
        assert_eq!(got.status, 200, "{:?}", got.json());
        got.parse()
    }

    /// The owner purges `url` from every terminal.
    async fn purge(&self, url: &str) {
        let purged = call(
            self.addr(),
            "POST",
            &format!("/v1/sites/{SITE}/purge"),
            &[("authorization", &self.auth())],
            Some(json!({ "url": url })),
        )
        .await;
        assert_eq!(purged.status, 202, "{:?}", purged.json());
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
    let (router, origin, key, _) = router_with_site(dir.path(), SITE, "keep", |c| {
        c.heartbeat = Duration::from_secs(1);
        c.ticket_lifetime_secs = 2;
        tweak(c);
    })
    .await;
    Net {
        dir,
        router,
        origin,
        key,
    }
}

async fn joined(router: SocketAddr, dir: &std::path::Path) -> Terminal {
    joined_with(router, dir, |_| {}).await
}

/// A network-mode terminal, configured by `tweak`, once it joined with the site.
async fn joined_with(
    router: SocketAddr,
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut meson_terminal::TerminalConfig),
) -> Terminal {
    let t = network_terminal_with(router, "127.0.0.1", dir, TicketPolicy::Refuse, tweak).await;
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
    assert_eq!(learned_small.size, 3000);
    assert_eq!(learned_small.root, want_small.root.to_string());
    assert_eq!(learned_small.source, "origin");
    assert!(learned_small.slice_roots.is_empty(), "{learned_small:?}");
    let learned_big = net.known_path("/big.bin").await.unwrap();
    assert_eq!(learned_big.size, big.len() as u64);
    assert_eq!(learned_big.root, want_big.root.to_string());
    let slices: Vec<String> = want_big.slices.iter().map(|r| r.to_string()).collect();
    assert_eq!(learned_big.slice_roots, slices);

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
    let object = recorded.parse::<RootsRecorded>().object;
    assert_eq!(object.path, "/a.bin", "keyed like a request");
    assert_eq!(object.source, "owner");
    assert_eq!(object.slice_roots, slices);
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

/// A network-mode terminal with its background scrub off, so a damaged copy stays on disk for the
/// router's audits to find.
async fn unscrubbed(router: SocketAddr, dir: &std::path::Path) -> Terminal {
    joined_with(router, dir, |c| c.scrub_rate = 0).await
}

/// The origin's `/a.bin` set to `len` bytes drawn from `seed`, and an unscrubbed terminal joined: its data
/// dir, the terminal, its node id and the body.
async fn with_object(
    net: &Net,
    len: usize,
    seed: u64,
) -> (tempfile::TempDir, Terminal, String, bytes::Bytes) {
    let body = pattern(len, seed);
    net.origin.set("/a.bin", Resource::cacheable(body.clone()));
    let tdir = tempfile::tempdir().unwrap();
    let t = unscrubbed(net.addr(), tdir.path()).await;
    let node = standing(&t).await["node_id"].as_str().unwrap().to_owned();
    (tdir, t, node, body)
}

/// An unscrubbed terminal that served `/a.bin` (a 100 kB body drawn from `seed`) once the router learned it:
/// its data dir, the terminal, its node id and the body.
async fn serving_learned(
    net: &Net,
    seed: u64,
) -> (tempfile::TempDir, Terminal, String, bytes::Bytes) {
    let (tdir, t, node, body) = with_object(net, 100_000, seed).await;
    assert_eq!(fetch(net.addr(), "/a.bin", &[]).await.body, body);
    eventually("the router learned the object", || async {
        net.known_path("/a.bin").await.is_some()
    })
    .await;
    (tdir, t, node, body)
}

/// Flips a byte in every chunk group of the stored body of `path`: whichever group an audit asks for, the
/// proof read from disk no longer verifies.
fn damage_every_group(data_dir: &std::path::Path, path: &str, len: usize) {
    let file = meson_testkit::body_file(data_dir, path, 0);
    for at in (0..len as u64).step_by(16 * 1024) {
        meson_testkit::flip_byte(&file, at + 100);
    }
}

fn auditing(c: &mut meson_router::RouterConfig) {
    c.audit = Some(meson_router::audit::AuditConfig {
        interval: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
        ..Default::default()
    });
}

async fn audits_of(router: SocketAddr, node: &str) -> TerminalAudits {
    let got = call(
        router,
        "GET",
        &format!("/v1/terminals/{node}/audits"),
        &[],
        None,
    )
    .await;
    assert_eq!(got.status, 200, "{:?}", got.json());
    got.parse()
}

/// The audits of one outcome (`count` picks it) over the epochs shown.
async fn epoch_total(router: SocketAddr, node: &str, count: fn(&AuditEpoch) -> u64) -> u64 {
    audits_of(router, node).await.epochs.iter().map(count).sum()
}

#[tokio::test]
async fn audits_pass_an_honest_terminal_time_out_a_stopped_one_and_fail_a_corrupted_one_with_evidence(
) {
    let net = network(auditing).await;
    let (tdir, t, node, body) = serving_learned(&net, 4).await;

    eventually("the honest terminal passes audits", || async {
        epoch_total(net.addr(), &node, |e| e.pass).await >= 3
    })
    .await;
    let view = audits_of(net.addr(), &node).await;
    assert_eq!(view.epochs[0].fail, 0, "{view:?}");
    assert_eq!(view.recent[0].root, object_roots(&body).root.to_string());

    // A stopped terminal answers nothing: timeouts, never evidence.
    t.shutdown().await;
    eventually("a stopped terminal times out", || async {
        epoch_total(net.addr(), &node, |e| e.timeout).await >= 1
    })
    .await;
    let evidence = net.evidence(&node).await;
    assert!(evidence.audits.is_empty(), "{evidence:?}");
    assert_ne!(audits_of(net.addr(), &node).await.standing, "disqualified");

    // Back on the same disk, whose every chunk group is then damaged: whichever group is asked, the proof
    // read from disk no longer verifies, and the terminal signed it.
    let t = unscrubbed(net.addr(), tdir.path()).await;
    damage_every_group(tdir.path(), "/a.bin", body.len());
    eventually("a corrupted copy fails its audit", || async {
        epoch_total(net.addr(), &node, |e| e.fail).await >= 1
    })
    .await;
    let evidence = net.evidence(&node).await;
    let failed = &evidence.audits[0];
    assert_eq!(failed.outcome, "fail");
    // Anyone can re-check the evidence from the signed bytes alone: the router's signed challenge inside
    // the terminal's signed answer, against the root the origin's bytes have.
    let answer: meson_core::signed::SignedMessage<meson_core::audit::Answer> =
        serde_json::from_str(failed.evidence.as_deref().unwrap()).unwrap();
    let info: RouterInfo = get_json(net.addr(), "/v1/router").await;
    let roots = object_roots(&body);
    let (challenge, verdict) =
        meson_core::audit::judge(&answer, &info.id, &roots.root, roots.size).unwrap();
    assert!(
        matches!(verdict, meson_core::audit::Verdict::Fail(_)),
        "{verdict:?}"
    );
    assert_eq!(challenge.terminal.to_string(), node);
    assert_eq!(answer.signer().to_string(), node);
    // Objective evidence: disqualified, and no longer audited.
    eventually("the corrupted terminal is disqualified", || async {
        audits_of(net.addr(), &node).await.standing == "disqualified"
    })
    .await;
    t.shutdown().await;
    net.router.shutdown().await;
}

#[tokio::test]
async fn a_refusal_or_a_timeout_never_slashes_a_staked_terminal() {
    let net = network(auditing).await;
    let (tdir, t, node, body) = with_object(&net, 60_000, 10).await;
    let key = meson_node::load_or_create_node_key(&tdir.path().join("node.key")).unwrap();
    assert_eq!(key.id().to_string(), node);
    stake(net.addr(), net.dir.path(), &key, 25).await;
    assert_eq!(fetch(net.addr(), "/a.bin", &[]).await.body, body);
    eventually("audits pass", || async {
        epoch_total(net.addr(), &node, |e| e.pass).await >= 2
    })
    .await;
    let untouched = || async {
        assert_eq!(stake_of(net.addr(), &key).await, 25 * ONE_TOKEN);
        assert!(slashes_of(net.addr(), &node).await.is_empty());
        let evidence = net.evidence(&node).await;
        assert!(
            evidence.audits.is_empty() && evidence.usage.is_empty(),
            "{evidence:?}"
        );
    };

    // The owner purges the object: the terminal answers its audits `not_held`, a refusal.
    net.purge("/a.bin").await;
    let refused = epoch_total(net.addr(), &node, |e| e.not_held).await;
    eventually("the terminal answers not_held", || async {
        epoch_total(net.addr(), &node, |e| e.not_held).await >= refused + 2
    })
    .await;
    untouched().await;

    // Stopped, it answers nothing: its audits time out.
    let timeouts = epoch_total(net.addr(), &node, |e| e.timeout).await;
    t.shutdown().await;
    eventually("the stopped terminal's audits time out", || async {
        epoch_total(net.addr(), &node, |e| e.timeout).await >= timeouts + 2
    })
    .await;
    untouched().await;
    net.router.shutdown().await;
}

#[tokio::test]
async fn a_terminal_answers_only_fresh_challenges_its_router_signed_for_it() {
    let net = network(|_| {}).await;
    let body = pattern(40_000, 5);
    net.origin.set("/a.bin", Resource::cacheable(body.clone()));
    let tdir = tempfile::tempdir().unwrap();
    let t = joined(net.addr(), tdir.path()).await;
    let me: meson_core::identity::NodeId = standing(&t).await["node_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(fetch(net.addr(), "/a.bin", &[]).await.body, body);
    // The router's own key, read from its data directory, stands in for the auditor.
    let router_key =
        meson_node::load_or_create_node_key(&net.dir.path().join("router.key")).unwrap();
    let roots = object_roots(&body);
    let challenge = |expires: u64| meson_core::audit::Challenge {
        terminal: me,
        root: roots.root,
        size: roots.size,
        group: 1,
        expires,
    };
    let sign = |key: &meson_core::identity::NodeKey, c: &meson_core::audit::Challenge| {
        serde_json::to_value(
            meson_core::signed::SignedMessage::sign(
                key,
                meson_core::audit::CHALLENGE,
                now(),
                rand::random(),
                c,
            )
            .unwrap(),
        )
        .unwrap()
    };
    let post = |v: Value| {
        let url = format!("http://{}{}", t.addr, meson_core::audit::AUDIT_PATH);
        async move {
            meson_testkit::client()
                .request(
                    http::Request::post(url)
                        .body(http_body_util::Full::new(bytes::Bytes::from(v.to_string())))
                        .unwrap(),
                )
                .await
                .unwrap()
                .status()
        }
    };
    let good = sign(&router_key, &challenge(now() + 10));
    assert_eq!(post(good.clone()).await, 200);
    assert_eq!(post(good).await, 403, "replayed");
    let forger = meson_core::identity::NodeKey::from_secret_bytes([7; 32]);
    assert_eq!(
        post(sign(&forger, &challenge(now() + 10))).await,
        403,
        "forged"
    );
    assert_eq!(
        post(sign(&router_key, &challenge(now()))).await,
        403,
        "expired"
    );
    assert_eq!(
        post(sign(&router_key, &challenge(now() + 600))).await,
        403,
        "too long"
    );
    assert_eq!(post(json!({"not": "a challenge"})).await, 400);
    t.shutdown().await;
    net.router.shutdown().await;
}

#[tokio::test]
async fn content_a_terminal_reports_holding_and_then_loses_is_found_missing() {
    let net = network(auditing).await;
    let (tdir, t, node, body) = with_object(&net, 50_000, 6).await;
    assert_eq!(fetch(net.addr(), "/a.bin", &[]).await.body, body);
    eventually("audits pass", || async {
        epoch_total(net.addr(), &node, |e| e.pass).await >= 2
    })
    .await;
    // The bytes vanish behind the terminal's back: it still reports holding them.
    std::fs::remove_file(meson_testkit::body_file(tdir.path(), "/a.bin", 0)).unwrap();
    eventually(
        "content reported held and not produced is missing",
        || async { epoch_total(net.addr(), &node, |e| e.missing).await >= 1 },
    )
    .await;
    t.shutdown().await;
    net.router.shutdown().await;
}

#[tokio::test]
async fn evictions_reported_in_heartbeats_are_no_longer_claimed() {
    let net = network(auditing).await;
    let (a, b) = (pattern(60_000, 7), pattern(60_000, 8));
    net.origin.set("/a.bin", Resource::cacheable(a.clone()));
    net.origin.set("/b.bin", Resource::cacheable(b.clone()));
    let tdir = tempfile::tempdir().unwrap();
    let t = unscrubbed(net.addr(), tdir.path()).await;
    let node = standing(&t).await["node_id"].as_str().unwrap().to_owned();
    assert_eq!(fetch(net.addr(), "/a.bin", &[]).await.body, a);
    assert_eq!(fetch(net.addr(), "/b.bin", &[]).await.body, b);
    let claimed = || async { audits_of(net.addr(), &node).await.claimed_sample };
    eventually("both pieces reported held", || async {
        claimed().await == 2
    })
    .await;
    // The owner purges /a.bin: the terminal deletes it and says so with its next heartbeat.
    net.purge("/a.bin").await;
    eventually("the eviction reached the router", || async {
        claimed().await == 1
    })
    .await;
    // From now on /a.bin is only an object the terminal was sent clients for: not held, never missing.
    let before = epoch_total(net.addr(), &node, |e| e.not_held).await;
    eventually("the purged object is audited as not held", || async {
        epoch_total(net.addr(), &node, |e| e.not_held).await >= before + 2
    })
    .await;
    assert_eq!(epoch_total(net.addr(), &node, |e| e.missing).await, 0);
    t.shutdown().await;
    net.router.shutdown().await;
}

#[tokio::test]
async fn pushes_are_placed_away_from_terminals_whose_disk_is_full() {
    let net = network(|_| {}).await;
    let (eu, na) = (
        SigningTerminal::start().await,
        SigningTerminal::start().await,
    );
    assert_eq!(eu.register(net.addr(), Some("eu")).await.status, 200);
    assert_eq!(na.register(net.addr(), Some("na")).await.status, 200);
    let push = || async {
        let got = call(
            net.addr(),
            "POST",
            &format!("/v1/sites/{SITE}/push"),
            &[("authorization", &net.auth())],
            Some(json!({"path": "/a.bin", "root": "00".repeat(32), "ttl_secs": 60})),
        )
        .await;
        assert_eq!(got.status, 202, "{:?}", got.json());
        got.parse::<JobStarted>().terminals
    };
    assert_eq!(push().await, 2, "one terminal per region");
    let mut full = SigningTerminal::heartbeat_body(0, false);
    full.disk_full = true;
    full.free_disk_bytes = 0;
    assert_eq!(na.send_heartbeat(net.addr(), &full).await.status, 200);
    assert_eq!(push().await, 1, "not onto a full disk");
    let view = terminal_view(net.addr(), &na.node_id()).await.unwrap();
    assert_eq!((view.disk_full, view.in_rotation), (true, true));
    net.router.shutdown().await;
}

#[tokio::test]
async fn a_new_terminal_is_vetted_by_passing_audits_and_suspended_for_failing_them() {
    let net = network(|c| {
        auditing(c);
        if let Some(a) = &mut c.audit {
            a.rules = meson_core::audit::QualityRules {
                vetting_audits: 2,
                suspend_below: 0.9,
                min_audits: 3,
            };
        }
    })
    .await;
    let (tdir, t, node, body) = with_object(&net, 100_000, 9).await;
    assert_eq!(audits_of(net.addr(), &node).await.standing, "vetting");
    assert_eq!(fetch(net.addr(), "/a.bin", &[]).await.body, body);
    eventually("two passed audits vet the terminal", || async {
        audits_of(net.addr(), &node).await.standing == "vetted"
    })
    .await;
    assert!(is_in_rotation(net.addr(), &node).await);

    // The terminal loses what it holds behind its back: `missing` answers, not evidence (a failed proof
    // would disqualify it for good), suspend it until its pass rate recovers.
    std::fs::remove_file(meson_testkit::body_file(tdir.path(), "/a.bin", 0)).unwrap();
    eventually("missing answers suspend it", || async {
        audits_of(net.addr(), &node).await.standing == "suspended"
    })
    .await;
    let view = audits_of(net.addr(), &node).await;
    let why = view.suspended.unwrap();
    assert!(why.contains("suspended from rotation"), "{why}");
    let view = terminal_view(net.addr(), &node).await.unwrap();
    assert!(!view.in_rotation, "{view:?}");
    // The terminal is told why with its heartbeat reply, and clients go nowhere near it.
    eventually("the terminal learns of its suspension", || async {
        standing(&t).await["suspended"]
            .as_str()
            .is_some_and(|s| s.contains("suspended from rotation"))
    })
    .await;
    assert_eq!(standing(&t).await["in_rotation"], false);
    let redirect = get_url_from(
        ip("127.0.0.1"),
        &format!("http://{}/a.bin", net.addr()),
        &[("host", SITE)],
    )
    .await
    .unwrap();
    assert_eq!(redirect.status, 503);
    t.shutdown().await;
    net.router.shutdown().await;
}

#[tokio::test]
async fn a_terminal_is_paid_by_its_audit_pass_rate() {
    let billing = BillingConfig {
        epoch_secs: 2,
        price_per_gib: ONE_TOKEN,
        fee_bps: 2_000,
        ..BillingConfig::default()
    };
    let net = network(|c| {
        auditing(c);
        if let Some(a) = &mut c.audit {
            a.epoch_secs = billing.epoch_secs;
            // Never suspended: the failing terminal keeps serving, so its failures show in its pay.
            a.rules = meson_core::audit::QualityRules {
                vetting_audits: 0,
                suspend_below: 0.0,
                min_audits: 1,
            };
        }
        c.billing = Some(billing.clone());
    })
    .await;
    let site = net.billing().await;
    let op = format!("Bearer {}", net.operator_token());
    let minted = call(
        net.addr(),
        "POST",
        "/v1/ledger/mint",
        &[("authorization", &op)],
        Some(json!({"id": "1", "to": site.escrow_account.to_string(), "amount": "1000"})),
    )
    .await;
    assert_eq!(minted.status, 200, "{:?}", minted.json());
    eventually("the router sees the site funded", || async {
        net.billing().await.funded
    })
    .await;

    let (tdir, t, node, _) = serving_learned(&net, 5).await;
    // The terminal drops the body it reports holding, again whenever a client's request brings it back:
    // its audits come back `missing`, which is not evidence (a crash looks the same) but lowers its pass
    // rate, and its pay with it. (A failed proof would be evidence: slashed, and the epoch not paid at all.)
    let body_file = meson_testkit::body_file(tdir.path(), "/a.bin", 0);
    let drop_body = || {
        let _ = std::fs::remove_file(&body_file);
    };
    drop_body();
    eventually("the dropped copy is found missing", || async {
        epoch_total(net.addr(), &node, |e| e.missing).await >= 1
    })
    .await;

    // Clients keep coming; every settled epoch pays exactly the formula with the epoch's own pass rate,
    // until one with usage and missing audits shows the cut.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        fetch(net.addr(), "/a.bin", &[]).await;
        drop_body();
        let view: TerminalEarnings = get_json(
            net.addr(),
            &format!("/v1/terminals/{node}/earnings?epochs=100"),
        )
        .await;
        let mut cut = false;
        for e in view.epochs.iter().filter(|e| e.settled && e.bytes > 0) {
            let quality = quality_bps(e.uptime_bps, e.audit_pass_bps);
            let full = line(e.bytes, ONE_TOKEN, 2_000, 10_000).earned;
            let due = line(e.bytes, ONE_TOKEN, 2_000, quality).earned;
            assert_eq!(tokens(&e.earned), due, "{e:?}");
            cut |= e.audit_pass_bps < 10_000 && due < full;
        }
        if cut {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no settled epoch with missing audits: {view:?}"
        );
    }
    t.shutdown().await;
    net.router.shutdown().await;
}
