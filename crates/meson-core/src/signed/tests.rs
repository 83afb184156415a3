use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::*;

const HEARTBEAT: &str = "meson/v1/heartbeat";
const SKEW: u64 = 30;
const NOW: u64 = 1_700_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Beat {
    load: u32,
    free_disk: u64,
}

fn key(seed: u8) -> NodeKey {
    NodeKey::from_secret_bytes([seed; 32])
}

fn beat() -> Beat {
    Beat {
        load: 3,
        free_disk: 1 << 40,
    }
}

fn signed(ts: u64, nonce: u8) -> SignedMessage<Beat> {
    SignedMessage::sign(&key(1), HEARTBEAT, ts, [nonce; 16], &beat()).unwrap()
}

fn guard() -> ReplayGuard {
    ReplayGuard::new(SKEW, 1000)
}

fn verify_json(json: &[u8], guard: &mut ReplayGuard) -> Result<Verified<Beat>, String> {
    let message: SignedMessage<Beat> = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    message
        .verify(HEARTBEAT, NOW, guard)
        .map_err(|e| e.to_string())
}

#[test]
fn round_trip_through_json() {
    let json = serde_json::to_string(&signed(NOW, 7)).unwrap();
    let verified = verify_json(json.as_bytes(), &mut guard()).unwrap();
    assert_eq!(
        verified,
        Verified {
            signer: key(1).id(),
            ts: NOW,
            body: beat()
        }
    );
}

#[test]
fn known_answer() {
    // ed25519 is deterministic: a change here means the wire format or the signed bytes changed, which
    // breaks every deployed node. Change it only with a new purpose or domain version.
    let json = serde_json::to_string(&signed(NOW, 7)).unwrap();
    assert_eq!(
        json,
        "{\"purpose\":\"meson/v1/heartbeat\",\"signer\":\"iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w\",\
         \"ts\":1700000000,\"nonce\":\"BwcHBwcHBwcHBwcHBwcHBw\",\"body\":\"{\\\"load\\\":3,\
         \\\"free_disk\\\":1099511627776}\",\"sig\":\"A5F0OhfwzW7Xsqca8wvUBTW_Mips48tjBsrl9BXrQ4pDSeFHXiQBL6zFY-Glq7FUE0S5LPCabuSKcNmCJ1ILAg\"}"
    );
}

#[test]
fn survives_reserialisation_by_an_intermediary() {
    let json = serde_json::to_string(&signed(NOW, 7)).unwrap();
    // A proxy that parses, sorts keys, pretty-prints and escapes differently changes every byte of the
    // outer object but not the decoded body string.
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let pretty = serde_json::to_string_pretty(&value)
        .unwrap()
        .replace("\\\"load\\\"", "\\\"\\u006coad\\\"");
    assert_ne!(pretty, json);
    assert!(pretty.contains("\\u006c"));
    verify_json(pretty.as_bytes(), &mut guard()).unwrap();
}

#[test]
fn every_single_bit_flip_is_refused() {
    let json = serde_json::to_vec(&signed(NOW, 7)).unwrap();
    let mut guard = guard();
    for i in 0..json.len() {
        for bit in 0..8 {
            let mut flipped = json.clone();
            flipped[i] ^= 1 << bit;
            assert!(
                verify_json(&flipped, &mut guard).is_err(),
                "flipping bit {bit} of byte {i} was accepted: {}",
                String::from_utf8_lossy(&flipped)
            );
        }
    }
    // The original still passes, so the refusals above were not the guard's doing.
    verify_json(&json, &mut guard).unwrap();
}

#[test]
fn another_keys_signature_is_refused() {
    let mine = signed(NOW, 7);
    let theirs = SignedMessage::sign(&key(2), HEARTBEAT, NOW, [7; 16], &beat()).unwrap();
    // Claim to be node 1 while holding only node 2's key.
    let mut forged = theirs.clone();
    forged.signer = mine.signer;
    assert_eq!(
        forged.verify(HEARTBEAT, NOW, &mut guard()),
        Err(SignedError::BadSignature)
    );
    // Claim node 1's signature for node 2.
    let mut forged = mine.clone();
    forged.signer = theirs.signer;
    assert_eq!(
        forged.verify(HEARTBEAT, NOW, &mut guard()),
        Err(SignedError::BadSignature)
    );
}

#[test]
fn altered_body_is_refused() {
    let mut altered = signed(NOW, 7);
    altered.body = serde_json::to_string(&Beat { load: 0, ..beat() }).unwrap();
    assert_eq!(
        altered.verify(HEARTBEAT, NOW, &mut guard()),
        Err(SignedError::BadSignature)
    );
}

#[test]
fn purpose_mismatch_is_refused() {
    let message = signed(NOW, 7);
    let err = message
        .verify("meson/v1/join", NOW, &mut guard())
        .unwrap_err();
    assert_eq!(
        err,
        SignedError::WrongPurpose {
            expected: "meson/v1/join".into(),
            got: HEARTBEAT.into()
        }
    );
    assert!(err.to_string().contains("meson/v1/join"), "{err}");

    // Relabelling the purpose does not help: the signature covers it.
    let mut relabelled = message;
    relabelled.purpose = "meson/v1/join".into();
    assert_eq!(
        relabelled.verify("meson/v1/join", NOW, &mut guard()),
        Err(SignedError::BadSignature)
    );
}

#[test]
fn echoed_purpose_is_cut_short() {
    let long = "x".repeat(10_000);
    let message = SignedMessage::sign(&key(1), &long, NOW, [7; 16], &beat()).unwrap();
    match message.verify(HEARTBEAT, NOW, &mut guard()) {
        Err(SignedError::WrongPurpose { got, .. }) => assert_eq!(got.len(), PURPOSE_ECHO_CHARS),
        other => panic!("{other:?}"),
    }
}

#[test]
fn accepted_once_then_replay_refused() {
    let message = signed(NOW, 7);
    let mut guard = guard();
    message.verify(HEARTBEAT, NOW, &mut guard).unwrap();
    assert_eq!(
        message.verify(HEARTBEAT, NOW + 1, &mut guard),
        Err(SignedError::Replayed)
    );
    // Another nonce, or the same nonce from another node, is a different message.
    signed(NOW, 8).verify(HEARTBEAT, NOW, &mut guard).unwrap();
    SignedMessage::sign(&key(2), HEARTBEAT, NOW, [7; 16], &beat())
        .unwrap()
        .verify(HEARTBEAT, NOW, &mut guard)
        .unwrap();
    assert_eq!(guard.len(), 3);
}

#[test]
fn refused_messages_do_not_burn_their_nonce() {
    let message = signed(NOW, 7);
    let mut guard = guard();
    let mut forged = message.clone();
    forged.body = "{\"load\":0,\"free_disk\":0}".into();
    assert_eq!(
        forged.verify(HEARTBEAT, NOW, &mut guard),
        Err(SignedError::BadSignature)
    );
    assert!(guard.is_empty());
    message.verify(HEARTBEAT, NOW, &mut guard).unwrap();
}

#[test]
fn timestamps_are_accepted_exactly_within_the_window() {
    for (ts, fresh) in [
        (NOW - SKEW - 1, false),
        (NOW - SKEW, true),
        (NOW, true),
        (NOW + SKEW, true),
        (NOW + SKEW + 1, false),
        (0, false),
        (u64::MAX, false),
    ] {
        let result = signed(ts, 7).verify(HEARTBEAT, NOW, &mut guard());
        if fresh {
            assert!(result.is_ok(), "ts {ts}: {result:?}");
        } else {
            assert_eq!(
                result,
                Err(SignedError::Stale {
                    ts,
                    now: NOW,
                    max_skew: SKEW
                }),
                "ts {ts}"
            );
        }
    }
    let err = signed(0, 7)
        .verify(HEARTBEAT, 40, &mut guard())
        .unwrap_err();
    assert_eq!(
        err,
        SignedError::Stale {
            ts: 0,
            now: 40,
            max_skew: SKEW
        }
    );
    assert!(err.to_string().contains("clock"), "{err}");
}

#[test]
fn an_old_message_is_forgotten_and_then_refused_as_stale() {
    let message = signed(NOW, 7);
    let mut guard = guard();
    message.verify(HEARTBEAT, NOW, &mut guard).unwrap();
    // Last second it could be replayed: still remembered.
    assert_eq!(
        message.verify(HEARTBEAT, NOW + SKEW, &mut guard),
        Err(SignedError::Replayed)
    );
    signed(NOW + SKEW + 1, 8)
        .verify(HEARTBEAT, NOW + SKEW + 1, &mut guard)
        .unwrap();
    assert_eq!(guard.len(), 1, "the first message was forgotten");
    assert!(matches!(
        message.verify(HEARTBEAT, NOW + SKEW + 1, &mut guard),
        Err(SignedError::Stale { .. })
    ));
}

#[test]
fn a_clock_stepping_back_does_not_reopen_replay() {
    let message = signed(NOW, 7);
    let mut guard = guard();
    message.verify(HEARTBEAT, NOW, &mut guard).unwrap();
    signed(NOW + 1000, 8)
        .verify(HEARTBEAT, NOW + 1000, &mut guard)
        .unwrap();
    assert!(matches!(
        message.verify(HEARTBEAT, NOW, &mut guard),
        Err(SignedError::Stale { .. })
    ));
}

#[test]
fn a_full_guard_refuses_instead_of_forgetting() {
    let mut guard = ReplayGuard::new(SKEW, 2);
    signed(NOW, 1).verify(HEARTBEAT, NOW, &mut guard).unwrap();
    signed(NOW, 2).verify(HEARTBEAT, NOW, &mut guard).unwrap();
    let err = signed(NOW, 3)
        .verify(HEARTBEAT, NOW, &mut guard)
        .unwrap_err();
    assert_eq!(err, SignedError::ReplayCacheFull { capacity: 2 });
    assert_eq!(
        signed(NOW, 1).verify(HEARTBEAT, NOW, &mut guard),
        Err(SignedError::Replayed)
    );
    // Once the first two are past the window there is room again.
    signed(NOW + SKEW + 1, 3)
        .verify(HEARTBEAT, NOW + SKEW + 1, &mut guard)
        .unwrap();
}

#[test]
fn guard_memory_stays_bounded_over_a_long_run() {
    // Exercised below the signature layer: a million ed25519 operations would take minutes unoptimised.
    let signer = key(1).id();
    let mut guard = ReplayGuard::new(SKEW, usize::MAX);
    let per_second = 10u64;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut peak = 0;
    for i in 0..1_000_000u64 {
        let now = NOW + i / per_second;
        // Timestamps anywhere in the window, as skewed clocks would send.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let ts = now - SKEW + rng % (2 * SKEW + 1);
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&i.to_le_bytes());
        guard.check_fresh(ts, now).unwrap();
        guard.record(&signer, &nonce, ts, now).unwrap();
        peak = peak.max(guard.len());
    }
    let bound = ((2 * SKEW + 1) * per_second) as usize;
    assert!(peak <= bound, "peak {peak} > {bound}");
    assert!(guard.len() <= bound);
    assert!(guard.by_expiry.len() <= (2 * SKEW + 1) as usize);
}

#[test]
fn a_body_of_another_type_is_malformed() {
    let message: SignedMessage<String> =
        SignedMessage::sign(&key(1), HEARTBEAT, NOW, [7; 16], &"hello".to_owned()).unwrap();
    let json = serde_json::to_string(&message).unwrap();
    let mut guard = guard();
    let err = serde_json::from_str::<SignedMessage<Beat>>(&json)
        .unwrap()
        .verify(HEARTBEAT, NOW, &mut guard)
        .unwrap_err();
    assert!(
        matches!(&err, SignedError::Malformed(m) if m.contains(HEARTBEAT)),
        "{err}"
    );
    assert!(guard.is_empty());
}

#[test]
fn bad_field_encodings_fail_to_parse_with_clear_errors() {
    let json = serde_json::to_string(&signed(NOW, 7)).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    for (field, replacement, expect) in [
        ("nonce", "AAAA", "nonce is 22 characters"),
        ("signer", "AAAA", "node id is 43 characters"),
        ("sig", "AAAA", "signature is 86 characters"),
    ] {
        let mut broken = value.clone();
        broken[field] = replacement.into();
        let err = serde_json::from_value::<SignedMessage<Beat>>(broken).unwrap_err();
        assert!(err.to_string().contains(expect), "{field}: {err}");
    }
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(text in ".{0,400}", bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = verify_json(text.as_bytes(), &mut guard());
        let _ = verify_json(&bytes, &mut guard());
    }

    #[test]
    fn arbitrary_fields_never_panic_or_pass(
        purpose in ".{0,40}",
        ts in any::<u64>(),
        nonce in any::<[u8; 16]>(),
        body in ".{0,100}",
        sig in proptest::collection::vec(any::<u8>(), 64),
    ) {
        let message = SignedMessage::<Beat> {
            purpose,
            signer: key(1).id(),
            ts,
            nonce,
            body,
            sig: Signature::from_bytes(sig.try_into().unwrap()),
            body_type: PhantomData,
        };
        prop_assert!(message.verify(HEARTBEAT, NOW, &mut guard()).is_err());
    }
}
