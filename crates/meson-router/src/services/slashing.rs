//! Automatic slashing on objective evidence: whenever the router holds signed messages that prove a
//! terminal cheated ([`meson_core::evidence`]: a failed audit answer, a usage record over the size of the
//! version it names, a serial claimed twice with other numbers, a held piece whose root is none of its
//! version's), it builds the [`Evidence`], verifies it as anyone would ([`evidence::verify`], in defence
//! in depth: what does not verify is never stored nor slashed), stores it durably under its id (BLAKE3 of
//! its canonical JSON) and slashes the accused once per id through [`super::stake::slash`], and once per
//! offence ([`Finding::offence`]: a wrong held piece reported again in a later heartbeat is new evidence
//! of the same offence, kept and slashed once):
//!
//! - the amount is `RouterConfig::slash_tokens` per piece of evidence, raised to cover the refunds owed,
//!   at most what is at stake; with nothing at stake the evidence is still kept (the terminal's quality
//!   suspends it anyway);
//! - the refunds come first: each site that paid for the accused's bytes in the affected epochs (those
//!   of the evidence's earliest and latest signed messages) gets back what it paid
//!   ([`meson_ledger::stake::owed`]), pro rata when the stake holds less;
//! - the rest is shared as `RouterConfig::slash_shares` says, the claimant's share to the treasury (the
//!   router is the protocol here; hunters' claims name their own claimant);
//! - an affected epoch not settled yet when the evidence comes is not paid at all for the accused
//!   ([`withheld`]): settlement leaves its usage out, so no site pays for a cheater's epoch and no refund
//!   has to chase a payment after the fact, which would need the slash to wait for the settlement.
//!
//! Evidence stored but not slashed (the router stopped in between) is slashed at the next start.

use meson_ledger::params::Param;
use std::sync::Arc;

use meson_core::content::Root;
use meson_core::evidence::{self, Evidence, Finding, KnownObject, KNOWN_OBJECT};
use meson_core::identity::NodeId;
use meson_core::signed::SignedMessage;
use meson_core::wire::{Heartbeat, UsageBatch};
use meson_ledger::accounts::TREASURY;
use meson_ledger::hunting::council_slash;
use meson_ledger::stake::{owed, Slash};
use meson_ledger::Amount;
use meson_store::{EvidenceRecord, SlashOutcome, SlashRecord};

use super::error::{ServiceError, ServiceResult};
use super::stake::{self, Slashed};
use crate::Shared;

/// Pieces of one heartbeat checked against known roots, at most: a heartbeat may report thousands.
const PIECES_CHECKED: usize = 256;
/// Unslashed evidence resumed at start, at most.
const RESUMED: usize = 1_000;

/// The router's signed statement of one version of an object it knows.
pub(crate) fn statement(
    s: &Shared,
    k: &meson_store::KnownObject,
) -> ServiceResult<SignedMessage<KnownObject>> {
    let body = KnownObject {
        site: k.site_id as u64,
        object: hex::encode(k.object_key),
        version: k.version.clone(),
        size: k.size,
        root: Root(k.root),
        slice_roots: k.slice_roots.iter().copied().map(Root).collect(),
        from_origin: k.source == meson_store::RootSource::Origin,
    };
    SignedMessage::sign(
        &s.key,
        KNOWN_OBJECT,
        meson_node::unix_now(),
        rand::random(),
        &body,
    )
    .map_err(|e| ServiceError::Invalid(format!("known object: {e}")))
}

/// The affected epochs of a finding: those of its earliest and latest signed messages.
fn epochs(s: &Shared, f: &Finding) -> (u64, u64) {
    let len = s.epoch_secs();
    (f.first_at / len, f.last_at / len)
}

/// The router's own slash: the configured amount, the claimant's share to the treasury (the router is
/// the protocol here).
fn router_claim(s: &Shared) -> Claim {
    Claim::Fixed {
        amount: s.params().get(Param::SlashTokens),
        to: TREASURY,
    }
}

/// Evidence the router found: verified, stored and slashed once. Evidence that does not verify is a bug
/// in what built it: logged, never stored.
pub(crate) async fn found(s: &Shared, evidence: Evidence) {
    let finding = match evidence::verify(&evidence, &s.id) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(kind = evidence.kind().as_str(), error = %e, "evidence built by the router does not verify: not used");
            return;
        }
    };
    let done = async {
        let record = store(s, &evidence, &finding).await?;
        if record.slash.is_none() {
            slash(s, &record, router_claim(s)).await?;
        }
        ServiceResult::Ok(())
    };
    if let Err(e) = done.await {
        tracing::warn!(terminal = %finding.terminal, error = %e, "cannot store or slash evidence");
    }
}

/// Stores verified evidence (once per id and per offence); the stored record, which is the one stored
/// before when the offence was proven before.
pub(crate) async fn store(
    s: &Shared,
    evidence: &Evidence,
    finding: &Finding,
) -> ServiceResult<EvidenceRecord> {
    let json = evidence.to_canonical();
    let id = *blake3::hash(json.as_bytes()).as_bytes();
    let (first_epoch, epoch) = epochs(s, finding);
    let record = EvidenceRecord {
        id,
        accused: *finding.terminal.as_bytes(),
        kind: finding.kind.as_str().into(),
        first_epoch,
        epoch,
        json,
        recorded_at: meson_node::unix_now(),
        offence: finding.offence.unwrap_or(id),
        slash: None,
    };
    if let Some(before) = s.store.record_evidence(&record).await? {
        return Ok(before);
    }
    metrics::counter!("meson_router_evidence_total", "kind" => finding.kind.as_str()).increment(1);
    tracing::warn!(terminal = %finding.terminal, kind = finding.kind.as_str(), id = %hex::encode(id), proves = %finding.proves, "objective evidence stored");
    disqualify(s, &record.accused, evidence_disqualifies(&record));
    Ok(record)
}

/// What a slash is for: the accused, and the epochs its offence touched (those of the evidence's
/// earliest and latest signed messages, or every epoch from a claim's first probe to its last), named by
/// the id of the evidence or claim, from which every transfer id derives.
pub(crate) struct Offence {
    pub id: [u8; 32],
    pub accused: [u8; 32],
    pub epochs: Vec<u64>,
}

/// How much to take and who gets the claimant's share.
pub(crate) enum Claim {
    /// `amount`, raised to cover the refunds owed, the claimant's share to the account `to`.
    Fixed { amount: Amount, to: u128 },
    /// A hunter's upheld claim: the router's penalty on top of the refunds owed
    /// ([`meson_ledger::hunting::council_slash`]), so the hunter's share survives the refunds; the
    /// claimant's share to the hunter's wallet `to`.
    Hunter { to: u128 },
}

/// Slashes the accused of `offence` (refunds first to the sites that paid for its bytes in the affected
/// epochs, at most what is at stake), as `claim` says.
pub(crate) async fn take(s: &Shared, offence: &Offence, claim: Claim) -> ServiceResult<Slashed> {
    let len = s.epoch_secs();
    let mut sites = Vec::new();
    for &e in &offence.epochs {
        let usage = s
            .store
            .usage_accepted_between(e * len, (e + 1) * len)
            .await?;
        sites.extend(
            usage
                .iter()
                .filter(|u| u.terminal == offence.accused)
                .map(|u| u.site_id),
        );
    }
    let owed = s
        .ledger
        .read(|l| owed(l, &offence.accused, &offence.epochs, &sites))
        .await;
    let (amount, claimant) = match claim {
        Claim::Fixed { amount, to } => (amount, to),
        Claim::Hunter { to } => {
            let owed_total = owed.iter().map(|r| r.amount).sum();
            // At most what is at stake is the slash plan's own cap.
            (
                council_slash(s.params().get(Param::SlashTokens), owed_total, Amount::MAX),
                to,
            )
        }
    };
    stake::slash(
        s,
        Slash {
            owner: offence.accused,
            amount,
            claimant,
            evidence: offence.id,
            owed,
        },
    )
    .await
}

/// Slashes for the stored evidence `record` as `claim` says, and records the outcome.
pub(crate) async fn slash(
    s: &Shared,
    record: &EvidenceRecord,
    claim: Claim,
) -> ServiceResult<(Slashed, SlashRecord)> {
    let offence = Offence {
        id: record.id,
        accused: record.accused,
        epochs: vec![record.first_epoch, record.epoch],
    };
    let done = take(s, &offence, claim).await?;
    let outcome = match &done {
        Slashed::Now {
            amount, refunded, ..
        } => SlashRecord {
            outcome: SlashOutcome::Slashed,
            slashed: *amount,
            refunded: *refunded,
        },
        Slashed::Before => SlashRecord {
            outcome: SlashOutcome::Before,
            slashed: 0,
            refunded: 0,
        },
        Slashed::Nothing => SlashRecord {
            outcome: SlashOutcome::NothingAtStake,
            slashed: 0,
            refunded: 0,
        },
    };
    s.store.record_slash(record.id, &outcome).await?;
    if let Slashed::Now {
        amount, refunded, ..
    } = &done
    {
        let node = NodeId::from_bytes(&record.accused)
            .map(|n| n.to_string())
            .unwrap_or_default();
        tracing::warn!(terminal = %node, kind = %record.kind, slashed = %meson_ledger::format_amount(*amount), refunded = %meson_ledger::format_amount(*refunded), "stake slashed on objective evidence");
    }
    Ok((done, outcome))
}

/// Takes the accused out of rotation for good: a terminal proven to cheat is not trusted with clients
/// again (as Storj disqualifies a node), whatever its audits say next; its operator joins again, if at
/// all, with a new key and a new stake, vetted from scratch.
pub(crate) fn disqualify(s: &Shared, accused: &[u8; 32], why: String) {
    if s.registry.disqualify(accused, why.clone()) {
        let node = NodeId::from_bytes(accused)
            .map(|n| n.to_string())
            .unwrap_or_default();
        tracing::warn!(terminal = %node, reason = %why, "terminal disqualified from rotation");
    }
}

fn evidence_disqualifies(record: &EvidenceRecord) -> String {
    format!(
        "disqualified: objective evidence of {} (GET /v1/evidence/{})",
        record.kind,
        hex::encode(record.id)
    )
}

/// At start: disqualifies the terminals with evidence against them, and slashes what was stored but not
/// slashed before the router last stopped.
pub(crate) async fn resume(s: Arc<Shared>) {
    for (node, _) in s.registry.urls() {
        match s.store.evidence_against(node, 1).await {
            Ok(found) => found
                .iter()
                .for_each(|r| disqualify(&s, &r.accused, evidence_disqualifies(r))),
            Err(e) => tracing::warn!(error = %e, "cannot read the evidence against a terminal"),
        }
    }
    retry(&s).await;
}

/// Slashes the evidence stored but not slashed (a stop or a shutdown came in between).
pub(crate) async fn retry(s: &Shared) {
    let pending = match s.store.unslashed_evidence(RESUMED).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read unslashed evidence");
            return;
        }
    };
    for record in pending {
        if let Err(e) = slash(s, &record, router_claim(s)).await {
            tracing::warn!(error = %e, "cannot slash stored evidence");
        }
    }
}

/// A usage record refused as over the size of the version it names: evidence when the version is strong.
pub(crate) async fn usage_over_size(s: &Shared, batch: SignedMessage<UsageBatch>, serial: u64) {
    let Ok(Some(claim)) = s.store.claim(serial).await else {
        return;
    };
    let Some(version) = claim.record.version.filter(|v| evidence::is_strong(v)) else {
        return;
    };
    let known = s
        .store
        .object_version(claim.record.site_id, claim.record.object_key, &version)
        .await;
    let Ok(Some(known)) = known else { return };
    match statement(s, &known) {
        Ok(known) => {
            found(
                s,
                Evidence::UsageOverSize {
                    batch,
                    serial,
                    known,
                },
            )
            .await
        }
        Err(e) => tracing::warn!(error = %e, "cannot sign a known object"),
    }
}

/// The batch stored with `serial`'s record, as the terminal signed it.
async fn stored_batch(s: &Shared, serial: u64) -> Option<SignedMessage<UsageBatch>> {
    let signed = s.store.claim(serial).await.ok()??.signed_batch?;
    serde_json::from_str(&signed).ok()
}

/// Records held until their version was learned, then refused as over its size.
pub(crate) async fn held_over_size(s: &Shared, serials: &[u64]) {
    for &serial in serials {
        if let Some(batch) = stored_batch(s, serial).await {
            usage_over_size(s, batch, serial).await;
        }
    }
}

/// A serial claimed again with other numbers: the batch that claimed it first and this one.
pub(crate) async fn serial_twice(s: &Shared, second: SignedMessage<UsageBatch>, serial: u64) {
    let Some(first) = stored_batch(s, serial).await else {
        // Stored before batches were kept for every record: nothing to prove it with.
        return;
    };
    found(
        s,
        Evidence::SerialTwice {
            serial,
            first,
            second,
        },
    )
    .await;
}

/// Checks the pieces a heartbeat reports held against the roots of the strongly versioned objects the
/// router knows: a piece that is none of its version's is evidence.
pub(crate) async fn check_pieces(
    s: Arc<Shared>,
    heartbeat: SignedMessage<Heartbeat>,
    h: Heartbeat,
) {
    let versioned = h
        .added
        .iter()
        .enumerate()
        .filter(|(_, p)| p.version.as_deref().is_some_and(evidence::is_strong))
        .take(PIECES_CHECKED);
    for (i, p) in versioned {
        let mut object = [0u8; 16];
        if hex::decode_to_slice(&p.object, &mut object).is_err() {
            continue;
        }
        let Ok(known) = s.store.known_objects(object).await else {
            continue;
        };
        let Some(k) = known
            .iter()
            .find(|k| Some(&k.version) == p.version.as_ref())
        else {
            continue;
        };
        let matches = k
            .pieces()
            .iter()
            .any(|(root, len)| *root == p.root && *len == p.len);
        if matches {
            continue;
        }
        match statement(&s, k) {
            Ok(known) => {
                found(
                    &s,
                    Evidence::RootMismatch {
                        heartbeat: heartbeat.clone(),
                        piece: i,
                        known,
                    },
                )
                .await
            }
            Err(e) => tracing::warn!(error = %e, "cannot sign a known object"),
        }
    }
}
