use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::*;
use crate::audit::Reply;
use crate::content::{self, ContentHasher};
use crate::identity::NodeKey;
use crate::ticket::ClientPrefix;
use crate::wire::HeldPiece;

mod served;

const NOW: u64 = 1_700_000_000;
const VERSION: &str = "\"v1\"";

struct Keys {
    router: NodeKey,
    terminal: NodeKey,
    other: NodeKey,
}

fn keys() -> Keys {
    Keys {
        router: NodeKey::from_secret_bytes([1; 32]),
        terminal: NodeKey::from_secret_bytes([2; 32]),
        other: NodeKey::from_secret_bytes([3; 32]),
    }
}

const OBJECT: [u8; 16] = [5; 16];

fn ticket(router: &NodeKey, terminal: &NodeKey, serial: u64) -> String {
    Ticket {
        terminal: terminal.id().short_id(),
        site: 7,
        object: OBJECT,
        client_prefix: ClientPrefix::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 0)), 24).unwrap(),
        expires: NOW + 30,
        serial,
    }
    .issue(router, NOW)
    .unwrap()
}

fn record(ticket: String, bytes: u64, version: Option<&str>) -> UsageRecord {
    UsageRecord {
        ticket,
        bytes,
        requests: 1,
        hits: 0,
        served_at: NOW,
        version: version.map(str::to_owned),
    }
}

fn batch(signer: &NodeKey, records: Vec<UsageRecord>, ts: u64) -> SignedMessage<UsageBatch> {
    SignedMessage::sign(
        signer,
        wire::USAGE,
        ts,
        rand::random(),
        &UsageBatch { records },
    )
    .unwrap()
}

fn known_object(size: u64, version: &str) -> KnownObject {
    KnownObject {
        site: 7,
        object: hex::encode(OBJECT),
        version: version.into(),
        size,
        root: Root([8; 32]),
        slice_roots: Vec::new(),
        from_origin: true,
    }
}

fn statement(signer: &NodeKey, k: &KnownObject) -> SignedMessage<KnownObject> {
    SignedMessage::sign(signer, KNOWN_OBJECT, NOW, [4; 16], k).unwrap()
}

fn inflated(k: &Keys) -> Evidence {
    let t = ticket(&k.router, &k.terminal, 42);
    Evidence::UsageOverSize {
        batch: batch(
            &k.terminal,
            vec![record(t, 1_000_000_000_000_000, Some(VERSION))],
            NOW + 100,
        ),
        serial: 42,
        known: statement(&k.router, &known_object(1024, VERSION)),
    }
}

fn twice(k: &Keys) -> Evidence {
    let t = ticket(&k.router, &k.terminal, 9);
    Evidence::SerialTwice {
        serial: 9,
        first: batch(
            &k.terminal,
            vec![record(t.clone(), 500, Some(VERSION))],
            NOW,
        ),
        second: batch(
            &k.terminal,
            vec![record(t, 900, Some(VERSION))],
            NOW + 3_600,
        ),
    }
}

fn heartbeat(signer: &NodeKey, added: Vec<HeldPiece>) -> SignedMessage<Heartbeat> {
    let hb = Heartbeat {
        active_connections: 0,
        egress_bytes_per_sec: 0,
        free_disk_bytes: 1 << 30,
        disk_full: false,
        objects: 1,
        used_bytes: 1024,
        roots_digest: String::new(),
        draining: false,
        version: "0.1.0".into(),
        done: Vec::new(),
        added,
        evicted: Vec::new(),
    };
    SignedMessage::sign(signer, wire::HEARTBEAT, NOW, rand::random(), &hb).unwrap()
}

fn piece(root: Root, len: u64, version: Option<&str>) -> HeldPiece {
    HeldPiece {
        object: hex::encode(OBJECT),
        root,
        len,
        version: version.map(str::to_owned),
    }
}

fn mismatch(k: &Keys) -> Evidence {
    Evidence::RootMismatch {
        heartbeat: heartbeat(&k.terminal, vec![piece(Root([9; 32]), 1024, Some(VERSION))]),
        piece: 0,
        known: statement(&k.router, &known_object(1024, VERSION)),
    }
}

/// The terminal's signed answer to a challenge for `body`, proving a group of `stored` instead.
fn answer(k: &Keys, signer: &NodeKey, body: &[u8], stored: &[u8]) -> SignedMessage<Answer> {
    let challenge = Challenge {
        terminal: k.terminal.id(),
        root: Root::from(blake3::hash(body)),
        size: body.len() as u64,
        group: 1,
        expires: NOW + 30,
    };
    let challenge =
        SignedMessage::sign(&k.router, audit::CHALLENGE, NOW, [1; 16], &challenge).unwrap();
    let mut h = ContentHasher::new();
    h.update(stored);
    let (_, outboard) = h.finalize();
    let r = content::chunk_group_range(stored.len() as u64, 1).unwrap();
    let proof = content::encode_chunk_group_as_stored(
        stored.len() as u64,
        &outboard,
        1,
        &stored[r.start as usize..r.end as usize],
    )
    .unwrap();
    let a = Answer {
        challenge,
        reply: Reply::proof(&proof),
    };
    SignedMessage::sign(signer, audit::ANSWER, NOW + 1, [2; 16], &a).unwrap()
}

fn body() -> Vec<u8> {
    (0..100_000u32).map(|i| (i % 251) as u8).collect()
}

fn failed_audit(k: &Keys) -> Evidence {
    let good = body();
    let mut damaged = good.clone();
    damaged[20_000] ^= 1;
    Evidence::AuditFailed {
        answer: answer(k, &k.terminal, &good, &damaged),
    }
}

fn all(k: &Keys) -> Vec<Evidence> {
    vec![
        failed_audit(k),
        inflated(k),
        twice(k),
        mismatch(k),
        served::mismatch(k),
    ]
}

#[test]
fn each_kind_verifies_and_names_the_terminal() {
    let k = keys();
    for (e, kind) in all(&k).iter().zip(Kind::ALL) {
        let f = verify(e, &k.router.id()).unwrap_or_else(|err| panic!("{kind:?}: {err}"));
        assert_eq!(
            (f.terminal, f.kind, e.kind()),
            (k.terminal.id(), kind, kind)
        );
        assert!(f.first_at <= f.last_at);
        // Stored and served as JSON, it verifies the same.
        let back: Evidence = serde_json::from_str(&e.to_canonical()).unwrap();
        assert_eq!(verify(&back, &k.router.id()).unwrap(), f);
        assert_eq!(back.id(), e.id());
        assert!(e.to_canonical().contains(kind.as_str()));
    }
    let twice = verify(&twice(&k), &k.router.id()).unwrap();
    assert_eq!((twice.first_at, twice.last_at), (NOW, NOW + 3_600));
}

#[test]
fn another_routers_key_verifies_nothing() {
    let k = keys();
    for e in all(&k) {
        assert!(verify(&e, &k.other.id()).is_err(), "{:?}", e.kind());
    }
}

#[test]
fn an_honest_answer_and_a_not_held_answer_are_not_evidence() {
    let k = keys();
    let good = body();
    let honest = Evidence::AuditFailed {
        answer: answer(&k, &k.terminal, &good, &good),
    };
    assert_eq!(
        verify(&honest, &k.router.id()),
        Err(EvidenceError::ProofVerifies)
    );
    let a = answer(&k, &k.terminal, &good, &good);
    let mut body = a.verify_signature(audit::ANSWER).unwrap().body;
    body.reply = Reply::NotHeld;
    let not_held = Evidence::AuditFailed {
        answer: SignedMessage::sign(&k.terminal, audit::ANSWER, NOW, [3; 16], &body).unwrap(),
    };
    assert_eq!(
        verify(&not_held, &k.router.id()),
        Err(EvidenceError::NotHeld)
    );
}

#[test]
fn an_answer_signed_by_another_key_or_to_a_forged_challenge_is_refused() {
    let k = keys();
    let good = body();
    let mut damaged = good.clone();
    damaged[20_000] ^= 1;
    let impostor = Evidence::AuditFailed {
        answer: answer(&k, &k.other, &good, &damaged),
    };
    assert!(matches!(
        verify(&impostor, &k.router.id()),
        Err(EvidenceError::Audit(AuditError::NotTheTerminal { .. }))
    ));
    let forged = Keys {
        router: NodeKey::from_secret_bytes([6; 32]),
        ..keys()
    };
    assert!(matches!(
        verify(&failed_audit(&forged), &k.router.id()),
        Err(EvidenceError::Audit(AuditError::NotTheRouter { .. }))
    ));
}

#[test]
fn usage_within_size_unversioned_weak_or_of_another_version_is_not_evidence() {
    let k = keys();
    let t = ticket(&k.router, &k.terminal, 42);
    let with = |bytes, version: Option<&str>, known: &KnownObject| Evidence::UsageOverSize {
        batch: batch(&k.terminal, vec![record(t.clone(), bytes, version)], NOW),
        serial: 42,
        known: statement(&k.router, known),
    };
    let strong = known_object(1024, VERSION);
    let r = k.router.id();
    assert_eq!(
        verify(&with(1024, Some(VERSION), &strong), &r),
        Err(EvidenceError::WithinSize {
            bytes: 1024,
            size: 1024
        })
    );
    assert_eq!(
        verify(&with(5000, None, &strong), &r),
        Err(EvidenceError::NoVersion)
    );
    assert!(matches!(
        verify(&with(5000, Some("\"v2\""), &strong), &r),
        Err(EvidenceError::OtherVersion { .. })
    ));
    let owners = KnownObject {
        from_origin: false,
        ..strong.clone()
    };
    assert_eq!(
        verify(&with(5000, Some(VERSION), &owners), &r),
        Err(EvidenceError::NotFromOrigin),
        "an owner's size convicts nobody"
    );
    let weak = known_object(1024, "W/\"v1\"");
    assert!(matches!(
        verify(&with(5000, Some("W/\"v1\""), &weak), &r),
        Err(EvidenceError::WeakVersion(_))
    ));
    let dated = known_object(1024, "Tue, 15 Nov 1994 12:45:26 GMT");
    assert!(matches!(
        verify(
            &with(5000, Some("Tue, 15 Nov 1994 12:45:26 GMT"), &dated),
            &r
        ),
        Err(EvidenceError::WeakVersion(_))
    ));
    let elsewhere = KnownObject {
        site: 8,
        ..strong.clone()
    };
    assert_eq!(
        verify(&with(5000, Some(VERSION), &elsewhere), &r),
        Err(EvidenceError::OtherObject)
    );
    let Evidence::UsageOverSize { batch: b, .. } = with(5000, Some(VERSION), &strong) else {
        unreachable!()
    };
    assert_eq!(
        verify(
            &Evidence::UsageOverSize {
                batch: b,
                serial: 43,
                known: statement(&k.router, &strong)
            },
            &r
        ),
        Err(EvidenceError::NoSuchRecord(43))
    );
}

#[test]
fn a_statement_not_signed_by_the_router_or_malformed_is_refused() {
    let k = keys();
    let t = ticket(&k.router, &k.terminal, 42);
    let b = batch(&k.terminal, vec![record(t, 5000, Some(VERSION))], NOW);
    let known = known_object(1024, VERSION);
    let by_terminal = Evidence::UsageOverSize {
        batch: b.clone(),
        serial: 42,
        known: statement(&k.terminal, &known),
    };
    assert!(matches!(
        verify(&by_terminal, &k.router.id()),
        Err(EvidenceError::NotTheRouter { .. })
    ));
    let sliced = KnownObject {
        size: 10 << 20,
        slice_roots: vec![Root([1; 32])],
        ..known.clone()
    };
    let malformed = Evidence::UsageOverSize {
        batch: b.clone(),
        serial: 42,
        known: statement(&k.router, &sliced),
    };
    assert!(matches!(
        verify(&malformed, &k.router.id()),
        Err(EvidenceError::MalformedStatement(_))
    ));
    // A statement passed off as another kind of signed message.
    let relabelled: SignedMessage<KnownObject> = serde_json::from_str(
        &serde_json::to_string(
            &SignedMessage::sign(&k.router, wire::HEARTBEAT, NOW, [1; 16], &known).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(matches!(
        verify(
            &Evidence::UsageOverSize {
                batch: b,
                serial: 42,
                known: relabelled
            },
            &k.router.id()
        ),
        Err(EvidenceError::Statement(SignedError::WrongPurpose { .. }))
    ));
}

#[test]
fn a_ticket_forged_or_issued_to_another_terminal_is_refused() {
    let k = keys();
    let known = statement(&k.router, &known_object(1024, VERSION));
    let with_ticket = |t: String| Evidence::UsageOverSize {
        batch: batch(&k.terminal, vec![record(t, 5000, Some(VERSION))], NOW),
        serial: 42,
        known: known.clone(),
    };
    assert_eq!(
        verify(
            &with_ticket(ticket(&k.router, &k.other, 42)),
            &k.router.id()
        ),
        Err(EvidenceError::Ticket(TicketError::WrongTerminal {
            ticket: k.other.id().short_id(),
            this: k.terminal.id().short_id()
        }))
    );
    assert_eq!(
        verify(
            &with_ticket(ticket(&k.other, &k.terminal, 42)),
            &k.router.id()
        ),
        Err(EvidenceError::Ticket(TicketError::BadSignature))
    );
}

#[test]
fn a_resent_record_or_two_signers_are_not_a_serial_twice() {
    let k = keys();
    let t = ticket(&k.router, &k.terminal, 9);
    let first = batch(
        &k.terminal,
        vec![record(t.clone(), 500, Some(VERSION))],
        NOW,
    );
    let resent = batch(
        &k.terminal,
        vec![record(t.clone(), 500, Some(VERSION))],
        NOW + 9,
    );
    assert_eq!(
        verify(
            &Evidence::SerialTwice {
                serial: 9,
                first: first.clone(),
                second: resent
            },
            &k.router.id()
        ),
        Err(EvidenceError::SameRecord(9))
    );
    // The other node's batch cannot carry this terminal's ticket: it is refused as another's.
    let other = batch(&k.other, vec![record(t, 900, Some(VERSION))], NOW);
    assert!(matches!(
        verify(
            &Evidence::SerialTwice {
                serial: 9,
                first,
                second: other
            },
            &k.router.id()
        ),
        Err(EvidenceError::Ticket(TicketError::WrongTerminal { .. }))
    ));
}

#[test]
fn a_piece_that_matches_or_is_not_strongly_versioned_is_no_mismatch() {
    let k = keys();
    let known = known_object(1024, VERSION);
    let with = |p: HeldPiece, index| Evidence::RootMismatch {
        heartbeat: heartbeat(&k.terminal, vec![p]),
        piece: index,
        known: statement(&k.router, &known),
    };
    let r = k.router.id();
    assert_eq!(
        verify(&with(piece(known.root, 1024, Some(VERSION)), 0), &r),
        Err(EvidenceError::RootMatches)
    );
    assert_eq!(
        verify(&with(piece(Root([9; 32]), 1024, None), 0), &r),
        Err(EvidenceError::NoVersion)
    );
    assert_eq!(
        verify(&with(piece(Root([9; 32]), 1024, Some(VERSION)), 1), &r),
        Err(EvidenceError::NoSuchPiece(1))
    );
    let weak = KnownObject {
        version: "W/\"v1\"".into(),
        ..known.clone()
    };
    let e = Evidence::RootMismatch {
        heartbeat: heartbeat(
            &k.terminal,
            vec![piece(Root([9; 32]), 1024, Some("W/\"v1\""))],
        ),
        piece: 0,
        known: statement(&k.router, &weak),
    };
    assert!(matches!(verify(&e, &r), Err(EvidenceError::WeakVersion(_))));
    // What only the site's owner said of the object convicts nobody: an owner could push a false root
    // for its own objects to have the terminals serving them slashed.
    let owners = KnownObject {
        from_origin: false,
        ..known.clone()
    };
    let e = Evidence::RootMismatch {
        heartbeat: heartbeat(&k.terminal, vec![piece(Root([9; 32]), 1024, Some(VERSION))]),
        piece: 0,
        known: statement(&k.router, &owners),
    };
    assert_eq!(verify(&e, &r), Err(EvidenceError::NotFromOrigin));
}

#[test]
fn versions_are_named_alike_and_only_strong_etags_are_strong() {
    let mut h = http::HeaderMap::new();
    assert_eq!(origin_version(&h), None);
    h.insert(
        http::header::LAST_MODIFIED,
        "Tue, 15 Nov 1994 12:45:26 GMT".parse().unwrap(),
    );
    assert_eq!(
        origin_version(&h).as_deref(),
        Some("Tue, 15 Nov 1994 12:45:26 GMT")
    );
    h.insert(http::header::ETAG, "\"abc\"".parse().unwrap());
    assert_eq!(origin_version(&h).as_deref(), Some("\"abc\""));
    assert!(is_strong("\"abc\""));
    assert!(!is_strong("W/\"abc\""));
    assert!(!is_strong("Tue, 15 Nov 1994 12:45:26 GMT"));
    assert!(!is_strong("\""));
}

/// The body texts the evidence's signatures cover, outer ones first.
fn signed_texts(e: &Evidence) -> Vec<String> {
    let v = serde_json::to_value(e).unwrap();
    let mut out = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        if let Some(body) = v.get("body").and_then(|b| b.as_str()) {
            out.push(body.to_owned());
            if let Ok(inner) = serde_json::from_str::<serde_json::Value>(body) {
                walk(&inner, out);
            }
        }
        if let Some(map) = v.as_object() {
            for (key, child) in map {
                if key != "body" {
                    walk(child, out);
                }
            }
        }
    }
    walk(&v, &mut out);
    out
}

/// Replaces the body text `from` by `to` wherever it appears in the evidence.
fn tampered(e: &Evidence, from: &str, to: &str) -> Option<Evidence> {
    let text = e.to_canonical();
    let from_json = serde_json::to_string(from).unwrap();
    let to_json = serde_json::to_string(to).unwrap();
    let changed = text.replacen(
        &from_json[1..from_json.len() - 1],
        &to_json[1..to_json.len() - 1],
        1,
    );
    // A body nested in another is escaped twice in the text: it changes with its outer body instead.
    if changed == text {
        return None;
    }
    serde_json::from_str(&changed).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Changing any byte of any signed body, of any kind of evidence, breaks verification.
    #[test]
    fn any_changed_byte_of_signed_text_breaks_verification(which in 0usize..5, text in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let k = keys();
        let e = all(&k).swap_remove(which);
        let texts = signed_texts(&e);
        let original = text.get(&texts);
        let mut bytes = original.clone().into_bytes();
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        // Only changes that still form text can be carried by the JSON at all.
        let Ok(changed) = String::from_utf8(bytes) else { return Ok(()) };
        if let Some(t) = tampered(&e, original, &changed) {
            prop_assert!(verify(&t, &k.router.id()).is_err());
        }
    }
}
