//! A claim's life, as a state machine of pure functions: the router stores the [`Phase`], feeds it the
//! time and the council's votes, and executes the verdict when the phase turns [`Phase::Final`].
//!
//! ```text
//!  file ──objective──────────────────────────────────────────────────────────▶ Final(upheld)
//!   │
//!   └─council─▶ Filed ──open_review──▶ UnderReview(1) ──decides──▶ Decided(1) ──window over──▶ Final
//!                 │                        │                          │
//!                 │ no council in time     │ no quorum in time        └─appeal by the loser─▶ UnderReview(2)
//!                 ▼                        ▼                                                     │
//!              Expired                  Expired ◀────────── no quorum in time ───────────────────┤
//!                                                                             decides ──▶ Final ◀┘
//! ```
//!
//! Objective evidence (what the router verified itself, and anyone can re-run) is final when filed; a
//! council claim waits for a seated council, is reviewed, may be appealed once by the losing party, and
//! its second decision is final. A review decides as soon as two thirds of the eligible members uphold
//! the claim, or as soon as enough reject it that two thirds can no longer be reached; when the review's
//! time is up, a quorum of votes short of two thirds rejects it, and fewer votes than a quorum leave the
//! claim expired, so the bond returns. Every window is half-open, as the ledger's pending transfers are:
//! a vote or an appeal is taken up to the second before its deadline, and at the deadline the window
//! has closed.

use serde::{Deserialize, Serialize};

/// Who judges a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// Evidence the router verified itself.
    Objective,
    /// Evidence the council re-probes and votes on.
    Council,
}

/// What a review decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Upheld,
    Rejected,
}

/// A side of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Accused,
    Hunter,
}

impl Outcome {
    /// The party this outcome goes against: the only one that may appeal it.
    pub fn loser(self) -> Party {
        match self {
            Outcome::Upheld => Party::Accused,
            Outcome::Rejected => Party::Hunter,
        }
    }
}

/// Where a claim stands. Times are Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// The bond is reserved; no council was seated to review it yet.
    Filed { at: u64 },
    /// Round 1 is the first review, round 2 the appeal; votes are taken in `[since, until)`.
    UnderReview { round: u8, since: u64, until: u64 },
    /// Decided; the losing party may appeal until `appeal_until` (round 1 only).
    Decided {
        outcome: Outcome,
        round: u8,
        at: u64,
        appeal_until: u64,
    },
    /// The verdict executes: a slash when upheld, the bond forfeited when rejected.
    Final { outcome: Outcome, at: u64 },
    /// No quorum of votes in time: the bond returns.
    Expired { at: u64 },
}

impl Phase {
    /// The phase's name, as serialised.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Filed { .. } => "filed",
            Phase::UnderReview { .. } => "under_review",
            Phase::Decided { .. } => "decided",
            Phase::Final { .. } => "final",
            Phase::Expired { .. } => "expired",
        }
    }
}

/// Why a step of a claim's life is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifeError {
    #[error("a review opens only on a filed claim; this one is {phase}")]
    NotFiled { phase: &'static str },
    #[error("no council reviewed the claim in time: it expired at {at}")]
    FilingExpired { at: u64 },
    #[error("not under review: the claim is {phase}")]
    NotUnderReview { phase: &'static str },
    #[error("review closed at {at}")]
    ReviewClosed { at: u64 },
    #[error("only a decided claim can be appealed; this one is {phase}")]
    NotDecided { phase: &'static str },
    #[error("already appealed once")]
    AlreadyAppealed,
    #[error("the appeal window closed at {at}")]
    AppealClosed { at: u64 },
    #[error("only the accused may appeal an upheld claim")]
    AccusedAppeals,
    #[error("only the hunter may appeal a rejected claim")]
    HunterAppeals,
    #[error("member {member} is not seated or recused")]
    NotEligible { member: String },
    #[error("member {member} voted already")]
    VotedAlready { member: String },
}

/// How long each step may take. A claim has exactly two review rounds: the first and one appeal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifeRules {
    /// Seconds a filed claim waits for a council, and seconds a review round lasts.
    pub review_secs: u64,
    /// Seconds the losing party has to appeal a first decision.
    pub appeal_secs: u64,
}

impl LifeRules {
    /// The longest a claim can take from filing to [`Phase::Final`] or [`Phase::Expired`], with a
    /// margin of one more review for a late tick: a claim's bond must stay reserved until then, so this
    /// is the bond's dispute window. Waiting in `Filed`, then two rounds each followed by an appeal
    /// window (the second round has none, which the bound does not bother to subtract).
    pub fn dispute_secs(&self) -> u64 {
        let round = self.review_secs.saturating_add(self.appeal_secs);
        self.review_secs
            .saturating_mul(2)
            .saturating_add(round.saturating_mul(2))
    }

    /// A claim filed at `now`. Objective evidence is upheld for good at once: the router verified it,
    /// anyone can re-run the check, so there is nothing to appeal.
    pub fn file(&self, kind: ClaimKind, now: u64) -> Phase {
        match kind {
            ClaimKind::Objective => Phase::Final {
                outcome: Outcome::Upheld,
                at: now,
            },
            ClaimKind::Council => Phase::Filed { at: now },
        }
    }

    /// A council is seated for a filed claim: its first review opens.
    pub fn open_review(&self, p: &Phase, now: u64) -> Result<Phase, LifeError> {
        let Phase::Filed { at } = *p else {
            return Err(LifeError::NotFiled { phase: p.name() });
        };
        let expires = at.saturating_add(self.review_secs);
        if now >= expires {
            return Err(LifeError::FilingExpired { at: expires });
        }
        Ok(self.review(1, now))
    }

    fn review(&self, round: u8, now: u64) -> Phase {
        Phase::UnderReview {
            round,
            since: now,
            until: now.saturating_add(self.review_secs),
        }
    }

    /// A decision of `round` at `now`: the first may be appealed, the second is final.
    fn decide(&self, round: u8, outcome: Outcome, now: u64) -> Phase {
        if round >= 2 {
            Phase::Final { outcome, at: now }
        } else {
            Phase::Decided {
                outcome,
                round,
                at: now,
                appeal_until: now.saturating_add(self.appeal_secs),
            }
        }
    }

    /// The phase after a vote was recorded in `votes` (this round's tally) at `now`.
    pub fn vote(&self, p: &Phase, votes: &Tally, now: u64) -> Result<Phase, LifeError> {
        let Phase::UnderReview { round, until, .. } = *p else {
            return Err(LifeError::NotUnderReview { phase: p.name() });
        };
        if now >= until {
            return Err(LifeError::ReviewClosed { at: until });
        }
        Ok(match votes.decides() {
            Some(outcome) => self.decide(round, outcome, now),
            None => *p,
        })
    }

    /// The phase once time has reached `now`, with `votes` the tally of the round under review.
    pub fn tick(&self, p: &Phase, votes: &Tally, now: u64) -> Phase {
        match *p {
            Phase::Filed { at } if now >= at.saturating_add(self.review_secs) => {
                Phase::Expired { at: now }
            }
            Phase::UnderReview { round, until, .. } if now >= until => {
                match votes.decides() {
                    Some(outcome) => self.decide(round, outcome, now),
                    // A quorum voted, yet two thirds did not uphold: the claim was not made out.
                    None if votes.voted() >= votes.need() => {
                        self.decide(round, Outcome::Rejected, now)
                    }
                    None => Phase::Expired { at: now },
                }
            }
            Phase::Decided {
                outcome,
                appeal_until,
                ..
            } if now >= appeal_until => Phase::Final { outcome, at: now },
            _ => *p,
        }
    }

    /// `by` appeals a first decision at `now`: a second review opens, with a tally of its own.
    pub fn appeal(&self, p: &Phase, by: Party, now: u64) -> Result<Phase, LifeError> {
        let Phase::Decided {
            outcome,
            round,
            appeal_until,
            ..
        } = *p
        else {
            return Err(LifeError::NotDecided { phase: p.name() });
        };
        if round >= 2 {
            return Err(LifeError::AlreadyAppealed);
        }
        if now >= appeal_until {
            return Err(LifeError::AppealClosed { at: appeal_until });
        }
        match (outcome.loser(), by) {
            (Party::Accused, Party::Hunter) => Err(LifeError::AccusedAppeals),
            (Party::Hunter, Party::Accused) => Err(LifeError::HunterAppeals),
            _ => Ok(self.review(2, now)),
        }
    }
}

/// The votes of one review round. Members are ed25519 keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// The seated members who may vote: every seated member but the accused and the hunter.
    pub eligible: Vec<[u8; 32]>,
    pub upheld: Vec<[u8; 32]>,
    pub rejected: Vec<[u8; 32]>,
}

impl Tally {
    /// An empty tally for a claim by `hunter` against `accused` before the `seated` council. A member
    /// who is a party recuses: it is not eligible. A member seated twice counts once.
    pub fn new(seated: &[[u8; 32]], accused: &[u8; 32], hunter: &[u8; 32]) -> Tally {
        let mut eligible: Vec<[u8; 32]> = Vec::with_capacity(seated.len());
        for m in seated {
            if m != accused && m != hunter && !eligible.contains(m) {
                eligible.push(*m);
            }
        }
        Tally {
            eligible,
            upheld: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// Records `member`'s vote.
    pub fn record(&mut self, member: &[u8; 32], upheld: bool) -> Result<(), LifeError> {
        let member_hex = || hex::encode(member);
        if !self.eligible.contains(member) {
            return Err(LifeError::NotEligible {
                member: member_hex(),
            });
        }
        if self.upheld.contains(member) || self.rejected.contains(member) {
            return Err(LifeError::VotedAlready {
                member: member_hex(),
            });
        }
        if upheld {
            self.upheld.push(*member);
        } else {
            self.rejected.push(*member);
        }
        Ok(())
    }

    /// How many votes have been cast.
    pub fn voted(&self) -> usize {
        self.upheld.len() + self.rejected.len()
    }

    /// Two thirds of the eligible members, rounded up: the votes that uphold a claim, and the quorum.
    /// With nobody eligible, no number of votes is enough.
    pub fn need(&self) -> usize {
        match self.eligible.len() {
            0 => usize::MAX,
            n => meson_core::council::two_thirds(n),
        }
    }

    /// The outcome once it can no longer change: upheld by two thirds, or rejected by so many that the
    /// rest could not make two thirds.
    pub fn decides(&self) -> Option<Outcome> {
        let need = self.need();
        if self.upheld.len() >= need {
            Some(Outcome::Upheld)
        } else if need != usize::MAX && self.rejected.len() > self.eligible.len() - need {
            Some(Outcome::Rejected)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests;
