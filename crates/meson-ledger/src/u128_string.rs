//! Serde helpers that write a `u128` as a decimal string, because JSON numbers above 2^53 lose precision
//! in JavaScript. Use with `#[serde(with = "u128_string")]`.
//!
//! Reading also accepts a JSON integer, so a hand-written `"amount": 5` works; writing is always a string,
//! so every logged batch has one spelling.

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};
use std::fmt;

pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
    deserializer.deserialize_any(U128Visitor)
}

struct U128Visitor;

impl Visitor<'_> for U128Visitor {
    type Value = u128;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer below 2^128 as a decimal string")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<u128, E> {
        // `u128::from_str` would also take a leading '+', which would give one value two spellings.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::invalid_value(de::Unexpected::Str(s), &self));
        }
        s.parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(s), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u128, E> {
        Ok(u128::from(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<u128, E> {
        Ok(v)
    }
}

/// The same for a sequence: `["1", "2"]`.
pub mod seq {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[u128], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(values.len()))?;
        for v in values {
            seq.serialize_element(&super::Text(*v))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u128>, D::Error> {
        Ok(Vec::<super::Text>::deserialize(deserializer)?
            .into_iter()
            .map(|t| t.0)
            .collect())
    }
}

/// A `u128` that goes through this module, for use inside containers.
struct Text(u128);

impl serde::Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize(&self.0, serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize(deserializer).map(Text)
    }
}

/// The same for an optional value: absent or `null` is `None`. Use with `#[serde(default, with = …)]`.
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    struct Wrapped(#[serde(with = "super")] u128);

    pub fn serialize<S: Serializer>(
        value: &Option<u128>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.collect_str(v),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u128>, D::Error> {
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|w| w.0))
    }
}
