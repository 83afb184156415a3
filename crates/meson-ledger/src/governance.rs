//! Governance: the parameter registry in force ([`crate::params`]), proposals anyone can file, votes
//! weighted by a snapshot of each key's tokens, a timelock of at most 24 hours, the veto escrow, the
//! council's delay and the shutdown: a state machine inside the [`Ledger`], fed by the governance events
//! of the audit log ([`GovEvent`], in a [`crate::Batch::Record`]). So whoever replays the log holds the
//! same parameters, proposals and tallies as the router, and an event the rules refuse is never logged.
//!
//! # A proposal's life
//!
//! 1. **Filed**: anyone signs a [`ProposalBody`] (parameter changes, treasury spends, a distribution to
//!    holders, council seats) and reserves the deposit from its wallet ([`deposit`]). Each change is
//!    checked against the hard bounds and its step ([`crate::params::Params::check_changes`]); the
//!    voting power of every key (wallet plus stake) is snapshotted, and the rules in force are copied
//!    into the proposal.
//! 2. **Voting** for `voting_secs`: each key with power in the snapshot votes once, for, against or
//!    abstain, with its snapshotted power, so tokens moved after filing vote nowhere twice. When quorum is
//!    first reached less than `late_quorum_secs` before the end, the vote runs `late_quorum_secs` from
//!    then (OpenZeppelin's late-quorum guard).
//! 3. **Closed** at the end: passed with quorum (`quorum_bps` of the snapshot cast) and majority (for
//!    above `majority_bps` of for and against), else defeated.
//! 4. **Queued** for `timelock_secs` (at most 24 h, [`crate::params::MAX_TIMELOCK_SECS`]). Holders may lock tokens in
//!    the proposal's veto escrow while it votes or waits: from `veto_delay_bps` of the snapshot's power
//!    it waits until its 24-hour window's end plus `veto_extension_secs`; from `veto_cancel_bps` it is
//!    cancelled (Lido's dual governance, 1 % and 10 %). The council may delay it to the end of its window
//!    (two thirds of the term's members sign), never change it.
//! 5. **Executed** once, when due and no shutdown is on: its parameter changes are checked again and take
//!    effect at the start of the next epoch; its spends are paid by the router under ids derived from the
//!    proposal. If a change no longer fits (another proposal moved the value) or the treasury cannot pay,
//!    it **fails** instead, as final as an execution.
//!
//! The deposit returns at the end, except to a cancelled proposal, whose deposit goes to the treasury;
//! veto locks return when the proposal ends.
//!
//! # Shutdown
//!
//! Enough locked stake (`shutdown_bps` of all voting power in the round's escrow) or two thirds of the
//! council pauses parameter changes and slashing for `shutdown_secs`, then expires by itself; its locks
//! return and the next round starts afresh. It never stops transfers, unstaking or the return of locks.

mod escrow;
mod proposal;

use std::collections::{BTreeMap, BTreeSet};

use meson_core::signed::SignedMessage;
use serde::{Deserialize, Serialize};

use escrow::locked;
pub use escrow::{deposit, release, shutdown_account, veto_account};
pub use proposal::{
    Action, Choice, DelayBody, Phase, Proposal, ProposalBody, Rules, ShutdownBody, Tally, VoteBody,
    COUNCIL_DELAY, COUNCIL_SHUTDOWN, MAX_ACTIONS, MAX_TITLE, PROPOSAL, VOTE,
};

use crate::accounts::{wallet_account, TREASURY};
use crate::election::snapshot;
use crate::params::{Key, Param, ParamError, Params};
use crate::{Amount, Ledger};

/// A governance event in the audit log. Signed texts are kept verbatim, so anyone checks them from the
/// log alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GovEvent {
    /// The network's name and its parameters' genesis values; the first governance event, once.
    Genesis {
        network: String,
        params: Params,
    },
    Filed {
        signed: String,
    },
    Voted {
        signed: String,
    },
    /// The vote of `proposal` ended.
    Closed {
        proposal: String,
    },
    /// The veto escrow of `proposal` passed the cancel threshold.
    Cancelled {
        proposal: String,
    },
    Executed {
        proposal: String,
    },
    /// A council member's signed [`DelayBody`].
    CouncilDelay {
        signed: String,
    },
    /// A council member's signed [`ShutdownBody`].
    CouncilShutdown {
        signed: String,
    },
    /// The shutdown escrow of `round` passed the threshold.
    StakeShutdown {
        round: u64,
    },
}

/// Why an event is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovError {
    #[error("governance has no genesis yet")]
    NoGenesis,
    #[error("the genesis is set already")]
    GenesisTwice,
    #[error("{0}")]
    Signed(String),
    #[error("the message is for network {got:?}; this one is {ours:?}")]
    WrongNetwork { got: String, ours: String },
    #[error(
        "a proposal has a title of 1 to {MAX_TITLE} characters and 1 to {MAX_ACTIONS} actions"
    )]
    Shape,
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("a spend or distribution moves at least one base unit")]
    ZeroAmount,
    #[error("proposal {0} is filed already")]
    Duplicate(String),
    #[error("no proposal {0}")]
    NoProposal(String),
    #[error("the deposit is {} and must be reserved first (transfer {})", crate::format_amount(*need), hex::encode(id.to_be_bytes()))]
    NoDeposit { need: Amount, id: u128 },
    #[error("proposal {proposal} is {phase}, not {want}")]
    WrongPhase {
        proposal: String,
        phase: &'static str,
        want: &'static str,
    },
    #[error("the vote on proposal {proposal} closed at {at} (Unix seconds)")]
    VotingClosed { proposal: String, at: u64 },
    #[error("the vote on proposal {proposal} runs until {until} (Unix seconds)")]
    VotingOpen { proposal: String, until: u64 },
    #[error("{voter} held no voting power when proposal {proposal} was filed")]
    NoPower { voter: String, proposal: String },
    #[error("{voter} voted on proposal {proposal} already")]
    VotedAlready { voter: String, proposal: String },
    #[error("proposal {proposal} may execute from {eta} (Unix seconds)")]
    NotDue { proposal: String, eta: u64 },
    #[error("governance is shut down until {until} (Unix seconds)")]
    ShutDown { until: u64 },
    #[error("the veto against proposal {proposal} is below the cancel threshold")]
    NotVetoed { proposal: String },
    #[error("the veto against proposal {proposal} passed the cancel threshold: it is cancelled, never executed")]
    Vetoed { proposal: String },
    #[error("{signer} is not on the council of term {term}")]
    NotMember { signer: String, term: u64 },
    #[error("{signer} signed already")]
    SignedAlready { signer: String },
    #[error("shutdown round {asked} is not the open one ({open})")]
    WrongRound { asked: u64, open: u64 },
    #[error(
        "the shutdown escrow of round {round} holds {locked} of the {need} base units it takes"
    )]
    NotEnoughStake {
        round: u64,
        locked: Amount,
        need: Amount,
    },
}

/// Parameter changes in force from `epoch` on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    epoch: u64,
    values: Vec<(Key, u128)>,
}

/// The genesis values and every executed change: the parameters in force in any epoch, small enough
/// for a server to copy out of the ledger whenever it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    genesis: Option<Params>,
    changes: Vec<Change>,
}

impl Schedule {
    fn epoch_secs(&self) -> u64 {
        self.genesis
            .as_ref()
            .map_or(3600, |g| g.secs(Param::EpochSecs))
            .max(1)
    }

    /// The epoch running at `now`.
    pub fn epoch(&self, now: u64) -> u64 {
        now / self.epoch_secs()
    }

    /// The parameters in force in `epoch` (the defaults before a genesis).
    pub fn at(&self, epoch: u64) -> Params {
        self.fold(|c| c.epoch <= epoch)
    }

    /// The parameters once every executed change is in force: what a new proposal steps from.
    pub fn latest(&self) -> Params {
        self.fold(|_| true)
    }

    fn fold(&self, take: impl Fn(&Change) -> bool) -> Params {
        let mut p = self.genesis.clone().unwrap_or_default();
        for c in self.changes.iter().filter(|c| take(c)) {
            for (k, v) in &c.values {
                // Checked when executed; seeding cannot fail on a value that passed its bounds.
                let _ = p.seed(k.clone(), *v);
            }
        }
        p
    }

    /// Epochs from which executed changes are in force, with the values, oldest first.
    pub fn changes(&self) -> Vec<(u64, Vec<(String, u128)>)> {
        self.changes
            .iter()
            .map(|c| {
                (
                    c.epoch,
                    c.values.iter().map(|(k, v)| (k.name(), *v)).collect(),
                )
            })
            .collect()
    }
}

/// A shutdown that took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shutdown {
    pub round: u64,
    pub since: u64,
    pub until: u64,
    /// `true` when two thirds of the council triggered it, `false` for stake.
    pub by_council: bool,
}

/// The governance state; see the [module](self) docs.
#[derive(Debug, Clone, Default)]
pub struct Governance {
    network: String,
    schedule: Schedule,
    proposals: BTreeMap<[u8; 32], Proposal>,
    /// Seated members per council term, from the log's `Seated` records.
    council: BTreeMap<u64, Vec<[u8; 32]>>,
    shutdowns: Vec<Shutdown>,
    /// Council signals for the open shutdown round.
    shutdown_signals: BTreeSet<[u8; 32]>,
}

/// The proposal id of a signed proposal text: BLAKE3 under its own domain.
pub fn proposal_id(signed: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("meson/v1/gov-proposal-id");
    h.update(signed.as_bytes());
    *h.finalize().as_bytes()
}

fn parse_id(text: &str) -> Result<[u8; 32], GovError> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(text, &mut id).map_err(|_| GovError::NoProposal(text.to_owned()))?;
    Ok(id)
}

impl Governance {
    pub fn network(&self) -> &str {
        &self.network
    }

    pub fn has_genesis(&self) -> bool {
        self.schedule.genesis.is_some()
    }

    pub fn genesis(&self) -> Option<&Params> {
        self.schedule.genesis.as_ref()
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The epoch running at `now`.
    pub fn epoch(&self, now: u64) -> u64 {
        self.schedule.epoch(now)
    }

    /// The parameters in force in `epoch`.
    pub fn params_at(&self, epoch: u64) -> Params {
        self.schedule.at(epoch)
    }

    /// The parameters once every executed change is in force.
    pub fn latest(&self) -> Params {
        self.schedule.latest()
    }

    pub fn proposal(&self, id: &[u8; 32]) -> Option<&Proposal> {
        self.proposals.get(id)
    }

    /// Every proposal, newest first.
    pub fn proposals(&self) -> impl Iterator<Item = &Proposal> + '_ {
        let mut all: Vec<&Proposal> = self.proposals.values().collect();
        all.sort_by_key(|p| std::cmp::Reverse(p.number));
        all.into_iter()
    }

    /// The veto stake locked against `proposal`.
    pub fn veto(&self, l: &Ledger, proposal: &[u8; 32]) -> Amount {
        locked(l, veto_account(proposal).id)
    }

    /// The shutdown in force at `now`, if any.
    pub fn shutdown_at(&self, now: u64) -> Option<Shutdown> {
        self.shutdowns.last().copied().filter(|s| now < s.until)
    }

    pub fn shutdowns(&self) -> &[Shutdown] {
        &self.shutdowns
    }

    /// The shutdown round locks and signals go to now: the one after the last shutdown.
    pub fn open_round(&self) -> u64 {
        self.shutdowns.len() as u64 + 1
    }

    pub fn shutdown_signals(&self) -> usize {
        self.shutdown_signals.len()
    }

    /// The seated council of `term`.
    pub fn council(&self, term: u64) -> &[[u8; 32]] {
        self.council.get(&term).map_or(&[], Vec::as_slice)
    }

    fn term(&self, now: u64) -> u64 {
        now / self
            .genesis()
            .map_or(1, |g| g.secs(Param::CouncilTermSecs))
            .max(1)
    }

    /// A council was seated for `term` (the log's `Seated` record).
    pub(crate) fn seat(&mut self, term: u64, members: &[String]) {
        let members = members
            .iter()
            .filter_map(|m| {
                let mut k = [0u8; 32];
                hex::decode_to_slice(m, &mut k).ok().map(|_| k)
            })
            .collect();
        self.council.insert(term, members);
    }

    /// The events due at `now`, in the order to log them: a shutdown whose stake is in, then per
    /// proposal a veto past its threshold, a vote ended or an execution due (none during a shutdown).
    pub fn due(&self, l: &Ledger, now: u64) -> Vec<GovEvent> {
        let mut due = Vec::new();
        let round = self.open_round();
        let mut paused = self.shutdown_at(now).is_some();
        // A shutdown whose stake is in goes first: it stops executions due the same second.
        if !paused && self.stake_shutdown_ready(l, round).is_ok() {
            due.push(GovEvent::StakeShutdown { round });
            paused = true;
        }
        // In filing order: of two proposals due at once, the earlier executes first.
        let mut in_order: Vec<&Proposal> = self.proposals.values().collect();
        in_order.sort_by_key(|p| p.number);
        for p in in_order {
            let proposal = hex::encode(p.id);
            let veto = self.veto(l, &p.id);
            match p.phase {
                Phase::Voting | Phase::Queued { .. } if p.vetoed_to_cancel(veto) => {
                    due.push(GovEvent::Cancelled { proposal })
                }
                Phase::Voting if now >= p.voting_ends => due.push(GovEvent::Closed { proposal }),
                Phase::Queued { .. } if !paused && p.eta(veto).is_some_and(|eta| now >= eta) => {
                    due.push(GovEvent::Executed { proposal })
                }
                _ => {}
            }
        }
        due
    }

    /// The tokens locked in the escrow of shutdown round `round`.
    pub fn shutdown_locked(&self, l: &Ledger, round: u64) -> Amount {
        locked(l, shutdown_account(round).id)
    }

    /// The tokens the shutdown escrow must hold: `shutdown_bps` of all voting power now, rounded up.
    pub fn shutdown_need(&self, l: &Ledger) -> Amount {
        let total: Amount = snapshot(l)
            .values()
            .fold(0u128, |s, v| s.saturating_add(*v));
        let bps = self.latest().get(Param::ShutdownBps);
        total.saturating_mul(bps).div_ceil(crate::economics::BPS)
    }

    fn stake_shutdown_ready(&self, l: &Ledger, round: u64) -> Result<(), GovError> {
        let open = self.open_round();
        if round != open {
            return Err(GovError::WrongRound { asked: round, open });
        }
        let have = self.shutdown_locked(l, round);
        // Nothing locked needs no scan of every account (the router asks each second).
        let need = if have == 0 { 1 } else { self.shutdown_need(l) };
        if have == 0 || have < need {
            return Err(GovError::NotEnoughStake {
                round,
                locked: have,
                need,
            });
        }
        Ok(())
    }

    /// Applies `event` at ledger time `now`, or refuses it and changes nothing.
    pub fn apply(&mut self, l: &Ledger, event: &GovEvent, now: u64) -> Result<(), GovError> {
        if let GovEvent::Genesis { network, params } = event {
            if self.has_genesis() {
                return Err(GovError::GenesisTwice);
            }
            params.consistent()?;
            self.network = network.clone();
            self.schedule.genesis = Some(params.clone());
            return Ok(());
        }
        if !self.has_genesis() {
            return Err(GovError::NoGenesis);
        }
        match event {
            GovEvent::Genesis { .. } => unreachable!("handled above"),
            GovEvent::Filed { signed } => self.file(l, signed, now),
            GovEvent::Voted { signed } => self.vote(signed, now),
            GovEvent::Closed { proposal } => self.close(proposal, now),
            GovEvent::Cancelled { proposal } => self.cancel(l, proposal, now),
            GovEvent::Executed { proposal } => self.execute(l, proposal, now),
            GovEvent::CouncilDelay { signed } => self.delay(signed, now),
            GovEvent::CouncilShutdown { signed } => self.council_shutdown(signed, now),
            GovEvent::StakeShutdown { round } => {
                self.pause_check(now)?;
                self.stake_shutdown_ready(l, *round)?;
                self.start_shutdown(now, false);
                Ok(())
            }
        }
    }

    /// A signed message of this network.
    fn open<T: serde::de::DeserializeOwned>(
        &self,
        signed: &str,
        purpose: &str,
        network: impl Fn(&T) -> &str,
    ) -> Result<([u8; 32], T), GovError> {
        let m: SignedMessage<T> =
            serde_json::from_str(signed).map_err(|e| GovError::Signed(e.to_string()))?;
        let v = m
            .verify_signature(purpose)
            .map_err(|e| GovError::Signed(e.to_string()))?;
        if network(&v.body) != self.network {
            return Err(GovError::WrongNetwork {
                got: network(&v.body).to_owned(),
                ours: self.network.clone(),
            });
        }
        Ok((*v.signer.as_bytes(), v.body))
    }

    /// Checks a proposal before its deposit is taken: everything [`GovEvent::Filed`] checks but the
    /// deposit. Returns its id, proposer, the deposit it needs and the body.
    pub fn check_proposal(
        &self,
        signed: &str,
    ) -> Result<([u8; 32], [u8; 32], Amount, ProposalBody), GovError> {
        if !self.has_genesis() {
            return Err(GovError::NoGenesis);
        }
        let (proposer, body) =
            self.open::<ProposalBody>(signed, PROPOSAL, |b| b.network.as_str())?;
        let id = proposal_id(signed);
        if self.proposals.contains_key(&id) {
            return Err(GovError::Duplicate(hex::encode(id)));
        }
        let title = body.title.trim();
        if title.is_empty()
            || body.title.chars().count() > MAX_TITLE
            || body.actions.is_empty()
            || body.actions.len() > MAX_ACTIONS
        {
            return Err(GovError::Shape);
        }
        let latest = self.latest();
        latest.check_changes(&changes_of(&body.actions)?)?;
        if body.actions.iter().any(|a| {
            matches!(
                a,
                Action::Spend { amount: 0, .. } | Action::Distribute { amount: 0 }
            )
        }) {
            return Err(GovError::ZeroAmount);
        }
        Ok((id, proposer, latest.get(Param::ProposalDeposit), body))
    }

    fn file(&mut self, l: &Ledger, signed: &str, now: u64) -> Result<(), GovError> {
        let (id, proposer, need, body) = self.check_proposal(signed)?;
        let deposit_id = deposit(&proposer, &id, need).id;
        let held = l.transfer(deposit_id).filter(|t| {
            t.debit_account == wallet_account(&proposer)
                && t.amount >= need
                && matches!(
                    l.pending_status(deposit_id),
                    Some(crate::PendingStatus::Pending { .. })
                )
        });
        let Some(held) = held else {
            return Err(GovError::NoDeposit {
                need,
                id: deposit_id,
            });
        };
        let rules = Rules::of(&self.params_at(self.epoch(now)));
        let snapshot = snapshot(l);
        let total_power = snapshot.values().fold(0u128, |s, v| s.saturating_add(*v));
        let number = self.proposals.len() as u64 + 1;
        self.proposals.insert(
            id,
            Proposal {
                id,
                number,
                proposer,
                title: body.title.trim().to_owned(),
                actions: body.actions,
                signed: signed.to_owned(),
                deposit: held.amount,
                filed_at: now,
                rules,
                snapshot,
                total_power,
                votes: BTreeMap::new(),
                tally: Tally::default(),
                voting_ends: now.saturating_add(rules.voting_secs),
                quorum_at: None,
                delay_signers: BTreeSet::new(),
                council_delayed: false,
                phase: Phase::Voting,
            },
        );
        Ok(())
    }

    fn get_mut(&mut self, text: &str) -> Result<&mut Proposal, GovError> {
        let id = parse_id(text)?;
        self.proposals
            .get_mut(&id)
            .ok_or_else(|| GovError::NoProposal(text.to_owned()))
    }

    fn vote(&mut self, signed: &str, now: u64) -> Result<(), GovError> {
        let (voter, body) = self.open::<VoteBody>(signed, VOTE, |b| b.network.as_str())?;
        let p = self.get_mut(&body.proposal)?;
        let proposal = hex::encode(p.id);
        if p.phase != Phase::Voting || now >= p.voting_ends {
            return Err(GovError::VotingClosed {
                proposal,
                at: p.voting_ends,
            });
        }
        let power = p.snapshot.get(&voter).copied().unwrap_or(0);
        if power == 0 {
            return Err(GovError::NoPower {
                voter: hex::encode(voter),
                proposal,
            });
        }
        if p.votes.contains_key(&voter) {
            return Err(GovError::VotedAlready {
                voter: hex::encode(voter),
                proposal,
            });
        }
        p.votes.insert(voter, body.choice);
        p.tally.add(body.choice, power);
        if p.quorum_at.is_none() && p.tally.quorum(&p.rules, p.total_power) {
            p.quorum_at = Some(now);
            p.voting_ends = p
                .voting_ends
                .max(now.saturating_add(p.rules.late_quorum_secs));
        }
        Ok(())
    }

    fn close(&mut self, text: &str, now: u64) -> Result<(), GovError> {
        let p = self.get_mut(text)?;
        want(p, "voting", |ph| *ph == Phase::Voting)?;
        if now < p.voting_ends {
            return Err(GovError::VotingOpen {
                proposal: text.to_owned(),
                until: p.voting_ends,
            });
        }
        let quorum = p.tally.quorum(&p.rules, p.total_power);
        p.phase = if quorum && p.tally.majority(&p.rules) {
            // The queue starts when the vote ended, however late the close is logged.
            Phase::Queued {
                since: p.voting_ends,
            }
        } else {
            Phase::Defeated { quorum }
        };
        Ok(())
    }

    fn cancel(&mut self, l: &Ledger, text: &str, now: u64) -> Result<(), GovError> {
        let id = parse_id(text)?;
        let veto = self.veto(l, &id);
        let p = self.get_mut(text)?;
        want(p, "voting or queued", |ph| !ph.is_final())?;
        if !p.vetoed_to_cancel(veto) {
            return Err(GovError::NotVetoed {
                proposal: text.to_owned(),
            });
        }
        p.phase = Phase::Cancelled { at: now };
        Ok(())
    }

    fn pause_check(&self, now: u64) -> Result<(), GovError> {
        match self.shutdown_at(now) {
            Some(s) => Err(GovError::ShutDown { until: s.until }),
            None => Ok(()),
        }
    }

    fn execute(&mut self, l: &Ledger, text: &str, now: u64) -> Result<(), GovError> {
        self.pause_check(now)?;
        let id = parse_id(text)?;
        let veto = self.veto(l, &id);
        let latest = self.latest();
        let effective_epoch = self.epoch(now) + 1;
        let treasury = l.account(TREASURY).and_then(|a| a.available()).unwrap_or(0);
        let p = self.get_mut(text)?;
        want(p, "queued", |ph| matches!(ph, Phase::Queued { .. }))?;
        if p.vetoed_to_cancel(veto) {
            return Err(GovError::Vetoed {
                proposal: text.to_owned(),
            });
        }
        let eta = p.eta(veto).unwrap_or(u64::MAX);
        if now < eta {
            return Err(GovError::NotDue {
                proposal: text.to_owned(),
                eta,
            });
        }
        let outlay = p.treasury_outlay();
        let checked = changes_of(&p.actions)
            .map_err(|e| e.to_string())
            .and_then(|c| {
                latest
                    .check_changes(&c)
                    .map(|_| c)
                    .map_err(|e| e.to_string())
            })
            .and_then(|c| {
                if outlay > treasury {
                    Err(format!(
                        "the treasury holds {} and the proposal pays out {}",
                        crate::format_amount(treasury),
                        crate::format_amount(outlay)
                    ))
                } else {
                    Ok(c)
                }
            });
        match checked {
            Err(why) => p.phase = Phase::Failed { at: now, why },
            Ok(values) => {
                p.phase = Phase::Executed {
                    at: now,
                    effective_epoch,
                };
                if !values.is_empty() {
                    self.schedule.changes.push(Change {
                        epoch: effective_epoch,
                        values,
                    });
                }
            }
        }
        Ok(())
    }

    fn member(&self, signer: [u8; 32], now: u64) -> Result<usize, GovError> {
        let term = self.term(now);
        let council = self.council(term);
        if !council.contains(&signer) {
            return Err(GovError::NotMember {
                signer: hex::encode(signer),
                term,
            });
        }
        Ok(council.len())
    }

    fn delay(&mut self, signed: &str, now: u64) -> Result<(), GovError> {
        let (signer, body) =
            self.open::<DelayBody>(signed, COUNCIL_DELAY, |b| b.network.as_str())?;
        let seats = self.member(signer, now)?;
        let p = self.get_mut(&body.proposal)?;
        want(p, "queued", |ph| matches!(ph, Phase::Queued { .. }))?;
        if !p.delay_signers.insert(signer) {
            return Err(GovError::SignedAlready {
                signer: hex::encode(signer),
            });
        }
        if p.delay_signers.len() >= meson_core::council::two_thirds(seats) {
            p.council_delayed = true;
        }
        Ok(())
    }

    fn council_shutdown(&mut self, signed: &str, now: u64) -> Result<(), GovError> {
        let (signer, body) =
            self.open::<ShutdownBody>(signed, COUNCIL_SHUTDOWN, |b| b.network.as_str())?;
        self.pause_check(now)?;
        let open = self.open_round();
        if body.round != open {
            return Err(GovError::WrongRound {
                asked: body.round,
                open,
            });
        }
        let seats = self.member(signer, now)?;
        if !self.shutdown_signals.insert(signer) {
            return Err(GovError::SignedAlready {
                signer: hex::encode(signer),
            });
        }
        if self.shutdown_signals.len() >= meson_core::council::two_thirds(seats) {
            self.start_shutdown(now, true);
        }
        Ok(())
    }

    fn start_shutdown(&mut self, now: u64, by_council: bool) {
        let secs = self.latest().secs(Param::ShutdownSecs);
        self.shutdowns.push(Shutdown {
            round: self.open_round(),
            since: now,
            until: now.saturating_add(secs),
            by_council,
        });
        self.shutdown_signals.clear();
    }
}

fn want(p: &Proposal, name: &'static str, ok: impl Fn(&Phase) -> bool) -> Result<(), GovError> {
    if ok(&p.phase) {
        Ok(())
    } else {
        Err(GovError::WrongPhase {
            proposal: hex::encode(p.id),
            phase: p.phase.name(),
            want: name,
        })
    }
}

/// The parameter changes among `actions`, parsed.
fn changes_of(actions: &[Action]) -> Result<Vec<(Key, u128)>, ParamError> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Set { param, value } => Some(Key::parse(param).map(|k| (k, *value))),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
