//! `POST /v1/accounts`: anyone may open an account.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/accounts`: a new business account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewAccount {
    /// 1 to 200 characters (surrounding spaces are trimmed).
    pub name: String,
}

/// The new account and its API key. The key is shown only this once: the router keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountCreated {
    pub account_id: i64,
    /// Sent as `Authorization: Bearer <api_key>` on the account's requests.
    pub api_key: String,
}
