//! Claims, votes and elections on a real SQLite file: stored once, listed in order, surviving a reopen.

use std::sync::Arc;

use meson_store::{
    BallotRecord, ClaimFilter, ClaimKind, ClaimRecord, ElectionRecord, RoundRecord, SqliteStore,
    Store, StoreError, VoteRecord,
};
use tempfile::TempDir;

async fn fresh() -> (TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("router.sqlite"))
        .await
        .expect("open store");
    (dir, Arc::new(store))
}

fn claim(id: u8, hunter: u8, filed_at: u64) -> ClaimRecord {
    ClaimRecord {
        id: [id; 32],
        kind: ClaimKind::Council,
        accused: [9; 32],
        hunter: [hunter; 32],
        evidence: format!("{{\"record\":{id}}}"),
        bond_tx: "{\"signed\":true}".into(),
        bond: 5_000_000_000,
        filed_at,
        first_epoch: 3,
        last_epoch: 4,
        phase: "{\"phase\":\"filed\",\"at\":1}".into(),
        executed: None,
    }
}

#[tokio::test]
async fn claims_are_filed_once_listed_oldest_first_and_updated() {
    let (_dir, store) = fresh().await;
    assert_eq!(store.file_claim(&claim(2, 1, 20)).await.unwrap(), None);
    assert_eq!(store.file_claim(&claim(1, 1, 10)).await.unwrap(), None);
    assert_eq!(store.file_claim(&claim(3, 2, 30)).await.unwrap(), None);
    let mut again = claim(1, 7, 99);
    again.evidence = "other".into();
    assert_eq!(
        store.file_claim(&again).await.unwrap(),
        Some(claim(1, 1, 10)),
        "the claim stored first stays"
    );
    let ids = |cs: Vec<ClaimRecord>| cs.iter().map(|c| c.id[0]).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_claims(ClaimFilter::All, 10).await.unwrap()),
        [1, 2, 3]
    );
    assert_eq!(
        ids(store.list_claims(ClaimFilter::All, 2).await.unwrap()),
        [1, 2]
    );
    assert_eq!(
        ids(store
            .list_claims(ClaimFilter::By([2; 32]), 10)
            .await
            .unwrap()),
        [3]
    );
    assert_eq!(
        ids(store
            .list_claims(ClaimFilter::Against([9; 32]), 10)
            .await
            .unwrap()),
        [1, 2, 3]
    );
    assert!(store
        .list_claims(ClaimFilter::Against([1; 32]), 10)
        .await
        .unwrap()
        .is_empty());

    store
        .update_claim(
            [2; 32],
            "{\"phase\":\"final\"}",
            Some("{\"slashed\":\"1\"}"),
        )
        .await
        .unwrap();
    assert_eq!(
        ids(store.list_claims(ClaimFilter::Open, 10).await.unwrap()),
        [1, 3]
    );
    let c = store.claim_record([2; 32]).await.unwrap().unwrap();
    assert_eq!(c.phase, "{\"phase\":\"final\"}");
    assert_eq!(c.executed.as_deref(), Some("{\"slashed\":\"1\"}"));
    assert_eq!(c.bond, 5_000_000_000);
    assert!(matches!(
        store.update_claim([8; 32], "x", None).await,
        Err(StoreError::NotFound(_))
    ));
    // Hunter 1: claims 1 (open, filed at 10) and 2 (executed, filed at 20).
    assert_eq!(store.hunter_claims([1; 32], 0).await.unwrap(), (1, 2));
    assert_eq!(store.hunter_claims([1; 32], 15).await.unwrap(), (1, 1));
    assert_eq!(store.hunter_claims([5; 32], 0).await.unwrap(), (0, 0));
}

#[tokio::test]
async fn a_member_votes_once_per_round_on_a_claim_that_exists() {
    let (_dir, store) = fresh().await;
    store.file_claim(&claim(1, 1, 10)).await.unwrap();
    let vote = |member: u8, round: u8, upheld: bool| VoteRecord {
        claim: [1; 32],
        round,
        member: [member; 32],
        upheld,
        signed: format!("vote {member} {round}"),
        at: 11,
    };
    assert!(store.record_vote(&vote(5, 1, true)).await.unwrap());
    assert!(
        !store.record_vote(&vote(5, 1, false)).await.unwrap(),
        "twice in a round"
    );
    assert!(store.record_vote(&vote(6, 1, false)).await.unwrap());
    assert!(
        store.record_vote(&vote(5, 2, false)).await.unwrap(),
        "the appeal round is new"
    );
    let votes = store.votes([1; 32]).await.unwrap();
    assert_eq!(
        votes,
        vec![vote(5, 1, true), vote(6, 1, false), vote(5, 2, false)]
    );
    let mut stray = vote(5, 1, true);
    stray.claim = [4; 32];
    assert!(matches!(
        store.record_vote(&stray).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn elections_open_once_ballots_replace_and_terms_seat_once_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("router.sqlite");
    let store = SqliteStore::open(&path).await.unwrap();
    let election = ElectionRecord {
        term: 7,
        opened_at: 700,
        snapshot: vec![([1; 32], 10), ([2; 32], u128::MAX)],
        digest: [3; 32],
    };
    assert_eq!(store.open_election(&election).await.unwrap(), None);
    let later = ElectionRecord {
        opened_at: 750,
        snapshot: vec![],
        ..election.clone()
    };
    assert_eq!(
        store.open_election(&later).await.unwrap(),
        Some(election.clone())
    );
    let ballot = |voter: u8, signed: &str, at: u64| BallotRecord {
        term: 7,
        voter: [voter; 32],
        signed: signed.into(),
        at,
    };
    store.record_ballot(&ballot(1, "first", 701)).await.unwrap();
    store
        .record_ballot(&ballot(2, "second", 702))
        .await
        .unwrap();
    store
        .record_ballot(&ballot(1, "changed", 703))
        .await
        .unwrap();
    assert!(matches!(
        store
            .record_ballot(&BallotRecord {
                term: 8,
                ..ballot(1, "x", 1)
            })
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store
        .seat_term(8, 800, &[([1; 32], 10), ([2; 32], 5)])
        .await
        .unwrap());
    assert!(!store.seat_term(8, 801, &[]).await.unwrap(), "seated once");
    assert!(
        store.seat_term(9, 900, &[]).await.unwrap(),
        "a term nobody won is still seated"
    );
    store.mark_rewarded(8).await.unwrap();
    store.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.election(7).await.unwrap(), Some(election));
    assert_eq!(store.election(8).await.unwrap(), None);
    assert_eq!(
        store.ballots(7).await.unwrap(),
        vec![ballot(2, "second", 702), ballot(1, "changed", 703)]
    );
    let t = store.council_term(8).await.unwrap().unwrap();
    assert_eq!((t.seated_at, t.rewarded), (800, true));
    assert_eq!(t.members, vec![([1; 32], 10), ([2; 32], 5)]);
    assert!(store
        .council_term(9)
        .await
        .unwrap()
        .unwrap()
        .members
        .is_empty());
    assert_eq!(store.council_term(10).await.unwrap(), None);
}

#[tokio::test]
async fn rounds_open_once_with_their_eligible_members_and_list_by_term_with_their_votes() {
    let (_dir, store) = fresh().await;
    store.file_claim(&claim(1, 1, 10)).await.unwrap();
    store.file_claim(&claim(2, 1, 11)).await.unwrap();
    let round = |claim: u8, round: u8, term: u64, opened_at: u64| RoundRecord {
        claim: [claim; 32],
        round,
        opened_at,
        term,
        eligible: vec![[5; 32], [6; 32]],
    };
    assert!(store.open_round(&round(1, 1, 4, 40)).await.unwrap());
    assert!(
        !store.open_round(&round(1, 1, 4, 41)).await.unwrap(),
        "opened once"
    );
    assert!(store.open_round(&round(2, 1, 4, 42)).await.unwrap());
    assert!(store.open_round(&round(1, 2, 5, 50)).await.unwrap());
    assert!(matches!(
        store.open_round(&round(3, 1, 4, 43)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.rounds([1; 32]).await.unwrap(),
        vec![round(1, 1, 4, 40), round(1, 2, 5, 50)]
    );
    let vote = |claim: u8, round: u8, member: u8| VoteRecord {
        claim: [claim; 32],
        round,
        member: [member; 32],
        upheld: true,
        signed: String::new(),
        at: 45,
    };
    store.record_vote(&vote(1, 1, 5)).await.unwrap();
    store.record_vote(&vote(1, 2, 6)).await.unwrap();
    let in_term = store.rounds_in_term(4).await.unwrap();
    assert_eq!(
        in_term,
        vec![
            (round(1, 1, 4, 40), vec![vote(1, 1, 5)]),
            (round(2, 1, 4, 42), vec![]),
        ]
    );
    assert_eq!(
        store.rounds_in_term(5).await.unwrap(),
        vec![(round(1, 2, 5, 50), vec![vote(1, 2, 6)])]
    );
}

#[tokio::test]
async fn a_claim_upheld_for_good_withholds_the_epochs_its_probes_span() {
    let (_dir, store) = fresh().await;
    let mut c = claim(1, 1, 10);
    (c.first_epoch, c.last_epoch) = (3, 5);
    store.file_claim(&c).await.unwrap();
    for e in 2..7 {
        assert!(store.withheld(e).await.unwrap().is_empty(), "filed: {e}");
    }
    let decided =
        "{\"phase\":\"decided\",\"outcome\":\"upheld\",\"round\":1,\"at\":1,\"appeal_until\":2}";
    store.update_claim(c.id, decided, None).await.unwrap();
    assert!(
        store.withheld(4).await.unwrap().is_empty(),
        "appealable still"
    );
    let rejected = "{\"phase\":\"final\",\"outcome\":\"rejected\",\"at\":3}";
    store.update_claim(c.id, rejected, None).await.unwrap();
    assert!(store.withheld(4).await.unwrap().is_empty(), "rejected");
    let upheld = "{\"phase\":\"final\",\"outcome\":\"upheld\",\"at\":3}";
    store.update_claim(c.id, upheld, None).await.unwrap();
    for (e, held) in [(2, false), (3, true), (4, true), (5, true), (6, false)] {
        assert_eq!(
            store.withheld(e).await.unwrap() == vec![c.accused],
            held,
            "epoch {e}"
        );
    }
}
