//! Self-dealing limits through the real HTTP API: the per-client-prefix ticket budget at the redirect,
//! the share cap that withholds a terminal's usage from a few prefixes at settlement, the operator's
//! review of it, and the site owner's view of its traffic per terminal and per prefix. Client prefixes are
//! /24s, so clients sit in different /24s of 127.0.0.0/8 (all routed to the loopback).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use meson_api::ledger::{SiteBilling, TerminalEarnings};
use meson_api::traffic::{ReviewAction, Reviewed, SiteTraffic, WithheldList};
use meson_api::verification::Evidence;
use meson_api::UsageReceipt;
use meson_ledger::economics::line;
use meson_ledger::prefix_share::ShareCap;
use meson_ledger::settlement::BillingConfig;
use meson_terminal::network::sites::TicketPolicy;
use meson_testkit::{
    get_url_from, publish_roots, second_over, ticket_in, usage_record, Got, Resource,
};
use serde_json::json;

const SITE: &str = "cdn.example.com";
/// Clients in 127.0.0.0/16 are in `eu`, those in 127.1.0.0/16 in `na`: each region's clients go to its
/// own terminal.
const ZONES: &str = "127.0.0.0/16 eu\n127.1.0.0/16 na\n";

struct Billed {
    dir: tempfile::TempDir,
    router: meson_router::Router,
    origin: meson_testkit::Origin,
    key: String,
}

impl Billed {
    fn addr(&self) -> SocketAddr {
        self.router.addr
    }

    fn operator(&self) -> String {
        let token = std::fs::read_to_string(self.dir.path().join("operator.token")).unwrap();
        format!("Bearer {}", token.trim())
    }

    /// GET `path` of the site's owner API, which must answer `200` with a `T`.
    async fn owner_get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let auth = format!("Bearer {}", self.key);
        let got = call(self.addr(), "GET", path, &[("authorization", &auth)], None).await;
        assert_eq!(got.status, 200, "{:?}", got.json());
        got.parse()
    }

    async fn billing(&self) -> SiteBilling {
        self.owner_get(&format!("/v1/sites/{SITE}/billing?epochs=100"))
            .await
    }

    /// Mints `tokens` into the site's escrow and waits until redirects see it funded.
    async fn fund(&self, tokens: &str) {
        let escrow = self.billing().await.escrow_account;
        let minted = call(
            self.addr(),
            "POST",
            "/v1/ledger/mint",
            &[("authorization", &self.operator())],
            Some(json!({"id": "1", "to": escrow.to_string(), "amount": tokens})),
        )
        .await;
        assert_eq!(minted.status, 200, "{:?}", minted.json());
        eventually("the site is funded", || async {
            self.billing().await.funded
        })
        .await;
    }

    async fn traffic(&self, epoch: u64, top: usize) -> SiteTraffic {
        self.owner_get(&format!("/v1/sites/{SITE}/traffic?epoch={epoch}&top={top}"))
            .await
    }

    async fn operator_call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Got {
        call(
            self.addr(),
            method,
            path,
            &[("authorization", &self.operator())],
            body,
        )
        .await
    }

    async fn earned(&self, node: &str) -> u128 {
        let e: TerminalEarnings = get_json(
            self.addr(),
            &format!("/v1/terminals/{node}/earnings?epochs=100"),
        )
        .await;
        e.balance.as_ref().map_or(0, balance)
    }
}

/// Short epochs, one token per GiB.
fn billing() -> BillingConfig {
    BillingConfig {
        epoch_secs: 4,
        price_per_gib: meson_ledger::ONE_TOKEN,
        ..Default::default()
    }
}

async fn billed(tweak: impl FnOnce(&mut meson_router::RouterConfig)) -> Billed {
    let dir = tempfile::tempdir().unwrap();
    let (router, origin, key, _) = router_with_site(dir.path(), SITE, "keep", |c| {
        c.coverage_zones = Some(ZONES.into());
        c.billing = Some(billing());
        tweak(c);
    })
    .await;
    Billed {
        dir,
        router,
        origin,
        key,
    }
}

/// A client at `from` asks the router for `path` on the site.
async fn ask(router: SocketAddr, from: &str, path: &str) -> Got {
    let got = get_url_from(
        ip(from),
        &format!("http://{router}{path}"),
        &[("host", SITE)],
    )
    .await
    .unwrap();
    assert_eq!(got.status, 302, "{:?}", got.json());
    got
}

fn ticket_of(redirect: &Got) -> String {
    ticket_in(redirect.header("location"))
}

#[tokio::test]
async fn a_prefix_past_its_ticket_budget_is_served_by_the_origin_without_a_paid_ticket() {
    let net = billed(|c| {
        c.heartbeat = Duration::from_secs(1);
        c.prefix_budget = meson_router::budget::BudgetConfig {
            per_min: 1,
            burst: 2,
        };
    })
    .await;
    let a = net.addr();
    let body = meson_testkit::pattern(50_000, 7);
    net.origin.set("/a.bin", Resource::cacheable(body.clone()));
    let tdir = tempfile::tempdir().unwrap();
    let t = network_terminal(a, "127.0.0.10", tdir.path(), TicketPolicy::Refuse).await;
    eventually("the terminal is in rotation", || async {
        let node = standing(&t).await["node_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        !node.is_empty() && is_in_rotation(a, &node).await
    })
    .await;
    net.fund("1").await;

    // Two paid tickets for one /24, served by the terminal.
    for from in ["127.0.5.1", "127.0.5.2"] {
        let r = ask(a, from, "/a.bin").await;
        assert!(
            r.header("location")
                .starts_with(&format!("http://{}/", t.addr)),
            "{:?}",
            r.headers
        );
        assert_eq!(r.header("x-meson-limit"), "");
        let served = get_url_from(ip(from), r.header("location"), &[])
            .await
            .unwrap();
        assert_eq!((served.status, &served.body), (200, &body));
    }
    // The third client of that /24 is still served, by the origin, and told why; no ticket is issued.
    let limited = ask(a, "127.0.5.3", "/a.bin").await;
    assert_eq!(limited.header("x-meson-limit"), "prefix-budget");
    assert_eq!(
        limited.header("location"),
        format!("{}/a.bin", net.origin.url())
    );
    assert!(!limited.header("location").contains("meson_ticket"));
    let from_origin = get_url_from(ip("127.0.5.3"), limited.header("location"), &[])
        .await
        .unwrap();
    assert_eq!((from_origin.status, &from_origin.body), (200, &body));
    // Another /24 has its own budget.
    let other = ask(a, "127.0.6.1", "/a.bin").await;
    assert_eq!(other.header("x-meson-limit"), "");
    assert!(other.header("location").contains("meson_ticket="));
    let metrics = meson_testkit::get(a, "/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.lines()
            .any(|l| l.starts_with("meson_router_redirects_total{outcome=\"prefix_budget\"} ")),
        "{text}"
    );
    t.shutdown().await;
    net.router.shutdown().await;
}

/// Waits for the wall clock to reach the start of an epoch of `secs` seconds, and returns it.
async fn next_epoch(secs: u64) -> u64 {
    let epoch = now() / secs + 1;
    second_over(epoch * secs - 1).await;
    epoch
}

#[tokio::test]
async fn a_terminal_serving_itself_from_one_prefix_has_the_excess_withheld_for_review() {
    const N: u64 = 1 << 20;
    let net = billed(|c| {
        // Terminals heartbeat by hand here: a long interval keeps them in rotation for the whole test.
        c.heartbeat = Duration::from_secs(60);
        c.origin_bytes_per_sec = 0;
        c.share_cap = ShareCap {
            max_share_bps: 5_000,
            top_k: 1,
            min_bytes: 1,
        };
    })
    .await;
    let a = net.addr();
    publish_roots(a, &net.key, SITE, "/big.bin", N as usize).await;
    let honest = SigningTerminal::start().await;
    let dealer = SigningTerminal::start().await;
    assert_eq!(honest.register(a, Some("eu")).await.status, 200);
    assert_eq!(dealer.register(a, Some("na")).await.status, 200);
    net.fund("1").await;
    let billing = billing();

    // Within one epoch: the honest terminal serves four networks alike; the dealer serves its own network
    // three times and one other network once.
    let epoch = next_epoch(billing.epoch_secs).await;
    let mut records = (vec![], vec![]);
    for from in ["127.0.1.1", "127.0.2.1", "127.0.3.1", "127.0.4.1"] {
        let r = ask(a, from, "/big.bin").await;
        assert!(honest.is_target_of(r.header("location")));
        records.0.push(usage_record(&ticket_of(&r), N, 1, 0));
    }
    for from in ["127.1.1.1", "127.1.1.2", "127.1.1.3", "127.1.2.1"] {
        let r = ask(a, from, "/big.bin").await;
        assert!(dealer.is_target_of(r.header("location")));
        records.1.push(usage_record(&ticket_of(&r), N, 1, 0));
    }
    for (t, rs) in [(&honest, records.0), (&dealer, records.1)] {
        let receipt: UsageReceipt = t.usage(a, rs).await.parse();
        assert_eq!(receipt.accepted, 4, "{receipt:?}");
    }
    assert_eq!(
        now() / billing.epoch_secs,
        epoch,
        "the usage fell in one epoch"
    );

    // Settled: of the dealer's 3 MiB from its top prefix, only as much as from the rest (1 MiB) is paid.
    let settled = |b: SiteBilling| b.epochs.iter().any(|e| e.epoch == epoch && e.settled);
    eventually("the epoch settles", || async {
        settled(net.billing().await)
    })
    .await;
    let price = meson_ledger::ONE_TOKEN;
    let pay = |bytes: u64| line(bytes, price, billing.fee_bps, 10_000);
    assert_eq!(net.earned(&honest.node_id()).await, pay(4 * N).earned);
    assert_eq!(net.earned(&dealer.node_id()).await, pay(2 * N).earned);

    // The operator sees the two withheld records, from the dealer's own prefix.
    let list = net.operator_call("GET", "/v1/usage/withheld", None).await;
    assert_eq!(list.status, 200, "{:?}", list.json());
    let list: WithheldList = list.parse();
    assert_eq!(list.records.len(), 2, "{list:?}");
    for r in &list.records {
        assert_eq!(
            (r.site.as_str(), r.node_id.as_str(), r.prefix.as_str()),
            (SITE, dealer.node_id().as_str(), "127.1.1.0/24")
        );
        assert_eq!((r.bytes, r.epoch, r.state.as_str()), (N, epoch, "withheld"));
        assert!(
            r.reason
                .starts_with("prefix-share: the top 1 client prefixes sent 75.00 %"),
            "{}",
            r.reason
        );
    }
    let refused = call(
        a,
        "GET",
        "/v1/usage/withheld",
        &[("authorization", "Bearer nope")],
        None,
    )
    .await;
    assert_eq!(refused.status, 401);

    // The owner sees where its traffic came from, and what is withheld.
    let view = net.traffic(epoch, 2).await;
    assert_eq!(
        (
            view.total.tickets,
            view.total.bytes,
            view.total.withheld_bytes
        ),
        (8, 8 * N, 2 * N)
    );
    let by_node = |v: &SiteTraffic, node: &str| {
        v.terminals
            .iter()
            .find(|t| t.node_id == node)
            .unwrap()
            .traffic
            .clone()
    };
    assert_eq!(by_node(&view, &honest.node_id()).withheld_bytes, 0);
    let d = by_node(&view, &dealer.node_id());
    assert_eq!((d.tickets, d.bytes, d.withheld_bytes), (4, 4 * N, 2 * N));
    assert_eq!(view.prefixes.len(), 2);
    assert_eq!(view.prefixes[0].prefix, "127.1.1.0/24");
    assert_eq!(
        (
            view.prefixes[0].traffic.bytes,
            view.prefixes[0].traffic.withheld_bytes
        ),
        (3 * N, 2 * N)
    );
    assert_eq!((view.other_prefixes, view.other.bytes), (4, 4 * N));

    // Release one record: paid in the epoch of the release. Again: nothing more.
    let serial = list.records[0].serial;
    let path = format!("/v1/usage/withheld/{serial}");
    let release = json!({"action": "release"});
    let r: Reviewed = net
        .operator_call("POST", &path, Some(release.clone()))
        .await
        .parse();
    assert_eq!(
        (r.action, r.changed, r.bytes, r.already),
        (ReviewAction::Release, 1, N, 0)
    );
    let r: Reviewed = net
        .operator_call("POST", &path, Some(release))
        .await
        .parse();
    assert_eq!((r.changed, r.already), (0, 1));
    // Reject the rest of the dealer's epoch, twice: the released record stays paid.
    let group =
        json!({"action": "reject", "site": SITE, "node_id": dealer.node_id(), "epoch": epoch});
    for (changed, already) in [(1, 0), (0, 1)] {
        let r = net
            .operator_call("POST", "/v1/usage/withheld", Some(group.clone()))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        let r: Reviewed = r.parse();
        assert_eq!((r.changed, r.already, r.other), (changed, already, 1));
    }
    let rejected = list.records[1].serial;
    let back = net
        .operator_call(
            "POST",
            &format!("/v1/usage/withheld/{rejected}"),
            Some(json!({"action": "release"})),
        )
        .await;
    assert_eq!(back.status, 409, "a rejection is final: {:?}", back.json());
    let unknown = net
        .operator_call(
            "POST",
            "/v1/usage/withheld/12345",
            Some(json!({"action": "reject"})),
        )
        .await;
    assert_eq!(unknown.status, 404);

    eventually("the released record is paid in a later epoch", || async {
        net.earned(&dealer.node_id()).await == pay(2 * N).earned + pay(N).earned
    })
    .await;
    let view = net.traffic(epoch, 2).await;
    let d = by_node(&view, &dealer.node_id());
    assert_eq!(
        (d.tickets, d.bytes, d.withheld_bytes, d.rejected_bytes),
        (3, 3 * N, 0, N),
        "the released record counts in the epoch it was released"
    );
    assert_eq!(net.earned(&honest.node_id()).await, pay(4 * N).earned);
    // Withholding is not evidence: nothing is kept against the dealer.
    let evidence: Evidence =
        get_json(a, &format!("/v1/terminals/{}/evidence", dealer.node_id())).await;
    assert!(evidence.usage.is_empty() && evidence.audits.is_empty());
    audit(a).await;
    net.router.shutdown().await;
}
