//! Spot-check audits: the router's signed challenge, the terminal's signed answer, and the one check of an
//! answer that router, hunters and council all run.
//!
//! The router's auditor `POST`s a [`SignedMessage<Challenge>`] (purpose [`CHALLENGE`], signed by the
//! router's node key) to a terminal's public [`AUDIT_PATH`]. The challenge names the terminal, a piece of
//! content by its root and size (a whole object or one of its slices, see [`crate::content::ObjectRoots`])
//! and a chunk group, and expires within [`MAX_CHALLENGE_SECS`]. The terminal checks it is the router's, is
//! for itself, is fresh and not replayed, and answers with a [`SignedMessage<Answer>`] (purpose [`ANSWER`],
//! signed by its own node key) that embeds the challenge whole, so the answer alone proves what was asked
//! and what was said: the chunk group and its Bao proof read from its disk as they are, or that it does
//! not hold the content.
//!
//! [`judge`] decides an answer against the root the checker knows from elsewhere (never from the
//! terminal): a proof that does not verify is a [`Verdict::Fail`], and since the terminal signed it, the
//! signed answer is objective evidence anyone can re-check with [`judge`].
//!
//! The auditor's other decisions, shared by the router and the simulator, are in [`plan`] (when, what,
//! which group, which outcome) and [`holdings`] (the bounded samples of what each terminal should hold).

pub mod holdings;
pub mod plan;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::content::{self, Root};
use crate::identity::NodeId;
use crate::signed::{SignedError, SignedMessage};

pub const CHALLENGE: &str = "meson/v1/audit-challenge";
pub const ANSWER: &str = "meson/v1/audit-answer";

/// Where a terminal answers challenges, on its public address: answered by the terminal itself, never
/// forwarded to an origin.
pub const AUDIT_PATH: &str = "/.well-known/meson/audit";

/// How the router's auditor names itself to origins when it fetches an object to learn its roots.
pub const AUDITOR_USER_AGENT: &str = "meson-router-auditor";

/// The longest a challenge may be valid: a terminal refuses one that expires later than this from now.
pub const MAX_CHALLENGE_SECS: u64 = 60;

/// What the router asks a terminal to prove it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The terminal challenged: an answer is the evidence of that terminal only.
    pub terminal: NodeId,
    /// The piece of content (whole object or slice) and its length.
    pub root: Root,
    pub size: u64,
    /// The chunk group (16 KiB) to prove.
    pub group: u64,
    /// Unix seconds; refused from then on.
    pub expires: u64,
}

/// What a terminal says to a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The chunk group and its Bao proof (as [`content::encode_chunk_group`] lays them out), base64.
    Proof(String),
    /// It does not hold content with that root.
    NotHeld,
}

/// The terminal's answer: the challenge, whole, and its reply, signed together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    pub challenge: SignedMessage<Challenge>,
    pub reply: Reply,
}

impl Reply {
    pub fn proof(proof: &[u8]) -> Self {
        Reply::Proof(STANDARD.encode(proof))
    }
}

/// Why a challenge or an answer is not what it must be. None of these is evidence against anyone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Signed(#[from] SignedError),
    #[error("the challenge was signed by {signer}, not by the router {router}")]
    NotTheRouter { signer: String, router: String },
    #[error("the challenge is for terminal {challenged}, this is {this}")]
    OtherTerminal { challenged: String, this: String },
    #[error("the challenge expired at {expires} (now {now})")]
    Expired { expires: u64, now: u64 },
    #[error(
        "the challenge expires at {expires}, more than {MAX_CHALLENGE_SECS} s after now ({now})"
    )]
    TooLong { expires: u64, now: u64 },
    #[error("the answer is signed by {signer}, not by the challenged terminal {terminal}")]
    NotTheTerminal { signer: String, terminal: String },
    #[error("the answer is to another challenge")]
    OtherChallenge,
}

/// The outcome of an answer that is well signed and answers the challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The proof verifies against the known root.
    Pass,
    /// The terminal says it does not hold the content.
    NotHeld,
    /// The proof does not verify against the known root: the signed answer is evidence.
    Fail(String),
}

/// The terminal's check of a challenge it received, at its clock `now`: signed by `router` (the router
/// it follows), for `me`, not expired and not valid for too long. Freshness and replay of the message
/// itself are checked by [`SignedMessage::verify`] before.
pub fn check_challenge(
    signer: &NodeId,
    challenge: &Challenge,
    router: &NodeId,
    me: &NodeId,
    now: u64,
) -> Result<(), AuditError> {
    if signer != router {
        return Err(AuditError::NotTheRouter {
            signer: signer.to_string(),
            router: router.to_string(),
        });
    }
    if challenge.terminal != *me {
        return Err(AuditError::OtherTerminal {
            challenged: challenge.terminal.to_string(),
            this: me.to_string(),
        });
    }
    if challenge.expires <= now {
        return Err(AuditError::Expired {
            expires: challenge.expires,
            now,
        });
    }
    if challenge.expires - now > MAX_CHALLENGE_SECS {
        return Err(AuditError::TooLong {
            expires: challenge.expires,
            now,
        });
    }
    Ok(())
}

/// Judges a signed answer against the root and size the checker knows for the challenged content: the
/// challenge inside must carry `router`'s signature, the answer the challenged terminal's. Needs no
/// clock and no state, so anyone holding the signed answer can run it again, at any time.
pub fn judge(
    answer: &SignedMessage<Answer>,
    router: &NodeId,
    known_root: &Root,
    known_size: u64,
) -> Result<(Challenge, Verdict), AuditError> {
    let a = answer.verify_signature(ANSWER)?;
    let c = a.body.challenge.verify_signature(CHALLENGE)?;
    if c.signer != *router {
        return Err(AuditError::NotTheRouter {
            signer: c.signer.to_string(),
            router: router.to_string(),
        });
    }
    if a.signer != c.body.terminal {
        return Err(AuditError::NotTheTerminal {
            signer: a.signer.to_string(),
            terminal: c.body.terminal.to_string(),
        });
    }
    let challenge = c.body;
    let verdict = match &a.body.reply {
        Reply::NotHeld => Verdict::NotHeld,
        Reply::Proof(text) => match STANDARD.decode(text) {
            Err(_) => Verdict::Fail("the proof is not base64".into()),
            Ok(proof) => check_proof(known_root, known_size, challenge.group, &proof),
        },
    };
    Ok((challenge, verdict))
}

/// The verdict on a proof of chunk group `group` against the known root and size: the part of
/// [`judge`] that is not about signatures.
pub fn check_proof(known_root: &Root, known_size: u64, group: u64, proof: &[u8]) -> Verdict {
    match content::verify_chunk_group(known_root, known_size, group, proof) {
        Ok(_) => Verdict::Pass,
        Err(e) => Verdict::Fail(e.to_string()),
    }
}

/// How one spot check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The proof verified against the known root.
    Pass,
    /// The signed proof did not verify: evidence.
    Fail,
    /// The terminal said it does not hold content it reported holding.
    Missing,
    /// The terminal does not hold an object it was sent clients for but never reported holding.
    NotHeld,
    /// No valid signed answer in time.
    Timeout,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Missing,
        Outcome::NotHeld,
        Outcome::Timeout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Missing => "missing",
            Outcome::NotHeld => "not_held",
            Outcome::Timeout => "timeout",
        }
    }
}

/// Audits that count towards a terminal's pass rate (`not_held`, for an object it was only sent clients
/// for, does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub pass: u64,
    pub fail: u64,
    pub missing: u64,
    pub timeout: u64,
}

impl Tally {
    pub fn counted(&self) -> u64 {
        self.pass + self.fail + self.missing + self.timeout
    }

    /// Passes among counted audits; None without any.
    pub fn pass_rate(&self) -> Option<f64> {
        let n = self.counted();
        (n > 0).then(|| self.pass as f64 / n as f64)
    }

    /// Passes among counted audits in basis points (rounded down, so a terminal that failed one audit in
    /// a million is not paid as perfect); 10 000 without any: nobody audited is not presumed to cheat.
    pub fn pass_bps(&self) -> u32 {
        match self.counted() {
            0 => 10_000,
            n => (u128::from(self.pass) * 10_000 / u128::from(n)) as u32,
        }
    }

    /// Counts one audit (`not_held` is not counted).
    pub fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Missing => self.missing += 1,
            Outcome::Timeout => self.timeout += 1,
            Outcome::NotHeld => {}
        }
    }
}

impl std::ops::Add for Tally {
    type Output = Tally;

    fn add(self, other: Tally) -> Tally {
        Tally {
            pass: self.pass + other.pass,
            fail: self.fail + other.fail,
            missing: self.missing + other.missing,
            timeout: self.timeout + other.timeout,
        }
    }
}

/// Epochs back a terminal's standing looks at most.
pub const WINDOW_EPOCHS: u64 = 24;

/// The window a terminal's standing is judged on, from per-epoch tallies `(epoch, tally)`: the counted
/// audits of epoch `epoch` and those before it, newest epoch first, until at least `min_audits` are in
/// (whole epochs), at most [`WINDOW_EPOCHS`] back. A window of a fixed number of epochs would hold too
/// few audits at realistic rates (4 an hour never reach 10 in two 1-hour epochs, so nobody would ever
/// be suspended); a window of a number of audits judges a terminal on as much evidence whatever the rate,
/// and forgets old failures once enough new audits pass.
pub fn recent(
    tallies: impl IntoIterator<Item = (u64, Tally)>,
    epoch: u64,
    min_audits: u64,
) -> Tally {
    let mut by_epoch: Vec<(u64, Tally)> = tallies
        .into_iter()
        .filter(|(e, _)| *e <= epoch && e + WINDOW_EPOCHS > epoch)
        .collect();
    by_epoch.sort_by_key(|(e, _)| std::cmp::Reverse(*e));
    let mut sum = Tally::default();
    for (_, t) in by_epoch {
        if sum.counted() >= min_audits.max(1) {
            break;
        }
        sum = sum + t;
    }
    sum
}

/// How audits decide a terminal's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QualityRules {
    /// Audits a new terminal must pass before it gets full traffic.
    pub vetting_audits: u64,
    /// A pass rate below this, over at least `min_audits` recent audits, suspends the terminal.
    pub suspend_below: f64,
    pub min_audits: u64,
}

/// Where audits put a terminal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Standing {
    /// New: limited traffic until it has passed `needed` audits.
    Vetting {
        passed: u64,
        needed: u64,
    },
    Vetted,
    /// Out of rotation: its recent pass rate is below the threshold.
    Suspended {
        pass_rate: f64,
        audits: u64,
    },
}

impl Standing {
    pub fn as_str(&self) -> &'static str {
        match self {
            Standing::Vetting { .. } => "vetting",
            Standing::Vetted => "vetted",
            Standing::Suspended { .. } => "suspended",
        }
    }

    /// Why the terminal is out of rotation, for its heartbeat reply and logs.
    pub fn suspension(&self, rules: &QualityRules) -> Option<String> {
        match self {
            Standing::Suspended { pass_rate, audits } => Some(format!(
                "suspended from rotation: passed {:.0} % of its last {audits} spot-check audits, below {:.0} %",
                pass_rate * 100.0,
                rules.suspend_below * 100.0
            )),
            _ => None,
        }
    }
}

/// A terminal's standing from the audits it passed since it joined and its recent tally.
pub fn standing(passed_ever: u64, recent: &Tally, rules: &QualityRules) -> Standing {
    if let Some(rate) = recent.pass_rate() {
        if recent.counted() >= rules.min_audits.max(1) && rate < rules.suspend_below {
            return Standing::Suspended {
                pass_rate: rate,
                audits: recent.counted(),
            };
        }
    }
    if passed_ever < rules.vetting_audits {
        return Standing::Vetting {
            passed: passed_ever,
            needed: rules.vetting_audits,
        };
    }
    Standing::Vetted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{chunk_group_range, ContentHasher};
    use crate::identity::NodeKey;
    use crate::signed::ReplayGuard;

    #[test]
    fn the_pass_rate_in_basis_points_rounds_down_and_is_full_without_audits() {
        assert_eq!(Tally::default().pass_bps(), 10_000);
        let t = |pass, fail, missing, timeout| Tally {
            pass,
            fail,
            missing,
            timeout,
        };
        assert_eq!(t(1, 1, 0, 0).pass_bps(), 5_000);
        assert_eq!(t(2, 0, 1, 0).pass_bps(), 6_666);
        assert_eq!(t(0, 0, 0, 3).pass_bps(), 0, "timeouts count as not passed");
        assert_eq!(
            t(999_999, 1, 0, 0).pass_bps(),
            9_999,
            "one failure is never perfect"
        );
        assert_eq!((t(1, 0, 0, 0) + t(0, 1, 2, 3)), t(1, 1, 2, 3));
    }

    fn keys() -> (NodeKey, NodeKey) {
        (
            NodeKey::from_secret_bytes([1; 32]),
            NodeKey::from_secret_bytes([2; 32]),
        )
    }

    fn challenge(
        router: &NodeKey,
        terminal: &NodeKey,
        root: Root,
        size: u64,
    ) -> SignedMessage<Challenge> {
        let c = Challenge {
            terminal: terminal.id(),
            root,
            size,
            group: 1,
            expires: 1_030,
        };
        SignedMessage::sign(router, CHALLENGE, 1_000, rand::random(), &c).unwrap()
    }

    /// The terminal's side: check the challenge, read the group, sign the answer.
    fn answer(
        terminal: &NodeKey,
        router: &NodeKey,
        msg: SignedMessage<Challenge>,
        body: &[u8],
    ) -> SignedMessage<Answer> {
        let mut guard = ReplayGuard::new(60, 10);
        let v = msg.verify(CHALLENGE, 1_000, &mut guard).unwrap();
        check_challenge(&v.signer, &v.body, &router.id(), &terminal.id(), 1_000).unwrap();
        let mut h = ContentHasher::new();
        h.update(body);
        let (_, outboard) = h.finalize();
        let r = chunk_group_range(body.len() as u64, v.body.group).unwrap();
        let data = &body[r.start as usize..r.end as usize];
        let proof =
            content::encode_chunk_group_as_stored(body.len() as u64, &outboard, v.body.group, data)
                .unwrap();
        SignedMessage::sign(
            terminal,
            ANSWER,
            1_001,
            [6; 16],
            &Answer {
                challenge: msg,
                reply: Reply::proof(&proof),
            },
        )
        .unwrap()
    }

    #[test]
    fn an_honest_answer_passes_and_a_damaged_copy_fails_with_evidence() {
        let (router, terminal) = keys();
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let root = Root::from(blake3::hash(&body));
        let size = body.len() as u64;
        let good = answer(
            &terminal,
            &router,
            challenge(&router, &terminal, root, size),
            &body,
        );
        assert_eq!(
            judge(&good, &router.id(), &root, size).unwrap().1,
            Verdict::Pass
        );

        let mut damaged = body.clone();
        damaged[20_000] ^= 1; // in group 1
        let bad = answer(
            &terminal,
            &router,
            challenge(&router, &terminal, root, size),
            &damaged,
        );
        assert!(matches!(
            judge(&bad, &router.id(), &root, size).unwrap().1,
            Verdict::Fail(_)
        ));
        // The evidence survives a round trip through JSON, as it is stored and served.
        let text = serde_json::to_string(&bad).unwrap();
        let back: SignedMessage<Answer> = serde_json::from_str(&text).unwrap();
        assert!(matches!(
            judge(&back, &router.id(), &root, size).unwrap().1,
            Verdict::Fail(_)
        ));
    }

    #[test]
    fn forged_misdirected_and_expired_challenges_are_refused() {
        let (router, terminal) = keys();
        let root = Root([3; 32]);
        let forger = NodeKey::from_secret_bytes([9; 32]);
        let forged = challenge(&forger, &terminal, root, 10);
        let mut guard = ReplayGuard::new(60, 10);
        let v = forged.verify(CHALLENGE, 1_000, &mut guard).unwrap();
        assert!(matches!(
            check_challenge(&v.signer, &v.body, &router.id(), &terminal.id(), 1_000),
            Err(AuditError::NotTheRouter { .. })
        ));
        let other = challenge(&router, &forger, root, 10);
        let v = other.verify(CHALLENGE, 1_000, &mut guard).unwrap();
        assert!(matches!(
            check_challenge(&v.signer, &v.body, &router.id(), &terminal.id(), 1_000),
            Err(AuditError::OtherTerminal { .. })
        ));
        let ok = challenge(&router, &terminal, root, 10);
        let v = ok.verify(CHALLENGE, 1_000, &mut guard).unwrap();
        assert!(matches!(
            check_challenge(&v.signer, &v.body, &router.id(), &terminal.id(), 1_030),
            Err(AuditError::Expired { .. })
        ));
        assert!(matches!(
            check_challenge(&v.signer, &v.body, &router.id(), &terminal.id(), 900),
            Err(AuditError::TooLong { .. })
        ));
        // The same challenge a second time is a replay.
        assert_eq!(
            ok.verify(CHALLENGE, 1_000, &mut guard).unwrap_err(),
            SignedError::Replayed
        );
    }

    #[test]
    fn vetting_then_suspension_below_the_threshold() {
        let rules = QualityRules {
            vetting_audits: 3,
            suspend_below: 0.9,
            min_audits: 5,
        };
        let tally = |pass, fail| Tally {
            pass,
            fail,
            ..Tally::default()
        };
        assert_eq!(
            standing(2, &tally(2, 0), &rules),
            Standing::Vetting {
                passed: 2,
                needed: 3
            }
        );
        assert_eq!(standing(3, &tally(3, 0), &rules), Standing::Vetted);
        // Too few recent audits to judge: one failure of two does not suspend.
        assert_eq!(standing(30, &tally(1, 1), &rules), Standing::Vetted);
        let s = standing(30, &tally(4, 2), &rules);
        assert!(matches!(s, Standing::Suspended { audits: 6, .. }), "{s:?}");
        assert!(s.suspension(&rules).unwrap().contains("67 %"));
        assert_eq!(standing(30, &tally(9, 1), &rules), Standing::Vetted);
    }

    #[test]
    fn an_answer_signed_by_another_key_is_not_the_terminals() {
        let (router, terminal) = keys();
        let body = vec![7u8; 40_000];
        let root = Root::from(blake3::hash(&body));
        let impostor = NodeKey::from_secret_bytes([4; 32]);
        let a = answer(
            &impostor,
            &router,
            challenge(&router, &impostor, root, 40_000),
            &body,
        );
        // An answer to a challenge for another terminal, re-signed: the challenge names the impostor.
        assert_eq!(
            judge(&a, &router.id(), &root, 40_000).unwrap().1,
            Verdict::Pass
        );
        let relabelled = SignedMessage::sign(
            &terminal,
            ANSWER,
            1_001,
            [8; 16],
            &a.verify_signature(ANSWER).unwrap().body,
        )
        .unwrap();
        assert!(matches!(
            judge(&relabelled, &router.id(), &root, 40_000),
            Err(AuditError::NotTheTerminal { .. })
        ));
    }
}
