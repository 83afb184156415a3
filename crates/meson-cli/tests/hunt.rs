//! Hunters and the council, on real processes: one `meson-cdn router` with billing and audits on, in
//! front of a real origin; two honest `meson-cdn terminal`s and one that cheats the way audits cannot
//! see: a real terminal behind a proxy that corrupts what it sends to every client but the router's own
//! address, so the router's audits pass while clients get damaged bytes. Four council members, elected
//! by stake-weighted ballots (the fourth holds the cheater's own key), run `meson-cdn council run`.
//!
//! A `meson-cdn hunter` probing like a client finds the cheater and files a bonded claim with its record;
//! three members re-probe and vote, the fourth recuses; two thirds uphold it; once the appeal window has
//! passed, the cheater's stake is slashed (refunds to the site first), the hunter paid and its bond
//! returned. Then a liar files a forged record against an honest terminal: the council re-probes, finds
//! it sound and rejects it; the liar appeals and loses again, and its bond goes to the treasury. Every
//! balance is asserted exactly, and `meson-cdn claim verify` re-runs every check of both claims.

mod support;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use meson_api::claims::{ClaimDetail, ClaimList, Outcome, PhaseName};
use meson_api::council::CouncilView;
use meson_api::ledger::{History, SiteBilling, TerminalEarnings};
use meson_api::verification::TerminalAudits;
use meson_core::identity::NodeId;
use meson_core::probe::{self, Record};
use meson_ledger::accounts::{stake_account, wallet_account, TREASURY};
use meson_ledger::economics::{line, split_slash, SlashShares};
use meson_ledger::{parse_amount, TransferCode, ONE_TOKEN};
use support::*;

const SITE: &str = "cdn.hunt.example";
const OBJECTS: u64 = 12;
const OBJECT_LEN: usize = 48 * 1024;
const EPOCH_SECS: u64 = 4;
const TERM_SECS: u64 = 20;
/// Long enough for the epochs of the hunter's probes to be settled before the verdict executes, so the
/// site is refunded what it paid for the cheater's bytes in them.
const APPEAL_SECS: u64 = 25;
const BOND: &str = "5";
/// The hunters' and members' client addresses, each in a /24 of its own.
const HUNTER_IPS: [&str; 2] = ["127.70.0.1", "127.71.0.1"];
const LIAR_IP: &str = "127.72.0.1";
const MEMBER_IPS: [&str; 4] = ["127.80.0.1", "127.81.0.1", "127.82.0.1", "127.83.0.1"];

fn tokens(text: &str) -> u128 {
    parse_amount(text).unwrap()
}

struct Net {
    router: RouterProc,
    router_dir: PathBuf,
    owner: String,
    dir: PathBuf,
}

impl Net {
    fn url(&self) -> String {
        format!("http://{}", self.router.addr)
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        get_ok(self.router.addr, path).await
    }

    async fn balance(&self, account: u128) -> u128 {
        funds(self.router.addr, account).await.0
    }

    /// What the account can spend: its balance less what is reserved.
    async fn available(&self, account: u128) -> u128 {
        funds(self.router.addr, account).await.1
    }

    async fn billing(&self) -> SiteBilling {
        let got = json_request(
            self.router.addr,
            Some(&self.owner),
            "GET",
            &format!("/v1/sites/{SITE}/billing?epochs=744"),
            None,
        )
        .await;
        assert_eq!(got.status, 200, "{:?}", got.body);
        got.parse()
    }

    async fn claim(&self, id: &str) -> ClaimDetail {
        self.get(&format!("/v1/claims/{id}")).await
    }

    /// Runs `meson-cdn ARGS… --router URL` to completion; its stdout.
    async fn cli(&self, args: &[&str]) -> String {
        cli(&self.url(), args).await
    }

    async fn mint(&self, id: u64, owner: &str, amount: &str) {
        let token = self.router_dir.join("operator.token");
        let id = id.to_string();
        self.cli(&[
            "ledger",
            "mint",
            "--operator-token",
            token.to_str().unwrap(),
            "--id",
            &id,
            &format!("--owner={owner}"),
            "--amount",
            amount,
        ])
        .await;
    }

    /// A new wallet key under the test's directory: its path and public key.
    async fn wallet(&self, name: &str) -> (PathBuf, String) {
        let key = self.dir.join(format!("{name}.key"));
        let mut cmd = command();
        cmd.args(["wallet", "new", "--key"]).arg(&key);
        assert!(run(cmd).await.status.success());
        (key.clone(), key_id(&key))
    }
}

fn key_id(path: &Path) -> String {
    meson_node::load_or_create_node_key(path)
        .unwrap()
        .id()
        .to_string()
}

/// The corrupting front of the cheater: forwards every request to the real terminal behind it (from the
/// client's own address, as a kernel-level forward would), and
/// damages one byte of every successful body it sends to any client but `honest_to` (the router's
/// address, from which audits and health probes come).
#[derive(Clone)]
struct Front {
    upstream: Arc<Mutex<Option<SocketAddr>>>,
    honest_to: IpAddr,
}

async fn front(
    State(f): State<Front>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let upstream = f
        .upstream
        .lock()
        .unwrap()
        .expect("the terminal behind is up");
    let url = format!(
        "http://{upstream}{}",
        req.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter(|(k, _)| *k != "host")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let method = req.method().as_str().to_owned();
    let body = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(e) => return (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    // From the client's own address, so the terminal checks the ticket against the client as usual.
    let got = match request_from(peer.ip(), &method, &url, &headers, body).await {
        Ok(g) => g,
        Err(e) => return (axum::http::StatusCode::BAD_GATEWAY, e).into_response(),
    };
    let mut body = got.body.to_vec();
    if got.status == 200 && peer.ip() != f.honest_to && !body.is_empty() {
        let at = body.len() / 2;
        body[at] ^= 0x5a;
    }
    let mut resp = Response::new(axum::body::Body::from(body));
    *resp.status_mut() = axum::http::StatusCode::from_u16(got.status).unwrap();
    for (k, v) in &got.headers {
        if k != "content-length" && k != "transfer-encoding" && k != "connection" {
            resp.headers_mut().append(k.clone(), v.clone());
        }
    }
    resp
}

/// Starts the front on `ip`, forwarding to nothing yet; its address and the slot for the upstream.
async fn start_front(ip: &str, honest_to: IpAddr) -> (SocketAddr, Arc<Mutex<Option<SocketAddr>>>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = Arc::new(Mutex::new(None));
    let app = axum::Router::new().fallback(front).with_state(Front {
        upstream: upstream.clone(),
        honest_to,
    });
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (addr, upstream)
}

struct Node {
    _proc: TerminalProc,
    dir: PathBuf,
    id: String,
    /// Where clients reach it (for the cheater, its front).
    public: String,
}

async fn start_terminal(net: &Net, name: &str, ip: &str, public: Option<SocketAddr>) -> Node {
    let dir = net.dir.join(name);
    let mut cmd = network_terminal(&net.url(), ip, &dir);
    if let Some(p) = public {
        cmd.args(["--public-url", &format!("http://{p}")]);
    }
    let proc = TerminalProc::spawn(cmd, &dir).await;
    let public = public.map_or(format!("http://{}", proc.addr), |p| format!("http://{p}"));
    Node {
        id: key_id(&dir.join("node.key")),
        _proc: proc,
        dir,
        public,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Where the router sends a client at `from` for object `i`.
async fn redirect(net: &Net, from: &str, i: u64) -> String {
    let r = get_url_from(ip(from), &format!("{}/s/{SITE}/o/{i}", net.url()), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 302, "{:?}", r.body);
    r.header("location").to_owned()
}

/// Locks council stake for `term` with each member's key, and has every member approve every member.
/// Runs `meson-cdn ARGS… --router ROUTER`, which must succeed; its stdout.
async fn cli(router: &str, args: &[&str]) -> String {
    let mut cmd = command();
    cmd.args(args).args(["--router", router]);
    let out = run(cmd).await;
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        out.stdout,
        out.stderr
    );
    out.stdout
}

/// Locks council stake for `term` with each member's key, and has every member approve every member.
async fn elect(router: &str, members: &[PathBuf], ids: &[String], term: u64) {
    let term = term.to_string();
    let candidates: Vec<String> = ids.iter().map(|id| format!("--candidate={id}")).collect();
    for key in members {
        let key = key.to_str().unwrap();
        let stake = [
            "wallet",
            "--key",
            key,
            "council-stake",
            "--term",
            &term,
            "--amount",
            "10",
        ];
        cli(router, &stake).await;
        let mut ballot = vec!["council", "--key", key, "ballot", "--term", &term];
        ballot.extend(candidates.iter().map(String::as_str));
        cli(router, &ballot).await;
    }
}

fn council_proc(net: &Net, key: &Path, source: &str) -> std::process::Child {
    command()
        .args(["council", "--router", &net.url(), "--key"])
        .arg(key)
        .args([
            "run",
            "--source",
            source,
            "--interval-secs",
            "1",
            "--probes",
            "3",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

struct Kill(Vec<std::process::Child>);

impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hunter_catches_what_audits_miss_and_the_council_judges_true_and_false_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let router_dir = dir.join("router");
    let term = TERM_SECS.to_string();
    let appeal = APPEAL_SECS.to_string();
    let args = billed_router_args(
        EPOCH_SECS,
        &[
            "--ticket-lifetime",
            "10",
            "--audit-timeout-secs",
            "10",
            // Audits that time out on a loaded machine must not take terminals out of rotation here:
            // this test is about what audits cannot see.
            "--suspend-below",
            "0",
            "--council-term-secs",
            &term,
            "--council-seats",
            "4",
            "--council-min-stake",
            "10",
            "--review-secs",
            "20",
            "--appeal-secs",
            &appeal,
            "--unbonding-secs",
            "200",
            "--min-bond",
            "1",
        ],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let router = RouterProc::start("127.0.0.1:0", &router_dir, &args);
    let shop = Shop::open(router.addr, SITE, OBJECTS, OBJECT_LEN, 70).await;
    let bodies = shop.bodies;
    let net = Net {
        owner: shop.owner,
        router,
        router_dir,
        dir: dir.clone(),
    };
    let escrow = net.billing().await.escrow_account;
    let token = net.router_dir.join("operator.token");
    net.cli(&[
        "ledger",
        "mint",
        "--operator-token",
        token.to_str().unwrap(),
        "--id",
        "1",
        "--to",
        &escrow.to_string(),
        "--amount",
        "1000",
    ])
    .await;

    // Two honest terminals and the cheater behind its front; each stakes 50.
    let honest = [
        start_terminal(&net, "honest-a", "127.0.0.11", None).await,
        start_terminal(&net, "honest-b", "127.0.0.12", None).await,
    ];
    let (front_addr, upstream) = start_front("127.0.0.13", ip("127.0.0.1")).await;
    let cheater = start_terminal(&net, "cheater", "127.0.0.113", Some(front_addr)).await;
    *upstream.lock().unwrap() = Some(cheater._proc.addr);
    let nodes = [&honest[0], &honest[1], &cheater];
    for (i, n) in nodes.iter().enumerate() {
        net.mint(10 + i as u64, &n.id, "100").await;
        let key = n.dir.join("node.key");
        net.cli(&[
            "wallet",
            "--key",
            key.to_str().unwrap(),
            "stake",
            "--amount",
            "50",
        ])
        .await;
    }

    // Members and a voter hold tokens; the election after the next term begins counts them.
    let mut members = Vec::new();
    let mut ids = Vec::new();
    for (i, name) in ["member-a", "member-b", "member-c"].iter().enumerate() {
        let (key, id) = net.wallet(name).await;
        net.mint(20 + i as u64, &id, "500").await;
        members.push(key);
        ids.push(id);
    }
    // The fourth member is the cheater's own key: it must recuse from the claim against it.
    members.push(cheater.dir.join("node.key"));
    ids.push(cheater.id.clone());
    net.mint(30, &cheater.id, "100").await;
    let (hunter_key, hunter_id) = net.wallet("hunter").await;
    net.mint(31, &hunter_id, "100").await;
    let (liar_key, liar_id) = net.wallet("liar").await;
    net.mint(32, &liar_id, "100").await;

    // Clients everywhere until every terminal served and is vetted: the cheater's audits pass.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut served = HashSet::new();
    let mut c = 0u32;
    loop {
        c += 1;
        let from = format!("127.{}.{}.1", 1 + c / 250, 1 + c % 250);
        for i in 0..OBJECTS {
            let location = redirect(&net, &from, i).await;
            let got = get_url_from(ip(&from), &location, &[]).await.unwrap();
            assert_eq!(got.status, 200, "{location}");
            if let Some(n) = nodes.iter().position(|n| location.starts_with(&n.public)) {
                served.insert(n);
                if n < 2 {
                    assert_eq!(got.body, bodies[i as usize], "{location}");
                } else {
                    assert_ne!(
                        got.body, bodies[i as usize],
                        "the front corrupts for clients"
                    );
                }
            }
        }
        let mut vetted = served.len() == 3;
        for n in &nodes {
            let a: TerminalAudits = net.get(&format!("/v1/terminals/{}/audits", n.id)).await;
            vetted &= a.standing == "vetted";
        }
        if vetted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every terminal served and was vetted"
        );
    }

    // The council: elected for the first term whose election counts the minted tokens, and re-elected
    // for every term after it while the test runs.
    let first: u64 = eventually_some_within(
        Duration::from_secs(3 * TERM_SECS),
        "an election whose snapshot holds the members' tokens",
        || async {
            let v: CouncilView = net.get("/v1/council").await;
            (v.next.voters >= 4).then_some(v.next.term)
        },
    )
    .await;
    elect(&net.url(), &members, &ids, first).await;
    let elections = {
        let (addr, members, ids) = (net.router.addr, members.clone(), ids.clone());
        tokio::spawn(async move {
            let url = format!("http://{addr}");
            let mut done = first;
            loop {
                let next = eventually_some_within(
                    Duration::from_secs(3600),
                    "the next term's election open",
                    || async {
                        let v: CouncilView = get_ok(addr, "/v1/council").await;
                        (v.next.term > done && v.next.opened_at.is_some()).then_some(v.next.term)
                    },
                )
                .await;
                elect(&url, &members, &ids, next).await;
                done = next;
            }
        })
    };
    eventually_some_within(
        Duration::from_secs(2 * TERM_SECS),
        "the council seated",
        || async {
            let v: CouncilView = net.get("/v1/council").await;
            v.members.filter(|m| m.len() == 4).map(|_| ())
        },
    )
    .await;
    let mut running = Kill(
        members
            .iter()
            .zip(MEMBER_IPS)
            .map(|(key, source)| council_proc(&net, key, source))
            .collect(),
    );

    // The hunter probes every object from two addresses until it has filed one claim.
    let mut hunt = command();
    hunt.args(["hunter", "--router", &net.url(), "--key"])
        .arg(&hunter_key)
        .args([
            "--rate",
            "20",
            "--stop-after-claims",
            "1",
            "--duration-secs",
            "60",
        ])
        .args(["--bond", BOND, "--budget", BOND, "--report-secs", "1"]);
    for i in 0..OBJECTS {
        hunt.args(["--target", &format!("{SITE}/o/{i}")]);
    }
    for s in HUNTER_IPS {
        hunt.args(["--source", s]);
    }
    let out = run(hunt).await;
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let claims: ClaimList = net.get(&format!("/v1/claims?hunter={hunter_id}")).await;
    let [filed] = &claims.claims[..] else {
        panic!(
            "one claim by the hunter: {claims:?}\n{}\n{}",
            out.stdout, out.stderr
        );
    };
    assert_eq!(filed.accused.to_string(), cheater.id, "{}", out.stderr);
    assert!(out.stdout.contains(&filed.claim), "{}", out.stdout);
    assert_eq!(
        net.available(wallet_account(&key_bytes(&hunter_id))).await,
        tokens("100") - tokens(BOND),
        "the bond is reserved"
    );

    // Three members re-probe and vote; the fourth, the cheater's key, recuses; two thirds uphold it.
    let decided = eventually_some_within(Duration::from_secs(30), "the claim decided", || async {
        let c = net.claim(&filed.claim).await;
        (c.phase.phase == PhaseName::Decided).then_some(c)
    })
    .await;
    assert_eq!(decided.phase.outcome, Some(Outcome::Upheld), "{decided:?}");
    let tally = decided.tally.as_ref().unwrap();
    let recused: Vec<String> = tally.recused.iter().map(|m| m.to_string()).collect();
    assert_eq!(recused, [cheater.id.as_str()]);
    assert_eq!((tally.eligible.len(), tally.need), (3, 2), "{tally:?}");
    assert!(
        decided.votes.len() >= 2 && decided.votes.iter().all(|v| v.upheld),
        "{decided:?}"
    );
    assert!(decided
        .votes
        .iter()
        .all(|v| v.member.to_string() != cheater.id));
    // The router's own audits never saw it: the cheater still passes them.
    let audits: TerminalAudits = net
        .get(&format!("/v1/terminals/{}/audits", cheater.id))
        .await;
    assert!(audits.epochs.iter().all(|e| e.fail == 0), "{audits:?}");

    // The appeal window passes; the verdict executes.
    let done = eventually_some_within(
        Duration::from_secs(APPEAL_SECS + 20),
        "the verdict executed",
        || async {
            let c = net.claim(&filed.claim).await;
            c.executed.is_some().then_some(c)
        },
    )
    .await;
    assert_eq!(done.phase.phase, PhaseName::Final);
    let e = done.executed.clone().unwrap();
    let (slashed, refunded, reward) = (tokens(&e.slashed), tokens(&e.refunded), tokens(&e.reward));
    assert!(e.bond_returned);
    assert_eq!(
        slashed,
        10 * ONE_TOKEN + refunded,
        "the penalty on top of the refunds: {e:?}"
    );
    assert_eq!(
        reward,
        split_slash(slashed - refunded, SlashShares::default()).0
    );
    assert_eq!(
        net.balance(wallet_account(&key_bytes(&hunter_id))).await,
        tokens("100") + reward,
        "the bond back and the claimant's share"
    );
    // The site pays nothing for the cheater's bytes in the epochs of the probes: an epoch settled before
    // the verdict is refunded, one settled after it does not pay the cheater at all.
    let (first_epoch, last_epoch) = probe_epochs(&net, &filed.claim).await;
    eventually_some_within(
        Duration::from_secs(60),
        "the probes' epochs settled",
        || async {
            let b = net.billing().await;
            b.epochs
                .iter()
                .any(|x| x.epoch >= last_epoch && x.settled)
                .then_some(())
        },
    )
    .await;
    let earnings: TerminalEarnings = net
        .get(&format!("/v1/terminals/{}/earnings?epochs=744", cheater.id))
        .await;
    let paid: u128 = earnings
        .epochs
        .iter()
        .filter(|x| (first_epoch..=last_epoch).contains(&x.epoch))
        .map(|x| tokens(&x.earned) + line(x.bytes, 1000 * ONE_TOKEN, 2_000, 10_000).fee)
        .sum();
    assert_eq!(refunded, paid, "{e:?} {earnings:?}");
    let into_escrow: History = net
        .get(&format!(
            "/v1/ledger/accounts/{escrow}/transfers?limit=1000"
        ))
        .await;
    let back: u128 = into_escrow
        .transfers
        .iter()
        .filter(|t| t.counterparty == stake_account(&cheater_bytes(&cheater)))
        .map(|t| tokens(&t.amount))
        .sum();
    assert_eq!(back, refunded);
    // The stake gave exactly the slash: the refunds, the hunter's share, the burn and the treasury's
    // share (its audits passed, so nothing else ever slashed it).
    let out_of_stake: u128 = net
        .get::<History>(&format!(
            "/v1/ledger/accounts/{}/transfers?limit=1000",
            stake_account(&cheater_bytes(&cheater))
        ))
        .await
        .transfers
        .iter()
        .filter(|t| {
            t.direction.as_str() == "out"
                && matches!(t.code, TransferCode::Slash | TransferCode::Burn)
        })
        .map(|t| tokens(&t.amount))
        .sum();
    assert_eq!(out_of_stake, slashed);
    let audits: TerminalAudits = net
        .get(&format!("/v1/terminals/{}/audits", cheater.id))
        .await;
    assert_eq!(audits.standing, "disqualified");
    net.cli(&["claim", "verify", &filed.claim]).await;

    // A liar forges a record against an honest terminal: a real ticketed fetch with one byte changed.
    let treasury_before = net.balance(TREASURY).await;
    let router_id: NodeId = net.router.id.parse().unwrap();
    let mut found = None;
    for i in 0..OBJECTS {
        let location = redirect(&net, LIAR_IP, i).await;
        if location.starts_with(&honest[0].public) {
            found = Some((i, location));
            break;
        }
    }
    let (i, location) = found.unwrap_or_else(|| panic!("no object of honest-a for {LIAR_IP}"));
    let honest_id: NodeId = honest[0].id.parse().unwrap();
    let mut probes = Vec::new();
    for _ in 0..3 {
        let got = get_url_from(ip(LIAR_IP), &location, &[]).await.unwrap();
        let mut body = got.body.to_vec();
        body[7] ^= 1;
        let p = probe::Probe {
            terminal: honest_id,
            at: meson_node::unix_now(),
            url: location.clone(),
            latency_ms: 1,
            outcome: probe::outcome_of(
                got.status,
                got.headers
                    .get("meson-served")
                    .and_then(|v| v.to_str().ok()),
                &body,
            ),
        };
        probes.push(p);
    }
    let path = format!("/o/{i}");
    let known = net
        .get::<meson_core::signed::SignedMessage<meson_core::evidence::KnownObject>>(&format!(
            "/v1/sites/{SITE}/known?path={path}"
        ))
        .await;
    let record = Record {
        host: SITE.into(),
        path,
        known: Some(known),
        probes,
    };
    assert!(
        probe::judge(&record, &router_id, &probe::Rule::default())
            .unwrap()
            .faulty,
        "the forgery looks faulty"
    );
    let forged = dir.join("forged.json");
    std::fs::write(&forged, serde_json::to_string(&record).unwrap()).unwrap();
    let out = net
        .cli(&[
            "claim",
            "--key",
            liar_key.to_str().unwrap(),
            "file",
            "--kind",
            "council",
            "--evidence",
            forged.to_str().unwrap(),
            &format!("--accused={}", honest[0].id),
            "--bond",
            BOND,
        ])
        .await;
    let false_claim = out.split_whitespace().nth(1).unwrap().to_owned();
    let rejected = eventually_some_within(
        Duration::from_secs(30),
        "the false claim decided",
        || async {
            let c = net.claim(&false_claim).await;
            (c.phase.phase == PhaseName::Decided).then_some(c)
        },
    )
    .await;
    assert_eq!(
        rejected.phase.outcome,
        Some(Outcome::Rejected),
        "{rejected:?}"
    );
    assert!(rejected.votes.iter().all(|v| !v.upheld), "{rejected:?}");
    // The liar appeals, and loses again: a second round's decision is final.
    net.cli(&[
        "claim",
        "--key",
        liar_key.to_str().unwrap(),
        "appeal",
        &false_claim,
    ])
    .await;
    let lost = eventually_some_within(
        Duration::from_secs(30),
        "the appeal decided and executed",
        || async {
            let c = net.claim(&false_claim).await;
            c.executed.is_some().then_some(c)
        },
    )
    .await;
    assert_eq!(lost.phase.phase, PhaseName::Final);
    assert_eq!(lost.phase.outcome, Some(Outcome::Rejected));
    assert!(lost.votes.iter().any(|v| v.round == 2), "{lost:?}");
    assert!(!lost.executed.as_ref().unwrap().bond_returned);
    assert_eq!(
        net.balance(wallet_account(&key_bytes(&liar_id))).await,
        tokens("100") - tokens(BOND)
    );
    assert!(net.balance(TREASURY).await - treasury_before >= tokens(BOND));
    let a: TerminalAudits = net
        .get(&format!("/v1/terminals/{}/audits", honest[0].id))
        .await;
    assert_eq!(a.standing, "vetted", "the honest terminal keeps its place");
    net.cli(&["claim", "verify", &false_claim]).await;
    net.cli(&["ledger", "verify"]).await;

    elections.abort();
    for c in &mut running.0 {
        let _ = c.kill();
    }
    // The member holding the accused's key said it recused.
    let cheater_member = running.0.last_mut().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(cheater_member.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("recuses from claim"), "{err}");
}

fn key_bytes(id: &str) -> [u8; 32] {
    *id.parse::<NodeId>().unwrap().as_bytes()
}

fn cheater_bytes(n: &Node) -> [u8; 32] {
    key_bytes(&n.id)
}

/// The epochs of a claim's first and last probe, from its evidence.
async fn probe_epochs(net: &Net, claim: &str) -> (u64, u64) {
    let got = json_request(
        net.router.addr,
        None,
        "GET",
        &format!("/v1/claims/{claim}/evidence"),
        None,
    )
    .await;
    let record: Record = serde_json::from_slice(&got.body).unwrap();
    let times = record.probes.iter().map(|p| p.at / EPOCH_SECS);
    (times.clone().min().unwrap(), times.max().unwrap())
}
