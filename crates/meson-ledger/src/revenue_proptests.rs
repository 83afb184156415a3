//! Property tests of the revenue to holders, driven directly (no server): whatever the usage, fee,
//! holders' share, stakes and what the pool already held, settling splits each fee between the burn and
//! the revenue pool without losing a unit, pays the pool to stakers pro rata once per epoch, and with no
//! share and an empty pool is the settlement it always was.

use proptest::prelude::*;

use crate::accounts::{self, escrow_account, stake_account, terminal_account, wallet_account};
use crate::accounts::{REVENUE, TREASURY};
use crate::ids::Purpose;
use crate::settlement::{self, BillingConfig, SettlementPlan, Usage};
use crate::test_ledger::{apply_once, funded_sites, mint, node, open, submit, supply_holds, World};
use crate::*;

fn staker(i: usize) -> [u8; 32] {
    [200 + i as u8; 32]
}

/// What each staker holds in its stake account, and what of it is unbonding.
#[derive(Debug, Clone, Copy)]
struct Stake {
    staked: Amount,
    unbonding: Amount,
}

fn stake() -> impl Strategy<Value = Stake> {
    (
        prop_oneof![Just(0u128), 1u128..1_000_000_000_000],
        0u128..=100,
    )
        .prop_map(|(staked, percent)| Stake {
            staked,
            unbonding: staked * percent / 100,
        })
}

/// An epoch's market: the sites' funds, the treasury, the usage (site, terminal, bytes) and the billing
/// (price, fee, a subsidy capped at half the treasury; no holders' share).
#[derive(Debug, Clone)]
struct Market {
    escrows: Vec<Amount>,
    treasury: Amount,
    usage: Vec<(usize, u8, u64)>,
    cfg: BillingConfig,
}

fn market() -> impl Strategy<Value = Market> {
    (
        proptest::collection::vec(0u128..5_000_000_000, 1..4),
        prop_oneof![Just(0u128), 0u128..10_000_000_000],
        proptest::collection::vec((0usize..3, 0u8..4, 0u64..(8 << 30)), 0..12),
        0u128..3_000_000_000,
        0u32..=10_000,
        prop_oneof![Just(0u32), 0u32..=12_000],
    )
        .prop_map(
            |(escrows, treasury, usage, price_per_gib, fee_bps, subsidy_bps)| Market {
                cfg: BillingConfig {
                    price_per_gib,
                    fee_bps,
                    subsidy_bps,
                    subsidy_cap: treasury / 2,
                    ..BillingConfig::default()
                },
                escrows,
                treasury,
                usage,
            },
        )
}

/// [`funded_sites`], then each of `stakes` staked by its own key (unbonding pending), and `pool` minted
/// into the revenue pool.
fn staked_world(
    escrows: &[Amount],
    treasury: Amount,
    usage: Vec<(usize, u8, u64)>,
    stakes: &[Stake],
    pool: Amount,
) -> (Ledger, Vec<Usage>) {
    let (mut l, usage) = funded_sites(escrows, treasury, usage);
    for (i, s) in stakes.iter().enumerate() {
        let owner = staker(i);
        open(
            &mut l,
            vec![accounts::wallet(&owner), accounts::stake(&owner)],
        );
        mint(&mut l, 5_000 + i as u128, stake_account(&owner), s.staked);
        if s.unbonding > 0 {
            let mut unstake = Transfer::new(
                6_000 + i as u128,
                stake_account(&owner),
                wallet_account(&owner),
                s.unbonding,
                TransferCode::Unstake,
            );
            unstake.flags.pending = true;
            assert_eq!(submit(&mut l, vec![unstake]), [Ok(Outcome::Created)]);
        }
    }
    mint(&mut l, 4_000, REVENUE, pool);
    (l, usage)
}

fn balance(l: &Ledger, account: u128) -> Amount {
    l.account(account).map_or(0, |a| a.balance().unwrap())
}

fn moved(plan: &SettlementPlan, code: TransferCode) -> Amount {
    plan.transfers
        .iter()
        .filter(|t| t.code == code)
        .map(|t| t.amount)
        .sum()
}

/// What the transfer `id` of `plan` moves (0 if the plan has none).
fn amount_of(plan: &SettlementPlan, id: u128) -> Amount {
    plan.transfers
        .iter()
        .find(|t| t.id == id)
        .map_or(0, |t| t.amount)
}

fn settle(l: &mut Ledger, plan: &SettlementPlan) {
    open(l, plan.accounts.clone());
    apply_once(l, &plan.transfers);
    supply_holds(l);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn settling_burns_the_rest_of_the_fee_and_pays_the_pool_to_stakers_pro_rata(
        m in market(),
        holder_share_bps in prop_oneof![Just(0u32), 0u32..=12_000],
        stakes in proptest::collection::vec(stake(), 0..5),
        pool in prop_oneof![Just(0u128), 0u128..1_000_000_000],
        epoch in 0u64..1_000,
    ) {
        let (mut l, usage) = staked_world(&m.escrows, m.treasury, m.usage, &stakes, pool);
        let cfg = BillingConfig { holder_share_bps, ..m.cfg };
        let sites = m.escrows.len() as i64;
        let escrowed = |l: &Ledger| (0..sites).map(|s| balance(l, escrow_account(s))).sum::<Amount>();
        let earnings = |l: &Ledger| (0..4).map(|n| balance(l, terminal_account(&node(n)))).sum::<Amount>();
        let wallets = |l: &Ledger| (0..stakes.len()).map(|i| balance(l, wallet_account(&staker(i)))).collect::<Vec<_>>();
        let (supply, escrow_before, earned_before, wallets_before) = (l.supply(), escrowed(&l), earnings(&l), wallets(&l));

        let plan = settlement::plan(&l, &cfg, epoch, &usage, &World::default());
        settle(&mut l, &plan);

        let burned = moved(&plan, TransferCode::Burn);
        let paid_out = moved(&plan, TransferCode::Payout);
        prop_assert_eq!(supply - l.supply(), burned, "supply falls by the burned part only");
        prop_assert_eq!(moved(&plan, TransferCode::Fee), plan.pooled);
        prop_assert_eq!(escrow_before - escrowed(&l), burned + plan.pooled + paid_out,
            "escrows pay the burn, the pool and the terminals, nothing else");
        prop_assert_eq!(plan.spent.iter().map(|(_, s)| s).sum::<Amount>(), burned + plan.pooled + paid_out);
        prop_assert_eq!(earnings(&l) - earned_before, paid_out + plan.subsidised);
        for u in &usage {
            let Some((fee, _)) = settlement::settled(&l, epoch, u.site, &u.node) else { continue };
            let share = l.transfer(Purpose::HolderShare { epoch, site: u.site, node: u.node }.id()).map_or(0, |t| t.amount);
            prop_assert_eq!(share, fee * u128::from(holder_share_bps.min(10_000)) / 10_000, "each line's share");
        }

        // The pool (what it held and what the chains paid in) goes to stakers by what they have at
        // stake, unbonding aside, each share rounded down; the rest stays.
        let held = pool + plan.pooled;
        let weights: Vec<Amount> = stakes.iter().map(|s| s.staked - s.unbonding).collect();
        let total: Amount = weights.iter().sum();
        let settled_now = !plan.transfers.is_empty();
        for (i, w) in weights.iter().enumerate() {
            let want = if settled_now && total > 0 { held * w / total } else { 0 };
            prop_assert_eq!(settlement::dividends_paid(&l, epoch, &staker(i)), want, "staker {}", i);
            prop_assert_eq!(wallets(&l)[i] - wallets_before[i], want);
        }
        prop_assert!(plan.dividends <= held);
        prop_assert_eq!(moved(&plan, TransferCode::Dividend), plan.dividends);
        prop_assert_eq!(balance(&l, REVENUE), held - plan.dividends, "the remainder stays in the pool");
        if settled_now && total > 0 {
            let holders = weights.iter().filter(|w| **w > 0).count() as u128;
            prop_assert!(balance(&l, REVENUE) < holders, "only rounding is left");
        }
        for t in &plan.transfers {
            prop_assert!(t.amount > 0);
        }

        // Settling the same epoch again finds every site settled: nobody is paid twice.
        let digest = l.state_digest();
        let again = settlement::plan(&l, &cfg, epoch, &usage, &World::default());
        prop_assert!(again.transfers.is_empty(), "{:?}", again.transfers);
        settle(&mut l, &again);
        prop_assert_eq!(l.state_digest(), digest);
    }

    #[test]
    fn the_holders_share_only_splits_the_fee_and_no_share_is_the_plan_as_it_was(
        m in market(),
        holder_share_bps in 0u32..=12_000,
        stakes in proptest::collection::vec(stake(), 0..5),
        epoch in 0u64..1_000,
    ) {
        let (l, usage) = staked_world(&m.escrows, m.treasury, m.usage, &stakes, 0);
        let none = m.cfg;
        let some = BillingConfig { holder_share_bps, ..none.clone() };
        let (before, shared) = (
            settlement::plan(&l, &none, epoch, &usage, &World::default()),
            settlement::plan(&l, &some, epoch, &usage, &World::default()),
        );

        // No share: the fee burns whole, as it always did, with the same ids: a site's burn and payout
        // per line, then the subsidy; no pool, no dividend, no account beyond sites and terminals.
        prop_assert_eq!((before.pooled, before.dividends), (0, 0));
        let mut ids: Vec<u128> = usage.iter().flat_map(|u| {
            let (site, node) = (u.site, u.node);
            [Purpose::Fee { epoch, site, node }.id(), Purpose::Payout { epoch, site, node }.id(), Purpose::Subsidy { epoch, node }.id()]
        }).collect();
        ids.sort_unstable();
        for t in &before.transfers {
            prop_assert!(ids.binary_search(&t.id).is_ok(), "{:?}", t);
            prop_assert!(t.debit_account != REVENUE && t.credit_account != REVENUE);
            prop_assert!(matches!(t.code, TransferCode::Burn | TransferCode::Payout | TransferCode::Subsidy));
        }
        for a in &before.accounts {
            prop_assert!(matches!(a.kind, AccountKind::Escrow | AccountKind::Terminal) && a.id != REVENUE, "{:?}", a);
        }

        // A share moves part of each burn into the pool and changes nothing else.
        prop_assert_eq!(&shared.spent, &before.spent);
        prop_assert_eq!((shared.sites, shared.subsidised), (before.sites, before.subsidised));
        for u in &usage {
            let (site, node) = (u.site, u.node);
            let fee = Purpose::Fee { epoch, site, node }.id();
            let payout = Purpose::Payout { epoch, site, node }.id();
            let share = amount_of(&shared, Purpose::HolderShare { epoch, site, node }.id());
            prop_assert_eq!(amount_of(&shared, fee) + share, amount_of(&before, fee));
            prop_assert_eq!(amount_of(&shared, payout), amount_of(&before, payout));
        }
        let unchanged = |t: &&Transfer| t.code == TransferCode::Subsidy;
        prop_assert_eq!(
            shared.transfers.iter().filter(unchanged).collect::<Vec<_>>(),
            before.transfers.iter().filter(unchanged).collect::<Vec<_>>()
        );
        let mut paid_in = l.clone();
        settle(&mut paid_in, &shared);
        prop_assert_eq!(paid_in.burned() + shared.pooled, l.burned() + moved(&before, TransferCode::Burn));
    }

    #[test]
    fn an_epochs_dividend_is_paid_once_whichever_batch_carries_it(
        escrows in proptest::collection::vec(1u128..5_000_000_000, 2..4),
        usage in proptest::collection::vec((0usize..3, 0u8..4, 1u64..(8 << 30)), 1..12),
        first_sites in 0usize..4,
        holder_share_bps in 0u32..=10_000,
        stakes in proptest::collection::vec(stake(), 0..5),
        pool in prop_oneof![Just(0u128), 0u128..1_000_000_000],
    ) {
        let (mut l, usage) = staked_world(&escrows, 0, usage, &stakes, pool);
        let cfg = BillingConfig { holder_share_bps, ..BillingConfig::default() };
        let epoch = 7;
        // The epoch settles in two batches: the first sites' usage, then all of it.
        let early: Vec<Usage> = usage.iter().copied().filter(|u| (u.site as usize) < first_sites).collect();
        let first = settlement::plan(&l, &cfg, epoch, &early, &World::default());
        settle(&mut l, &first);
        let second = settlement::plan(&l, &cfg, epoch, &usage, &World::default());
        settle(&mut l, &second);

        let paid: Amount = (0..stakes.len()).map(|i| settlement::dividends_paid(&l, epoch, &staker(i))).sum();
        prop_assert_eq!(paid, first.dividends + second.dividends);
        prop_assert!(first.dividends == 0 || second.dividends == 0, "one batch of the epoch carries it");
        prop_assert_eq!(pool + first.pooled + second.pooled, paid + balance(&l, REVENUE), "no unit lost or made");
        for i in 0..stakes.len() {
            let history = settlement::dividend_history(&l, &staker(i));
            let want: Vec<(u64, Amount)> = [(epoch, settlement::dividends_paid(&l, epoch, &staker(i)))]
                .into_iter().filter(|(_, a)| *a > 0).collect();
            prop_assert_eq!(history, want);
        }
        let again = settlement::plan(&l, &cfg, epoch, &usage, &World::default());
        prop_assert!(again.transfers.is_empty(), "{:?}", again.transfers);
        supply_holds(&l);
        prop_assert_eq!(l.account(TREASURY).map(|a| a.balance()), Some(Some(0)));
    }
}
