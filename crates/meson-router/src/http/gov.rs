//! Governance over HTTP; the rules are [`meson_ledger::governance`]'s, the checks and the loop
//! [`crate::services::governance`]'s. Vetoes and shutdown locks are signed ledger transactions
//! (`POST /v1/ledger/tx`, kinds `veto` and `shutdown`).
//!
//! | method, path | who | what |
//! | --- | --- | --- |
//! | `GET /v1/gov/params` | anyone | every parameter in force, its unit, bounds and step, and the executed changes |
//! | `GET /v1/gov/proposals?phase=&limit=` | anyone | proposals, newest first |
//! | `POST /v1/gov/proposals` | anyone with the deposit | a signed proposal |
//! | `GET /v1/gov/proposals/{id}` | anyone | one proposal: tally, veto, eta |
//! | `POST /v1/gov/proposals/{id}/votes` | a holder in the snapshot | a signed vote |
//! | `POST /v1/gov/proposals/{id}/delay` | a council member | a signed delay to the end of the window |
//! | `GET /v1/gov/shutdown`, `POST /v1/gov/shutdown` | anyone; a council member | the shutdown's state; a signed signal |

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use meson_api::gov::{
    ParamView, ParamsView, ProposalList, ProposalView, ProposalsQuery, ScheduledChange,
    ShutdownStatus, ShutdownView, TallyView,
};
use meson_core::identity::NodeId;
use meson_core::signed::SignedMessage;
use meson_ledger::economics::BPS;
use meson_ledger::governance::{
    DelayBody, Phase, Proposal, ProposalBody, Shutdown, ShutdownBody, VoteBody,
};
use meson_ledger::params::Step;
use meson_ledger::{format_amount, Ledger};

use crate::http::error::{ApiError, ApiResult, JsonBody, PathParam, QueryParams};
use crate::services::governance;
use crate::Shared;

fn parse_id(text: &str) -> ApiResult<[u8; 32]> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(text, &mut id).map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{text:?} is not a proposal id (64 hex digits)"),
        )
    })?;
    Ok(id)
}

fn step_text(step: Step) -> String {
    match step {
        Step::Fixed => "fixed".into(),
        Step::By(d) => format!("±{d}"),
        Step::Factor(f) => format!("×{f}"),
    }
}

#[utoipa::path(
    get, path = "/v1/gov/params", tag = "gov",
    responses((status = 200, description = "Every parameter in force, with its bounds", body = ParamsView))
)]
pub(crate) async fn params(State(s): State<Arc<Shared>>) -> Json<ParamsView> {
    let schedule = s.ledger.schedule();
    let epoch = schedule.epoch(meson_node::unix_now());
    let now = schedule.at(epoch);
    let params = now
        .iter()
        .map(|(key, value)| {
            let spec = key.spec();
            ParamView {
                name: key.name(),
                unit: spec.unit.name().into(),
                value: value.to_string(),
                default: spec.default.to_string(),
                min: spec.min.to_string(),
                max: spec.max.to_string(),
                step: step_text(spec.step),
                about: spec.about.into(),
            }
        })
        .collect();
    let changes = schedule
        .changes()
        .into_iter()
        .map(|(epoch, values)| ScheduledChange {
            epoch,
            values: values
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect(),
        })
        .collect();
    Json(ParamsView {
        epoch,
        params,
        changes,
    })
}

/// `part` basis points of `whole`, rounded up, as tokens.
fn share(whole: u128, bps: u32) -> String {
    format_amount(whole.saturating_mul(u128::from(bps)).div_ceil(BPS))
}

fn view(l: &Ledger, p: &Proposal) -> ProposalView {
    let veto = l.governance().veto(l, &p.id);
    let (detail, effective_epoch) = match &p.phase {
        Phase::Defeated { quorum: false } => ("no quorum".into(), None),
        Phase::Defeated { quorum: true } => ("no majority".into(), None),
        Phase::Cancelled { at } => (format!("cancelled by veto at {at}"), None),
        Phase::Executed {
            at,
            effective_epoch,
        } => (
            format!("executed at {at}, in force from epoch {effective_epoch}"),
            Some(*effective_epoch),
        ),
        Phase::Failed { at, why } => (format!("failed at {at}: {why}"), None),
        Phase::Voting | Phase::Queued { .. } => (String::new(), None),
    };
    ProposalView {
        id: hex::encode(p.id),
        number: p.number,
        proposer: NodeId::from_bytes(&p.proposer).expect("a proposer signed with its key"),
        title: p.title.clone(),
        actions: p.actions.clone(),
        phase: p.phase.name().into(),
        detail,
        deposit: format_amount(p.deposit),
        filed_at: p.filed_at,
        voting_ends: p.voting_ends,
        tally: TallyView {
            yes: format_amount(p.tally.yes),
            against: format_amount(p.tally.no),
            abstain: format_amount(p.tally.abstain),
        },
        total_power: format_amount(p.total_power),
        voters: p.votes.len() as u64,
        quorum_bps: p.rules.quorum_bps,
        majority_bps: p.rules.majority_bps,
        quorum_reached: p.quorum_at.is_some(),
        veto: format_amount(veto),
        veto_delay_at: share(p.total_power, p.rules.veto_delay_bps),
        veto_cancel_at: share(p.total_power, p.rules.veto_cancel_bps),
        council_delayed: p.council_delayed,
        eta: p.eta(veto),
        effective_epoch,
        signed: p.signed.clone(),
    }
}

#[utoipa::path(
    get, path = "/v1/gov/proposals", tag = "gov", params(ProposalsQuery),
    responses((status = 200, description = "Proposals, newest first", body = ProposalList))
)]
pub(crate) async fn list(
    State(s): State<Arc<Shared>>,
    QueryParams(q): QueryParams<ProposalsQuery>,
) -> Json<ProposalList> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let proposals = s
        .ledger
        .read(|l| {
            l.governance()
                .proposals()
                .filter(|p| q.phase.as_deref().is_none_or(|ph| ph == p.phase.name()))
                .take(limit)
                .map(|p| view(l, p))
                .collect()
        })
        .await;
    Json(ProposalList { proposals })
}

async fn one(s: &Shared, id: [u8; 32]) -> ApiResult<ProposalView> {
    s.ledger
        .read(|l| l.governance().proposal(&id).map(|p| view(l, p)))
        .await
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("no proposal {}", hex::encode(id)),
            )
        })
}

#[utoipa::path(
    post, path = "/v1/gov/proposals", tag = "gov",
    request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `ProposalBody` (purpose meson/v1/gov-proposal)"),
    responses(
        (status = 201, description = "Filed: the vote is open", body = ProposalView),
        (status = 400, description = "Malformed, for another network, a parameter unknown, out of its bounds or moved past its step"),
        (status = 401, description = "The signature does not verify, or is stale"),
        (status = 409, description = "Filed before"),
        (status = 422, description = "The proposer's wallet cannot reserve the deposit"),
    )
)]
pub(crate) async fn file(
    State(s): State<Arc<Shared>>,
    JsonBody(msg): JsonBody<SignedMessage<ProposalBody>>,
) -> ApiResult<(StatusCode, Json<ProposalView>)> {
    let id = governance::file(&s, msg).await?;
    Ok((StatusCode::CREATED, Json(one(&s, id).await?)))
}

#[utoipa::path(
    get, path = "/v1/gov/proposals/{id}", tag = "gov", params(("id" = String, Path, description = "The proposal's id, 64 hex digits")),
    responses(
        (status = 200, description = "The proposal", body = ProposalView),
        (status = 404, description = "No such proposal"),
    )
)]
pub(crate) async fn show(
    State(s): State<Arc<Shared>>,
    PathParam(id): PathParam<String>,
) -> ApiResult<Json<ProposalView>> {
    Ok(Json(one(&s, parse_id(&id)?).await?))
}

/// The message names the proposal of its path.
fn same(path: &str, body: &str) -> ApiResult<()> {
    if path.eq_ignore_ascii_case(body) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("the message is for proposal {body}, not {path}"),
        ))
    }
}

#[utoipa::path(
    post, path = "/v1/gov/proposals/{id}/votes", tag = "gov", params(("id" = String, Path, description = "The proposal's id")),
    request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `VoteBody` (purpose meson/v1/gov-vote)"),
    responses(
        (status = 200, description = "Counted with the voter's snapshotted power", body = ProposalView),
        (status = 400, description = "Malformed, or for another network or proposal"),
        (status = 401, description = "The signature does not verify, or is stale"),
        (status = 404, description = "No such proposal"),
        (status = 409, description = "The vote closed (the answer says when), or the voter voted already"),
        (status = 422, description = "The voter held no tokens when the proposal was filed"),
    )
)]
pub(crate) async fn vote(
    State(s): State<Arc<Shared>>,
    PathParam(id): PathParam<String>,
    JsonBody(msg): JsonBody<SignedMessage<VoteBody>>,
) -> ApiResult<Json<ProposalView>> {
    let proposal = parse_id(&id)?;
    let body = msg
        .verify_signature(meson_ledger::governance::VOTE)
        .map_err(|e| ApiError(StatusCode::UNAUTHORIZED, e.to_string()))?
        .body;
    same(&id, &body.proposal)?;
    governance::vote(&s, msg).await?;
    Ok(Json(one(&s, proposal).await?))
}

#[utoipa::path(
    post, path = "/v1/gov/proposals/{id}/delay", tag = "gov", params(("id" = String, Path, description = "The proposal's id")),
    request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `DelayBody` (purpose meson/v1/gov-council-delay)"),
    responses(
        (status = 200, description = "Counted; at two thirds of the council the proposal waits to its window's end", body = ProposalView),
        (status = 400, description = "Malformed, or for another network or proposal"),
        (status = 401, description = "The signature does not verify, or is stale"),
        (status = 404, description = "No such proposal"),
        (status = 409, description = "Not queued, or signed before"),
        (status = 422, description = "The signer is not on the council"),
    )
)]
pub(crate) async fn delay(
    State(s): State<Arc<Shared>>,
    PathParam(id): PathParam<String>,
    JsonBody(msg): JsonBody<SignedMessage<DelayBody>>,
) -> ApiResult<Json<ProposalView>> {
    let proposal = parse_id(&id)?;
    let body = msg
        .verify_signature(meson_ledger::governance::COUNCIL_DELAY)
        .map_err(|e| ApiError(StatusCode::UNAUTHORIZED, e.to_string()))?
        .body;
    same(&id, &body.proposal)?;
    governance::delay(&s, msg).await?;
    Ok(Json(one(&s, proposal).await?))
}

fn shutdown_view(sd: &Shutdown) -> ShutdownView {
    ShutdownView {
        round: sd.round,
        since: sd.since,
        until: sd.until,
        by_council: sd.by_council,
    }
}

async fn shutdown_status(s: &Shared) -> ShutdownStatus {
    let now = meson_node::unix_now();
    s.ledger
        .read(|l| {
            let gov = l.governance();
            let round = gov.open_round();
            ShutdownStatus {
                active: gov.shutdown_at(now).as_ref().map(shutdown_view),
                open_round: round,
                locked: format_amount(gov.shutdown_locked(l, round)),
                needed: format_amount(gov.shutdown_need(l)),
                signals: gov.shutdown_signals() as u64,
                history: gov.shutdowns().iter().map(shutdown_view).collect(),
            }
        })
        .await
}

#[utoipa::path(
    get, path = "/v1/gov/shutdown", tag = "gov",
    responses((status = 200, description = "The shutdown in force, the open round and its locks", body = ShutdownStatus))
)]
pub(crate) async fn shutdown(State(s): State<Arc<Shared>>) -> Json<ShutdownStatus> {
    Json(shutdown_status(&s).await)
}

#[utoipa::path(
    post, path = "/v1/gov/shutdown", tag = "gov",
    request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `ShutdownBody` (purpose meson/v1/gov-council-shutdown)"),
    responses(
        (status = 200, description = "Counted; at two thirds of the council governance and slashing pause", body = ShutdownStatus),
        (status = 400, description = "Malformed, or for another network"),
        (status = 401, description = "The signature does not verify, or is stale"),
        (status = 409, description = "Not the open round, a shutdown is on, or signed before"),
        (status = 422, description = "The signer is not on the council"),
    )
)]
pub(crate) async fn signal(
    State(s): State<Arc<Shared>>,
    JsonBody(msg): JsonBody<SignedMessage<ShutdownBody>>,
) -> ApiResult<Json<ShutdownStatus>> {
    governance::shutdown(&s, msg).await?;
    Ok(Json(shutdown_status(&s).await))
}
