//! A real router on 127.0.0.1:0 with SQLite in a temp dir, and what the router tests share beside
//! `meson-testkit` (its HTTP client and its [`SigningTerminal`]: real node keys signing real wire messages,
//! each with a real HTTP server answering the health path).

#![allow(dead_code)] // each test binary uses a different part of the kit

pub mod hunt;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use meson_api::accounts::AccountCreated;
use meson_api::ledger::{AccountView, LedgerHead, LogPage};
use meson_api::terminals::{TerminalList, TerminalView};
use meson_router::{Router, RouterConfig};
use serde_json::Value;

#[allow(unused_imports)] // each test binary uses a different part of the kit
pub use meson_testkit::{call, get_json, unix_now as now, Got, SigningTerminal, WAIT};

pub async fn start(dir: &std::path::Path, tweak: impl FnOnce(&mut RouterConfig)) -> Router {
    let mut cfg = RouterConfig::new("127.0.0.1:0".parse().unwrap(), dir);
    cfg.probe_timeout = Duration::from_millis(500);
    tweak(&mut cfg);
    Router::start(cfg).await.expect("router starts")
}

/// The registry entry of `node`, as `GET /v1/terminals` shows it, if it is registered.
pub async fn terminal_view(router: SocketAddr, node: &str) -> Option<TerminalView> {
    get_json::<TerminalList>(router, "/v1/terminals")
        .await
        .terminals
        .into_iter()
        .find(|t| t.node_id == node)
}

/// Whether `node` is registered and clients are sent to it.
pub async fn is_in_rotation(router: SocketAddr, node: &str) -> bool {
    terminal_view(router, node)
        .await
        .is_some_and(|t| t.in_rotation)
}

#[allow(unused_imports)] // not every test binary polls
pub use meson_testkit::eventually_async as eventually;

/// An account and its API key.
pub async fn account(router: SocketAddr) -> String {
    let resp = call(
        router,
        "POST",
        "/v1/accounts",
        &[],
        Some(serde_json::json!({"name": "acme"})),
    )
    .await;
    assert_eq!(resp.status, 201, "{:?}", resp.json());
    resp.parse::<AccountCreated>().api_key
}

pub async fn add_site(router: SocketAddr, key: &str, host: &str, query_mode: &str) -> Got {
    add_site_for(router, key, host, "http://127.0.0.1:9", query_mode).await
}

pub async fn add_site_for(
    router: SocketAddr,
    key: &str,
    host: &str,
    origin: &str,
    query_mode: &str,
) -> Got {
    call(
        router,
        "POST",
        "/v1/sites",
        &[("authorization", &format!("Bearer {key}"))],
        Some(serde_json::json!({
            "host": host, "origin": origin, "query_mode": query_mode
        })),
    )
    .await
}

/// A router configured by `tweak`, a real origin, an account, and the account's site `host` in front of
/// the origin with query mode `mode`: the router, the origin, the API key and the site's id.
pub async fn router_with_site(
    dir: &std::path::Path,
    host: &str,
    mode: &str,
    tweak: impl FnOnce(&mut RouterConfig),
) -> (Router, meson_testkit::Origin, String, u64) {
    let router = start(dir, tweak).await;
    let origin = meson_testkit::Origin::start().await;
    let key = account(router.addr).await;
    let site = add_site_for(router.addr, &key, host, &origin.url(), mode).await;
    assert_eq!(site.status, 201, "{:?}", site.json());
    let site_id = site.parse::<meson_api::SiteInfo>().id;
    (router, origin, key, site_id)
}

/// Base units of a token amount the router sent (`"1.5"`).
pub fn tokens(amount: &str) -> u128 {
    meson_ledger::parse_amount(amount).unwrap()
}

/// Base units of an account's balance.
pub fn balance(account: &AccountView) -> u128 {
    tokens(account.balance.as_deref().expect("a balance"))
}

/// Replays the router's published log as an auditor would and checks it against the signed head.
pub async fn audit(router: SocketAddr) -> meson_ledger::audit::Replay {
    let LedgerHead(head) = get_json(router, "/v1/ledger/head").await;
    head.verify(None).unwrap();
    let log: LogPage = get_json(router, "/v1/ledger/log?after=0").await;
    let mut r = meson_ledger::audit::Replay::new();
    for e in &log.entries {
        r.push(e.seq, &e.prev_hash.0, &e.hash.0, &e.body).unwrap();
    }
    r.matches(&head.head).unwrap();
    r
}

/// A 127.0.0.x address standing in for a place.
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A network-mode terminal listening on `listen_ip`, joined to `router`.
pub async fn network_terminal(
    router: SocketAddr,
    listen_ip: &str,
    dir: &std::path::Path,
    policy: meson_terminal::network::sites::TicketPolicy,
) -> meson_terminal::Terminal {
    network_terminal_with(router, listen_ip, dir, policy, |_| {}).await
}

/// [`network_terminal`] with its configuration changed by `tweak`.
pub async fn network_terminal_with(
    router: SocketAddr,
    listen_ip: &str,
    dir: &std::path::Path,
    policy: meson_terminal::network::sites::TicketPolicy,
    tweak: impl FnOnce(&mut meson_terminal::TerminalConfig),
) -> meson_terminal::Terminal {
    let mut cfg = meson_terminal::TerminalConfig::new(
        "http://unused.invalid".parse().unwrap(),
        dir.to_path_buf(),
    );
    cfg.listen = format!("{listen_ip}:0").parse().unwrap();
    cfg.admin_listen = "127.0.0.1:0".parse().unwrap();
    cfg.fsync = meson_terminal::config::FsyncPolicy::Never;
    cfg.min_free_disk = 0;
    cfg.timeouts.shutdown_grace = Duration::from_secs(5);
    tweak(&mut cfg);
    let net = meson_terminal::network::NetworkConfig {
        router: format!("http://{router}"),
        public_url: None,
        region: None,
        lat: None,
        lon: None,
        ticket_policy: policy,
        call_timeout: Duration::from_secs(5),
    };
    meson_terminal::Terminal::start_network(cfg, net)
        .await
        .expect("terminal starts")
}

/// The terminal's own view of its standing in the network (its admin API).
pub async fn standing(t: &meson_terminal::Terminal) -> Value {
    let token = meson_testkit::admin_token(&t.cache.config().data_dir);
    let got =
        meson_testkit::admin_request(t.admin_addr, &token, "GET", "/v1/admin/network", None).await;
    assert_eq!(got.status, 200);
    got.json()
}

/// Waits until the router knows `path` on the site `host` (from its own origin fetch or its owner, whose
/// API key is `key`); what it knows of its latest version.
pub async fn learned(
    router: SocketAddr,
    key: &str,
    host: &str,
    path: &str,
) -> meson_api::verification::KnownObject {
    let known = || async {
        call(
            router,
            "GET",
            &format!("/v1/sites/{host}/roots"),
            &[("authorization", &format!("Bearer {key}"))],
            None,
        )
        .await
        .parse::<meson_api::verification::KnownObjects>()
        .objects
        .into_iter()
        .find(|o| o.path == path)
    };
    meson_testkit::eventually_async(&format!("the router learned {path}"), || async {
        known().await.is_some()
    })
    .await;
    known().await.unwrap()
}

/// The operator's `Authorization` header for the router whose data directory is `dir`.
pub fn operator(dir: &std::path::Path) -> String {
    let token = std::fs::read_to_string(dir.join("operator.token")).unwrap();
    format!("Bearer {}", token.trim())
}

/// Mints `tokens` whole tokens to the wallet of `key` (as the operator of the router whose data directory
/// is `dir`), and stakes them all with that key, as a terminal's operator does.
pub async fn stake(
    router: SocketAddr,
    dir: &std::path::Path,
    key: &meson_core::identity::NodeKey,
    tokens: u128,
) {
    use meson_ledger::tx::{Tx, TxAction, TX};
    let node = key.id().to_string();
    let id = (rand::random::<u64>() | 1).to_string();
    let minted = call(
        router,
        "POST",
        "/v1/ledger/mint",
        &[("authorization", &operator(dir))],
        Some(serde_json::json!({"id": id, "owner": node, "amount": tokens.to_string()})),
    )
    .await;
    assert_eq!(minted.status, 200, "{:?}", minted.json());
    let tx = Tx {
        network: "meson-dev".into(),
        nonce: 1,
        expires: now() + 60,
        action: TxAction::Stake {
            amount: tokens * meson_ledger::ONE_TOKEN,
        },
    };
    let signed =
        meson_core::signed::SignedMessage::sign(key, TX, now(), rand::random(), &tx).unwrap();
    let staked = call(
        router,
        "POST",
        "/v1/ledger/tx",
        &[],
        Some(serde_json::json!(signed)),
    )
    .await;
    assert_eq!(staked.status, 200, "{:?}", staked.json());
    assert_eq!(
        stake_of(router, key).await,
        tokens * meson_ledger::ONE_TOKEN
    );
}

/// Base units at stake for `key`.
pub async fn stake_of(router: SocketAddr, key: &meson_core::identity::NodeKey) -> u128 {
    let a: AccountView = get_json(
        router,
        &format!(
            "/v1/ledger/accounts/{}",
            meson_ledger::accounts::stake_account(key.id().as_bytes())
        ),
    )
    .await;
    balance(&a)
}

/// The objective evidence against terminal `node` and how each slash went, newest first.
pub async fn slashes_of(router: SocketAddr, node: &str) -> Vec<meson_api::verification::SlashView> {
    get_json::<meson_api::verification::TerminalSlashes>(
        router,
        &format!("/v1/terminals/{node}/slashes"),
    )
    .await
    .slashes
}
