//! The elected council against a real router, with short terms: an election counts the voting power
//! snapshotted when it opened and seats the winners that locked council stake, the council rotating
//! at the next term; a council claim is reviewed by the seated members, who re-probe the accused with
//! the router's tickets and vote with their own records, decided by two thirds, appealed once by the
//! loser and executed; members that voted in every round they could are paid the seat's reward.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use common::hunt::*;
use common::*;
use meson_api::claims::{
    ClaimDetail, ClaimStatus, ClaimView, Outcome, PhaseName, ProbeTicketIssued,
};
use meson_api::council::{
    BallotAccepted, Candidate, CouncilTerm, CouncilView, ElectionView, Seat, SnapshotView,
};
use meson_api::ledger::LogPage;
use meson_core::council::{Appeal, Ballot, ProbeTicket, Vote, APPEAL, BALLOT, PROBE_TICKET, VOTE};
use meson_core::identity::{NodeId, NodeKey};
use meson_core::signed::SignedMessage;
use meson_ledger::accounts::{wallet_account, TREASURY};
use meson_ledger::audit::EntryBody;
use meson_ledger::tx::TxAction;
use meson_ledger::{Batch, LogRecord, ONE_TOKEN};
use meson_router::RouterConfig;
use meson_testkit::Resource;
use serde_json::Value;

const NETWORK: &str = "meson-dev";
const HOST: &str = "council.test";
const PATH: &str = "/obj.bin";

async fn router(
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut RouterConfig),
) -> meson_router::Router {
    quick_router(dir, |c| {
        c.council_min_stake = ONE_TOKEN;
        tweak(c)
    })
    .await
}

fn keys<const N: usize>() -> [NodeKey; N] {
    std::array::from_fn(|_| NodeKey::from_secret_bytes(rand::random()))
}

/// The snapshot of `term`'s election, once it has opened.
async fn opened(a: SocketAddr, term: u64) -> SnapshotView {
    let path = format!("/v1/council/elections/{term}/snapshot");
    eventually(&format!("the election of term {term} opens"), || async {
        call(a, "GET", &path, &[], None).await.status == 200
    })
    .await;
    get_json(a, &path).await
}

/// Each key's voting power in `snapshot`, in tokens.
fn powers(snapshot: &SnapshotView) -> BTreeMap<NodeId, String> {
    snapshot
        .powers
        .iter()
        .map(|p| (p.key, p.power.clone()))
        .collect()
}

fn power_of(entries: &[(&NodeKey, &str)]) -> BTreeMap<NodeId, String> {
    entries
        .iter()
        .map(|(k, p)| (k.id(), p.to_string()))
        .collect()
}

fn ballot(voter: &NodeKey, term: u64, candidates: &[&NodeKey]) -> Value {
    let body = Ballot {
        network: NETWORK.into(),
        term,
        candidates: candidates.iter().map(|c| c.id()).collect(),
    };
    signed(voter, BALLOT, &body)
}

async fn cast(a: SocketAddr, term: u64, ballot: Value) -> Got {
    let path = format!("/v1/council/elections/{term}/ballots");
    call(a, "POST", &path, &[], Some(ballot)).await
}

/// Casts a ballot that must be counted; the power it counts with, in tokens.
async fn counted(a: SocketAddr, voter: &NodeKey, term: u64, candidates: &[&NodeKey]) -> String {
    let got = cast(a, term, ballot(voter, term, candidates)).await;
    assert_eq!(got.status, 200, "{:?}", got.json());
    let b: BallotAccepted = got.parse();
    assert_eq!((b.term, b.voter), (term, voter.id()));
    b.power
}

async fn lock(a: SocketAddr, member: &NodeKey, term: u64) {
    let action = TxAction::CouncilStake {
        term,
        amount: ONE_TOKEN,
    };
    let got = send_tx(a, member, action).await;
    assert_eq!(got.status, 200, "{:?}", got.json());
}

/// The members seated for `term`, once it has begun.
async fn seated(a: SocketAddr, term: u64) -> Vec<Seat> {
    let members = RefCell::new(None);
    eventually(&format!("term {term} is seated"), || async {
        let c: CouncilView = get_json(a, "/v1/council").await;
        let seated = c.members.filter(|_| c.term == term);
        let found = seated.is_some();
        *members.borrow_mut() = seated;
        found
    })
    .await;
    members.into_inner().unwrap()
}

fn seat(member: &NodeKey, approval: &str) -> Seat {
    Seat {
        member: member.id(),
        approval: approval.into(),
    }
}

#[tokio::test]
async fn an_election_counts_its_snapshot_seats_the_winners_with_stake_and_the_council_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(dir.path(), |c| {
        c.council_term_secs = 10;
        c.council_seats = 2;
    })
    .await;
    let a = router.addr;
    let [v1, v2, v3, late] = keys();
    let [c1, c2, c3, c4] = keys();

    // The first election after the start was opened on the ledger as it was: empty.
    let first = get_json::<CouncilView>(a, "/v1/council").await.next.term;
    assert!(opened(a, first).await.powers.is_empty());
    for (k, amount) in [(&v1, "10"), (&v2, "5"), (&v3, "3")] {
        mint(a, dir.path(), k, amount).await;
    }
    for c in [&c1, &c2, &c3, &c4] {
        mint(a, dir.path(), c, "2").await;
    }
    // The next election to open, after these mints.
    let term = get_json::<CouncilTerm>(a, "/v1/council/term").await.term + 2;
    let snapshot = opened(a, term).await;
    assert_eq!(
        powers(&snapshot),
        power_of(&[
            (&v1, "10"),
            (&v2, "5"),
            (&v3, "3"),
            (&c1, "2"),
            (&c2, "2"),
            (&c3, "2"),
            (&c4, "2")
        ])
    );
    let view: ElectionView = get_json(a, &format!("/v1/council/elections/{term}")).await;
    assert_eq!(
        (view.opened_at, view.snapshot_digest.as_deref(), view.voters),
        (Some(snapshot.opened_at), Some(snapshot.digest.as_str()), 7)
    );

    // Tokens moved after the opening: the receiver has no vote, the sender keeps its snapshot's.
    mint(a, dir.path(), &late, "1").await;
    let sent = TxAction::Transfer {
        to: wallet_account(late.id().as_bytes()),
        amount: 3 * ONE_TOKEN,
    };
    assert_eq!(send_tx(a, &v3, sent).await.status, 200);
    let refused = cast(a, term, ballot(&late, term, &[&c1])).await;
    assert_eq!(
        refused.status,
        422,
        "no power in the snapshot: {:?}",
        refused.json()
    );
    assert_eq!(counted(a, &v3, term, &[&c2, &c3]).await, "3");

    // A later ballot replaces the earlier one.
    assert_eq!(counted(a, &v1, term, &[&c4]).await, "10");
    assert_eq!(counted(a, &v1, term, &[&c1, &c2]).await, "10");
    assert_eq!(counted(a, &v2, term, &[&c1, &c3]).await, "5");
    for (to, msg, status, why) in [
        (
            term,
            ballot(&v2, term + 1, &[&c4]),
            400,
            "a ballot for another term",
        ),
        (
            term + 1,
            ballot(&v2, term + 1, &[&c4]),
            409,
            "an election not open",
        ),
        (
            term,
            ballot(&v2, term, &[&c1, &c3, &c4]),
            409,
            "more candidates than seats",
        ),
        (
            term,
            forged(ballot(&v2, term, &[&c4]), &v1),
            401,
            "a forged ballot",
        ),
    ] {
        let got = cast(a, to, msg).await;
        assert_eq!(got.status, status, "{why}: {:?}", got.json());
    }

    // The second most approved did not lock stake: the third takes its seat.
    for c in [&c1, &c3, &c4] {
        lock(a, c, term).await;
    }
    let view: ElectionView = get_json(a, &format!("/v1/council/elections/{term}")).await;
    let candidate = |c: &NodeKey, approval: &str, locked: &str, seated: bool| Candidate {
        candidate: c.id(),
        approval: approval.into(),
        locked: locked.into(),
        seated,
    };
    assert_eq!(view.ballots, 3, "one per voter");
    assert_eq!(
        view.count,
        [
            candidate(&c1, "15", "1", true),
            candidate(&c2, "13", "0", false),
            candidate(&c3, "8", "1", true)
        ]
    );
    assert_eq!(seated(a, term).await, [seat(&c1, "15"), seat(&c3, "8")]);

    // The next term's election opened as this term began, on the tokens as they were then.
    let next = term + 1;
    assert_eq!(
        powers(&opened(a, next).await),
        power_of(&[
            (&v1, "10"),
            (&v2, "5"),
            (&late, "4"),
            (&c1, "2"),
            (&c2, "2"),
            (&c3, "2"),
            (&c4, "2")
        ])
    );
    assert_eq!(counted(a, &v1, next, &[&c2, &c4]).await, "10");
    assert_eq!(counted(a, &late, next, &[&c4]).await, "4");
    for c in [&c2, &c4] {
        lock(a, c, next).await;
    }
    assert_eq!(seated(a, next).await, [seat(&c4, "14"), seat(&c2, "10")]);
    audit(a).await;
    router.shutdown().await;
}

/// A member's probe of the accused of claim `id`: `n` tickets from the router, each fetched; the record.
async fn reprobe(a: SocketAddr, member: &NodeKey, id: &str, accused: NodeId, n: usize) -> String {
    let mut urls = Vec::new();
    for _ in 0..n {
        let got = ask_ticket(a, member, id).await;
        assert_eq!(got.status, 200, "{:?}", got.json());
        let t: ProbeTicketIssued = got.parse();
        assert_eq!(t.terminal, accused);
        urls.push(t.url);
    }
    record(HOST, PATH, &urls, accused).await
}

async fn ask_ticket(a: SocketAddr, member: &NodeKey, id: &str) -> Got {
    let body = ProbeTicket {
        network: NETWORK.into(),
        claim: id.into(),
    };
    let path = format!("/v1/claims/{id}/probe");
    call(
        a,
        "POST",
        &path,
        &[],
        Some(signed(member, PROBE_TICKET, &body)),
    )
    .await
}

async fn vote(
    a: SocketAddr,
    member: &NodeKey,
    id: &str,
    round: u8,
    upheld: bool,
    record: &str,
) -> Got {
    let body = Vote {
        network: NETWORK.into(),
        claim: id.into(),
        round,
        upheld,
        record: record.into(),
    };
    let path = format!("/v1/claims/{id}/votes");
    call(a, "POST", &path, &[], Some(signed(member, VOTE, &body))).await
}

/// A vote that must be taken; the claim after it.
async fn voted(
    a: SocketAddr,
    member: &NodeKey,
    id: &str,
    round: u8,
    upheld: bool,
    record: &str,
) -> ClaimDetail {
    let got = vote(a, member, id, round, upheld, record).await;
    assert_eq!(got.status, 200, "{:?}", got.json());
    got.parse()
}

async fn appeal(a: SocketAddr, by: &NodeKey, id: &str) -> Got {
    let body = Appeal {
        network: NETWORK.into(),
        claim: id.into(),
    };
    let path = format!("/v1/claims/{id}/appeal");
    call(a, "POST", &path, &[], Some(signed(by, APPEAL, &body))).await
}

fn sorted(keys: &[&NodeKey]) -> Vec<NodeId> {
    let mut ids: Vec<NodeId> = keys.iter().map(|k| k.id()).collect();
    ids.sort();
    ids
}

fn sorted_ids(mut ids: Vec<NodeId>) -> Vec<NodeId> {
    ids.sort();
    ids
}

/// (claim, round, member) of every vote the audit log carries, each checked against its signature.
async fn logged_votes(a: SocketAddr) -> Vec<(String, u8, NodeId)> {
    let log: LogPage = get_json(a, "/v1/ledger/log?after=0").await;
    let mut votes = Vec::new();
    for e in &log.entries {
        let entry: EntryBody = serde_json::from_str(&e.body).unwrap();
        if let Batch::Record {
            record:
                LogRecord::Vote {
                    claim,
                    round,
                    signed,
                },
            ..
        } = entry.batch
        {
            let msg: SignedMessage<Vote> = serde_json::from_str(&signed).unwrap();
            let v = msg.verify_signature(VOTE).unwrap();
            assert_eq!((&v.body.claim, v.body.round), (&claim, round));
            votes.push((claim, round, v.signer));
        }
    }
    votes.sort();
    votes
}

#[tokio::test]
async fn the_council_reviews_claims_by_two_thirds_with_one_appeal_and_pays_members_that_voted() {
    let dir = tempfile::tempdir().unwrap();
    let router = router(dir.path(), |c| {
        // Long enough for both reviews to run in the first seated term on a loaded machine.
        c.council_term_secs = 20;
        c.council_seats = 4;
        c.review_secs = 10;
        c.appeal_secs = 3;
        c.seat_reward = ONE_TOKEN;
    })
    .await;
    let a = router.addr;
    let api_key = account(a).await;
    assert_eq!(add_site(a, &api_key, HOST, "keep").await.status, 201);
    // Three members, a hunter that sits on the council too, a voter who elects them all, a stranger.
    let [m1, m2, m3, hunter, voter, stranger] = keys();
    mint(a, dir.path(), &voter, "100").await;
    for m in [&m1, &m2, &m3] {
        mint(a, dir.path(), m, "2").await;
    }
    mint(a, dir.path(), &hunter, "12").await;
    let term = get_json::<CouncilTerm>(a, "/v1/council/term").await.term + 2;
    opened(a, term).await;
    assert_eq!(
        counted(a, &voter, term, &[&m1, &m2, &m3, &hunter]).await,
        "100"
    );
    for m in [&m1, &m2, &m3, &hunter] {
        lock(a, m, term).await;
    }

    // Meanwhile the hunter probes two terminals as a client, while each is down: `faulty` stays down,
    // `honest` comes back.
    let faulty = SigningTerminal::start().await;
    assert_eq!(faulty.register(a, None).await.status, 200);
    stake(a, dir.path(), &faulty.key, 20).await;
    let urls = tickets_to(a, &faulty, HOST, PATH, 3).await;
    faulty.stop_server();
    refusing(&faulty).await;
    let against_faulty = record(HOST, PATH, &urls, faulty.key.id()).await;
    let honest = SigningTerminal::start().await;
    honest.serve(PATH, Resource::new(meson_testkit::pattern(4096, 1), &[]));
    assert_eq!(honest.register(a, None).await.status, 200);
    stake(a, dir.path(), &honest.key, 20).await;
    let urls = tickets_to(a, &honest, HOST, PATH, 3).await;
    honest.stop_server();
    refusing(&honest).await;
    let against_honest = record(HOST, PATH, &urls, honest.key.id()).await;
    honest.restart_server().await;
    assert!(all_failed(&against_faulty) && all_failed(&against_honest));

    let members = seated(a, term).await;
    assert_eq!(
        sorted_ids(members.iter().map(|s| s.member).collect()),
        sorted(&[&m1, &m2, &m3, &hunter])
    );

    // The claim against the terminal that stays down: round 1, the hunter recused.
    let bonded = 2 * ONE_TOKEN;
    let accused = faulty.key.id();
    let id = filed(a, "council", &against_faulty, &hunter, &accused, bonded)
        .await
        .claim;
    let c = claim_in(a, &id, "under_review").await;
    assert_eq!(c.phase.round, Some(1));
    let t = c.tally.unwrap();
    assert_eq!(sorted_ids(t.eligible), sorted(&[&m1, &m2, &m3]));
    assert_eq!(
        (t.recused, t.need, t.upheld, t.rejected),
        (vec![hunter.id()], 2, 0, 0)
    );

    let refused = ask_ticket(a, &stranger, &id).await;
    assert_eq!(
        refused.status,
        401,
        "a ticket for a non-member: {:?}",
        refused.json()
    );
    let r1 = reprobe(a, &m1, &id, accused, 3).await;
    let r2 = reprobe(a, &m2, &id, accused, 3).await;
    assert!(all_failed(&r1) && all_failed(&r2), "refused again");
    for (by, upheld, record, status, why) in [
        (&m2, false, &r2, 422, "a vote its own record contradicts"),
        (&stranger, true, &r1, 422, "a vote from a non-member"),
    ] {
        let got = vote(a, by, &id, 1, upheld, record).await;
        assert_eq!(got.status, status, "{why}: {:?}", got.json());
    }
    let c = voted(a, &m1, &id, 1, true, &r1).await;
    assert_eq!(c.tally.map(|t| (t.upheld, t.rejected)), Some((1, 0)));
    let twice = vote(a, &m1, &id, 1, true, &r1).await;
    assert_eq!(twice.status, 409, "a second vote: {:?}", twice.json());
    let c = voted(a, &m2, &id, 1, true, &r2).await;
    assert_eq!(
        (c.phase.phase, c.phase.round, c.phase.outcome),
        (PhaseName::Decided, Some(1), Some(Outcome::Upheld)),
        "two of three"
    );
    let late = vote(a, &m3, &id, 1, true, &r1).await;
    assert_eq!(late.status, 409, "decided already: {:?}", late.json());
    let no_ticket = ask_ticket(a, &m3, &id).await;
    assert_eq!(
        no_ticket.status,
        401,
        "no re-probe once decided: {:?}",
        no_ticket.json()
    );

    // Only the loser appeals: the accused.
    let by_hunter = appeal(a, &hunter, &id).await;
    assert_eq!(by_hunter.status, 409, "{:?}", by_hunter.json());
    let by_stranger = appeal(a, &stranger, &id).await;
    assert_eq!(by_stranger.status, 401, "{:?}", by_stranger.json());
    let appealed = appeal(a, &faulty.key, &id).await;
    assert_eq!(appealed.status, 200, "{:?}", appealed.json());
    let c: ClaimDetail = appealed.parse();
    assert_eq!(
        (c.phase.phase, c.phase.round),
        (PhaseName::UnderReview, Some(2))
    );
    let r1 = reprobe(a, &m1, &id, accused, 3).await;
    let r3 = reprobe(a, &m3, &id, accused, 3).await;
    voted(a, &m1, &id, 2, true, &r1).await;
    let c = voted(a, &m3, &id, 2, true, &r3).await;
    assert_eq!(
        (c.phase.phase, c.phase.outcome),
        (PhaseName::Final, Some(Outcome::Upheld))
    );
    assert_eq!(c.executed, Some(moved("10", "5", "2", true)));
    // Minted 12, locked 1, the bond back and half the slash.
    assert_eq!(funds(a, &hunter).await, (17 * ONE_TOKEN, 16 * ONE_TOKEN));
    assert_eq!(stake_of(a, &faulty.key).await, 10 * ONE_TOKEN);
    assert_eq!(account_funds(a, TREASURY).await.0, 2 * ONE_TOKEN);
    let reply = faulty.heartbeat(a, 0, false).await.json();
    assert!(
        reply["suspended"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("disqualified: claim {id} upheld"))),
        "{reply}"
    );

    // The claim against the terminal that came back: its re-probes find it serving, so the members
    // reject it, and the hunter does not appeal.
    let accused = honest.key.id();
    let false_id = filed(a, "council", &against_honest, &hunter, &accused, bonded)
        .await
        .claim;
    claim_in(a, &false_id, "under_review").await;
    let r1 = reprobe(a, &m1, &false_id, accused, 3).await;
    let r2 = reprobe(a, &m2, &false_id, accused, 3).await;
    assert!(!all_failed(&r1) && !all_failed(&r2), "served");
    voted(a, &m1, &false_id, 1, false, &r1).await;
    let c = voted(a, &m2, &false_id, 1, false, &r2).await;
    assert_eq!(
        (c.phase.phase, c.phase.outcome),
        (PhaseName::Decided, Some(Outcome::Rejected))
    );
    let c = executed(a, &false_id).await;
    assert_eq!(
        (c.phase.phase, c.phase.outcome),
        (PhaseName::Final, Some(Outcome::Rejected))
    );
    assert_eq!(c.executed, Some(moved("0", "0", "2", false)));
    assert_eq!(
        funds(a, &hunter).await,
        (15 * ONE_TOKEN, 14 * ONE_TOKEN),
        "the bond lost"
    );
    assert_eq!(
        account_funds(a, TREASURY).await.0,
        4 * ONE_TOKEN,
        "and forfeited to the treasury"
    );
    let bond_of: ClaimView = get_json(a, &format!("/v1/ledger/claims/{false_id}")).await;
    assert_eq!(bond_of.status, ClaimStatus::Forfeited);
    assert_eq!(stake_of(a, &honest.key).await, 20 * ONE_TOKEN);

    // Every vote is public, signed, in the audit log.
    let mut expected = vec![
        (id.clone(), 1, m1.id()),
        (id.clone(), 1, m2.id()),
        (id.clone(), 2, m1.id()),
        (id.clone(), 2, m3.id()),
        (false_id.clone(), 1, m1.id()),
        (false_id.clone(), 1, m2.id()),
    ];
    expected.sort();
    assert_eq!(logged_votes(a).await, expected);

    // When the term ends, the member that voted in every round and the recused hunter are paid; the
    // two that each missed a round are not.
    eventually("the seat rewards are paid", || async {
        funds(a, &m1).await.0 == 3 * ONE_TOKEN
    })
    .await;
    assert_eq!(funds(a, &hunter).await.0, 16 * ONE_TOKEN);
    for m in [&m2, &m3] {
        assert_eq!(funds(a, m).await.0, 2 * ONE_TOKEN);
    }
    assert_eq!(account_funds(a, TREASURY).await.0, 2 * ONE_TOKEN);
    audit(a).await;
    router.shutdown().await;
}
