//! Signed control messages: what a node sends the router (join, heartbeat, usage batch) and what the router
//! sends back, such that nobody can forge one, alter one, replay one or pass one kind off as another.
//!
//! # On the wire
//!
//! A [`SignedMessage<T>`] is a JSON object:
//!
//! ```text
//! { "purpose": "meson/v1/heartbeat",        what kind of message this is
//!   "signer": "<NodeId, 43 chars>",          who signed it
//!   "ts": 1700000000,                        when, in Unix seconds by the signer's clock
//!   "nonce": "<16 bytes, 22 chars base64>",  chosen at random by the signer
//!   "body": "{\"load\":3}",                  the message itself: JSON text inside a JSON string
//!   "sig": "<64 bytes, 86 chars base64>" }
//! ```
//!
//! The body travels as a string holding the exact JSON text the signer produced, and the signature covers
//! that text. So whatever a proxy or library does to the outer object (reorder keys, change whitespace,
//! re-escape characters) the decoded string, and with it the signature, survive; and the verifier never has
//! to reproduce the signer's serialisation of `T`, which would break as soon as the two sides run different
//! versions of a type or a map iterates in a different order.
//!
//! # What is signed
//!
//! With [`NodeKey::sign`] in domain `"meson/v1/signed-message"` (which frames the bytes so they never pass
//! for a ticket or anything else the same key signs), the message
//!
//! ```text
//! len(purpose) as u64 LE || purpose || signer (32 bytes) || ts as u64 LE || nonce (16 bytes) || body text
//! ```
//!
//! Every field but the body has a fixed length or a length prefix, and the body runs to the end, so no two
//! messages share these bytes.
//!
//! # Checks, in order
//!
//! [`SignedMessage::verify`] refuses a message signed for another purpose ([`SignedError::WrongPurpose`]: a
//! signed heartbeat can never be posted as a join), then one whose timestamp lies more than the window
//! from the receiver's clock in either direction ([`SignedError::Stale`]; the window is inclusive), then a
//! signature that does not verify ([`SignedError::BadSignature`]), then a body that is not a `T`
//! ([`SignedError::Malformed`]), and finally a `(signer, nonce)` pair already accepted
//! ([`SignedError::Replayed`]). Cheap checks come before the signature so junk costs little; the nonce is
//! only remembered once everything else passed, so forgeries cannot fill the [`ReplayGuard`] or burn a
//! legitimate nonce.
//!
//! Whether the signer may send this message at all (is it an admitted terminal?) is for the caller to
//! decide from [`Verified::signer`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::identity::{NodeId, NodeKey, Signature};

const DOMAIN: &str = "meson/v1/signed-message";

/// Refused purposes are echoed in errors; attacker-chosen text is cut to this many characters.
const PURPOSE_ECHO_CHARS: usize = 64;

/// Why a signed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedError {
    #[error("malformed signed message: {0}")]
    Malformed(String),
    #[error("bad signature: the message was not signed by the key it names, or was altered since")]
    BadSignature,
    #[error(
        "wrong purpose: the message was signed as {got:?}, this endpoint accepts {expected:?}"
    )]
    WrongPurpose { expected: String, got: String },
    #[error(
        "stale message: its timestamp {ts} is more than {max_skew} s away from the receiver's clock \
         ({now}); it is old, or one of the two clocks is wrong"
    )]
    Stale { ts: u64, now: u64, max_skew: u64 },
    #[error("replayed message: this signer's nonce was already accepted once")]
    Replayed,
    #[error(
        "refused: {capacity} recent messages are already remembered against replay; retry in a few seconds"
    )]
    ReplayCacheFull { capacity: usize },
}

/// A control message body of type `T`, signed by a node. See the module documentation for the format.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct SignedMessage<T> {
    purpose: String,
    signer: NodeId,
    ts: u64,
    #[serde(with = "nonce_text")]
    nonce: [u8; 16],
    body: String,
    sig: Signature,
    #[serde(skip)]
    body_type: PhantomData<fn() -> T>,
}

/// One schema for every body type: the body travels as JSON text inside a string, so the envelope's shape
/// never depends on `T`.
#[cfg(feature = "openapi")]
impl<T> utoipa::PartialSchema for SignedMessage<T> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, Type};
        let text = |description: &str, pattern: Option<&str>| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(pattern)
                .description(Some(description))
        };
        ObjectBuilder::new()
            .description(Some(
                "A control message signed by a node: see `meson_core::signed` for what the signature covers",
            ))
            .property("purpose", text("What kind of message this is, e.g. meson/v1/heartbeat", None))
            .required("purpose")
            .property("signer", <NodeId as utoipa::PartialSchema>::schema())
            .required("signer")
            .property(
                "ts",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Int64,
                    )))
                    .minimum(Some(0))
                    .description(Some("When it was signed, in Unix seconds by the signer's clock")),
            )
            .required("ts")
            .property(
                "nonce",
                text("16 random bytes, URL-safe base64 without padding", Some("^[A-Za-z0-9_-]{22}$")),
            )
            .required("nonce")
            .property("body", text("The message itself: the JSON text the signer produced", None))
            .required("body")
            .property(
                "sig",
                text("The ed25519 signature, URL-safe base64 without padding", Some("^[A-Za-z0-9_-]{86}$")),
            )
            .required("sig")
            .into()
    }
}

#[cfg(feature = "openapi")]
impl<T> utoipa::ToSchema for SignedMessage<T> {
    fn name() -> std::borrow::Cow<'static, str> {
        "SignedMessage".into()
    }
}

/// A message that passed [`SignedMessage::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<T> {
    /// The node that signed the message: proven, but not necessarily a node allowed to send it.
    pub signer: NodeId,
    /// The signer's timestamp, in Unix seconds.
    pub ts: u64,
    pub body: T,
}

impl<T: Serialize> SignedMessage<T> {
    /// Signs `body` as `key`'s node. `ts` is the current Unix time and `nonce` 16 bytes from a secure random
    /// generator, fresh for each message (core does no I/O, so the caller supplies both). Fails only if `T`'s
    /// `Serialize` does (for example a map with non-string keys).
    pub fn sign(
        key: &NodeKey,
        purpose: &str,
        ts: u64,
        nonce: [u8; 16],
        body: &T,
    ) -> Result<Self, serde_json::Error> {
        let body = serde_json::to_string(body)?;
        let signer = key.id();
        let sig = key.sign(DOMAIN, &signed_bytes(purpose, &signer, ts, &nonce, &body));
        Ok(SignedMessage {
            purpose: purpose.to_owned(),
            signer,
            ts,
            nonce,
            body,
            sig,
            body_type: PhantomData,
        })
    }
}

impl<T: DeserializeOwned> SignedMessage<T> {
    /// Checks the message (see the module documentation for the order) against the receiver's clock `now`
    /// (Unix seconds) and, on success, records its nonce in `replay` so it is refused from then on.
    pub fn verify(
        &self,
        purpose: &str,
        now: u64,
        replay: &mut ReplayGuard,
    ) -> Result<Verified<T>, SignedError> {
        self.check_purpose(purpose)?;
        replay.check_fresh(self.ts, now)?;
        let verified = self.signed_body(purpose)?;
        replay.record(&self.signer, &self.nonce, self.ts, now)?;
        Ok(verified)
    }

    /// Checks purpose, signature and body, but neither freshness nor replay: for signed evidence, which is
    /// re-checked long after it was sent, by anyone, as often as they like.
    pub fn verify_signature(&self, purpose: &str) -> Result<Verified<T>, SignedError> {
        self.check_purpose(purpose)?;
        self.signed_body(purpose)
    }

    fn check_purpose(&self, purpose: &str) -> Result<(), SignedError> {
        if self.purpose != purpose {
            return Err(SignedError::WrongPurpose {
                expected: purpose.to_owned(),
                got: self.purpose.chars().take(PURPOSE_ECHO_CHARS).collect(),
            });
        }
        Ok(())
    }

    fn signed_body(&self, purpose: &str) -> Result<Verified<T>, SignedError> {
        let bytes = signed_bytes(
            &self.purpose,
            &self.signer,
            self.ts,
            &self.nonce,
            &self.body,
        );
        self.signer
            .verify(DOMAIN, &bytes, &self.sig)
            .map_err(|_| SignedError::BadSignature)?;
        let body = serde_json::from_str(&self.body).map_err(|err| {
            SignedError::Malformed(format!("the body is not a valid {purpose} message: {err}"))
        })?;
        Ok(Verified {
            signer: self.signer,
            ts: self.ts,
            body,
        })
    }
}

impl<T> SignedMessage<T> {
    /// The node that signed it (not yet checked: see [`Self::verify`]).
    pub fn signer(&self) -> &NodeId {
        &self.signer
    }
}

// Derives would demand `T: Clone` / `T: Debug`, though no `T` is stored.
impl<T> Clone for SignedMessage<T> {
    fn clone(&self) -> Self {
        SignedMessage {
            purpose: self.purpose.clone(),
            signer: self.signer,
            ts: self.ts,
            nonce: self.nonce,
            body: self.body.clone(),
            sig: self.sig,
            body_type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for SignedMessage<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedMessage")
            .field("purpose", &self.purpose)
            .field("signer", &self.signer)
            .field("ts", &self.ts)
            .field("nonce", &crate::identity::encode(&self.nonce))
            .field("body", &self.body)
            .field("sig", &self.sig)
            .finish()
    }
}

fn signed_bytes(purpose: &str, signer: &NodeId, ts: u64, nonce: &[u8; 16], body: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + purpose.len() + 32 + 8 + 16 + body.len());
    bytes.extend_from_slice(&(purpose.len() as u64).to_le_bytes());
    bytes.extend_from_slice(purpose.as_bytes());
    bytes.extend_from_slice(signer.as_bytes());
    bytes.extend_from_slice(&ts.to_le_bytes());
    bytes.extend_from_slice(nonce);
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

mod nonce_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(nonce: &[u8; 16], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::identity::encode(nonce))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 16], D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::identity::decode_array(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "a nonce is 22 characters of URL-safe base64 without padding (16 bytes)",
            )
        })
    }
}

/// Remembers which `(signer, nonce)` pairs were accepted, for exactly as long as they could be accepted
/// again: a message is fresh while `now - max_skew <= ts <= now + max_skew`, so a pair is kept until
/// `now > ts + max_skew` and forgotten after, when its message has become [`SignedError::Stale`] instead.
/// Memory is thus bounded by the messages accepted in the last `2 × max_skew + 1` seconds, and by a hard
/// `capacity` on top, so a flood of validly signed messages (anyone can make keys) cannot exhaust memory;
/// at capacity new messages are refused rather than old entries dropped, which would reopen replay.
///
/// Pure: time comes in as `now`. If the clock steps back, the guard keeps measuring staleness from the
/// latest `now` it has seen, so entries it already forgot cannot become fresh again.
///
/// Router replicas that do not share a guard can each accept a message once; share it or pin each node
/// to one replica.
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    max_skew: u64,
    capacity: usize,
    latest_now: u64,
    seen: HashSet<[u8; 48]>,
    /// Pairs by the last second they can be fresh, so forgetting never scans what is kept.
    by_expiry: BTreeMap<u64, Vec<[u8; 48]>>,
}

impl ReplayGuard {
    /// A guard accepting timestamps up to `max_skew_secs` away from `now` in either direction and remembering
    /// at most `capacity` messages at once.
    pub fn new(max_skew_secs: u64, capacity: usize) -> Self {
        ReplayGuard {
            max_skew: max_skew_secs,
            capacity,
            latest_now: 0,
            seen: HashSet::new(),
            by_expiry: BTreeMap::new(),
        }
    }

    /// How many messages are remembered now.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn check_fresh(&self, ts: u64, now: u64) -> Result<(), SignedError> {
        let oldest = now.max(self.latest_now).saturating_sub(self.max_skew);
        let newest = now.saturating_add(self.max_skew);
        if ts < oldest || ts > newest {
            return Err(SignedError::Stale {
                ts,
                now,
                max_skew: self.max_skew,
            });
        }
        Ok(())
    }

    /// Records an accepted pair; `ts` must have passed [`Self::check_fresh`] at this `now`.
    fn record(
        &mut self,
        signer: &NodeId,
        nonce: &[u8; 16],
        ts: u64,
        now: u64,
    ) -> Result<(), SignedError> {
        self.latest_now = self.latest_now.max(now);
        while let Some(oldest) = self.by_expiry.first_entry() {
            if *oldest.key() >= self.latest_now {
                break;
            }
            for pair in oldest.remove() {
                self.seen.remove(&pair);
            }
        }

        let mut pair = [0u8; 48];
        pair[..32].copy_from_slice(signer.as_bytes());
        pair[32..].copy_from_slice(nonce);
        if self.seen.contains(&pair) {
            return Err(SignedError::Replayed);
        }
        if self.seen.len() >= self.capacity {
            return Err(SignedError::ReplayCacheFull {
                capacity: self.capacity,
            });
        }
        self.seen.insert(pair);
        self.by_expiry
            .entry(ts.saturating_add(self.max_skew))
            .or_default()
            .push(pair);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
