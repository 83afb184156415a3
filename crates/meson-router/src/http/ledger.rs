//! The ledger over HTTP: its signed head and audit log for anyone, accounts by id, each site's escrow and
//! spend per epoch for its owner, a terminal's earnings per epoch, and the operator's mint.
//!
//! | method, path | who | what |
//! | --- | --- | --- |
//! | `GET /v1/ledger/head` | anyone | the head the router signs ([`meson_ledger::audit::SignedHead`]) |
//! | `GET /v1/ledger/log?after=N&limit=M` | anyone | audit log entries after `N` (at most 1000) |
//! | `GET /v1/ledger/accounts/{id}` | anyone | an account's totals, balance and available funds |
//! | `GET /v1/ledger/accounts/{id}/transfers?limit=N` | anyone | the account's transfers, newest first |
//! | `GET /v1/ledger/transfers/{id}` | anyone | one transfer as submitted, what it moved, and a pending one's status |
//! | `POST /v1/ledger/mint` | operator | `{"id","to" or "owner","amount"}`: new tokens into an account or a key's wallet (a purchase) |
//! | `POST /v1/ledger/correct` | operator | `{"reverses","amount"?}`: a transfer back (a burn, for a mint) fixing a mistaken one |
//! | `POST /v1/ledger/tx` | a key holder | a signed [`meson_ledger::tx::Tx`]: transfer, deposit, stake, unstake, claim bond or council stake from the signer's wallet |
//! | `GET /v1/sites/{host}/billing?epochs=N` | site owner | escrow account and balance, spend per epoch |
//! | `GET /v1/terminals/{node}/earnings?epochs=N` | anyone | a terminal's earnings account and payouts per epoch |
//! | `GET /v1/ledger/payouts/{epoch}` | anyone | the epoch's payout leaves and their Merkle root, signed |
//! | `GET /v1/ledger/payouts/{epoch}/proof/{account}` | anyone | one payout's leaf and audit path |

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use meson_core::identity::NodeId;
use meson_core::signed::SignedMessage;
use meson_ledger::accounts::{escrow_account, terminal_account};
use meson_ledger::claims::claim_id;
use meson_ledger::economics::{payout_root_message, PAYOUT_ROOT_DOMAIN};
use meson_ledger::merkle;
use meson_ledger::stake::Slash;
use meson_ledger::tx::Tx;
use meson_ledger::{format_amount, parse_amount, u128_string, Account};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::error::{bad_request, ApiError, ApiResult, JsonBody};
use crate::services::ledger;
use crate::services::statements::{epochs, leaf_hashes, payout_leaves, settled_per_epoch};
use crate::services::{billing, sites, stake, transactions};
use crate::Shared;

fn account_view(a: &Account) -> Value {
    let amount = |v: Option<u128>| v.map(format_amount);
    json!({
        "id": a.id.to_string(),
        "kind": a.kind,
        "balance": amount(a.balance()),
        "available": amount(a.available()),
        "debits_posted": a.debits_posted.to_string(),
        "credits_posted": a.credits_posted.to_string(),
        "debits_pending": a.debits_pending.to_string(),
        "credits_pending": a.credits_pending.to_string(),
    })
}

pub(crate) async fn head(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(s.ledger.head(&s.key).await))
}

#[derive(Deserialize)]
pub(crate) struct LogQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

pub(crate) async fn log(
    State(s): State<Arc<Shared>>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(1000).clamp(1, 1000);
    let entries = s.store.ledger_entries(q.after.unwrap_or(0), limit).await?;
    let next = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            json!({
                "seq": e.seq,
                "prev_hash": hex::encode(e.prev_hash),
                "hash": hex::encode(e.hash),
                "body": e.body,
            })
        })
        .collect();
    Ok(Json(json!({ "entries": entries, "next": next })))
}

pub(crate) async fn account(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id: u128 = id
        .parse()
        .map_err(|_| bad_request(format!("{id:?} is not an account id (a decimal number)")))?;
    match s.ledger.account(id).await {
        Some(a) => Ok(Json(account_view(&a))),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("unknown account {id}"),
        )),
    }
}

/// One committed transfer as submitted, what it moved, and, for a pending one, where it stands.
pub(crate) async fn transfer(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id: u128 = id
        .parse()
        .map_err(|_| bad_request(format!("{id:?} is not a transfer id (a decimal number)")))?;
    let found = s
        .ledger
        .read(|l| l.transfer(id).map(|t| (*t, l.pending_status(id))))
        .await;
    let (t, pending) =
        found.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no transfer {id}")))?;
    Ok(Json(json!({
        "transfer": t.transfer,
        "debit_account": t.debit_account.to_string(),
        "credit_account": t.credit_account.to_string(),
        "amount": format_amount(t.amount),
        "at": t.timestamp,
        "pending": pending,
    })))
}

#[derive(Deserialize)]
pub(crate) struct HistoryQuery {
    limit: Option<usize>,
}

pub(crate) async fn history(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Value>> {
    let id: u128 = id
        .parse()
        .map_err(|_| bad_request(format!("{id:?} is not an account id (a decimal number)")))?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let rows: Vec<Value> = s
        .ledger
        .read(|l| {
            l.transfers_of(id, limit)
                .into_iter()
                .map(|t| {
                    let pending = t.transfer.flags.pending;
                    json!({
                        "id": t.transfer.id.to_string(),
                        "at": t.timestamp,
                        "code": t.transfer.code,
                        "direction": if t.credit_account == id { "in" } else { "out" },
                        "counterparty": if t.credit_account == id { t.debit_account } else { t.credit_account }.to_string(),
                        "amount": format_amount(t.amount),
                        "pending": pending,
                    })
                })
                .collect()
        })
        .await;
    Ok(Json(
        json!({ "account": id.to_string(), "transfers": rows }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MintRequest {
    /// The transfer id: the same request sent twice mints once.
    #[serde(with = "u128_string")]
    id: u128,
    /// An account id, or:
    #[serde(default, with = "u128_string::option")]
    to: Option<u128>,
    /// a public key whose wallet account receives the tokens (opened if need be).
    owner: Option<NodeId>,
    /// Tokens, with up to 9 decimals.
    amount: String,
}

pub(crate) async fn mint(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<MintRequest>,
) -> ApiResult<Json<Value>> {
    ledger::operator(&s, &headers)?;
    let amount = parse_amount(&req.amount).map_err(|e| bad_request(format!("amount: {e}")))?;
    let (outcome, to) = ledger::mint(&s, req.id, req.to, req.owner, amount).await?;
    Ok(Json(
        json!({ "outcome": outcome, "account": to.to_string(), "amount": format_amount(amount) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlashRequest {
    /// Whose stake: a terminal's (or any staker's) public key.
    owner: NodeId,
    /// Tokens, with up to 9 decimals (at most what is at stake is taken).
    amount: String,
    /// The account paid the claimant's share.
    #[serde(with = "u128_string")]
    claimant: u128,
    /// The objective evidence (bytes not matching a root, a serial claimed twice, a failed spot
    /// check), as the audit that found it recorded it; its BLAKE3 makes the slash's transfer ids, so one
    /// piece of evidence slashes once.
    evidence: Value,
}

/// Operator: slashes stake for objective evidence, shared between claimant, burn and treasury.
pub(crate) async fn slash(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SlashRequest>,
) -> ApiResult<Json<Value>> {
    ledger::operator(&s, &headers)?;
    let amount = parse_amount(&req.amount).map_err(|e| bad_request(format!("amount: {e}")))?;
    let evidence = claim_id(req.evidence.to_string().as_bytes());
    let slash = Slash {
        owner: *req.owner.as_bytes(),
        amount,
        claimant: req.claimant,
        evidence,
    };
    let done = stake::slash(&s, slash).await?;
    match done {
        stake::Slashed::Now {
            amount,
            claimant,
            burned,
            treasury,
        } => Ok(Json(json!({
            "slashed": format_amount(amount),
            "claimant": format_amount(claimant),
            "burned": format_amount(burned),
            "treasury": format_amount(treasury),
            "evidence": hex::encode(evidence),
        }))),
        stake::Slashed::Before => Err(ApiError(
            StatusCode::CONFLICT,
            "this evidence was already used to slash".into(),
        )),
        stake::Slashed::Nothing => Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing at stake to slash".into(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CorrectRequest {
    /// The committed transfer that was a mistake.
    #[serde(with = "u128_string")]
    reverses: u128,
    /// Tokens to move back, with up to 9 decimals (default: all it moved).
    amount: Option<String>,
}

/// Operator: fixes a mistaken transfer by a new one the other way (a mistaken mint by a burn), never by
/// an edit. Its id derives from the transfer it corrects, and `user_data` names it: one correction per
/// transfer, and the audit log shows what it corrects.
pub(crate) async fn correct(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CorrectRequest>,
) -> ApiResult<Json<Value>> {
    ledger::operator(&s, &headers)?;
    let c = ledger::correct(&s, req.reverses, req.amount.as_deref()).await?;
    Ok(Json(json!({
        "transfer": c.id.to_string(),
        "reverses": req.reverses.to_string(),
        "from": c.from.to_string(),
        "to": c.to.to_string(),
        "amount": format_amount(c.amount),
        "code": c.code,
    })))
}

/// A transaction signed by a key holder: a transfer or a deposit from its wallet account.
pub(crate) async fn tx(
    State(s): State<Arc<Shared>>,
    JsonBody(msg): JsonBody<SignedMessage<Tx>>,
) -> ApiResult<Json<Value>> {
    let done = transactions::apply(&s, msg).await?;
    Ok(Json(json!({
        "transfer": done.transfer.to_string(),
        "from": done.from.to_string(),
        "to": done.to.to_string(),
        "amount": format_amount(done.amount),
    })))
}

#[derive(Deserialize)]
pub(crate) struct EpochsQuery {
    epochs: Option<u64>,
}

pub(crate) async fn site_billing(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(host): Path<String>,
    Query(q): Query<EpochsQuery>,
) -> ApiResult<Json<Value>> {
    let site = sites::owned_site(&s, &headers, &host).await?;
    let (epoch_secs, epochs) = epochs(&s, q.epochs)?;
    let escrow = escrow_account(site.id);
    let per = settled_per_epoch(&s, epoch_secs, &epochs, |id, _| id == site.id).await?;
    // Read after the epochs, so a balance is never older than the settlements shown with it.
    let balance = s.ledger.account(escrow).await.map(|a| account_view(&a));
    let rows: Vec<Value> = per
        .iter()
        .map(|(e, t)| {
            json!({ "epoch": e, "start": e * epoch_secs, "bytes": t.bytes, "settled": t.settled,
                    "spent": format_amount(t.fee + t.earned), "fee_burned": format_amount(t.fee),
                    "paid_to_terminals": format_amount(t.earned) })
        })
        .collect();
    Ok(Json(json!({
        "host": site.host,
        "escrow_account": escrow.to_string(),
        "escrow": balance,
        "funded": !s.unfunded.contains(site.id),
        // Funded for less than one more epoch at the last epoch's spend: top up before it runs dry.
        "low_funds": s.unfunded.is_low(site.id),
        "epoch_secs": epoch_secs,
        "epochs": rows,
    })))
}

pub(crate) async fn terminal_earnings(
    State(s): State<Arc<Shared>>,
    Path(node): Path<String>,
    Query(q): Query<EpochsQuery>,
) -> ApiResult<Json<Value>> {
    let id: NodeId = node
        .parse()
        .map_err(|e| bad_request(format!("{node:?} is not a node id: {e}")))?;
    let (epoch_secs, epochs) = epochs(&s, q.epochs)?;
    let account = terminal_account(id.as_bytes());
    let per = settled_per_epoch(&s, epoch_secs, &epochs, |_, t| t == id.as_bytes()).await?;
    let mut rows: Vec<Value> = Vec::with_capacity(per.len());
    for (e, t) in &per {
        // Kept apart from `earned` so what customers paid and what the treasury added stay visible.
        let subsidy = billing::subsidy_paid(&s, *e, id.as_bytes()).await;
        rows.push(
            json!({ "epoch": e, "start": e * epoch_secs, "bytes": t.bytes, "settled": t.settled,
                    "earned": format_amount(t.earned), "subsidy": format_amount(subsidy) }),
        );
    }
    Ok(Json(json!({
        "node_id": id.to_string(),
        "account": account.to_string(),
        "balance": s.ledger.account(account).await.map(|a| account_view(&a)),
        "epoch_secs": epoch_secs,
        "epochs": rows,
    })))
}

pub(crate) async fn payouts(
    State(s): State<Arc<Shared>>,
    Path(epoch): Path<u64>,
) -> ApiResult<Json<Value>> {
    let leaves = payout_leaves(&s, epoch).await?;
    let root = merkle::root(&leaf_hashes(epoch, &leaves));
    let signature = s
        .key
        .sign(
            PAYOUT_ROOT_DOMAIN,
            &payout_root_message(epoch, leaves.len() as u64, &root),
        )
        .to_string();
    let rows: Vec<Value> = leaves
        .iter()
        .map(|(i, a, v)| json!({ "index": i, "account": a.to_string(), "amount": v.to_string() }))
        .collect();
    Ok(Json(json!({
        "epoch": epoch,
        "root": hex::encode(root),
        "size": leaves.len(),
        "signer": s.id,
        "signature": signature,
        "leaves": rows,
    })))
}

pub(crate) async fn payout_proof(
    State(s): State<Arc<Shared>>,
    Path((epoch, account)): Path<(u64, String)>,
) -> ApiResult<Json<Value>> {
    let account: u128 = account
        .parse()
        .map_err(|_| bad_request(format!("{account:?} is not an account id")))?;
    let leaves = payout_leaves(&s, epoch).await?;
    let Some(&(index, _, amount)) = leaves.iter().find(|(_, a, _)| *a == account) else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("account {account} has no payout in epoch {epoch}"),
        ));
    };
    let hashes = leaf_hashes(epoch, &leaves);
    let path: Vec<String> = merkle::inclusion_path(&hashes, index as usize)
        .iter()
        .map(hex::encode)
        .collect();
    Ok(Json(json!({
        "epoch": epoch,
        "index": index,
        "account": account.to_string(),
        "amount": amount.to_string(),
        "size": leaves.len(),
        "path": path,
        "root": hex::encode(merkle::root(&hashes)),
    })))
}
