//! Governance driven through the ledger's own batches, as the router drives it: signed messages, deposit
//! and lock transfers, and the events [`Governance::due`] names.

mod proptests;

use meson_core::identity::NodeKey;
use meson_core::signed::SignedMessage;
use serde::Serialize;

use super::*;
use crate::accounts::{self, wallet_account};
use crate::claims::BondRules;
use crate::council::CouncilRules;
use crate::params::Key;
use crate::transactions::TxRules;
use crate::tx::{Tx, TxAction};
use crate::{Batch, BatchResults, LogRecord, Outcome, Transfer, ONE_TOKEN};
use std::cell::RefCell;

const NET: &str = "gov-test";
const T0: u64 = 1_000_000;

thread_local! {
    /// Every batch this test's thread applied, to replay.
    static LOG: RefCell<Vec<Batch>> = const { RefCell::new(Vec::new()) };
}

/// Applies `batch` and keeps it for [`replayed`].
pub(super) fn run(l: &mut Ledger, batch: Batch) -> BatchResults {
    let r = l.apply(&batch);
    // As the router: only what changed the ledger is logged.
    if r.changed() {
        LOG.with(|log| log.borrow_mut().push(batch));
    }
    r
}

/// A fresh ledger after every batch this thread applied.
fn replayed() -> Ledger {
    LOG.with(|log| Ledger::replay(log.borrow().iter()))
}

pub(super) fn key(i: u8) -> NodeKey {
    NodeKey::from_secret_bytes([i + 1; 32])
}

pub(super) fn owner(i: u8) -> [u8; 32] {
    *key(i).id().as_bytes()
}

/// Small windows, so tests move time by seconds: 10 s votes, 5 s late-quorum guard, a 20 s timelock,
/// 100 s epochs, a 30 s shutdown, a deposit of 10 tokens.
pub(super) fn genesis() -> Params {
    let mut p = Params::default();
    for (param, v) in [
        (Param::EpochSecs, 100),
        (Param::VotingSecs, 10),
        (Param::LateQuorumSecs, 5),
        (Param::TimelockSecs, 20),
        (Param::VetoExtensionSecs, 50),
        (Param::ShutdownSecs, 30),
        (Param::ProposalDeposit, 10 * ONE_TOKEN),
        (Param::CouncilTermSecs, 1_000_000),
    ] {
        p.seed(Key::Param(param), v).unwrap();
    }
    p
}

/// A ledger whose holders `i` hold `balances[i]` tokens in their wallets, governance at genesis.
pub(super) fn world(balances: &[u128]) -> Ledger {
    LOG.with(|log| log.borrow_mut().clear());
    let mut l = Ledger::new();
    let owners: Vec<[u8; 32]> = (0..balances.len() as u8).map(owner).collect();
    run(
        &mut l,
        Batch::CreateAccounts {
            now: T0,
            accounts: accounts::system()
                .into_iter()
                .chain(
                    owners
                        .iter()
                        .flat_map(|o| [accounts::wallet(o), accounts::stake(o)]),
                )
                .collect(),
        },
    );
    for (i, b) in balances.iter().enumerate() {
        if *b > 0 {
            let t = crate::transactions::mint(1_000 + i as u128, wallet_account(&owners[i]), *b);
            assert!(transfers(&mut l, T0, vec![t])[0].is_ok());
        }
    }
    assert_eq!(
        event(
            &mut l,
            T0,
            GovEvent::Genesis {
                network: NET.into(),
                params: genesis()
            }
        ),
        Ok(())
    );
    l
}

pub(super) fn transfers(
    l: &mut Ledger,
    now: u64,
    transfers: Vec<Transfer>,
) -> Vec<Result<Outcome, crate::TransferError>> {
    match run(l, Batch::CreateTransfers { now, transfers }) {
        BatchResults::Transfers(r) => r,
        other => panic!("{other:?}"),
    }
}

pub(super) fn event(l: &mut Ledger, now: u64, e: GovEvent) -> Result<(), GovError> {
    match run(
        l,
        Batch::Record {
            now,
            record: LogRecord::Gov(e),
        },
    ) {
        BatchResults::Recorded => Ok(()),
        BatchResults::Refused(e) => Err(e),
        other => panic!("{other:?}"),
    }
}

pub(super) fn signed<T: Serialize>(i: u8, purpose: &str, body: &T, now: u64) -> String {
    let nonce = blake3::hash(&[&[i], &now.to_le_bytes()[..], purpose.as_bytes()].concat());
    let m = SignedMessage::sign(
        &key(i),
        purpose,
        now,
        nonce.as_bytes()[..16].try_into().unwrap(),
        body,
    )
    .unwrap();
    serde_json::to_string(&m).unwrap()
}

fn set(param: &str, value: u128) -> Action {
    Action::Set {
        param: param.into(),
        value,
    }
}

/// Files `actions` by holder `i` at `now` as the router does: checks, reserves the deposit, logs.
pub(super) fn propose(
    l: &mut Ledger,
    i: u8,
    title: &str,
    actions: Vec<Action>,
    now: u64,
) -> Result<[u8; 32], GovError> {
    let body = ProposalBody {
        network: NET.into(),
        title: title.into(),
        actions,
    };
    let text = signed(i, PROPOSAL, &body, now);
    let (id, proposer, need, _) = l.governance().check_proposal(&text)?;
    let r = transfers(l, now, vec![deposit(&proposer, &id, need)]);
    assert!(r[0].is_ok(), "{r:?}");
    event(l, now, GovEvent::Filed { signed: text })?;
    Ok(id)
}

pub(super) fn vote(
    l: &mut Ledger,
    i: u8,
    id: &[u8; 32],
    choice: Choice,
    now: u64,
) -> Result<(), GovError> {
    let body = VoteBody {
        network: NET.into(),
        proposal: hex::encode(id),
        choice,
    };
    event(
        l,
        now,
        GovEvent::Voted {
            signed: signed(i, VOTE, &body, now),
        },
    )
}

/// A signed transaction of holder `i`, planned by the ledger's rules and applied.
pub(super) fn tx(
    l: &mut Ledger,
    i: u8,
    nonce: u64,
    action: TxAction,
    now: u64,
) -> Result<(), crate::refusal::Refusal> {
    let rules = TxRules {
        network: NET,
        unbonding_secs: 1_000,
        bonds: BondRules {
            min_bond: 1,
            dispute_secs: 100,
        },
        council: CouncilRules {
            term_secs: 1_000_000,
            unbonding_secs: 1_000,
            min_stake: 1,
        },
    };
    let t = Tx {
        network: NET.into(),
        nonce,
        expires: now + 60,
        action,
    };
    let plan = rules.plan(l, &t, &key(i).id(), None, now)?;
    run(
        l,
        Batch::CreateAccounts {
            now,
            accounts: plan.accounts,
        },
    );
    let r = transfers(l, now, vec![plan.transfer]);
    assert!(r[0].is_ok(), "{r:?}");
    Ok(())
}

/// Logs every event due at `now`, and moves what [`Governance::settlements`] names.
pub(super) fn tick(l: &mut Ledger, now: u64) -> Vec<GovEvent> {
    let due = l.governance().due(l, now);
    for e in &due {
        event(l, now, e.clone()).unwrap();
    }
    let (accounts, moves) = l.governance().settlements(l, now);
    run(l, Batch::CreateAccounts { now, accounts });
    if !moves.is_empty() {
        let r = transfers(l, now, moves);
        assert!(r.iter().all(Result::is_ok), "{r:?}");
    }
    l.check_invariants().unwrap();
    due
}

/// Logs the execution of `id` at `now`, as the router would once it is due.
fn execute(l: &mut Ledger, now: u64, id: &[u8; 32]) -> Result<(), GovError> {
    event(
        l,
        now,
        GovEvent::Executed {
            proposal: hex::encode(id),
        },
    )
}

fn phase(l: &Ledger, id: &[u8; 32]) -> Phase {
    l.governance().proposal(id).unwrap().phase.clone()
}

fn balance(l: &Ledger, i: u8) -> u128 {
    l.account(wallet_account(&owner(i)))
        .and_then(|a| a.balance())
        .unwrap_or(0)
}

fn tokens(n: u128) -> u128 {
    n * ONE_TOKEN
}

#[test]
fn a_passed_proposal_waits_its_timelock_executes_once_and_takes_effect_next_epoch() {
    let mut l = world(&[tokens(600), tokens(400)]);
    let id = propose(&mut l, 0, "lower the fee", vec![set("fee_bps", 1_500)], T0).unwrap();
    assert_eq!(
        balance(&l, 0),
        tokens(600),
        "a reservation stays in the wallet"
    );
    assert_eq!(
        l.account(wallet_account(&owner(0))).unwrap().available(),
        Some(tokens(590))
    );
    vote(&mut l, 0, &id, Choice::For, T0 + 1).unwrap();
    vote(&mut l, 1, &id, Choice::Against, T0 + 2).unwrap();
    assert_eq!(
        event(
            &mut l,
            T0 + 5,
            GovEvent::Closed {
                proposal: hex::encode(id)
            }
        ),
        Err(GovError::VotingOpen {
            proposal: hex::encode(id),
            until: T0 + 10
        })
    );
    assert!(tick(&mut l, T0 + 9).is_empty());
    assert_eq!(
        tick(&mut l, T0 + 10),
        vec![GovEvent::Closed {
            proposal: hex::encode(id)
        }]
    );
    assert_eq!(phase(&l, &id), Phase::Queued { since: T0 + 10 });
    let early = event(
        &mut l,
        T0 + 29,
        GovEvent::Executed {
            proposal: hex::encode(id),
        },
    );
    assert_eq!(
        early,
        Err(GovError::NotDue {
            proposal: hex::encode(id),
            eta: T0 + 30
        })
    );
    assert!(tick(&mut l, T0 + 29).is_empty());
    let epoch = l.governance().epoch(T0 + 30);
    assert_eq!(
        tick(&mut l, T0 + 30),
        vec![GovEvent::Executed {
            proposal: hex::encode(id)
        }]
    );
    assert_eq!(
        phase(&l, &id),
        Phase::Executed {
            at: T0 + 30,
            effective_epoch: epoch + 1
        }
    );
    let gov = l.governance();
    assert_eq!(
        gov.params_at(epoch).get(Param::FeeBps),
        2_000,
        "this epoch keeps its fee"
    );
    assert_eq!(gov.params_at(epoch + 1).get(Param::FeeBps), 1_500);
    assert_eq!(gov.latest().get(Param::FeeBps), 1_500);
    assert!(matches!(
        execute(&mut l, T0 + 31, &id),
        Err(GovError::WrongPhase { .. })
    ));
    assert_eq!(
        l.account(wallet_account(&owner(0))).unwrap().available(),
        Some(tokens(600)),
        "deposit back"
    );
}

#[test]
fn power_is_the_snapshot_at_filing_so_moved_tokens_vote_once() {
    let mut l = world(&[tokens(100), 0, tokens(50)]);
    let id = propose(
        &mut l,
        2,
        "raise the price",
        vec![set("price_per_gib", ONE_TOKEN / 5)],
        T0,
    )
    .unwrap();
    // Holder 0 moves everything to holder 1 after filing; holder 1 had nothing in the snapshot.
    tx(
        &mut l,
        0,
        1,
        TxAction::Transfer {
            to: wallet_account(&owner(1)),
            amount: tokens(100),
        },
        T0 + 1,
    )
    .unwrap();
    assert!(matches!(
        vote(&mut l, 1, &id, Choice::For, T0 + 2),
        Err(GovError::NoPower { .. })
    ));
    vote(&mut l, 0, &id, Choice::For, T0 + 2).unwrap();
    assert!(matches!(
        vote(&mut l, 0, &id, Choice::Against, T0 + 3),
        Err(GovError::VotedAlready { .. })
    ));
    let p = l.governance().proposal(&id).unwrap();
    assert_eq!(p.tally.yes, tokens(100));
    assert_eq!(p.total_power, tokens(150));
}

#[test]
fn a_vote_after_the_deadline_says_when_it_closed() {
    let mut l = world(&[tokens(100)]);
    let id = propose(&mut l, 0, "t", vec![set("fee_bps", 1_900)], T0).unwrap();
    let err = vote(&mut l, 0, &id, Choice::For, T0 + 10).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the vote on proposal {} closed at {} (Unix seconds)",
            hex::encode(id),
            T0 + 10
        )
    );
}

#[test]
fn quorum_arriving_at_the_last_moment_extends_the_vote() {
    let mut l = world(&[tokens(1_000), tokens(30), tokens(100)]);
    let id = propose(&mut l, 0, "t", vec![set("fee_bps", 1_900)], T0).unwrap();
    // 30 of 1130 is under the 4 % quorum; 130 is over it, reached at T0 + 8, 2 s before the end.
    vote(&mut l, 1, &id, Choice::For, T0 + 1).unwrap();
    assert_eq!(l.governance().proposal(&id).unwrap().voting_ends, T0 + 10);
    vote(&mut l, 2, &id, Choice::Against, T0 + 8).unwrap();
    let p = l.governance().proposal(&id).unwrap();
    assert_eq!((p.quorum_at, p.voting_ends), (Some(T0 + 8), T0 + 13));
    assert!(tick(&mut l, T0 + 10).is_empty(), "the vote still runs");
    assert!(matches!(
        tick(&mut l, T0 + 13).as_slice(),
        [GovEvent::Closed { .. }]
    ));
    assert_eq!(phase(&l, &id), Phase::Defeated { quorum: true });
}

#[test]
fn without_quorum_a_proposal_is_defeated_and_its_deposit_returns() {
    let mut l = world(&[tokens(1_000), tokens(10)]);
    let id = propose(&mut l, 1, "t", vec![set("fee_bps", 1_900)], T0).unwrap();
    vote(&mut l, 1, &id, Choice::For, T0 + 1).unwrap();
    tick(&mut l, T0 + 10);
    assert_eq!(phase(&l, &id), Phase::Defeated { quorum: false });
    assert_eq!(
        l.account(wallet_account(&owner(1))).unwrap().available(),
        Some(tokens(10))
    );
}

#[test]
fn an_out_of_bounds_proposal_is_refused_before_its_deposit_is_taken() {
    let l = world(&[tokens(100)]);
    let body = ProposalBody {
        network: NET.into(),
        title: "all fee".into(),
        actions: vec![set("fee_bps", 10_000)],
    };
    let err = l
        .governance()
        .check_proposal(&signed(0, PROPOSAL, &body, T0))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the hard maximum is 5000 basis points"),
        "{err}"
    );
    let other = ProposalBody {
        network: "elsewhere".into(),
        ..body
    };
    assert!(matches!(
        l.governance()
            .check_proposal(&signed(0, PROPOSAL, &other, T0)),
        Err(GovError::WrongNetwork { .. })
    ));
}

#[test]
fn filing_without_the_deposit_reserved_is_refused() {
    let mut l = world(&[tokens(100)]);
    let body = ProposalBody {
        network: NET.into(),
        title: "t".into(),
        actions: vec![set("fee_bps", 1_900)],
    };
    let text = signed(0, PROPOSAL, &body, T0);
    assert!(matches!(
        event(
            &mut l,
            T0,
            GovEvent::Filed {
                signed: text.clone()
            }
        ),
        Err(GovError::NoDeposit { .. })
    ));
    // A forged signature does not verify.
    let mut forged: serde_json::Value = serde_json::from_str(&text).unwrap();
    forged["body"] = forged["body"]
        .as_str()
        .unwrap()
        .replace("\"t\"", "\"u\"")
        .into();
    let forged = forged.to_string();
    assert!(matches!(
        l.governance().check_proposal(&forged),
        Err(GovError::Signed(_))
    ));
}

/// Holders 0 (passes it alone), 1 and 2 (veto); the proposal queued at T0 + 10.
fn queued(balances: &[u128], actions: Vec<Action>) -> (Ledger, [u8; 32]) {
    let mut l = world(balances);
    let id = propose(&mut l, 0, "spend", actions, T0).unwrap();
    vote(&mut l, 0, &id, Choice::For, T0 + 1).unwrap();
    tick(&mut l, T0 + 10);
    assert_eq!(phase(&l, &id), Phase::Queued { since: T0 + 10 });
    (l, id)
}

#[test]
fn a_veto_past_the_first_threshold_stretches_the_wait_and_past_the_second_cancels() {
    let everything = |to| Action::Spend {
        to,
        amount: tokens(5),
    };
    let (mut l, id) = queued(
        &[tokens(880), tokens(20), tokens(100)],
        vec![everything(key(0).id())],
    );
    // 1 % of the 1000-token snapshot is 10: a 15-token veto delays to the window's end plus 50 s.
    tx(
        &mut l,
        1,
        1,
        TxAction::Veto {
            proposal: id,
            amount: tokens(15),
        },
        T0 + 11,
    )
    .unwrap();
    let p = l.governance().proposal(&id).unwrap();
    assert_eq!(
        p.eta(l.governance().veto(&l, &id)),
        Some(T0 + 10 + 86_400 + 50)
    );
    assert!(
        tick(&mut l, T0 + 30).is_empty(),
        "its timelock alone no longer frees it"
    );
    // 10 % is 100: holder 2 locks 90 more and the proposal is cancelled, never executed.
    tx(
        &mut l,
        2,
        1,
        TxAction::Veto {
            proposal: id,
            amount: tokens(90),
        },
        T0 + 40,
    )
    .unwrap();
    assert!(matches!(
        execute(&mut l, T0 + 200_000, &id),
        Err(GovError::Vetoed { .. })
    ));
    assert_eq!(
        tick(&mut l, T0 + 41),
        vec![GovEvent::Cancelled {
            proposal: hex::encode(id)
        }]
    );
    assert_eq!(phase(&l, &id), Phase::Cancelled { at: T0 + 41 });
    assert!(tick(&mut l, T0 + 200_000).is_empty());
    // The vetoers' tokens are free again; the proposer's deposit went to the treasury.
    assert_eq!(
        l.account(wallet_account(&owner(1))).unwrap().available(),
        Some(tokens(20))
    );
    assert_eq!(
        l.account(wallet_account(&owner(2))).unwrap().available(),
        Some(tokens(100))
    );
    assert_eq!(balance(&l, 0), tokens(870));
    assert_eq!(
        l.account(crate::accounts::TREASURY).unwrap().balance(),
        Some(tokens(10))
    );
    assert!(matches!(
        tx(
            &mut l,
            1,
            2,
            TxAction::Veto {
                proposal: id,
                amount: 1
            },
            T0 + 200_001
        ),
        Err(crate::refusal::Refusal::ProposalEnded { .. })
    ));
}

/// Seats holders 3, 4 and 5 as the council of the current term, as an election's log record does.
fn seat_council(l: &mut Ledger) {
    let members: Vec<String> = (3..6).map(|i| hex::encode(owner(i))).collect();
    run(
        l,
        Batch::Record {
            now: T0 + 11,
            record: LogRecord::Seated { term: 1, members },
        },
    );
}

#[test]
fn the_council_delays_a_queued_proposal_to_its_windows_end_and_no_further() {
    let (mut l, id) = queued(&[tokens(100)], vec![set("fee_bps", 1_900)]);
    seat_council(&mut l);
    let delay = |i: u8| GovEvent::CouncilDelay {
        signed: signed(
            i,
            COUNCIL_DELAY,
            &DelayBody {
                network: NET.into(),
                proposal: hex::encode(id),
            },
            T0 + 12,
        ),
    };
    assert!(matches!(
        event(&mut l, T0 + 12, delay(0)),
        Err(GovError::NotMember { .. })
    ));
    event(&mut l, T0 + 12, delay(3)).unwrap();
    assert!(matches!(
        event(&mut l, T0 + 12, delay(3)),
        Err(GovError::SignedAlready { .. })
    ));
    assert!(
        !l.governance().proposal(&id).unwrap().council_delayed,
        "one of three is not two thirds"
    );
    event(&mut l, T0 + 12, delay(4)).unwrap();
    assert!(tick(&mut l, T0 + 30).is_empty());
    assert_eq!(
        tick(&mut l, T0 + 10 + 86_400),
        vec![GovEvent::Executed {
            proposal: hex::encode(id)
        }]
    );
    assert_eq!(
        l.governance().latest().get(Param::FeeBps),
        1_900,
        "delayed, never changed"
    );
}

#[test]
fn a_council_shutdown_pauses_execution_and_expires_by_itself() {
    let (mut l, id) = queued(&[tokens(100)], vec![set("fee_bps", 1_900)]);
    seat_council(&mut l);
    let signal = |i: u8, round| GovEvent::CouncilShutdown {
        signed: signed(
            i,
            COUNCIL_SHUTDOWN,
            &ShutdownBody {
                network: NET.into(),
                round,
            },
            T0 + 12,
        ),
    };
    assert!(matches!(
        event(&mut l, T0 + 12, signal(3, 2)),
        Err(GovError::WrongRound { .. })
    ));
    event(&mut l, T0 + 12, signal(3, 1)).unwrap();
    event(&mut l, T0 + 12, signal(4, 1)).unwrap();
    let s = l.governance().shutdown_at(T0 + 12).unwrap();
    assert_eq!((s.since, s.until, s.by_council), (T0 + 12, T0 + 42, true));
    assert!(tick(&mut l, T0 + 30).is_empty(), "paused past its timelock");
    assert_eq!(
        execute(&mut l, T0 + 41, &id),
        Err(GovError::ShutDown { until: T0 + 42 })
    );
    assert_eq!(
        tick(&mut l, T0 + 42),
        vec![GovEvent::Executed {
            proposal: hex::encode(id)
        }]
    );
    assert_eq!(l.governance().open_round(), 2);
}

#[test]
fn enough_locked_stake_shuts_down_and_its_locks_return_when_it_expires() {
    let (mut l, id) = queued(&[tokens(850), tokens(150)], vec![set("fee_bps", 1_900)]);
    tx(
        &mut l,
        1,
        1,
        TxAction::Shutdown {
            round: 1,
            amount: tokens(50),
        },
        T0 + 11,
    )
    .unwrap();
    assert!(tick(&mut l, T0 + 11).is_empty(), "50 of 1000 is under 10 %");
    tx(
        &mut l,
        1,
        2,
        TxAction::Shutdown {
            round: 1,
            amount: tokens(50),
        },
        T0 + 12,
    )
    .unwrap();
    assert_eq!(
        tick(&mut l, T0 + 12),
        vec![GovEvent::StakeShutdown { round: 1 }]
    );
    assert!(matches!(
        tx(
            &mut l,
            1,
            3,
            TxAction::Shutdown {
                round: 2,
                amount: 1
            },
            T0 + 13
        ),
        Err(crate::refusal::Refusal::ShutdownOn { .. })
    ));
    // Unlocked tokens still move during the shutdown.
    tx(
        &mut l,
        1,
        4,
        TxAction::Transfer {
            to: wallet_account(&owner(0)),
            amount: tokens(50),
        },
        T0 + 13,
    )
    .unwrap();
    assert!(tick(&mut l, T0 + 41).is_empty());
    assert_eq!(
        l.account(wallet_account(&owner(1))).unwrap().available(),
        Some(0)
    );
    assert_eq!(
        tick(&mut l, T0 + 42),
        vec![GovEvent::Executed {
            proposal: hex::encode(id)
        }]
    );
    assert_eq!(
        l.account(wallet_account(&owner(1))).unwrap().available(),
        Some(tokens(100))
    );
}

#[test]
fn a_change_that_no_longer_fits_when_due_fails_and_a_spend_pays_once() {
    let mut l = world(&[tokens(100)]);
    let down = propose(&mut l, 0, "down", vec![set("fee_bps", 1_000)], T0).unwrap();
    let up = propose(&mut l, 0, "up", vec![set("fee_bps", 3_000)], T0).unwrap();
    let spend = propose(
        &mut l,
        0,
        "pay",
        vec![Action::Spend {
            to: key(1).id(),
            amount: tokens(3),
        }],
        T0,
    )
    .unwrap();
    for id in [down, up, spend] {
        vote(&mut l, 0, &id, Choice::For, T0 + 1).unwrap();
    }
    tick(&mut l, T0 + 10);
    // The treasury holds nothing yet: fund it, as slashes and forfeits do.
    transfers(
        &mut l,
        T0 + 11,
        vec![crate::transactions::mint(
            9,
            crate::accounts::TREASURY,
            tokens(4),
        )],
    );
    tick(&mut l, T0 + 30);
    assert!(matches!(phase(&l, &down), Phase::Executed { .. }));
    let Phase::Failed { why, .. } = phase(&l, &up) else {
        panic!("{:?}", phase(&l, &up))
    };
    assert!(
        why.contains("fee_bps may move from 1000 basis points to at most 2000"),
        "{why}"
    );
    assert!(matches!(phase(&l, &spend), Phase::Executed { .. }));
    assert_eq!(balance(&l, 1), tokens(3));
    tick(&mut l, T0 + 31);
    assert_eq!(balance(&l, 1), tokens(3), "paid once");
    assert_eq!(l.governance().latest().get(Param::FeeBps), 1_000);
}

#[test]
fn a_replay_of_the_log_rebuilds_the_same_governance() {
    let mut l = world(&[tokens(100), tokens(20)]);
    let id = propose(&mut l, 0, "t", vec![set("fee_bps", 1_900)], T0).unwrap();
    vote(&mut l, 0, &id, Choice::For, T0 + 1).unwrap();
    assert!(
        vote(&mut l, 1, &id, Choice::For, T0 + 10).is_err(),
        "a refused event is not logged"
    );
    tick(&mut l, T0 + 10);
    tick(&mut l, T0 + 30);
    // The ledger is a function of its batches: rebuilt from them, it holds the same parameters.
    let again = replayed();
    assert_eq!(again.state_digest(), l.state_digest());
    assert_eq!(again.governance().latest(), l.governance().latest());
    assert_eq!(
        again.governance().proposal(&id),
        l.governance().proposal(&id)
    );
}
