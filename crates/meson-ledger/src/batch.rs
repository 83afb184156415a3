//! Batches as they are logged: one record per call into the ledger, enough to replay it exactly, and the
//! council's events, which the log carries so they are public and chained with the money they move.

use serde::{Deserialize, Serialize};

use crate::account::{AccountError, NewAccount};
use crate::claim_life::Phase;
use crate::governance::{GovError, GovEvent};
use crate::state::{Ledger, Outcome};
use crate::transfer::{Transfer, TransferError};
use crate::u128_string;

/// One call into the ledger, with the time it was made at. Replaying the same batches in the same order
/// on a fresh [`Ledger`] reaches the same state, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Batch {
    CreateAccounts {
        now: u64,
        accounts: Vec<NewAccount>,
    },
    CreateTransfers {
        now: u64,
        transfers: Vec<Transfer>,
    },
    ExpirePending {
        now: u64,
    },
    /// A council event: moves no token, but is logged (and advances the ledger clock) like any batch.
    Record {
        now: u64,
        record: LogRecord,
    },
}

/// A council event in the audit log. Keys, claims and digests are hex; a signed text is kept verbatim,
/// so anyone can check its signature from the log alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogRecord {
    /// A claim was filed; `evidence` is the BLAKE3 of the evidence as stored.
    ClaimFiled {
        claim: String,
        accused: String,
        hunter: String,
        evidence: String,
    },
    /// A member's signed vote on a claim's review round.
    Vote {
        claim: String,
        round: u8,
        signed: String,
    },
    /// A claim entered `phase`.
    ClaimPhase { claim: String, phase: Phase },
    /// A voter's signed ballot in the election for `term`.
    Ballot { term: u64, signed: String },
    /// The election for `term` opened on the snapshot whose digest is `snapshot`, of `voters` keys.
    ElectionOpened {
        term: u64,
        snapshot: String,
        voters: u64,
    },
    /// The members seated for `term`.
    Seated { term: u64, members: Vec<String> },
    /// A governance event, which the ledger's [`crate::governance::Governance`] applies or refuses.
    Gov(GovEvent),
}

/// What a [`Batch`] returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchResults {
    Accounts(Vec<Result<Outcome, AccountError>>),
    Transfers(Vec<Result<Outcome, TransferError>>),
    /// Ids of the pending transfers released.
    Expired(#[serde(with = "u128_string::seq")] Vec<u128>),
    /// A [`Batch::Record`] was taken.
    Recorded,
    /// A governance event the rules refuse: nothing changed, nothing is logged.
    #[serde(skip)]
    Refused(GovError),
}

impl BatchResults {
    /// Whether the batch changed the ledger: created something, released a reservation or recorded an
    /// event. Only such batches need to be logged.
    pub fn changed(&self) -> bool {
        match self {
            BatchResults::Accounts(r) => r.iter().any(|r| matches!(r, Ok(Outcome::Created))),
            BatchResults::Transfers(r) => r.iter().any(|r| matches!(r, Ok(Outcome::Created))),
            BatchResults::Expired(ids) => !ids.is_empty(),
            BatchResults::Recorded => true,
            BatchResults::Refused(_) => false,
        }
    }
}

impl Ledger {
    /// Runs one logged batch. A batch that changes nothing leaves the ledger exactly as it was, its
    /// clock included, so a server need not log it and a replay of the log still ends in the same state.
    pub fn apply(&mut self, batch: &Batch) -> BatchResults {
        let clock = self.clock;
        let results = self.apply_unlogged(batch);
        if !results.changed() {
            self.clock = clock;
        }
        results
    }

    fn apply_unlogged(&mut self, batch: &Batch) -> BatchResults {
        match batch {
            Batch::CreateAccounts { now, accounts } => {
                BatchResults::Accounts(self.create_accounts(accounts, *now))
            }
            Batch::CreateTransfers { now, transfers } => {
                BatchResults::Transfers(self.create_transfers(transfers, *now))
            }
            Batch::ExpirePending { now } => BatchResults::Expired(self.expire_pending(*now)),
            Batch::Record { now, record } => {
                let now = self.tick(*now);
                match record {
                    LogRecord::Gov(event) => {
                        let mut gov = std::mem::take(&mut self.gov);
                        let applied = gov.apply(self, event, now);
                        self.gov = gov;
                        if let Err(e) = applied {
                            return BatchResults::Refused(e);
                        }
                    }
                    LogRecord::Seated { term, members } => self.gov.seat(*term, members),
                    _ => {}
                }
                BatchResults::Recorded
            }
        }
    }

    /// A fresh ledger after `batches`, in order.
    pub fn replay<'a>(batches: impl IntoIterator<Item = &'a Batch>) -> Ledger {
        let mut ledger = Ledger::new();
        for batch in batches {
            ledger.apply(batch);
        }
        ledger
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{self, wallet_account};
    use crate::audit::{encode_entry, Head, Replay, GENESIS};
    use crate::claim_life::Outcome as Verdict;
    use crate::transactions::mint;

    fn record(now: u64, record: LogRecord) -> Batch {
        Batch::Record { now, record }
    }

    fn council_log() -> Vec<Batch> {
        let (claim, member) = (hex::encode([7u8; 32]), hex::encode([4u8; 32]));
        vec![
            Batch::CreateAccounts {
                now: 10,
                accounts: accounts::system()
                    .into_iter()
                    .chain([accounts::wallet(&[4; 32])])
                    .collect(),
            },
            Batch::CreateTransfers {
                now: 11,
                transfers: vec![mint(1, wallet_account(&[4; 32]), 500)],
            },
            record(
                20,
                LogRecord::ElectionOpened {
                    term: 2,
                    snapshot: hex::encode([9u8; 32]),
                    voters: 1,
                },
            ),
            record(
                21,
                LogRecord::Ballot {
                    term: 2,
                    signed: "ballot text, signed".into(),
                },
            ),
            record(
                30,
                LogRecord::Seated {
                    term: 2,
                    members: vec![member.clone()],
                },
            ),
            record(
                31,
                LogRecord::ClaimFiled {
                    claim: claim.clone(),
                    accused: hex::encode([1u8; 32]),
                    hunter: hex::encode([2u8; 32]),
                    evidence: claim.clone(),
                },
            ),
            record(
                32,
                LogRecord::Vote {
                    claim: claim.clone(),
                    round: 1,
                    signed: "vote text, signed".into(),
                },
            ),
            record(
                33,
                LogRecord::ClaimPhase {
                    claim,
                    phase: Phase::Decided {
                        outcome: Verdict::Upheld,
                        round: 1,
                        at: 33,
                        appeal_until: 90,
                    },
                },
            ),
        ]
    }

    #[test]
    fn a_record_moves_nothing_but_is_logged_and_advances_the_clock() {
        let log = council_log();
        let mut l = Ledger::replay(&log[..2]);
        let (digest, supply) = (l.state_digest(), l.supply());
        for batch in &log[2..] {
            let results = l.apply(batch);
            assert_eq!(results, BatchResults::Recorded);
            assert!(results.changed(), "logged");
        }
        assert_eq!((l.state_digest(), l.supply()), (digest, supply));
        assert_eq!(l.now(), 33);
        assert_eq!(
            l.apply(&record(
                5,
                LogRecord::Ballot {
                    term: 2,
                    signed: String::new()
                }
            )),
            BatchResults::Recorded
        );
        assert_eq!(l.now(), 33, "time never runs backwards");
    }

    #[test]
    fn a_log_with_records_replays_to_the_same_head() {
        let mut live = Ledger::new();
        let mut prev = GENESIS;
        let mut entries = Vec::new();
        for (i, batch) in council_log().iter().enumerate() {
            assert!(live.apply(batch).changed());
            let seq = i as u64 + 1;
            let (body, hash) = encode_entry(seq, &prev, batch);
            entries.push((seq, prev, hash, body));
            prev = hash;
        }
        let head = Head::of("test", entries.len() as u64, &prev, &live);
        assert_eq!(head.ledger_time, 33);
        let mut replay = Replay::new();
        for (seq, prev, hash, body) in &entries {
            replay.push(*seq, prev, hash, body).unwrap();
        }
        replay.matches(&head).unwrap();
        // Without its last record the log is another log, and its head says so.
        let mut short = Replay::new();
        for (seq, prev, hash, body) in &entries[..entries.len() - 1] {
            short.push(*seq, prev, hash, body).unwrap();
        }
        assert!(short.matches(&head).is_err());
    }

    #[test]
    fn records_serialise_tagged_by_kind() {
        let batch = record(
            5,
            LogRecord::ClaimPhase {
                claim: "ab".into(),
                phase: Phase::Filed { at: 4 },
            },
        );
        let json = serde_json::to_value(&batch).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"op": "record", "now": 5, "record":
                {"kind": "claim_phase", "claim": "ab", "phase": {"phase": "filed", "at": 4}}})
        );
        assert_eq!(serde_json::from_value::<Batch>(json).unwrap(), batch);
        assert_eq!(
            serde_json::to_value(BatchResults::Recorded).unwrap(),
            "recorded"
        );
    }
}
