//! Seat rewards. After a term, the treasury pays each seated member the seat's reward, but only a member
//! that voted in every review round it was eligible for during the term: a member that sits without
//! judging earns nothing. A member never eligible (no claim, or recused from each) did all it was asked.
//!
//! The rewards move tokens the treasury holds (forfeited bonds, slash shares), never mint: when the
//! treasury holds less than every reward owed, each is cut to the same fraction, rounded down. Ids derive
//! from member and term ([`Purpose::SeatReward`]), so a term is paid once however often it is computed.

use crate::accounts::{wallet_account, TREASURY};
use crate::economics::mul_div_floor;
use crate::ids::Purpose;
use crate::memo::Memo;
use crate::{Amount, Ledger, Transfer, TransferCode};

/// One review round of a claim during the term: who could vote on it and who did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRound {
    pub claim: [u8; 32],
    pub eligible: Vec<[u8; 32]>,
    pub voters: Vec<[u8; 32]>,
}

/// The members of `seated` that earned their reward, in seat order: each voted in every round of
/// `rounds` it was eligible for.
pub fn earned(seated: &[[u8; 32]], rounds: &[ReviewRound]) -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = Vec::with_capacity(seated.len());
    for m in seated {
        let voted_when_asked = rounds
            .iter()
            .all(|r| !r.eligible.contains(m) || r.voters.contains(m));
        if voted_when_asked && !out.contains(m) {
            out.push(*m);
        }
    }
    out
}

/// The transfers that pay `term`'s rewards of `per_seat` each, from the treasury to the wallet of each
/// member that earned one and is not paid yet. Submit them in one batch: they fit in the treasury
/// together, and a second call after them finds every member paid.
pub fn rewards(
    l: &Ledger,
    term: u64,
    seated: &[[u8; 32]],
    rounds: &[ReviewRound],
    per_seat: Amount,
) -> Vec<Transfer> {
    let id = |owner: &[u8; 32]| {
        Purpose::SeatReward {
            owner: *owner,
            term,
        }
        .id()
    };
    let unpaid: Vec<[u8; 32]> = earned(seated, rounds)
        .into_iter()
        .filter(|m| l.transfer(id(m)).is_none())
        .collect();
    let owed = per_seat.saturating_mul(unpaid.len() as u128);
    let held = l.account(TREASURY).and_then(|a| a.available()).unwrap_or(0);
    let each = if held >= owed {
        per_seat
    } else {
        mul_div_floor(held, per_seat, owed)
    };
    if each == 0 {
        return Vec::new();
    }
    unpaid
        .iter()
        .map(|m| {
            Transfer::new(
                id(m),
                TREASURY,
                wallet_account(m),
                each,
                TransferCode::Reward,
            )
            .with_memo(Memo::Term(term))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_ledger::{apply_once, mint, with_keys};
    use crate::ONE_TOKEN;

    fn key(n: u8) -> [u8; 32] {
        [n; 32]
    }

    fn round(claim: u8, eligible: &[u8], voters: &[u8]) -> ReviewRound {
        ReviewRound {
            claim: key(claim),
            eligible: eligible.iter().map(|&k| key(k)).collect(),
            voters: voters.iter().map(|&k| key(k)).collect(),
        }
    }

    fn paid(transfers: &[Transfer]) -> Vec<(u128, Amount)> {
        transfers
            .iter()
            .map(|t| (t.credit_account, t.amount))
            .collect()
    }

    #[test]
    fn only_a_member_that_voted_whenever_it_was_eligible_earns() {
        let seated = [key(1), key(2), key(3), key(4), key(1)];
        let rounds = [
            // Member 3 recused from claim 90 and voted on the appeal of claim 91.
            round(90, &[1, 2, 4], &[1, 2]),
            round(91, &[1, 2, 3, 4], &[1, 2, 3]),
            round(91, &[1, 2, 3], &[1, 3, 9]),
        ];
        // Member 2 missed the appeal, member 4 every round; member 1 counts once.
        assert_eq!(earned(&seated, &rounds), [key(1), key(3)]);
        assert_eq!(
            earned(&seated[..2], &[]),
            [key(1), key(2)],
            "nothing to judge"
        );
    }

    #[test]
    fn a_term_is_paid_once_from_the_treasury() {
        let mut l = with_keys(&[key(1), key(2), key(3)]);
        mint(&mut l, 1, TREASURY, 100 * ONE_TOKEN);
        let seated = [key(1), key(2), key(3)];
        let rounds = [round(90, &[1, 2, 3], &[1, 3])];
        let plan = rewards(&l, 7, &seated, &rounds, 10 * ONE_TOKEN);
        assert_eq!(plan, rewards(&l, 7, &seated, &rounds, 10 * ONE_TOKEN));
        assert_eq!(
            paid(&plan),
            [
                (wallet_account(&key(1)), 10 * ONE_TOKEN),
                (wallet_account(&key(3)), 10 * ONE_TOKEN)
            ],
            "the non-voter gets nothing"
        );
        assert!(plan.iter().all(|t| t.code == TransferCode::Reward
            && t.user_data == 7
            && t.debit_account == TREASURY));
        apply_once(&mut l, &plan);
        assert!(rewards(&l, 7, &seated, &rounds, 10 * ONE_TOKEN).is_empty());
        let next = rewards(&l, 8, &seated, &rounds, 10 * ONE_TOKEN);
        assert_eq!(next.len(), 2, "another term, other ids");
        assert!(next.iter().all(|t| plan.iter().all(|p| p.id != t.id)));
    }

    #[test]
    fn a_short_treasury_cuts_every_reward_alike() {
        let mut l = with_keys(&[key(1), key(2), key(3)]);
        mint(&mut l, 1, TREASURY, 20);
        let seated = [key(1), key(2), key(3)];
        let plan = rewards(&l, 7, &seated, &[], 10);
        assert_eq!(plan.iter().map(|t| t.amount).collect::<Vec<_>>(), [6, 6, 6]);
        apply_once(&mut l, &plan);
        assert_eq!(l.account(TREASURY).unwrap().balance(), Some(2));
        let mut empty = with_keys(&seated);
        assert!(
            rewards(&empty, 7, &seated, &[], 10).is_empty(),
            "no treasury funds"
        );
        mint(&mut empty, 1, TREASURY, 2);
        assert!(
            rewards(&empty, 7, &seated, &[], 10).is_empty(),
            "shares that round to nothing move nothing"
        );
    }
}
