//! Transactions users sign with their ed25519 key ([`meson_core::signed::SignedMessage`] with purpose
//! [`TX`]): what a wallet may ask of the ledger. Each names its network, carries a per-account nonce and
//! an expiry; the transfer it makes has an id derived from (signer, nonce), so a transaction applies at
//! most once whenever and however often it is replayed, and a forged one fails its signature.

use serde::{Deserialize, Serialize};

use crate::u128_string;
use meson_core::identity::NodeId;

/// The purpose of a signed ledger transaction.
pub const TX: &str = "meson/v1/ledger-tx";
/// The latest expiry a router accepts, from its clock.
pub const MAX_TX_LIFETIME_SECS: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tx {
    /// The network the signer means (the router's `--network`); another network's router refuses it.
    pub network: String,
    /// Any number the wallet has not used before (a counter): with the signer, the transfer's id.
    pub nonce: u64,
    /// Unix seconds after which the transaction is refused.
    pub expires: u64,
    pub action: TxAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TxAction {
    /// Tokens from the signer's wallet account to any account.
    Transfer {
        #[serde(with = "u128_string")]
        to: u128,
        #[serde(with = "u128_string")]
        amount: u128,
    },
    /// Tokens from the signer's wallet account into a site's escrow.
    Deposit {
        site: String,
        #[serde(with = "u128_string")]
        amount: u128,
    },
    /// Tokens from the wallet into the signer's stake (a terminal stakes with its node key).
    Stake {
        #[serde(with = "u128_string")]
        amount: u128,
    },
    /// Tokens from the stake back to the wallet, released only after the unbonding period (longer than
    /// the dispute window, so there is always stake to slash); until then they stay slashable.
    Unstake {
        #[serde(with = "u128_string")]
        amount: u128,
    },
    /// A hunter's bond on a claim against `accused`: reserved from the signer's wallet until the claim
    /// is judged (returned if upheld, forfeited to the treasury if rejected) or the dispute window
    /// closes unjudged (returned). One bond per claim.
    Bond {
        /// The claim's id: BLAKE3 of the evidence the hunter files.
        #[serde(with = "hex::serde")]
        claim: [u8; 32],
        accused: NodeId,
        #[serde(with = "u128_string")]
        amount: u128,
    },
    /// Stake locked for council term `term` (the current one or the next): reserved from the wallet
    /// until the term has ended and the unbonding period after it has passed, and slashable until then.
    CouncilStake {
        term: u64,
        #[serde(with = "u128_string")]
        amount: u128,
    },
    /// A veto against a governance proposal: tokens reserved from the wallet into the proposal's veto
    /// escrow until the proposal ends (executed, defeated, failed or cancelled), then returned.
    Veto {
        #[serde(with = "hex::serde")]
        proposal: [u8; 32],
        #[serde(with = "u128_string")]
        amount: u128,
    },
    /// Tokens reserved from the wallet into the escrow of shutdown round `round` (the open one): enough
    /// of them pause governance and slashing. Returned when that round's shutdown expires.
    Shutdown {
        round: u64,
        #[serde(with = "u128_string")]
        amount: u128,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::wallet_account;
    use crate::ids::Purpose;

    #[test]
    fn ids_depend_on_signer_and_nonce_only() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let tx_id = |owner, nonce| Purpose::Tx { owner, nonce }.id();
        assert_eq!(tx_id(a, 1), tx_id(a, 1));
        assert_ne!(tx_id(a, 1), tx_id(a, 2));
        assert_ne!(tx_id(a, 1), tx_id(b, 1));
        assert_ne!(wallet_account(&a), wallet_account(&b));
        let tx = Tx {
            network: "n".into(),
            nonce: 3,
            expires: 10,
            action: TxAction::Deposit {
                site: "s.example".into(),
                amount: 5,
            },
        };
        let json = serde_json::to_string(&tx).unwrap();
        assert!(json.contains(r#""kind":"deposit""#), "{json}");
        assert_eq!(serde_json::from_str::<Tx>(&json).unwrap(), tx);
        assert_ne!(
            Purpose::Bond { claim: a }.id(),
            Purpose::Bond { claim: b }.id()
        );
        let lock = |term| Purpose::CouncilLock { owner: a, term }.id();
        assert_ne!(lock(1), lock(2));
    }

    #[test]
    fn a_bond_names_its_claim_in_hex() {
        let accused = meson_core::identity::NodeKey::from_secret_bytes([7; 32]).id();
        let bond = TxAction::Bond {
            claim: [0xab; 32],
            accused,
            amount: 1,
        };
        let json = serde_json::to_value(&bond).unwrap();
        assert_eq!(json["claim"], "ab".repeat(32));
        assert_eq!(serde_json::from_value::<TxAction>(json).unwrap(), bond);
        let short =
            serde_json::json!({"kind": "bond", "claim": "abcd", "accused": accused, "amount": "1"});
        assert!(serde_json::from_value::<TxAction>(short).is_err());
    }
}
