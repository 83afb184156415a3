//! The council over HTTP; terms and locks are in [`crate::services::council`].
//!
//! | method, path | who | what |
//! | --- | --- | --- |
//! | `GET /v1/council/term` | anyone | the current term, its bounds and the least stake |
//! | `GET /v1/council/stakes?term=N` | anyone | who locked stake for term `N` (default: current), largest first |

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use meson_api::council::{CouncilMember, CouncilStakes, CouncilTerm, StakesQuery};
use meson_ledger::format_amount;

use crate::http::error::{ApiResult, QueryParams};
use crate::services::council;
use crate::Shared;

#[utoipa::path(
    get, path = "/v1/council/term", tag = "council",
    responses((status = 200, description = "The current term", body = CouncilTerm))
)]
pub(crate) async fn term(State(s): State<Arc<Shared>>) -> Json<CouncilTerm> {
    let now = meson_node::unix_now();
    let term = s.cfg.council().term(now);
    let len = s.cfg.council_term_secs;
    Json(CouncilTerm {
        term,
        term_secs: len,
        start: term * len,
        end: (term + 1) * len,
        min_stake: format_amount(s.cfg.council_min_stake),
        release_at: s.cfg.council().release_at(term),
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
        .unwrap_or_else(|| s.cfg.council().term(meson_node::unix_now()));
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
        release_at: s.cfg.council().release_at(term),
        members,
    }))
}
