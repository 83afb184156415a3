//! Every id the network derives rather than lets a client choose: the accounts of keys, sites, terminals
//! and claims, and every transfer a rule makes. Each is named by a [`Purpose`], and [`Purpose::id`] is its
//! only derivation, so no two kinds of account or transfer can be given the same id by accident: settling
//! the same epoch, slashing with the same evidence or judging the same claim again yields the same ids,
//! and the ledger applies each transfer once.
//!
//! An id is the first 16 bytes (little-endian, 0 mapped to 1) of
//! `BLAKE3("meson/v1/settlement-transfer" ‖ for each part: len(part) as u64 LE ‖ part)`. The parts of a
//! purpose start with its tag; every part is length-prefixed, so the hashed input is a prefix-free
//! encoding of the part list, and the part list names its purpose and fields exactly (the tests decode
//! it back). Distinct purposes thus hash distinct inputs; they can only share an id through a BLAKE3
//! collision on 128 bits. The encoding is fixed: ledgers already written hold these ids.
//!
//! The system accounts ([`crate::accounts`]) have the fixed ids 1 to 4 instead; a client-chosen id (a
//! mint's) is the operator's to keep apart.

/// Which of a slash's three transfers ([`Purpose::Slash`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlashPart {
    /// The claimant's share.
    Claimant,
    /// The burned share.
    Burn,
    /// The treasury's share.
    Treasury,
}

impl SlashPart {
    pub const ALL: [SlashPart; 3] = [SlashPart::Claimant, SlashPart::Burn, SlashPart::Treasury];

    fn tag(self) -> &'static [u8] {
        match self {
            SlashPart::Claimant => b"claimant",
            SlashPart::Burn => b"burn",
            SlashPart::Treasury => b"treasury",
        }
    }
}

/// What a derived id names. Keys, nodes, claims and evidence digests are 32 bytes; a claim's id is the
/// BLAKE3 of its evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Account: the wallet of an ed25519 key.
    Wallet { owner: [u8; 32] },
    /// Account: the stake of an ed25519 key.
    Stake { owner: [u8; 32] },
    /// Account: the escrow a claim's bond is reserved into (owned by the accused).
    ClaimEscrow { claim: [u8; 32] },
    /// Account: a site's escrow, which pays for its traffic.
    SiteEscrow { site: i64 },
    /// Account: a terminal's earnings, owned by its node key.
    Earnings { node: [u8; 32] },
    /// Transfer: what a signer's transaction `nonce` makes.
    Tx { owner: [u8; 32], nonce: u64 },
    /// Transfer: the pending bond on a claim, one per claim whoever files it.
    Bond { claim: [u8; 32] },
    /// Transfer: the pending lock of `owner`'s council stake for `term`.
    CouncilLock { owner: [u8; 32], term: u64 },
    /// Transfer: the part of the protocol fee a site's escrow burns for a terminal's work in an epoch (the
    /// rest is the holders' share, [`Purpose::HolderShare`]).
    Fee {
        epoch: u64,
        site: i64,
        node: [u8; 32],
    },
    /// Transfer: what a site's escrow pays a terminal for its work in an epoch.
    Payout {
        epoch: u64,
        site: i64,
        node: [u8; 32],
    },
    /// Transfer: the treasury's bootstrap subsidy to a terminal for an epoch.
    Subsidy { epoch: u64, node: [u8; 32] },
    /// Transfer: one share of the slash for the evidence whose digest is `evidence`.
    Slash { evidence: [u8; 32], part: SlashPart },
    /// Transfer: the refund to a site's escrow, out of the slash for the evidence whose digest is
    /// `evidence`, of what the site paid for the accused terminal's bytes in the affected epochs.
    SlashRefund { evidence: [u8; 32], site: i64 },
    /// Transfer: the post (unstake) or void (council lock) of a lock whose time has come.
    Unbond { pending: u128 },
    /// Transfer: the void (unbonding) or post (council lock) of the lock `pending` ahead of a slash.
    SlashUnlock { evidence: [u8; 32], pending: u128 },
    /// Transfer: the post of a rejected claim's bond into the claim's escrow.
    Forfeit { claim: [u8; 32] },
    /// Transfer: the forfeited bond, from the claim's escrow to the treasury.
    ForfeitToTreasury { claim: [u8; 32] },
    /// Transfer: the void that returns an upheld claim's bond to the hunter.
    ReturnBond { claim: [u8; 32] },
    /// Transfer: the correction of the mistaken transfer `reverses`.
    Correction { reverses: u128 },
    /// Transfer: the treasury's reward to council member `owner` for its seat in `term`.
    SeatReward { owner: [u8; 32], term: u64 },
    /// Transfer: the deposit reserved for a governance proposal.
    ProposalDeposit { proposal: [u8; 32] },
    /// Account: the escrow veto locks against a proposal are reserved into.
    VetoEscrow { proposal: [u8; 32] },
    /// Account: the escrow a shutdown round's locks are reserved into.
    ShutdownEscrow { round: u64 },
    /// Transfer: what action `index` of an executed proposal pays.
    GovAction { proposal: [u8; 32], index: u32 },
    /// Transfer: the holders' share of the protocol fee a site's escrow pays into the revenue pool for a
    /// terminal's work in an epoch.
    HolderShare {
        epoch: u64,
        site: i64,
        node: [u8; 32],
    },
    /// Transfer: staker `owner`'s dividend out of the revenue pool for an epoch.
    Dividend { epoch: u64, owner: [u8; 32] },
}

const DOMAIN: &[u8] = b"meson/v1/settlement-transfer";

impl Purpose {
    /// The id, never 0.
    pub fn id(&self) -> u128 {
        let mut h = blake3::Hasher::new();
        h.update(&self.preimage());
        let mut id = [0u8; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        u128::from_le_bytes(id).max(1)
    }

    /// What is hashed: the domain, then each part as `len (u64 LE) ‖ bytes`.
    fn preimage(&self) -> Vec<u8> {
        let mut out = DOMAIN.to_vec();
        for part in self.parts() {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(&part);
        }
        out
    }

    /// The parts, tag first. A resolution of a pending transfer has its reason as one part (a tag glued
    /// to a digest, as the first ledgers wrote it) and the pending transfer's id as the next.
    fn parts(&self) -> Vec<Vec<u8>> {
        let le64 = |v: u64| v.to_le_bytes().to_vec();
        let glued = |tag: &[u8], digest: &[u8; 32]| [tag, digest.as_slice()].concat();
        let pending = |id: u128| id.to_le_bytes().to_vec();
        // A settlement line's transfer: (epoch, site, terminal).
        let line = |tag: &[u8], epoch: u64, site: i64, node: [u8; 32]| {
            vec![
                tag.to_vec(),
                le64(epoch),
                site.to_le_bytes().to_vec(),
                node.to_vec(),
            ]
        };
        match *self {
            Purpose::Wallet { owner } => vec![b"wallet".to_vec(), owner.to_vec()],
            Purpose::Stake { owner } => vec![b"stake".to_vec(), owner.to_vec()],
            Purpose::ClaimEscrow { claim } => vec![b"claim".to_vec(), claim.to_vec()],
            Purpose::SiteEscrow { site } => vec![b"escrow".to_vec(), site.to_le_bytes().to_vec()],
            Purpose::Earnings { node } => vec![b"terminal".to_vec(), node.to_vec()],
            Purpose::Tx { owner, nonce } => vec![b"tx".to_vec(), owner.to_vec(), le64(nonce)],
            Purpose::Bond { claim } => vec![b"bond".to_vec(), claim.to_vec()],
            Purpose::CouncilLock { owner, term } => {
                vec![b"council".to_vec(), owner.to_vec(), le64(term)]
            }
            Purpose::Fee { epoch, site, node } => line(b"fee", epoch, site, node),
            Purpose::Payout { epoch, site, node } => line(b"payout", epoch, site, node),
            Purpose::Subsidy { epoch, node } => {
                vec![b"subsidy".to_vec(), le64(epoch), node.to_vec()]
            }
            Purpose::Slash { evidence, part } => {
                vec![b"slash".to_vec(), evidence.to_vec(), part.tag().to_vec()]
            }
            Purpose::SlashRefund { evidence, site } => vec![
                b"slash-refund".to_vec(),
                evidence.to_vec(),
                site.to_le_bytes().to_vec(),
            ],
            Purpose::Unbond { pending: p } => vec![b"unbond".to_vec(), pending(p)],
            Purpose::SlashUnlock {
                evidence,
                pending: p,
            } => vec![glued(b"slash-unlock", &evidence), pending(p)],
            Purpose::Forfeit { claim } => vec![
                glued(b"forfeit", &claim),
                pending(Purpose::Bond { claim }.id()),
            ],
            Purpose::ForfeitToTreasury { claim } => {
                vec![b"forfeit-treasury".to_vec(), claim.to_vec()]
            }
            Purpose::ReturnBond { claim } => vec![
                glued(b"return", &claim),
                pending(Purpose::Bond { claim }.id()),
            ],
            Purpose::Correction { reverses } => {
                vec![b"correction".to_vec(), reverses.to_le_bytes().to_vec()]
            }
            Purpose::SeatReward { owner, term } => {
                vec![b"seat-reward".to_vec(), owner.to_vec(), le64(term)]
            }
            Purpose::ProposalDeposit { proposal } => {
                vec![b"proposal-deposit".to_vec(), proposal.to_vec()]
            }
            Purpose::VetoEscrow { proposal } => vec![b"veto".to_vec(), proposal.to_vec()],
            Purpose::ShutdownEscrow { round } => vec![b"shutdown".to_vec(), le64(round)],
            Purpose::GovAction { proposal, index } => vec![
                b"gov-action".to_vec(),
                proposal.to_vec(),
                index.to_le_bytes().to_vec(),
            ],
            Purpose::HolderShare { epoch, site, node } => line(b"holder-share", epoch, site, node),
            Purpose::Dividend { epoch, owner } => {
                vec![b"dividend".to_vec(), le64(epoch), owner.to_vec()]
            }
        }
    }
}

#[cfg(test)]
mod tests;
