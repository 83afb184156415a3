//! Usage intake: the records terminals report, each accepted once per ticket serial and only under a
//! ticket this router issued to the reporting terminal.

use std::collections::BTreeMap;

use meson_core::identity::NodeId;
use meson_core::ticket::{Ticket, TicketError};
use meson_core::wire::{UsageReceipt, UsageRecord as Reported};
use meson_store::UsageRecord;

use super::error::ServiceResult;
use crate::Shared;

/// Why a usage record was refused; the text is what the receipt and the per-terminal tally show.
const FORGED: &str = "forged ticket (not signed by this router)";
const MALFORMED: &str = "malformed ticket";
const OTHER_TERMINAL: &str = "ticket issued to another terminal";
const BAD_NUMBERS: &str = "bytes, requests, hits or served_at out of range";

/// Checks that this router signed `token` for terminal `short_id`. Expiry does not apply (usage is
/// reported after the fact), nor do site, object and client (only the terminal saw the request).
fn check_ticket(router: &NodeId, short_id: u64, token: &str) -> Result<Ticket, &'static str> {
    Ticket::verify_issuer(token, router, short_id).map_err(|e| match e {
        TicketError::BadSignature => FORGED,
        TicketError::WrongTerminal { .. } => OTHER_TERMINAL,
        _ => MALFORMED,
    })
}

/// Accepts each of `records`, signed by the admitted terminal `signer`, whose ticket this router issued to
/// it, once, with bytes capped at the object's size when the router knows it (unknown sizes are taken as
/// reported: nothing has taught the router the size yet, and refusing would leave honest work unpaid).
/// Accepted records are durable before the receipt is returned.
pub(crate) async fn accept(
    s: &Shared,
    signer: &NodeId,
    records: &[Reported],
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
        let mut bytes = r.bytes;
        if let Some(size) = s.store.object_size(site_id, granted.object).await? {
            if bytes > size {
                metrics::counter!("meson_router_usage_capped_total").increment(1);
                bytes = size;
            }
        }
        batch.push(UsageRecord {
            serial: granted.serial,
            terminal,
            site_id,
            object_key: granted.object,
            bytes,
            requests: r.requests,
            hits: r.hits,
            served_at: r.served_at,
        });
    }
    let outcome = s.store.accept_usage(&batch).await?;
    for (reason, n) in &rejected {
        s.store.record_rejections(terminal, reason, *n).await?;
    }
    let receipt = UsageReceipt {
        accepted: outcome.accepted() as u64,
        duplicate: outcome.duplicates() as u64,
        rejected: rejected
            .into_iter()
            .map(|(reason, n)| (reason.to_owned(), n))
            .collect(),
    };
    metrics::counter!("meson_router_usage_records_total", "outcome" => "accepted")
        .increment(receipt.accepted);
    metrics::counter!("meson_router_usage_records_total", "outcome" => "duplicate")
        .increment(receipt.duplicate);
    metrics::counter!("meson_router_usage_records_total", "outcome" => "rejected")
        .increment(receipt.rejected.iter().map(|(_, n)| n).sum());
    Ok(receipt)
}
