//! The ledger over HTTP: its signed head and audit log for anyone, accounts by id, each site's escrow and
//! spend per epoch for its owner, a terminal's earnings per epoch, and the operator's mint.
//!
//! | method, path | who | what |
//! | --- | --- | --- |
//! | `GET /v1/ledger/head` | anyone | the head the router signs ([`meson_core::ledger::audit::SignedHead`]) |
//! | `GET /v1/ledger/log?after=N&limit=M` | anyone | audit log entries after `N` (at most 1000) |
//! | `GET /v1/ledger/accounts/{id}` | anyone | an account's totals, balance and available funds |
//! | `GET /v1/ledger/accounts/{id}/transfers?limit=N` | anyone | the account's transfers, newest first |
//! | `GET /v1/ledger/transfers/{id}` | anyone | one transfer as submitted, what it moved, and a pending one's status |
//! | `POST /v1/ledger/mint` | operator | `{"id","to" or "owner","amount"}`: new tokens into an account or a key's wallet (a purchase) |
//! | `POST /v1/ledger/correct` | operator | `{"reverses","amount"?}`: a transfer back (a burn, for a mint) fixing a mistaken one |
//! | `POST /v1/ledger/tx` | a key holder | a signed [`meson_core::ledger::tx::Tx`]: transfer, deposit, stake, unstake, claim bond or council stake from the signer's wallet |
//! | `GET /v1/sites/{host}/billing?epochs=N` | site owner | escrow account and balance, spend per epoch |
//! | `GET /v1/terminals/{node}/earnings?epochs=N` | anyone | a terminal's earnings account and payouts per epoch |
//! | `GET /v1/ledger/payouts/{epoch}` | anyone | the epoch's payout leaves and their Merkle root, signed |
//! | `GET /v1/ledger/payouts/{epoch}/proof/{account}` | anyone | one payout's leaf and audit path |

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use meson_core::economics::{payout_leaf, payout_root_message, settlement_id, PAYOUT_ROOT_DOMAIN};
use meson_core::identity::NodeId;
use meson_core::ledger::tx::{
    stake_account, tx_transfer_id, wallet_account, Tx, TxAction, MAX_TX_LIFETIME_SECS, TX,
};
use meson_core::ledger::{
    format_amount, parse_amount, u128_string, Account, AccountKind, Batch, BatchResults, Outcome,
    Transfer, TransferCode, TransferError,
};
use meson_core::merkle;
use meson_core::signed::SignedMessage;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{bad_request, owned_site, ApiError, ApiResult, JsonBody};
use crate::billing::{escrow_account, terminal_account};
use crate::ledger::{BURN, ISSUANCE};
use crate::Shared;

pub(crate) fn ledger_error(e: crate::ledger::LedgerError) -> ApiError {
    tracing::error!(error = %e, "ledger write failed");
    ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("ledger: {e}"))
}

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

/// Checks the operator's bearer token in constant time.
pub(crate) fn operator(s: &Shared, headers: &HeaderMap) -> ApiResult<()> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = s.operator_token.as_bytes();
    let same = presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "operator token required (DATA_DIR/operator.token)".into(),
        ))
    }
}

pub(crate) async fn mint(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<MintRequest>,
) -> ApiResult<Json<Value>> {
    operator(&s, &headers)?;
    let amount = parse_amount(&req.amount).map_err(|e| bad_request(format!("amount: {e}")))?;
    let to = match (req.to, req.owner) {
        (Some(to), None) => to,
        (None, Some(owner)) => open_wallet(&s, &owner).await?,
        _ => {
            return Err(bad_request(
                "give exactly one of to (an account id) and owner (a public key)",
            ))
        }
    };
    let transfer = Transfer::new(req.id, ISSUANCE, to, amount, TransferCode::Mint);
    let outcome = one_transfer(&s, transfer).await?;
    Ok(Json(
        json!({ "outcome": outcome, "account": to.to_string(), "amount": format_amount(amount) }),
    ))
}

/// Opens the wallet account of `owner` (idempotent) and returns its id.
async fn open_wallet(s: &Shared, owner: &NodeId) -> ApiResult<u128> {
    let owner = *owner.as_bytes();
    s.ledger
        .open_account(
            wallet_account(&owner),
            AccountKind::Customer,
            Some(owner),
            0,
        )
        .await
        .map_err(ledger_error)
}

/// Opens the stake account of `owner` (idempotent) and returns its id.
pub(crate) async fn open_stake(s: &Shared, owner: &[u8; 32]) -> ApiResult<u128> {
    s.ledger
        .open_account(stake_account(owner), AccountKind::Stake, Some(*owner), 0)
        .await
        .map_err(ledger_error)
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
    operator(&s, &headers)?;
    let amount = parse_amount(&req.amount).map_err(|e| bad_request(format!("amount: {e}")))?;
    let evidence = *blake3::hash(req.evidence.to_string().as_bytes()).as_bytes();
    let done = crate::stake::slash(&s, req.owner.as_bytes(), amount, req.claimant, &evidence)
        .await
        .map_err(ledger_error)?;
    match done {
        crate::stake::Slashed::Now {
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
        crate::stake::Slashed::Before => Err(ApiError(
            StatusCode::CONFLICT,
            "this evidence was already used to slash".into(),
        )),
        crate::stake::Slashed::Nothing => Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing at stake to slash".into(),
        )),
        crate::stake::Slashed::Refused(why) => Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, why)),
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
    operator(&s, &headers)?;
    let id = settlement_id(&[b"correction", &req.reverses.to_le_bytes()]);
    let (original, done) = s
        .ledger
        .read(|l| (l.transfer(req.reverses).copied(), l.transfer(id).is_some()))
        .await;
    let original = original.ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no transfer {}", req.reverses),
        )
    })?;
    if done {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("transfer {} was already corrected by {id}", req.reverses),
        ));
    }
    let refused = |why: &str| ApiError(StatusCode::UNPROCESSABLE_ENTITY, why.to_owned());
    let flags = original.transfer.flags;
    if flags.pending || flags.void_pending {
        return Err(refused(
            "a reservation moved nothing: it ends by its post, void or expiry",
        ));
    }
    let (code, to) = match original.transfer.code {
        TransferCode::Burn => {
            return Err(refused("burned tokens are gone: a burn is never reversed"))
        }
        // The issuance account is never credited: what was minted by mistake is burned.
        TransferCode::Mint => (TransferCode::Burn, BURN),
        _ => (TransferCode::Correction, original.debit_account),
    };
    let amount = match &req.amount {
        Some(a) => parse_amount(a).map_err(|e| bad_request(format!("amount: {e}")))?,
        None => original.amount,
    };
    if amount == 0 || amount > original.amount {
        return Err(bad_request(format!(
            "a correction moves more than 0 and at most the {} the transfer moved",
            format_amount(original.amount)
        )));
    }
    let mut t = Transfer::new(id, original.credit_account, to, amount, code);
    t.user_data = req.reverses;
    one_transfer(&s, t).await?;
    Ok(Json(json!({
        "transfer": id.to_string(),
        "reverses": req.reverses.to_string(),
        "from": original.credit_account.to_string(),
        "to": to.to_string(),
        "amount": format_amount(amount),
        "code": code,
    })))
}

/// Submits `transfers` (a linked chain, or one transfer); a refusal becomes a `422` that says why.
pub(crate) async fn submit(s: &Shared, transfers: Vec<Transfer>) -> ApiResult<Vec<Outcome>> {
    let results = s
        .ledger
        .submit(Batch::CreateTransfers {
            now: crate::unix_now(),
            transfers,
        })
        .await
        .map_err(ledger_error)?;
    let refused = |why: String| ApiError(StatusCode::UNPROCESSABLE_ENTITY, why);
    let BatchResults::Transfers(results) = results else {
        return Err(bad_request("unexpected batch result"));
    };
    // In a failed chain the others report only that the chain failed: name the transfer that did.
    let failed = results
        .iter()
        .find(|r| !matches!(r, Err(TransferError::LinkedEventFailed) | Ok(_)))
        .or_else(|| results.iter().find(|r| r.is_err()));
    match failed {
        Some(Err(TransferError::ExceedsCredits)) => Err(refused("insufficient funds".into())),
        Some(Err(TransferError::CreditAccountNotFound)) => Err(refused(
            "unknown account: the recipient has no ledger account".into(),
        )),
        Some(Err(e)) => Err(refused(e.to_string())),
        _ => Ok(results.into_iter().flatten().collect()),
    }
}

/// Submits one transfer, as [`submit`].
async fn one_transfer(s: &Shared, transfer: Transfer) -> ApiResult<Outcome> {
    submit(s, vec![transfer])
        .await?
        .pop()
        .ok_or_else(|| bad_request("empty batch"))
}

/// A transaction signed by a key holder: a transfer or a deposit from its wallet account.
pub(crate) async fn tx(
    State(s): State<Arc<Shared>>,
    JsonBody(msg): JsonBody<SignedMessage<Tx>>,
) -> ApiResult<Json<Value>> {
    let v = {
        let mut guard = s.replay.lock().unwrap_or_else(|e| e.into_inner());
        msg.verify(TX, crate::unix_now(), &mut guard)
    }
    .map_err(crate::control::refused)?;
    let tx = v.body;
    if tx.network != s.cfg.network {
        return Err(bad_request(format!(
            "the transaction is for network {:?}; this router's is {:?}",
            tx.network, s.cfg.network
        )));
    }
    let now = crate::unix_now();
    if tx.expires < now {
        return Err(bad_request(format!(
            "the transaction expired at {}",
            tx.expires
        )));
    }
    if tx.expires > now + MAX_TX_LIFETIME_SECS {
        return Err(bad_request(format!(
            "expiry more than {MAX_TX_LIFETIME_SECS} s ahead"
        )));
    }
    let from = open_wallet(&s, &v.signer).await?;
    let owner = *v.signer.as_bytes();
    let id = tx_transfer_id(&owner, tx.nonce);
    let transfer = match tx.action {
        TxAction::Transfer { to, amount } => {
            Transfer::new(id, from, to, amount, TransferCode::Transfer)
        }
        TxAction::Deposit { site, amount } => {
            let found = s.store.site_by_host(&site.to_ascii_lowercase()).await?;
            let site =
                found.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no site {site}")))?;
            let escrow = crate::billing::open_escrow(&s, site.id)
                .await
                .map_err(ledger_error)?;
            Transfer::new(id, from, escrow, amount, TransferCode::Deposit)
        }
        TxAction::Stake { amount } => {
            let stake = open_stake(&s, &owner).await?;
            Transfer::new(id, from, stake, amount, TransferCode::Stake)
        }
        TxAction::Unstake { amount } => {
            let stake = open_stake(&s, &owner).await?;
            let mut t = Transfer::new(id, stake, from, amount, TransferCode::Unstake);
            t.flags.pending = true;
            // Released by the router after the unbonding period; until then still slashable.
            t.user_data = u128::from(now + s.cfg.unbonding_secs);
            t
        }
        TxAction::Bond {
            claim,
            accused,
            amount,
        } => crate::claims::bond(&s, from, &claim, &accused, amount).await?,
        TxAction::CouncilStake { term, amount } => {
            crate::council::lock(&s, &owner, from, term, amount, now).await?
        }
    };
    // Bonds and council locks are named by their claim or term, not by the nonce.
    let (made, to, amount) = (transfer.id, transfer.credit_account, transfer.amount);
    match one_transfer(&s, transfer).await? {
        Outcome::Created => Ok(Json(json!({
            "transfer": made.to_string(),
            "from": from.to_string(),
            "to": to.to_string(),
            "amount": format_amount(amount),
        }))),
        Outcome::Exists if made == id => Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "nonce {} was already used: the transaction applied before",
                tx.nonce
            ),
        )),
        Outcome::Exists => Err(ApiError(
            StatusCode::CONFLICT,
            "the transaction applied before".into(),
        )),
    }
}

#[derive(Deserialize)]
pub(crate) struct EpochsQuery {
    epochs: Option<u64>,
}

/// The last `n` ended epochs, oldest first, and the billing config; `409` when billing is off.
fn epochs(s: &Shared, n: Option<u64>) -> ApiResult<(u64, Vec<u64>)> {
    let cfg =
        s.cfg.billing.as_ref().ok_or_else(|| {
            ApiError(StatusCode::CONFLICT, "billing is off on this router".into())
        })?;
    let current = crate::unix_now() / cfg.epoch_secs;
    let n = n.unwrap_or(24).clamp(1, 24 * 31);
    Ok((
        cfg.epoch_secs,
        (current.saturating_sub(n)..current).collect(),
    ))
}

/// One epoch's accepted usage among the lines `keep` selects, and what settling it moved.
struct EpochTotal {
    bytes: u64,
    fee: u128,
    earned: u128,
    /// Every selected line is settled (an ended epoch is settled within a few seconds).
    settled: bool,
}

/// For each epoch with usage among the lines `keep` selects: its bytes and settlement.
async fn settled_per_epoch(
    s: &Shared,
    epoch_secs: u64,
    epochs: &[u64],
    keep: impl Fn(i64, &[u8; 32]) -> bool,
) -> ApiResult<BTreeMap<u64, EpochTotal>> {
    let mut out = BTreeMap::new();
    for &e in epochs {
        let sums = s
            .store
            .usage_accepted_between(e * epoch_secs, (e + 1) * epoch_secs)
            .await?;
        let mut t = EpochTotal {
            bytes: 0,
            fee: 0,
            earned: 0,
            settled: true,
        };
        for u in sums.iter().filter(|u| keep(u.site_id, &u.terminal)) {
            match crate::billing::settled(s, e, u.site_id, &u.terminal).await {
                Some((f, p)) => {
                    t.fee += f;
                    t.earned += p;
                }
                None => t.settled = false,
            }
            t.bytes += u.bytes;
        }
        if t.bytes > 0 {
            out.insert(e, t);
        }
    }
    Ok(out)
}

pub(crate) async fn site_billing(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(host): Path<String>,
    Query(q): Query<EpochsQuery>,
) -> ApiResult<Json<Value>> {
    let site = owned_site(&s, &headers, &host).await?;
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
        let subsidy = crate::billing::subsidy_paid(&s, *e, id.as_bytes()).await;
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

/// The epoch's payouts, one leaf per terminal account in account order: (index, account, amount), the
/// amount being all the account was paid for the epoch (customer earnings and subsidy), so its proof
/// covers every token it received.
async fn payout_leaves(s: &Shared, epoch: u64) -> ApiResult<Vec<(u64, u128, u128)>> {
    let cfg =
        s.cfg.billing.as_ref().ok_or_else(|| {
            ApiError(StatusCode::CONFLICT, "billing is off on this router".into())
        })?;
    if epoch >= crate::unix_now() / cfg.epoch_secs {
        return Err(bad_request(format!("epoch {epoch} has not ended")));
    }
    let sums = s
        .store
        .usage_accepted_between(epoch * cfg.epoch_secs, (epoch + 1) * cfg.epoch_secs)
        .await?;
    let mut by_account: BTreeMap<u128, u128> = BTreeMap::new();
    let mut terminals = std::collections::BTreeSet::new();
    for u in &sums {
        match crate::billing::settled(s, epoch, u.site_id, &u.terminal).await {
            Some((_, earned)) if earned > 0 => {
                *by_account.entry(terminal_account(&u.terminal)).or_default() += earned
            }
            Some(_) => {}
            None => {
                return Err(ApiError(
                    StatusCode::CONFLICT,
                    format!("epoch {epoch} is not settled yet"),
                ))
            }
        }
        terminals.insert(u.terminal);
    }
    // A terminal's subsidy is one transfer per epoch, however many sites it served.
    for node in &terminals {
        let subsidy = crate::billing::subsidy_paid(s, epoch, node).await;
        if subsidy > 0 {
            *by_account.entry(terminal_account(node)).or_default() += subsidy;
        }
    }
    Ok(by_account
        .into_iter()
        .enumerate()
        .map(|(i, (account, amount))| (i as u64, account, amount))
        .collect())
}

fn leaf_hashes(epoch: u64, leaves: &[(u64, u128, u128)]) -> Vec<merkle::Hash> {
    leaves
        .iter()
        .map(|(i, a, v)| merkle::leaf_hash(&payout_leaf(epoch, *i, *a, *v)))
        .collect()
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
