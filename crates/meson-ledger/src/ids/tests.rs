use proptest::prelude::*;

use super::*;

/// The inverse of [`Purpose::preimage`]: that it exists proves the encoding injective, so two different
/// purposes never hash the same input.
fn decode(preimage: &[u8]) -> Option<Purpose> {
    let mut rest = preimage.strip_prefix(DOMAIN)?;
    let mut parts: Vec<&[u8]> = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest.split_at_checked(8)?;
        let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
        let (part, tail) = tail.split_at_checked(len)?;
        parts.push(part);
        rest = tail;
    }
    let b32 = |p: &[u8]| <[u8; 32]>::try_from(p).ok();
    let u64_ = |p: &[u8]| <[u8; 8]>::try_from(p).ok().map(u64::from_le_bytes);
    let i64_ = |p: &[u8]| <[u8; 8]>::try_from(p).ok().map(i64::from_le_bytes);
    let u128_ = |p: &[u8]| <[u8; 16]>::try_from(p).ok().map(u128::from_le_bytes);
    let glued = |p: &[u8], tag: &[u8]| p.strip_prefix(tag).and_then(b32);
    let bond = |claim: [u8; 32], pending: &[u8]| {
        (u128_(pending)? == Purpose::Bond { claim }.id()).then_some(claim)
    };
    Some(match parts.as_slice() {
        [b"wallet", o] => Purpose::Wallet { owner: b32(o)? },
        [b"stake", o] => Purpose::Stake { owner: b32(o)? },
        [b"claim", c] => Purpose::ClaimEscrow { claim: b32(c)? },
        [b"escrow", s] => Purpose::SiteEscrow { site: i64_(s)? },
        [b"terminal", n] => Purpose::Earnings { node: b32(n)? },
        [b"tx", o, n] => Purpose::Tx {
            owner: b32(o)?,
            nonce: u64_(n)?,
        },
        [b"bond", c] => Purpose::Bond { claim: b32(c)? },
        [b"council", o, t] => Purpose::CouncilLock {
            owner: b32(o)?,
            term: u64_(t)?,
        },
        [b"fee", e, s, n] => Purpose::Fee {
            epoch: u64_(e)?,
            site: i64_(s)?,
            node: b32(n)?,
        },
        [b"payout", e, s, n] => Purpose::Payout {
            epoch: u64_(e)?,
            site: i64_(s)?,
            node: b32(n)?,
        },
        [b"subsidy", e, n] => Purpose::Subsidy {
            epoch: u64_(e)?,
            node: b32(n)?,
        },
        [b"slash", e, part] => Purpose::Slash {
            evidence: b32(e)?,
            part: *SlashPart::ALL.iter().find(|p| p.tag() == *part)?,
        },
        [b"slash-refund", e, s] => Purpose::SlashRefund {
            evidence: b32(e)?,
            site: i64_(s)?,
        },
        [b"unbond", p] => Purpose::Unbond { pending: u128_(p)? },
        [b"forfeit-treasury", c] => Purpose::ForfeitToTreasury { claim: b32(c)? },
        [b"correction", r] => Purpose::Correction {
            reverses: u128_(r)?,
        },
        [b"seat-reward", o, t] => Purpose::SeatReward {
            owner: b32(o)?,
            term: u64_(t)?,
        },
        [b"proposal-deposit", p] => Purpose::ProposalDeposit { proposal: b32(p)? },
        [b"veto", p] => Purpose::VetoEscrow { proposal: b32(p)? },
        [b"shutdown", r] => Purpose::ShutdownEscrow { round: u64_(r)? },
        [b"gov-action", p, i] => Purpose::GovAction {
            proposal: b32(p)?,
            index: u32::from_le_bytes((*i).try_into().ok()?),
        },
        [b"holder-share", e, s, n] => Purpose::HolderShare {
            epoch: u64_(e)?,
            site: i64_(s)?,
            node: b32(n)?,
        },
        [b"dividend", e, o] => Purpose::Dividend {
            epoch: u64_(e)?,
            owner: b32(o)?,
        },
        [first, p] if glued(first, b"slash-unlock").is_some() => Purpose::SlashUnlock {
            evidence: glued(first, b"slash-unlock")?,
            pending: u128_(p)?,
        },
        [first, p] if glued(first, b"forfeit").is_some() => Purpose::Forfeit {
            claim: bond(glued(first, b"forfeit")?, p)?,
        },
        [first, p] if glued(first, b"return").is_some() => Purpose::ReturnBond {
            claim: bond(glued(first, b"return")?, p)?,
        },
        _ => return None,
    })
}

/// One purpose of each kind; the match has no wildcard, so a new kind must be added here (and to
/// [`purpose`] and [`decode`]) before this compiles.
fn one_of_each() -> Vec<Purpose> {
    let k = [9u8; 32];
    let all = vec![
        Purpose::Wallet { owner: k },
        Purpose::Stake { owner: k },
        Purpose::ClaimEscrow { claim: k },
        Purpose::SiteEscrow { site: 9 },
        Purpose::Earnings { node: k },
        Purpose::Tx { owner: k, nonce: 9 },
        Purpose::Bond { claim: k },
        Purpose::CouncilLock { owner: k, term: 9 },
        Purpose::Fee {
            epoch: 9,
            site: 9,
            node: k,
        },
        Purpose::Payout {
            epoch: 9,
            site: 9,
            node: k,
        },
        Purpose::Subsidy { epoch: 9, node: k },
        Purpose::Slash {
            evidence: k,
            part: SlashPart::Claimant,
        },
        Purpose::SlashRefund {
            evidence: k,
            site: 9,
        },
        Purpose::Unbond { pending: 9 },
        Purpose::SlashUnlock {
            evidence: k,
            pending: 9,
        },
        Purpose::Forfeit { claim: k },
        Purpose::ForfeitToTreasury { claim: k },
        Purpose::ReturnBond { claim: k },
        Purpose::Correction { reverses: 9 },
        Purpose::SeatReward { owner: k, term: 9 },
        Purpose::ProposalDeposit { proposal: k },
        Purpose::VetoEscrow { proposal: k },
        Purpose::ShutdownEscrow { round: 9 },
        Purpose::GovAction {
            proposal: k,
            index: 9,
        },
        Purpose::HolderShare {
            epoch: 9,
            site: 9,
            node: k,
        },
        Purpose::Dividend { epoch: 9, owner: k },
    ];
    for p in &all {
        match p {
            Purpose::Wallet { .. }
            | Purpose::Stake { .. }
            | Purpose::ClaimEscrow { .. }
            | Purpose::SiteEscrow { .. }
            | Purpose::Earnings { .. }
            | Purpose::Tx { .. }
            | Purpose::Bond { .. }
            | Purpose::CouncilLock { .. }
            | Purpose::Fee { .. }
            | Purpose::Payout { .. }
            | Purpose::Subsidy { .. }
            | Purpose::Slash { .. }
            | Purpose::SlashRefund { .. }
            | Purpose::Unbond { .. }
            | Purpose::SlashUnlock { .. }
            | Purpose::Forfeit { .. }
            | Purpose::ForfeitToTreasury { .. }
            | Purpose::ReturnBond { .. }
            | Purpose::Correction { .. }
            | Purpose::SeatReward { .. }
            | Purpose::ProposalDeposit { .. }
            | Purpose::VetoEscrow { .. }
            | Purpose::ShutdownEscrow { .. }
            | Purpose::GovAction { .. } => {}
            Purpose::HolderShare { .. } | Purpose::Dividend { .. } => {}
        }
    }
    all
}

/// The tag a purpose's parts start with (a glued reason's tag is the text before its digest).
fn tag(p: &Purpose) -> Vec<u8> {
    let first = p.parts().swap_remove(0);
    match p {
        Purpose::SlashUnlock { .. } | Purpose::Forfeit { .. } | Purpose::ReturnBond { .. } => {
            first[..first.len() - 32].to_vec()
        }
        _ => first,
    }
}

#[test]
fn every_kind_has_its_own_tag() {
    let all = one_of_each();
    let mut tags: Vec<Vec<u8>> = all.iter().map(tag).collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), all.len(), "two kinds share a tag");
    for p in all {
        assert_eq!(decode(&p.preimage()), Some(p));
    }
}

/// Ids computed by the code that wrote the first ledgers (before ids had one module), and those of the
/// purposes added since as they were first computed: they must never change, or a ledger's log would no
/// longer match the transfers its rules make.
#[test]
fn ids_are_those_ledgers_already_hold() {
    let (o, c, n, e) = ([1u8; 32], [2u8; 32], [3u8; 32], [4u8; 32]);
    let (site, epoch, term, nonce, pending, reverses) = (5i64, 6u64, 7u64, 8u64, 9u128, 10u128);
    let known: [(Purpose, u128); 26] = [
        (
            Purpose::Wallet { owner: o },
            262722171955255585210268078573525462338,
        ),
        (
            Purpose::Stake { owner: o },
            140626127418058960081729767957833744181,
        ),
        (
            Purpose::ClaimEscrow { claim: c },
            58289765388258270533345709280794980895,
        ),
        (
            Purpose::SiteEscrow { site },
            228017199332223466618773396182462337876,
        ),
        (
            Purpose::Earnings { node: n },
            212056026803691940612118360263836817277,
        ),
        (
            Purpose::Tx { owner: o, nonce },
            333014013316677926170397646541253809208,
        ),
        (
            Purpose::Bond { claim: c },
            130400606703407501555086105494705444619,
        ),
        (
            Purpose::CouncilLock { owner: o, term },
            59857382192994498907384539054247982000,
        ),
        (
            Purpose::Fee {
                epoch,
                site,
                node: n,
            },
            12864014263696355848669562186927375818,
        ),
        (
            Purpose::Payout {
                epoch,
                site,
                node: n,
            },
            285916374771193514573368669192772678840,
        ),
        (
            Purpose::Subsidy { epoch, node: n },
            224894119375860498334190386736405013987,
        ),
        (
            Purpose::Slash {
                evidence: e,
                part: SlashPart::Claimant,
            },
            46515740539225419879239115154247507009,
        ),
        (
            Purpose::Slash {
                evidence: e,
                part: SlashPart::Burn,
            },
            254255657186845907251965562624565090349,
        ),
        (
            Purpose::Slash {
                evidence: e,
                part: SlashPart::Treasury,
            },
            237895880274822044785258880900211152993,
        ),
        (
            Purpose::Unbond { pending },
            267515429745896027891386256792333778424,
        ),
        (
            Purpose::SlashUnlock {
                evidence: e,
                pending,
            },
            11053624913939114684255506865551323424,
        ),
        (
            Purpose::Forfeit { claim: c },
            281677003259461227223526929101933205452,
        ),
        (
            Purpose::ReturnBond { claim: c },
            243855645754345006810041189124993570044,
        ),
        (
            Purpose::ForfeitToTreasury { claim: c },
            338255796557165984497083569915231664105,
        ),
        (
            Purpose::Correction { reverses },
            107259783900951151017296098187904293993,
        ),
        (
            Purpose::HolderShare {
                epoch,
                site,
                node: n,
            },
            294747452593108809691352173310953724973,
        ),
        (
            Purpose::Dividend { epoch, owner: o },
            74998087801205625719001066997359169894,
        ),
        (
            Purpose::ProposalDeposit { proposal: c },
            270668578906771191567135788559022780689,
        ),
        (
            Purpose::VetoEscrow { proposal: c },
            321914833104944281180713501589288033988,
        ),
        (
            Purpose::ShutdownEscrow { round: epoch },
            83102540559309199751512777846618573403,
        ),
        (
            Purpose::GovAction {
                proposal: c,
                index: 2,
            },
            60601093417193301551121962402060344147,
        ),
    ];
    for (purpose, id) in known {
        assert_eq!(purpose.id(), id, "{purpose:?}");
    }
}

fn purpose() -> impl Strategy<Value = Purpose> {
    let k = any::<[u8; 32]>;
    let part = prop_oneof![
        Just(SlashPart::Claimant),
        Just(SlashPart::Burn),
        Just(SlashPart::Treasury)
    ];
    prop_oneof![
        k().prop_map(|owner| Purpose::Wallet { owner }),
        k().prop_map(|owner| Purpose::Stake { owner }),
        k().prop_map(|claim| Purpose::ClaimEscrow { claim }),
        any::<i64>().prop_map(|site| Purpose::SiteEscrow { site }),
        k().prop_map(|node| Purpose::Earnings { node }),
        (k(), any::<u64>()).prop_map(|(owner, nonce)| Purpose::Tx { owner, nonce }),
        k().prop_map(|claim| Purpose::Bond { claim }),
        (k(), any::<u64>()).prop_map(|(owner, term)| Purpose::CouncilLock { owner, term }),
        (any::<u64>(), any::<i64>(), k()).prop_map(|(epoch, site, node)| Purpose::Fee {
            epoch,
            site,
            node
        }),
        (any::<u64>(), any::<i64>(), k()).prop_map(|(epoch, site, node)| Purpose::Payout {
            epoch,
            site,
            node
        }),
        (any::<u64>(), k()).prop_map(|(epoch, node)| Purpose::Subsidy { epoch, node }),
        (k(), part).prop_map(|(evidence, part)| Purpose::Slash { evidence, part }),
        (k(), any::<i64>()).prop_map(|(evidence, site)| Purpose::SlashRefund { evidence, site }),
        any::<u128>().prop_map(|pending| Purpose::Unbond { pending }),
        (k(), any::<u128>())
            .prop_map(|(evidence, pending)| Purpose::SlashUnlock { evidence, pending }),
        k().prop_map(|claim| Purpose::Forfeit { claim }),
        k().prop_map(|claim| Purpose::ForfeitToTreasury { claim }),
        k().prop_map(|claim| Purpose::ReturnBond { claim }),
        any::<u128>().prop_map(|reverses| Purpose::Correction { reverses }),
        (k(), any::<u64>()).prop_map(|(owner, term)| Purpose::SeatReward { owner, term }),
        (any::<u64>(), any::<i64>(), k()).prop_map(|(epoch, site, node)| Purpose::HolderShare {
            epoch,
            site,
            node
        }),
        (any::<u64>(), k()).prop_map(|(epoch, owner)| Purpose::Dividend { epoch, owner }),
        k().prop_map(|proposal| Purpose::ProposalDeposit { proposal }),
        k().prop_map(|proposal| Purpose::VetoEscrow { proposal }),
        any::<u64>().prop_map(|round| Purpose::ShutdownEscrow { round }),
        (k(), any::<u32>()).prop_map(|(proposal, index)| Purpose::GovAction { proposal, index }),
    ]
}

proptest! {
    #[test]
    fn the_hashed_input_names_its_purpose_exactly(p in purpose()) {
        prop_assert_eq!(decode(&p.preimage()), Some(p));
        prop_assert_ne!(p.id(), 0);
    }

    #[test]
    fn different_purposes_never_share_an_input_or_an_id(a in purpose(), b in purpose()) {
        if a != b {
            prop_assert_ne!(a.preimage(), b.preimage());
            prop_assert_ne!(a.id(), b.id());
        }
    }
}
