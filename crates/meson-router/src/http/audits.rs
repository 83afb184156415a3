//! What the router found about a terminal: the evidence it keeps (terminal-signed records that contradict
//! what it knows), its spot-check audits, and the objective evidence it slashed for, each piece served as
//! the exact bytes its id hashes. Readable by anyone: evidence is meant to be re-checked
//! (`meson-cdn evidence verify`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use meson_api::verification::{
    Audit, AuditEpoch, EpochsQuery, Evidence, SlashView, TerminalAudits, TerminalSlashes,
    UsageEvidence,
};
use meson_api::Hash32;
use meson_core::content::Root;

use crate::http::error::{
    bad_request, node, store_error, ApiError, ApiResult, PathParam, QueryParams,
};
use crate::services::audit::standing_of;
use crate::Shared;

/// Evidence and audits shown at most.
const SHOWN: usize = 100;

pub(crate) fn audit_view(a: &meson_store::AuditRecord) -> Audit {
    Audit {
        epoch: a.epoch,
        at: a.at,
        root: Root(a.root).to_string(),
        group: a.group,
        outcome: a.outcome.as_str().to_owned(),
        detail: a.detail.clone(),
        evidence: a.evidence.clone(),
    }
}

#[utoipa::path(
    get, path = "/v1/terminals/{node}/evidence", tag = "terminals", params(("node" = String, Path, description = "The terminal's node id")),
    responses(
        (status = 200, description = "The terminal-signed records that contradict what the router knows", body = Evidence),
        (status = 400, description = "Not a node id"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn evidence(
    State(s): State<Arc<Shared>>,
    PathParam(text): PathParam<String>,
) -> ApiResult<Json<Evidence>> {
    let id = node(&text)?;
    let usage = s
        .store
        .usage_evidence(*id.as_bytes(), SHOWN)
        .await
        .map_err(store_error)?;
    let audits = s
        .store
        .audits(*id.as_bytes(), SHOWN, true)
        .await
        .map_err(store_error)?;
    Ok(Json(Evidence {
        node_id: id.to_string(),
        usage: usage
            .into_iter()
            .map(|e| UsageEvidence {
                serial: e.serial,
                site_id: e.site_id,
                object_key: hex::encode(e.object_key),
                claimed: e.claimed,
                size: e.size,
                signed_batch: e.signed_batch,
                received_at: e.received_at,
            })
            .collect(),
        audits: audits.iter().map(audit_view).collect(),
    }))
}

#[utoipa::path(
    get, path = "/v1/terminals/{node}/audits", tag = "terminals", params(("node" = String, Path, description = "The terminal's node id"), EpochsQuery),
    responses(
        (status = 200, description = "The terminal's standing from spot-check audits, per epoch and latest", body = TerminalAudits),
        (status = 400, description = "Not a node id"),
        (status = 409, description = "This router does not audit terminals"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn audits(
    State(s): State<Arc<Shared>>,
    PathParam(text): PathParam<String>,
    QueryParams(q): QueryParams<EpochsQuery>,
) -> ApiResult<Json<TerminalAudits>> {
    let id = node(&text)?;
    let Some(cfg) = &s.audit_config() else {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "this router does not audit terminals (start it with audits on)".into(),
        ));
    };
    let terminal = *id.as_bytes();
    let (standing, tallies) = standing_of(&s, cfg, terminal).await.map_err(store_error)?;
    let epoch = meson_node::unix_now() / cfg.epoch_secs;
    let shown = q.epochs.unwrap_or(24).clamp(1, 24 * 365);
    let recent_rate = crate::services::audit::recent(&tallies, epoch, &cfg.rules).pass_rate();
    let recent = s
        .store
        .audits(terminal, 20, false)
        .await
        .map_err(store_error)?;
    let (routed, claimed) = s.holdings.sizes(&terminal);
    let disqualified = s.registry.disqualification(&terminal);
    Ok(Json(TerminalAudits {
        node_id: id.to_string(),
        epoch_secs: cfg.epoch_secs,
        epoch,
        passed: tallies.iter().map(|t| t.pass).sum(),
        standing: match &disqualified {
            Some(_) => "disqualified".to_owned(),
            None => standing.as_str().to_owned(),
        },
        pass_rate: recent_rate,
        suspended: disqualified.or_else(|| standing.suspension(&cfg.rules)),
        routed_sample: routed as u64,
        claimed_sample: claimed as u64,
        epochs: tallies
            .iter()
            .filter(|t| t.epoch + shown > epoch)
            .map(|t| AuditEpoch {
                epoch: t.epoch,
                pass: t.pass,
                fail: t.fail,
                missing: t.missing,
                not_held: t.not_held,
                timeout: t.timeout,
            })
            .collect(),
        recent: recent.iter().map(audit_view).collect(),
    }))
}

/// One piece of objective evidence, as the exact JSON bytes its id is the BLAKE3 of.
#[utoipa::path(
    get, path = "/v1/evidence/{id}", tag = "terminals", params(("id" = String, Path, description = "The evidence's id: BLAKE3 of its canonical JSON, 64 hex digits")),
    responses(
        (status = 200, description = "The evidence, byte for byte as stored", body = meson_core::evidence::Evidence),
        (status = 400, description = "Not 64 hex digits"),
        (status = 404, description = "No such evidence"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn evidence_by_id(
    State(s): State<Arc<Shared>>,
    PathParam(text): PathParam<String>,
) -> ApiResult<impl IntoResponse> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(&text, &mut id)
        .map_err(|_| bad_request(format!("{text:?} is not an evidence id (64 hex digits)")))?;
    let record = s
        .store
        .evidence(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no evidence {text}")))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        record.json,
    ))
}

#[utoipa::path(
    get, path = "/v1/terminals/{node}/slashes", tag = "terminals", params(("node" = String, Path, description = "The terminal's node id")),
    responses(
        (status = 200, description = "The objective evidence against the terminal and its slashes, newest first", body = TerminalSlashes),
        (status = 400, description = "Not a node id"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn slashes(
    State(s): State<Arc<Shared>>,
    PathParam(text): PathParam<String>,
) -> ApiResult<Json<TerminalSlashes>> {
    let id = node(&text)?;
    let found = s
        .store
        .evidence_against(*id.as_bytes(), SHOWN)
        .await
        .map_err(store_error)?;
    let tokens = |amount: Option<u128>| meson_ledger::format_amount(amount.unwrap_or(0));
    Ok(Json(TerminalSlashes {
        node_id: id.to_string(),
        slashes: found
            .into_iter()
            .map(|e| SlashView {
                id: Hash32(e.id),
                kind: e.kind,
                first_epoch: e.first_epoch,
                epoch: e.epoch,
                recorded_at: e.recorded_at,
                outcome: e.slash.map(|s| s.outcome.as_str().to_owned()),
                slashed: tokens(e.slash.map(|s| s.slashed)),
                refunded: tokens(e.slash.map(|s| s.refunded)),
            })
            .collect(),
    }))
}
