//! Governance on the router. Signed proposals, votes, council delays and shutdown signals are verified
//! here (signature, freshness, replay, network) and logged as governance events, which the ledger's
//! [`meson_ledger::governance::Governance`] applies or refuses: a refused one is never logged. A loop
//! logs what has come due (votes ended, vetoes past their threshold, executions, a stake shutdown) and
//! moves what ended: deposits and locks back, spends paid, council seats changed; after a shutdown, the
//! slashes it held back.

use std::sync::Arc;
use std::time::Duration;

use meson_core::signed::SignedMessage;
use meson_ledger::accounts;
use meson_ledger::governance::{
    self, Action, DelayBody, GovError, GovEvent, Phase, ProposalBody, ShutdownBody, VoteBody,
    COUNCIL_DELAY, COUNCIL_SHUTDOWN, PROPOSAL, VOTE,
};
use meson_ledger::{Batch, BatchResults, LogRecord};
use serde::Serialize;
use tokio::sync::watch;

use super::error::{ServiceError, ServiceResult};
use super::ledger::{one_transfer, open, submit};
use crate::Shared;

/// How often the loop looks for what has come due: the resolution of every governance deadline.
const TICK: Duration = Duration::from_secs(1);

/// A governance refusal as the service error its kind calls for.
fn refused(e: GovError) -> ServiceError {
    let why = e.to_string();
    match e {
        GovError::NoProposal(_) => ServiceError::NotFound(why),
        GovError::Signed(_)
        | GovError::WrongNetwork { .. }
        | GovError::Shape
        | GovError::Param(_)
        | GovError::ZeroAmount => ServiceError::Invalid(why),
        GovError::NoPower { .. }
        | GovError::NotMember { .. }
        | GovError::NoDeposit { .. }
        | GovError::NotEnoughStake { .. }
        | GovError::NoGenesis
        | GovError::GenesisTwice => ServiceError::Refused(why),
        _ => ServiceError::Conflict(why),
    }
}

/// Logs a governance event; the ledger's refusal becomes the error.
async fn record(s: &Shared, event: GovEvent) -> ServiceResult<()> {
    let r = s
        .ledger
        .submit(Batch::Record {
            now: meson_node::unix_now(),
            record: LogRecord::Gov(event),
        })
        .await?;
    match r {
        BatchResults::Refused(e) => Err(refused(e)),
        _ => Ok(()),
    }
}

/// A signed message verified for this network, and its text as it will be logged.
fn checked<T>(
    s: &Shared,
    msg: &SignedMessage<T>,
    purpose: &str,
    network: impl FnOnce(&T) -> &str,
) -> ServiceResult<String>
where
    T: Serialize + serde::de::DeserializeOwned,
{
    super::council::verify(s, msg, purpose, network)?;
    serde_json::to_string(msg).map_err(|e| ServiceError::Invalid(e.to_string()))
}

/// Files a proposal: checks it, reserves the deposit from the proposer's wallet, logs it. Returns its
/// id.
pub(crate) async fn file(s: &Shared, msg: SignedMessage<ProposalBody>) -> ServiceResult<[u8; 32]> {
    let text = checked(s, &msg, PROPOSAL, |b| &b.network)?;
    let _moves = s.gov_moves.lock().await;
    let (id, proposer, need, _) = s
        .ledger
        .read(|l| l.governance().check_proposal(&text))
        .await
        .map_err(refused)?;
    open(s, accounts::wallet(&proposer)).await?;
    let deposit = governance::deposit(&proposer, &id, need);
    one_transfer(s, deposit).await.map_err(|e| match e {
        ServiceError::Refused(why) => ServiceError::Refused(format!(
            "the proposal deposit of {} cannot be reserved: {why}",
            meson_ledger::format_amount(need)
        )),
        other => other,
    })?;
    if let Err(e) = record(s, GovEvent::Filed { signed: text }).await {
        // Checked under the same lock, so only a fault gets here: the deposit must not stay reserved
        // for a proposal that does not exist.
        let back = s
            .ledger
            .read(|l| {
                l.transfer(deposit.id)
                    .map(|t| governance::release(t, false))
            })
            .await;
        if let Some(back) = back {
            one_transfer(s, back).await?;
        }
        return Err(e);
    }
    metrics::counter!("meson_router_gov_proposals_total").increment(1);
    tracing::info!(proposal = %hex::encode(id), "proposal filed");
    Ok(id)
}

/// Counts a holder's signed vote with its snapshotted power.
pub(crate) async fn vote(s: &Shared, msg: SignedMessage<VoteBody>) -> ServiceResult<()> {
    let text = checked(s, &msg, VOTE, |b| &b.network)?;
    let _moves = s.gov_moves.lock().await;
    record(s, GovEvent::Voted { signed: text }).await?;
    metrics::counter!("meson_router_gov_votes_total").increment(1);
    Ok(())
}

/// A council member's signed request to delay a queued proposal to the end of its window.
pub(crate) async fn delay(s: &Shared, msg: SignedMessage<DelayBody>) -> ServiceResult<()> {
    let text = checked(s, &msg, COUNCIL_DELAY, |b| &b.network)?;
    let _moves = s.gov_moves.lock().await;
    record(s, GovEvent::CouncilDelay { signed: text }).await
}

/// A council member's signed shutdown signal; two thirds of the council shut governance down.
pub(crate) async fn shutdown(s: &Shared, msg: SignedMessage<ShutdownBody>) -> ServiceResult<()> {
    let text = checked(s, &msg, COUNCIL_SHUTDOWN, |b| &b.network)?;
    let _moves = s.gov_moves.lock().await;
    record(s, GovEvent::CouncilShutdown { signed: text }).await
}

/// Logs what has come due and moves what ended.
pub(crate) async fn tick(s: &Shared) {
    let now = meson_node::unix_now();
    let _moves = s.gov_moves.lock().await;
    let due = s.ledger.read(|l| l.governance().due(l, now)).await;
    for event in due {
        let name = format!("{event:?}");
        match record(s, event).await {
            Ok(()) => tracing::info!(event = %name, "governance event"),
            Err(e) => {
                tracing::warn!(event = %name, error = %e, "a due governance event was refused")
            }
        }
    }
    let (opened, moves) = s.ledger.read(|l| l.governance().settlements(l, now)).await;
    if let Err(e) = s.ledger.open_accounts(opened).await {
        tracing::warn!(error = %e, "cannot open governance accounts");
    }
    // One at a time: a spend the treasury cannot pay now must not hold back the deposits and locks.
    for t in moves {
        if let Err(e) = submit(s, vec![t]).await {
            tracing::warn!(transfer = t.id, error = %e, "a governance transfer was refused");
        }
    }
    if let Err(e) = seats(s, now).await {
        tracing::warn!(error = %e, "cannot apply a proposal's council seats");
    }
}

/// Applies the seats and removals of proposals executed in the current term to its council.
async fn seats(s: &Shared, now: u64) -> ServiceResult<()> {
    let rules = s.params().council();
    let term = rules.term(now);
    let actions: Vec<Action> = s
        .ledger
        .read(|l| {
            l.governance()
                .proposals()
                .filter(|p| matches!(p.phase, Phase::Executed { at, .. } if rules.term(at) == term))
                .flat_map(|p| p.actions.clone())
                .collect()
        })
        .await;
    if !actions
        .iter()
        .any(|a| matches!(a, Action::Seat { .. } | Action::Unseat { .. }))
    {
        return Ok(());
    }
    let Some(seated) = s.store.council_term(term).await? else {
        return Ok(());
    };
    let mut members = seated.members.clone();
    for a in &actions {
        match a {
            Action::Seat { member } if !members.iter().any(|(m, _)| m == member.as_bytes()) => {
                members.push((*member.as_bytes(), 0))
            }
            Action::Unseat { member } => members.retain(|(m, _)| m != member.as_bytes()),
            _ => {}
        }
    }
    if members != seated.members && s.store.reseat(term, &members).await? {
        s.ledger
            .submit(Batch::Record {
                now,
                record: LogRecord::Seated {
                    term,
                    members: members.iter().map(|(m, _)| hex::encode(m)).collect(),
                },
            })
            .await?;
        tracing::info!(term, seats = members.len(), "council changed by governance");
    }
    Ok(())
}

/// Ticks until `stop`; when a shutdown ends, slashes what it held back.
pub(crate) async fn run(s: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut was_paused = false;
    loop {
        tick(&s).await;
        let paused = super::stake::paused(&s).await.is_some();
        if was_paused && !paused {
            super::slashing::retry(&s).await;
        }
        was_paused = paused;
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.wait_for(|v| *v) => return,
        }
    }
}
