//! Every governed parameter: its name, unit, hard bounds, default and the most one proposal may move it.
//! The bounds are part of the protocol, as Compound hard-codes them: no vote can cross them, and a
//! network's genesis values must lie within them too.

use super::{Spec, Step, Unit};
use crate::ONE_TOKEN;

const T: u128 = ONE_TOKEN;
const MINUTE: u128 = 60;
const HOUR: u128 = 3600;
const DAY: u128 = 24 * HOUR;

/// A parameter. The order is the registry's order, in `meson-cdn gov params` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Param {
    EpochSecs,
    PricePerGib,
    FeeBps,
    HolderShareBps,
    SubsidyBps,
    SubsidyCap,
    MinStake,
    SlashTokens,
    SlashClaimantBps,
    SlashBurnBps,
    UnbondingSecs,
    ReviewSecs,
    AppealSecs,
    MinBond,
    MaxOpenClaims,
    MaxClaimsPerDay,
    CouncilTermSecs,
    CouncilSeats,
    SeatReward,
    CouncilMinStake,
    AuditIntervalMs,
    VettingAudits,
    SuspendBelowBps,
    SuspendMinAudits,
    PrefixTicketsPerMin,
    PrefixTicketBurst,
    MaxPrefixShareBps,
    MaxPrefixShareTop,
    PrefixShareMinBytes,
    ProposalDeposit,
    VotingSecs,
    LateQuorumSecs,
    QuorumBps,
    MajorityBps,
    TimelockSecs,
    VetoDelayBps,
    VetoCancelBps,
    VetoExtensionSecs,
    ShutdownBps,
    ShutdownSecs,
}

/// The longest a passed proposal waits in the queue before it executes, unless a veto stretches it:
/// the timelock's hard maximum, and the end of the window the council may delay a proposal to.
pub const MAX_TIMELOCK_SECS: u64 = 24 * 3600;

impl Param {
    pub const ALL: [Param; 40] = [
        Param::EpochSecs,
        Param::PricePerGib,
        Param::FeeBps,
        Param::HolderShareBps,
        Param::SubsidyBps,
        Param::SubsidyCap,
        Param::MinStake,
        Param::SlashTokens,
        Param::SlashClaimantBps,
        Param::SlashBurnBps,
        Param::UnbondingSecs,
        Param::ReviewSecs,
        Param::AppealSecs,
        Param::MinBond,
        Param::MaxOpenClaims,
        Param::MaxClaimsPerDay,
        Param::CouncilTermSecs,
        Param::CouncilSeats,
        Param::SeatReward,
        Param::CouncilMinStake,
        Param::AuditIntervalMs,
        Param::VettingAudits,
        Param::SuspendBelowBps,
        Param::SuspendMinAudits,
        Param::PrefixTicketsPerMin,
        Param::PrefixTicketBurst,
        Param::MaxPrefixShareBps,
        Param::MaxPrefixShareTop,
        Param::PrefixShareMinBytes,
        Param::ProposalDeposit,
        Param::VotingSecs,
        Param::LateQuorumSecs,
        Param::QuorumBps,
        Param::MajorityBps,
        Param::TimelockSecs,
        Param::VetoDelayBps,
        Param::VetoCancelBps,
        Param::VetoExtensionSecs,
        Param::ShutdownBps,
        Param::ShutdownSecs,
    ];

    /// The parameter's name in proposals, the API and the README.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The parameter called `name`.
    pub fn named(name: &str) -> Option<Param> {
        Param::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn spec(self) -> Spec {
        use Param::*;
        use Step::{By, Factor, Fixed};
        use Unit::*;
        let s = |name, unit, min, max, default, step, about| Spec {
            name,
            unit,
            min,
            max,
            default,
            step,
            about,
        };
        match self {
            EpochSecs => s("epoch_secs", Seconds, 1, DAY, HOUR, Fixed,
                "Seconds per epoch. Fixed at genesis: epoch numbers name every settlement, payout root and piece of evidence."),
            PricePerGib => s("price_per_gib", BaseUnitsPerGib, 1, 1_000 * T, T / 10, Factor(2),
                "What a site pays per GiB served where no region price applies; region prices are `region_price.REGION`, with the same bounds."),
            FeeBps => s("fee_bps", Bps, 0, 5_000, 2_000, By(1_000),
                "The protocol fee, a share of each charge: burned, but for the holders' share."),
            HolderShareBps => s("holder_share_bps", Bps, 0, 10_000, 0, By(2_500),
                "The share of the protocol fee paid to stakers pro rata each epoch; the rest is burned."),
            SubsidyBps => s("subsidy_bps", Bps, 0, 10_000, 0, By(2_500),
                "The treasury's bootstrap subsidy, a share of what each terminal earned from customers."),
            SubsidyCap => s("subsidy_cap", BaseUnits, 0, 1_000_000 * T, 0, By(10_000 * T),
                "The most the treasury pays in subsidies per epoch."),
            MinStake => s("min_stake", BaseUnits, 0, 1_000_000 * T, 0, By(1_000 * T),
                "What a terminal must hold in stake to be in rotation."),
            SlashTokens => s("slash_tokens", BaseUnits, 1, 1_000_000 * T, 10 * T, Factor(4),
                "Slashed per piece of objective evidence or upheld claim, on top of the refunds owed."),
            SlashClaimantBps => s("slash_claimant_bps", Bps, 0, 10_000, 5_000, By(2_500),
                "The share of a slash paid to whoever brought the evidence."),
            SlashBurnBps => s("slash_burn_bps", Bps, 0, 10_000, 3_000, By(2_500),
                "The share of a slash burned; the treasury takes the rest."),
            UnbondingSecs => s("unbonding_secs", Seconds, 1, 90 * DAY, 7 * DAY, Factor(2),
                "How long unstaked tokens stay slashable; longer than the longest a claim can take."),
            ReviewSecs => s("review_secs", Seconds, 1, 30 * DAY, DAY, Factor(2),
                "How long the council has to vote on a claim, per round."),
            AppealSecs => s("appeal_secs", Seconds, 1, 30 * DAY, DAY, Factor(2),
                "How long the losing party of a decided claim has to appeal."),
            MinBond => s("min_bond", BaseUnits, 1, 10_000 * T, T, Factor(4),
                "The least bond a hunter posts with a claim."),
            MaxOpenClaims => s("max_open_claims", Count, 1, 1_000, 10, Factor(4),
                "The most claims one hunter may have awaiting a verdict."),
            MaxClaimsPerDay => s("max_claims_per_day", Count, 1, 10_000, 20, Factor(4),
                "The most claims one hunter may file in 24 hours."),
            CouncilTermSecs => s("council_term_secs", Seconds, 1, 365 * DAY, 30 * DAY, Fixed,
                "Seconds per council term. Fixed at genesis: terms are numbered by it."),
            CouncilSeats => s("council_seats", Count, 1, 101, 5, By(4),
                "Seats on the council, filled at each term's election."),
            SeatReward => s("seat_reward", BaseUnits, 0, 10_000 * T, 10 * T, By(100 * T),
                "Paid from the treasury to each member that voted on every claim it could in a term."),
            CouncilMinStake => s("council_min_stake", BaseUnits, 1, 1_000_000 * T, 100 * T, Factor(4),
                "The least stake a council member locks for a term."),
            AuditIntervalMs => s("audit_interval_ms", Milliseconds, 100, DAY * 1_000, 15 * MINUTE * 1_000, Factor(4),
                "The mean time between two spot-check audits of one terminal."),
            VettingAudits => s("vetting_audits", Count, 0, 1_000, 10, By(50),
                "Audits a new terminal must pass before it gets full traffic."),
            SuspendBelowBps => s("suspend_below_bps", Bps, 0, 10_000, 9_000, By(1_000),
                "A pass rate below this, over the recent audits, suspends a terminal."),
            SuspendMinAudits => s("suspend_min_audits", Count, 1, 1_000, 10, Factor(4),
                "The fewest recent audits suspension is judged over."),
            PrefixTicketsPerMin => s("prefix_tickets_per_min", Count, 0, 1_000_000, 600, Factor(4),
                "Paid tickets a minute per client prefix and site (0: no bound)."),
            PrefixTicketBurst => s("prefix_ticket_burst", Count, 0, 2_000_000, 1_200, Factor(4),
                "Paid tickets at once per client prefix and site after a quiet spell."),
            MaxPrefixShareBps => s("max_prefix_share_bps", Bps, 100, 10_000, 5_000, By(2_500),
                "The share of a terminal's paid bytes for a site its top client prefixes may make up."),
            MaxPrefixShareTop => s("max_prefix_share_top", Count, 1, 100, 3, By(5),
                "How many client prefixes count as few, for the share cap."),
            PrefixShareMinBytes => s("prefix_share_min_bytes", Bytes, 0, 1 << 40, 1 << 30, Factor(4),
                "A terminal's bytes for a site in an epoch below which the share cap withholds nothing."),
            ProposalDeposit => s("proposal_deposit", BaseUnits, 1, 1_000_000 * T, 100 * T, Factor(4),
                "Reserved from the proposer's wallet; returned unless a veto cancels the proposal."),
            VotingSecs => s("voting_secs", Seconds, 1, 30 * DAY, 3 * DAY, Factor(4),
                "How long a proposal's vote lasts."),
            LateQuorumSecs => s("late_quorum_secs", Seconds, 0, 7 * DAY, DAY, Factor(4),
                "When quorum arrives less than this before the vote's end, the vote runs this long after it."),
            QuorumBps => s("quorum_bps", Bps, 100, 10_000, 400, By(1_000),
                "The share of the snapshot's voting power that must vote (for, against or abstain)."),
            MajorityBps => s("majority_bps", Bps, 5_000, 10_000, 5_000, By(1_000),
                "A proposal passes when its votes for exceed this share of the votes for and against."),
            TimelockSecs => s("timelock_secs", Seconds, 0, MAX_TIMELOCK_SECS as u128, 12 * HOUR, By(12 * HOUR),
                "How long a passed proposal waits in the queue before it executes: at most 24 hours."),
            VetoDelayBps => s("veto_delay_bps", Bps, 1, 10_000, 100, By(500),
                "Veto stake, as a share of the snapshot's voting power, above which a queued proposal waits longer."),
            VetoCancelBps => s("veto_cancel_bps", Bps, 1, 10_000, 1_000, By(1_000),
                "Veto stake, as a share of the snapshot's voting power, above which a queued proposal is cancelled."),
            VetoExtensionSecs => s("veto_extension_secs", Seconds, 0, 30 * DAY, 3 * DAY, Factor(4),
                "How much longer a proposal past the first veto threshold waits, after its window's end."),
            ShutdownBps => s("shutdown_bps", Bps, 1, 10_000, 1_000, By(1_000),
                "Stake locked in the shutdown escrow, as a share of all voting power, that pauses governance and slashing."),
            ShutdownSecs => s("shutdown_secs", Seconds, 1, 14 * DAY, 3 * DAY, Factor(4),
                "How long a shutdown lasts before it expires by itself."),
        }
    }
}
