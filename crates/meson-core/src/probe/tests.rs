use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::*;
use crate::content::{object_roots, Root};
use crate::evidence::KNOWN_OBJECT;
use crate::identity::NodeKey;
use crate::ticket::ClientPrefix;

const NOW: u64 = 1_700_000_000;
const VERSION: &str = "\"v1\"";
const OBJECT: [u8; 16] = [5; 16];

fn router() -> NodeKey {
    NodeKey::from_secret_bytes([1; 32])
}

fn terminal() -> NodeKey {
    NodeKey::from_secret_bytes([2; 32])
}

fn other() -> NodeKey {
    NodeKey::from_secret_bytes([3; 32])
}

fn body() -> Vec<u8> {
    (0..5_000u32).map(|i| (i % 251) as u8).collect()
}

/// The `Location` the router sends a client to: `terminal`'s ticket, signed by `issuer`.
fn url(issuer: &NodeKey, terminal: &NodeKey) -> String {
    let token = Ticket {
        terminal: terminal.id().short_id(),
        site: 7,
        object: OBJECT,
        client_prefix: ClientPrefix::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 0)), 24).unwrap(),
        expires: NOW + 30,
        serial: 1,
    }
    .issue(issuer, NOW)
    .unwrap();
    format!("http://198.51.100.4:8080/a.bin?meson_rid=r1&{TICKET_PARAM}={token}")
}

fn served(signer: &NodeKey, of: &[u8]) -> SignedMessage<Served> {
    let s = Served::new(
        7,
        hex::encode(OBJECT),
        Some(VERSION.into()),
        object_roots(of),
    );
    SignedMessage::sign(signer, SERVED, NOW - 500, [9; 16], &s).unwrap()
}

fn known(of: &[u8]) -> KnownObject {
    let r = object_roots(of);
    KnownObject {
        site: 7,
        object: hex::encode(OBJECT),
        version: VERSION.into(),
        size: r.size,
        root: r.root,
        slice_roots: r.slices,
        from_origin: true,
    }
}

fn probe(outcome: Outcome) -> Probe {
    Probe {
        terminal: terminal().id(),
        at: NOW + 1,
        url: url(&router(), &terminal()),
        latency_ms: 12,
        outcome,
    }
}

/// A `200` carrying `claim` and `body`.
fn got(claim: Option<SignedMessage<Served>>, body: &[u8]) -> Probe {
    let header = claim.map(|c| served::header_value(&c));
    probe(outcome_of(200, header.as_deref(), body))
}

fn judged(p: &Probe, k: Option<&KnownObject>) -> ProbeVerdict {
    judge_probe(p, &router().id(), k)
}

fn is_corrupt(v: &ProbeVerdict, naming: &[Root]) -> bool {
    matches!(v, ProbeVerdict::Corrupt { why } if naming.iter().all(|r| why.contains(&r.to_string())))
}

#[test]
fn the_claimed_and_known_body_is_good() {
    let b = body();
    let k = known(&b);
    assert_eq!(
        judged(&got(Some(served(&terminal(), &b)), &b), Some(&k)),
        ProbeVerdict::Good
    );
    assert_eq!(
        judged(&got(Some(served(&terminal(), &b)), &b), None),
        ProbeVerdict::Good
    );
    assert_eq!(judged(&got(None, &b), Some(&k)), ProbeVerdict::Good);
    assert!(matches!(
        judged(&got(None, &b), None),
        ProbeVerdict::Unverifiable { .. }
    ));
}

#[test]
fn one_flipped_byte_is_corrupt_and_names_both_roots() {
    let b = body();
    let mut bad = b.clone();
    bad[4_321] ^= 0x20;
    let v = judged(&got(Some(served(&terminal(), &b)), &bad), None);
    assert!(
        is_corrupt(&v, &[object_roots(&bad).root, object_roots(&b).root]),
        "{v:?}"
    );
    let v = judged(&got(None, &bad), Some(&known(&b)));
    assert!(
        is_corrupt(&v, &[object_roots(&bad).root, object_roots(&b).root]),
        "{v:?}"
    );
}

#[test]
fn a_body_true_to_its_claim_but_not_the_object_is_corrupt() {
    let b = body();
    let mut bad = b.clone();
    bad.truncate(4_000);
    let v = judged(
        &got(Some(served(&terminal(), &bad)), &bad),
        Some(&known(&b)),
    );
    assert!(is_corrupt(&v, &[object_roots(&b).root]), "{v:?}");
}

#[test]
fn a_statement_that_cannot_convict_is_not_used() {
    let b = body();
    let bad = &b[..4_000];
    let claimed = || got(Some(served(&terminal(), bad)), bad);
    let owners = KnownObject {
        from_origin: false,
        ..known(&b)
    };
    assert_eq!(judged(&claimed(), Some(&owners)), ProbeVerdict::Good);
    let weak = KnownObject {
        version: "W/\"v1\"".into(),
        ..known(&b)
    };
    assert!(matches!(
        judged(&got(None, bad), Some(&weak)),
        ProbeVerdict::Unverifiable { .. }
    ));
    // The terminal serves another version than the router fetched: the origin changed the object.
    let older = KnownObject {
        version: "\"v0\"".into(),
        ..known(&b)
    };
    assert_eq!(judged(&claimed(), Some(&older)), ProbeVerdict::Good);
}

#[test]
fn without_a_valid_ticket_for_the_terminal_at_the_time_a_probe_proves_nothing() {
    let b = body();
    let refused = || {
        probe(Outcome::Refused {
            status: 403,
            reason: "no".into(),
        })
    };
    let invalid = |p: &Probe| matches!(judged(p, None), ProbeVerdict::Invalid { .. });
    let forged = Probe {
        url: url(&other(), &terminal()),
        ..refused()
    };
    assert!(invalid(&forged));
    let anothers = Probe {
        url: url(&router(), &other()),
        ..refused()
    };
    assert!(invalid(&anothers));
    let expired = Probe {
        at: NOW + 30,
        ..refused()
    };
    assert!(invalid(&expired));
    let before_issue = Probe {
        at: NOW - 31,
        ..refused()
    };
    assert!(invalid(&before_issue));
    let bare = Probe {
        url: "http://198.51.100.4:8080/a.bin".into(),
        ..refused()
    };
    assert!(invalid(&bare));
    assert_eq!(
        judged(&refused(), None),
        ProbeVerdict::Refused { status: 403 }
    );
    // A claim not signed by the probed terminal, or a body that is not what the record says.
    assert!(invalid(&got(Some(served(&other(), &b)), &b)));
    let mut p = got(None, &b);
    if let Outcome::Served { body_len, .. } = &mut p.outcome {
        *body_len += 1;
    }
    assert!(invalid(&p));
    // A statement of another object than the ticket's.
    let elsewhere = KnownObject {
        site: 8,
        ..known(&b)
    };
    assert!(matches!(
        judged(&got(None, &b), Some(&elsewhere)),
        ProbeVerdict::Invalid { .. }
    ));
}

#[test]
fn a_large_body_is_recorded_by_length_and_unverifiable() {
    let big = vec![7u8; MAX_RECORDED_BODY + 1];
    let p = got(Some(served(&terminal(), &big)), &big);
    let Outcome::Served { body_len, body, .. } = &p.outcome else {
        panic!("{:?}", p.outcome)
    };
    assert_eq!((*body_len, body.is_none()), (big.len() as u64, true));
    assert!(matches!(
        judged(&p, None),
        ProbeVerdict::Unverifiable { .. }
    ));
    let Outcome::Refused { status, reason } = outcome_of(502, None, b" origin down \n") else {
        panic!()
    };
    assert_eq!((status, reason.as_str()), (502, "origin down"));
}

fn record(probes: Vec<Probe>) -> Record {
    Record {
        host: "cdn.example.com".into(),
        path: "/a.bin".into(),
        known: None,
        probes,
    }
}

fn failure() -> Probe {
    probe(Outcome::Failed {
        error: "connection reset".into(),
    })
}

#[test]
fn refusals_make_a_terminal_faulty_only_past_the_threshold() {
    let b = body();
    let good = || got(Some(served(&terminal(), &b)), &b);
    let rule = Rule::default();
    let r = router().id();
    let j = judge(&record(vec![good(), good(), failure()]), &r, &rule).unwrap();
    assert_eq!((j.good, j.failed, j.faulty), (2, 1, false), "{}", j.why);
    let j = judge(&record(vec![good(), failure(), failure()]), &r, &rule).unwrap();
    assert_eq!((j.accused, j.faulty), (terminal().id(), true));
    // Too few valid probes to judge reachability: the invalid one counts for nothing.
    let forged = Probe {
        url: url(&other(), &terminal()),
        ..failure()
    };
    let j = judge(&record(vec![failure(), failure(), forged]), &r, &rule).unwrap();
    assert_eq!((j.failed, j.invalid, j.faulty), (2, 1, false), "{}", j.why);
    // One corrupt body is enough.
    let mut bad = b.clone();
    bad[0] ^= 1;
    let j = judge(
        &record(vec![good(), got(Some(served(&terminal(), &b)), &bad)]),
        &r,
        &rule,
    )
    .unwrap();
    assert_eq!((j.corrupt, j.faulty), (1, true), "{}", j.why);
}

#[test]
fn the_rule_counts_valid_probes_and_half_of_them_unreachable_is_not_enough() {
    let rule = Rule::default();
    let tally = |verdicts: &[ProbeVerdict]| {
        let mut t = Tally::default();
        for v in verdicts {
            t.add(v);
        }
        t
    };
    let (good, failed, refused) = (
        ProbeVerdict::Good,
        ProbeVerdict::Failed,
        ProbeVerdict::Refused { status: 503 },
    );
    let invalid = ProbeVerdict::Invalid { why: "x".into() };
    assert!(!rule.faulty(&tally(&[failed.clone(), failed.clone()])));
    assert!(rule.faulty(&tally(&[failed.clone(), refused.clone(), good.clone()])));
    // Exactly half is allowed; invalid probes count for nothing.
    let half = tally(&[failed.clone(), refused, good.clone(), good.clone()]);
    assert_eq!((half.valid(), half.unreachable()), (4, 2));
    assert!(!rule.faulty(&half));
    let t = tally(&[failed.clone(), failed.clone(), invalid.clone(), invalid]);
    assert_eq!((t.valid(), t.invalid), (2, 2));
    assert!(!rule.faulty(&t));
    assert!(rule.faulty(&tally(&[
        good.clone(),
        good,
        ProbeVerdict::Corrupt { why: String::new() }
    ])));
    assert!(!rule.faulty(&Tally::default()));
}

#[test]
fn a_record_of_two_terminals_or_a_foreign_statement_is_not_judged() {
    let r = router().id();
    let mut theirs = failure();
    theirs.terminal = other().id();
    assert!(matches!(
        judge(&record(vec![failure(), theirs]), &r, &Rule::default()),
        Err(ProbeError::MixedTerminals { .. })
    ));
    assert_eq!(
        judge(&record(Vec::new()), &r, &Rule::default()),
        Err(ProbeError::NoProbes)
    );
    let mut rec = record(vec![failure()]);
    rec.known =
        Some(SignedMessage::sign(&other(), KNOWN_OBJECT, NOW, [1; 16], &known(&body())).unwrap());
    assert!(matches!(
        judge(&rec, &r, &Rule::default()),
        Err(ProbeError::Statement(EvidenceError::NotTheRouter { .. }))
    ));
}

#[test]
fn a_record_stored_as_json_is_judged_the_same() {
    let b = body();
    let mut rec = record(vec![got(Some(served(&terminal(), &b)), &b), failure()]);
    rec.known =
        Some(SignedMessage::sign(&router(), KNOWN_OBJECT, NOW, [1; 16], &known(&b)).unwrap());
    let text = serde_json::to_string(&rec).unwrap();
    assert!(text.contains("\"outcome\":\"served\""), "{text}");
    let back: Record = serde_json::from_str(&text).unwrap();
    let r = router().id();
    assert_eq!(
        judge(&back, &r, &Rule::default()).unwrap(),
        judge(&rec, &r, &Rule::default()).unwrap()
    );
}

fn any_outcome() -> impl Strategy<Value = Outcome> {
    let b = body();
    prop_oneof![
        (
            any::<u16>(),
            any::<bool>(),
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(move |(status, claim, keep, junk)| {
                let bytes = if keep { b.clone() } else { junk };
                match outcome_of(200, None, &bytes) {
                    Outcome::Served { body_len, body, .. } => Outcome::Served {
                        status,
                        served: claim.then(|| served(&terminal(), &b)),
                        body_len,
                        body,
                    },
                    other => other,
                }
            }),
        (any::<u16>(), ".{0,20}").prop_map(|(status, reason)| Outcome::Refused { status, reason }),
        ".{0,20}".prop_map(|error| Outcome::Failed { error }),
        (any::<u64>(), ".{0,40}").prop_map(|(body_len, body)| Outcome::Served {
            status: 200,
            served: None,
            body_len,
            body: Some(body),
        }),
    ]
}

fn any_probe() -> impl Strategy<Value = Probe> {
    (
        any::<bool>(),
        prop_oneof![
            Just(url(&router(), &terminal())),
            Just(url(&other(), &terminal())),
            ".{0,80}",
            ".{0,40}".prop_map(|t| format!("http://x/?{TICKET_PARAM}={t}")),
        ],
        prop_oneof![Just(NOW + 1), any::<u64>()],
        any::<u64>(),
        any_outcome(),
    )
        .prop_map(|(mine, url, at, latency_ms, outcome)| Probe {
            terminal: if mine { terminal() } else { other() }.id(),
            at,
            url,
            latency_ms,
            outcome,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever a record holds, it is judged (or refused) without a panic, and the same way twice.
    #[test]
    fn judging_any_record_never_panics(probes in proptest::collection::vec(any_probe(), 0..6), with_known in any::<bool>(), min_probes in 0u32..5, bps in any::<u32>()) {
        let mut rec = record(probes);
        if with_known {
            rec.known = Some(SignedMessage::sign(&router(), KNOWN_OBJECT, NOW, [1; 16], &known(&body())).unwrap());
        }
        let rule = Rule { min_probes, max_unreachable_bps: bps };
        let r = router().id();
        prop_assert_eq!(judge(&rec, &r, &rule), judge(&rec, &r, &rule));
    }
}
