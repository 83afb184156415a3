//! This terminal's signed claims of what it serves ([`meson_core::served`]), each signed once per stored
//! version of an object and then repeated: a response costs a map lookup, not an ed25519 signature.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use http::HeaderValue;
use meson_core::identity::NodeKey;
use meson_core::served::{self, Served, MAX_HEADER_CHARS, SERVED};
use meson_core::signed::SignedMessage;

use crate::object::ObjectId;

/// Claims remembered at most; past it the older ones are forgotten, and signed again if asked for.
const REMEMBERED: usize = 16_384;

/// Objects whose roots are computed at once at most; further ones wait for a later request.
const MAX_HASHING: usize = 2;

/// What is known of one stored version: its claim's header, or that it has none (too large to name).
#[derive(Clone)]
struct Claim {
    generation: u64,
    version: Option<String>,
    header: Option<HeaderValue>,
}

pub struct Claims {
    key: Arc<NodeKey>,
    /// Two generations of claims: lookups promote from `old`, and `new` becomes `old` when full, so the
    /// claims in use stay and memory stays bounded.
    memo: Mutex<(HashMap<ObjectId, Claim>, HashMap<ObjectId, Claim>)>,
    hashing: Mutex<HashSet<ObjectId>>,
}

impl Claims {
    pub fn new(key: Arc<NodeKey>) -> Self {
        Claims {
            key,
            memo: Mutex::default(),
            hashing: Mutex::default(),
        }
    }

    /// The claim on version `version` of the object stored as `id` at `generation`: None when not known
    /// yet, Some(None) when it has none.
    pub fn get(
        &self,
        id: &ObjectId,
        generation: u64,
        version: Option<&str>,
    ) -> Option<Option<HeaderValue>> {
        let mut memo = lock(&self.memo);
        let (new, old) = &mut *memo;
        let claim = match new.get(id) {
            Some(c) => c.clone(),
            None => {
                let c = old.remove(id)?;
                new.insert(*id, c.clone());
                c
            }
        };
        (claim.generation == generation && claim.version.as_deref() == version)
            .then_some(claim.header)
    }

    /// Signs `served` as the claim on the object stored as `id` at `generation`; its header, unless it
    /// would be too long (then the object is remembered as having none).
    pub fn sign(&self, id: ObjectId, generation: u64, served: &Served) -> Option<HeaderValue> {
        let header = self.header(served);
        self.remember(id, generation, served.version.clone(), header.clone());
        header
    }

    /// Remembers that the object stored as `id` at `generation` has no claim.
    pub fn none(&self, id: ObjectId, generation: u64, version: Option<String>) {
        self.remember(id, generation, version, None);
    }

    fn remember(
        &self,
        id: ObjectId,
        generation: u64,
        version: Option<String>,
        header: Option<HeaderValue>,
    ) {
        let mut memo = lock(&self.memo);
        if memo.0.len() >= REMEMBERED / 2 {
            memo.1 = std::mem::take(&mut memo.0);
        }
        memo.0.insert(
            id,
            Claim {
                generation,
                version,
                header,
            },
        );
    }

    fn header(&self, s: &Served) -> Option<HeaderValue> {
        let now = crate::cache::unix_now();
        let signed = SignedMessage::sign(&self.key, SERVED, now, rand::random(), s).ok()?;
        let text = served::header_value(&signed);
        if text.len() > MAX_HEADER_CHARS {
            return None;
        }
        HeaderValue::from_str(&text).ok()
    }

    /// Takes the computing of `id`'s roots on, unless it is under way or enough others are.
    pub fn start_hashing(&self, id: ObjectId) -> bool {
        let mut hashing = lock(&self.hashing);
        hashing.len() < MAX_HASHING && hashing.insert(id)
    }

    pub fn done_hashing(&self, id: &ObjectId) {
        lock(&self.hashing).remove(id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use meson_core::content::object_roots;

    use super::*;

    fn served(version: &str) -> Served {
        Served::new(3, "ab".repeat(16), Some(version.into()), object_roots(b"x"))
    }

    #[test]
    fn a_claim_is_signed_once_and_repeated_for_its_version_only() {
        let key = Arc::new(NodeKey::from_secret_bytes([4; 32]));
        let claims = Claims::new(key.clone());
        let id = ObjectId::derive("k", "");
        assert_eq!(claims.get(&id, 1, Some("\"a\"")), None);
        let header = claims.sign(id, 1, &served("\"a\"")).unwrap();
        assert_eq!(
            claims.get(&id, 1, Some("\"a\"")),
            Some(Some(header.clone()))
        );
        assert_eq!(claims.get(&id, 2, Some("\"a\"")), None, "a replaced object");
        assert_eq!(
            claims.get(&id, 1, Some("\"b\"")),
            None,
            "a refreshed version"
        );
        let m = served::from_header(header.to_str().unwrap()).unwrap();
        let v = m.verify_signature(SERVED).unwrap();
        assert_eq!((v.signer, v.body), (key.id(), served("\"a\"")));
        claims.none(id, 3, None);
        assert_eq!(claims.get(&id, 3, None), Some(None));
    }

    #[test]
    fn memory_is_bounded_and_claims_in_use_stay() {
        let claims = Claims::new(Arc::new(NodeKey::from_secret_bytes([4; 32])));
        let hot = ObjectId::derive("hot", "");
        claims.none(hot, 1, None);
        for i in 0..3 * REMEMBERED {
            claims.none(ObjectId::derive(&i.to_string(), ""), 1, None);
            assert_eq!(claims.get(&hot, 1, None), Some(None), "{i}");
        }
        let memo = lock(&claims.memo);
        assert!(memo.0.len() + memo.1.len() <= REMEMBERED);
    }
}
