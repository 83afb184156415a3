//! Where a claim stands. A leaf of its own, because both the claim rules and their refusals name it.

use crate::PendingStatus;

/// Where a claim stands, from its bond's pending status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Open,
    Upheld,
    Rejected,
    /// The dispute window closed without a verdict.
    Expired,
}

impl Standing {
    pub fn of(status: &PendingStatus, now: u64) -> Standing {
        match status {
            PendingStatus::Pending {
                expires_at: Some(at),
            } if *at <= now => Standing::Expired,
            PendingStatus::Pending { .. } => Standing::Open,
            PendingStatus::Voided { .. } => Standing::Upheld,
            PendingStatus::Posted { .. } => Standing::Rejected,
            PendingStatus::Expired => Standing::Expired,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Open => "open",
            Standing::Upheld => "upheld",
            Standing::Rejected => "rejected",
            Standing::Expired => "expired",
        }
    }
}
