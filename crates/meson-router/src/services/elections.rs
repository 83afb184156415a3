//! Council elections ([`meson_ledger::election`]). The election of term `t`'s council runs through term
//! `t - 1`: when it opens, the router snapshots every key's voting power (its wallet and stake, as the
//! ledger holds them then) and logs the snapshot's digest, so tokens moved later vote no more. Token
//! holders send signed ballots approving up to the number of seats; a later ballot replaces the voter's
//! earlier one. When term `t` begins, the candidates with the most approval who locked at least the
//! least council stake for `t` take its seats, once, logged. When it ends, each member that voted on
//! every claim it could in it is paid its seat's reward from the treasury.
//!
//! A network's first term has no council (no election ran before it); claims filed then wait, filed,
//! for the first seated term.

use meson_ledger::params::Param;
use std::sync::Arc;
use std::time::Duration;

use meson_core::council::{Ballot as SignedBallot, BALLOT};
use meson_core::identity::NodeId;
use meson_core::signed::SignedMessage;
use meson_ledger::election::{self, Ballot};
use meson_ledger::seat_reward::{rewards, ReviewRound};
use meson_ledger::{council, Amount, LogRecord};
use meson_store::{BallotRecord, ElectionRecord};
use tokio::sync::watch;

use super::council::verify;
use super::error::{ServiceError, ServiceResult};
use super::ledger::{log, submit};
use crate::Shared;

/// Ended terms looked back on for unpaid seat rewards.
const REWARD_LOOKBACK_TERMS: u64 = 12;

/// The election of `term`, opened now (snapshot taken and logged) if its window has come and it was not
/// opened yet; None before its window.
pub(crate) async fn open(s: &Shared, term: u64, now: u64) -> ServiceResult<Option<ElectionRecord>> {
    if let Some(e) = s.store.election(term).await? {
        return Ok(Some(e));
    }
    let rules = s.params().elections();
    if now < rules.opens_at(term) || now >= rules.closes_at(term) {
        return Ok(None);
    }
    let snapshot = s.ledger.read(election::snapshot).await;
    let digest = election::snapshot_digest(&snapshot);
    let record = ElectionRecord {
        term,
        opened_at: now,
        snapshot: snapshot.into_iter().collect(),
        digest,
    };
    if let Some(before) = s.store.open_election(&record).await? {
        return Ok(Some(before));
    }
    log(
        s,
        LogRecord::ElectionOpened {
            term,
            snapshot: hex::encode(digest),
            voters: record.snapshot.len() as u64,
        },
    )
    .await?;
    tracing::info!(
        term,
        voters = record.snapshot.len(),
        "council election opened"
    );
    Ok(Some(record))
}

/// The ballots of `term`'s election, in the order last given, as the ledger's tally takes them.
pub(crate) async fn ballots(s: &Shared, term: u64) -> ServiceResult<Vec<Ballot>> {
    let mut out = Vec::new();
    for b in s.store.ballots(term).await? {
        let msg: SignedMessage<SignedBallot> = serde_json::from_str(&b.signed)
            .map_err(|e| ServiceError::Invalid(format!("a stored ballot: {e}")))?;
        let body = msg.verify_signature(BALLOT)?.body;
        out.push(Ballot {
            voter: b.voter,
            candidates: body.candidates.iter().map(|c| *c.as_bytes()).collect(),
        });
    }
    Ok(out)
}

/// The count of `term`'s election as it stands: (approval, candidate), and who it seats.
pub(crate) async fn count(
    s: &Shared,
    election: &ElectionRecord,
) -> ServiceResult<(Vec<(Amount, [u8; 32])>, Vec<[u8; 32]>)> {
    let snapshot = election.snapshot.iter().copied().collect();
    let tally = election::tally(&snapshot, &ballots(s, election.term).await?);
    let locked = s.ledger.read(|l| council::members(l, election.term)).await;
    let seats = election::seat(&tally, &locked, s.params().elections().seats);
    Ok((tally, seats))
}

/// A token holder's signed ballot in the election of `term`; its voting power.
pub(crate) async fn ballot(
    s: &Shared,
    term: u64,
    msg: SignedMessage<SignedBallot>,
) -> ServiceResult<(NodeId, Amount, Vec<NodeId>)> {
    let v = verify(s, &msg, BALLOT, |b| &b.network)?;
    if v.body.term != term {
        return Err(ServiceError::Invalid(format!(
            "the ballot is for term {}, not {term}",
            v.body.term
        )));
    }
    let now = meson_node::unix_now();
    let candidates: Vec<[u8; 32]> = v.body.candidates.iter().map(|c| *c.as_bytes()).collect();
    s.params()
        .elections()
        .check_ballot(term, &candidates, now)
        .map_err(|e| ServiceError::Conflict(e.to_string()))?;
    let election = open(s, term, now).await?.ok_or_else(|| {
        ServiceError::Conflict(format!("the election of term {term} is not open"))
    })?;
    let power = election
        .snapshot
        .iter()
        .find(|(k, _)| k == v.signer.as_bytes())
        .map_or(0, |(_, p)| *p);
    if power == 0 {
        return Err(ServiceError::Refused(format!(
            "{} held no tokens when the election of term {term} opened (at {}): no voting power",
            v.signer, election.opened_at
        )));
    }
    let signed = serde_json::to_string(&msg).expect("a signed message always serialises");
    s.store
        .record_ballot(&BallotRecord {
            term,
            voter: *v.signer.as_bytes(),
            signed: signed.clone(),
            at: now,
        })
        .await?;
    log(s, LogRecord::Ballot { term, signed }).await?;
    Ok((v.signer, power, v.body.candidates))
}

/// Seats `term` once, from its election (nobody, when none ran).
async fn seat(s: &Shared, term: u64, now: u64) -> ServiceResult<()> {
    if s.store.council_term(term).await?.is_some() {
        return Ok(());
    }
    let members: Vec<([u8; 32], Amount)> = match s.store.election(term).await? {
        Some(e) => {
            let (tally, seats) = count(s, &e).await?;
            seats
                .iter()
                .map(|m| {
                    let approval = tally.iter().find(|(_, c)| c == m).map_or(0, |(a, _)| *a);
                    (*m, approval)
                })
                .collect()
        }
        None => Vec::new(),
    };
    if s.store.seat_term(term, now, &members).await? {
        log(
            s,
            LogRecord::Seated {
                term,
                members: members.iter().map(|(m, _)| hex::encode(m)).collect(),
            },
        )
        .await?;
        metrics::gauge!("meson_router_council_seated").set(members.len() as f64);
        tracing::info!(term, seated = members.len(), "council term seated");
    }
    Ok(())
}

/// Pays the seat rewards of the ended `term` once.
async fn reward(s: &Shared, term: u64) -> ServiceResult<()> {
    let Some(t) = s.store.council_term(term).await? else {
        return Ok(());
    };
    if t.rewarded {
        return Ok(());
    }
    let members: Vec<[u8; 32]> = t.members.iter().map(|(m, _)| *m).collect();
    let rounds: Vec<ReviewRound> = s
        .store
        .rounds_in_term(term)
        .await?
        .into_iter()
        .map(|(r, votes)| ReviewRound {
            claim: r.claim,
            eligible: r.eligible,
            voters: votes.iter().map(|v| v.member).collect(),
        })
        .collect();
    let transfers = s
        .ledger
        .read(|l| {
            rewards(
                l,
                term,
                &members,
                &rounds,
                s.params().get(Param::SeatReward),
            )
        })
        .await;
    if !transfers.is_empty() {
        submit(s, transfers).await?;
    }
    s.store.mark_rewarded(term).await?;
    Ok(())
}

async fn pass(s: &Shared, now: u64) -> ServiceResult<()> {
    let term = s.params().council().term(now);
    seat(s, term, now).await?;
    open(s, term + 1, now).await?;
    // Every ended term not rewarded yet, so a router that was down through a term's end still pays it.
    for ended in term.saturating_sub(REWARD_LOOKBACK_TERMS)..term {
        reward(s, ended).await?;
    }
    Ok(())
}

/// Every heartbeat interval: seats the running term, opens the next term's election, rewards the last.
pub(crate) async fn run(s: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = pass(&s, meson_node::unix_now()).await {
            tracing::warn!(error = %e, "council elections");
        }
        tokio::select! {
            _ = tokio::time::sleep(s.cfg.heartbeat.max(Duration::from_millis(200))) => {}
            _ = stop.wait_for(|v| *v) => return,
        }
    }
}
