//! Claims over HTTP; the rules are in [`crate::services::claims`].
//!
//! | method, path | who | what |
//! | --- | --- | --- |
//! | `GET /v1/ledger/claims/{claim}` | anyone | the claim's accused, hunter, bond, window and status |
//! | `POST /v1/ledger/claims/{claim}/verdict` | operator | `{"upheld": true, "slash": "TOKENS"}` or `{"upheld": false}` |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use meson_core::identity::NodeId;
use meson_ledger::accounts::TREASURY;
use meson_ledger::claims::Standing;
use meson_ledger::format_amount;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::error::{bad_request, ApiResult, JsonBody};
use crate::services::claims::{self, Verdict};
use crate::services::ledger::operator;
use crate::services::stake::Slashed;
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

pub(crate) async fn show(
    State(s): State<Arc<Shared>>,
    Path(claim): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_claim(&claim)?;
    let c = claims::find(&s, &id).await?;
    let accused = NodeId::from_bytes(&c.accused).map(|n| n.to_string()).ok();
    Ok(Json(json!({
        "claim": claim.to_ascii_lowercase(),
        "accused": accused,
        "escrow_account": c.bond.credit_account.to_string(),
        "hunter_account": c.bond.debit_account.to_string(),
        "bond": format_amount(c.bond.amount),
        "filed_at": c.bond.timestamp,
        "expires_at": c.bond.timestamp.saturating_add(c.bond.transfer.timeout_secs),
        "status": Standing::of(&c.status, meson_node::unix_now()).as_str(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerdictRequest {
    upheld: bool,
    /// For an upheld claim: tokens of the accused's stake to slash (at most what is at stake is taken).
    slash: Option<String>,
}

/// Operator (the council's place until it exists): judges a claim once.
pub(crate) async fn verdict(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(claim): Path<String>,
    JsonBody(req): JsonBody<VerdictRequest>,
) -> ApiResult<Json<Value>> {
    operator(&s, &headers)?;
    let id = parse_claim(&claim)?;
    match claims::judge(&s, &id, req.upheld, req.slash.as_deref()).await? {
        Verdict::Rejected { forfeited } => Ok(Json(json!({
            "verdict": "rejected",
            "forfeited": format_amount(forfeited),
            "to": TREASURY.to_string(),
        }))),
        Verdict::Upheld {
            slashed,
            bond_returned,
        } => {
            let slashed = match slashed {
                Slashed::Now {
                    amount,
                    claimant,
                    burned,
                    treasury,
                } => json!({
                    "amount": format_amount(amount),
                    "claimant": format_amount(claimant),
                    "burned": format_amount(burned),
                    "treasury": format_amount(treasury),
                }),
                Slashed::Before => json!("before"),
                Slashed::Nothing => json!("nothing at stake"),
            };
            Ok(Json(json!({
                "verdict": "upheld",
                "slashed": slashed,
                "bond_returned": format_amount(bond_returned),
            })))
        }
    }
}
