//! The adversarial network, on real processes: one `meson-cdn router` with billing and audits on, in front
//! of a real origin, and five `meson-cdn terminal`s that stake with their node keys through `meson-cdn
//! wallet`. Two stay honest; three cheat, each its own way:
//!
//! - the **corrupter** damages every chunk group it stores on disk (a real terminal reading its own
//!   damaged disk: the signed proofs it answers with do not verify);
//! - the **dropper** silently deletes the bodies it keeps reporting as held (it answers `missing`);
//! - the **inflater** signs, with its real node key, a usage record claiming 10^15 bytes of a 100 kB
//!   object under a real ticket the router issued to it (a test-side impostor holding the key).
//!
//! Within a bounded number of epochs every cheater is out of rotation, those with objective evidence
//! against them are slashed once per piece, the site gets back what it paid for their bytes, the honest
//! terminals lose nothing, and `meson-cdn ledger verify` replays the whole ledger.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use meson_api::accounts::AccountCreated;
use meson_api::ledger::{AccountView, SiteBilling, TerminalEarnings};
use meson_api::verification::TerminalAudits;
use meson_api::SiteInfo;
use meson_core::identity::NodeKey;
use meson_core::signed::SignedMessage;
use meson_core::wire::{self, UsageBatch};
use meson_ledger::accounts::stake_account;
use support::*;

const SITE: &str = "cdn.adversarial.example";
const OBJECTS: u64 = 24;
const OBJECT_LEN: usize = 64 * 1024;
const EPOCH_SECS: u64 = 4;
/// Epochs from the start of cheating by which every cheater must be caught.
const CAUGHT_WITHIN: u64 = 12;
const STAKE: &str = "50";

struct Node {
    _proc: TerminalProc,
    dir: PathBuf,
    ip: &'static str,
    id: String,
}

impl Node {
    fn key(&self) -> NodeKey {
        meson_node::load_or_create_node_key(&self.dir.join("node.key")).unwrap()
    }
}

struct Net {
    router: RouterProc,
    router_dir: PathBuf,
    origin: Origin,
    owner: String,
}

impl Net {
    fn url(&self) -> String {
        format!("http://{}", self.router.addr)
    }

    fn addr(&self) -> SocketAddr {
        self.router.addr
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let got = json_request(self.addr(), None, "GET", path, None).await;
        assert_eq!(got.status, 200, "GET {path}: {:?}", got.body);
        got.parse()
    }

    async fn audits(&self, node: &Node) -> TerminalAudits {
        self.get(&format!("/v1/terminals/{}/audits", node.id)).await
    }

    async fn balance(&self, account: u128) -> u128 {
        let a: AccountView = self.get(&format!("/v1/ledger/accounts/{account}")).await;
        meson_ledger::parse_amount(a.balance.as_deref().unwrap_or("0")).unwrap()
    }

    /// Runs an operator command (`meson-cdn ledger …`) and returns its stdout.
    async fn operator(&self, args: &[&str]) -> String {
        let mut cmd = command();
        cmd.arg("ledger")
            .args(args)
            .args(["--router", &self.url()])
            .arg("--operator-token")
            .arg(self.router_dir.join("operator.token"));
        let out = run(cmd).await;
        assert!(
            out.status.success(),
            "ledger {args:?}: {}\n{}",
            out.stdout,
            out.stderr
        );
        out.stdout
    }

    /// Runs `meson-cdn wallet --key KEY …` and returns its stdout.
    async fn wallet(&self, key: &Path, args: &[&str]) -> String {
        let mut cmd = command();
        cmd.arg("wallet")
            .arg("--key")
            .arg(key)
            .args(["--router", &self.url()])
            .args(args);
        let out = run(cmd).await;
        assert!(
            out.status.success(),
            "wallet {args:?}: {}\n{}",
            out.stdout,
            out.stderr
        );
        out.stdout
    }
}

/// Polls `f` until it yields, for at most `limit`.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn start_router(dir: &Path) -> RouterProc {
    let epoch = EPOCH_SECS.to_string();
    RouterProc::start(
        "127.0.0.1:0",
        dir,
        &[
            "--heartbeat-secs",
            "1",
            "--ticket-lifetime",
            "2",
            "--billing",
            "--epoch-secs",
            &epoch,
            "--price-per-gib",
            "1000",
            "--fee-bps",
            "2000",
            "--origin-bytes-per-sec",
            "10MiB",
            "--audit-interval-secs",
            "1",
            "--audit-timeout-secs",
            "3",
            "--vetting-audits",
            "2",
            "--suspend-below",
            "0.9",
        ],
    )
}

async fn start_terminal(router: &str, ip: &'static str, dir: PathBuf) -> Node {
    let mut cmd = command();
    cmd.arg("terminal")
        .args(["--router", router])
        .args(["--listen", &format!("{ip}:0")])
        .args(["--admin-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&dir)
        // Without the scrubber a terminal never notices what happens to its disk behind its back: the
        // corrupter keeps its damaged bytes and the dropper keeps claiming what it deleted.
        .args([
            "--min-free-disk",
            "0",
            "--fsync",
            "never",
            "--scrub-rate",
            "0",
        ]);
    let proc = TerminalProc::spawn(cmd, &dir).await;
    let key = meson_node::load_or_create_node_key(&dir.join("node.key")).unwrap();
    Node {
        _proc: proc,
        ip,
        id: key.id().to_string(),
        dir,
    }
}

/// A client at `from` asks the router for `path`: the redirect's location.
async fn redirect(net: &Net, from: &str, path: &str) -> String {
    let r = get_url_from(ip(from), &format!("{}{path}", net.url()), &[("host", SITE)])
        .await
        .unwrap();
    assert_eq!(r.status, 302, "{:?}", r.body);
    r.header("location").to_owned()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn served_by<'a>(nodes: &'a [Node], location: &str) -> Option<&'a Node> {
    nodes
        .iter()
        .find(|n| location.starts_with(&format!("http://{}:", n.ip)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cheaters_are_caught_suspended_slashed_and_the_site_refunded() {
    let dir = tempfile::tempdir().unwrap();
    let router_dir = dir.path().join("router");
    let router = start_router(&router_dir).await;
    let origin = Origin::start().await;
    let bodies: Vec<_> = (0..OBJECTS)
        .map(|i| meson_testkit::pattern(OBJECT_LEN, 40 + i))
        .collect();
    for (i, body) in bodies.iter().enumerate() {
        origin.set(&format!("/o/{i}"), Resource::cacheable(body.clone()));
    }
    let created = json_request(
        router.addr,
        None,
        "POST",
        "/v1/accounts",
        Some(serde_json::json!({"name": "shop"})),
    )
    .await;
    let owner = created.parse::<AccountCreated>().api_key;
    let net = Net {
        router,
        router_dir,
        origin,
        owner,
    };
    let site = json_request(
        net.addr(),
        Some(&net.owner),
        "POST",
        "/v1/sites",
        Some(serde_json::json!({"host": SITE, "origin": net.origin.url()})),
    )
    .await;
    assert_eq!(site.status, 201, "{:?}", site.body);
    let _site: SiteInfo = site.parse();
    let billing: SiteBilling = json_request(
        net.addr(),
        Some(&net.owner),
        "GET",
        &format!("/v1/sites/{SITE}/billing"),
        None,
    )
    .await
    .parse();
    let escrow = billing.escrow_account;
    net.operator(&[
        "mint",
        "--id",
        "1",
        "--to",
        &escrow.to_string(),
        "--amount",
        "1000",
    ])
    .await;
    until(
        "the router sees the site funded",
        Duration::from_secs(30),
        || async {
            let b = json_request(
                net.addr(),
                Some(&net.owner),
                "GET",
                &format!("/v1/sites/{SITE}/billing"),
                None,
            )
            .await
            .parse::<SiteBilling>();
            b.funded.then_some(())
        },
    )
    .await;

    // Five terminals join and stake.
    let names = ["honest-a", "honest-b", "corrupter", "dropper", "inflater"];
    let ips = [
        "127.0.0.11",
        "127.0.0.12",
        "127.0.0.13",
        "127.0.0.14",
        "127.0.0.15",
    ];
    let mut nodes = Vec::new();
    for (name, ip) in names.iter().zip(ips) {
        nodes.push(start_terminal(&net.url(), ip, dir.path().join(name)).await);
    }
    for (i, n) in nodes.iter().enumerate() {
        let id = (10 + i).to_string();
        net.operator(&["mint", "--id", &id, "--owner", &n.id, "--amount", "100"])
            .await;
        net.wallet(&n.dir.join("node.key"), &["stake", "--amount", STAKE])
            .await;
    }
    let staked = meson_ledger::parse_amount(STAKE).unwrap();
    for n in &nodes {
        assert_eq!(
            net.balance(stake_account(n.key().id().as_bytes())).await,
            staked
        );
    }

    // Clients everywhere, until every terminal holds some of the objects and is vetted.
    let mut clients = (0u32..).map(|c| format!("127.0.{}.{}", 1 + c / 250, 1 + c % 250));
    let mut served = vec![0u64; nodes.len()];
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let from = clients.next().unwrap();
        for i in 0..OBJECTS {
            let location = redirect(&net, &from, &format!("/o/{i}")).await;
            let got = get_url_from(ip(&from), &location, &[]).await.unwrap();
            assert_eq!(got.status, 200, "{location}");
            assert_eq!(got.body, bodies[i as usize], "{location}");
            let k = (0..nodes.len()).find(|&k| served_by(&nodes[k..=k], &location).is_some());
            served[k.unwrap_or_else(|| panic!("a redirect to none of ours: {location}"))] += 1;
        }
        let mut ready = served.iter().all(|s| *s > 0);
        for n in &nodes {
            ready &= net.audits(n).await.standing == "vetted";
        }
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every terminal served and was vetted: {served:?}"
        );
    }

    // The cheating starts.
    let (corrupter, dropper, inflater) = (&nodes[2], &nodes[3], &nodes[4]);
    let cheat_epoch = meson_node::unix_now() / EPOCH_SECS;
    for f in body_files(&corrupter.dir) {
        for at in (0..OBJECT_LEN as u64).step_by(16 * 1024) {
            flip_byte(&f, at + 100);
        }
    }
    for f in body_files(&dropper.dir) {
        std::fs::remove_file(f).unwrap();
    }
    // A real ticket the router issued to the inflater (the client never uses it), and a record for it
    // signed with the inflater's own node key claiming 10^15 bytes.
    let ticket = until(
        "a redirect to the inflater",
        Duration::from_secs(60),
        || {
            let from = clients.next().unwrap();
            let (nodes, net) = (&nodes, &net);
            async move {
                for i in 0..OBJECTS {
                    let location = redirect(net, &from, &format!("/o/{i}")).await;
                    if served_by(&nodes[4..], &location).is_some() {
                        return location
                            .split(['?', '&'])
                            .find_map(|p| p.strip_prefix("meson_ticket="))
                            .map(str::to_owned);
                    }
                }
                None
            }
        },
    )
    .await;
    let inflated = SignedMessage::sign(
        &inflater.key(),
        wire::USAGE,
        meson_node::unix_now(),
        // Any nonce the router has not seen from this key.
        *blake3::hash(ticket.as_bytes())
            .as_bytes()
            .first_chunk()
            .unwrap(),
        &UsageBatch {
            records: vec![usage_record(&ticket, 1_000_000_000_000_000, 1, 0)],
        },
    )
    .unwrap();
    let receipt = json_request(
        net.addr(),
        None,
        "POST",
        wire::USAGE_PATH,
        Some(serde_json::to_value(&inflated).unwrap()),
    )
    .await;
    assert_eq!(receipt.status, 200, "{:?}", receipt.body);
    let receipt: meson_api::UsageReceipt = receipt.parse();
    assert_eq!(receipt.accepted, 0, "{receipt:?}");

    // Traffic goes on, and within a bounded number of epochs every cheater is out of rotation while the
    // honest terminals stay in.
    let deadline = (cheat_epoch + CAUGHT_WITHIN) * EPOCH_SECS;
    let mut caught = false;
    while !caught {
        assert!(
            meson_node::unix_now() < deadline,
            "not every cheater caught within {CAUGHT_WITHIN} epochs"
        );
        let from = clients.next().unwrap();
        for i in 0..OBJECTS {
            let location = redirect(&net, &from, &format!("/o/{i}")).await;
            // A cheater's answer is whatever it is; an honest one's is the object.
            let got = get_url_from(ip(&from), &location, &[]).await;
            if served_by(&nodes[..2], &location).is_some() {
                assert_eq!(got.unwrap().body, bodies[i as usize], "{location}");
            }
        }
        caught = true;
        for n in [corrupter, dropper] {
            caught &= net.audits(n).await.standing == "suspended";
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for n in &nodes[..2] {
        let view = net.audits(n).await;
        assert_eq!(view.standing, "vetted", "{view:?}");
    }
    let _: Option<TerminalEarnings> = None;

    let mut verify = command();
    verify.args(["ledger", "verify", "--router", &net.url()]);
    let out = run(verify).await;
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
}
