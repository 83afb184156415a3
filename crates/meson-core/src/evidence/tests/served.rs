//! `served_root_mismatch`: a terminal's signed claim of what it serves against the router's statement.

use super::*;
use crate::content::SLICE_SIZE;
use crate::served::{Served, SERVED};

fn served(root: Root, size: u64, version: Option<&str>) -> Served {
    Served {
        site: 7,
        object: hex::encode(OBJECT),
        version: version.map(str::to_owned),
        size,
        root,
        slice_roots: Vec::new(),
    }
}

fn claim(signer: &NodeKey, s: &Served, ts: u64) -> SignedMessage<Served> {
    SignedMessage::sign(signer, SERVED, ts, rand::random(), s).unwrap()
}

fn against(k: &Keys, s: &Served, known: &KnownObject) -> Evidence {
    Evidence::ServedRootMismatch {
        served: claim(&k.terminal, s, NOW),
        known: statement(&k.router, known),
    }
}

/// The terminal signed it serves other bytes than the router's origin fetch found.
pub(super) fn mismatch(k: &Keys) -> Evidence {
    against(
        k,
        &served(Root([9; 32]), 1024, Some(VERSION)),
        &known_object(1024, VERSION),
    )
}

#[test]
fn other_roots_or_another_size_are_evidence_of_one_offence() {
    let k = keys();
    let r = k.router.id();
    let known = known_object(1024, VERSION);
    let f = verify(&mismatch(&k), &r).unwrap();
    assert_eq!(
        (f.terminal, f.kind),
        (k.terminal.id(), Kind::ServedRootMismatch)
    );
    assert!(
        f.proves.contains(&Root([9; 32]).to_string()),
        "{}",
        f.proves
    );
    // Signed again (another response, another run): the same offence.
    let other = mismatch(&k);
    assert_ne!(other.id(), mismatch(&k).id());
    assert_eq!(verify(&other, &r).unwrap().offence, f.offence);
    let shorter = verify(
        &against(&k, &served(known.root, 1000, Some(VERSION)), &known),
        &r,
    )
    .unwrap();
    assert_ne!(shorter.offence, f.offence);
    // The same wrong root reported held is another kind of offence.
    assert_ne!(verify(&super::mismatch(&k), &r).unwrap().offence, f.offence);
}

#[test]
fn the_objects_own_roots_are_no_mismatch() {
    let k = keys();
    let r = k.router.id();
    let body: Vec<u8> = (0..2 * SLICE_SIZE + 10).map(|i| (i % 251) as u8).collect();
    let roots = content::object_roots(&body);
    let known = KnownObject {
        size: roots.size,
        root: roots.root,
        slice_roots: roots.slices.clone(),
        ..known_object(0, VERSION)
    };
    let whole = Served::new(7, hex::encode(OBJECT), Some(VERSION.into()), roots.clone());
    assert_eq!(
        verify(&against(&k, &whole, &known), &r),
        Err(EvidenceError::RootMatches)
    );
    // A claim may leave the slice roots out; if it names them, they are compared.
    let bare = Served {
        slice_roots: Vec::new(),
        ..whole.clone()
    };
    assert_eq!(
        verify(&against(&k, &bare, &known), &r),
        Err(EvidenceError::RootMatches)
    );
    let mut slices = roots.slices.clone();
    slices[1] = Root([1; 32]);
    let other_slices = Served {
        slice_roots: slices,
        ..whole
    };
    assert!(verify(&against(&k, &other_slices, &known), &r).is_ok());
}

#[test]
fn forged_claims_and_statements_are_refused() {
    let k = keys();
    let r = k.router.id();
    let Evidence::ServedRootMismatch { served: c, known } = mismatch(&k) else {
        unreachable!()
    };
    // The claim passed off as the other node's.
    let text = serde_json::to_string(&c).unwrap();
    let forged: SignedMessage<Served> = serde_json::from_str(
        &text.replace(&k.terminal.id().to_string(), &k.other.id().to_string()),
    )
    .unwrap();
    let e = Evidence::ServedRootMismatch {
        served: forged,
        known: known.clone(),
    };
    assert!(matches!(
        verify(&e, &r),
        Err(EvidenceError::Terminal {
            what: "served claim",
            source: SignedError::BadSignature
        })
    ));
    // A heartbeat is no claim of what is served.
    let relabelled: SignedMessage<Served> =
        serde_json::from_str(&serde_json::to_string(&heartbeat(&k.terminal, Vec::new())).unwrap())
            .unwrap();
    assert!(matches!(
        verify(
            &Evidence::ServedRootMismatch {
                served: relabelled,
                known: known.clone()
            },
            &r
        ),
        Err(EvidenceError::Terminal {
            source: SignedError::WrongPurpose { .. },
            ..
        })
    ));
    let by_terminal = Evidence::ServedRootMismatch {
        served: c,
        known: statement(&k.terminal, &known_object(1024, VERSION)),
    };
    assert!(matches!(
        verify(&by_terminal, &r),
        Err(EvidenceError::NotTheRouter { .. })
    ));
}

#[test]
fn weak_unversioned_or_owner_sourced_statements_convict_nobody() {
    let k = keys();
    let r = k.router.id();
    let wrong = Root([9; 32]);
    let weak = known_object(1024, "W/\"v1\"");
    assert!(matches!(
        verify(
            &against(&k, &served(wrong, 1024, Some("W/\"v1\"")), &weak),
            &r
        ),
        Err(EvidenceError::WeakVersion(_))
    ));
    let strong = known_object(1024, VERSION);
    assert_eq!(
        verify(&against(&k, &served(wrong, 1024, None), &strong), &r),
        Err(EvidenceError::NoVersion)
    );
    assert!(matches!(
        verify(
            &against(&k, &served(wrong, 1024, Some("\"v2\"")), &strong),
            &r
        ),
        Err(EvidenceError::OtherVersion { .. })
    ));
    let owners = KnownObject {
        from_origin: false,
        ..strong
    };
    assert_eq!(
        verify(
            &against(&k, &served(wrong, 1024, Some(VERSION)), &owners),
            &r
        ),
        Err(EvidenceError::NotFromOrigin)
    );
}

#[test]
fn a_claim_on_another_object_or_site_is_not_evidence() {
    let k = keys();
    let r = k.router.id();
    let known = known_object(1024, VERSION);
    let elsewhere = Served {
        site: 8,
        ..served(Root([9; 32]), 1024, Some(VERSION))
    };
    assert_eq!(
        verify(&against(&k, &elsewhere, &known), &r),
        Err(EvidenceError::OtherObject)
    );
    let other = Served {
        object: hex::encode([6u8; 16]),
        ..served(Root([9; 32]), 1024, Some(VERSION))
    };
    assert_eq!(
        verify(&against(&k, &other, &known), &r),
        Err(EvidenceError::OtherObject)
    );
    let upper = Served {
        object: hex::encode(OBJECT).to_ascii_uppercase(),
        ..served(Root([9; 32]), 1024, Some(VERSION))
    };
    assert!(verify(&against(&k, &upper, &known), &r).is_ok());
}
