//! What the store keeps of hunters' claims, the council's votes and council elections. Phases and
//! amounts are the ledger's (`meson_ledger::claim_life`, base units): the store keeps them as text.

/// A hunter's claim with its whole evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRecord {
    /// BLAKE3 of `evidence`.
    pub id: [u8; 32],
    pub kind: ClaimKind,
    pub accused: [u8; 32],
    pub hunter: [u8; 32],
    /// The evidence (objective evidence's canonical JSON, or the hunter's probe record), verbatim.
    pub evidence: String,
    /// The hunter's signed bond transaction, verbatim.
    pub bond_tx: String,
    /// Base units.
    pub bond: u128,
    pub filed_at: u64,
    pub first_epoch: u64,
    pub last_epoch: u64,
    /// JSON of the claim's phase.
    pub phase: String,
    /// What the final verdict moved in the ledger (JSON), once done.
    pub executed: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// Evidence the router verified itself: upheld when filed.
    Objective,
    /// A probe record the council judges.
    Council,
}

impl ClaimKind {
    pub const ALL: [ClaimKind; 2] = [ClaimKind::Objective, ClaimKind::Council];

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimKind::Objective => "objective",
            ClaimKind::Council => "council",
        }
    }
}

impl std::str::FromStr for ClaimKind {
    type Err = crate::StoreError;

    fn from_str(s: &str) -> crate::Result<Self> {
        crate::named(&Self::ALL, Self::as_str, "claim kind", s)
    }
}

/// Which claims to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimFilter {
    All,
    /// Those whose verdict has not executed yet.
    Open,
    Against([u8; 32]),
    By([u8; 32]),
}

/// A council member's signed vote on a claim in one review round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteRecord {
    pub claim: [u8; 32],
    pub round: u8,
    pub member: [u8; 32],
    pub upheld: bool,
    /// The signed vote, verbatim.
    pub signed: String,
    pub at: u64,
}

/// An election as it opened: every key's voting power then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionRecord {
    pub term: u64,
    pub opened_at: u64,
    /// (key, base units), in key order.
    pub snapshot: Vec<([u8; 32], u128)>,
    pub digest: [u8; 32],
}

/// A voter's signed ballot in an election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotRecord {
    pub term: u64,
    pub voter: [u8; 32],
    pub signed: String,
    pub at: u64,
}

/// A seated term: its members (with the approval each was elected by, base units) and whether its seat
/// rewards were paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouncilTermRecord {
    pub term: u64,
    pub seated_at: u64,
    pub members: Vec<([u8; 32], u128)>,
    pub rewarded: bool,
}

/// A review round of a council claim, with who may vote in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRecord {
    pub claim: [u8; 32],
    pub round: u8,
    pub opened_at: u64,
    /// The council term it opened in.
    pub term: u64,
    pub eligible: Vec<[u8; 32]>,
}
