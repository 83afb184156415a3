//! What the router found about a terminal: the evidence it keeps (terminal-signed records that contradict
//! what it knows) and its spot-check audits. Readable by anyone: evidence is meant to be re-checked.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use meson_api::verification::{Audit, Evidence, UsageEvidence};
use meson_core::content::Root;
use meson_core::identity::NodeId;

use crate::http::error::{bad_request, ApiResult};
use crate::Shared;

/// Evidence and audits shown at most.
const SHOWN: usize = 100;

pub(crate) fn node(text: &str) -> ApiResult<NodeId> {
    text.parse()
        .map_err(|e| bad_request(format!("{text:?} is not a node id: {e}")))
}

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

pub(crate) async fn evidence(
    State(s): State<Arc<Shared>>,
    Path(text): Path<String>,
) -> ApiResult<Json<Evidence>> {
    let id = node(&text)?;
    let usage = s.store.usage_evidence(*id.as_bytes(), SHOWN).await?;
    let audits = s.store.audits(*id.as_bytes(), SHOWN, true).await?;
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
