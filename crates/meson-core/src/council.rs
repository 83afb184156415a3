//! What council members, voters and the parties to a claim sign. Each body names its network, so a
//! message signed for one network is refused by another's router; the router keeps each verbatim, and
//! anyone re-checks it with the signer's key.
//!
//! | purpose | body | signed by |
//! | --- | --- | --- |
//! | [`VOTE`] | [`Vote`] | a seated member, with its own probe record of the accused |
//! | [`BALLOT`] | [`Ballot`] | a token holder, in the election of a term |
//! | [`APPEAL`] | [`Appeal`] | the losing party of a decided claim (the accused, or the hunter) |
//! | [`PROBE_TICKET`] | [`ProbeTicket`] | a seated member asking for a ticket to the accused, to re-probe it |

use serde::{Deserialize, Serialize};

use crate::identity::NodeId;

pub const VOTE: &str = "meson/v1/council-vote";
pub const BALLOT: &str = "meson/v1/council-ballot";
pub const APPEAL: &str = "meson/v1/claim-appeal";
pub const PROBE_TICKET: &str = "meson/v1/probe-ticket";

/// The votes that uphold a claim before `eligible` members, and the quorum of a review: two thirds,
/// rounded up (`meson_ledger::claim_life::Tally` counts by it; so does [`crate::huntsim`]).
pub fn two_thirds(eligible: usize) -> usize {
    (2 * eligible).div_ceil(3)
}

/// A member's vote on a claim in one review round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Vote {
    pub network: String,
    /// The claim's id, 64 hex digits.
    pub claim: String,
    /// 1 for the first review, 2 for the appeal.
    pub round: u8,
    pub upheld: bool,
    /// The member's own probe record of the accused (`meson_core::probe::Record` as JSON text, verbatim):
    /// what its vote rests on, judged by the same code as the hunter's.
    pub record: String,
}

/// A ballot in the election of a term's council: approval of up to the number of seats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ballot {
    pub network: String,
    pub term: u64,
    pub candidates: Vec<NodeId>,
}

/// An appeal of a decided claim, reopening its review once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Appeal {
    pub network: String,
    pub claim: String,
}

/// A member's request for a ticket to the accused terminal, for the claim's object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProbeTicket {
    pub network: String,
    pub claim: String,
}
