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
