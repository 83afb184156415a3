//! Objective evidence built on the test side, from real keys, as a router and a cheating terminal would
//! have signed it: for tests of what accepts, refuses and slashes evidence.

use std::path::Path;

use meson_core::audit::{self, Answer, Challenge, Reply};
use meson_core::content::{self, ContentHasher, Root};
use meson_core::evidence::Evidence;
use meson_core::identity::NodeKey;
use meson_core::signed::SignedMessage;

use crate::{pattern, unix_now};

/// The router's node key, read from its data directory: the test stands in for its auditor.
pub fn router_key(data_dir: &Path) -> NodeKey {
    meson_node::load_or_create_node_key(&data_dir.join("router.key")).expect("router.key")
}

/// Evidence that `accused` failed a spot check: `router`'s signed challenge for chunk group 1 of a
/// 64 KiB body made from `seed`, and `accused`'s signed answer proving a copy with one byte flipped, as
/// the auditor records a corrupted terminal's answer. Distinct seeds make distinct evidence.
pub fn failed_audit(router: &NodeKey, accused: &NodeKey, seed: u64) -> Evidence {
    let body = pattern(64 << 10, seed);
    let mut stored = body.to_vec();
    stored[20_000] ^= 1;
    let now = unix_now();
    let challenge = Challenge {
        terminal: accused.id(),
        root: Root::from(blake3::hash(&body)),
        size: body.len() as u64,
        group: 1,
        expires: now + 30,
    };
    let challenge = SignedMessage::sign(router, audit::CHALLENGE, now, rand::random(), &challenge)
        .expect("a challenge signs");
    let mut h = ContentHasher::new();
    h.update(&stored);
    let (_, outboard) = h.finalize();
    let range = content::chunk_group_range(stored.len() as u64, 1).expect("group 1");
    let proof = content::encode_chunk_group_as_stored(
        stored.len() as u64,
        &outboard,
        1,
        &stored[range.start as usize..range.end as usize],
    )
    .expect("a proof encodes");
    let answer = Answer {
        challenge,
        reply: Reply::proof(&proof),
    };
    Evidence::AuditFailed {
        answer: SignedMessage::sign(accused, audit::ANSWER, now, rand::random(), &answer)
            .expect("an answer signs"),
    }
}
