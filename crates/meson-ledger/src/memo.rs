//! What a transfer's `user_data` means. The ledger never reads the field (TigerBeetle's `user_data_128`:
//! 128 bits the application owns); each kind of transfer a rule makes gives it exactly one meaning, a
//! [`Memo`], and this module is the only place that writes or reads one. The encodings are those of the
//! first ledgers, so logs already written read the same.
//!
//! | transfers | memo |
//! | --- | --- |
//! | settlement fee, holders' share and payout, subsidy, dividend | [`Memo::Epoch`] |
//! | unstake (pending until it unlocks) | [`Memo::UnlockAt`] |
//! | council lock (pending stake), seat reward | [`Memo::Term`] |
//! | the three transfers of a slash | [`Memo::Evidence`] |
//! | correction | [`Memo::Reverses`] |
//!
//! Everything else (transactions' transfers and deposits, mints, bonds and the resolution of pending
//! transfers) carries 0. Accounts have their own `user_data`: a site's escrow holds the site's id
//! ([`crate::accounts::escrow`]), every other account 0.

use crate::{Transfer, TransferCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memo {
    /// The epoch a settlement, subsidy or dividend transfer is for.
    Epoch(u64),
    /// The Unix second from which an unstake may be posted.
    UnlockAt(u64),
    /// The council term a lock or a seat reward is for.
    Term(u64),
    /// The digest of the evidence a slash is for; the field holds its first 16 bytes, little-endian.
    Evidence([u8; 32]),
    /// The transfer a correction reverses.
    Reverses(u128),
}

impl Memo {
    pub fn user_data(self) -> u128 {
        match self {
            Memo::Epoch(v) | Memo::UnlockAt(v) | Memo::Term(v) => u128::from(v),
            Memo::Evidence(digest) => {
                let mut low = [0u8; 16];
                low.copy_from_slice(&digest[..16]);
                u128::from_le_bytes(low)
            }
            Memo::Reverses(id) => id,
        }
    }

    /// When the unstake `t` unlocks; `None` for any other transfer.
    pub fn unlock_at(t: &Transfer) -> Option<u64> {
        (t.code == TransferCode::Unstake && t.flags.pending)
            .then(|| u64::try_from(t.user_data).ok())
            .flatten()
    }

    /// The term the council lock `t` is for; `None` for any other transfer.
    pub fn term(t: &Transfer) -> Option<u64> {
        (t.code == TransferCode::Stake && t.flags.pending)
            .then(|| u64::try_from(t.user_data).ok())
            .flatten()
    }
}

impl Transfer {
    /// This transfer carrying `memo` in its `user_data`.
    pub fn with_memo(mut self, memo: Memo) -> Transfer {
        self.user_data = memo.user_data();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memos_encode_as_the_first_ledgers_did() {
        assert_eq!(Memo::Epoch(7).user_data(), 7);
        assert_eq!(Memo::UnlockAt(1_700_000_000).user_data(), 1_700_000_000);
        assert_eq!(Memo::Term(3).user_data(), 3);
        assert_eq!(Memo::Reverses(1 << 100).user_data(), 1 << 100);
        let mut evidence = [0u8; 32];
        evidence[0] = 1;
        evidence[15] = 2;
        evidence[16] = 0xff;
        assert_eq!(Memo::Evidence(evidence).user_data(), 1 | 2 << 120);
    }

    #[test]
    fn only_locks_are_read_for_their_time() {
        let mut unstake =
            Transfer::new(1, 2, 3, 4, TransferCode::Unstake).with_memo(Memo::UnlockAt(9));
        assert_eq!(
            Memo::unlock_at(&unstake),
            None,
            "not pending: nothing to unlock"
        );
        unstake.flags.pending = true;
        assert_eq!(Memo::unlock_at(&unstake), Some(9));
        assert_eq!(Memo::term(&unstake), None);
        let mut lock = Transfer::new(1, 2, 3, 4, TransferCode::Stake).with_memo(Memo::Term(5));
        lock.flags.pending = true;
        assert_eq!(Memo::term(&lock), Some(5));
        assert_eq!(Memo::unlock_at(&lock), None);
        lock.user_data = u128::MAX;
        assert_eq!(
            Memo::term(&lock),
            None,
            "no term that large: never released"
        );
    }
}
