//! Governance against a real router with short windows (3 s epochs, 2 s votes, a 2 s timelock): a
//! proposal lowers the fee, passes, waits, executes and is in force from the next epoch; a malicious
//! proposal (the whole treasury to one key) passes its vote but is vetoed and never executes; an
//! out-of-bounds proposal is refused at submission; a late vote is told when the vote closed; a stake
//! shutdown pauses a queued change and expires on its own, after which the change executes.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::hunt::*;
use common::*;
use meson_api::gov::{ParamsView, ProposalView, ShutdownStatus};
use meson_core::identity::NodeKey;
use meson_ledger::accounts::TREASURY;
use meson_ledger::governance::{Action, Choice, ProposalBody, VoteBody, PROPOSAL, VOTE};
use meson_ledger::tx::TxAction;
use meson_ledger::ONE_TOKEN;
use meson_testkit::eventually_some_within;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(30);

async fn start_gov(dir: &std::path::Path) -> meson_router::Router {
    start(dir, |c| {
        c.billing = Some(meson_ledger::settlement::BillingConfig {
            epoch_secs: 3,
            ..Default::default()
        });
        c.unbonding_secs = 100;
        c.review_secs = 10;
        c.appeal_secs = 10;
        c.genesis = [
            ("voting_secs", 2),
            ("late_quorum_secs", 0),
            ("timelock_secs", 2),
            ("veto_extension_secs", 60),
            ("shutdown_secs", 6),
            ("proposal_deposit", ONE_TOKEN),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    })
    .await
}

async fn propose(
    router: SocketAddr,
    key: &NodeKey,
    title: &str,
    actions: Vec<Action>,
) -> (u16, Value) {
    let body = ProposalBody {
        network: "meson-dev".into(),
        title: title.into(),
        actions,
    };
    let got = call(
        router,
        "POST",
        "/v1/gov/proposals",
        &[],
        Some(signed(key, PROPOSAL, &body)),
    )
    .await;
    (got.status, got.json())
}

async fn vote(router: SocketAddr, key: &NodeKey, id: &str, choice: Choice) -> (u16, Value) {
    let body = VoteBody {
        network: "meson-dev".into(),
        proposal: id.into(),
        choice,
    };
    let got = call(
        router,
        "POST",
        &format!("/v1/gov/proposals/{id}/votes"),
        &[],
        Some(signed(key, VOTE, &body)),
    )
    .await;
    (got.status, got.json())
}

async fn in_phase(router: SocketAddr, id: &str, phase: &str) -> ProposalView {
    eventually_some_within(LONG, &format!("proposal {id} {phase}"), || async move {
        let p: ProposalView = get_json(router, &format!("/v1/gov/proposals/{id}")).await;
        (p.phase == phase).then_some(p)
    })
    .await
}

fn fee_in_force(v: &ParamsView) -> String {
    v.params
        .iter()
        .find(|p| p.name == "fee_bps")
        .unwrap()
        .value
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn proposals_pass_wait_execute_at_the_next_epoch_or_are_vetoed_refused_and_paused() {
    let dir = tempfile::tempdir().unwrap();
    let router = start_gov(dir.path()).await;
    let addr = router.addr;
    let (a, b, c) = (
        NodeKey::from_secret_bytes(rand::random()),
        NodeKey::from_secret_bytes(rand::random()),
        NodeKey::from_secret_bytes(rand::random()),
    );
    mint(addr, dir.path(), &a, "600").await;
    mint(addr, dir.path(), &b, "300").await;
    mint(addr, dir.path(), &c, "100").await;
    mint_to(addr, dir.path(), TREASURY, "50").await;

    // An out-of-bounds proposal is refused at submission, naming the bound; no deposit is taken.
    let (status, err) = propose(
        addr,
        &a,
        "all of it",
        vec![Action::Set {
            param: "fee_bps".into(),
            value: 9_000,
        }],
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("the hard maximum is 5000 basis points"),
        "{err}"
    );
    assert_eq!(funds(addr, &a).await, (600 * ONE_TOKEN, 600 * ONE_TOKEN));

    // Lowering the fee: a's 60 % passes it; b votes late and is told when the vote closed.
    let (status, filed) = propose(
        addr,
        &a,
        "lower the fee",
        vec![Action::Set {
            param: "fee_bps".into(),
            value: 1_000,
        }],
    )
    .await;
    assert_eq!(status, 201, "{filed}");
    let id = filed["id"].as_str().unwrap().to_owned();
    assert_eq!(
        funds(addr, &a).await.1,
        599 * ONE_TOKEN,
        "the deposit is reserved"
    );
    assert_eq!(vote(addr, &a, &id, Choice::For).await.0, 200);
    let queued = in_phase(addr, &id, "queued").await;
    let (status, late) = vote(addr, &b, &id, Choice::Against).await;
    assert_eq!(status, 409);
    assert!(
        late["error"]
            .as_str()
            .unwrap()
            .contains(&format!("closed at {}", queued.voting_ends)),
        "{late}"
    );
    let before: ParamsView = get_json(addr, "/v1/gov/params").await;
    assert_eq!(fee_in_force(&before), "2000");
    let executed = in_phase(addr, &id, "executed").await;
    let epoch = executed.effective_epoch.unwrap();
    assert!(executed.eta.is_none());
    // In force from the next epoch, not before.
    let now: ParamsView = get_json(addr, "/v1/gov/params").await;
    if now.epoch < epoch {
        assert_eq!(fee_in_force(&now), "2000");
    }
    eventually_some_within(LONG, "the new fee in force", || async move {
        let v: ParamsView = get_json(addr, "/v1/gov/params").await;
        (v.epoch >= epoch && fee_in_force(&v) == "1000").then_some(())
    })
    .await;
    assert_eq!(
        funds(addr, &a).await.1,
        600 * ONE_TOKEN,
        "the deposit came back"
    );

    // The whole treasury to one key: it passes its vote, then b and c lock 40 % against it.
    let (status, filed) = propose(
        addr,
        &a,
        "treasury to me",
        vec![Action::Spend {
            to: a.id(),
            amount: 50 * ONE_TOKEN,
        }],
    )
    .await;
    assert_eq!(status, 201, "{filed}");
    let bad = filed["id"].as_str().unwrap().to_owned();
    vote(addr, &a, &bad, Choice::For).await;
    in_phase(addr, &bad, "queued").await;
    let mut proposal = [0u8; 32];
    hex::decode_to_slice(&bad, &mut proposal).unwrap();
    for who in [&b, &c] {
        let locked = send_tx(
            addr,
            who,
            TxAction::Veto {
                proposal,
                amount: 100 * ONE_TOKEN,
            },
        )
        .await;
        assert_eq!(locked.status, 200, "{:?}", locked.json());
    }
    let cancelled = in_phase(addr, &bad, "cancelled").await;
    assert!(
        cancelled.detail.starts_with("cancelled by veto"),
        "{}",
        cancelled.detail
    );
    assert_eq!(
        account_funds(addr, TREASURY).await.0,
        51 * ONE_TOKEN,
        "the treasury keeps its funds and the spam deposit"
    );
    assert_eq!(funds(addr, &a).await, (599 * ONE_TOKEN, 599 * ONE_TOKEN));
    eventually_some_within(LONG, "veto locks returned", || async {
        (funds(addr, &b).await.1 == 300 * ONE_TOKEN && funds(addr, &c).await.1 == 100 * ONE_TOKEN)
            .then_some(())
    })
    .await;

    // A stake shutdown: c locks 100 of 1000 (10 %) while a fee change waits in the queue.
    let (_, filed) = propose(
        addr,
        &a,
        "fee back",
        vec![Action::Set {
            param: "fee_bps".into(),
            value: 2_000,
        }],
    )
    .await;
    let back = filed["id"].as_str().unwrap().to_owned();
    vote(addr, &a, &back, Choice::For).await;
    let waiting = in_phase(addr, &back, "queued").await;
    let locked = send_tx(
        addr,
        &c,
        TxAction::Shutdown {
            round: 1,
            amount: 100 * ONE_TOKEN,
        },
    )
    .await;
    assert_eq!(locked.status, 200, "{:?}", locked.json());
    let shut: ShutdownStatus = eventually_some_within(LONG, "shutdown", || async {
        let s: ShutdownStatus = get_json(addr, "/v1/gov/shutdown").await;
        s.active.is_some().then_some(s)
    })
    .await;
    let until = shut.active.as_ref().unwrap().until;
    // Paused past its eta: still queued until the shutdown expires by itself.
    eventually_some_within(LONG, "past the eta", || async {
        (meson_node::unix_now() > waiting.eta.unwrap() + 1).then_some(())
    })
    .await;
    let paused: ProposalView = get_json(addr, &format!("/v1/gov/proposals/{back}")).await;
    if meson_node::unix_now() < until {
        assert_eq!(paused.phase, "queued", "no execution during the shutdown");
    }
    let done = in_phase(addr, &back, "executed").await;
    let executed_at: u64 = done
        .detail
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(',')
        .parse()
        .unwrap();
    assert!(
        executed_at >= until,
        "executed at {executed_at}, the shutdown ran until {until}"
    );
    eventually_some_within(LONG, "shutdown locks returned", || async {
        (funds(addr, &c).await.1 == 100 * ONE_TOKEN).then_some(())
    })
    .await;
    router.shutdown().await;
}

const SITE: &str = "cdn.gov.example";
/// What a site pays for 1 MiB at one token per GiB, in base units.
const MIB_CHARGE: u128 = ONE_TOKEN / 1024;

/// A client at `from` fetches `path` through the router from the terminal at `terminal` (retrying while
/// the router still sends it to the origin, before the escrow's funding is seen).
async fn fetch(router: SocketAddr, terminal: SocketAddr, from: &str, path: &str) {
    let location = eventually_some_within(LONG, "sent to the terminal", || async move {
        let r = meson_testkit::get_url_from(
            ip(from),
            &format!("http://{router}{path}"),
            &[("host", SITE)],
        )
        .await
        .unwrap();
        let l = r.header("location").to_owned();
        l.starts_with(&format!("http://{terminal}/")).then_some(l)
    })
    .await;
    let served = meson_testkit::get_url_from(ip(from), &location, &[])
        .await
        .unwrap();
    assert_eq!(served.status, 200);
}

/// The site's settled epochs, once `n` of them have usage and all are settled.
async fn spent(router: SocketAddr, owner: &str, n: usize) -> Vec<meson_api::ledger::SpentEpoch> {
    eventually_some_within(LONG, "epochs settled", || async move {
        let b: meson_api::ledger::SiteBilling = call(
            router,
            "GET",
            &format!("/v1/sites/{SITE}/billing?epochs=744"),
            &[("authorization", owner)],
            None,
        )
        .await
        .parse();
        (b.epochs.len() == n && b.epochs.iter().all(|e| e.settled)).then_some(b.epochs)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_governed_fee_and_holders_share_are_what_the_next_settlement_charges_and_pays() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path(), |c| {
        c.heartbeat = Duration::from_secs(1);
        c.ticket_lifetime_secs = 2;
        c.billing = Some(meson_ledger::settlement::BillingConfig {
            epoch_secs: 2,
            price_per_gib: ONE_TOKEN,
            ..Default::default()
        });
        c.unbonding_secs = 100;
        c.review_secs = 10;
        c.appeal_secs = 10;
        c.genesis = [
            ("voting_secs", 1),
            ("late_quorum_secs", 0),
            ("timelock_secs", 1),
            ("proposal_deposit", ONE_TOKEN),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    })
    .await;
    let addr = router.addr;
    let origin = meson_testkit::Origin::start().await;
    origin.set(
        "/big.bin",
        meson_testkit::Resource::cacheable(meson_testkit::pattern(1 << 20, 3)),
    );
    let key = account(addr).await;
    let site = add_site_for(addr, &key, SITE, &origin.url(), "keep").await;
    assert_eq!(site.status, 201, "{:?}", site.json());
    let owner = format!("Bearer {key}");
    let billing: meson_api::ledger::SiteBilling = call(
        addr,
        "GET",
        &format!("/v1/sites/{SITE}/billing"),
        &[("authorization", &owner)],
        None,
    )
    .await
    .parse();
    mint_to(addr, dir.path(), billing.escrow_account, "1").await;
    // The one holder stakes half its tokens: the stake earns the holders' share.
    let holder = NodeKey::from_secret_bytes(rand::random());
    mint(addr, dir.path(), &holder, "100").await;
    assert_eq!(
        send_tx(
            addr,
            &holder,
            TxAction::Stake {
                amount: 50 * ONE_TOKEN
            }
        )
        .await
        .status,
        200
    );

    let tdir = tempfile::tempdir().unwrap();
    let t = network_terminal(
        addr,
        "127.0.0.60",
        tdir.path(),
        meson_terminal::network::sites::TicketPolicy::Bounce,
    )
    .await;
    eventually_some_within(LONG, "the terminal in rotation", || async {
        let node = standing(&t).await["node_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        (!node.is_empty() && is_in_rotation(addr, &node).await).then_some(())
    })
    .await;

    // Under the genesis fee (20 %), nothing for holders.
    fetch(addr, t.addr, "127.0.0.61", "/big.bin").await;
    let before = spent(addr, &owner, 1).await;
    assert_eq!(tokens(&before[0].fee_burned), MIB_CHARGE * 2_000 / 10_000);

    let (status, filed) = propose(
        addr,
        &holder,
        "a lower fee, a quarter of it to stakers",
        vec![
            Action::Set {
                param: "fee_bps".into(),
                value: 1_000,
            },
            Action::Set {
                param: "holder_share_bps".into(),
                value: 2_500,
            },
        ],
    )
    .await;
    assert_eq!(status, 201, "{filed}");
    let id = filed["id"].as_str().unwrap().to_owned();
    vote(addr, &holder, &id, Choice::For).await;
    let executed = in_phase(addr, &id, "executed").await;
    let from = executed.effective_epoch.unwrap();
    eventually_some_within(LONG, "the epoch the change is in force", || async {
        let v: ParamsView = get_json(addr, "/v1/gov/params").await;
        (v.epoch >= from).then_some(())
    })
    .await;

    // The next settlement charges the new fee and pays a quarter of it to the staker.
    fetch(addr, t.addr, "127.0.0.62", "/big.bin").await;
    let after = spent(addr, &owner, 2).await;
    assert!(after[1].epoch >= from, "{after:?}");
    let fee = MIB_CHARGE * 1_000 / 10_000;
    assert_eq!(tokens(&after[1].fee_burned), fee, "{after:?}");
    let dividends: meson_api::ledger::HolderDividends =
        eventually_some_within(LONG, "the dividend", || async {
            let d: meson_api::ledger::HolderDividends =
                get_json(addr, &format!("/v1/holders/{}/dividends", holder.id())).await;
            (!d.epochs.is_empty()).then_some(d)
        })
        .await;
    assert_eq!(dividends.epochs.len(), 1, "{dividends:?}");
    assert_eq!(dividends.epochs[0].epoch, after[1].epoch);
    assert_eq!(tokens(&dividends.epochs[0].amount), fee * 2_500 / 10_000);
    assert_eq!(dividends.staked, "50");
    router.shutdown().await;
}
