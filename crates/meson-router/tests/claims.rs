//! Hunters' claims and council stake, against a real router and SQLite file. Objective evidence is
//! checked before its bond is taken and upheld when filed: the accused slashed (the hunter paid as
//! claimant) and disqualified, the bond returned; whatever the router refuses takes no bond. A council
//! claim (a probe record showing the accused faulty) waits for a seated council, and without one
//! expires, its bond returned. Council stake is locked for a term, slashable, and released after the
//! term and the unbonding period. The audit log replays clean after all of it.

mod common;

use std::time::Duration;

use common::hunt::*;
use common::*;
use meson_api::claims::{ClaimKind, ClaimStatus, ClaimView, Outcome, PhaseName};
use meson_api::council::{CouncilMember, CouncilStakes, CouncilTerm};
use meson_core::identity::NodeKey;
use meson_core::probe::Rule;
use meson_ledger::accounts::{stake_account, wallet_account, TREASURY};
use meson_ledger::tx::TxAction;
use meson_ledger::ONE_TOKEN;
use meson_testkit::evidence::{failed_audit, router_key};

const HOST: &str = "claims.test";

/// Whether the router holds a bond on claim `id`.
async fn bonded(router: std::net::SocketAddr, id: &str) -> bool {
    let got = call(router, "GET", &format!("/v1/ledger/claims/{id}"), &[], None).await;
    match got.status {
        200 => true,
        404 => false,
        s => panic!("the bond of {id}: {s} {:?}", got.json()),
    }
}

async fn bond_view(router: std::net::SocketAddr, id: &str) -> ClaimView {
    get_json(router, &format!("/v1/ledger/claims/{id}")).await
}

#[tokio::test]
async fn objective_evidence_is_upheld_when_filed_and_what_is_refused_takes_no_bond() {
    let dir = tempfile::tempdir().unwrap();
    let router = quick_router(dir.path(), |_| {}).await;
    let a = router.addr;
    let accused = SigningTerminal::start().await;
    assert_eq!(accused.register(a, None).await.status, 200);
    stake(a, dir.path(), &accused.key, 20).await;
    let hunter = NodeKey::from_secret_bytes(rand::random());
    let stranger = NodeKey::from_secret_bytes(rand::random());
    mint(a, dir.path(), &hunter, "10").await;
    let target = accused.key.id();
    let evidence = failed_audit(&router_key(dir.path()), &accused.key, 1).to_canonical();
    let id = claim_id(&evidence);
    let two = 2 * ONE_TOKEN;

    // Each refusal leaves the hunter's funds whole and no bond on the claim it named.
    let refused = |got: Got, status: u16, claim: String, why: &'static str| {
        let hunter = &hunter;
        async move {
            assert_eq!(got.status, status, "{why}: {:?}", got.json());
            assert_eq!(
                funds(a, hunter).await,
                (10 * ONE_TOKEN, 10 * ONE_TOKEN),
                "{why}"
            );
            assert!(!bonded(a, &claim).await, "{why}: a bond was taken");
        }
    };
    let unsigned = failed_audit(&stranger, &accused.key, 2).to_canonical();
    refused(
        file(
            a,
            "objective",
            &unsigned,
            bond(&hunter, &unsigned, &target, two),
        )
        .await,
        422,
        claim_id(&unsigned),
        "evidence whose challenge the router did not sign",
    )
    .await;
    let other = failed_audit(&router_key(dir.path()), &accused.key, 3).to_canonical();
    refused(
        file(
            a,
            "objective",
            &evidence,
            bond(&hunter, &other, &target, two),
        )
        .await,
        400,
        claim_id(&other),
        "a bond naming another claim",
    )
    .await;
    refused(
        call(
            a,
            "POST",
            "/v1/ledger/tx",
            &[],
            Some(bond(&hunter, &evidence, &target, two)),
        )
        .await,
        400,
        id.clone(),
        "a bond without its evidence",
    )
    .await;
    refused(
        file(
            a,
            "objective",
            &evidence,
            bond(&hunter, &evidence, &target, ONE_TOKEN / 2),
        )
        .await,
        422,
        id.clone(),
        "under the least bond",
    )
    .await;
    refused(
        file(
            a,
            "objective",
            &evidence,
            forged(bond(&hunter, &evidence, &target, two), &stranger),
        )
        .await,
        401,
        id.clone(),
        "a forged bond",
    )
    .await;
    let own = file(
        a,
        "objective",
        &evidence,
        bond(&accused.key, &evidence, &target, two),
    )
    .await;
    assert_eq!(
        own.status,
        400,
        "a claim against one's own key: {:?}",
        own.json()
    );
    assert!(!bonded(a, &id).await);

    let c = filed(a, "objective", &evidence, &hunter, &target, two).await;
    assert_eq!(
        (c.claim.as_str(), c.kind),
        (id.as_str(), ClaimKind::Objective)
    );
    assert_eq!(
        (c.accused, c.hunter, c.bond.as_str()),
        (target, hunter.id(), "2")
    );
    assert_eq!(
        (c.phase.phase, c.phase.outcome),
        (PhaseName::Final, Some(Outcome::Upheld)),
        "objective evidence is final when filed"
    );
    assert_eq!(
        c.executed,
        Some(moved("10", "5", "2", true)),
        "the slash raised by no refunds, half of it the hunter's"
    );
    assert_eq!(
        funds(a, &hunter).await,
        (15 * ONE_TOKEN, 15 * ONE_TOKEN),
        "the bond back and the claimant's share"
    );
    assert_eq!(stake_of(a, &accused.key).await, 10 * ONE_TOKEN);
    assert_eq!(account_funds(a, TREASURY).await.0, 2 * ONE_TOKEN);
    assert_eq!(bond_view(a, &id).await.status, ClaimStatus::Returned);
    let served = call(a, "GET", &format!("/v1/claims/{id}/evidence"), &[], None).await;
    assert_eq!(served.body, evidence.as_bytes(), "the evidence, verbatim");
    let slashes = slashes_of(a, &accused.node_id()).await;
    assert_eq!(slashes.len(), 1, "{slashes:?}");
    assert_eq!(
        (slashes[0].id.to_string(), &*slashes[0].slashed),
        (id.clone(), "10")
    );

    let again = file(
        a,
        "objective",
        &evidence,
        bond(&hunter, &evidence, &target, two),
    )
    .await;
    assert_eq!(
        again.status,
        409,
        "the same claim twice: {:?}",
        again.json()
    );
    assert_eq!(funds(a, &hunter).await, (15 * ONE_TOKEN, 15 * ONE_TOKEN));

    // Disqualified: out of rotation for good, and told why.
    let reply = accused.heartbeat(a, 0, false).await.json();
    assert_eq!(reply["in_rotation"], false, "{reply}");
    assert!(
        reply["suspended"]
            .as_str()
            .is_some_and(|s| s.starts_with("disqualified: objective evidence of audit_failed")),
        "{reply}"
    );

    let replay = audit(a).await;
    assert_eq!(replay.ledger().burned(), 3 * ONE_TOKEN);
    router.shutdown().await;
}

#[tokio::test]
async fn every_claim_records_what_its_verdict_moved_though_the_review_loop_runs_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    // The loop at its quickest, so that it finds claims being executed as they are filed.
    let router = start(dir.path(), |c| {
        c.heartbeat = Duration::from_millis(200);
        c.hunt.max_filed_per_day = 100;
    })
    .await;
    let a = router.addr;
    let accused = SigningTerminal::start().await;
    assert_eq!(accused.register(a, None).await.status, 200);
    stake(a, dir.path(), &accused.key, 1000).await;
    let hunter = NodeKey::from_secret_bytes(rand::random());
    mint(a, dir.path(), &hunter, "1").await;
    let claims = 40;
    for seed in 0..claims {
        let evidence = failed_audit(&router_key(dir.path()), &accused.key, seed).to_canonical();
        filed(
            a,
            "objective",
            &evidence,
            &hunter,
            &accused.key.id(),
            ONE_TOKEN,
        )
        .await;
        let c = claim(a, &claim_id(&evidence)).await;
        assert_eq!(
            c.executed,
            Some(moved("10", "5", "1", true)),
            "claim {seed}"
        );
    }
    let slashes = slashes_of(a, &accused.node_id()).await;
    assert_eq!(slashes.len(), claims as usize);
    assert!(slashes.iter().all(|s| s.slashed == "10"), "{slashes:?}");
    let paid = 1 + 5 * claims as u128;
    assert_eq!(
        funds(a, &hunter).await,
        (paid * ONE_TOKEN, paid * ONE_TOKEN)
    );
    assert_eq!(
        stake_of(a, &accused.key).await,
        (1000 - 10 * claims as u128) * ONE_TOKEN
    );
    audit(a).await;
    router.shutdown().await;
}

#[tokio::test]
async fn a_council_claim_waits_for_a_council_and_without_one_expires_its_bond_returned() {
    let dir = tempfile::tempdir().unwrap();
    let router = quick_router(dir.path(), |c| {
        c.review_secs = 2;
        c.appeal_secs = 1;
        c.hunt.max_open_per_hunter = 1;
    })
    .await;
    let a = router.addr;
    let key = account(a).await;
    assert_eq!(add_site(a, &key, HOST, "keep").await.status, 201);
    let accused = SigningTerminal::start().await;
    assert_eq!(accused.register(a, None).await.status, 200);
    stake(a, dir.path(), &accused.key, 20).await;
    let hunter = NodeKey::from_secret_bytes(rand::random());
    mint(a, dir.path(), &hunter, "10").await;
    let target = accused.key.id();

    // The hunter's tickets are the router's, for the accused; the accused goes down before it probes.
    let needed = Rule::default().min_probes as usize;
    let urls = tickets_to(a, &accused, HOST, "/obj.bin", needed + 1).await;
    accused.stop_server();
    refusing(&accused).await;
    let faulty = record(HOST, "/obj.bin", &urls[..needed], target).await;
    let more = record(HOST, "/obj.bin", &urls, target).await;
    let short = record(HOST, "/obj.bin", &urls[..needed - 1], target).await;
    assert!(all_failed(&faulty) && all_failed(&more) && all_failed(&short));
    let two = 2 * ONE_TOKEN;

    let too_few = file(a, "council", &short, bond(&hunter, &short, &target, two)).await;
    assert_eq!(
        too_few.status,
        422,
        "too few probes to judge: {:?}",
        too_few.json()
    );
    assert!(!bonded(a, &claim_id(&short)).await);

    let c = filed(a, "council", &faulty, &hunter, &target, two).await;
    let id = claim_id(&faulty);
    assert_eq!(
        (c.claim.as_str(), c.kind),
        (id.as_str(), ClaimKind::Council)
    );
    assert_eq!(c.phase.phase, PhaseName::Filed);
    assert!(c.tally.is_none() && c.executed.is_none() && c.votes.is_empty());
    assert_eq!(
        funds(a, &hunter).await,
        (10 * ONE_TOKEN, 8 * ONE_TOKEN),
        "the bond reserved"
    );
    assert_eq!(bond_view(a, &id).await.status, ClaimStatus::Open);

    let limited = file(a, "council", &more, bond(&hunter, &more, &target, two)).await;
    assert_eq!(
        limited.status,
        422,
        "past the open-claims limit: {:?}",
        limited.json()
    );
    assert!(!bonded(a, &claim_id(&more)).await);
    assert_eq!(funds(a, &hunter).await, (10 * ONE_TOKEN, 8 * ONE_TOKEN));

    let expired = executed(a, &id).await;
    assert_eq!(expired.phase.phase, PhaseName::Expired);
    assert!(
        expired.phase.since >= c.filed_at + 2,
        "filed for the review window: {expired:?}"
    );
    assert_eq!(expired.executed, Some(moved("0", "0", "2", true)));
    assert_eq!(
        funds(a, &hunter).await,
        (10 * ONE_TOKEN, 10 * ONE_TOKEN),
        "the bond back"
    );
    assert_eq!(bond_view(a, &id).await.status, ClaimStatus::Returned);
    assert_eq!(
        stake_of(a, &accused.key).await,
        20 * ONE_TOKEN,
        "nothing slashed"
    );

    // Its claim no longer open, the hunter may file again.
    filed(a, "council", &more, &hunter, &target, two).await;
    audit(a).await;
    router.shutdown().await;
}

#[tokio::test]
async fn council_stake_is_locked_for_its_term_slashable_and_released_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let router = quick_router(dir.path(), |c| {
        c.council_term_secs = 2;
        c.review_secs = 1;
        c.appeal_secs = 1;
        c.unbonding_secs = 7;
        c.council_min_stake = 2 * ONE_TOKEN;
        c.slash_tokens = ONE_TOKEN;
    })
    .await;
    let a = router.addr;
    let member = NodeKey::from_secret_bytes([11; 32]);
    let other = NodeKey::from_secret_bytes([12; 32]);
    mint(a, dir.path(), &member, "10").await;
    mint(a, dir.path(), &other, "10").await;
    let term = get_json::<CouncilTerm>(a, "/v1/council/term").await.term;
    let lock = |term, amount| TxAction::CouncilStake { term, amount };
    for (action, why) in [
        (lock(term - 1, 5 * ONE_TOKEN), "a past term"),
        (lock(term + 3, 5 * ONE_TOKEN), "too far ahead"),
        (lock(term, ONE_TOKEN), "below the least council stake"),
    ] {
        let r = send_tx(a, &member, action).await;
        assert_eq!(r.status, 400, "{why}: {:?}", r.json());
    }
    // The next term, so the locks outlive this test's slash, and a term that ends while the test runs
    // does not make them past terms.
    let locked = send_tx(a, &member, lock(term + 1, 5 * ONE_TOKEN)).await;
    assert_eq!(locked.status, 200, "{:?}", locked.json());
    assert_eq!(
        send_tx(a, &member, lock(term + 1, 3 * ONE_TOKEN))
            .await
            .status,
        409,
        "one lock per term"
    );
    assert_eq!(
        send_tx(a, &other, lock(term + 1, 3 * ONE_TOKEN))
            .await
            .status,
        200
    );
    assert_eq!(funds(a, &member).await, (10 * ONE_TOKEN, 5 * ONE_TOKEN));
    let lock_of = |key: &NodeKey, locked: &str| CouncilMember {
        member: key.id(),
        locked: locked.into(),
    };
    let stakes = || async move {
        get_json::<CouncilStakes>(a, &format!("/v1/council/stakes?term={}", term + 1)).await
    };
    assert_eq!(
        stakes().await.members,
        [lock_of(&member, "5"), lock_of(&other, "3")]
    );

    // Stake in office is at stake: a hunter's claim against it is upheld, the lock posted into the
    // stake, then slashed.
    let hunter = NodeKey::from_secret_bytes([13; 32]);
    mint(a, dir.path(), &hunter, "2").await;
    let evidence = failed_audit(&router_key(dir.path()), &member, 7).to_canonical();
    let c = filed(a, "objective", &evidence, &hunter, &member.id(), ONE_TOKEN).await;
    assert_eq!(c.executed, Some(moved("1", "0.5", "1", true)));
    assert_eq!(funds(a, &hunter).await.0, 2 * ONE_TOKEN + ONE_TOKEN / 2);
    assert_eq!(funds(a, &member).await.0, 5 * ONE_TOKEN);
    assert_eq!(
        account_funds(a, stake_account(member.id().as_bytes()))
            .await
            .0,
        4 * ONE_TOKEN
    );
    assert_eq!(
        stakes().await.members,
        [lock_of(&other, "3")],
        "the member's lock went into the stake"
    );

    // The other member's lock returns once its term and the unbonding period have passed.
    assert_eq!(funds(a, &other).await, (10 * ONE_TOKEN, 7 * ONE_TOKEN));
    eventually("released after the term and unbonding", || async {
        funds(a, &other).await.1 == 10 * ONE_TOKEN
    })
    .await;
    assert!(now() >= (term + 2) * 2 + 7, "not before its time");
    assert_eq!(
        account_funds(a, wallet_account(other.id().as_bytes()))
            .await
            .0,
        10 * ONE_TOKEN
    );
    audit(a).await;
    router.shutdown().await;
}

#[tokio::test]
async fn the_last_term_there_is_answers_instead_of_overflowing() {
    let dir = tempfile::tempdir().unwrap();
    let router = quick_router(dir.path(), |_| {}).await;
    let last: CouncilStakes = get_json(
        router.addr,
        &format!("/v1/council/stakes?term={}", u64::MAX),
    )
    .await;
    assert_eq!((last.term, last.release_at), (u64::MAX, u64::MAX));
    assert!(last.members.is_empty());
    router.shutdown().await;
}
