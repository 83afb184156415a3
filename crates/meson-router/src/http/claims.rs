//! Claims over HTTP; the rules are in [`crate::services::claims`].
//!
//! | method, path | who | what |
//! | --- | --- | --- |
//! | `GET /v1/ledger/claims/{claim}` | anyone | the claim's accused, hunter, bond, window and status |
//! | `POST /v1/ledger/claims/{claim}/verdict` | operator | `{"upheld": true, "slash": "TOKENS"}` or `{"upheld": false}` |

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use meson_api::claims::{
    ClaimStatus, ClaimView, NoSlash, SlashShares, Verdict, VerdictRequest, VerdictSlash,
};
use meson_core::identity::NodeId;
use meson_ledger::accounts::TREASURY;
use meson_ledger::claims::Standing;
use meson_ledger::format_amount;

use crate::http::error::{bad_request, ApiResult, JsonBody, PathParam};
use crate::services::claims;
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

#[utoipa::path(
    get, path = "/v1/ledger/claims/{claim}", tag = "claims", params(("claim" = String, Path, description = "The claim's id: the BLAKE3 of the evidence, 64 hex digits")),
    responses(
        (status = 200, description = "The claim", body = ClaimView),
        (status = 400, description = "Not a claim id"),
        (status = 404, description = "No bond on this claim"),
    )
)]
pub(crate) async fn show(
    State(s): State<Arc<Shared>>,
    PathParam(claim): PathParam<String>,
) -> ApiResult<Json<ClaimView>> {
    let id = parse_claim(&claim)?;
    let c = claims::find(&s, &id).await?;
    let status = match Standing::of(&c.status, meson_node::unix_now()) {
        Standing::Open => ClaimStatus::Open,
        Standing::Upheld => ClaimStatus::Upheld,
        Standing::Rejected => ClaimStatus::Rejected,
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

/// Operator (the council's place until it exists): judges a claim once.
#[utoipa::path(
    post, path = "/v1/ledger/claims/{claim}/verdict", tags = ["claims", "operator"], params(("claim" = String, Path, description = "The claim's id: the BLAKE3 of the evidence, 64 hex digits")), request_body = VerdictRequest, security(("operator" = [])),
    responses(
        (status = 200, description = "What the verdict did", body = Verdict),
        (status = 400, description = "Not a claim id, an upheld claim without a slash, a rejected one with one, or an amount that is not tokens"),
        (status = 404, description = "No bond on this claim"),
        (status = 409, description = "Judged before, its window closed, or its evidence slashed already (it can only be upheld)"),
        (status = 422, description = "The ledger refuses it"),
        (status = 503, description = "The ledger could not write: nothing was applied"),
    )
)]
pub(crate) async fn verdict(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    PathParam(claim): PathParam<String>,
    JsonBody(req): JsonBody<VerdictRequest>,
) -> ApiResult<Json<Verdict>> {
    operator(&s, &headers)?;
    let id = parse_claim(&claim)?;
    Ok(Json(
        match claims::judge(&s, &id, req.upheld, req.slash.as_deref()).await? {
            claims::Verdict::Rejected { forfeited } => Verdict::Rejected {
                forfeited: format_amount(forfeited),
                to: TREASURY,
            },
            claims::Verdict::Upheld {
                slashed,
                bond_returned,
            } => Verdict::Upheld {
                slashed: match slashed {
                    Slashed::Now {
                        amount,
                        claimant,
                        burned,
                        treasury,
                        ..
                    } => VerdictSlash::Slashed(SlashShares {
                        amount: format_amount(amount),
                        claimant: format_amount(claimant),
                        burned: format_amount(burned),
                        treasury: format_amount(treasury),
                    }),
                    Slashed::Before => VerdictSlash::Not(NoSlash::Before),
                    Slashed::Nothing => VerdictSlash::Not(NoSlash::NothingAtStake),
                },
                bond_returned: format_amount(bond_returned),
            },
        },
    ))
}
