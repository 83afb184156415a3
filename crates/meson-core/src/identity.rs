//! Node identities: the ed25519 keys of terminals, routers and agents, and the signatures they make.
//!
//! - [`NodeId`] is a node's ed25519 public key. Its text form (JSON, URLs, logs, config) is the 32 key bytes
//!   in URL-safe base64 without padding, 43 characters: shorter than hex, safe in paths and query strings,
//!   and the alphabet tickets and signatures use too. Parsing is strict so that one key has exactly one
//!   spelling (no padding, no stray trailing bits, only the canonical point encoding) and small-order points
//!   are refused, because a weak key "signs" almost any message.
//! - [`NodeKey`] is the secret half. Core does no I/O and so draws no randomness: the caller brings 32 bytes
//!   from the operating system's generator. On disk a key is one line, `meson-ed25519-secret:` followed by
//!   the 32 secret bytes in the same base64 (see [`NodeKey::to_secret_text`]). Its `Debug` shows only the
//!   public id, and parse errors never echo the input, so a secret cannot leak into a log by accident.
//! - Every signature covers a *domain* as well as the message. The bytes given to ed25519 are
//!
//!   ```text
//!   "meson-sig-v1" 0x00 || len(domain) as u64 little-endian || domain || message
//!   ```
//!
//!   so two uses of one key (a ticket, a heartbeat, a ledger head) can never stand in for each other even
//!   when their message bytes coincide. There is deliberately no way to sign raw bytes.
//! - Verification is strict (ed25519-dalek's `verify_strict`: canonical `S`, no small-order `R` or key), so
//!   nobody can turn a valid signature into a second valid spelling of it.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

/// Separates Meson's signatures from anything else a key might ever be used for.
const SIGNATURE_PREFIX: &[u8] = b"meson-sig-v1\0";

const SECRET_PREFIX: &str = "meson-ed25519-secret:";

/// Why an id, key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("a node id is 43 characters of URL-safe base64 without padding (32 bytes)")]
    NodeIdEncoding,
    #[error("a node id must be an ed25519 public key in its canonical encoding")]
    NotAPublicKey,
    #[error("a node id must not be a small-order (weak) ed25519 key")]
    WeakKey,
    #[error("a signature is 86 characters of URL-safe base64 without padding (64 bytes)")]
    SignatureEncoding,
    #[error("a secret key must start with `{SECRET_PREFIX}`")]
    SecretPrefix,
    #[error(
        "the secret key after `{SECRET_PREFIX}` must be 43 characters of URL-safe base64 without padding \
         (32 bytes)"
    )]
    SecretEncoding,
    #[error("the signature does not match the message and the signer's key")]
    BadSignature,
}

/// A node's public identity: its ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(VerifyingKey);

impl NodeId {
    /// Checks that `bytes` are a usable public key: on the curve, canonically encoded, not of small order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, IdentityError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| IdentityError::NotAPublicKey)?;
        // Decompression also accepts a few non-canonical spellings of a point; refusing them keeps one
        // node from appearing under two ids.
        if key.to_edwards().compress().as_bytes() != bytes {
            return Err(IdentityError::NotAPublicKey);
        }
        if key.is_weak() {
            return Err(IdentityError::WeakKey);
        }
        Ok(NodeId(key))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The first 8 bytes of the key, little-endian: what a ticket carries to name its terminal (see
    /// [`crate::ticket`]). Not unique by construction: the router refuses to admit a node whose short id is
    /// already taken.
    pub fn short_id(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.as_bytes()[..8]);
        u64::from_le_bytes(first)
    }

    /// Checks a signature made by [`NodeKey::sign`] with the same `domain` and `message`.
    pub fn verify(
        &self,
        domain: &str,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), IdentityError> {
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0
            .verify_strict(&signed_bytes(domain, message), &signature)
            .map_err(|_| IdentityError::BadSignature)
    }
}

impl PartialOrd for NodeId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NodeId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode(self.as_bytes()))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl FromStr for NodeId {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = decode_array::<32>(s).ok_or(IdentityError::NodeIdEncoding)?;
        NodeId::from_bytes(&bytes)
    }
}

impl serde::Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A node id is a string: the public key in URL-safe base64 without padding.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for NodeId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .pattern(Some("^[A-Za-z0-9_-]{43}$"))
            .description(Some(
                "A node's ed25519 public key, 32 bytes in URL-safe base64 without padding",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for NodeId {}

/// An ed25519 signature made by [`NodeKey::sign`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; 64]);

impl Signature {
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        Signature(bytes)
    }

    pub fn to_bytes(&self) -> [u8; 64] {
        self.0
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode(&self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl FromStr for Signature {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode_array::<64>(s)
            .map(Signature)
            .ok_or(IdentityError::SignatureEncoding)
    }
}

impl serde::Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A node's secret signing key. ed25519-dalek wipes the secret from memory when it is dropped.
pub struct NodeKey {
    key: SigningKey,
    id: NodeId,
}

impl NodeKey {
    /// The key whose RFC 8032 secret is `secret`. Pass 32 bytes from a cryptographically secure generator
    /// (the OS's); anything predictable lets others sign as this node.
    pub fn from_secret_bytes(secret: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&secret);
        // A clamped scalar times the base point is canonical and of large order, so no check is needed.
        let id = NodeId(key.verifying_key());
        NodeKey { key, id }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Signs `message` for use in `domain` (a constant naming what the bytes mean, such as
    /// `"meson/v1/ticket"`); [`NodeId::verify`] must be given the same domain.
    pub fn sign(&self, domain: &str, message: &[u8]) -> Signature {
        Signature(self.key.sign(&signed_bytes(domain, message)).to_bytes())
    }

    /// The one-line text to store the key in a file: `meson-ed25519-secret:` and 43 base64 characters.
    pub fn to_secret_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", encode(self.key.as_bytes()))
    }

    /// Reads [`Self::to_secret_text`]'s format; surrounding whitespace (a final newline) is ignored.
    pub fn from_secret_text(text: &str) -> Result<Self, IdentityError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(IdentityError::SecretPrefix)?;
        let secret = decode_array::<32>(encoded).ok_or(IdentityError::SecretEncoding)?;
        Ok(NodeKey::from_secret_bytes(secret))
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey").field("id", &self.id).finish()
    }
}

fn signed_bytes(domain: &str, message: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(SIGNATURE_PREFIX.len() + 8 + domain.len() + message.len());
    bytes.extend_from_slice(SIGNATURE_PREFIX);
    bytes.extend_from_slice(&(domain.len() as u64).to_le_bytes());
    bytes.extend_from_slice(domain.as_bytes());
    bytes.extend_from_slice(message);
    bytes
}

/// URL-safe base64 without padding, the text form of every binary value in Meson's protocol.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes exactly `N` bytes of [`encode`]'s output, refusing padding and non-zero trailing bits so that
/// each value has a single spelling.
pub fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    // The length check first bounds the work done on hostile input.
    if Some(text.len()) != base64::encoded_len(N, false) {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> NodeKey {
        NodeKey::from_secret_bytes([seed; 32])
    }

    #[test]
    fn node_id_text_round_trips_and_is_url_safe() {
        let id = key(1).id();
        let text = id.to_string();
        assert_eq!(text.len(), 43);
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(text.parse::<NodeId>(), Ok(id));
        assert_eq!(NodeId::from_bytes(id.as_bytes()), Ok(id));
    }

    #[test]
    fn node_id_serde_is_its_text() {
        let id = key(2).id();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<NodeId>(&json).unwrap(), id);
        let err = serde_json::from_str::<NodeId>("\"nope\"").unwrap_err();
        assert!(err.to_string().contains("43 characters"), "{err}");
    }

    #[test]
    fn node_id_refuses_other_spellings_and_weak_keys() {
        let text = key(3).id().to_string();
        assert_eq!(
            format!("{text}=").parse::<NodeId>(),
            Err(IdentityError::NodeIdEncoding)
        );
        assert_eq!(
            text[..42].parse::<NodeId>(),
            Err(IdentityError::NodeIdEncoding)
        );
        let standard_alphabet = text.replace('-', "+").replace('_', "/");
        if standard_alphabet != text {
            assert!(standard_alphabet.parse::<NodeId>().is_err());
        }
        // The last character carries 4 bits of data and 2 that must be zero.
        let mut trailing = text.into_bytes();
        let last = URL_SAFE_NO_PAD_ALPHABET
            .iter()
            .position(|&c| c == trailing[42])
            .unwrap();
        trailing[42] = URL_SAFE_NO_PAD_ALPHABET[last ^ 1];
        assert_eq!(
            String::from_utf8(trailing).unwrap().parse::<NodeId>(),
            Err(IdentityError::NodeIdEncoding)
        );

        // The identity point (y = 1) and y = 1 spelled non-canonically as p + 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(NodeId::from_bytes(&identity), Err(IdentityError::WeakKey));
        let mut p_plus_one = [0xffu8; 32];
        p_plus_one[0] = 0xee;
        p_plus_one[31] = 0x7f;
        assert_eq!(
            NodeId::from_bytes(&p_plus_one),
            Err(IdentityError::NotAPublicKey)
        );
    }

    const URL_SAFE_NO_PAD_ALPHABET: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    #[test]
    fn short_id_is_the_first_eight_key_bytes() {
        let id = key(4).id();
        assert_eq!(id.short_id().to_le_bytes(), id.as_bytes()[..8]);
    }

    #[test]
    fn signatures_bind_key_domain_and_message() {
        let signer = key(5);
        let sig = signer.sign("meson/test/a", b"hello");
        let id = signer.id();
        assert_eq!(id.verify("meson/test/a", b"hello", &sig), Ok(()));
        assert_eq!(
            id.verify("meson/test/b", b"hello", &sig),
            Err(IdentityError::BadSignature)
        );
        assert_eq!(
            id.verify("meson/test/a", b"hellO", &sig),
            Err(IdentityError::BadSignature)
        );
        // Moving bytes between domain and message must not keep a signature valid.
        assert_eq!(
            id.verify("meson/test/ah", b"ello", &sig),
            Err(IdentityError::BadSignature)
        );
        assert_eq!(
            key(6).id().verify("meson/test/a", b"hello", &sig),
            Err(IdentityError::BadSignature)
        );
        assert_eq!(sig.to_string().parse::<Signature>(), Ok(sig));
        assert_eq!(Signature::from_bytes(sig.to_bytes()), sig);
    }

    #[test]
    fn secret_text_round_trips_and_errors_are_clear() {
        let signer = key(7);
        let text = signer.to_secret_text();
        assert!(text.starts_with("meson-ed25519-secret:"));
        let back = NodeKey::from_secret_text(&format!("{text}\n")).unwrap();
        assert_eq!(back.id(), signer.id());

        let body = text.strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(
            NodeKey::from_secret_text(body).unwrap_err(),
            IdentityError::SecretPrefix
        );
        let short = &text[..text.len() - 1];
        let err = NodeKey::from_secret_text(short).unwrap_err();
        assert_eq!(err, IdentityError::SecretEncoding);
        assert!(
            !err.to_string().contains(body),
            "errors never echo a secret"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let signer = key(8);
        let debug = format!("{signer:?}");
        let secret = signer.to_secret_text();
        let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap();
        assert!(!debug.contains(encoded), "{debug}");
        assert!(debug.contains(&signer.id().to_string()), "{debug}");
    }

    #[test]
    fn known_answer() {
        // RFC 8032 section 7.1, test 1: the public key of this secret. Our signatures are over framed
        // bytes, so only the key (not the signature) is comparable with the RFC.
        let secret =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap();
        let signer = NodeKey::from_secret_bytes(secret.try_into().unwrap());
        assert_eq!(
            hex::encode(signer.id().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
    }
}
