//! The council over HTTP; terms and locks are in [`crate::services::council`].
//!
//! | method, path | who | what |
//! | --- | --- | --- |
//! | `GET /v1/council/term` | anyone | the current term, its bounds and the least stake |
//! | `GET /v1/council/stakes?term=N` | anyone | who locked stake for term `N` (default: current), largest first |

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use meson_ledger::format_amount;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::error::ApiResult;
use crate::services::council;
use crate::Shared;

pub(crate) async fn term(State(s): State<Arc<Shared>>) -> Json<Value> {
    let now = meson_node::unix_now();
    let term = s.cfg.council().term(now);
    let len = s.cfg.council_term_secs;
    Json(json!({
        "term": term,
        "term_secs": len,
        "start": term * len,
        "end": (term + 1) * len,
        "min_stake": format_amount(s.cfg.council_min_stake),
        "release_at": s.cfg.council().release_at(term),
    }))
}

#[derive(Deserialize)]
pub(crate) struct StakesQuery {
    term: Option<u64>,
}

pub(crate) async fn stakes(
    State(s): State<Arc<Shared>>,
    Query(q): Query<StakesQuery>,
) -> ApiResult<Json<Value>> {
    let term = q
        .term
        .unwrap_or_else(|| s.cfg.council().term(meson_node::unix_now()));
    let rows: Vec<Value> = council::members(&s, term)
        .await
        .iter()
        .map(|(amount, id)| json!({ "member": id, "locked": format_amount(*amount) }))
        .collect();
    Ok(Json(json!({
        "term": term,
        "release_at": s.cfg.council().release_at(term),
        "members": rows,
    })))
}
