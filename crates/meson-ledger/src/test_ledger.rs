//! A ledger driven directly by tests of the money rules: batches applied at one fixed time.

use std::collections::BTreeMap;

use meson_core::schedule::Region;

use crate::accounts::{self, escrow_account, TREASURY};
use crate::settlement::{Terminals, Usage};
use crate::transactions;
use crate::*;

pub(crate) const NOW: u64 = 1_000_000;

pub(crate) fn open(l: &mut Ledger, accounts: Vec<NewAccount>) {
    let r = l.apply(&Batch::CreateAccounts { now: NOW, accounts });
    let BatchResults::Accounts(r) = r else {
        panic!("{r:?}")
    };
    assert!(r.iter().all(Result::is_ok), "{r:?}");
}

pub(crate) fn submit(
    l: &mut Ledger,
    transfers: Vec<Transfer>,
) -> Vec<Result<Outcome, TransferError>> {
    match l.apply(&Batch::CreateTransfers {
        now: NOW,
        transfers,
    }) {
        BatchResults::Transfers(r) => r,
        other => panic!("{other:?}"),
    }
}

pub(crate) fn mint(l: &mut Ledger, id: u128, to: u128, amount: Amount) {
    if amount > 0 {
        let r = submit(l, vec![transactions::mint(id, to, amount)]);
        assert_eq!(r, [Ok(Outcome::Created)]);
    }
}

/// Applies `transfers` twice: the first time every one is created, the second time every one exists
/// and the state does not move.
pub(crate) fn apply_once(l: &mut Ledger, transfers: &[Transfer]) {
    let first = submit(l, transfers.to_vec());
    assert!(
        first.iter().all(|r| *r == Ok(Outcome::Created)),
        "{first:?}"
    );
    l.check_invariants().unwrap();
    let digest = l.state_digest();
    let again = submit(l, transfers.to_vec());
    assert!(again.iter().all(|r| *r == Ok(Outcome::Exists)), "{again:?}");
    assert_eq!(
        l.state_digest(),
        digest,
        "a plan applied twice applies once"
    );
}

/// A ledger with the system accounts and a wallet and a stake account for each of `owners`.
pub(crate) fn with_keys(owners: &[[u8; 32]]) -> Ledger {
    let mut l = Ledger::new();
    let keyed = owners
        .iter()
        .flat_map(|o| [accounts::wallet(o), accounts::stake(o)]);
    open(
        &mut l,
        accounts::system().into_iter().chain(keyed).collect(),
    );
    l
}

/// The key of test terminal `i`.
pub(crate) fn node(i: u8) -> [u8; 32] {
    [i + 1; 32]
}

/// How terminals stood: full quality and no region unless listed.
#[derive(Default)]
pub(crate) struct World {
    pub regions: BTreeMap<[u8; 32], Region>,
    pub uptime: BTreeMap<[u8; 32], u32>,
    pub audits: BTreeMap<[u8; 32], u32>,
}

impl Terminals for World {
    fn region(&self, node: &[u8; 32]) -> Option<&Region> {
        self.regions.get(node)
    }

    fn uptime_bps(&self, node: &[u8; 32]) -> u32 {
        self.uptime.get(node).copied().unwrap_or(10_000)
    }

    fn audit_pass_bps(&self, node: &[u8; 32]) -> u32 {
        self.audits.get(node).copied().unwrap_or(10_000)
    }
}

/// A ledger with the system accounts, one escrow per amount of `escrows` holding it, and `treasury` in
/// the treasury; and `usage` (site index modulo the sites, terminal, bytes) as the epoch's lines, one per
/// site and terminal, as the router sums its accepted usage.
pub(crate) fn funded_sites(
    escrows: &[Amount],
    treasury: Amount,
    usage: Vec<(usize, u8, u64)>,
) -> (Ledger, Vec<Usage>) {
    let mut l = Ledger::new();
    open(&mut l, accounts::system().to_vec());
    let sites = escrows.len();
    open(&mut l, (0..sites as i64).map(accounts::escrow).collect());
    for (i, amount) in escrows.iter().enumerate() {
        mint(&mut l, 1_000 + i as u128, escrow_account(i as i64), *amount);
    }
    mint(&mut l, 999, TREASURY, treasury);
    let mut lines: BTreeMap<(i64, [u8; 32]), u64> = BTreeMap::new();
    for (site, n, bytes) in usage {
        *lines.entry(((site % sites) as i64, node(n))).or_default() += bytes;
    }
    let usage = lines
        .into_iter()
        .map(|((site, node), bytes)| Usage { site, node, bytes })
        .collect();
    (l, usage)
}

/// Every invariant holds, and the supply is what was issued less what was burned.
pub(crate) fn supply_holds(l: &Ledger) {
    l.check_invariants().unwrap();
    assert_eq!(l.supply(), l.issued() - l.burned());
}
