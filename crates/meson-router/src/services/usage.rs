//! Usage intake: the records terminals report, each taken once per ticket serial and only under a
//! ticket this router issued to the reporting terminal, then judged against the object's size as the
//! router knows it ([`crate::services::roots`]): within it, accepted; over it, refused and kept with the
//! signed batch as evidence of inflation; unknown yet, held (stored, not counted) until the size is
//! learned, and the learner asked to fetch the object first. A record naming the origin's version it
//! served is judged against that version's size (held while the router does not know the version); one
//! without, against the largest known. Every record keeps its signed batch: a serial claimed again with
//! other numbers, and a record over its version's size, are evidence ([`super::slashing`]).

use std::collections::BTreeMap;

use meson_core::identity::NodeId;
use meson_core::signed::SignedMessage;
use meson_core::ticket::{Ticket, TicketError};
use meson_core::wire::{UsageBatch, UsageReceipt, UsageRecord as Reported};
use meson_store::{SignedBatch, UsageRecord, UsageState, UsageStatus};

use super::error::{ServiceError, ServiceResult};
use super::slashing;
use crate::Shared;

/// Why a usage record was refused; the text is what the receipt and the per-terminal tally show.
const FORGED: &str = "forged ticket (not signed by this router)";
const MALFORMED: &str = "malformed ticket";
const OTHER_TERMINAL: &str = "ticket issued to another terminal";
const BAD_NUMBERS: &str = "bytes, requests, hits or served_at out of range";
const INFLATED: &str = "bytes over the object's size (kept as evidence)";
const CLAIMED_TWICE: &str = "serial claimed before with other numbers (kept as evidence)";

/// Checks that this router signed `token` for terminal `short_id`. Expiry does not apply (usage is
/// reported after the fact), nor do site, object and client (only the terminal saw the request).
fn check_ticket(router: &NodeId, short_id: u64, token: &str) -> Result<Ticket, &'static str> {
    Ticket::verify_issuer(token, router, short_id).map_err(|e| match e {
        TicketError::BadSignature => FORGED,
        TicketError::WrongTerminal { .. } => OTHER_TERMINAL,
        _ => MALFORMED,
    })
}

/// Takes each of `records` (the body of `signed`, from the admitted terminal `signer`) whose ticket this
/// router issued to it, once per serial: accepted within the object's known size, refused as inflated over
/// it, held while the size is unknown. Held and inflated records are stored with `signed` as received.
/// Everything is durable before the receipt is returned.
pub(crate) async fn accept(
    s: &Shared,
    signer: &NodeId,
    records: &[Reported],
    signed: &SignedMessage<UsageBatch>,
) -> ServiceResult<UsageReceipt> {
    let terminal = *signer.as_bytes();
    let short_id = signer.short_id();
    let mut rejected: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut batch = Vec::with_capacity(records.len());
    for r in records {
        let granted = match check_ticket(&s.id, short_id, &r.ticket) {
            Ok(g) => g,
            Err(reason) => {
                *rejected.entry(reason).or_default() += 1;
                continue;
            }
        };
        let (Ok(site_id), Ok(_), Ok(_), Ok(_), true) = (
            i64::try_from(granted.site),
            i64::try_from(r.bytes),
            i64::try_from(r.served_at),
            i64::try_from(r.requests),
            r.hits <= r.requests,
        ) else {
            *rejected.entry(BAD_NUMBERS).or_default() += 1;
            continue;
        };
        let size = match &r.version {
            Some(v) => s
                .store
                .object_version(site_id, granted.object, v)
                .await?
                .map(|k| k.size),
            None => s.store.object_size(site_id, granted.object).await?,
        };
        let state = match size {
            Some(size) if r.bytes > size => UsageState::Inflated { size },
            Some(_) => UsageState::Accepted,
            None => UsageState::Held,
        };
        let record = UsageRecord {
            serial: granted.serial,
            terminal,
            site_id,
            object_key: granted.object,
            bytes: r.bytes,
            requests: r.requests,
            hits: r.hits,
            served_at: r.served_at,
            client_prefix: Some(granted.client_prefix),
            version: r.version.clone(),
        };
        batch.push((record, state));
    }
    let outcome = s
        .store
        .record_usage(&batch, Some(&signed_batch(terminal, signed)?))
        .await?;
    for ((record, _), status) in batch.iter().zip(&outcome.statuses) {
        match status {
            UsageStatus::Held => s.roots.want(record.site_id, record.object_key),
            UsageStatus::Inflated => {
                tracing::warn!(terminal = %signer, serial = record.serial, claimed = record.bytes, "usage over the object's size refused and kept as evidence");
                *rejected.entry(INFLATED).or_default() += 1;
                slashing::usage_over_size(s, signed.clone(), record.serial).await;
            }
            UsageStatus::Conflict => {
                tracing::warn!(terminal = %signer, serial = record.serial, "serial claimed again with other numbers");
                *rejected.entry(CLAIMED_TWICE).or_default() += 1;
                slashing::serial_twice(s, signed.clone(), record.serial).await;
            }
            _ => {}
        }
    }
    for (reason, n) in &rejected {
        s.store.record_rejections(terminal, reason, *n).await?;
    }
    let receipt = UsageReceipt {
        accepted: outcome.accepted() as u64,
        duplicate: outcome.duplicates() as u64,
        held: outcome.held() as u64,
        rejected: rejected
            .into_iter()
            .map(|(reason, n)| (reason.to_owned(), n))
            .collect(),
    };
    metrics::counter!("meson_router_usage_records_total", "outcome" => "accepted")
        .increment(receipt.accepted);
    metrics::counter!("meson_router_usage_records_total", "outcome" => "duplicate")
        .increment(receipt.duplicate);
    metrics::counter!("meson_router_usage_records_total", "outcome" => "held")
        .increment(receipt.held);
    metrics::counter!("meson_router_usage_records_total", "outcome" => "rejected")
        .increment(receipt.rejected.iter().map(|(_, n)| n).sum());
    Ok(receipt)
}

/// The batch as the terminal signed it: the signature covers the body text, which the envelope carries
/// verbatim, so the stored JSON re-verifies with `SignedMessage::verify_signature`.
fn signed_batch(
    terminal: [u8; 32],
    signed: &SignedMessage<UsageBatch>,
) -> ServiceResult<SignedBatch> {
    let text = serde_json::to_string(signed)
        .map_err(|e| ServiceError::Invalid(format!("usage batch: {e}")))?;
    Ok(SignedBatch {
        hash: *blake3::hash(text.as_bytes()).as_bytes(),
        terminal,
        signed: text,
    })
}
