//! Random sequences of proposals, votes, transfers, vetoes, shutdown locks and council signals, driven
//! as the router drives them: whatever the sequence, no parameter leaves its bounds, nothing executes
//! before its timelock, during a shutdown or after a veto, each vote weighs what the snapshot gave its
//! voter, each proposal executes at most once, the ledger's invariants hold and a replay agrees.

use proptest::prelude::*;

use super::*;
use crate::params::Param;

const HOLDERS: u8 = 5;

#[derive(Debug, Clone)]
enum Op {
    /// Holder files changing the `param`-th parameter to a value `frac` of the way through its bounds,
    /// or a spend.
    File {
        by: u8,
        param: usize,
        frac: u16,
        spend: bool,
    },
    Vote {
        by: u8,
        which: usize,
        choice: u8,
    },
    Move {
        from: u8,
        to: u8,
        pct: u8,
    },
    Veto {
        by: u8,
        which: usize,
        pct: u8,
    },
    ShutdownLock {
        by: u8,
        pct: u8,
    },
    Signal {
        member: u8,
    },
    Wait {
        secs: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..HOLDERS, 0..Param::ALL.len(), any::<u16>(), any::<bool>()).prop_map(
            |(by, param, frac, spend)| Op::File {
                by,
                param,
                frac,
                spend
            }
        ),
        (0..HOLDERS, 0..8usize, 0..3u8).prop_map(|(by, which, choice)| Op::Vote {
            by,
            which,
            choice
        }),
        (0..HOLDERS, 0..HOLDERS, 1..=100u8).prop_map(|(from, to, pct)| Op::Move { from, to, pct }),
        (0..HOLDERS, 0..8usize, 1..=100u8).prop_map(|(by, which, pct)| Op::Veto { by, which, pct }),
        (0..HOLDERS, 1..=100u8).prop_map(|(by, pct)| Op::ShutdownLock { by, pct }),
        (0..3u8).prop_map(|member| Op::Signal { member }),
        prop_oneof![1..5u64, 5..40u64, 86_000..87_000u64].prop_map(|secs| Op::Wait { secs }),
    ]
}

/// What a holder may spend now.
fn available(l: &Ledger, i: u8) -> u128 {
    l.account(wallet_account(&owner(i)))
        .and_then(|a| a.available())
        .unwrap_or(0)
}

fn check(l: &Ledger, now: u64, executed: &[([u8; 32], u64)]) {
    l.check_invariants().unwrap();
    let gov = l.governance();
    for epoch in [0, gov.epoch(now), gov.epoch(now) + 1] {
        let p = gov.params_at(epoch);
        for (key, v) in p.iter() {
            let s = key.spec();
            assert!(s.min <= v && v <= s.max, "{} = {v}", key.name());
        }
        p.consistent().unwrap();
    }
    for p in gov.proposals() {
        let weighed: u128 = p.votes.keys().map(|v| p.snapshot[v]).sum();
        assert_eq!(p.tally.cast(), weighed, "votes weigh their snapshot");
        assert!(p.votes.keys().all(|v| p.snapshot[v] > 0));
        let times = executed.iter().filter(|(id, _)| *id == p.id).count();
        assert!(times <= 1, "executed {times} times");
        if let Phase::Executed { at, .. } = p.phase {
            assert_eq!(times, 1);
            // A shutdown started in the second of an execution may have come after it in the log; the
            // probe before each tick checks the order exactly.
            assert!(
                gov.shutdowns()
                    .iter()
                    .all(|s| at <= s.since || at >= s.until),
                "executed during a shutdown"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn governance_holds_its_rules_under_any_sequence(ops in prop::collection::vec(op(), 1..60)) {
        let mut l = world(&[tokens(500), tokens(300), tokens(150), tokens(40), tokens(10)]);
        transfers(&mut l, T0, vec![crate::transactions::mint(77, crate::accounts::TREASURY, tokens(20))]);
        let members: Vec<String> = (0..3).map(|i| hex::encode(owner(i))).collect();
        run(&mut l, Batch::Record { now: T0, record: LogRecord::Seated { term: 0, members } });
        let mut now = T0;
        let mut ids: Vec<[u8; 32]> = Vec::new();
        let mut executed: Vec<([u8; 32], u64)> = Vec::new();
        let mut nonce = 0;
        for op in ops {
            nonce += 1;
            match op {
                Op::File { by, param, frac, spend } => {
                    let action = if spend {
                        Action::Spend { to: key(by).id(), amount: tokens(u128::from(frac % 30) + 1) }
                    } else {
                        let s = Param::ALL[param].spec();
                        let v = s.min + (s.max - s.min) / u128::from(u16::MAX) * u128::from(frac);
                        Action::Set { param: s.name.into(), value: v }
                    };
                    let body = ProposalBody { network: NET.into(), title: format!("p{nonce}"), actions: vec![action] };
                    let text = signed(by, PROPOSAL, &body, now);
                    if let Ok((id, proposer, need, _)) = l.governance().check_proposal(&text) {
                        if available(&l, by) >= need {
                            transfers(&mut l, now, vec![deposit(&proposer, &id, need)]);
                            event(&mut l, now, GovEvent::Filed { signed: text }).unwrap();
                            ids.push(id);
                        }
                    }
                }
                Op::Vote { by, which, choice } => {
                    if let Some(id) = ids.get(which) {
                        let choice = [Choice::For, Choice::Against, Choice::Abstain][choice as usize];
                        let before = l.governance().proposal(id).unwrap().tally.cast();
                        if vote(&mut l, by, id, choice, now).is_ok() {
                            let p = l.governance().proposal(id).unwrap();
                            prop_assert_eq!(p.tally.cast() - before, p.snapshot[&owner(by)]);
                        }
                    }
                }
                Op::Move { from, to, pct } => {
                    let amount = available(&l, from) * u128::from(pct) / 100;
                    if amount > 0 && from != to {
                        let _ = tx(&mut l, from, nonce, TxAction::Transfer { to: wallet_account(&owner(to)), amount }, now);
                    }
                }
                Op::Veto { by, which, pct } => {
                    let amount = available(&l, by) * u128::from(pct) / 100;
                    if let (Some(id), true) = (ids.get(which), amount > 0) {
                        let _ = tx(&mut l, by, nonce, TxAction::Veto { proposal: *id, amount }, now);
                    }
                }
                Op::ShutdownLock { by, pct } => {
                    let amount = available(&l, by) * u128::from(pct) / 100;
                    let round = l.governance().open_round();
                    if amount > 0 {
                        let _ = tx(&mut l, by, nonce, TxAction::Shutdown { round, amount }, now);
                    }
                }
                Op::Signal { member } => {
                    let round = l.governance().open_round();
                    let body = ShutdownBody { network: NET.into(), round };
                    let _ = event(&mut l, now, GovEvent::CouncilShutdown { signed: signed(member, COUNCIL_SHUTDOWN, &body, now) });
                }
                Op::Wait { secs } => now += secs,
            }
            // Before the router's tick: nothing that is not due may execute.
            for id in &ids {
                let p = l.governance().proposal(id).unwrap().clone();
                let veto = l.governance().veto(&l, id);
                let paused = l.governance().shutdown_at(now).is_some();
                let eta = p.eta(veto);
                let mut probe = l.clone();
                let r = probe.apply(&Batch::Record { now, record: LogRecord::Gov(GovEvent::Executed { proposal: hex::encode(id) }) });
                if r.changed() {
                    prop_assert!(!paused && !p.vetoed_to_cancel(veto) && eta.is_some_and(|eta| now >= eta));
                }
            }
            for e in tick(&mut l, now) {
                if let GovEvent::Executed { proposal } = e {
                    let mut id = [0u8; 32];
                    hex::decode_to_slice(&proposal, &mut id).unwrap();
                    executed.push((id, now));
                }
            }
            check(&l, now, &executed);
        }
        let again = replayed();
        prop_assert_eq!(again.state_digest(), l.state_digest());
        prop_assert_eq!(again.governance().latest(), l.governance().latest());
        for id in &ids {
            prop_assert_eq!(again.governance().proposal(id), l.governance().proposal(id));
        }
    }
}
