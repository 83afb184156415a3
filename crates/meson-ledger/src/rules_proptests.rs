//! Property tests of the money rules, driven directly (no server): whatever the usage, prices, funds and
//! stakes, applying what a rule returns keeps every ledger invariant, moves exactly what the rule says,
//! and applying it a second time changes nothing.

use meson_core::identity::{NodeId, NodeKey};
use meson_core::schedule::Region;
use proptest::prelude::*;

use crate::accounts::{self, escrow_account, stake_account, terminal_account, wallet_account};
use crate::accounts::{BURN, TREASURY};
use crate::claims::{self, BondRules, Verdict};
use crate::council::CouncilRules;
use crate::economics::SlashShares;
use crate::settlement::{self, BillingConfig, Usage};
use crate::stake::{self, Slash, SlashPlan};
use crate::test_ledger::{
    apply_once, funded_sites, mint, node, open, submit, supply_holds, World, NOW,
};
use crate::transactions::{self, TxRules};
use crate::tx::{Tx, TxAction, MAX_TX_LIFETIME_SECS};
use crate::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn settling_an_epoch_pays_what_each_site_spends_burns_the_fee_and_pays_no_one_twice(
        escrows in proptest::collection::vec(0u128..5_000_000_000, 1..4),
        treasury in prop_oneof![Just(0u128), 0u128..10_000_000_000],
        usage in proptest::collection::vec((0usize..3, 0u8..4, 0u64..(8 << 30)), 0..12),
        price in 0u128..3_000_000_000,
        eu_price in 0u128..3_000_000_000,
        fee_bps in 0u32..=10_000,
        subsidy_bps in prop_oneof![Just(0u32), 0u32..=12_000],
        subsidy_cap in prop_oneof![Just(0u128), 0u128..2_000_000_000],
        uptime in proptest::collection::vec(0u32..=10_000, 4),
        audits in proptest::collection::vec(0u32..=10_000, 4),
        epoch in 0u64..1_000,
    ) {
        let (mut l, usage) = funded_sites(&escrows, treasury, usage);
        let sites = escrows.len();
        let cfg = BillingConfig {
            price_per_gib: price,
            region_prices: vec![("eu".into(), eu_price)],
            fee_bps,
            subsidy_bps,
            subsidy_cap,
            ..BillingConfig::default()
        };
        let world = World {
            regions: [(node(0), Region::new("eu/west").unwrap())].into_iter().collect(),
            uptime: (0..4).map(|n| (node(n), uptime[n as usize])).collect(),
            audits: (0..4).map(|n| (node(n), audits[n as usize])).collect(),
        };
        let before: Vec<Amount> = (0..sites as i64)
            .map(|s| l.account(escrow_account(s)).unwrap().balance().unwrap())
            .collect();
        let (burned, treasury_before) = (l.burned(), l.account(TREASURY).unwrap().balance().unwrap());

        let plan = settlement::plan(&l, &cfg, epoch, &usage, &world);
        open(&mut l, plan.accounts.clone());
        apply_once(&mut l, &plan.transfers);
        supply_holds(&l);

        let fees: Amount = plan.transfers.iter().filter(|t| t.code == TransferCode::Burn).map(|t| t.amount).sum();
        prop_assert_eq!(l.burned() - burned, fees, "the fee is burned");
        for (site, spent) in &plan.spent {
            let now = l.account(escrow_account(*site)).unwrap().balance().unwrap();
            prop_assert_eq!(before[*site as usize] - now, *spent, "site {} pays what it spent", site);
            prop_assert!(*spent <= before[*site as usize], "never more than the escrow held");
        }
        let paid_out: Amount = plan.transfers.iter().filter(|t| t.code == TransferCode::Payout).map(|t| t.amount).sum();
        let earnings: Amount = (0..4).filter_map(|n| l.account(terminal_account(&node(n)))).map(|a| a.balance().unwrap()).sum();
        prop_assert_eq!(earnings, paid_out + plan.subsidised, "terminals get their payouts and subsidy, nothing else");
        prop_assert!(plan.subsidised <= subsidy_cap.min(treasury_before));
        prop_assert_eq!(treasury_before - l.account(TREASURY).unwrap().balance().unwrap(), plan.subsidised);
        for t in &plan.transfers {
            prop_assert!(t.amount > 0);
        }

        // Settling the same epoch again finds every site settled: nobody is paid twice.
        let again = settlement::plan(&l, &cfg, epoch, &usage, &world);
        prop_assert!(again.transfers.is_empty(), "{:?}", again.transfers);
        // And the payout leaves account for every token terminals received.
        if let Some(leaves) = settlement::payout_leaves(&l, epoch, &usage) {
            prop_assert_eq!(leaves.iter().map(|(_, _, a)| a).sum::<Amount>(), earnings);
        }
    }

    #[test]
    fn audits_failed_cut_the_payout_and_what_the_site_pays_never_the_fee(
        bytes in 1u64..(64 << 30),
        lower in 0u32..=10_000,
        higher in 0u32..=10_000,
    ) {
        let (lower, higher) = (lower.min(higher), lower.max(higher));
        let cfg = BillingConfig::default();
        let paid = |pass_bps: u32| {
            let (l, usage) = funded_sites(&[1_000 * ONE_TOKEN], 0, vec![(0, 0, bytes)]);
            let world = World { audits: [(node(0), pass_bps)].into_iter().collect(), ..World::default() };
            let plan = settlement::plan(&l, &cfg, 3, &usage, &world);
            let of = |code| plan.transfers.iter().filter(|t| t.code == code).map(|t| t.amount).sum::<Amount>();
            (of(TransferCode::Payout), of(TransferCode::Burn), plan.spent[0].1)
        };
        let (low_pay, low_fee, low_spent) = paid(lower);
        let (high_pay, high_fee, high_spent) = paid(higher);
        let (full_pay, full_fee, _) = paid(10_000);
        prop_assert!(low_pay <= high_pay && high_pay <= full_pay, "pay grows with the pass rate");
        prop_assert!(low_spent <= high_spent, "the site pays only for the quality it got");
        prop_assert_eq!(low_fee, full_fee, "the fee is on the charge, whatever the quality");
        prop_assert_eq!(high_fee, full_fee);
        prop_assert_eq!(full_pay * u128::from(lower) / 10_000, low_pay, "pay is in proportion to the pass rate");
        if lower == 0 {
            prop_assert_eq!(low_pay, 0, "a terminal that failed every audit earns nothing");
        }
    }

    #[test]
    fn a_slash_refunds_the_cheated_sites_first_never_more_than_they_paid_nor_than_it_takes(
        escrows in proptest::collection::vec(0u128..5_000_000_000, 1..4),
        usage in proptest::collection::vec((0usize..3, 0u8..3, 0u64..(8 << 30)), 1..10),
        staked in 0u128..3_000_000_000,
        amount in 0u128..3_000_000_000,
        claimant_bps in 0u32..=10_000,
        burn_bps in 0u32..=10_000,
        epoch in 0u64..1_000,
    ) {
        let (mut l, usage) = funded_sites(&escrows, 0, usage);
        let sites: Vec<i64> = (0..escrows.len() as i64).collect();
        let plan = settlement::plan(&l, &BillingConfig::default(), epoch, &usage, &World::default());
        open(&mut l, plan.accounts.clone());
        apply_once(&mut l, &plan.transfers);
        let accused = node(0);
        open(&mut l, vec![accounts::wallet(&accused), accounts::stake(&accused)]);
        mint(&mut l, 2, wallet_account(&accused), staked);
        if staked > 0 {
            apply_once(&mut l, &[Transfer::new(10, wallet_account(&accused), stake_account(&accused), staked, TransferCode::Stake)]);
        }
        // What each site paid for the accused's bytes: its fee and payout transfers.
        let paid = |site: i64| -> Amount {
            plan.transfers.iter().filter(|t| t.debit_account == escrow_account(site)
                && (t.id == crate::ids::Purpose::Fee { epoch, site, node: accused }.id()
                    || t.id == crate::ids::Purpose::Payout { epoch, site, node: accused }.id()))
                .map(|t| t.amount).sum()
        };
        let owed = stake::owed(&l, &accused, &[epoch, epoch, epoch + 1], &sites);
        for r in &owed {
            prop_assert_eq!(r.amount, paid(r.site));
        }
        prop_assert_eq!(owed.len(), sites.iter().filter(|s| paid(**s) > 0).count());
        let owed_total: Amount = owed.iter().map(|r| r.amount).sum();
        let before: Vec<Amount> = sites.iter().map(|s| l.account(escrow_account(*s)).unwrap().balance().unwrap()).collect();
        let supply = l.supply();

        let slash = Slash { owner: accused, amount, claimant: TREASURY, evidence: [4; 32], owed: owed.clone() };
        let unlocks = slash.unlocks(&l).unwrap();
        prop_assert!(unlocks.is_empty());
        match slash.plan(&l, SlashShares { claimant_bps, burn_bps }) {
            SlashPlan::Nothing => prop_assert_eq!(staked, 0),
            SlashPlan::Take { transfers, amount: taken, refunds, claimant, burned, treasury } => {
                prop_assert_eq!(taken, amount.max(owed_total).min(staked), "at least the refunds, at most the stake");
                let refunded: Amount = refunds.iter().map(|r| r.amount).sum();
                prop_assert!(refunded <= taken);
                prop_assert_eq!(refunded + claimant + burned + treasury, taken, "no unit lost");
                if taken >= owed_total {
                    prop_assert_eq!(&refunds, &owed, "refunded in full");
                }
                apply_once(&mut l, &transfers);
                supply_holds(&l);
                prop_assert_eq!(l.supply(), supply - burned);
                for (i, site) in sites.iter().enumerate() {
                    let back = refunds.iter().find(|r| r.site == *site).map_or(0, |r| r.amount);
                    prop_assert!(back <= paid(*site), "never more than the site paid");
                    let now = l.account(escrow_account(*site)).unwrap().balance().unwrap();
                    prop_assert_eq!(now - before[i], back);
                }
                prop_assert_eq!(l.account(stake_account(&accused)).unwrap().balance().unwrap(), staked - taken);
                prop_assert!(slash.done(&l));
                prop_assert_eq!(slash.unlocks(&l), None, "the same evidence slashes once");
            }
        }
    }

    #[test]
    fn a_slash_takes_at_most_what_is_at_stake_once_and_loses_no_unit(
        staked in 0u128..1_000_000,
        unstaking in 0u128..1_000_000,
        locked in 0u128..1_000_000,
        wallet_extra in 0u128..1_000,
        amount in 0u128..4_000_000,
        claimant_bps in 0u32..=10_000,
        burn_bps in 0u32..=10_000,
    ) {
        let owner = [7u8; 32];
        let hunter = [8u8; 32];
        let council = CouncilRules { term_secs: 1_000, unbonding_secs: 10, min_stake: 1 };
        let mut l = Ledger::new();
        open(&mut l, accounts::system().to_vec());
        open(&mut l, vec![accounts::wallet(&owner), accounts::stake(&owner), accounts::wallet(&hunter)]);
        let (wallet, stake_id) = (wallet_account(&owner), stake_account(&owner));
        mint(&mut l, 1, wallet, staked + unstaking + locked + wallet_extra);
        let mut setup = Vec::new();
        if staked + unstaking > 0 {
            setup.push(Transfer::new(10, wallet, stake_id, staked + unstaking, TransferCode::Stake));
        }
        if unstaking > 0 {
            let mut t = Transfer::new(11, stake_id, wallet, unstaking, TransferCode::Unstake)
                .with_memo(memo::Memo::UnlockAt(NOW + 50));
            t.flags.pending = true;
            setup.push(t);
        }
        if locked > 0 {
            setup.push(council.lock(&l, &owner, council.term(NOW), locked, NOW).unwrap());
        }
        apply_once(&mut l, &setup);
        let supply = l.supply();

        let evidence = [9u8; 32];
        let slash = Slash { owner, amount, claimant: wallet_account(&hunter), evidence, owed: Vec::new() };
        let unlocks = slash.unlocks(&l).unwrap();
        apply_once(&mut l, &unlocks);
        prop_assert_eq!(l.open_pending().count(), 0, "everything at stake is unlocked");
        let held = l.account(stake_id).unwrap().available().unwrap();
        prop_assert_eq!(held, staked + unstaking + locked);
        let shares = SlashShares { claimant_bps, burn_bps };
        match slash.plan(&l, shares) {
            SlashPlan::Nothing => prop_assert_eq!(amount.min(held), 0),
            SlashPlan::Take { transfers, amount: taken, claimant, burned, treasury, .. } => {
                prop_assert_eq!(taken, amount.min(held));
                prop_assert_eq!(claimant + burned + treasury, taken, "no unit lost");
                apply_once(&mut l, &transfers);
                supply_holds(&l);
                prop_assert_eq!(l.account(stake_id).unwrap().balance().unwrap(), held - taken);
                prop_assert_eq!(l.account(wallet_account(&hunter)).unwrap().balance().unwrap(), claimant);
                prop_assert_eq!(l.burned(), burned);
                prop_assert_eq!(l.supply(), supply - burned);
                prop_assert!(stake::slashed_for(&l, &evidence));
                prop_assert_eq!(slash.unlocks(&l), None, "the same evidence slashes once");
            }
        }
    }

    #[test]
    fn matured_locks_are_released_once_and_only_when_due(
        unlock_in in 0u64..100,
        term_offset in 0u64..2,
        later in 0u64..3_000,
    ) {
        let owner = [7u8; 32];
        let council = CouncilRules { term_secs: 1_000, unbonding_secs: 10, min_stake: 1 };
        let mut l = Ledger::new();
        open(&mut l, accounts::system().to_vec());
        open(&mut l, vec![accounts::wallet(&owner), accounts::stake(&owner)]);
        let (wallet, stake_id) = (wallet_account(&owner), stake_account(&owner));
        mint(&mut l, 1, wallet, 300);
        let mut unstake = Transfer::new(11, stake_id, wallet, 100, TransferCode::Unstake)
            .with_memo(memo::Memo::UnlockAt(NOW + unlock_in));
        unstake.flags.pending = true;
        let term = council.term(NOW) + term_offset;
        let lock = council.lock(&l, &owner, term, 100, NOW).unwrap();
        apply_once(&mut l, &[Transfer::new(10, wallet, stake_id, 100, TransferCode::Stake), unstake, lock]);
        let now = NOW + later;
        let due = stake::matured(&l, &council, now);
        let want = usize::from(NOW + unlock_in <= now) + usize::from(council.release_at(term) <= now);
        prop_assert_eq!(due.transfers.len(), want);
        prop_assert!(!due.expire);
        apply_once(&mut l, &due.transfers);
        supply_holds(&l);
        prop_assert_eq!(l.open_pending().count(), 2 - want);
        prop_assert!(stake::matured(&l, &council, now).transfers.is_empty(), "released once");
    }

    #[test]
    fn a_verdict_moves_the_bond_once_and_an_upheld_one_slashes(
        bond in 1u128..1_000,
        staked in 1u128..1_000,
        upheld in any::<bool>(),
        slash_tokens in 0u128..2_000,
        cut_short in any::<bool>(),
    ) {
        let accused_key = NodeKey::from_secret_bytes([3; 32]);
        let accused: NodeId = accused_key.id();
        let hunter = [8u8; 32];
        let rules = BondRules { min_bond: 1, dispute_secs: 100 };
        let mut l = Ledger::new();
        open(&mut l, accounts::system().to_vec());
        let owner = *accused.as_bytes();
        open(&mut l, vec![accounts::wallet(&owner), accounts::stake(&owner), accounts::wallet(&hunter)]);
        mint(&mut l, 1, wallet_account(&owner), staked);
        mint(&mut l, 2, wallet_account(&hunter), bond);
        apply_once(&mut l, &[Transfer::new(10, wallet_account(&owner), stake_account(&owner), staked, TransferCode::Stake)]);
        let claim = [5u8; 32];
        let (escrow, filed) = rules.bond(&l, wallet_account(&hunter), &claim, &accused, bond).unwrap();
        open(&mut l, vec![escrow]);
        apply_once(&mut l, &[filed]);
        prop_assert_eq!(
            rules.bond(&l, wallet_account(&hunter), &claim, &accused, bond),
            Err(refusal::Refusal::AlreadyBonded { claim })
        );
        let text = format_amount(slash_tokens);
        let verdict = claims::verdict(&l, &claim, upheld, upheld.then_some(text.as_str()), NOW).unwrap();
        let treasury = l.account(TREASURY).unwrap().balance().unwrap();
        match verdict {
            Verdict::Reject { transfers, forfeited } => {
                apply_once(&mut l, &transfers);
                prop_assert_eq!(l.account(TREASURY).unwrap().balance().unwrap() - treasury, forfeited);
                prop_assert_eq!(l.account(wallet_account(&hunter)).unwrap().balance().unwrap(), 0);
            }
            Verdict::Uphold { slash, return_bond, bond: returned } => {
                prop_assert_eq!(returned, bond);
                let unlocks = slash.unlocks(&l).unwrap();
                apply_once(&mut l, &unlocks);
                let took = match slash.plan(&l, SlashShares::default()) {
                    SlashPlan::Take { transfers, claimant, .. } => {
                        apply_once(&mut l, &transfers);
                        prop_assert_eq!(l.account(wallet_account(&hunter)).unwrap().available().unwrap(), claimant);
                        true
                    }
                    SlashPlan::Nothing => false,
                };
                if cut_short {
                    // The server stopped after the slash: the claim is still open, and the verdict given
                    // again slashes nothing more and only returns the bond. Once the evidence has taken
                    // stake, rejecting the claim instead would take the bond of a hunter who was right.
                    let digest = l.state_digest();
                    if took {
                        let rejected = claims::verdict(&l, &claim, false, None, NOW);
                        prop_assert_eq!(rejected, Err(refusal::Refusal::EvidenceSlashed));
                    }
                    let again = claims::verdict(&l, &claim, true, Some(text.as_str()), NOW).unwrap();
                    let Verdict::Uphold { slash: again_slash, return_bond: again_return, .. } = again else {
                        panic!("an upheld claim cut short is upheld again: {again:?}");
                    };
                    // Slashed: the evidence is used. Not (nothing was asked or held): nothing left to unlock.
                    prop_assert_eq!(again_slash.unlocks(&l), (!took).then(Vec::new));
                    prop_assert_eq!(again_return, return_bond, "the same return, so it applies once");
                    prop_assert_eq!(l.state_digest(), digest);
                }
                apply_once(&mut l, &[return_bond]);
                prop_assert_eq!(l.account(wallet_account(&hunter)).unwrap().debits_pending, 0, "the bond is back");
            }
        }
        supply_holds(&l);
        let again = claims::verdict(&l, &claim, upheld, upheld.then_some(text.as_str()), NOW);
        prop_assert!(matches!(again, Err(refusal::Refusal::AlreadyJudged { .. })), "{:?}", again);
    }

    #[test]
    fn an_epochs_subsidy_is_paid_once_whichever_batch_carries_it(
        escrows in proptest::collection::vec(1u128..5_000_000_000, 2..4),
        treasury in 1u128..10_000_000_000,
        usage in proptest::collection::vec((0usize..3, 0u8..4, 1u64..(8 << 30)), 1..12),
        first_sites in 0usize..4,
        subsidy_bps in 1u32..=12_000,
        subsidy_cap in 1u128..2_000_000_000,
        enabled_first in any::<bool>(),
    ) {
        let (mut l, usage) = funded_sites(&escrows, treasury, usage);
        let on = BillingConfig { subsidy_bps, subsidy_cap, ..BillingConfig::default() };
        let off = BillingConfig { subsidy_bps: 0, ..on.clone() };
        let world = World::default();
        let epoch = 7;
        // The epoch settles in two batches: the first sites' usage (a batch cut short, or a router
        // that saw only part of it), then all of it. The subsidy is on for both, or only for the second.
        let early: Vec<Usage> = usage.iter().copied().filter(|u| (u.site as usize) < first_sites).collect();
        let first = settlement::plan(&l, if enabled_first { &on } else { &off }, epoch, &early, &world);
        open(&mut l, first.accounts.clone());
        apply_once(&mut l, &first.transfers);
        let second = settlement::plan(&l, &on, epoch, &usage, &world);
        open(&mut l, second.accounts.clone());
        apply_once(&mut l, &second.transfers);
        supply_holds(&l);

        let nodes: std::collections::BTreeSet<[u8; 32]> = usage.iter().map(|u| u.node).collect();
        let paid: Amount = nodes.iter().map(|n| settlement::subsidy_paid(&l, epoch, n)).sum();
        prop_assert_eq!(paid, first.subsidised + second.subsidised);
        prop_assert!(paid <= subsidy_cap.min(treasury), "at most the cap, and what the treasury held");
        prop_assert!(first.subsidised == 0 || second.subsidised == 0, "one batch of the epoch carries it");
        if !enabled_first && !first.transfers.is_empty() {
            // Enabling the subsidy pays nothing for sites already settled: what the second batch pays
            // is a share of what it settled itself.
            let earned_now: Amount = second.transfers.iter().filter(|t| t.code == TransferCode::Payout).map(|t| t.amount).sum();
            prop_assert!(second.subsidised <= earned_now * Amount::from(subsidy_bps) / 10_000);
        }
        let again = settlement::plan(&l, &on, epoch, &usage, &world);
        prop_assert!(again.transfers.is_empty(), "{:?}", again.transfers);
    }

    #[test]
    fn a_transaction_is_for_its_network_and_within_its_lifetime(
        expires_in in -100i64..5_000,
        same_network in any::<bool>(),
    ) {
        let rules = TxRules {
            network: "test",
            unbonding_secs: 10,
            bonds: BondRules { min_bond: 1, dispute_secs: 100 },
            council: CouncilRules { term_secs: 1_000, unbonding_secs: 10, min_stake: 1 },
        };
        let expires = NOW.saturating_add_signed(expires_in);
        let tx = Tx {
            network: if same_network { "test" } else { "other" }.into(),
            nonce: 1,
            expires,
            action: TxAction::Stake { amount: 1 },
        };
        let fine = same_network && (0..=MAX_TX_LIFETIME_SECS as i64).contains(&expires_in);
        match rules.check(&tx, NOW) {
            Ok(()) => prop_assert!(fine),
            Err(refused) => {
                prop_assert!(!fine, "{}", refused);
                prop_assert_eq!(refused.kind(), refusal::RefusalKind::Invalid);
            }
        }
    }

    #[test]
    fn transactions_apply_once_whatever_they_ask(
        actions in proptest::collection::vec((0u8..6, 0u128..500), 1..12),
    ) {
        let key = NodeKey::from_secret_bytes([4; 32]);
        let signer = key.id();
        let owner = *signer.as_bytes();
        let rules = TxRules {
            network: "test",
            unbonding_secs: 10,
            bonds: BondRules { min_bond: 1, dispute_secs: 100 },
            council: CouncilRules { term_secs: 1_000, unbonding_secs: 10, min_stake: 1 },
        };
        let mut l = Ledger::new();
        open(&mut l, accounts::system().to_vec());
        open(&mut l, vec![accounts::wallet(&owner)]);
        mint(&mut l, 1, wallet_account(&owner), 2_000);
        for (nonce, (kind, amount)) in actions.into_iter().enumerate() {
            let action = match kind {
                0 => TxAction::Transfer { to: TREASURY, amount },
                1 => TxAction::Deposit { site: "s.example".into(), amount },
                2 => TxAction::Stake { amount },
                3 => TxAction::Unstake { amount },
                4 => TxAction::Bond { claim: [nonce as u8; 32], accused: signer, amount },
                _ => TxAction::CouncilStake { term: rules.council.term(NOW), amount },
            };
            let tx = Tx { network: "test".into(), nonce: nonce as u64, expires: NOW + 10, action };
            rules.check(&tx, NOW).unwrap();
            let Ok(plan) = rules.plan(&l, &tx, &signer, Some(1), NOW) else { continue };
            open(&mut l, plan.accounts.clone());
            let digest = l.state_digest();
            let first = submit(&mut l, vec![plan.transfer]);
            supply_holds(&l);
            if first == [Ok(Outcome::Created)] {
                let again = submit(&mut l, vec![plan.transfer]);
                prop_assert_eq!(again, [Ok(Outcome::Exists)]);
            } else {
                prop_assert_eq!(l.state_digest(), digest, "a refused transfer changes nothing");
            }
        }
        let total: Amount = l.accounts().filter(|a| a.kind != AccountKind::Issuance).map(|a| a.balance().unwrap()).sum();
        prop_assert_eq!(total, 2_000, "transactions only move tokens");
        prop_assert_eq!(l.burned(), 0);
    }
}

#[test]
fn transactions_are_checked_for_network_and_lifetime() {
    let rules = TxRules {
        network: "test",
        unbonding_secs: 10,
        bonds: BondRules {
            min_bond: 5,
            dispute_secs: 100,
        },
        council: CouncilRules {
            term_secs: 1_000,
            unbonding_secs: 10,
            min_stake: 50,
        },
    };
    let tx = |network: &str, expires, action| Tx {
        network: network.into(),
        nonce: 1,
        expires,
        action,
    };
    let stake = TxAction::Stake { amount: 1 };
    assert_eq!(rules.check(&tx("test", NOW, stake.clone()), NOW), Ok(()));
    let refused = |t: Tx| rules.check(&t, NOW).unwrap_err().to_string();
    assert_eq!(
        refused(tx("other", NOW, stake.clone())),
        "the transaction is for network \"other\"; this router's is \"test\""
    );
    assert_eq!(
        refused(tx("test", NOW - 1, stake.clone())),
        format!("the transaction expired at {}", NOW - 1)
    );
    assert_eq!(
        refused(tx("test", NOW + 3601, stake)),
        "expiry more than 3600 s ahead"
    );
    let l = Ledger::new();
    let signer = NodeKey::from_secret_bytes([4; 32]).id();
    let deposit = tx(
        "test",
        NOW,
        TxAction::Deposit {
            site: "Nope.example".into(),
            amount: 1,
        },
    );
    let err = rules.plan(&l, &deposit, &signer, None, NOW).unwrap_err();
    assert_eq!(
        (err.kind(), err.to_string()),
        (
            refusal::RefusalKind::NotFound,
            "no site Nope.example".into()
        )
    );
    let small = tx(
        "test",
        NOW,
        TxAction::CouncilStake {
            term: 1,
            amount: 60,
        },
    );
    assert_eq!(
        rules.plan(&l, &small, &signer, None, NOW),
        Err(refusal::Refusal::NotATerm {
            term: 1,
            current: 1_000
        })
    );
    let bond = tx(
        "test",
        NOW,
        TxAction::Bond {
            claim: [1; 32],
            accused: signer,
            amount: 6,
        },
    );
    let err = rules.plan(&l, &bond, &signer, None, NOW).unwrap_err();
    assert_eq!(err.kind(), refusal::RefusalKind::Unprocessable, "{err}");
}

#[test]
fn a_correction_reverses_once_and_never_a_burn() {
    let mut l = Ledger::new();
    open(&mut l, accounts::system().to_vec());
    open(&mut l, vec![accounts::wallet(&[1; 32])]);
    let wallet = wallet_account(&[1; 32]);
    mint(&mut l, 7, wallet, 50);
    let fix = transactions::correction(&l, 7, Some("0.000000045")).unwrap();
    assert_eq!(
        (fix.code, fix.credit_account, fix.amount),
        (TransferCode::Burn, BURN, 45)
    );
    assert_eq!(fix.user_data, 7, "the correction names what it corrects");
    assert_eq!(
        transactions::correction(&l, 7, Some("0.000000051")),
        Err(refusal::Refusal::CorrectionAmount { moved: 50 })
    );
    apply_once(&mut l, &[fix]);
    assert!(matches!(
        transactions::correction(&l, 7, None),
        Err(refusal::Refusal::AlreadyCorrected { reverses: 7, .. })
    ));
    assert_eq!(
        transactions::correction(&l, fix.id, None),
        Err(refusal::Refusal::BurnIsFinal)
    );
    assert_eq!(
        transactions::correction(&l, 12_345, None),
        Err(refusal::Refusal::NoTransfer { id: 12_345 })
    );
    supply_holds(&l);
}

#[test]
fn a_claim_without_a_verdict_releases_its_bond_once_and_is_judged_no_more() {
    let accused = NodeKey::from_secret_bytes([3; 32]).id();
    let owner = *accused.as_bytes();
    let hunter = [8u8; 32];
    let rules = BondRules {
        min_bond: 1,
        dispute_secs: 100,
    };
    let mut l = Ledger::new();
    open(&mut l, accounts::system().to_vec());
    open(
        &mut l,
        vec![
            accounts::wallet(&owner),
            accounts::stake(&owner),
            accounts::wallet(&hunter),
        ],
    );
    mint(&mut l, 1, wallet_account(&owner), 50);
    mint(&mut l, 2, wallet_account(&hunter), 7);
    apply_once(
        &mut l,
        &[Transfer::new(
            10,
            wallet_account(&owner),
            stake_account(&owner),
            50,
            TransferCode::Stake,
        )],
    );
    let claim = [5u8; 32];
    assert_eq!(
        claims::release(&l, &claim, NOW),
        Err(refusal::Refusal::NoBond { claim })
    );
    let (escrow, filed) = rules
        .bond(&l, wallet_account(&hunter), &claim, &accused, 7)
        .unwrap();
    open(&mut l, vec![escrow]);
    apply_once(&mut l, &[filed]);
    assert_eq!(
        l.account(wallet_account(&hunter)).unwrap().available(),
        Some(0)
    );
    let back = claims::release(&l, &claim, NOW).unwrap();
    // The same transfer an upheld verdict returns the bond with: whichever comes moves it once.
    let Verdict::Uphold { return_bond, .. } =
        claims::verdict(&l, &claim, true, Some("1"), NOW).unwrap()
    else {
        panic!("upheld")
    };
    assert_eq!(back, return_bond);
    apply_once(&mut l, &[back]);
    assert_eq!(
        l.account(wallet_account(&hunter)).unwrap().available(),
        Some(7)
    );
    assert!(matches!(
        claims::release(&l, &claim, NOW),
        Err(refusal::Refusal::AlreadyJudged { .. })
    ));
    assert!(matches!(
        claims::verdict(&l, &claim, false, None, NOW),
        Err(refusal::Refusal::AlreadyJudged { .. })
    ));
    supply_holds(&l);
}
