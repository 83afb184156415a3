//! The accounts every network has, and the accounts of keys, sites, terminals and claims: their ids
//! ([`crate::ids`]) and how each is opened. Opening is idempotent, so a rule that needs an account lists
//! it among the accounts to open and the ledger opens it once.

use crate::ids::Purpose;
use crate::{AccountKind, NewAccount};

/// Where new tokens come from (debited by mints only).
pub const ISSUANCE: u128 = 1;
/// Where burned tokens go (credited by burns only).
pub const BURN: u128 = 2;
/// The network's own funds: slash shares and forfeited bonds in, subsidies out.
pub const TREASURY: u128 = 3;
/// The revenue pool: the holders' share of protocol fees and what proposals distribute in, each
/// epoch's dividends to stakers out. An escrow, since what it holds is set aside for stakers, not the
/// network's to spend.
pub const REVENUE: u128 = 4;

/// The system accounts, at their fixed ids.
pub fn system() -> [NewAccount; 4] {
    [
        unowned(ISSUANCE, AccountKind::Issuance),
        unowned(BURN, AccountKind::Burn),
        unowned(TREASURY, AccountKind::Treasury),
        revenue(),
    ]
}

/// The revenue pool, a system account; settlement opens it too, for ledgers begun before it existed.
pub fn revenue() -> NewAccount {
    unowned(REVENUE, AccountKind::Escrow)
}

fn unowned(id: u128, kind: AccountKind) -> NewAccount {
    NewAccount {
        id,
        kind,
        owner: None,
        user_data: 0,
    }
}

/// The wallet account of an ed25519 public key.
pub fn wallet_account(owner: &[u8; 32]) -> u128 {
    Purpose::Wallet { owner: *owner }.id()
}

/// The stake account of an ed25519 public key.
pub fn stake_account(owner: &[u8; 32]) -> u128 {
    Purpose::Stake { owner: *owner }.id()
}

/// The escrow account of a claim (owned by the accused): a hunter's bond is reserved into it.
pub fn claim_account(claim: &[u8; 32]) -> u128 {
    Purpose::ClaimEscrow { claim: *claim }.id()
}

/// The escrow account of a site: its deposits in, its traffic's settlement out.
pub fn escrow_account(site: i64) -> u128 {
    Purpose::SiteEscrow { site }.id()
}

/// The earnings account of a terminal, owned by its node key.
pub fn terminal_account(node: &[u8; 32]) -> u128 {
    Purpose::Earnings { node: *node }.id()
}

/// A key's wallet, a customer account it owns.
pub fn wallet(owner: &[u8; 32]) -> NewAccount {
    NewAccount {
        id: wallet_account(owner),
        kind: AccountKind::Customer,
        owner: Some(*owner),
        user_data: 0,
    }
}

/// A key's stake account.
pub fn stake(owner: &[u8; 32]) -> NewAccount {
    NewAccount {
        id: stake_account(owner),
        kind: AccountKind::Stake,
        owner: Some(*owner),
        user_data: 0,
    }
}

/// A site's escrow. Its `user_data` is the site's id, so the ledger alone tells whose escrow it is.
pub fn escrow(site: i64) -> NewAccount {
    NewAccount {
        id: escrow_account(site),
        kind: AccountKind::Escrow,
        owner: None,
        user_data: site as u128,
    }
}

/// A terminal's earnings account.
pub fn terminal(node: &[u8; 32]) -> NewAccount {
    NewAccount {
        id: terminal_account(node),
        kind: AccountKind::Terminal,
        owner: Some(*node),
        user_data: 0,
    }
}

/// A claim's escrow, owned by the accused.
pub fn claim(claim: &[u8; 32], accused: &[u8; 32]) -> NewAccount {
    NewAccount {
        id: claim_account(claim),
        kind: AccountKind::Escrow,
        owner: Some(*accused),
        user_data: 0,
    }
}
