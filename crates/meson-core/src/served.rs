//! A terminal's signed claim of what it serves: the roots of the stored version of an object, sent with
//! each response in the [`SERVED_HEADER`] header.
//!
//! Whoever fetches through the router as a client does (a hunter, a council member re-probing) keeps the
//! claim with the body, and can then show either that the body is not what the terminal itself signed it
//! serves ([`crate::probe`]), or that what it signed is not the object the router fetched from the origin
//! ([`crate::evidence::Evidence::ServedRootMismatch`]). A terminal signs one claim per stored version and
//! repeats it, so the claim's timestamp says when it was signed, not when it was sent.
//!
//! The header's value is URL-safe base64 without padding of the [`SignedMessage`]'s JSON, so the signed
//! body text travels byte for byte through any HTTP stack.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::content::{ObjectRoots, Root};
use crate::signed::SignedMessage;

/// Purpose of the terminal's [`Served`] claim.
pub const SERVED: &str = "meson/v1/served";

/// The response header carrying it.
pub const SERVED_HEADER: &str = "meson-served";

/// The longest header value read, and sent: a claim with [`MAX_SLICE_ROOTS`] fits. A terminal sends no
/// claim that is longer rather than a header clients may refuse.
pub const MAX_HEADER_CHARS: usize = 16 * 1024;

/// The most slice roots a claim names: 600 MiB objects. With a version of up to 256 characters its header
/// fits [`MAX_HEADER_CHARS`]; a terminal claims nothing of larger objects.
pub const MAX_SLICE_ROOTS: u64 = 150;

/// What a terminal signs it serves for one version of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Served {
    pub site: u64,
    /// [`crate::ticket::object_digest`] of the object's cache key, 32 hex digits (as in
    /// [`crate::evidence::KnownObject`]).
    pub object: String,
    /// The origin's version of the stored copy ([`crate::evidence::origin_version`]); absent when the
    /// origin named none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub size: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub root: Root,
    /// The roots of its slices ([`ObjectRoots`]); empty for an object of one slice or less.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub slice_roots: Vec<Root>,
}

impl Served {
    /// The claim of serving an object with `roots`.
    pub fn new(site: u64, object: String, version: Option<String>, roots: ObjectRoots) -> Self {
        Served {
            site,
            object,
            version,
            size: roots.size,
            root: roots.root,
            slice_roots: roots.slices,
        }
    }
}

/// Why a [`SERVED_HEADER`] value is not a claim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServedError {
    #[error("the {SERVED_HEADER} header is {len} characters long, more than the {MAX_HEADER_CHARS} a claim may have")]
    TooLong { len: usize },
    #[error("the {SERVED_HEADER} header is not URL-safe base64 without padding")]
    NotBase64,
    #[error("the {SERVED_HEADER} header is not a signed claim: {0}")]
    Malformed(String),
}

/// The header value carrying `m`.
pub fn header_value(m: &SignedMessage<Served>) -> String {
    // A signed message is strings and numbers: serialising cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_string(m).unwrap_or_default())
}

/// Reads a header value into the signed claim it carries; its signature is for the caller to check, under
/// the terminal it expects.
pub fn from_header(v: &str) -> Result<SignedMessage<Served>, ServedError> {
    if v.len() > MAX_HEADER_CHARS {
        return Err(ServedError::TooLong { len: v.len() });
    }
    let json = URL_SAFE_NO_PAD
        .decode(v.trim())
        .map_err(|_| ServedError::NotBase64)?;
    serde_json::from_slice(&json).map_err(|e| ServedError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::content::object_roots;
    use crate::identity::NodeKey;

    fn claim(roots: ObjectRoots) -> SignedMessage<Served> {
        let served = Served::new(7, "ab".repeat(16), Some("\"v1\"".into()), roots);
        SignedMessage::sign(
            &NodeKey::from_secret_bytes([2; 32]),
            SERVED,
            1_700_000_000,
            [1; 16],
            &served,
        )
        .unwrap()
    }

    #[test]
    fn a_claim_round_trips_through_its_header_and_still_verifies() {
        let m = claim(object_roots(b"hello"));
        let v = header_value(&m);
        assert!(http::HeaderValue::from_str(&v).is_ok());
        let back = from_header(&v).unwrap().verify_signature(SERVED).unwrap();
        assert_eq!(back.body, m.verify_signature(SERVED).unwrap().body);
        assert_eq!(back.signer, NodeKey::from_secret_bytes([2; 32]).id());
    }

    #[test]
    fn the_largest_claim_fits_its_header() {
        let claim = |slices: u64, version: String| {
            let roots = ObjectRoots {
                size: slices * crate::content::SLICE_SIZE,
                root: Root([1; 32]),
                slices: vec![Root([2; 32]); slices as usize],
            };
            let served = Served::new(7, "ab".repeat(16), Some(version), roots);
            let key = NodeKey::from_secret_bytes([2; 32]);
            header_value(&SignedMessage::sign(&key, SERVED, u64::MAX, [1; 16], &served).unwrap())
        };
        let largest = claim(MAX_SLICE_ROOTS, format!("\"{}\"", "e".repeat(254)));
        assert!(largest.len() <= MAX_HEADER_CHARS, "{}", largest.len());
        assert!(from_header(&largest).is_ok());
        let too_big = claim(MAX_SLICE_ROOTS + 30, "\"v1\"".into());
        assert_eq!(
            from_header(&too_big).err(),
            Some(ServedError::TooLong { len: too_big.len() })
        );
    }

    #[test]
    fn junk_is_refused_with_the_reason() {
        assert_eq!(
            from_header("not base64!").err(),
            Some(ServedError::NotBase64)
        );
        assert!(matches!(
            from_header(&URL_SAFE_NO_PAD.encode("{}")),
            Err(ServedError::Malformed(_))
        ));
    }

    proptest! {
        /// The header comes from the network: whatever it holds, reading it answers.
        #[test]
        fn any_header_is_read_or_refused(v in ".{0,300}", b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = from_header(&v);
            let _ = from_header(&URL_SAFE_NO_PAD.encode(&b));
        }
    }
}
