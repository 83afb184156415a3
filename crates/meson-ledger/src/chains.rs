//! How rules shape what they submit: linked chains, and the post or void that resolves a pending
//! transfer under an id of its own.

use crate::ids::Purpose;
use crate::{CommittedTransfer, Transfer, TransferFlags};

/// Posts (`void` false) or voids the pending transfer `t`, with the id of `purpose`.
pub(crate) fn resolve(t: &CommittedTransfer, purpose: Purpose, void: bool) -> Transfer {
    Transfer {
        pending_id: t.transfer.id,
        flags: TransferFlags {
            post_pending: !void,
            void_pending: void,
            ..TransferFlags::default()
        },
        ..Transfer::new(purpose.id(), 0, 0, 0, t.transfer.code)
    }
}

/// Marks every transfer but the last as linked to the next, so the chain commits all or nothing.
pub(crate) fn link(chain: &mut [Transfer]) {
    let last = chain.len().saturating_sub(1);
    for (i, t) in chain.iter_mut().enumerate() {
        t.flags = TransferFlags {
            linked: i < last,
            ..TransferFlags::default()
        };
    }
}
