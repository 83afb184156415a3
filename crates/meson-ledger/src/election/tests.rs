use super::*;
use crate::accounts::{self, stake_account, wallet_account};
use crate::council::{self, CouncilRules};
use crate::test_ledger::{mint, open, submit, with_keys};
use crate::{Outcome, Transfer, TransferCode, ONE_TOKEN};

const RULES: ElectionRules = ElectionRules {
    seats: 2,
    term_secs: 100,
};
const COUNCIL: CouncilRules = CouncilRules {
    term_secs: 100,
    unbonding_secs: 50,
    min_stake: 10 * ONE_TOKEN,
};

fn key(n: u8) -> [u8; 32] {
    [n; 32]
}

fn tokens(n: u128) -> Amount {
    n * ONE_TOKEN
}

fn pay(l: &mut Ledger, id: u128, from: u128, to: u128, amount: Amount) {
    let r = submit(
        l,
        vec![Transfer::new(id, from, to, amount, TransferCode::Transfer)],
    );
    assert_eq!(r, [Ok(Outcome::Created)]);
}

fn lock(l: &mut Ledger, owner: u8, term: u64, now: u64) {
    let t = COUNCIL
        .lock(l, &key(owner), term, COUNCIL.min_stake, now)
        .unwrap();
    assert_eq!(submit(l, vec![t]), [Ok(Outcome::Created)]);
}

fn ballot(voter: u8, candidates: &[u8]) -> Ballot {
    Ballot {
        voter: key(voter),
        candidates: candidates.iter().map(|&c| key(c)).collect(),
    }
}

#[test]
fn the_election_for_a_term_runs_through_the_term_before() {
    assert_eq!(RULES.open_for(0), 1);
    assert_eq!(RULES.open_for(250), 3);
    assert_eq!(RULES.open_for(299), 3);
    assert_eq!(RULES.open_for(300), 4);
    assert_eq!((RULES.opens_at(3), RULES.closes_at(3)), (200, 300));
    assert_eq!(RULES.opens_at(0), 0);
    assert_eq!(RULES.closes_at(u64::MAX), u64::MAX, "saturates");
}

#[test]
fn a_ballot_is_for_the_open_election_and_names_one_to_seats_distinct_candidates() {
    assert_eq!(RULES.check_ballot(3, &[key(1), key(2)], 250), Ok(()));
    for term in [2, 4] {
        assert_eq!(
            RULES.check_ballot(term, &[key(1)], 250),
            Err(ElectionError::NotOpen { term, open: 3 })
        );
    }
    assert_eq!(
        RULES.check_ballot(3, &[], 250),
        Err(ElectionError::NoCandidate)
    );
    assert_eq!(
        RULES.check_ballot(3, &[key(1), key(2), key(3)], 250),
        Err(ElectionError::TooManyCandidates { seats: 2 })
    );
    assert_eq!(
        RULES.check_ballot(3, &[key(1), key(1)], 250),
        Err(ElectionError::DuplicateCandidate {
            candidate: hex::encode(key(1))
        })
    );
}

#[test]
fn power_is_a_keys_wallet_and_stake_council_locks_included() {
    let mut l = with_keys(&[key(1), key(2), key(3)]);
    open(&mut l, vec![accounts::terminal(&key(4))]);
    mint(&mut l, 1, wallet_account(&key(1)), tokens(100));
    mint(&mut l, 2, wallet_account(&key(2)), tokens(50));
    mint(&mut l, 3, accounts::terminal_account(&key(4)), tokens(7));
    pay(
        &mut l,
        4,
        wallet_account(&key(1)),
        stake_account(&key(1)),
        tokens(30),
    );
    lock(&mut l, 2, 1, 50);
    let s = snapshot(&l);
    // Key 3 holds nothing; key 4's terminal earnings are not a wallet.
    assert_eq!(
        s.into_iter().collect::<Vec<_>>(),
        [(key(1), tokens(100)), (key(2), tokens(50))]
    );
}

#[test]
fn the_snapshot_digest_is_pinned_and_covers_every_key_and_power() {
    let s: BTreeMap<[u8; 32], Amount> = [(key(1), 5), (key(2), 7)].into();
    assert_eq!(
        hex::encode(snapshot_digest(&s)),
        "4fed5f7a53b05f1b832c5e7cd43e5ab120b59d4aedccecae36ba0e61663a1958",
        "the logged encoding never drifts"
    );
    let mut more = s.clone();
    *more.get_mut(&key(2)).unwrap() += 1;
    assert_ne!(snapshot_digest(&more), snapshot_digest(&s));
    more.remove(&key(2));
    assert_ne!(snapshot_digest(&more), snapshot_digest(&s));
    assert_ne!(snapshot_digest(&BTreeMap::new()), snapshot_digest(&more));
}

#[test]
fn tokens_moved_after_the_snapshot_do_not_vote() {
    let mut l = with_keys(&[key(1), key(2), key(9)]);
    mint(&mut l, 1, wallet_account(&key(1)), tokens(100));
    mint(&mut l, 2, wallet_account(&key(2)), tokens(60));
    let opened = snapshot(&l);
    // Key 1 hands its tokens to key 9, which votes for the other candidate.
    pay(
        &mut l,
        3,
        wallet_account(&key(1)),
        wallet_account(&key(9)),
        tokens(100),
    );
    let ballots = [ballot(1, &[20]), ballot(2, &[21]), ballot(9, &[21])];
    assert_eq!(
        tally(&opened, &ballots),
        [(tokens(100), key(20)), (tokens(60), key(21))]
    );
    assert_eq!(
        tally(&snapshot(&l), &ballots),
        [(tokens(160), key(21))],
        "with power taken now, the moved tokens would have voted twice"
    );
}

#[test]
fn a_later_ballot_replaces_an_earlier_and_a_candidate_counts_once_per_ballot() {
    let s: BTreeMap<[u8; 32], Amount> = [(key(1), 10), (key(2), 5), (key(3), 5)].into();
    let ballots = [
        ballot(1, &[20, 21]),
        ballot(2, &[22, 22]),
        ballot(3, &[21]),
        ballot(1, &[22]),
        ballot(4, &[23]),
    ];
    // Key 4 has no power; 21 and 23 tie at 5 with 22's 15 ahead, and ties go by key.
    assert_eq!(tally(&s, &ballots), [(15, key(22)), (5, key(21))]);
    assert!(tally(&s, &[]).is_empty());
}

#[test]
fn winners_without_a_lock_give_their_seat_to_the_next() {
    let ranked = [(50, key(20)), (40, key(21)), (30, key(22)), (20, key(23))];
    let locked = [(10, key(21)), (10, key(22)), (10, key(23)), (10, key(24))];
    assert_eq!(seat(&ranked, &locked, 2), [key(21), key(22)]);
    assert_eq!(seat(&ranked, &locked, 9), [key(21), key(22), key(23)]);
    assert!(seat(&[(0, key(21))], &locked, 2).is_empty(), "no power");
    assert!(seat(&ranked, &[], 2).is_empty());
}

/// Two elections, the seats changing hands: term 1 is elected during term 0, term 2 during term 1, each
/// from its own snapshot, ballots and locks.
#[test]
fn the_council_rotates_at_the_end_of_a_term() {
    let (voters, candidates) = ([1u8, 2, 3], [20u8, 21, 22]);
    let keys: Vec<[u8; 32]> = voters.iter().chain(&candidates).map(|&k| key(k)).collect();
    let mut l = with_keys(&keys);
    for (id, (k, n)) in [(1, 100), (2, 60), (3, 30), (20, 30), (21, 30), (22, 30)]
        .into_iter()
        .enumerate()
    {
        mint(&mut l, id as u128 + 1, wallet_account(&key(k)), tokens(n));
    }
    let now = 50;
    assert_eq!(RULES.open_for(now), 1);
    let first = snapshot(&l);
    for c in candidates {
        lock(&mut l, c, 1, now);
    }
    let ballots = [ballot(1, &[20, 21]), ballot(2, &[21, 22]), ballot(3, &[22])];
    let ranked = tally(&first, &ballots);
    let term1 = seat(&ranked, &council::members(&l, 1), RULES.seats);
    assert_eq!(term1, [key(21), key(20)]);

    let now = 150;
    assert_eq!(RULES.open_for(now), 2);
    let second = snapshot(&l);
    // Key 20 does not stand again (no lock for term 2); key 1 now backs key 22.
    lock(&mut l, 21, 2, now);
    lock(&mut l, 22, 2, now);
    let ballots = [ballot(1, &[20, 22]), ballot(2, &[21, 22]), ballot(3, &[22])];
    let ranked = tally(&second, &ballots);
    assert_eq!(
        ranked[..2],
        [(tokens(190), key(22)), (tokens(100), key(20))]
    );
    let term2 = seat(&ranked, &council::members(&l, 2), RULES.seats);
    assert_eq!(term2, [key(22), key(21)]);
    let stood: Vec<[u8; 32]> = council::members(&l, 2).iter().map(|m| m.1).collect();
    assert_eq!(stood, [key(21), key(22)], "a lock is for its own term only");
}
