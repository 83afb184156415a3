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

use meson_api::ledger::{SiteBilling, TerminalEarnings};
use meson_api::verification::{SlashView, TerminalAudits, TerminalSlashes};
use meson_core::identity::{NodeId, NodeKey};
use meson_core::signed::SignedMessage;
use meson_core::ticket::Ticket;
use meson_core::wire::{self, UsageBatch};
use meson_ledger::accounts::stake_account;
use meson_ledger::economics::line;
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
        get_ok(self.addr(), path).await
    }

    async fn audits(&self, node: &Node) -> TerminalAudits {
        self.get(&format!("/v1/terminals/{}/audits", node.id)).await
    }

    async fn earnings(&self, node: &Node) -> TerminalEarnings {
        self.get(&format!("/v1/terminals/{}/earnings?epochs=744", node.id))
            .await
    }

    async fn slashes(&self, node: &Node) -> Vec<SlashView> {
        let view: TerminalSlashes = self
            .get(&format!("/v1/terminals/{}/slashes", node.id))
            .await;
        view.slashes
    }

    async fn billing(&self) -> SiteBilling {
        let got = json_request(
            self.addr(),
            Some(&self.owner),
            "GET",
            &format!("/v1/sites/{SITE}/billing?epochs=744"),
            None,
        )
        .await;
        assert_eq!(got.status, 200, "{:?}", got.body);
        got.parse()
    }

    async fn balance(&self, account: u128) -> u128 {
        funds(self.addr(), account).await.0
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

async fn start_router(dir: &Path) -> RouterProc {
    let args = billed_router_args(
        EPOCH_SECS,
        &[
            "--ticket-lifetime",
            "2",
            "--audit-timeout-secs",
            "3",
            "--suspend-min-audits",
            "3",
            "--suspend-below",
            "0.9",
        ],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    RouterProc::start("127.0.0.1:0", dir, &args)
}

async fn start_terminal(router: &str, ip: &'static str, dir: PathBuf) -> Node {
    let mut cmd = network_terminal(router, ip, &dir);
    // Without the scrubber a terminal never notices what happens to its disk behind its back: the
    // corrupter keeps its damaged bytes and the dropper keeps claiming what it deleted.
    cmd.args(["--scrub-rate", "0"]);
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
    let location = r.header("location");
    assert!(
        !location.starts_with(&net.origin.url()),
        "{from} sent to the origin for {path}: billing {:?}, limit {:?}",
        r.header("x-meson-billing"),
        r.header("x-meson-limit")
    );
    location.to_owned()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tokens(amount: &str) -> u128 {
    meson_ledger::parse_amount(amount).unwrap()
}

/// One round of clients: every object once, asked by a client at `from`; which terminal served each.
/// The first `honest` terminals must serve the object's exact bytes; what a cheater sends is its own
/// business (and its audits').
async fn round(
    net: &Net,
    nodes: &[Node],
    bodies: &[bytes::Bytes],
    from: &str,
    honest: usize,
) -> Vec<usize> {
    let mut by = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let location = redirect(net, from, &format!("/o/{i}")).await;
        let k = (0..nodes.len())
            .find(|&k| served_by(&nodes[k..=k], &location).is_some())
            .unwrap_or_else(|| panic!("a redirect to none of ours: {location}"));
        let got = get_url_from(ip(from), &location, &[]).await;
        if k < honest {
            let got = got.unwrap();
            assert_eq!(got.status, 200, "{location}");
            assert_eq!(&got.body, body, "{location}");
        }
        by.push(k);
    }
    by
}

/// A ticket the router issues to one of `targets` for some object, taken by a client that never uses
/// it: the ticket and the object's number.
async fn ticket_for(
    net: &Net,
    targets: &[Node],
    clients: &mut impl Iterator<Item = String>,
) -> (String, u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let from = clients.next().unwrap();
        for i in 0..OBJECTS {
            let location = redirect(net, &from, &format!("/o/{i}")).await;
            if served_by(targets, &location).is_some() {
                let ticket = location
                    .split(['?', '&'])
                    .find_map(|p| p.strip_prefix("meson_ticket="))
                    .expect("a ticket in the redirect");
                return (ticket.to_owned(), i);
            }
        }
        assert!(Instant::now() < deadline, "no redirect to the target");
    }
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
    let shop = Shop::open(router.addr, SITE, OBJECTS, OBJECT_LEN, 40).await;
    let bodies = shop.bodies;
    let net = Net {
        router,
        router_dir,
        origin: shop.origin,
        owner: shop.owner,
    };
    let billing = net.billing().await;
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
    eventually_async("the router sees the site funded", || async {
        net.billing().await.funded
    })
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
        // One argument: a node id may begin with `-`.
        let owner = format!("--owner={}", n.id);
        net.operator(&["mint", "--id", &id, &owner, "--amount", "100"])
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
    // Each client in a /24 of its own, as clients in different places are (one prefix's paid tickets
    // are budgeted).
    let mut clients = (0u32..).map(|c| format!("127.{}.{}.1", 1 + c / 250, 1 + c % 250));
    let mut served = vec![0u64; nodes.len()];
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        for k in round(&net, &nodes, &bodies, &clients.next().unwrap(), 5).await {
            served[k] += 1;
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

    // The inflater takes a real ticket the router issued to it (its client never uses it), and waits until
    // the epoch the ticket expired in is settled with the inflater paid for real bytes in it.
    let (corrupter, dropper, inflater) = (&nodes[2], &nodes[3], &nodes[4]);
    let router_id: NodeId = net.router.id.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let (ticket, object, paid_epoch) = 'ticket: loop {
        assert!(
            Instant::now() < deadline,
            "the inflater was never paid in a ticket's epoch"
        );
        let (ticket, object) = ticket_for(&net, &nodes[4..], &mut clients).await;
        let expires = Ticket::verify_issuer(&ticket, &router_id, inflater.key().id().short_id())
            .unwrap()
            .expires;
        let epoch = expires / EPOCH_SECS;
        while meson_node::unix_now() / EPOCH_SECS <= epoch + 3 {
            round(&net, &nodes, &bodies, &clients.next().unwrap(), 5).await;
            let view = net.earnings(inflater).await;
            if let Some(e) = view.epochs.iter().find(|e| e.epoch == epoch && e.settled) {
                if tokens(&e.earned) > 0 {
                    break 'ticket (ticket, object, e.clone());
                }
                break;
            }
        }
    };

    // The cheating starts.
    let cheat_epoch = meson_node::unix_now() / EPOCH_SECS;
    for f in body_files(&corrupter.dir) {
        for at in (0..OBJECT_LEN as u64).step_by(16 * 1024) {
            flip_byte(&f, at + 100);
        }
    }
    for f in body_files(&dropper.dir) {
        std::fs::remove_file(f).unwrap();
    }
    // A record for the unused ticket, signed with the inflater's own node key, claiming 10^15 bytes of the
    // 64 KiB object for the version the origin serves.
    let origin_copy = get_url_from(
        ip("127.0.0.1"),
        &format!("{}/o/{object}", net.origin.url()),
        &[],
    )
    .await
    .unwrap();
    let version = origin_copy.header("etag").to_owned();
    let mut record = usage_record(&ticket, 1_000_000_000_000_000, 1, 0);
    record.version = Some(version);
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
            records: vec![record],
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

    // Traffic goes on, and within a bounded number of epochs every cheater is out of rotation: those with
    // objective evidence against them for good, the dropper (no evidence: a crash looks the same) until
    // its audits recover. The honest terminals stay in, and every byte they serve is the object's.
    let deadline = (cheat_epoch + CAUGHT_WITHIN) * EPOCH_SECS;
    loop {
        assert!(
            meson_node::unix_now() < deadline,
            "not every cheater caught within {CAUGHT_WITHIN} epochs"
        );
        round(&net, &nodes, &bodies, &clients.next().unwrap(), 2).await;
        let standings = [
            net.audits(corrupter).await.standing,
            net.audits(dropper).await.standing,
            net.audits(inflater).await.standing,
        ];
        // Each pass is a round of real traffic, which paces the polling.
        if standings == ["disqualified", "suspended", "disqualified"] {
            break;
        }
    }
    for n in &nodes[..2] {
        let view = net.audits(n).await;
        assert_eq!(view.standing, "vetted", "{view:?}");
    }

    // Clients stop; every epoch with usage settles.
    eventually_async("every epoch with usage is settled", || async {
        let mut all = true;
        for n in &nodes {
            all &= net.earnings(n).await.epochs.iter().all(|e| e.settled);
        }
        all
    })
    .await;

    // Slashed once per piece of evidence, refunds first; nobody else loses anything.
    let slash_tokens = 10 * meson_ledger::ONE_TOKEN;
    let price = 1000 * meson_ledger::ONE_TOKEN;
    let mut refunded = 0;
    for (k, n) in nodes.iter().enumerate() {
        let slashes = net.slashes(n).await;
        let stake = net.balance(stake_account(n.key().id().as_bytes())).await;
        let taken: u128 = slashes.iter().map(|x| tokens(&x.slashed)).sum();
        assert_eq!(stake, staked - taken, "{}: {slashes:?}", n.id);
        refunded += slashes.iter().map(|x| tokens(&x.refunded)).sum::<u128>();
        match k {
            0 | 1 | 3 => assert!(slashes.is_empty(), "{}: {slashes:?}", n.id),
            2 => {
                assert!(!slashes.is_empty());
                for x in &slashes {
                    assert_eq!(x.kind, "audit_failed", "{x:?}");
                    assert_eq!(x.outcome.as_deref(), Some("slashed"), "{x:?}");
                    assert_eq!(tokens(&x.slashed), slash_tokens, "{x:?}");
                    // Its epoch was not settled when the evidence came: not paid at all, nothing to refund.
                    assert_eq!(tokens(&x.refunded), 0, "{x:?}");
                    let epochs = net.earnings(n).await.epochs;
                    let unpaid = epochs.iter().find(|e| e.epoch == x.epoch);
                    assert!(unpaid.is_none_or(|e| tokens(&e.earned) == 0), "{unpaid:?}");
                }
            }
            _ => {
                let [x] = &slashes[..] else {
                    panic!("one piece of evidence against the inflater: {slashes:?}")
                };
                assert_eq!(x.kind, "usage_over_size", "{x:?}");
                assert_eq!(x.outcome.as_deref(), Some("slashed"), "{x:?}");
                assert_eq!(x.first_epoch, paid_epoch.epoch);
                // The site gets back exactly what it paid for the inflater's bytes of that epoch: the
                // fee burned and the payout.
                let fee = line(paid_epoch.bytes, price, 2_000, 10_000).fee;
                let paid = tokens(&paid_epoch.earned) + fee;
                assert_eq!(tokens(&x.refunded), paid, "{x:?} {paid_epoch:?}");
                assert_eq!(tokens(&x.slashed), slash_tokens.max(paid), "{x:?}");
            }
        }
    }
    assert!(refunded > 0);
    // The site's escrow: what was minted, less what every settled epoch charged, plus the refunds.
    let billing = net.billing().await;
    let spent: u128 = billing.epochs.iter().map(|e| tokens(&e.spent)).sum();
    assert!(billing.epochs.iter().all(|e| e.settled), "{billing:?}");
    assert_eq!(
        net.balance(escrow).await,
        1000 * meson_ledger::ONE_TOKEN - spent + refunded
    );

    let mut verify = command();
    verify.args(["ledger", "verify", "--router", &net.url()]);
    let out = run(verify).await;
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
}
