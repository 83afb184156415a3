//! Hierarchical region names such as `eu`, `eu/west` or `eu/west/paris`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Deepest hierarchy we accept: continent / area / city is as fine as a coverage zone gets useful.
const MAX_LEVELS: usize = 3;
/// A DNS label's limit: region names end up in host names and metric labels.
const MAX_LABEL: usize = 63;

/// Where a terminal or a client is, as a path from the widest area inwards: `eu`, `eu/west`,
/// `eu/west/paris`.
///
/// Each of the 1 to 3 levels is 1 to 63 characters of lowercase ASCII letters, digits and `-`, the levels
/// separated by `/`. A region *contains* itself and every region below it, so scheduling for a client in
/// `eu/west` considers terminals in `eu/west` and `eu/west/paris`, and widening to the parent `eu` adds
/// `eu/east`.
///
/// Regions order level by level (`eu/west` < `eu/west/paris` < `eu/west-2`), so that a region and
/// everything it contains are adjacent when sorted; plain string order would put `eu/west-2` in between
/// because `-` sorts before `/`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

/// Why a region name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid region {region:?}: {reason}")]
pub struct RegionError {
    pub region: String,
    pub reason: &'static str,
}

impl Region {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, RegionError> {
        let fail = |reason| RegionError {
            region: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(fail("empty"));
        }
        let mut levels = 0;
        for label in name.split('/') {
            levels += 1;
            if levels > MAX_LEVELS {
                return Err(fail("more than 3 levels"));
            }
            if label.is_empty() {
                return Err(fail("empty level (leading, trailing or doubled '/')"));
            }
            if label.len() > MAX_LABEL {
                return Err(fail("a level is longer than 63 characters"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(fail(
                    "only lowercase ASCII letters, digits, '-' and '/' are allowed",
                ));
            }
        }
        Ok(Region(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The enclosing region (`eu/west` → `eu`); `None` for a top-level region, whose parent is
    /// everywhere.
    pub fn parent(&self) -> Option<Region> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| Region(parent.to_owned()))
    }

    /// Whether `other` is this region or lies inside it.
    pub fn contains(&self, other: &Region) -> bool {
        other.0.len() >= self.0.len()
            && other.0.starts_with(&self.0)
            && (other.0.len() == self.0.len() || other.0.as_bytes()[self.0.len()] == b'/')
    }

    /// This region's name, then its parent's, up to the top level: `eu/west/paris`, `eu/west`, `eu`.
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        let name = self.0.as_str();
        std::iter::once(name).chain(
            name.char_indices()
                .rev()
                .filter(|&(_, ch)| ch == '/')
                .map(move |(i, _)| &name[..i]),
        )
    }
}

impl Ord for Region {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.split('/').cmp(other.0.split('/'))
    }
}

impl PartialOrd for Region {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for Region {
    type Err = RegionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::new(s)
    }
}

impl TryFrom<String> for Region {
    type Error = RegionError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Region::new(&s)
    }
}

impl From<Region> for String {
    fn from(region: Region) -> String {
        region.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str) -> Region {
        Region::new(name).unwrap()
    }

    #[test]
    fn accepts_one_to_three_levels() {
        for name in ["eu", "eu/west", "na/us-east/nyc-2", "a", "0/1/2"] {
            assert_eq!(r(name).as_str(), name);
        }
    }

    #[test]
    fn refuses_malformed_names() {
        for name in [
            "",
            "/",
            "eu/",
            "/eu",
            "eu//west",
            "EU",
            "eu/West",
            "eu west",
            "eu_west",
            "eu/west/paris/15",
            "é",
            &"x".repeat(64),
        ] {
            assert!(Region::new(name).is_err(), "{name:?} was accepted");
        }
        assert!(Region::new(&"x".repeat(63)).is_ok());
        let err = Region::new("eu//west").unwrap_err().to_string();
        assert!(
            err.contains("\"eu//west\"") && err.contains("empty level"),
            "{err}"
        );
    }

    #[test]
    fn parent_walks_outwards() {
        assert_eq!(r("eu/west/paris").parent(), Some(r("eu/west")));
        assert_eq!(r("eu/west").parent(), Some(r("eu")));
        assert_eq!(r("eu").parent(), None);
        let paris = r("eu/west/paris");
        let names: Vec<&str> = paris.ancestors().collect();
        assert_eq!(names, ["eu/west/paris", "eu/west", "eu"]);
        assert_eq!(r("eu").ancestors().collect::<Vec<_>>(), ["eu"]);
    }

    #[test]
    fn containment_is_by_whole_levels() {
        assert!(r("eu").contains(&r("eu")));
        assert!(r("eu").contains(&r("eu/west/paris")));
        assert!(r("eu/west").contains(&r("eu/west/paris")));
        assert!(!r("eu/west").contains(&r("eu/west-2")));
        assert!(!r("eu/west").contains(&r("eu")));
        assert!(!r("eu").contains(&r("eux")));
    }

    #[test]
    fn sorting_keeps_a_region_next_to_what_it_contains() {
        let mut regions = vec![
            r("eu/west-2"),
            r("eu/west/paris"),
            r("eu"),
            r("eu/west"),
            r("eux"),
        ];
        regions.sort();
        assert_eq!(
            regions,
            [
                r("eu"),
                r("eu/west"),
                r("eu/west/paris"),
                r("eu/west-2"),
                r("eux")
            ]
        );
    }

    #[test]
    fn serde_validates() {
        assert_eq!(serde_json::to_string(&r("eu/west")).unwrap(), "\"eu/west\"");
        assert_eq!(
            serde_json::from_str::<Region>("\"eu/west\"").unwrap(),
            r("eu/west")
        );
        assert!(serde_json::from_str::<Region>("\"EU\"").is_err());
    }
}
