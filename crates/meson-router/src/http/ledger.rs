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
//! | `POST /v1/ledger/slash` | operator | objective evidence that verifies and accuses `owner`: its stake slashed once, refunds first |
//! | `POST /v1/ledger/correct` | operator | `{"reverses","amount"?}`: a transfer back (a burn, for a mint) fixing a mistaken one |
//! | `POST /v1/ledger/tx` | a key holder | a signed [`meson_ledger::tx::Tx`]: transfer, deposit, stake, unstake, claim bond or council stake from the signer's wallet |
//! | `GET /v1/sites/{host}/billing?epochs=N` | site owner | escrow account and balance, spend per epoch |
//! | `GET /v1/terminals/{node}/earnings?epochs=N` | anyone | a terminal's earnings account and payouts per epoch |
//! | `GET /v1/ledger/payouts/{epoch}` | anyone | the epoch's payout leaves and their Merkle root, signed |
//! | `GET /v1/ledger/payouts/{epoch}/proof/{account}` | anyone | one payout's leaf and audit path |

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use meson_api::ledger::{
    AccountView, CorrectRequest, Corrected, Direction, Dividend, EarnedEpoch, EpochsQuery, History,
    HistoryQuery, HistoryRow, HolderDividends, LedgerHead, LogEntry, LogPage, LogQuery,
    MintRequest, Minted, PayoutLeaf, PayoutProof, Payouts, SiteBilling, SlashRequest, Slashed,
    SpentEpoch, TerminalEarnings, TransferView, TxApplied,
};
use meson_api::Hash32;
use meson_core::evidence;
use meson_core::identity::NodeId;
use meson_core::signed::SignedMessage;
use meson_ledger::accounts::{escrow_account, terminal_account};
use meson_ledger::economics::{payout_root_message, PAYOUT_ROOT_DOMAIN};
use meson_ledger::merkle;
use meson_ledger::tx::Tx;
use meson_ledger::{format_amount, parse_amount, Account};

use crate::http::error::{
    bad_request, store_error, ApiError, ApiResult, JsonBody, PathParam, QueryParams,
};
use crate::services::ledger;
use crate::services::statements::{epochs, leaf_hashes, payout_leaves, settled_per_epoch};
use crate::services::{audit, billing, sites, slashing, stake, transactions};
use crate::Shared;

fn account_view(a: &Account) -> AccountView {
    AccountView {
        id: a.id,
        kind: a.kind,
        balance: a.balance().map(format_amount),
        available: a.available().map(format_amount),
        debits_posted: a.debits_posted,
        credits_posted: a.credits_posted,
        debits_pending: a.debits_pending,
        credits_pending: a.credits_pending,
    }
}

/// A decimal account or transfer id from the path.
fn parse_id(text: &str, what: &str) -> ApiResult<u128> {
    text.parse()
        .map_err(|_| bad_request(format!("{text:?} is not {what} (a decimal number)")))
}

#[utoipa::path(
    get, path = "/v1/ledger/head", tag = "ledger",
    responses((status = 200, description = "The ledger's head, signed by the router", body = LedgerHead))
)]
pub(crate) async fn head(State(s): State<Arc<Shared>>) -> Json<LedgerHead> {
    Json(LedgerHead(s.ledger.head(&s.key).await))
}

#[utoipa::path(
    get, path = "/v1/ledger/log", tag = "ledger", params(LogQuery),
    responses(
        (status = 200, description = "A page of the audit log", body = LogPage),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn log(
    State(s): State<Arc<Shared>>,
    QueryParams(q): QueryParams<LogQuery>,
) -> ApiResult<Json<LogPage>> {
    let limit = q.limit.unwrap_or(1000).clamp(1, 1000);
    let entries = s
        .store
        .ledger_entries(q.after.unwrap_or(0), limit)
        .await
        .map_err(store_error)?;
    let next = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let entries = entries
        .into_iter()
        .map(|e| LogEntry {
            seq: e.seq,
            prev_hash: Hash32(e.prev_hash),
            hash: Hash32(e.hash),
            body: e.body,
        })
        .collect();
    Ok(Json(LogPage { entries, next }))
}

#[utoipa::path(
    get, path = "/v1/ledger/accounts/{id}", tag = "ledger", params(("id" = String, Path, description = "The account's id, a decimal number")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 400, description = "Not a decimal account id"),
        (status = 404, description = "No such account"),
    )
)]
pub(crate) async fn account(
    State(s): State<Arc<Shared>>,
    PathParam(id): PathParam<String>,
) -> ApiResult<Json<AccountView>> {
    let id = parse_id(&id, "an account id")?;
    match s.ledger.account(id).await {
        Some(a) => Ok(Json(account_view(&a))),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("unknown account {id}"),
        )),
    }
}

/// One committed transfer as submitted, what it moved, and, for a pending one, where it stands.
#[utoipa::path(
    get, path = "/v1/ledger/transfers/{id}", tag = "ledger", params(("id" = String, Path, description = "The transfer's id, a decimal number")),
    responses(
        (status = 200, description = "The transfer", body = TransferView),
        (status = 400, description = "Not a decimal transfer id"),
        (status = 404, description = "No such transfer"),
    )
)]
pub(crate) async fn transfer(
    State(s): State<Arc<Shared>>,
    PathParam(id): PathParam<String>,
) -> ApiResult<Json<TransferView>> {
    let id = parse_id(&id, "a transfer id")?;
    let found = s
        .ledger
        .read(|l| l.transfer(id).map(|t| (*t, l.pending_status(id))))
        .await;
    let (t, pending) =
        found.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no transfer {id}")))?;
    Ok(Json(TransferView {
        transfer: t.transfer,
        debit_account: t.debit_account,
        credit_account: t.credit_account,
        amount: format_amount(t.amount),
        at: t.timestamp,
        pending,
    }))
}

#[utoipa::path(
    get, path = "/v1/ledger/accounts/{id}/transfers", tag = "ledger", params(("id" = String, Path, description = "The account's id, a decimal number"), HistoryQuery),
    responses(
        (status = 200, description = "The account's transfers, newest first (none for an unknown account)", body = History),
        (status = 400, description = "Not a decimal account id"),
    )
)]
pub(crate) async fn history(
    State(s): State<Arc<Shared>>,
    PathParam(id): PathParam<String>,
    QueryParams(q): QueryParams<HistoryQuery>,
) -> ApiResult<Json<History>> {
    let id = parse_id(&id, "an account id")?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let transfers = s
        .ledger
        .read(|l| {
            l.transfers_of(id, limit)
                .into_iter()
                .map(|t| {
                    let incoming = t.credit_account == id;
                    HistoryRow {
                        id: t.transfer.id,
                        at: t.timestamp,
                        code: t.transfer.code,
                        direction: if incoming {
                            Direction::In
                        } else {
                            Direction::Out
                        },
                        counterparty: if incoming {
                            t.debit_account
                        } else {
                            t.credit_account
                        },
                        amount: format_amount(t.amount),
                        pending: t.transfer.flags.pending,
                    }
                })
                .collect()
        })
        .await;
    Ok(Json(History {
        account: id,
        transfers,
    }))
}

#[utoipa::path(
    post, path = "/v1/ledger/mint", tags = ["ledger", "operator"], request_body = MintRequest, security(("operator" = [])),
    responses(
        (status = 200, description = "Minted now, or before with the same id", body = Minted),
        (status = 400, description = "Not exactly one of to and owner, or an amount that is not tokens"),
        (status = 422, description = "The ledger refuses it: a zero id or amount, an unknown account, the id used before for another transfer, an overflow"),
        (status = 503, description = "The ledger could not write: nothing was applied"),
    )
)]
pub(crate) async fn mint(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<MintRequest>,
) -> ApiResult<Json<Minted>> {
    ledger::operator(&s, &headers)?;
    let amount = parse_amount(&req.amount).map_err(|e| bad_request(format!("amount: {e}")))?;
    let (outcome, account) = ledger::mint(&s, req.id, req.to, req.owner, amount).await?;
    billing::refresh_funding(&s).await;
    Ok(Json(Minted {
        outcome,
        account,
        amount: format_amount(amount),
    }))
}

/// Operator: slashes stake for objective evidence that verifies against the router's key and accuses the
/// owner: refunds to the cheated sites first, the rest shared between claimant, burn and treasury.
#[utoipa::path(
    post, path = "/v1/ledger/slash", tags = ["ledger", "operator"], request_body = SlashRequest, security(("operator" = [])),
    responses(
        (status = 200, description = "The stake slashed and how it was shared", body = Slashed),
        (status = 400, description = "The amount is not tokens"),
        (status = 409, description = "This evidence, or evidence of the same offence, was already used to slash"),
        (status = 422, description = "The evidence does not verify or accuses someone else, nothing is at stake, or the ledger refuses it (an unknown claimant account)"),
        (status = 503, description = "The ledger could not write: nothing was applied"),
    )
)]
pub(crate) async fn slash(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SlashRequest>,
) -> ApiResult<Json<Slashed>> {
    ledger::operator(&s, &headers)?;
    let amount = parse_amount(&req.amount).map_err(|e| bad_request(format!("amount: {e}")))?;
    let refuse = |why: String| ApiError(StatusCode::UNPROCESSABLE_ENTITY, why);
    let finding = evidence::verify(&req.evidence, &s.id)
        .map_err(|e| refuse(format!("the evidence does not verify: {e}")))?;
    if finding.terminal != req.owner {
        return Err(refuse(format!(
            "the evidence accuses {}, not the owner {}",
            finding.terminal, req.owner
        )));
    }
    let record = slashing::store(&s, &req.evidence, &finding).await?;
    // Slashed before (by the router, or for the same offence): asking the ledger again would record
    // the outcome over what that slash took.
    if record.slash.is_some() {
        return Err(already_slashed());
    }
    let (done, _) = slashing::slash(
        &s,
        &record,
        slashing::Claim::Fixed {
            amount,
            to: req.claimant,
        },
    )
    .await?;
    match done {
        stake::Slashed::Now {
            amount,
            refunded,
            claimant,
            burned,
            treasury,
        } => Ok(Json(Slashed {
            slashed: format_amount(amount),
            refunded: format_amount(refunded),
            claimant: format_amount(claimant),
            burned: format_amount(burned),
            treasury: format_amount(treasury),
            evidence: Hash32(record.id),
        })),
        stake::Slashed::Before => Err(already_slashed()),
        stake::Slashed::Nothing => Err(refuse("nothing at stake to slash".into())),
    }
}

fn already_slashed() -> ApiError {
    ApiError(
        StatusCode::CONFLICT,
        "this evidence (or evidence of the same offence) was already used to slash".into(),
    )
}

/// Operator: fixes a mistaken transfer by a new one the other way (a mistaken mint by a burn), never by
/// an edit. Its id derives from the transfer it corrects, and `user_data` names it: one correction per
/// transfer, and the audit log shows what it corrects.
#[utoipa::path(
    post, path = "/v1/ledger/correct", tags = ["ledger", "operator"], request_body = CorrectRequest, security(("operator" = [])),
    responses(
        (status = 200, description = "The correcting transfer", body = Corrected),
        (status = 400, description = "The amount is not tokens, or larger than the transfer moved"),
        (status = 404, description = "No such transfer"),
        (status = 409, description = "The transfer cannot be corrected (it is pending, or corrected before)"),
        (status = 422, description = "The ledger refuses it (the account has spent the tokens)"),
        (status = 503, description = "The ledger could not write: nothing was applied"),
    )
)]
pub(crate) async fn correct(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CorrectRequest>,
) -> ApiResult<Json<Corrected>> {
    ledger::operator(&s, &headers)?;
    let c = ledger::correct(&s, req.reverses, req.amount.as_deref()).await?;
    Ok(Json(Corrected {
        transfer: c.id,
        reverses: req.reverses,
        from: c.from,
        to: c.to,
        amount: format_amount(c.amount),
        code: c.code,
    }))
}

/// A transaction signed by a key holder: a transfer or a deposit from its wallet account.
#[utoipa::path(
    post, path = "/v1/ledger/tx", tag = "ledger", request_body(content = ref("#/components/schemas/SignedMessage"), description = "A signed transaction (purpose meson/v1/ledger-tx; its body is a `meson_ledger::tx::Tx`)"),
    responses(
        (status = 200, description = "The transfer made from the signer's wallet", body = TxApplied),
        (status = 400, description = "The transaction is malformed, for another network, or expired"),
        (status = 404, description = "The site it deposits to does not exist"),
        (status = 409, description = "The message was replayed, or its nonce was used before"),
        (status = 422, description = "The ledger refuses it (insufficient funds, no stake, a claim without stake)"),
        (status = 503, description = "The ledger could not write, or too many recent messages to remember against replay"),
    )
)]
pub(crate) async fn tx(
    State(s): State<Arc<Shared>>,
    JsonBody(msg): JsonBody<SignedMessage<Tx>>,
) -> ApiResult<Json<TxApplied>> {
    let done = transactions::apply(&s, msg).await?;
    billing::refresh_funding(&s).await;
    Ok(Json(TxApplied {
        transfer: done.transfer,
        from: done.from,
        to: done.to,
        amount: format_amount(done.amount),
    }))
}

#[utoipa::path(
    get, path = "/v1/sites/{host}/billing", tag = "ledger", params(("host" = String, Path, description = "The site's host"), EpochsQuery), security(("api_key" = [])),
    responses(
        (status = 200, description = "The site's escrow and its spend per epoch", body = SiteBilling),
        (status = 404, description = "No such site in this account"),
        (status = 409, description = "Billing is off on this router"),
    )
)]
pub(crate) async fn site_billing(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    PathParam(host): PathParam<String>,
    QueryParams(q): QueryParams<EpochsQuery>,
) -> ApiResult<Json<SiteBilling>> {
    let site = sites::owned_site(&s, &headers, &host).await?;
    let (epoch_secs, epochs) = epochs(&s, q.epochs)?;
    let escrow = escrow_account(site.id);
    let per = settled_per_epoch(&s, epoch_secs, &epochs, |id, _| id == site.id).await?;
    // Read after the epochs, so a balance is never older than the settlements shown with it.
    let balance = s.ledger.account(escrow).await.map(|a| account_view(&a));
    let epochs = per
        .iter()
        .map(|(e, t)| SpentEpoch {
            epoch: *e,
            start: e * epoch_secs,
            bytes: t.bytes,
            settled: t.settled,
            spent: format_amount(t.fee + t.earned),
            fee_burned: format_amount(t.fee),
            paid_to_terminals: format_amount(t.earned),
        })
        .collect();
    Ok(Json(SiteBilling {
        host: site.host.clone(),
        escrow_account: escrow,
        escrow: balance,
        funded: !s.unfunded.contains(site.id),
        low_funds: s.unfunded.is_low(site.id),
        epoch_secs,
        epochs,
    }))
}

#[utoipa::path(
    get, path = "/v1/holders/{key}/dividends", tag = "ledger", params(("key" = String, Path, description = "The holder's public key")),
    responses(
        (status = 200, description = "What the revenue pool paid the key's stake, per epoch", body = HolderDividends),
        (status = 400, description = "Not a key"),
    )
)]
pub(crate) async fn holder_dividends(
    State(s): State<Arc<Shared>>,
    PathParam(key): PathParam<String>,
) -> ApiResult<Json<HolderDividends>> {
    let id: NodeId = key
        .parse()
        .map_err(|e| bad_request(format!("{key:?} is not a key: {e}")))?;
    let owner = *id.as_bytes();
    let (history, staked) = s
        .ledger
        .read(|l| {
            let staked = meson_ledger::accounts::stake_account(&owner);
            (
                meson_ledger::settlement::dividend_history(l, &owner),
                l.account(staked).and_then(|a| a.available()).unwrap_or(0),
            )
        })
        .await;
    Ok(Json(HolderDividends {
        key: id,
        staked: format_amount(staked),
        total: format_amount(history.iter().map(|(_, a)| a).sum()),
        epochs: history
            .into_iter()
            .map(|(epoch, amount)| Dividend {
                epoch,
                amount: format_amount(amount),
            })
            .collect(),
    }))
}

#[utoipa::path(
    get, path = "/v1/terminals/{node}/earnings", tag = "ledger", params(("node" = String, Path, description = "The terminal's node id"), EpochsQuery),
    responses(
        (status = 200, description = "The terminal's earnings account and earnings per epoch", body = TerminalEarnings),
        (status = 400, description = "Not a node id"),
        (status = 409, description = "Billing is off on this router"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn terminal_earnings(
    State(s): State<Arc<Shared>>,
    PathParam(node): PathParam<String>,
    QueryParams(q): QueryParams<EpochsQuery>,
) -> ApiResult<Json<TerminalEarnings>> {
    let id: NodeId = node
        .parse()
        .map_err(|e| bad_request(format!("{node:?} is not a node id: {e}")))?;
    let (epoch_secs, epochs) = epochs(&s, q.epochs)?;
    let account = terminal_account(id.as_bytes());
    let per = settled_per_epoch(&s, epoch_secs, &epochs, |_, t| t == id.as_bytes()).await?;
    let mut rows = Vec::with_capacity(per.len());
    for (e, t) in &per {
        let passes = audit::pass_rates(&s, *e).await.map_err(store_error)?;
        // Kept apart from `earned` so what customers paid and what the treasury added stay visible.
        let subsidy = billing::subsidy_paid(&s, *e, id.as_bytes()).await;
        rows.push(EarnedEpoch {
            epoch: *e,
            start: e * epoch_secs,
            bytes: t.bytes,
            settled: t.settled,
            earned: format_amount(t.earned),
            subsidy: format_amount(subsidy),
            uptime_bps: s.uptime.bps(*e, id.as_bytes()),
            audit_pass_bps: passes.bps(id.as_bytes()),
        });
    }
    Ok(Json(TerminalEarnings {
        node_id: id,
        account,
        balance: s.ledger.account(account).await.map(|a| account_view(&a)),
        epoch_secs,
        epochs: rows,
    }))
}

#[utoipa::path(
    get, path = "/v1/ledger/payouts/{epoch}", tag = "ledger", params(("epoch" = u64, Path, description = "The epoch")),
    responses(
        (status = 200, description = "The epoch's payout leaves and their Merkle root, signed", body = Payouts),
        (status = 400, description = "The epoch has not ended"),
        (status = 409, description = "Billing is off on this router"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn payouts(
    State(s): State<Arc<Shared>>,
    PathParam(epoch): PathParam<u64>,
) -> ApiResult<Json<Payouts>> {
    let leaves = payout_leaves(&s, epoch).await?;
    let root = merkle::root(&leaf_hashes(epoch, &leaves));
    let signature = s
        .key
        .sign(
            PAYOUT_ROOT_DOMAIN,
            &payout_root_message(epoch, leaves.len() as u64, &root),
        )
        .to_string();
    Ok(Json(Payouts {
        epoch,
        root: Hash32(root),
        size: leaves.len() as u64,
        signer: s.id,
        signature,
        leaves: leaves
            .iter()
            .map(|&(index, account, amount)| PayoutLeaf {
                index,
                account,
                amount,
            })
            .collect(),
    }))
}

#[utoipa::path(
    get, path = "/v1/ledger/payouts/{epoch}/proof/{account}", tag = "ledger",
    params(("epoch" = u64, Path, description = "The epoch"), ("account" = String, Path, description = "The account's id, a decimal number")),
    responses(
        (status = 200, description = "The payout's leaf and its audit path", body = PayoutProof),
        (status = 400, description = "The epoch has not ended, or not a decimal account id"),
        (status = 404, description = "The account has no payout in this epoch"),
        (status = 409, description = "Billing is off on this router"),
        (status = 500, description = "The store failed"),
    )
)]
pub(crate) async fn payout_proof(
    State(s): State<Arc<Shared>>,
    PathParam((epoch, account)): PathParam<(u64, String)>,
) -> ApiResult<Json<PayoutProof>> {
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
    Ok(Json(PayoutProof {
        epoch,
        index,
        account,
        amount,
        size: leaves.len() as u64,
        path: merkle::inclusion_path(&hashes, index as usize)
            .into_iter()
            .map(Hash32)
            .collect(),
        root: Hash32(merkle::root(&hashes)),
    }))
}
