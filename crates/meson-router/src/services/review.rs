//! The council's review of a claim: rounds, signed votes, appeals, re-probe tickets and the loop that
//! moves every open claim along its life ([`meson_ledger::claim_life`]) and executes its verdict.
//!
//! - A council claim waits (filed) until a term is seated, then a review round opens. Who may vote in it
//!   is fixed then: the seated members but the accused's and the hunter's own keys, who recuse.
//! - A member re-probes the accused ([`probe_ticket`] gives it a ticket like any client's for the
//!   claim's object on the accused terminal) and votes with its own probe record attached ([`vote`]);
//!   the router judges that record with the very code the member ran ([`meson_core::probe::judge`]) and
//!   refuses a vote that its own evidence contradicts, so anyone re-running the check from the stored
//!   vote gets the member's answer. Votes are kept verbatim and logged in the ledger's audit log.
//! - Two thirds of the eligible members decide; the losing party may appeal once ([`appeal`]), which
//!   opens a second round; the decision stands when the appeal window closes, and executes
//!   ([`super::claims::execute`]).

use std::sync::Arc;
use std::time::Duration;

use meson_core::council::{Appeal, ProbeTicket, Vote, APPEAL, PROBE_TICKET, VOTE};
use meson_core::keying::{cache_key, client_params, keyed_path};
use meson_core::probe;
use meson_core::signed::SignedMessage;
use meson_core::ticket::{object_digest, ClientPrefix};
use meson_ledger::claim_life::{LifeError, Outcome, Party, Phase, Tally};
use meson_ledger::LogRecord;
use meson_store::{ClaimFilter, ClaimKind, ClaimRecord, RoundRecord, VoteRecord};
use tokio::sync::watch;

use super::claims::{self, execute, find, phase_of, phase_text};
use super::council::{seated, verify};
use super::error::{ServiceError, ServiceResult};
use super::ledger::log;
use super::tickets;
use crate::Shared;

/// Open claims moved along per pass, at most.
const PER_PASS: usize = 1_000;

/// A claim's round `round`, and its count from the stored votes.
pub(crate) async fn tally(
    s: &Shared,
    c: &ClaimRecord,
    round: u8,
) -> ServiceResult<Option<(RoundRecord, Tally)>> {
    let Some(r) = s
        .store
        .rounds(c.id)
        .await?
        .into_iter()
        .find(|r| r.round == round)
    else {
        return Ok(None);
    };
    let mut t = Tally {
        eligible: r.eligible.clone(),
        upheld: Vec::new(),
        rejected: Vec::new(),
    };
    for v in s.store.votes(c.id).await? {
        if v.round == round {
            if v.upheld {
                t.upheld.push(v.member);
            } else {
                t.rejected.push(v.member);
            }
        }
    }
    Ok(Some((r, t)))
}

/// The round a phase is counting, if any.
pub(crate) fn round_of(p: &Phase) -> Option<u8> {
    match p {
        Phase::UnderReview { round, .. } | Phase::Decided { round, .. } => Some(*round),
        _ => None,
    }
}

/// Moves a claim to `next`: stored, logged, and executed when final.
async fn advance(s: &Shared, c: &ClaimRecord, next: &Phase) -> ServiceResult<()> {
    s.store.update_claim(c.id, &phase_text(next), None).await?;
    log(
        s,
        LogRecord::ClaimPhase {
            claim: hex::encode(c.id),
            phase: *next,
        },
    )
    .await?;
    tracing::info!(claim = %hex::encode(c.id), phase = %phase_text(next), "claim moved on");
    execute(s, c, next).await
}

/// Opens review round `round` of `c` at `now` with the members seated now, but those who recuse.
async fn open_round(
    s: &Shared,
    c: &ClaimRecord,
    round: u8,
    members: &[[u8; 32]],
    now: u64,
) -> ServiceResult<()> {
    let eligible = Tally::new(members, &c.accused, &c.hunter).eligible;
    s.store
        .open_round(&RoundRecord {
            claim: c.id,
            round,
            opened_at: now,
            term: s.params().council().term(now),
            eligible,
        })
        .await?;
    Ok(())
}

/// One claim, one step: what time has done to it.
async fn step(s: &Shared, id: &[u8; 32], now: u64) -> ServiceResult<()> {
    // Read afresh, not from the pass's list: a vote or an appeal taken while the pass went through
    // the claims before this one would otherwise be overwritten by what time did to the older phase
    // (an appeal in the last second of its window, turned final).
    let _moving = s.claim_moves.lock().await;
    let c = &find(s, id).await?;
    if c.executed.is_some() {
        return Ok(());
    }
    let life = s.params().life();
    let phase = phase_of(c)?;
    let next = match &phase {
        Phase::Filed { .. } => {
            let members = seated(s, s.params().council().term(now)).await?;
            // A council seated after the claim's wait ran out (the router was stopped meanwhile) finds
            // it expired: no round opens, which would leave it filed for good and count against the
            // members' seat rewards.
            match (members, life.open_review(&phase, now)) {
                (Some(members), Ok(next)) if !members.is_empty() => {
                    open_round(s, c, 1, &members, now).await?;
                    next
                }
                _ => life.tick(&phase, &Tally::new(&[], &c.accused, &c.hunter), now),
            }
        }
        Phase::UnderReview { round, .. } | Phase::Decided { round, .. } => {
            let t = match tally(s, c, *round).await? {
                Some((_, t)) => t,
                None => Tally::new(&[], &c.accused, &c.hunter),
            };
            life.tick(&phase, &t, now)
        }
        Phase::Final { .. } | Phase::Expired { .. } => {
            // Final but not executed: a stop cut its execution short.
            return execute(s, c, &phase).await;
        }
    };
    if next != phase {
        advance(s, c, &next).await?;
    }
    Ok(())
}

/// Every heartbeat interval: moves each open claim along.
pub(crate) async fn run(s: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    resume(&s).await;
    loop {
        let now = meson_node::unix_now();
        match s.store.list_claims(ClaimFilter::Open, PER_PASS).await {
            Ok(open) => {
                for c in open {
                    if let Err(e) = step(&s, &c.id, now).await {
                        tracing::warn!(claim = %hex::encode(c.id), error = %e, "cannot move a claim along");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list open claims"),
        }
        tokio::select! {
            _ = tokio::time::sleep(s.cfg.heartbeat.max(Duration::from_millis(200))) => {}
            _ = stop.wait_for(|v| *v) => return,
        }
    }
}

/// At start: terminals against which the council upheld a claim stay out of rotation.
async fn resume(s: &Shared) {
    for (node, _) in s.registry.urls() {
        let claims = match s
            .store
            .list_claims(ClaimFilter::Against(node), PER_PASS)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the claims against a terminal");
                continue;
            }
        };
        let upheld = claims.iter().find(|c| {
            c.kind == ClaimKind::Council
                && matches!(
                    phase_of(c),
                    Ok(Phase::Final {
                        outcome: Outcome::Upheld,
                        ..
                    })
                )
        });
        if let Some(c) = upheld {
            super::slashing::disqualify(
                s,
                &node,
                format!(
                    "disqualified: claim {} upheld by the council (GET /v1/claims/{})",
                    hex::encode(c.id),
                    hex::encode(c.id)
                ),
            );
        }
    }
}

fn claim_matches(c: &ClaimRecord, named: &str) -> ServiceResult<()> {
    if !named.eq_ignore_ascii_case(&hex::encode(c.id)) {
        return Err(ServiceError::Invalid(format!(
            "the message names claim {named}, not {}",
            hex::encode(c.id)
        )));
    }
    Ok(())
}

/// A seated member's signed vote on claim `id`, with its own probe record of the accused.
pub(crate) async fn vote(
    s: &Shared,
    id: &[u8; 32],
    msg: SignedMessage<Vote>,
) -> ServiceResult<(ClaimRecord, Phase)> {
    let v = verify(s, &msg, VOTE, |b| &b.network)?;
    let _moving = s.claim_moves.lock().await;
    let c = find(s, id).await?;
    claim_matches(&c, &v.body.claim)?;
    let phase = phase_of(&c)?;
    let Phase::UnderReview { round, .. } = phase else {
        return Err(ServiceError::Conflict(format!(
            "claim {} is not under review ({})",
            hex::encode(c.id),
            phase_text(&phase)
        )));
    };
    if v.body.round != round {
        return Err(ServiceError::Conflict(format!(
            "the vote is for round {}; the claim is in round {round}",
            v.body.round
        )));
    }
    let (opened, mut t) = tally(s, &c, round)
        .await?
        .ok_or_else(|| ServiceError::Conflict("the round has not opened".into()))?;
    let member = *v.signer.as_bytes();
    t.record(&member, v.body.upheld).map_err(|e| match e {
        LifeError::VotedAlready { .. } => ServiceError::Conflict(e.to_string()),
        _ => ServiceError::Refused(e.to_string()),
    })?;
    let rec: probe::Record = serde_json::from_str(&v.body.record).map_err(|e| {
        ServiceError::Invalid(format!("the vote's record is not a probe record: {e}"))
    })?;
    let judged = probe::judge(&rec, &s.id, &claims::rule())
        .map_err(|e| ServiceError::Invalid(format!("the vote's probe record: {e}")))?;
    if judged.accused.as_bytes() != &c.accused {
        return Err(ServiceError::Invalid(format!(
            "the vote's probe record is of {}, not of the accused",
            judged.accused
        )));
    }
    if rec.probes.iter().all(|p| p.at < opened.opened_at) {
        return Err(ServiceError::Refused(
            "a vote rests on the member's own re-probes: none in its record was made since the round opened".into(),
        ));
    }
    if judged.faulty != v.body.upheld {
        return Err(ServiceError::Refused(format!(
            "the vote says {}, but the member's own record judges the terminal {}: {}",
            if v.body.upheld { "upheld" } else { "rejected" },
            if judged.faulty { "faulty" } else { "sound" },
            judged.why
        )));
    }
    let now = meson_node::unix_now();
    let signed = serde_json::to_string(&msg).expect("a signed message always serialises");
    let fresh = s
        .store
        .record_vote(&VoteRecord {
            claim: c.id,
            round,
            member,
            upheld: v.body.upheld,
            signed: signed.clone(),
            at: now,
        })
        .await?;
    if !fresh {
        return Err(ServiceError::Conflict(format!(
            "{} voted in round {round} already",
            v.signer
        )));
    }
    log(
        s,
        LogRecord::Vote {
            claim: hex::encode(c.id),
            round,
            signed,
        },
    )
    .await?;
    metrics::counter!("meson_router_council_votes_total", "vote" => if v.body.upheld { "upheld" } else { "rejected" }).increment(1);
    let next = s
        .params()
        .life()
        .vote(&phase, &t, now)
        .map_err(|e| ServiceError::Conflict(e.to_string()))?;
    if next != phase {
        advance(s, &c, &next).await?;
    }
    Ok((find(s, id).await?, next))
}

/// The losing party's signed appeal of a decided claim: a second round, once.
pub(crate) async fn appeal(
    s: &Shared,
    id: &[u8; 32],
    msg: SignedMessage<Appeal>,
) -> ServiceResult<Phase> {
    let v = verify(s, &msg, APPEAL, |b| &b.network)?;
    let _moving = s.claim_moves.lock().await;
    let c = find(s, id).await?;
    claim_matches(&c, &v.body.claim)?;
    let by = if v.signer.as_bytes() == &c.accused {
        Party::Accused
    } else if v.signer.as_bytes() == &c.hunter {
        Party::Hunter
    } else {
        return Err(ServiceError::Unauthorized(
            "only the accused or the hunter may appeal a claim".into(),
        ));
    };
    let now = meson_node::unix_now();
    let phase = phase_of(&c)?;
    let next = s
        .params()
        .life()
        .appeal(&phase, by, now)
        .map_err(|e| ServiceError::Conflict(e.to_string()))?;
    let members = seated(s, s.params().council().term(now))
        .await?
        .unwrap_or_default();
    open_round(s, &c, 2, &members, now).await?;
    advance(s, &c, &next).await?;
    Ok(next)
}

/// A ticket to the accused terminal for the claim's object, for an eligible member of the claim's
/// current round at the client address `client`.
pub(crate) async fn probe_ticket(
    s: &Shared,
    id: &[u8; 32],
    msg: SignedMessage<ProbeTicket>,
    client: std::net::IpAddr,
) -> ServiceResult<(String, meson_core::identity::NodeId, u64)> {
    let v = verify(s, &msg, PROBE_TICKET, |b| &b.network)?;
    let c = find(s, id).await?;
    claim_matches(&c, &v.body.claim)?;
    let phase = phase_of(&c)?;
    let eligible = match phase {
        Phase::UnderReview { round, .. } => tally(s, &c, round)
            .await?
            .is_some_and(|(r, _)| r.eligible.contains(v.signer.as_bytes())),
        _ => false,
    };
    if !eligible {
        return Err(ServiceError::Unauthorized(format!(
            "{} is not an eligible member of a review of this claim",
            v.signer
        )));
    }
    let rec: probe::Record = serde_json::from_str(&c.evidence)
        .map_err(|_| ServiceError::Invalid("the claim's evidence is not a probe record".into()))?;
    let site = s
        .sites
        .get(&rec.host.to_ascii_lowercase())
        .ok_or_else(|| ServiceError::NotFound(format!("no site {:?}", rec.host)))?;
    let accused = meson_core::identity::NodeId::from_bytes(&c.accused)
        .map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let url = s
        .registry
        .urls()
        .into_iter()
        .find(|(n, _)| *n == c.accused)
        .map(|(_, url)| url)
        .ok_or_else(|| ServiceError::NotFound("the accused terminal is not registered".into()))?;
    let (path, query) = rec
        .path
        .split_once('?')
        .map_or((rec.path.as_str(), None), |(p, q)| (p, Some(q)));
    let normalized =
        meson_core::path::normalize(path).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    let params = client_params(query);
    let keyed = keyed_path(&normalized, &params, site.query_mode);
    let target = tickets::Target {
        terminal: accused,
        public_url: &url,
        path,
        params: &params,
        object: object_digest(cache_key(&site.host, &keyed).as_bytes()),
    };
    let rid = hex::encode(rand::random::<[u8; 16]>());
    let (url, expires) = tickets::issue(s, &site, &target, ClientPrefix::around(client), &rid)
        .map_err(ServiceError::Invalid)?;
    Ok((url, accused, expires))
}
