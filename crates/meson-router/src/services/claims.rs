//! Hunters' claims: evidence against a staked terminal with a bond on it, filed with `POST /v1/claims`.
//! The claim's id is the BLAKE3 of its evidence, stored and served verbatim, and the hunter's signed
//! [`TxAction::Bond`] must name it. The router checks the evidence before it takes the bond:
//!
//! - **objective** evidence ([`meson_core::evidence::Evidence`]) must verify as anyone would verify it
//!   ([`evidence::verify`]) against the accused; the claim is then upheld at once
//!   ([`meson_ledger::claim_life::LifeRules::file`]), the accused slashed with the hunter as claimant
//!   and disqualified, and the bond returned;
//! - a **council** claim carries the hunter's probe record ([`probe::Record`]), which must judge the
//!   accused faulty by [`probe::judge`], the same code every member runs on its own re-probes; the
//!   council then reviews it ([`super::review`]).
//!
//! Hunters are held to [`meson_ledger::hunting::HuntRules`]: a least bond, and at most so many open
//! claims and claims a day each, so nobody floods the council. A verdict executes once
//! ([`execute`]): upheld, the accused's stake is slashed (refunds first to the sites that paid for its
//! bytes in the epochs of the evidence, then the hunter's share on top of them, burn and treasury) and
//! the bond returned; rejected, the bond is forfeited to the treasury; without a verdict (no quorum in
//! time), the bond is returned. Every transfer id derives from the claim, so an execution cut short by a
//! stop is finished, not repeated, at the next pass of the review loop.

use meson_api::claims::Execution;
use meson_core::evidence::{self, Evidence, Finding};
use meson_core::identity::NodeId;
use meson_core::probe;
use meson_core::signed::SignedMessage;
use meson_ledger::accounts::wallet_account;
use meson_ledger::claim_life::{self, Outcome, Phase};
use meson_ledger::claims::{self, Verdict};
use meson_ledger::hunting::may_file;
use meson_ledger::refusal::Refusal;
use meson_ledger::tx::{Tx, TxAction, TX};
use meson_ledger::{format_amount, Amount, LogRecord};
use meson_store::{ClaimKind, ClaimRecord};

use super::error::{ServiceError, ServiceResult};
use super::ledger::{log, submit};
use super::slashing::{self, Claim, Offence};
use super::stake::Slashed;
use super::transactions;
use crate::Shared;

/// The largest evidence a claim may carry: a probe record keeps bodies of up to 1 MiB verbatim (in
/// base64), so a handful of probes.
pub(crate) const MAX_EVIDENCE: usize = 8 << 20;
const DAY: u64 = 24 * 3600;

/// The rule every judge of a probe record applies: the router at filing, each member voting, and
/// `meson-cdn claim verify`.
pub(crate) fn rule() -> probe::Rule {
    probe::Rule::default()
}

pub(crate) fn phase_of(c: &ClaimRecord) -> ServiceResult<Phase> {
    serde_json::from_str(&c.phase).map_err(|e| {
        ServiceError::Invalid(format!(
            "the stored phase of claim {} is unreadable: {e}",
            hex::encode(c.id)
        ))
    })
}

pub(crate) fn phase_text(p: &Phase) -> String {
    serde_json::to_string(p).expect("a phase always serialises")
}

/// The claim `id`.
pub(crate) async fn find(s: &Shared, id: &[u8; 32]) -> ServiceResult<ClaimRecord> {
    s.store
        .claim_record(*id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no claim {}", hex::encode(id))))
}

/// Objective evidence against `accused`, parsed and verified.
fn objective(s: &Shared, text: &str, accused: &NodeId) -> ServiceResult<(Evidence, Finding)> {
    let ev: Evidence = serde_json::from_str(text)
        .map_err(|e| ServiceError::Invalid(format!("not objective evidence: {e}")))?;
    if ev.to_canonical() != text {
        return Err(ServiceError::Invalid(
            "objective evidence must be sent as its canonical JSON (as GET /v1/evidence/{id} serves it): its BLAKE3 is the claim's id".into(),
        ));
    }
    let finding = evidence::verify(&ev, &s.id)
        .map_err(|e| ServiceError::Refused(format!("the evidence does not verify: {e}")))?;
    if finding.terminal != *accused {
        return Err(ServiceError::Refused(format!(
            "the evidence accuses {}, not {accused}",
            finding.terminal
        )));
    }
    Ok((ev, finding))
}

/// A probe record against `accused`, parsed and judged; its first and last probe times.
fn record(s: &Shared, text: &str, accused: &NodeId) -> ServiceResult<(probe::Record, [u64; 2])> {
    let rec: probe::Record = serde_json::from_str(text)
        .map_err(|e| ServiceError::Invalid(format!("not a probe record: {e}")))?;
    let judged = probe::judge(&rec, &s.id, &rule())
        .map_err(|e| ServiceError::Invalid(format!("the probe record: {e}")))?;
    if judged.accused != *accused {
        return Err(ServiceError::Invalid(format!(
            "the probe record is of {}, not {accused}",
            judged.accused
        )));
    }
    if !judged.faulty {
        return Err(ServiceError::Refused(format!(
            "the probe record shows no fault: {}",
            judged.why
        )));
    }
    let times = rec.probes.iter().map(|p| p.at);
    let span = [times.clone().min().unwrap_or(0), times.max().unwrap_or(0)];
    // A claim answers for the epochs its probes span, refunds included: a bounded, recent window.
    if meson_node::unix_now().saturating_sub(span[0]) > DAY {
        return Err(ServiceError::Invalid(
            "the probe record holds probes older than a day".into(),
        ));
    }
    Ok((rec, span))
}

/// Files a claim: checks its evidence, takes the bond, stores it, and executes an objective one.
pub(crate) async fn file(
    s: &Shared,
    kind: ClaimKind,
    evidence: String,
    bond: SignedMessage<Tx>,
) -> ServiceResult<ClaimRecord> {
    if evidence.len() > MAX_EVIDENCE {
        return Err(ServiceError::Invalid(format!(
            "evidence of {} bytes is over the limit of {MAX_EVIDENCE}",
            evidence.len()
        )));
    }
    let id = claims::claim_id(evidence.as_bytes());
    let signed = bond.verify_signature(TX)?;
    let TxAction::Bond {
        claim,
        accused,
        amount,
    } = signed.body.action
    else {
        return Err(ServiceError::Invalid(
            "a claim's bond must be a bond transaction".into(),
        ));
    };
    if claim != id {
        return Err(ServiceError::Invalid(format!(
            "the bond names claim {}, but the evidence's BLAKE3 is {}",
            hex::encode(claim),
            hex::encode(id)
        )));
    }
    let hunter = *signed.signer.as_bytes();
    if hunter == *accused.as_bytes() {
        return Err(ServiceError::Invalid(
            "a key cannot file a claim against itself".into(),
        ));
    }
    // Until an objective claim has executed: the review loop finds it final from the moment it is
    // stored, and would execute it too.
    let _moving = s.claim_moves.lock().await;
    if s.store.claim_record(id).await?.is_some() {
        return Err(ServiceError::Conflict(format!(
            "claim {} was filed before",
            hex::encode(id)
        )));
    }
    let now = meson_node::unix_now();
    let (open, recent) = s
        .store
        .hunter_claims(hunter, now.saturating_sub(DAY))
        .await?;
    // Every limit a hunter is held to is a rule refusing a well-formed claim, the least bond included
    // (which the ledger's own bond check counts as malformed).
    may_file(&s.params().hunt(), saturate(open), saturate(recent), amount)
        .map_err(|r| ServiceError::Refused(r.to_string()))?;
    let epoch = s.epoch_secs();
    let (life_kind, span) = match kind {
        ClaimKind::Objective => {
            let (_, finding) = objective(s, &evidence, &accused)?;
            if s.store.evidence(id).await?.is_some() {
                return Err(ServiceError::Conflict(
                    "the router holds this evidence already and slashed for it".into(),
                ));
            }
            (
                claim_life::ClaimKind::Objective,
                [finding.first_at, finding.last_at],
            )
        }
        ClaimKind::Council => {
            let (_, span) = record(s, &evidence, &accused)?;
            (claim_life::ClaimKind::Council, span)
        }
    };
    transactions::apply_bond(s, bond.clone()).await?;
    let c = ClaimRecord {
        id,
        kind,
        accused: *accused.as_bytes(),
        hunter,
        evidence,
        bond_tx: serde_json::to_string(&bond).expect("a signed message always serialises"),
        bond: amount,
        filed_at: now,
        first_epoch: span[0] / epoch,
        last_epoch: span[1] / epoch,
        phase: phase_text(&s.params().life().file(life_kind, now)),
        executed: None,
    };
    if s.store.file_claim(&c).await?.is_some() {
        return Err(ServiceError::Conflict(format!(
            "claim {} was filed before",
            hex::encode(id)
        )));
    }
    log(
        s,
        LogRecord::ClaimFiled {
            claim: hex::encode(id),
            accused: hex::encode(c.accused),
            hunter: hex::encode(hunter),
            evidence: hex::encode(id),
        },
    )
    .await?;
    metrics::counter!("meson_router_claims_filed_total", "kind" => kind.as_str()).increment(1);
    tracing::warn!(claim = %hex::encode(id), kind = kind.as_str(), accused = %accused, hunter = %signed.signer, "claim filed");
    if kind == ClaimKind::Objective {
        execute(s, &c, &phase_of(&c)?).await?;
        return find(s, &id).await;
    }
    Ok(c)
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Carries out the final verdict (or the lack of one) of a claim once, and records what it moved.
pub(crate) async fn execute(s: &Shared, c: &ClaimRecord, phase: &Phase) -> ServiceResult<()> {
    let now = meson_node::unix_now();
    let returned = |slashed: Amount, refunded: Amount, reward: Amount| Execution {
        slashed: format_amount(slashed),
        refunded: format_amount(refunded),
        reward: format_amount(reward),
        bond: format_amount(c.bond),
        bond_returned: true,
    };
    let done = match phase {
        Phase::Final {
            outcome: Outcome::Upheld,
            ..
        } => {
            let (slashed, refunded, reward) = match uphold(s, c).await? {
                Slashed::Now {
                    amount,
                    refunded,
                    claimant,
                    ..
                } => (amount, refunded, claimant),
                Slashed::Before | Slashed::Nothing => (0, 0, 0),
            };
            return_bond(s, c, now).await?;
            returned(slashed, refunded, reward)
        }
        Phase::Final {
            outcome: Outcome::Rejected,
            ..
        } => match s
            .ledger
            .read(|l| claims::verdict(l, &c.id, false, None, now))
            .await
        {
            Ok(Verdict::Reject { transfers, .. }) => {
                submit(s, transfers).await?;
                Execution {
                    bond_returned: false,
                    ..returned(0, 0, 0)
                }
            }
            Ok(Verdict::Uphold { .. }) => unreachable!("a rejection is never an upholding"),
            // Forfeited before (an execution cut short), or the reservation ran out: whatever the
            // ledger holds now is what the verdict did.
            Err(Refusal::AlreadyJudged { .. }) => Execution {
                bond_returned: false,
                ..returned(0, 0, 0)
            },
            Err(Refusal::DisputeClosed) => returned(0, 0, 0),
            Err(e) => return Err(e.into()),
        },
        Phase::Expired { .. } => {
            return_bond(s, c, now).await?;
            returned(0, 0, 0)
        }
        _ => return Ok(()),
    };
    let json = serde_json::to_string(&done).expect("an execution always serialises");
    s.store
        .update_claim(c.id, &phase_text(phase), Some(&json))
        .await?;
    tracing::warn!(claim = %hex::encode(c.id), phase = %phase_text(phase), executed = %json, "claim executed");
    Ok(())
}

/// Slashes the accused of an upheld claim (the hunter's wallet the claimant) and takes it out of
/// rotation for good.
async fn uphold(s: &Shared, c: &ClaimRecord) -> ServiceResult<Slashed> {
    let to = wallet_account(&c.hunter);
    let accused = NodeId::from_bytes(&c.accused)
        .map_err(|e| ServiceError::Invalid(format!("the accused's key: {e}")))?;
    let slashed = match c.kind {
        ClaimKind::Objective => {
            let (ev, finding) = objective(s, &c.evidence, &accused)?;
            let record = slashing::store(s, &ev, &finding).await?;
            if record.slash.is_some() {
                Slashed::Before
            } else {
                slashing::slash(s, &record, Claim::Hunter { to }).await?.0
            }
        }
        ClaimKind::Council => {
            let offence = Offence {
                id: c.id,
                accused: c.accused,
                epochs: (c.first_epoch..=c.last_epoch).collect(),
            };
            let slashed = slashing::take(s, &offence, Claim::Hunter { to }).await?;
            slashing::disqualify(
                s,
                &c.accused,
                format!(
                    "disqualified: claim {} upheld by the council (GET /v1/claims/{})",
                    hex::encode(c.id),
                    hex::encode(c.id)
                ),
            );
            slashed
        }
    };
    Ok(slashed)
}

/// Returns a claim's bond to its hunter, once.
async fn return_bond(s: &Shared, c: &ClaimRecord, now: u64) -> ServiceResult<()> {
    match s.ledger.read(|l| claims::release(l, &c.id, now)).await {
        Ok(t) => {
            submit(s, vec![t]).await?;
            Ok(())
        }
        // Returned before (an execution cut short), or it went back when its reservation ran out.
        Err(Refusal::AlreadyJudged { .. } | Refusal::DisputeClosed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
