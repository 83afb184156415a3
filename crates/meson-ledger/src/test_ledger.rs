//! A ledger driven directly by tests of the money rules: batches applied at one fixed time.

use crate::accounts;
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
