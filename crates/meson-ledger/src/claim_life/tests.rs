use super::*;

const RULES: LifeRules = LifeRules {
    review_secs: 100,
    appeal_secs: 50,
};
const ACCUSED: [u8; 32] = [1; 32];
const HUNTER: [u8; 32] = [2; 32];

fn member(n: u8) -> [u8; 32] {
    [10 + n; 32]
}

/// A tally of `n` eligible members (none a party).
fn council(n: u8) -> Tally {
    let seated: Vec<[u8; 32]> = (0..n).map(member).collect();
    Tally::new(&seated, &ACCUSED, &HUNTER)
}

/// A tally of `n` eligible members with `up` votes to uphold and `down` to reject.
fn votes(n: u8, up: u8, down: u8) -> Tally {
    let mut t = council(n);
    for i in 0..up {
        t.record(&member(i), true).unwrap();
    }
    for i in up..up + down {
        t.record(&member(i), false).unwrap();
    }
    t
}

fn review(round: u8, since: u64) -> Phase {
    Phase::UnderReview {
        round,
        since,
        until: since + RULES.review_secs,
    }
}

fn decided(outcome: Outcome, at: u64) -> Phase {
    Phase::Decided {
        outcome,
        round: 1,
        at,
        appeal_until: at + RULES.appeal_secs,
    }
}

#[test]
fn objective_evidence_is_final_when_filed_and_a_council_claim_waits() {
    assert_eq!(
        RULES.file(ClaimKind::Objective, 7),
        Phase::Final {
            outcome: Outcome::Upheld,
            at: 7
        }
    );
    assert_eq!(RULES.file(ClaimKind::Council, 7), Phase::Filed { at: 7 });
}

#[test]
fn a_review_opens_on_a_filed_claim_until_it_expires() {
    let filed = Phase::Filed { at: 1_000 };
    assert_eq!(RULES.open_review(&filed, 1_099), Ok(review(1, 1_099)));
    assert_eq!(
        RULES.open_review(&filed, 1_100),
        Err(LifeError::FilingExpired { at: 1_100 })
    );
    for p in [
        review(1, 0),
        decided(Outcome::Upheld, 0),
        Phase::Final {
            outcome: Outcome::Rejected,
            at: 0,
        },
        Phase::Expired { at: 0 },
    ] {
        assert_eq!(
            RULES.open_review(&p, 0),
            Err(LifeError::NotFiled { phase: p.name() })
        );
    }
}

#[test]
fn a_filed_claim_without_a_council_expires() {
    let filed = Phase::Filed { at: 1_000 };
    assert_eq!(RULES.tick(&filed, &council(3), 1_099), filed);
    assert_eq!(
        RULES.tick(&filed, &council(3), 1_100),
        Phase::Expired { at: 1_100 }
    );
}

#[test]
fn a_vote_that_decides_the_first_round_opens_the_appeal_window() {
    let p = review(1, 0);
    assert_eq!(RULES.vote(&p, &votes(3, 1, 0), 10), Ok(p), "undecided");
    assert_eq!(
        RULES.vote(&p, &votes(3, 2, 0), 10),
        Ok(decided(Outcome::Upheld, 10))
    );
    assert_eq!(
        RULES.vote(&p, &votes(3, 0, 2), 99),
        Ok(decided(Outcome::Rejected, 99))
    );
}

#[test]
fn a_vote_that_decides_the_appeal_is_final() {
    let p = review(2, 0);
    assert_eq!(RULES.vote(&p, &votes(3, 1, 1), 10), Ok(p));
    assert_eq!(
        RULES.vote(&p, &votes(3, 2, 1), 10),
        Ok(Phase::Final {
            outcome: Outcome::Upheld,
            at: 10
        })
    );
    assert_eq!(
        RULES.vote(&p, &votes(3, 1, 2), 11),
        Ok(Phase::Final {
            outcome: Outcome::Rejected,
            at: 11
        })
    );
}

#[test]
fn votes_are_refused_outside_a_review_and_after_it_closed() {
    assert_eq!(
        RULES.vote(&review(1, 0), &votes(3, 2, 0), 100),
        Err(LifeError::ReviewClosed { at: 100 })
    );
    for p in [
        Phase::Filed { at: 0 },
        decided(Outcome::Upheld, 0),
        Phase::Final {
            outcome: Outcome::Upheld,
            at: 0,
        },
        Phase::Expired { at: 0 },
    ] {
        assert_eq!(
            RULES.vote(&p, &votes(3, 2, 0), 1),
            Err(LifeError::NotUnderReview { phase: p.name() })
        );
    }
}

#[test]
fn a_review_whose_time_is_up_is_decided_rejected_or_expired() {
    let p = review(1, 0);
    assert_eq!(RULES.tick(&p, &votes(3, 2, 0), 99), p, "still open");
    // Decided by the tally (a tick can come before the vote's own transition was stored).
    assert_eq!(
        RULES.tick(&p, &votes(3, 2, 0), 100),
        decided(Outcome::Upheld, 100)
    );
    // A quorum (4 of 6) voted, 3 upheld: two thirds were not reached, so it is rejected.
    assert_eq!(
        RULES.tick(&p, &votes(6, 3, 1), 120),
        decided(Outcome::Rejected, 120)
    );
    // Fewer than a quorum: nothing was decided, the bond returns.
    assert_eq!(
        RULES.tick(&p, &votes(6, 3, 0), 100),
        Phase::Expired { at: 100 }
    );
    assert_eq!(
        RULES.tick(&p, &council(0), 100),
        Phase::Expired { at: 100 },
        "nobody eligible"
    );
}

#[test]
fn an_appeal_whose_time_is_up_is_final_or_expired() {
    let p = review(2, 500);
    let final_ = |outcome| Phase::Final { outcome, at: 600 };
    assert_eq!(RULES.tick(&p, &votes(3, 2, 0), 599), p);
    assert_eq!(
        RULES.tick(&p, &votes(3, 2, 0), 600),
        final_(Outcome::Upheld)
    );
    assert_eq!(
        RULES.tick(&p, &votes(6, 3, 1), 600),
        final_(Outcome::Rejected)
    );
    assert_eq!(
        RULES.tick(&p, &votes(6, 2, 1), 600),
        Phase::Expired { at: 600 }
    );
}

#[test]
fn a_decision_not_appealed_in_time_is_final_and_the_ends_stay_put() {
    let p = decided(Outcome::Rejected, 200);
    assert_eq!(RULES.tick(&p, &council(3), 249), p);
    assert_eq!(
        RULES.tick(&p, &council(3), 250),
        Phase::Final {
            outcome: Outcome::Rejected,
            at: 250
        }
    );
    for end in [
        Phase::Final {
            outcome: Outcome::Upheld,
            at: 1,
        },
        Phase::Expired { at: 1 },
    ] {
        assert_eq!(RULES.tick(&end, &votes(3, 2, 0), u64::MAX), end);
    }
}

#[test]
fn only_the_loser_appeals_once_within_the_window() {
    let upheld = decided(Outcome::Upheld, 200);
    let rejected = decided(Outcome::Rejected, 200);
    assert_eq!(
        RULES.appeal(&upheld, Party::Accused, 249),
        Ok(review(2, 249))
    );
    assert_eq!(
        RULES.appeal(&rejected, Party::Hunter, 200),
        Ok(review(2, 200))
    );
    assert_eq!(
        RULES.appeal(&upheld, Party::Hunter, 210),
        Err(LifeError::AccusedAppeals)
    );
    assert_eq!(
        RULES.appeal(&rejected, Party::Accused, 210),
        Err(LifeError::HunterAppeals)
    );
    assert_eq!(
        RULES.appeal(&upheld, Party::Accused, 250),
        Err(LifeError::AppealClosed { at: 250 })
    );
    let second = Phase::Decided {
        outcome: Outcome::Upheld,
        round: 2,
        at: 200,
        appeal_until: 250,
    };
    assert_eq!(
        RULES.appeal(&second, Party::Accused, 210),
        Err(LifeError::AlreadyAppealed)
    );
    for p in [
        Phase::Filed { at: 0 },
        review(1, 0),
        Phase::Final {
            outcome: Outcome::Upheld,
            at: 0,
        },
        Phase::Expired { at: 0 },
    ] {
        assert_eq!(
            RULES.appeal(&p, Party::Accused, 1),
            Err(LifeError::NotDecided { phase: p.name() })
        );
    }
}

/// The slowest path a claim can take (every step at the last second, both ticks a quarter review late)
/// ends within [`LifeRules::dispute_secs`], so its bond is still reserved when the verdict executes.
#[test]
fn the_slowest_claim_ends_within_the_dispute_window() {
    assert_eq!(RULES.dispute_secs(), 100 + 2 * (100 + 50) + 100);
    let lag = RULES.review_secs / 4;
    let filed_at = 1_000;
    let p = RULES.file(ClaimKind::Council, filed_at);
    let p = RULES
        .open_review(&p, filed_at + RULES.review_secs - 1)
        .unwrap();
    let Phase::UnderReview { until, .. } = p else {
        panic!("{p:?}")
    };
    let p = RULES.tick(&p, &votes(3, 0, 2), until + lag);
    let Phase::Decided { appeal_until, .. } = p else {
        panic!("{p:?}")
    };
    let p = RULES.appeal(&p, Party::Hunter, appeal_until - 1).unwrap();
    let Phase::UnderReview { until, .. } = p else {
        panic!("{p:?}")
    };
    let p = RULES.tick(&p, &votes(3, 1, 1), until + lag);
    let Phase::Final { at, .. } = p else {
        panic!("{p:?}")
    };
    assert!(at < filed_at + RULES.dispute_secs(), "{at}");
    let huge = LifeRules {
        review_secs: u64::MAX / 2,
        appeal_secs: u64::MAX / 2,
    };
    assert_eq!(huge.dispute_secs(), u64::MAX, "saturates");
}

#[test]
fn parties_recuse_and_a_member_seated_twice_counts_once() {
    let seated = [member(0), ACCUSED, member(1), HUNTER, member(0)];
    let mut t = Tally::new(&seated, &ACCUSED, &HUNTER);
    assert_eq!(t.eligible, [member(0), member(1)]);
    for party in [ACCUSED, HUNTER, member(7)] {
        assert_eq!(
            t.record(&party, true),
            Err(LifeError::NotEligible {
                member: hex::encode(party)
            })
        );
    }
    t.record(&member(0), true).unwrap();
    for again in [true, false] {
        assert_eq!(
            t.record(&member(0), again),
            Err(LifeError::VotedAlready {
                member: hex::encode(member(0))
            })
        );
    }
    assert_eq!((t.upheld.len(), t.rejected.len(), t.voted()), (1, 0, 1));
}

#[test]
fn two_thirds_rounded_up_decide_and_nobody_eligible_never_does() {
    let needs: Vec<usize> = (0..=7).map(|n| council(n).need()).collect();
    assert_eq!(needs, [usize::MAX, 1, 2, 2, 3, 4, 4, 5]);
    assert_eq!(council(0).decides(), None);
    for n in 1..=7u8 {
        let need = council(n).need() as u8;
        for up in 0..=n {
            for down in 0..=n - up {
                let want = if up >= need {
                    Some(Outcome::Upheld)
                } else if up + (n - up - down) < need {
                    // The members yet to vote could not lift the upheld votes to two thirds.
                    Some(Outcome::Rejected)
                } else {
                    None
                };
                assert_eq!(
                    votes(n, up, down).decides(),
                    want,
                    "{n}: {up} up {down} down"
                );
            }
        }
    }
}

#[test]
fn phases_serialise_tagged_in_snake_case() {
    let p = decided(Outcome::Upheld, 3);
    let json = serde_json::to_value(p).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"phase": "decided", "outcome": "upheld", "round": 1, "at": 3, "appeal_until": 53})
    );
    assert_eq!(serde_json::from_value::<Phase>(json).unwrap(), p);
    for p in [
        Phase::Filed { at: 1 },
        review(2, 1),
        Phase::Final {
            outcome: Outcome::Rejected,
            at: 1,
        },
        Phase::Expired { at: 1 },
    ] {
        let json = serde_json::to_value(p).unwrap();
        assert_eq!(json["phase"], p.name());
        assert_eq!(serde_json::from_value::<Phase>(json).unwrap(), p);
    }
    assert_eq!(
        serde_json::to_value((ClaimKind::Objective, Party::Accused)).unwrap(),
        serde_json::json!(["objective", "accused"])
    );
}

#[test]
fn refusals_read_as_sentences() {
    assert_eq!(
        LifeError::AppealClosed { at: 9 }.to_string(),
        "the appeal window closed at 9"
    );
    assert_eq!(
        LifeError::NotUnderReview { phase: "filed" }.to_string(),
        "not under review: the claim is filed"
    );
    assert_eq!(
        LifeError::NotEligible {
            member: "ab".into()
        }
        .to_string(),
        "member ab is not seated or recused"
    );
}
