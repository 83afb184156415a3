//! Hunters' bonds per claim and council stake per term, against a real router and SQLite file: a bond is
//! reserved until the verdict, returned when the claim is upheld (and the accused slashed, the hunter
//! paid as claimant), forfeited to the treasury when rejected, and released when the dispute window
//! closes unjudged; council stake is locked for a term, slashable, and released after the term and the
//! unbonding period. The audit log replays clean after all of it.

mod common;

use std::net::SocketAddr;

use common::*;
use meson_api::claims::{ClaimStatus, ClaimView, NoSlash, Verdict, VerdictSlash};
use meson_api::council::{CouncilMember, CouncilStakes, CouncilTerm};
use meson_api::ledger::{AccountView, TransferView, TxApplied};
use meson_core::identity::NodeKey;
use meson_core::signed::SignedMessage;
use meson_ledger::accounts::{stake_account, wallet_account};
use meson_ledger::tx::{Tx, TxAction, TX};
use meson_ledger::{PendingStatus, ONE_TOKEN};
use meson_testkit::evidence::{failed_audit, router_key};
use serde_json::{json, Value};

struct Net {
    a: SocketAddr,
    op: String,
}

impl Net {
    async fn post(&self, path: &str, operator: bool, body: Value) -> Got {
        let auth = [("authorization", self.op.as_str())];
        let headers: &[(&str, &str)] = if operator { &auth } else { &[] };
        call(self.a, "POST", path, headers, Some(body)).await
    }

    async fn mint(&self, id: u64, owner: &NodeKey, amount: &str) {
        let body = json!({"id": id.to_string(), "owner": owner.id().to_string(), "amount": amount});
        let r = self.post("/v1/ledger/mint", true, body).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
    }

    async fn tx(&self, key: &NodeKey, nonce: u64, action: TxAction) -> Got {
        let tx = Tx {
            network: "meson-dev".into(),
            nonce,
            expires: now() + 60,
            action,
        };
        let msg = SignedMessage::sign(key, TX, now(), rand::random(), &tx).unwrap();
        self.post("/v1/ledger/tx", false, serde_json::to_value(msg).unwrap())
            .await
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        get_json(self.a, path).await
    }

    async fn account(&self, id: u128) -> AccountView {
        self.get(&format!("/v1/ledger/accounts/{id}")).await
    }

    /// An account's balance and available funds, in tokens.
    async fn funds(&self, id: u128) -> (String, String) {
        let a = self.account(id).await;
        (a.balance.unwrap(), a.available.unwrap())
    }

    async fn claim(&self, claim: &str) -> ClaimView {
        self.get(&format!("/v1/ledger/claims/{claim}")).await
    }

    async fn verdict(&self, claim: &str, body: Value) -> Got {
        self.post(&format!("/v1/ledger/claims/{claim}/verdict"), true, body)
            .await
    }
}

async fn net(
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut meson_router::RouterConfig),
) -> (meson_router::Router, Net) {
    let router = start(dir, |c| {
        c.heartbeat = std::time::Duration::from_millis(300);
        tweak(c)
    })
    .await;
    let op = std::fs::read_to_string(dir.join("operator.token")).unwrap();
    let net = Net {
        a: router.addr,
        op: format!("Bearer {}", op.trim()),
    };
    (router, net)
}

fn bond(evidence: &impl ToString, accused: &NodeKey, amount: u128) -> (String, TxAction) {
    let claim = *blake3::hash(evidence.to_string().as_bytes()).as_bytes();
    let action = TxAction::Bond {
        claim,
        accused: accused.id(),
        amount,
    };
    (hex::encode(claim), action)
}

#[tokio::test]
async fn a_bond_is_returned_when_upheld_forfeited_when_rejected_and_released_when_unjudged() {
    let dir = tempfile::tempdir().unwrap();
    let (router, n) = net(dir.path(), |c| {
        c.dispute_secs = 3;
        c.unbonding_secs = 4;
    })
    .await;
    let terminal = NodeKey::from_secret_bytes([5; 32]);
    let hunter = NodeKey::from_secret_bytes([6; 32]);
    let rival = NodeKey::from_secret_bytes([7; 32]);
    n.mint(1, &terminal, "5").await;
    n.mint(2, &hunter, "10").await;
    n.mint(3, &rival, "10").await;
    let evidence = json!({"kind": "root_mismatch", "object": "/a.bin", "chunk_group": 3});
    let (claim, action) = bond(&evidence, &terminal, 2 * ONE_TOKEN);

    let unstaked = n.tx(&hunter, 1, action.clone()).await;
    assert_eq!(unstaked.status, 422, "{:?}", unstaked.json());
    assert!(unstaked.error().contains("nothing at stake"));
    let stake = |amount| TxAction::Stake { amount };
    assert_eq!(n.tx(&terminal, 1, stake(4 * ONE_TOKEN)).await.status, 200);
    let (_, small) = bond(&evidence, &terminal, ONE_TOKEN / 2);
    assert_eq!(
        n.tx(&hunter, 2, small).await.status,
        400,
        "below the least bond"
    );

    let filed = n.tx(&hunter, 3, action.clone()).await;
    assert_eq!(filed.status, 200, "{:?}", filed.json());
    let bond_id = filed.parse::<TxApplied>().transfer;
    let reserved: TransferView = n.get(&format!("/v1/ledger/transfers/{bond_id}")).await;
    assert_eq!(
        reserved.pending,
        Some(PendingStatus::Pending {
            expires_at: Some(reserved.at + 3)
        }),
        "reserved for the dispute window: {reserved:?}"
    );
    let wallet = wallet_account(hunter.id().as_bytes());
    assert_eq!(n.funds(wallet).await, ("10".into(), "8".into()));
    let view = n.claim(&claim).await;
    assert_eq!(view.status, ClaimStatus::Open);
    assert_eq!(view.accused, Some(terminal.id()));
    assert_eq!(view.bond, "2");
    let (_, again) = bond(&evidence, &terminal, 2 * ONE_TOKEN);
    assert_eq!(
        n.tx(&rival, 1, again).await.status,
        409,
        "one bond per claim"
    );

    let judged = call(
        n.a,
        "POST",
        &format!("/v1/ledger/claims/{claim}/verdict"),
        &[],
        Some(json!({"upheld": true, "slash": "2"})),
    )
    .await;
    assert_eq!(judged.status, 401, "only the operator judges");
    let upheld = n
        .verdict(&claim, json!({"upheld": true, "slash": "2"}))
        .await;
    assert_eq!(upheld.status, 200, "{:?}", upheld.json());
    let Verdict::Upheld {
        slashed: VerdictSlash::Slashed(shares),
        ..
    } = upheld.parse()
    else {
        panic!("upheld without a slash: {:?}", upheld.json());
    };
    assert_eq!(shares.claimant, "1");
    assert_eq!(
        n.funds(wallet).await,
        ("11".into(), "11".into()),
        "the bond back, and half the slash as claimant"
    );
    let staked = n.account(stake_account(terminal.id().as_bytes())).await;
    assert_eq!(staked.balance.as_deref(), Some("2"));
    assert_eq!(
        n.verdict(&claim, json!({"upheld": false})).await.status,
        409,
        "judged once"
    );
    assert_eq!(n.claim(&claim).await.status, ClaimStatus::Upheld);

    // A rejected claim's bond goes to the treasury.
    let treasury_before = balance(&n.account(3).await);
    let (claim, action) = bond(&json!({"kind": "weak"}), &terminal, 3 * ONE_TOKEN);
    assert_eq!(n.tx(&hunter, 4, action).await.status, 200);
    assert_eq!(
        n.verdict(&claim, json!({"upheld": false, "slash": "1"}))
            .await
            .status,
        400,
        "a rejected claim slashes nothing"
    );
    let rejected = n.verdict(&claim, json!({"upheld": false})).await;
    assert_eq!(rejected.status, 200, "{:?}", rejected.json());
    assert_eq!(n.account(wallet).await.balance.as_deref(), Some("8"));
    assert_eq!(
        balance(&n.account(3).await),
        treasury_before + 3 * ONE_TOKEN
    );
    assert_eq!(
        n.account(stake_account(terminal.id().as_bytes()))
            .await
            .balance
            .as_deref(),
        Some("2")
    );

    // Evidence that has slashed already (here by the operator's own slash) can no longer be rejected:
    // the claim can only be upheld, and its bond comes back.
    let evidence = failed_audit(&router_key(dir.path()), &terminal, 42);
    let (claim, action) = bond(&evidence.to_canonical(), &terminal, ONE_TOKEN);
    assert_eq!(n.tx(&hunter, 5, action).await.status, 200);
    let slashed = n
        .post(
            "/v1/ledger/slash",
            true,
            json!({"owner": terminal.id().to_string(), "amount": "0.5",
                   "claimant": wallet.to_string(), "evidence": evidence}),
        )
        .await;
    assert_eq!(slashed.status, 200, "{:?}", slashed.json());
    let rejected = n.verdict(&claim, json!({"upheld": false})).await;
    assert_eq!(rejected.status, 409, "{:?}", rejected.json());
    let upheld = n
        .verdict(&claim, json!({"upheld": true, "slash": "1"}))
        .await;
    assert_eq!(upheld.status, 200, "{:?}", upheld.json());
    assert!(
        matches!(
            upheld.parse(),
            Verdict::Upheld {
                slashed: VerdictSlash::Not(NoSlash::Before),
                ..
            }
        ),
        "the evidence slashes once: {:?}",
        upheld.json()
    );
    assert_eq!(n.funds(wallet).await, ("8.25".into(), "8.25".into()));

    // Unjudged within the dispute window: the reservation expires and the bond is free again.
    let (claim, action) = bond(&json!({"kind": "late"}), &terminal, ONE_TOKEN);
    assert_eq!(n.tx(&hunter, 6, action).await.status, 200);
    assert_eq!(n.account(wallet).await.available.as_deref(), Some("7.25"));
    eventually("the window closes", || async {
        n.claim(&claim).await.status == ClaimStatus::Expired
    })
    .await;
    assert_eq!(
        n.verdict(&claim, json!({"upheld": true, "slash": "1"}))
            .await
            .status,
        409,
        "too late to judge"
    );
    eventually("the bond is released", || async {
        n.account(wallet).await.available.as_deref() == Some("8.25")
    })
    .await;

    let replay = audit(n.a).await;
    assert_eq!(
        replay.ledger().burned(),
        ONE_TOKEN * 6 / 10 + ONE_TOKEN * 15 / 100
    );
    router.shutdown().await;
}

#[tokio::test]
async fn council_stake_is_locked_for_its_term_slashable_and_released_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (router, n) = net(dir.path(), |c| {
        c.council_term_secs = 2;
        c.dispute_secs = 1;
        c.unbonding_secs = 2;
        c.council_min_stake = 2 * ONE_TOKEN;
    })
    .await;
    let member = NodeKey::from_secret_bytes([11; 32]);
    let other = NodeKey::from_secret_bytes([12; 32]);
    n.mint(1, &member, "10").await;
    n.mint(2, &other, "10").await;
    let term = n.get::<CouncilTerm>("/v1/council/term").await.term;
    let lock = |term, amount| TxAction::CouncilStake { term, amount };
    for (nonce, action, why) in [
        (1, lock(term - 1, 5 * ONE_TOKEN), "a past term"),
        (2, lock(term + 3, 5 * ONE_TOKEN), "too far ahead"),
        (3, lock(term, ONE_TOKEN), "below the least council stake"),
    ] {
        let r = n.tx(&member, nonce, action).await;
        assert_eq!(r.status, 400, "{why}: {:?}", r.json());
    }
    // The next term, so the locks outlive this test's slash, and a term that ends while the test runs
    // does not make them past terms.
    let locked = n.tx(&member, 4, lock(term + 1, 5 * ONE_TOKEN)).await;
    assert_eq!(locked.status, 200, "{:?}", locked.json());
    assert_eq!(
        n.tx(&member, 5, lock(term + 1, 3 * ONE_TOKEN)).await.status,
        409,
        "one lock per term"
    );
    assert_eq!(
        n.tx(&other, 1, lock(term + 1, 3 * ONE_TOKEN)).await.status,
        200
    );
    let wallet = wallet_account(member.id().as_bytes());
    assert_eq!(n.account(wallet).await.available.as_deref(), Some("5"));
    let lock_of = |key: &NodeKey, locked: &str| CouncilMember {
        member: key.id(),
        locked: locked.into(),
    };
    let listed: CouncilStakes = n
        .get(&format!("/v1/council/stakes?term={}", term + 1))
        .await;
    assert_eq!(
        listed.members,
        [lock_of(&member, "5"), lock_of(&other, "3")]
    );

    // A member's locked stake is at stake: a hunter may file a claim against it.
    let hunter = NodeKey::from_secret_bytes([13; 32]);
    n.mint(3, &hunter, "2").await;
    let (_, action) = bond(&json!({"kind": "council_misconduct"}), &other, ONE_TOKEN);
    let filed = n.tx(&hunter, 1, action).await;
    assert_eq!(filed.status, 200, "{:?}", filed.json());

    // Stake in office is slashable: the lock is posted into the stake, then slashed.
    let slashed = n
        .post(
            "/v1/ledger/slash",
            true,
            json!({"owner": member.id().to_string(), "amount": "1", "claimant": "3",
                   "evidence": failed_audit(&router_key(dir.path()), &member, 7)}),
        )
        .await;
    assert_eq!(slashed.status, 200, "{:?}", slashed.json());
    assert_eq!(n.account(wallet).await.balance.as_deref(), Some("5"));
    assert_eq!(
        n.account(stake_account(member.id().as_bytes()))
            .await
            .balance
            .as_deref(),
        Some("4")
    );
    let listed: CouncilStakes = n
        .get(&format!("/v1/council/stakes?term={}", term + 1))
        .await;
    assert_eq!(
        listed.members,
        [lock_of(&other, "3")],
        "the member's lock went into the stake"
    );

    // The other member's lock returns once its term and the unbonding period have passed.
    let other_wallet = wallet_account(other.id().as_bytes());
    assert_eq!(
        n.account(other_wallet).await.available.as_deref(),
        Some("7")
    );
    eventually("released after the term and unbonding", || async {
        n.account(other_wallet).await.available.as_deref() == Some("10")
    })
    .await;
    assert!(now() >= (term + 2) * 2 + 2, "not before its time");
    audit(n.a).await;
    router.shutdown().await;
}

#[tokio::test]
async fn the_last_term_there_is_answers_instead_of_overflowing() {
    let dir = tempfile::tempdir().unwrap();
    let (router, n) = net(dir.path(), |_| {}).await;
    let last: CouncilStakes = n
        .get(&format!("/v1/council/stakes?term={}", u64::MAX))
        .await;
    assert_eq!((last.term, last.release_at), (u64::MAX, u64::MAX));
    assert!(last.members.is_empty());
    router.shutdown().await;
}
