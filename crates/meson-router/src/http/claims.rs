//! Claims over HTTP; filing is in [`crate::services::claims`], the council's review in
//! [`crate::services::review`].
//!
//! | method, path | who | what |
//! | --- | --- | --- |
//! | `POST /v1/claims` | a hunter | evidence (objective, or a probe record for the council) and the signed bond on it |
//! | `GET /v1/claims?open=&accused=&hunter=&limit=` | anyone | claims, oldest first, with their phase, count and votes |
//! | `GET /v1/claims/{claim}` | anyone | one claim |
//! | `GET /v1/claims/{claim}/evidence` | anyone | its evidence, the exact bytes its id is the BLAKE3 of |
//! | `POST /v1/claims/{claim}/votes` | a seated member | a signed vote with the member's own probe record |
//! | `POST /v1/claims/{claim}/appeal` | the accused or the hunter | a signed appeal of a decided claim |
//! | `POST /v1/claims/{claim}/probe` | an eligible member | a signed request for a ticket to the accused |
//! | `GET /v1/ledger/claims/{claim}` | anyone | the claim's bond as the ledger holds it |

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use meson_api::claims::{
    ClaimDetail, ClaimKind, ClaimList, ClaimStatus, ClaimView, ClaimsQuery, Execution, FileClaim,
    Outcome, PhaseName, PhaseView, ProbeTicketIssued, TallyView, VoteView,
};
use meson_core::council::{Appeal, ProbeTicket, Vote};
use meson_core::identity::NodeId;
use meson_core::signed::SignedMessage;
use meson_ledger::claim_life::{self, Phase};
use meson_ledger::claims::Standing;
use meson_ledger::format_amount;
use meson_store::{ClaimFilter, ClaimRecord};

use crate::http::error::{bad_request, ApiError, ApiResult, JsonBody, PathParam, QueryParams};
use crate::services::claims;
use crate::services::council::seated;
use crate::services::error::ServiceResult;
use crate::services::review;
use crate::Shared;

fn parse_claim(text: &str) -> ApiResult<[u8; 32]> {
    let mut claim = [0u8; 32];
    hex::decode_to_slice(text, &mut claim).map_err(|_| {
        bad_request(format!(
            "{text:?} is not a claim id (64 hex digits: the BLAKE3 of the evidence)"
        ))
    })?;
    Ok(claim)
}

fn node(bytes: &[u8; 32]) -> NodeId {
    NodeId::from_bytes(bytes).expect("stored keys were valid keys when stored")
}

fn outcome(o: claim_life::Outcome) -> Outcome {
    match o {
        claim_life::Outcome::Upheld => Outcome::Upheld,
        claim_life::Outcome::Rejected => Outcome::Rejected,
    }
}

fn phase_view(p: &Phase) -> PhaseView {
    let view = |phase, round, outcome, since, until| PhaseView {
        phase,
        round,
        outcome,
        since,
        until,
    };
    match *p {
        Phase::Filed { at } => view(PhaseName::Filed, None, None, at, None),
        Phase::UnderReview {
            round,
            since,
            until,
        } => view(
            PhaseName::UnderReview,
            Some(round),
            None,
            since,
            Some(until),
        ),
        Phase::Decided {
            outcome: o,
            round,
            at,
            appeal_until,
        } => view(
            PhaseName::Decided,
            Some(round),
            Some(outcome(o)),
            at,
            Some(appeal_until),
        ),
        Phase::Final { outcome: o, at } => view(PhaseName::Final, None, Some(outcome(o)), at, None),
        Phase::Expired { at } => view(PhaseName::Expired, None, None, at, None),
    }
}

/// A stored claim as the API shows it.
async fn detail(s: &Shared, c: &ClaimRecord) -> ServiceResult<ClaimDetail> {
    let phase = claims::phase_of(c)?;
    // A final or expired claim shows the count of its last round, which decided it.
    let round = match review::round_of(&phase) {
        Some(round) => Some(round),
        None => s.store.rounds(c.id).await?.iter().map(|r| r.round).max(),
    };
    let tally = match round {
        Some(round) => match review::tally(s, c, round).await? {
            Some((r, t)) => {
                let members = seated(s, r.term).await?.unwrap_or_default();
                Some(TallyView {
                    round,
                    eligible: r.eligible.iter().map(node).collect(),
                    recused: members
                        .iter()
                        .filter(|m| !r.eligible.contains(m))
                        .map(node)
                        .collect(),
                    need: u32::try_from(t.need()).unwrap_or(u32::MAX),
                    upheld: t.upheld.len() as u32,
                    rejected: t.rejected.len() as u32,
                })
            }
            None => None,
        },
        None => None,
    };
    let mut votes = Vec::new();
    for v in s.store.votes(c.id).await? {
        votes.push(VoteView {
            member: node(&v.member),
            round: v.round,
            upheld: v.upheld,
            at: v.at,
            signed: serde_json::from_str::<SignedMessage<Vote>>(&v.signed).map_err(|e| {
                crate::services::error::ServiceError::Invalid(format!("a stored vote: {e}"))
            })?,
        });
    }
    let executed = match &c.executed {
        Some(json) => Some(serde_json::from_str::<Execution>(json).map_err(|e| {
            crate::services::error::ServiceError::Invalid(format!("a stored execution: {e}"))
        })?),
        None => None,
    };
    let id = hex::encode(c.id);
    Ok(ClaimDetail {
        evidence_url: format!("/v1/claims/{id}/evidence"),
        claim: id,
        kind: match c.kind {
            meson_store::ClaimKind::Objective => ClaimKind::Objective,
            meson_store::ClaimKind::Council => ClaimKind::Council,
        },
        accused: node(&c.accused),
        hunter: node(&c.hunter),
        bond: format_amount(c.bond),
        filed_at: c.filed_at,
        phase: phase_view(&phase),
        tally,
        votes,
        executed,
    })
}

#[utoipa::path(
    post, path = "/v1/claims", tag = "claims", request_body = FileClaim,
    responses(
        (status = 201, description = "The claim, filed with its bond (an objective one upheld and executed at once)", body = ClaimDetail),
        (status = 400, description = "Malformed evidence, a bond that is not a bond on this evidence's BLAKE3, or a claim against the hunter's own key"),
        (status = 401, description = "The bond's signature does not verify, or is stale"),
        (status = 409, description = "Filed before, or the router holds this evidence already"),
        (status = 422, description = "The evidence does not verify or shows no fault, the hunter is past its limits, the bond is under the least bond, or the ledger refuses it (funds, nothing at stake)"),
        (status = 503, description = "The ledger could not write: nothing was applied"),
    )
)]
pub(crate) async fn file(
    State(s): State<Arc<Shared>>,
    JsonBody(req): JsonBody<FileClaim>,
) -> ApiResult<(StatusCode, Json<ClaimDetail>)> {
    let kind = match req.kind {
        ClaimKind::Objective => meson_store::ClaimKind::Objective,
        ClaimKind::Council => meson_store::ClaimKind::Council,
    };
    let c = claims::file(&s, kind, req.evidence, req.bond).await?;
    Ok((StatusCode::CREATED, Json(detail(&s, &c).await?)))
}

#[utoipa::path(
    get, path = "/v1/claims", tag = "claims", params(ClaimsQuery),
    responses((status = 200, description = "Claims, oldest first", body = ClaimList))
)]
pub(crate) async fn list(
    State(s): State<Arc<Shared>>,
    QueryParams(q): QueryParams<ClaimsQuery>,
) -> ApiResult<Json<ClaimList>> {
    let filter = match (q.open, q.accused, q.hunter) {
        (false, None, None) => ClaimFilter::All,
        (true, None, None) => ClaimFilter::Open,
        (false, Some(a), None) => ClaimFilter::Against(*a.as_bytes()),
        (false, None, Some(h)) => ClaimFilter::By(*h.as_bytes()),
        _ => return Err(bad_request("give at most one of open, accused and hunter")),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let mut claims = Vec::new();
    for c in s
        .store
        .list_claims(filter, limit)
        .await
        .map_err(crate::http::error::store_error)?
    {
        claims.push(detail(&s, &c).await?);
    }
    Ok(Json(ClaimList { claims }))
}

#[utoipa::path(
    get, path = "/v1/claims/{claim}", tag = "claims", params(("claim" = String, Path, description = "The claim's id: the BLAKE3 of the evidence, 64 hex digits")),
    responses(
        (status = 200, description = "The claim", body = ClaimDetail),
        (status = 400, description = "Not a claim id"),
        (status = 404, description = "No such claim"),
    )
)]
pub(crate) async fn show(
    State(s): State<Arc<Shared>>,
    PathParam(claim): PathParam<String>,
) -> ApiResult<Json<ClaimDetail>> {
    let c = claims::find(&s, &parse_claim(&claim)?).await?;
    Ok(Json(detail(&s, &c).await?))
}

#[utoipa::path(
    get, path = "/v1/claims/{claim}/evidence", tag = "claims", params(("claim" = String, Path, description = "The claim's id: the BLAKE3 of the evidence, 64 hex digits")),
    responses(
        (status = 200, description = "The evidence, exactly as filed", content_type = "application/json", body = String),
        (status = 400, description = "Not a claim id"),
        (status = 404, description = "No such claim"),
    )
)]
pub(crate) async fn evidence(
    State(s): State<Arc<Shared>>,
    PathParam(claim): PathParam<String>,
) -> ApiResult<impl IntoResponse> {
    let c = claims::find(&s, &parse_claim(&claim)?).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], c.evidence))
}

#[utoipa::path(
    post, path = "/v1/claims/{claim}/votes", tag = "claims", params(("claim" = String, Path, description = "The claim's id: the BLAKE3 of the evidence, 64 hex digits")),
    request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `Vote` (purpose meson/v1/council-vote)"),
    responses(
        (status = 200, description = "The claim after the vote", body = ClaimDetail),
        (status = 400, description = "Not a claim id, a message for another claim or network, or a malformed probe record"),
        (status = 401, description = "The signature does not verify, or is stale"),
        (status = 404, description = "No such claim"),
        (status = 409, description = "Not under review, another round, or the member voted in this round already"),
        (status = 422, description = "Not an eligible member (not seated, or recused), or a vote its own probe record contradicts or that rests on no re-probe"),
    )
)]
pub(crate) async fn vote(
    State(s): State<Arc<Shared>>,
    PathParam(claim): PathParam<String>,
    JsonBody(msg): JsonBody<SignedMessage<Vote>>,
) -> ApiResult<Json<ClaimDetail>> {
    let (c, _) = review::vote(&s, &parse_claim(&claim)?, msg).await?;
    Ok(Json(detail(&s, &c).await?))
}

#[utoipa::path(
    post, path = "/v1/claims/{claim}/appeal", tag = "claims", params(("claim" = String, Path, description = "The claim's id: the BLAKE3 of the evidence, 64 hex digits")),
    request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `Appeal` (purpose meson/v1/claim-appeal)"),
    responses(
        (status = 200, description = "The claim, back under review", body = ClaimDetail),
        (status = 400, description = "Not a claim id, or a message for another claim or network"),
        (status = 401, description = "Neither the accused nor the hunter signed it, or the signature does not verify"),
        (status = 404, description = "No such claim"),
        (status = 409, description = "Not decided, appealed before, past the appeal window, or appealed by the winning party"),
    )
)]
pub(crate) async fn appeal(
    State(s): State<Arc<Shared>>,
    PathParam(claim): PathParam<String>,
    JsonBody(msg): JsonBody<SignedMessage<Appeal>>,
) -> ApiResult<Json<ClaimDetail>> {
    let id = parse_claim(&claim)?;
    review::appeal(&s, &id, msg).await?;
    let c = claims::find(&s, &id).await?;
    Ok(Json(detail(&s, &c).await?))
}

#[utoipa::path(
    post, path = "/v1/claims/{claim}/probe", tag = "claims", params(("claim" = String, Path, description = "The claim's id: the BLAKE3 of the evidence, 64 hex digits")),
    request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `ProbeTicket` (purpose meson/v1/probe-ticket)"),
    responses(
        (status = 200, description = "A ticketed URL on the accused for the caller's address", body = ProbeTicketIssued),
        (status = 400, description = "Not a claim id, a message for another claim or network, or not a council claim"),
        (status = 401, description = "Not an eligible member of the claim's review, or the signature does not verify"),
        (status = 404, description = "No such claim, site or terminal"),
    )
)]
pub(crate) async fn probe(
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    PathParam(claim): PathParam<String>,
    JsonBody(msg): JsonBody<SignedMessage<ProbeTicket>>,
) -> ApiResult<Json<ProbeTicketIssued>> {
    let (url, terminal, expires) =
        review::probe_ticket(&s, &parse_claim(&claim)?, msg, peer.ip()).await?;
    Ok(Json(ProbeTicketIssued {
        url,
        terminal,
        expires,
    }))
}

#[utoipa::path(
    get, path = "/v1/ledger/claims/{claim}", tag = "claims", params(("claim" = String, Path, description = "The claim's id: the BLAKE3 of the evidence, 64 hex digits")),
    responses(
        (status = 200, description = "The claim's bond", body = ClaimView),
        (status = 400, description = "Not a claim id"),
        (status = 404, description = "No bond on this claim"),
    )
)]
pub(crate) async fn bond(
    State(s): State<Arc<Shared>>,
    PathParam(claim): PathParam<String>,
) -> ApiResult<Json<ClaimView>> {
    let id = parse_claim(&claim)?;
    let c = s
        .ledger
        .read(|l| meson_ledger::claims::find(l, &id))
        .await
        .map_err(|e| ApiError::from(crate::services::error::ServiceError::from(e)))?;
    let status = match Standing::of(&c.status, meson_node::unix_now()) {
        Standing::Open => ClaimStatus::Open,
        Standing::Upheld => ClaimStatus::Returned,
        Standing::Rejected => ClaimStatus::Forfeited,
        Standing::Expired => ClaimStatus::Expired,
    };
    Ok(Json(ClaimView {
        claim: claim.to_ascii_lowercase(),
        accused: NodeId::from_bytes(&c.accused).ok(),
        escrow_account: c.bond.credit_account,
        hunter_account: c.bond.debit_account,
        bond: format_amount(c.bond.amount),
        filed_at: c.bond.timestamp,
        expires_at: c
            .bond
            .timestamp
            .saturating_add(c.bond.transfer.timeout_secs),
        status,
    }))
}
