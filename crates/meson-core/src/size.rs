//! Byte sizes as operators write them: `50GiB`, `4MiB`, `1024`, `1.5 GiB`.
//!
//! Units are binary (KiB = 1024 bytes); `KB`/`MB`/`GB`/`TB` are read as their binary twins too, because
//! disks and caches are sized in powers of two and a silent factor of 1.07 would surprise an operator.

use std::fmt;
use std::str::FromStr;

/// A number of bytes parsed from, or printed as, a human size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// Why a size could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SizeError {
    #[error("empty size")]
    Empty,
    #[error("invalid number in size {0:?}")]
    Number(String),
    #[error("unknown unit {0:?} (use B, KiB, MiB, GiB or TiB)")]
    Unit(String),
    #[error("size {0:?} does not fit in 64 bits")]
    Overflow(String),
}

const UNITS: [(&str, u64); 5] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

fn unit_multiplier(unit: &str) -> Option<u64> {
    let u = unit.to_ascii_lowercase();
    let m = match u.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    Some(m)
}

impl FromStr for ByteSize {
    type Err = SizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(SizeError::Empty);
        }
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let mult =
            unit_multiplier(unit.trim()).ok_or_else(|| SizeError::Unit(unit.trim().into()))?;
        if num.is_empty() {
            return Err(SizeError::Number(s.into()));
        }
        let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
        if whole.is_empty() && frac.is_empty() || frac.contains('.') {
            return Err(SizeError::Number(s.into()));
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| SizeError::Overflow(s.into()))?
        };
        let mut bytes = whole
            .checked_mul(mult)
            .ok_or_else(|| SizeError::Overflow(s.into()))?;
        if !frac.is_empty() {
            // Exact integer arithmetic on at most 9 fractional digits; sizes never need more.
            let digits = &frac[..frac.len().min(9)];
            let scale = 10u128.pow(digits.len() as u32);
            let f: u128 = digits.parse().map_err(|_| SizeError::Number(s.into()))?;
            let extra = (f * mult as u128 / scale) as u64;
            bytes = bytes
                .checked_add(extra)
                .ok_or_else(|| SizeError::Overflow(s.into()))?;
        }
        Ok(ByteSize(bytes))
    }
}

impl fmt::Display for ByteSize {
    /// Prints the largest unit that divides the size exactly, so the output parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, mult) in UNITS {
            if self.0 >= mult && self.0 % mult == 0 {
                return write!(f, "{}{}", self.0 / mult, name);
            }
        }
        write!(f, "{}B", self.0)
    }
}

/// Config files may give a size as a number of bytes or as a string with a unit.
impl<'de> serde::Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(de)? {
            Raw::Bytes(n) => Ok(ByteSize(n)),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_plain_bytes() {
        assert_eq!("1024".parse(), Ok(ByteSize(1024)));
        assert_eq!("50GiB".parse(), Ok(ByteSize(50 << 30)));
        assert_eq!("4 MiB".parse(), Ok(ByteSize(4 << 20)));
        assert_eq!("1.5KiB".parse(), Ok(ByteSize(1536)));
        assert_eq!("2tib".parse(), Ok(ByteSize(2 << 40)));
        assert_eq!("16k".parse(), Ok(ByteSize(16 << 10)));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!("".parse::<ByteSize>(), Err(SizeError::Empty));
        assert!(matches!(
            "12XB".parse::<ByteSize>(),
            Err(SizeError::Unit(_))
        ));
        assert!(matches!(
            "GiB".parse::<ByteSize>(),
            Err(SizeError::Number(_))
        ));
        assert!(matches!(
            "1.2.3MiB".parse::<ByteSize>(),
            Err(SizeError::Number(_))
        ));
        assert!(matches!(
            "99999999999TiB".parse::<ByteSize>(),
            Err(SizeError::Overflow(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for v in [0u64, 1, 1023, 1024, 4 << 20, (50 << 30) + 1, 3 << 40] {
            let s = ByteSize(v).to_string();
            assert_eq!(s.parse(), Ok(ByteSize(v)), "{s}");
        }
    }
}
