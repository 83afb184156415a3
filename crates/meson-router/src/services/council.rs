//! The council: who is seated, and the signed messages of members, voters and
//! parties ([`meson_core::council`]), checked here once for every service that takes one.
//!
//! A member locks stake for a term with a signed
//! [`TxAction::CouncilStake`](meson_ledger::tx::TxAction::CouncilStake), which
//! [`meson_ledger::council::CouncilRules::lock`] turns into a pending transfer from the wallet into the
//! member's stake account; [`crate::services::stake`] releases it once its term and an unbonding period
//! have passed. Who takes a seat is decided by election ([`crate::services::elections`]).

use meson_core::identity::NodeId;
use meson_core::signed::{SignedMessage, Verified};
use meson_ledger::council;
use meson_ledger::Amount;
use serde::Serialize;

use super::error::{ServiceError, ServiceResult};
use crate::Shared;

/// Who locked stake for `term`, largest lock first (ties by key).
pub(crate) async fn members(s: &Shared, term: u64) -> Vec<(Amount, NodeId)> {
    s.ledger
        .read(|l| council::members(l, term))
        .await
        .into_iter()
        .filter_map(|(amount, owner)| Some((amount, NodeId::from_bytes(&owner).ok()?)))
        .collect()
}

/// The members seated for `term`; None while the term is not seated.
pub(crate) async fn seated(s: &Shared, term: u64) -> ServiceResult<Option<Vec<[u8; 32]>>> {
    Ok(s.store
        .council_term(term)
        .await?
        .map(|t| t.members.into_iter().map(|(m, _)| m).collect()))
}

/// A signed council message whose body names its network: verified (signature, freshness, replay),
/// and refused when it is for another network.
pub(crate) fn verify<T>(
    s: &Shared,
    msg: &SignedMessage<T>,
    purpose: &str,
    network: impl FnOnce(&T) -> &str,
) -> ServiceResult<Verified<T>>
where
    T: Serialize + serde::de::DeserializeOwned,
{
    let v = {
        let mut guard = s.replay.lock().unwrap_or_else(|e| e.into_inner());
        msg.verify(purpose, meson_node::unix_now(), &mut guard)
    }?;
    let theirs = network(&v.body);
    if theirs != s.cfg.network {
        return Err(ServiceError::Invalid(format!(
            "the message is for network {theirs:?}; this router's is {:?}",
            s.cfg.network
        )));
    }
    Ok(v)
}
