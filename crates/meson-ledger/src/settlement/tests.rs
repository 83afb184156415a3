use super::*;
use crate::accounts::{escrow_account, stake_account, wallet_account};
use crate::test_ledger::{apply_once, funded_sites, mint, node, open, submit, supply_holds, World};
use crate::{Outcome, TransferError};

#[test]
fn the_most_specific_listed_region_sets_the_price() {
    let cfg = BillingConfig {
        region_prices: vec![("eu".into(), 20), ("eu/west".into(), 30)],
        price_per_gib: 10,
        ..BillingConfig::default()
    };
    let r = |name: &str| Region::new(name).unwrap();
    assert_eq!(cfg.price_in(Some(&r("eu/west/paris"))), 30);
    assert_eq!(cfg.price_in(Some(&r("eu/north"))), 20);
    assert_eq!(cfg.price_in(Some(&r("na"))), 10);
    assert_eq!(cfg.price_in(None), 10);
}

/// A tenth of a token: the holders' half of the 20 % fee on a GiB at one token.
const TENTH: Amount = ONE_TOKEN / 10;

fn key(n: u8) -> [u8; 32] {
    [100 + n; 32]
}

/// One token per GiB, a 20 % fee and `holder_share_bps` of it to holders.
fn billing(holder_share_bps: u32) -> BillingConfig {
    BillingConfig {
        price_per_gib: ONE_TOKEN,
        fee_bps: 2_000,
        holder_share_bps,
        ..BillingConfig::default()
    }
}

/// Sites 0 and 1 holding 10 tokens each, a GiB served by terminal 0 for each, and each of `stakes`
/// (key, amount) staked.
fn staked_sites(stakes: &[(u8, Amount)]) -> (Ledger, Vec<Usage>) {
    let (mut l, usage) = funded_sites(
        &[10 * ONE_TOKEN, 10 * ONE_TOKEN],
        0,
        vec![(0, 0, 1 << 30), (1, 0, 1 << 30)],
    );
    for (i, (k, amount)) in stakes.iter().enumerate() {
        open(
            &mut l,
            vec![accounts::wallet(&key(*k)), accounts::stake(&key(*k))],
        );
        mint(&mut l, 2_000 + i as u128, stake_account(&key(*k)), *amount);
    }
    (l, usage)
}

fn settle(l: &mut Ledger, cfg: &BillingConfig, epoch: u64, usage: &[Usage]) -> SettlementPlan {
    let plan = plan(l, cfg, epoch, usage, &World::default());
    open(l, plan.accounts.clone());
    apply_once(l, &plan.transfers);
    supply_holds(l);
    plan
}

fn balance(l: &Ledger, account: u128) -> Amount {
    l.account(account).map_or(0, |a| a.balance().unwrap())
}

#[test]
fn the_holders_share_of_the_fee_is_paid_to_stakers_by_stake() {
    let (mut l, usage) = staked_sites(&[(1, ONE_TOKEN), (2, 3 * ONE_TOKEN)]);
    open(&mut l, vec![accounts::wallet(&key(3))]);
    let site = &usage[..1];
    let plan = settle(&mut l, &billing(5_000), 7, site);

    // The fee of 0.2 token: half burned, half into the pool; the terminal is paid 0.8.
    assert_eq!((plan.pooled, plan.dividends), (TENTH, TENTH));
    assert_eq!(l.burned(), TENTH);
    assert_eq!(settled(&l, 7, 0, &node(0)), Some((2 * TENTH, 8 * TENTH)));
    let (chain, dividend) = plan.transfers.split_at(3);
    let moves = |ts: &[Transfer]| {
        ts.iter()
            .map(|t| (t.debit_account, t.credit_account, t.amount, t.code))
            .collect::<Vec<_>>()
    };
    let escrow = escrow_account(0);
    assert_eq!(
        moves(chain),
        [
            (escrow, BURN, TENTH, TransferCode::Burn),
            (escrow, REVENUE, TENTH, TransferCode::Fee),
            (
                escrow,
                accounts::terminal_account(&node(0)),
                8 * TENTH,
                TransferCode::Payout
            ),
        ]
    );
    assert_eq!(
        chain[1].id,
        Purpose::HolderShare {
            epoch: 7,
            site: 0,
            node: node(0)
        }
        .id()
    );
    let mut paid = moves(dividend);
    paid.sort();
    let mut want = vec![
        (
            REVENUE,
            wallet_account(&key(1)),
            TENTH / 4,
            TransferCode::Dividend,
        ),
        (
            REVENUE,
            wallet_account(&key(2)),
            TENTH * 3 / 4,
            TransferCode::Dividend,
        ),
    ];
    want.sort();
    assert_eq!(
        paid, want,
        "a quarter and three quarters; no stake, nothing"
    );
    assert!(plan.transfers.iter().all(|t| t.user_data == 7));
    let linked: Vec<bool> = plan.transfers.iter().map(|t| t.flags.linked).collect();
    assert_eq!(linked, [true, true, false, true, false], "one chain each");

    assert_eq!(balance(&l, REVENUE), 0, "the pool is paid out");
    assert_eq!(dividends_paid(&l, 7, &key(1)), TENTH / 4);
    assert_eq!(dividends_paid(&l, 7, &key(2)), TENTH * 3 / 4);
    assert_eq!(dividends_paid(&l, 7, &key(3)), 0);
    assert_eq!(balance(&l, wallet_account(&key(2))), TENTH * 3 / 4);
    assert_eq!(dividend_history(&l, &key(2)), [(7, TENTH * 3 / 4)]);
    assert!(dividend_history(&l, &key(3)).is_empty());

    let again = super::plan(&l, &billing(5_000), 7, site, &World::default());
    assert_eq!(again, SettlementPlan::default(), "settled: nothing to do");
}

#[test]
fn what_rounding_leaves_stays_in_the_pool_for_the_next_epoch() {
    let (mut l, usage) = staked_sites(&[(1, 1), (2, 1), (3, 1)]);
    let site = &usage[..1];
    let first = settle(&mut l, &billing(5_000), 7, site);
    assert_eq!(first.dividends, TENTH - 1, "a tenth is not divisible by 3");
    assert_eq!(balance(&l, REVENUE), 1);
    let second = settle(&mut l, &billing(5_000), 8, site);
    assert_eq!(
        second.dividends,
        TENTH - 1,
        "the unit left over is shared too"
    );
    assert_eq!(balance(&l, REVENUE), 2);
    for k in 1..=3 {
        assert_eq!(
            dividend_history(&l, &key(k)),
            [(7, TENTH / 3), (8, (TENTH + 1) / 3)]
        );
    }
}

#[test]
fn with_no_one_staking_the_pool_keeps_the_share_until_someone_does() {
    let (mut l, usage) = staked_sites(&[(1, 0)]);
    let site = &usage[..1];
    let first = settle(&mut l, &billing(10_000), 7, site);
    assert_eq!((first.pooled, first.dividends), (2 * TENTH, 0));
    assert_eq!(l.burned(), 0, "the whole fee is the holders'");
    assert_eq!(balance(&l, REVENUE), 2 * TENTH);
    assert_eq!(staked(&l), [(key(1), 0)], "a stake account, nothing in it");

    mint(&mut l, 3_000, stake_account(&key(1)), 5);
    settle(&mut l, &billing(10_000), 8, site);
    assert_eq!(
        dividends_paid(&l, 8, &key(1)),
        4 * TENTH,
        "both epochs' share"
    );
    assert_eq!(dividends_paid(&l, 7, &key(1)), 0, "epoch 7 paid nothing");
    assert_eq!(balance(&l, REVENUE), 0);
}

#[test]
fn the_pool_pays_what_it_holds_whoever_put_it_there() {
    // Anyone may send tokens to the pool; they are shared like fees, even with the share at 0.
    let (mut l, usage) = staked_sites(&[(1, ONE_TOKEN)]);
    mint(&mut l, 3_000, REVENUE, 7);
    let plan = settle(&mut l, &billing(0), 7, &usage[..1]);
    assert_eq!((plan.pooled, plan.dividends), (0, 7));
    assert_eq!(dividends_paid(&l, 7, &key(1)), 7);
}

#[test]
fn unbonding_stake_earns_no_dividend() {
    let (mut l, usage) = staked_sites(&[(1, 4 * ONE_TOKEN), (2, ONE_TOKEN)]);
    let mut unstake = Transfer::new(
        3_000,
        stake_account(&key(1)),
        wallet_account(&key(1)),
        3 * ONE_TOKEN,
        TransferCode::Unstake,
    );
    unstake.flags.pending = true;
    assert_eq!(submit(&mut l, vec![unstake]), [Ok(Outcome::Created)]);
    settle(&mut l, &billing(5_000), 7, &usage[..1]);
    assert_eq!(
        dividends_paid(&l, 7, &key(1)),
        TENTH / 2,
        "one token counts"
    );
    assert_eq!(dividends_paid(&l, 7, &key(2)), TENTH / 2);
}

#[test]
fn an_epoch_settled_in_two_batches_pays_its_dividend_once() {
    let (mut l, usage) = staked_sites(&[(1, ONE_TOKEN)]);
    let first = settle(&mut l, &billing(5_000), 7, &usage[..1]);
    assert_eq!(first.dividends, TENTH);
    let second = settle(&mut l, &billing(5_000), 7, &usage);
    assert_eq!(second.sites, 1, "the other site settles now");
    assert_eq!(
        (second.pooled, second.dividends),
        (TENTH, 0),
        "paid already"
    );
    assert_eq!(dividends_paid(&l, 7, &key(1)), TENTH);
    assert_eq!(balance(&l, REVENUE), TENTH, "kept for the next epoch");
    settle(&mut l, &billing(5_000), 8, &usage[..1]);
    assert_eq!(dividends_paid(&l, 8, &key(1)), 2 * TENTH);
}

#[test]
fn a_dividend_whose_pool_was_not_paid_in_fails_whole_and_a_later_plan_pays_it() {
    let (mut l, usage) = staked_sites(&[(1, ONE_TOKEN), (2, ONE_TOKEN)]);
    let site = &usage[..1];
    let plan = plan(&l, &billing(5_000), 7, site, &World::default());
    open(&mut l, plan.accounts.clone());
    // The site's escrow is emptied between the plan and its batch: its chain fails, and so the pool
    // holds nothing for the dividends.
    let drain = Transfer::new(
        3_000,
        escrow_account(0),
        TREASURY,
        10 * ONE_TOKEN,
        TransferCode::Transfer,
    );
    assert_eq!(submit(&mut l, vec![drain]), [Ok(Outcome::Created)]);
    let results = submit(&mut l, plan.transfers.clone());
    assert!(results.iter().all(Result::is_err), "{results:?}");
    assert_eq!(
        results[3],
        Err(TransferError::ExceedsCredits),
        "the first dividend"
    );
    supply_holds(&l);
    assert_eq!(dividends_paid(&l, 7, &key(1)), 0);

    mint(&mut l, 3_001, escrow_account(0), 10 * ONE_TOKEN);
    let retry = settle(&mut l, &billing(5_000), 7, site);
    assert_eq!(retry.dividends, TENTH);
    assert_eq!(dividends_paid(&l, 7, &key(1)), TENTH / 2);
}
