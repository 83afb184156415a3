//! Claims and their bonds. A hunter who finds objective evidence against a terminal (bytes that do not
//! match a root, a serial claimed twice, a failed spot check) files a claim: its id is the BLAKE3 of the
//! evidence, and a signed [`TxAction::Bond`](meson_core::ledger::tx::TxAction::Bond) reserves the
//! hunter's bond into the claim's escrow account (owned by the accused) as a pending transfer that
//! expires with the dispute window. The verdict resolves it exactly once:
//!
//! - **upheld**: the accused's stake is slashed (the hunter's wallet is the claimant) and the bond is
//!   voided back to the hunter;
//! - **rejected**: the bond is posted into the claim's escrow and forwarded to the treasury in one linked
//!   chain, so a frivolous claim costs its bond;
//! - **no verdict within the dispute window**: the reservation expires and the bond returns.
//!
//! Every transfer id derives from the claim, so a verdict retried after a crash finishes what it began
//! and never applies twice. The operator gives verdicts until the council does.
//!
//! | method, path | who | what |
//! | --- | --- | --- |
//! | `GET /v1/ledger/claims/{claim}` | anyone | the claim's accused, hunter, bond, window and status |
//! | `POST /v1/ledger/claims/{claim}/verdict` | operator | `{"upheld": true, "slash": "TOKENS"}` or `{"upheld": false}` |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use meson_core::economics::settlement_id;
use meson_core::identity::NodeId;
use meson_core::ledger::tx::{bond_transfer_id, claim_account, stake_account};
use meson_core::ledger::{
    format_amount, parse_amount, AccountKind, CommittedTransfer, PendingStatus, Transfer,
    TransferCode,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{bad_request, ApiError, ApiResult, JsonBody};
use crate::ledger::TREASURY;
use crate::ledger_api::{ledger_error, operator, submit};
use crate::stake::{resolve, Slashed};
use crate::Shared;

fn conflict(why: String) -> ApiError {
    ApiError(StatusCode::CONFLICT, why)
}

fn parse_claim(text: &str) -> ApiResult<[u8; 32]> {
    let mut claim = [0u8; 32];
    hex::decode_to_slice(text, &mut claim).map_err(|_| {
        bad_request(format!(
            "{text:?} is not a claim id (64 hex digits: the BLAKE3 of the evidence)"
        ))
    })?;
    Ok(claim)
}

/// The pending transfer that reserves a bond on `claim` from the hunter's `wallet`, after the checks a
/// hunter must pass: a bond of at least the minimum, against a key with stake, on a claim not yet bonded.
pub(crate) async fn bond(
    s: &Shared,
    wallet: u128,
    claim: &[u8; 32],
    accused: &NodeId,
    amount: u128,
) -> ApiResult<Transfer> {
    if amount < s.cfg.min_bond {
        return Err(bad_request(format!(
            "a claim's bond is at least {}",
            format_amount(s.cfg.min_bond)
        )));
    }
    let id = bond_transfer_id(claim);
    let (bonded, at_stake) = s
        .ledger
        .read(|l| {
            (
                l.transfer(id).is_some(),
                l.account(stake_account(accused.as_bytes()))
                    // Unbonding and council locks count: a slash takes them first.
                    .map(|a| a.credits_posted + a.credits_pending > a.debits_posted)
                    .unwrap_or(false),
            )
        })
        .await;
    if bonded {
        return Err(conflict(format!(
            "claim {} already has a bond",
            hex::encode(claim)
        )));
    }
    if !at_stake {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{accused} has nothing at stake: a claim against it could slash nothing"),
        ));
    }
    let escrow = s
        .ledger
        .open_account(
            claim_account(claim),
            AccountKind::Escrow,
            Some(*accused.as_bytes()),
            0,
        )
        .await
        .map_err(ledger_error)?;
    let mut t = Transfer::new(id, wallet, escrow, amount, TransferCode::Bond);
    t.flags.pending = true;
    t.timeout_secs = s.cfg.dispute_secs;
    Ok(t)
}

/// A claim as the ledger holds it: its bond, the accused, and where the bond stands.
struct Claim {
    bond: CommittedTransfer,
    accused: [u8; 32],
    status: PendingStatus,
}

async fn find(s: &Shared, claim: &[u8; 32]) -> ApiResult<Claim> {
    let id = bond_transfer_id(claim);
    let found = s
        .ledger
        .read(|l| {
            let bond = *l.transfer(id)?;
            let accused = l.account(bond.credit_account)?.owner?;
            Some(Claim {
                bond,
                accused,
                status: l.pending_status(id)?,
            })
        })
        .await;
    found.ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no bond on claim {}", hex::encode(claim)),
        )
    })
}

/// Where a claim stands, from its bond's pending status.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Standing {
    Open,
    Upheld,
    Rejected,
    /// The dispute window closed without a verdict.
    Expired,
}

impl Standing {
    fn of(status: &PendingStatus, now: u64) -> Standing {
        match status {
            PendingStatus::Pending {
                expires_at: Some(at),
            } if *at <= now => Standing::Expired,
            PendingStatus::Pending { .. } => Standing::Open,
            PendingStatus::Voided { .. } => Standing::Upheld,
            PendingStatus::Posted { .. } => Standing::Rejected,
            PendingStatus::Expired => Standing::Expired,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Standing::Open => "open",
            Standing::Upheld => "upheld",
            Standing::Rejected => "rejected",
            Standing::Expired => "expired",
        }
    }
}

pub(crate) async fn show(
    State(s): State<Arc<Shared>>,
    Path(claim): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_claim(&claim)?;
    let c = find(&s, &id).await?;
    let accused = NodeId::from_bytes(&c.accused).map(|n| n.to_string()).ok();
    Ok(Json(json!({
        "claim": claim.to_ascii_lowercase(),
        "accused": accused,
        "escrow_account": c.bond.credit_account.to_string(),
        "hunter_account": c.bond.debit_account.to_string(),
        "bond": format_amount(c.bond.amount),
        "filed_at": c.bond.timestamp,
        "expires_at": c.bond.timestamp.saturating_add(c.bond.transfer.timeout_secs),
        "status": Standing::of(&c.status, crate::unix_now()).as_str(),
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
    let c = find(&s, &id).await?;
    match Standing::of(&c.status, crate::unix_now()) {
        Standing::Open => {}
        Standing::Expired => {
            return Err(conflict(
                "the dispute window closed without a verdict: the bond went back to the hunter"
                    .into(),
            ))
        }
        done => {
            return Err(conflict(format!(
                "the claim was already judged: {}",
                done.as_str()
            )))
        }
    }
    let bond = c.bond.amount;
    if !req.upheld {
        if req.slash.is_some() {
            return Err(bad_request("a rejected claim slashes nothing"));
        }
        // Its evidence slashed already (an upheld verdict cut short, or the operator's own slash):
        // rejecting it now would take the bond of a hunter who was right.
        if crate::stake::slashed_for(&s, &id).await {
            return Err(conflict(
                "this claim's evidence has already slashed the accused: it can only be upheld"
                    .into(),
            ));
        }
        let forward = Transfer::new(
            settlement_id(&[b"forfeit-treasury", &id]),
            c.bond.credit_account,
            TREASURY,
            bond,
            TransferCode::Bond,
        );
        let mut forfeit = resolve(&c.bond, &[b"forfeit".as_slice(), &id].concat(), false);
        forfeit.flags.linked = true;
        submit(&s, vec![forfeit, forward]).await?;
        return Ok(Json(json!({
            "verdict": "rejected",
            "forfeited": format_amount(bond),
            "to": TREASURY.to_string(),
        })));
    }
    let amount = req.slash.as_deref().ok_or_else(|| {
        bad_request("an upheld claim names the stake to slash: \"slash\": TOKENS")
    })?;
    let amount = parse_amount(amount).map_err(|e| bad_request(format!("slash: {e}")))?;
    // The slash first: should the router stop between the two, the claim is still open and the
    // verdict, given again, finds this evidence used and only returns the bond.
    let slashed = crate::stake::slash(&s, &c.accused, amount, c.bond.debit_account, &id)
        .await
        .map_err(ledger_error)?;
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
        Slashed::Refused(why) => return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, why)),
    };
    let back = resolve(&c.bond, &[b"return".as_slice(), &id].concat(), true);
    submit(&s, vec![back]).await?;
    Ok(Json(json!({
        "verdict": "upheld",
        "slashed": slashed,
        "bond_returned": format_amount(bond),
    })))
}
