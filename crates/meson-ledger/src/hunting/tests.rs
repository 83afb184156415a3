use super::*;
use crate::accounts::{self, stake_account, wallet_account};
use crate::refusal::RefusalKind;
use crate::stake::{Refund, Slash, SlashPlan};
use crate::test_ledger::{mint, open, with_keys};
use crate::ONE_TOKEN;

const RULES: HuntRules = HuntRules {
    min_bond: 10 * ONE_TOKEN,
    max_open_per_hunter: 5,
    max_filed_per_day: 20,
};

fn tokens(n: u128) -> Amount {
    n * ONE_TOKEN
}

#[test]
fn a_hunter_files_within_its_limits_and_with_at_least_the_least_bond() {
    assert_eq!(may_file(&RULES, 4, 19, tokens(10)), Ok(()));
    assert_eq!(
        may_file(&RULES, 0, 0, tokens(10) - 1),
        Err(Refusal::BondTooSmall { min: tokens(10) })
    );
    let open = may_file(&RULES, 5, 0, tokens(10)).unwrap_err();
    assert_eq!(open, Refusal::TooManyOpenClaims { max: 5 });
    let busy = may_file(&RULES, 0, 20, tokens(10)).unwrap_err();
    assert_eq!(busy, Refusal::FilingRateLimited { max: 20 });
    assert_eq!(busy.to_string(), "a hunter files at most 20 claims a day");
    assert_eq!(
        (open.kind(), busy.kind()),
        (RefusalKind::Unprocessable, RefusalKind::Unprocessable)
    );
}

/// The numbers of the module's worked example.
#[test]
fn the_worked_example() {
    let shares = SlashShares::default();
    let slashed = council_slash(tokens(100), tokens(40), tokens(1_000));
    assert_eq!(slashed, tokens(140));
    let reward = hunter_reward(slashed, tokens(40), &shares);
    assert_eq!(reward, tokens(50));
    assert_eq!(
        hunter_reward(tokens(100), tokens(40), &shares),
        tokens(30),
        "not raised by the refunds"
    );
    assert_eq!(
        council_slash(tokens(100), tokens(40), tokens(30)),
        tokens(30)
    );
    assert_eq!(hunter_reward(tokens(30), tokens(30), &shares), 0);
    let (bond, cost) = (tokens(10), tokens(1));
    assert_eq!(
        expected_value(8_000, reward, bond, cost),
        tokens(37) as i128
    );
    assert_eq!(
        expected_value(500, reward, bond, cost),
        -(tokens(8) as i128)
    );
    // Break-even at 11/60 ≈ 18.33 %.
    assert!(expected_value(1_833, reward, bond, cost) < 0);
    assert!(expected_value(1_834, reward, bond, cost) > 0);
}

#[test]
fn the_slash_covers_the_refunds_within_the_stake() {
    assert_eq!(council_slash(5, 3, 100), 8);
    assert_eq!(council_slash(5, 3, 7), 7);
    assert_eq!(
        council_slash(u128::MAX, 3, u128::MAX),
        u128::MAX,
        "saturates"
    );
    assert_eq!(hunter_reward(5, 9, &SlashShares::default()), 0);
}

/// The reward formula is the share a real slash pays the claimant.
#[test]
fn the_reward_is_what_a_real_slash_pays_the_hunter() {
    let (accused, hunter) = ([1u8; 32], [2u8; 32]);
    for (base, owed, at_stake) in [(100, 40, 1_000), (100, 40, 120), (100, 40, 30), (7, 0, 9)] {
        let mut l = with_keys(&[accused, hunter]);
        open(&mut l, vec![accounts::escrow(1), accounts::escrow(2)]);
        mint(&mut l, 1, stake_account(&accused), tokens(at_stake));
        let slash = Slash {
            owner: accused,
            amount: council_slash(tokens(base), tokens(owed), tokens(at_stake)),
            claimant: wallet_account(&hunter),
            evidence: [3; 32],
            owed: [(1, owed / 4), (2, owed - owed / 4)]
                .map(|(site, n)| Refund {
                    site,
                    amount: tokens(n),
                })
                .into_iter()
                .filter(|r| r.amount > 0)
                .collect(),
        };
        let SlashPlan::Take {
            amount,
            refunds,
            claimant,
            ..
        } = slash.plan(&l, SlashShares::default())
        else {
            panic!("{base} {owed} {at_stake}: nothing taken")
        };
        let refunded: Amount = refunds.iter().map(|r| r.amount).sum();
        assert_eq!(amount, slash.amount);
        assert_eq!(
            claimant,
            hunter_reward(amount, refunded, &SlashShares::default()),
            "{base} {owed} {at_stake}"
        );
    }
}

#[test]
fn the_expected_value_is_clamped_and_saturates() {
    assert_eq!(
        expected_value(10_000, 50, 10, 1),
        49,
        "a sure win risks no bond"
    );
    assert_eq!(expected_value(20_000, 50, 10, 1), 49, "p clamped");
    assert_eq!(expected_value(0, 50, 10, 1), -11);
    assert_eq!(
        expected_value(3_333, 10, 10, 0),
        3 - 6,
        "each product rounded down"
    );
    assert_eq!(expected_value(10_000, u128::MAX, 0, 0), i128::MAX);
    assert_eq!(expected_value(0, 0, u128::MAX, u128::MAX), i128::MIN);
}
