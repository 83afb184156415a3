//! Council stake. A council member locks stake for a term with a signed
//! [`TxAction::CouncilStake`](meson_ledger::tx::TxAction::CouncilStake), which
//! [`meson_ledger::council::CouncilRules::lock`] checks and turns into a pending transfer from the wallet
//! into the member's stake account, one per member and term; [`crate::services::stake`] releases it once
//! its term and an unbonding period have passed. This service gives the configured rules and reads the
//! members of a term ([`meson_ledger::council::members`]).

use meson_core::identity::NodeId;
use meson_ledger::council::{self, CouncilRules};
use meson_ledger::Amount;

use crate::{RouterConfig, Shared};

impl RouterConfig {
    /// The council's terms and stake, as configured.
    pub(crate) fn council(&self) -> CouncilRules {
        CouncilRules {
            term_secs: self.council_term_secs,
            unbonding_secs: self.unbonding_secs,
            min_stake: self.council_min_stake,
        }
    }
}

/// Who locked stake for `term`, largest lock first (ties by key).
pub(crate) async fn members(s: &Shared, term: u64) -> Vec<(Amount, NodeId)> {
    s.ledger
        .read(|l| council::members(l, term))
        .await
        .into_iter()
        .filter_map(|(amount, owner)| Some((amount, NodeId::from_bytes(&owner).ok()?)))
        .collect()
}
