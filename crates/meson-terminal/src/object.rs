//! Identity and metadata of one cached variant, and the selections of them a purge makes.

use std::fmt;
use std::str::FromStr;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use meson_core::eviction::ObjectKey;
use meson_core::http_cache::StoredTimes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Names one variant of one cache key on disk: BLAKE3 of the key and the variant's request values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 16]);

impl ObjectId {
    pub fn derive(key: &str, vary_key: &str) -> Self {
        let mut h = blake3::Hasher::new();
        // Length prefix: ("ab", "c") and ("a", "bc") must not collide.
        h.update(&(key.len() as u64).to_le_bytes());
        h.update(key.as_bytes());
        h.update(vary_key.as_bytes());
        let mut id = [0; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        ObjectId(id)
    }

    /// The eviction policy's key for one slice of this object.
    pub fn slice_key(&self, slice: u32) -> ObjectKey {
        let mut h = blake3::Hasher::new();
        h.update(&self.0);
        h.update(&slice.to_le_bytes());
        let mut k = [0; 8];
        k.copy_from_slice(&h.finalize().as_bytes()[..8]);
        u64::from_le_bytes(k)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl FromStr for ObjectId {
    type Err = hex::FromHexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut id = [0; 16];
        hex::decode_to_slice(s, &mut id)?;
        Ok(ObjectId(id))
    }
}

/// The stored response head of one variant, as written to `meta.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The cache key: `host` + normalised path and query.
    pub key: String,
    /// The request's values of the fields the response varies on (see `http_cache::vary_key`).
    pub vary_key: String,
    #[serde(with = "status_serde")]
    pub status: StatusCode,
    #[serde(with = "headers_serde")]
    pub headers: HeaderMap,
    pub request_time: u64,
    pub response_time: u64,
    /// Length of the whole body.
    pub total_len: u64,
    /// Set when the body is fetched and stored in slices of this size; None for a body stored whole.
    pub slice_size: Option<u64>,
}

impl ObjectMeta {
    pub fn object_id(&self) -> ObjectId {
        ObjectId::derive(&self.key, &self.vary_key)
    }

    pub fn times(&self) -> StoredTimes {
        StoredTimes {
            request_time: self.request_time,
            response_time: self.response_time,
        }
    }

    pub fn slice_count(&self) -> u32 {
        match self.slice_size {
            Some(s) => self.total_len.div_ceil(s).max(1) as u32,
            None => 1,
        }
    }

    /// Byte range of slice `i` within the body, None past the end.
    pub fn slice_range(&self, i: u32) -> Option<std::ops::Range<u64>> {
        if i >= self.slice_count() {
            return None;
        }
        let size = self.slice_size.unwrap_or(self.total_len);
        let start = i as u64 * size;
        Some(start..(start + size).min(self.total_len))
    }

    pub fn slice_len(&self, i: u32) -> Option<u64> {
        self.slice_range(i).map(|r| r.end - r.start)
    }

    /// Purge tags from the origin's `Cache-Tag` (comma-separated) and `Surrogate-Key` (space-separated).
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        let cache_tag = self
            .headers
            .get_all("cache-tag")
            .into_iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','));
        let surrogate = self
            .headers
            .get_all("surrogate-key")
            .into_iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split_ascii_whitespace());
        cache_tag
            .chain(surrogate)
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }
}

/// Which objects a purge removes.
pub enum Purge<'a> {
    /// Every variant of one cache key.
    Key(&'a str),
    /// Every key starting with this.
    Prefix(&'a str),
    /// Objects tagged (`Cache-Tag` / `Surrogate-Key`) with `tag`, among keys starting with `within`.
    Tag { tag: &'a str, within: &'a str },
}

impl Purge<'_> {
    pub fn matches(&self, m: &ObjectMeta) -> bool {
        match self {
            Purge::Key(k) => m.key == *k,
            Purge::Prefix(p) => m.key.starts_with(p),
            Purge::Tag { tag, within } => m.key.starts_with(within) && m.tags().any(|t| t == *tag),
        }
    }
}

mod status_serde {
    use super::*;
    pub fn serialize<S: Serializer>(s: &StatusCode, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_u16(s.as_u16())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<StatusCode, D::Error> {
        let n = u16::deserialize(de)?;
        StatusCode::from_u16(n).map_err(serde::de::Error::custom)
    }
}

/// Header values are usually text, but HTTP allows obs-text bytes; those are kept exactly, as hex.
mod headers_serde {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Value {
        Text(String),
        Bytes { hex: String },
    }

    pub fn serialize<S: Serializer>(h: &HeaderMap, ser: S) -> Result<S::Ok, S::Error> {
        let fields: Vec<(&str, Value)> = h
            .iter()
            .map(|(n, v)| {
                let value = match v.to_str() {
                    Ok(s) => Value::Text(s.to_owned()),
                    Err(_) => Value::Bytes {
                        hex: hex::encode(v.as_bytes()),
                    },
                };
                (n.as_str(), value)
            })
            .collect();
        fields.serialize(ser)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<HeaderMap, D::Error> {
        use serde::de::Error;
        let fields = Vec::<(String, Value)>::deserialize(de)?;
        let mut map = HeaderMap::with_capacity(fields.len());
        for (name, value) in fields {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(D::Error::custom)?;
            let value = match value {
                Value::Text(s) => HeaderValue::from_str(&s).map_err(D::Error::custom)?,
                Value::Bytes { hex } => {
                    let bytes = hex::decode(hex).map_err(D::Error::custom)?;
                    HeaderValue::from_bytes(&bytes).map_err(D::Error::custom)?
                }
            };
            map.append(name, value);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_binary_header_values() {
        let mut headers = HeaderMap::new();
        headers.append("etag", HeaderValue::from_static("\"v1\""));
        headers.append("x-raw", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        headers.append("cache-tag", HeaderValue::from_static("a, b"));
        headers.append("surrogate-key", HeaderValue::from_static("c  d"));
        let meta = ObjectMeta {
            key: "example.com/a?b".into(),
            vary_key: String::new(),
            status: StatusCode::OK,
            headers,
            request_time: 1,
            response_time: 2,
            total_len: 10,
            slice_size: Some(4),
        };
        let json = serde_json::to_string(&meta).unwrap();
        let back: ObjectMeta = serde_json::from_str(&json).unwrap();
        assert_eq!(back.headers, meta.headers);
        assert_eq!(back.tags().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert_eq!(back.slice_count(), 3);
        assert_eq!(back.slice_range(2), Some(8..10));
        assert_eq!(back.slice_range(3), None);
    }

    #[test]
    fn ids_do_not_collide_across_the_key_boundary() {
        assert_ne!(ObjectId::derive("ab", "c"), ObjectId::derive("a", "bc"));
        let id = ObjectId::derive("k", "");
        assert_eq!(id.to_string().parse::<ObjectId>().unwrap(), id);
        assert_ne!(id.slice_key(0), id.slice_key(1));
    }
}
