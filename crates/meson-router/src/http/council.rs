//! The council over HTTP; terms and locks are in [`crate::services::council`].
//!
//! | method, path | who | what |
//! | --- | --- | --- |
//! | `GET /v1/council/term` | anyone | the current term, its bounds and the least stake |
//! | `GET /v1/council/stakes?term=N` | anyone | who locked stake for term `N` (default: current), largest first |
//! | `GET /v1/council` | anyone | the seated council of the current term and the election of the next |
//! | `GET /v1/council/elections/{term}` | anyone | an election's window, snapshot digest and count |
//! | `GET /v1/council/elections/{term}/snapshot` | anyone | every key's voting power when it opened |
//! | `POST /v1/council/elections/{term}/ballots` | a token holder | a signed ballot |

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use meson_api::council::{
    BallotAccepted, Candidate, CouncilMember, CouncilStakes, CouncilTerm, CouncilView,
    ElectionView, Power, Seat, SnapshotView, StakesQuery,
};
use meson_core::council::Ballot;
use meson_core::identity::NodeId;
use meson_core::signed::SignedMessage;
use meson_ledger::format_amount;

use crate::http::error::{store_error, ApiError, ApiResult, JsonBody, PathParam, QueryParams};
use crate::services::error::ServiceResult;
use crate::services::{council, elections};
use crate::Shared;

#[utoipa::path(
    get, path = "/v1/council/term", tag = "council",
    responses((status = 200, description = "The current term", body = CouncilTerm))
)]
pub(crate) async fn term(State(s): State<Arc<Shared>>) -> Json<CouncilTerm> {
    let now = meson_node::unix_now();
    let term = s.params().council().term(now);
    let len = s.params().council().term_secs;
    Json(CouncilTerm {
        term,
        term_secs: len,
        start: term * len,
        end: (term + 1) * len,
        min_stake: format_amount(s.params().council().min_stake),
        release_at: s.params().council().release_at(term),
    })
}

#[utoipa::path(
    get, path = "/v1/council/stakes", tag = "council", params(StakesQuery),
    responses((status = 200, description = "Who locked stake for the term, largest first", body = CouncilStakes))
)]
pub(crate) async fn stakes(
    State(s): State<Arc<Shared>>,
    QueryParams(q): QueryParams<StakesQuery>,
) -> ApiResult<Json<CouncilStakes>> {
    let term = q
        .term
        .unwrap_or_else(|| s.params().council().term(meson_node::unix_now()));
    let members = council::members(&s, term)
        .await
        .into_iter()
        .map(|(amount, member)| CouncilMember {
            member,
            locked: format_amount(amount),
        })
        .collect();
    Ok(Json(CouncilStakes {
        term,
        release_at: s.params().council().release_at(term),
        members,
    }))
}

/// The view of `term`'s election (its window, snapshot and count as it stands).
async fn election_view(s: &Shared, term: u64) -> ServiceResult<ElectionView> {
    let rules = s.params().elections();
    let mut view = ElectionView {
        term,
        opens_at: rules.opens_at(term),
        closes_at: rules.closes_at(term),
        opened_at: None,
        snapshot_digest: None,
        voters: 0,
        ballots: 0,
        seats: s.params().elections().seats,
        count: Vec::new(),
    };
    let Some(e) = s.store.election(term).await? else {
        return Ok(view);
    };
    let (tally, seats) = elections::count(s, &e).await?;
    let locked = council::members(s, term).await;
    view.opened_at = Some(e.opened_at);
    view.snapshot_digest = Some(hex::encode(e.digest));
    view.voters = e.snapshot.len() as u64;
    view.ballots = s.store.ballots(term).await?.len() as u64;
    view.count = tally
        .iter()
        .filter_map(|(approval, c)| {
            Some(Candidate {
                candidate: NodeId::from_bytes(c).ok()?,
                approval: format_amount(*approval),
                locked: format_amount(
                    locked
                        .iter()
                        .find(|(_, m)| m.as_bytes() == c)
                        .map_or(0, |(a, _)| *a),
                ),
                seated: seats.contains(c),
            })
        })
        .collect();
    Ok(view)
}

#[utoipa::path(
    get, path = "/v1/council", tag = "council",
    responses((status = 200, description = "The seated council of the current term and the election of the next", body = CouncilView))
)]
pub(crate) async fn current(State(s): State<Arc<Shared>>) -> ApiResult<Json<CouncilView>> {
    let now = meson_node::unix_now();
    let term = s.params().council().term(now);
    let len = s.params().council().term_secs;
    let members = s
        .store
        .council_term(term)
        .await
        .map_err(store_error)?
        .map(|t| {
            t.members
                .iter()
                .filter_map(|(m, approval)| {
                    Some(Seat {
                        member: NodeId::from_bytes(m).ok()?,
                        approval: format_amount(*approval),
                    })
                })
                .collect()
        });
    Ok(Json(CouncilView {
        term,
        start: term * len,
        end: (term + 1) * len,
        seats: s.params().elections().seats,
        members,
        next: election_view(&s, term + 1).await?,
    }))
}

#[utoipa::path(
    get, path = "/v1/council/elections/{term}", tag = "council", params(("term" = u64, Path, description = "The term whose council is elected")),
    responses(
        (status = 200, description = "The election's window, snapshot digest and count", body = ElectionView),
        (status = 400, description = "Not a term"),
    )
)]
pub(crate) async fn election(
    State(s): State<Arc<Shared>>,
    PathParam(term): PathParam<u64>,
) -> ApiResult<Json<ElectionView>> {
    Ok(Json(election_view(&s, term).await?))
}

#[utoipa::path(
    get, path = "/v1/council/elections/{term}/snapshot", tag = "council", params(("term" = u64, Path, description = "The term whose council is elected")),
    responses(
        (status = 200, description = "Every key's voting power when the election opened", body = SnapshotView),
        (status = 400, description = "Not a term"),
        (status = 404, description = "The election has not opened"),
    )
)]
pub(crate) async fn snapshot(
    State(s): State<Arc<Shared>>,
    PathParam(term): PathParam<u64>,
) -> ApiResult<Json<SnapshotView>> {
    let e = s
        .store
        .election(term)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("the election of term {term} has not opened"),
            )
        })?;
    Ok(Json(SnapshotView {
        term,
        opened_at: e.opened_at,
        digest: hex::encode(e.digest),
        powers: e
            .snapshot
            .iter()
            .filter_map(|(k, p)| {
                Some(Power {
                    key: NodeId::from_bytes(k).ok()?,
                    power: format_amount(*p),
                })
            })
            .collect(),
    }))
}

#[utoipa::path(
    post, path = "/v1/council/elections/{term}/ballots", tag = "council", params(("term" = u64, Path, description = "The term whose council is elected")),
    request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed `Ballot` (purpose meson/v1/council-ballot)"),
    responses(
        (status = 200, description = "The ballot, counted with the voter's power in the snapshot", body = BallotAccepted),
        (status = 400, description = "Not a term, or a ballot for another term or network"),
        (status = 401, description = "The signature does not verify, or is stale"),
        (status = 409, description = "The election is not open, or the ballot names no candidate, too many or one twice"),
        (status = 422, description = "The voter held no tokens when the election opened"),
    )
)]
pub(crate) async fn ballot(
    State(s): State<Arc<Shared>>,
    PathParam(term): PathParam<u64>,
    JsonBody(msg): JsonBody<SignedMessage<Ballot>>,
) -> ApiResult<Json<BallotAccepted>> {
    let (voter, power, candidates) = elections::ballot(&s, term, msg).await?;
    Ok(Json(BallotAccepted {
        term,
        voter,
        power: format_amount(power),
        candidates,
    }))
}
