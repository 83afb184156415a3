//! The audit log: every committed [`Batch`], in order, each entry chained to the one before by its hash,
//! and a [`Head`] (sequence number, last hash, state digest, supply) that the router signs and publishes.
//! Anyone with a copy of the log and the signed head replays it with [`Replay`] and learns whether the
//! log is whole, every invariant held after every batch, and the router vouches for exactly this state.
//!
//! An entry's body is the JSON of [`EntryBody`] (its sequence number, the previous hash and the batch), and
//! its hash is `BLAKE3("meson/v1/ledger-entry\0" ‖ body)` over the body exactly as stored, so no
//! canonical re-encoding is needed to check it. The first entry's previous hash is [`GENESIS`] (zeros).

use serde::{Deserialize, Serialize};

use crate::{Batch, InvariantError, Ledger};
use meson_core::identity::{IdentityError, NodeId, NodeKey, Signature};

pub const GENESIS: [u8; 32] = [0; 32];
const ENTRY_DOMAIN: &[u8] = b"meson/v1/ledger-entry\0";
const HEAD_DOMAIN: &str = "meson/v1/ledger-head";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryBody {
    pub seq: u64,
    /// Hex of the previous entry's hash.
    pub prev: String,
    pub batch: Batch,
}

/// The body and hash of entry `seq` after the entry whose hash is `prev`.
pub fn encode_entry(seq: u64, prev: &[u8; 32], batch: &Batch) -> (String, [u8; 32]) {
    let body = serde_json::to_string(&EntryBody {
        seq,
        prev: hex::encode(prev),
        batch: batch.clone(),
    })
    .expect("a batch always serialises");
    let hash = entry_hash(&body);
    (body, hash)
}

pub fn entry_hash(body: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(ENTRY_DOMAIN);
    h.update(body.as_bytes());
    *h.finalize().as_bytes()
}

/// What the router vouches for: the log up to `seq` ends in `hash` and leaves the ledger in
/// `state_digest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Which network's ledger (a router refuses transactions for another network).
    pub network: String,
    pub seq: u64,
    pub hash: String,
    pub state_digest: String,
    #[serde(with = "crate::u128_string")]
    pub issued: u128,
    #[serde(with = "crate::u128_string")]
    pub burned: u128,
    /// Ledger time (the latest batch's `now`).
    pub ledger_time: u64,
}

impl Head {
    pub fn of(network: &str, seq: u64, hash: &[u8; 32], ledger: &Ledger) -> Head {
        Head {
            network: network.to_owned(),
            seq,
            hash: hex::encode(hash),
            state_digest: hex::encode(ledger.state_digest()),
            issued: ledger.issued(),
            burned: ledger.burned(),
            ledger_time: ledger.now(),
        }
    }

    fn signed_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a head always serialises")
    }
}

/// `GET /v1/ledger/head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    pub head: Head,
    pub signer: NodeId,
    pub signature: String,
}

impl SignedHead {
    pub fn sign(head: Head, key: &NodeKey) -> SignedHead {
        let signature = key.sign(HEAD_DOMAIN, &head.signed_bytes()).to_string();
        SignedHead {
            head,
            signer: key.id(),
            signature,
        }
    }

    /// Checks the signature, and that the signer is `router` when the caller knows which router to trust.
    pub fn verify(&self, router: Option<&NodeId>) -> Result<(), AuditError> {
        if router.is_some_and(|r| *r != self.signer) {
            return Err(AuditError::WrongSigner {
                signer: self.signer.to_string(),
            });
        }
        let sig: Signature = self
            .signature
            .parse()
            .map_err(|_| AuditError::Signature(IdentityError::BadSignature))?;
        self.signer
            .verify(HEAD_DOMAIN, &self.head.signed_bytes(), &sig)
            .map_err(AuditError::Signature)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("entry {seq}: expected entry {expected} (the log has a gap or is out of order)")]
    Gap { seq: u64, expected: u64 },
    #[error("entry {seq}: it does not chain to the entry before (previous hash differs)")]
    Chain { seq: u64 },
    #[error("entry {seq}: its hash does not match its body (the entry was altered)")]
    Hash { seq: u64 },
    #[error("entry {seq}: unreadable body: {reason}")]
    Body { seq: u64, reason: String },
    #[error("entry {seq}: invariant broken after replay: {source}")]
    Invariant {
        seq: u64,
        #[source]
        source: InvariantError,
    },
    #[error("the head was signed by {signer}, not by the expected router")]
    WrongSigner { signer: String },
    #[error("the head's signature is invalid: {0}")]
    Signature(IdentityError),
    #[error("the head says {field} is {head}, the replayed log gives {log}")]
    HeadMismatch {
        field: &'static str,
        head: String,
        log: String,
    },
}

/// Replays a log entry by entry, checking each.
#[derive(Default)]
pub struct Replay {
    ledger: Ledger,
    seq: u64,
    hash: [u8; 32],
}

impl Replay {
    pub fn new() -> Replay {
        Replay::default()
    }

    /// Checks entry `seq` (stored with `prev` and `hash`) and applies its batch. Invariants are checked
    /// after each batch: the check is a full scan, which is the point of an audit.
    pub fn push(
        &mut self,
        seq: u64,
        prev: &[u8; 32],
        hash: &[u8; 32],
        body: &str,
    ) -> Result<(), AuditError> {
        if seq != self.seq + 1 {
            return Err(AuditError::Gap {
                seq,
                expected: self.seq + 1,
            });
        }
        if *prev != self.hash {
            return Err(AuditError::Chain { seq });
        }
        if entry_hash(body) != *hash {
            return Err(AuditError::Hash { seq });
        }
        let parsed: EntryBody = serde_json::from_str(body).map_err(|e| AuditError::Body {
            seq,
            reason: e.to_string(),
        })?;
        if parsed.seq != seq || parsed.prev != hex::encode(prev) {
            return Err(AuditError::Chain { seq });
        }
        self.ledger.apply(&parsed.batch);
        self.ledger
            .check_invariants()
            .map_err(|source| AuditError::Invariant { seq, source })?;
        self.seq = seq;
        self.hash = *hash;
        Ok(())
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn hash(&self) -> &[u8; 32] {
        &self.hash
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn into_parts(self) -> (Ledger, u64, [u8; 32]) {
        (self.ledger, self.seq, self.hash)
    }

    /// Checks that `head` describes exactly the replayed log.
    pub fn matches(&self, head: &Head) -> Result<(), AuditError> {
        let mine = Head::of(&head.network, self.seq, &self.hash, &self.ledger);
        let fields: [(&'static str, String, String); 6] = [
            ("seq", head.seq.to_string(), mine.seq.to_string()),
            ("hash", head.hash.clone(), mine.hash),
            ("state_digest", head.state_digest.clone(), mine.state_digest),
            ("issued", head.issued.to_string(), mine.issued.to_string()),
            ("burned", head.burned.to_string(), mine.burned.to_string()),
            (
                "ledger_time",
                head.ledger_time.to_string(),
                mine.ledger_time.to_string(),
            ),
        ];
        for (field, head, log) in fields {
            if head != log {
                return Err(AuditError::HeadMismatch { field, head, log });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccountKind, NewAccount, Transfer, TransferCode};

    fn batches() -> Vec<Batch> {
        let acct = |id, kind| NewAccount {
            id,
            kind,
            owner: None,
            user_data: 0,
        };
        vec![
            Batch::CreateAccounts {
                now: 10,
                accounts: vec![
                    acct(1, AccountKind::Issuance),
                    acct(2, AccountKind::Burn),
                    acct(3, AccountKind::Customer),
                ],
            },
            Batch::CreateTransfers {
                now: 11,
                transfers: vec![
                    Transfer::new(100, 1, 3, 500, TransferCode::Mint),
                    Transfer::new(101, 3, 2, 20, TransferCode::Burn),
                ],
            },
        ]
    }

    fn log() -> Vec<(u64, [u8; 32], [u8; 32], String)> {
        let mut prev = GENESIS;
        let mut out = Vec::new();
        for (i, b) in batches().iter().enumerate() {
            let seq = i as u64 + 1;
            let (body, hash) = encode_entry(seq, &prev, b);
            out.push((seq, prev, hash, body));
            prev = hash;
        }
        out
    }

    #[test]
    fn a_whole_log_replays_and_matches_its_signed_head() {
        let key = NodeKey::from_secret_bytes([5; 32]);
        let mut r = Replay::new();
        for (seq, prev, hash, body) in log() {
            r.push(seq, &prev, &hash, &body).unwrap();
        }
        assert_eq!((r.ledger().issued(), r.ledger().burned()), (500, 20));
        let signed = SignedHead::sign(Head::of("test", r.seq(), r.hash(), r.ledger()), &key);
        let json = serde_json::to_string(&signed).unwrap();
        let back: SignedHead = serde_json::from_str(&json).unwrap();
        back.verify(Some(&key.id())).unwrap();
        r.matches(&back.head).unwrap();

        let mut forged = back.clone();
        forged.head.burned = 0;
        assert!(matches!(forged.verify(None), Err(AuditError::Signature(_))));
        let other = NodeKey::from_secret_bytes([6; 32]).id();
        assert!(matches!(
            back.verify(Some(&other)),
            Err(AuditError::WrongSigner { .. })
        ));
        let mut short = Replay::new();
        let first = &log()[0];
        short.push(first.0, &first.1, &first.2, &first.3).unwrap();
        assert!(matches!(
            short.matches(&back.head),
            Err(AuditError::HeadMismatch { field: "seq", .. })
        ));
    }

    #[test]
    fn altered_reordered_or_missing_entries_are_caught() {
        let l = log();
        let (seq, prev, hash, body) = &l[1];
        let mut r = Replay::new();
        assert!(matches!(
            r.push(*seq, prev, hash, body),
            Err(AuditError::Gap { .. })
        ));
        let (s1, p1, h1, b1) = &l[0];
        r.push(*s1, p1, h1, b1).unwrap();
        let altered = body.replace("\"500\"", "\"5000\"");
        assert!(matches!(
            r.push(*seq, prev, hash, &altered),
            Err(AuditError::Hash { .. })
        ));
        assert!(matches!(
            r.push(*seq, &[9; 32], hash, body),
            Err(AuditError::Chain { .. })
        ));
        // A rehashed altered body still has to chain and to be what the next entry points to; here
        // it is the last, so the signed head is what catches it: see the test above.
        r.push(*seq, prev, hash, body).unwrap();
    }

    /// A log written before the ledger had its own crate (by the code of that time): its entries' hashes
    /// and the state digest are pinned, so the encoding of batches, memos included, never drifts from
    /// what ledgers already hold.
    #[test]
    fn a_log_written_by_the_first_ledgers_still_hashes_and_digests_the_same() {
        use crate::memo::Memo;
        let acct = |id, kind, owner, user_data| NewAccount {
            id,
            kind,
            owner,
            user_data,
        };
        let fee = Transfer {
            flags: crate::TransferFlags {
                linked: true,
                ..Default::default()
            },
            ..Transfer::new(11, 3, 2, 20, TransferCode::Burn).with_memo(Memo::Epoch(6))
        };
        let mut unstake = Transfer::new(12, 3, 4, 100, TransferCode::Unstake)
            .with_memo(Memo::UnlockAt(1_700_000_000));
        unstake.flags.pending = true;
        let correction =
            Transfer::new(13, 3, 2, 5, TransferCode::Burn).with_memo(Memo::Reverses(10));
        let batches = [
            Batch::CreateAccounts {
                now: 10,
                accounts: vec![
                    acct(1, AccountKind::Issuance, None, 0),
                    acct(2, AccountKind::Burn, None, 0),
                    acct(3, AccountKind::Customer, Some([1; 32]), 0),
                    acct(4, AccountKind::Escrow, None, 5),
                ],
            },
            Batch::CreateTransfers {
                now: 11,
                transfers: vec![
                    Transfer::new(10, 1, 3, 500, TransferCode::Mint),
                    fee,
                    unstake,
                    correction,
                ],
            },
        ];
        let known = [
            "2cb7588e41c36529a134feebb38d0be2360a21878dee3bb6841a1fa6dd94e085",
            "63a8018e86ecd439a5f56ab65709cf40d8ab1cd2c2734756a57eb7c5608af4b5",
        ];
        let mut prev = GENESIS;
        let mut r = Replay::new();
        for ((i, batch), want) in batches.iter().enumerate().zip(known) {
            let seq = i as u64 + 1;
            let (body, hash) = encode_entry(seq, &prev, batch);
            assert_eq!(hex::encode(hash), want, "entry {seq}: {body}");
            r.push(seq, &prev, &hash, &body).unwrap();
            prev = hash;
        }
        assert_eq!(
            hex::encode(r.ledger().state_digest()),
            "b9c7e13f08b5296da1ba9032b301d121749e119ade84a3225740b5e61bd3a2f1"
        );
    }
}
