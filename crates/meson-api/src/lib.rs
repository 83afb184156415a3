//! The router's `/v1` API as types: every request body, query and response the router serves, shared by
//! the router (which answers with them), the CLI (which reads answers through them) and the tests. Each
//! type derives `utoipa::ToSchema`, so the router's OpenAPI document (`GET /v1/openapi.json`) is generated
//! from the very types it sends; a type's doc comment is its schema's description.
//!
//! | module | endpoints |
//! | --- | --- |
//! | [`accounts`] | `POST /v1/accounts` |
//! | [`sites`] | `/v1/sites…` (sites, stats, purge, push) and `GET /v1/jobs/{id}` |
//! | [`terminals`] | `GET /v1/terminals`, `GET /v1/terminals/{node}/rejections` |
//! | [`ledger`] | `/v1/ledger/…` (head, log, accounts, transfers, mint, tx, slash, correct, payouts), site billing and terminal earnings |
//! | [`claims`] | `/v1/ledger/claims/{claim}` and its verdict |
//! | [`council`] | `/v1/council/term`, `/v1/council/stakes` |
//! | [`gov`] | `/v1/gov/…` (parameters, proposals, votes, council delay, shutdown) |
//! | [`traffic`] | `GET /v1/sites/{host}/traffic`, `GET /v1/usage/withheld`, `POST /v1/usage/withheld[/{serial}]` |
//! | [`verification`] | `/v1/sites/{host}/roots`, `GET /v1/terminals/{node}/audits`, `GET /v1/terminals/{node}/evidence` |
//!
//! The control plane (`/v1/router`, `/v1/terminals/{register,heartbeat,sites,usage}`) keeps its types in
//! [`meson_core::wire`], re-exported here. Field names and shapes are exactly what the router sent before
//! these types existed: 128-bit ids and base-unit amounts travel as decimal strings (JSON numbers lose
//! precision past 2⁵³), token amounts as decimal token strings such as `"1.5"`.

pub mod accounts;
pub mod claims;
pub mod council;
pub mod gov;
pub mod ledger;
mod schema;
pub mod sites;
pub mod terminals;
pub mod traffic;
pub mod verification;

#[cfg(test)]
mod tests;

pub use meson_core::wire::{
    ErrorBody, Heartbeat, HeartbeatReply, Job, JobAction, JobResult, PurgeScope, Register,
    Registered, RouterInfo, SiteInfo, SiteList, SitesQuery, UsageBatch, UsageReceipt, UsageRecord,
};
pub use schema::Hash32;
use serde::Serialize;

/// The name a unit enum value is sent as (`"customer"`, `"mint"`), for showing it to a person: the
/// ledger's enums name themselves only through serde.
pub fn label(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => format!("({e})"),
    }
}
