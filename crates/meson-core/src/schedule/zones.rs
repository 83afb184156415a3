//! Coverage zones: which region a client address belongs to, from an operator's file of CIDR blocks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::region::{Region, RegionError};

/// Why a coverage-zone file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("line {line}: expected `CIDR REGION`, found {found} field(s)")]
    Fields { line: usize, found: usize },
    #[error("line {line}: invalid CIDR block {cidr:?}: {reason}")]
    BadCidr {
        line: usize,
        cidr: String,
        reason: &'static str,
    },
    #[error("line {line}: {cidr} has bits set past the prefix length; the block is {network}")]
    HostBits {
        line: usize,
        cidr: String,
        network: String,
    },
    #[error(
        "line {line}: {cidr} is an IPv4-mapped IPv6 block, which never matches; write it as IPv4"
    )]
    Mapped { line: usize, cidr: String },
    #[error("line {line}: {source}")]
    BadRegion { line: usize, source: RegionError },
    #[error("line {line}: {cidr} is already listed on line {first_line}")]
    Duplicate {
        line: usize,
        cidr: String,
        first_line: usize,
    },
}

/// A parsed coverage-zone file: which region a client address belongs to.
///
/// # File format
///
/// UTF-8 text, one entry per line: an address block in CIDR notation and a [`Region`], separated by spaces
/// or tabs. `#` starts a comment that runs to the end of the line; blank lines are ignored.
///
/// ```text
/// # CIDR            region
/// 0.0.0.0/0         eu                 # IPv4 clients nobody listed
/// 10.0.0.0/8        eu/west
/// 10.1.0.0/16       eu/west/paris      # the longest matching prefix wins
/// 2001:db8::/32     na/us-east
/// ```
///
/// Rules, each violation a [`ZoneError`] naming its line (counted from 1):
/// - the block is `ADDRESS/LENGTH`, IPv4 (`LENGTH` 0..=32) or IPv6 (0..=128); a bare address is refused
///   rather than read as a /32, because a forgotten length is more often a mistake than a single host;
/// - the address has no bits set past the prefix length (`10.0.0.1/8` is refused, naming `10.0.0.0/8`),
///   since such a line usually means the operator meant a different block;
/// - the same block may appear only once, even with the same region, so that editing one of two copies
///   cannot silently do nothing;
/// - IPv4-mapped IPv6 blocks (inside `::ffff:0:0/96`) are refused: clients arriving on a dual-stack
///   socket as `::ffff:a.b.c.d` are looked up as the IPv4 address `a.b.c.d`, so such a line would never
///   match. For the same reason `::/0` covers IPv6 clients only; use `0.0.0.0/0` for IPv4.
///
/// # Lookup
///
/// Blocks are kept per address family in one sorted table per prefix length, longest length first. A
/// lookup masks the address to each length in turn and binary-searches that table, so it costs at most
/// one search per distinct length in the file (a handful in practice) and no allocation.
#[derive(Debug, Clone, Default)]
pub struct CoverageZones {
    v4: PrefixTable,
    v6: PrefixTable,
    /// Each distinct region once; tables refer to it by index.
    regions: Vec<Region>,
}

/// Every block of one address family, addresses held in the low bits of a `u128`.
#[derive(Debug, Clone, Default)]
struct PrefixTable {
    /// Longest prefix length first, so the first hit is the longest match.
    by_length: Vec<LengthTable>,
}

#[derive(Debug, Clone)]
struct LengthTable {
    mask: u128,
    /// (network address, index into `regions`), sorted by address.
    entries: Vec<(u128, usize)>,
}

/// One parsed line, before the tables are built.
struct Entry {
    network: u128,
    length: u8,
    region: usize,
    line: usize,
}

const V4_BITS: u8 = 32;
const V6_BITS: u8 = 128;

fn mask(length: u8, width: u8) -> u128 {
    if length == 0 {
        0
    } else {
        (u128::MAX << (128 - u32::from(length))) >> (128 - u32::from(width))
    }
}

impl CoverageZones {
    /// Parses the text of a coverage-zone file.
    pub fn parse(text: &str) -> Result<Self, ZoneError> {
        let mut regions: Vec<Region> = Vec::new();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split_once('#').map_or(raw, |(before, _)| before);
            let fields: Vec<&str> = content.split_whitespace().collect();
            let [cidr, region] = fields[..] else {
                if fields.is_empty() {
                    continue;
                }
                return Err(ZoneError::Fields {
                    line,
                    found: fields.len(),
                });
            };
            let (addr, length) = parse_cidr(line, cidr)?;
            let region =
                Region::new(region).map_err(|source| ZoneError::BadRegion { line, source })?;
            let region = match regions.iter().position(|r| *r == region) {
                Some(index) => index,
                None => {
                    regions.push(region);
                    regions.len() - 1
                }
            };
            let (network, width, entries) = match addr {
                IpAddr::V4(a) => (u128::from(u32::from(a)), V4_BITS, &mut v4),
                IpAddr::V6(a) => (u128::from(a), V6_BITS, &mut v6),
            };
            let block = network & mask(length, width);
            if block != network {
                return Err(ZoneError::HostBits {
                    line,
                    cidr: cidr.to_owned(),
                    network: show_block(block, length, width),
                });
            }
            entries.push(Entry {
                network,
                length,
                region,
                line,
            });
        }
        Ok(CoverageZones {
            v4: PrefixTable::build(v4, V4_BITS)?,
            v6: PrefixTable::build(v6, V6_BITS)?,
            regions,
        })
    }

    /// The region of the longest block containing `ip`, if any. IPv4-mapped IPv6 addresses
    /// (`::ffff:a.b.c.d`, as a dual-stack socket reports IPv4 clients) are looked up as IPv4.
    pub fn region_of(&self, ip: IpAddr) -> Option<&Region> {
        let index = match ip.to_canonical() {
            IpAddr::V4(a) => self.v4.lookup(u128::from(u32::from(a))),
            IpAddr::V6(a) => self.v6.lookup(u128::from(a)),
        }?;
        self.regions.get(index)
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The distinct regions the file names, in order of first appearance.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }
}

impl FromStr for CoverageZones {
    type Err = ZoneError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CoverageZones::parse(text)
    }
}

fn parse_cidr(line: usize, cidr: &str) -> Result<(IpAddr, u8), ZoneError> {
    let fail = |reason| ZoneError::BadCidr {
        line,
        cidr: cidr.to_owned(),
        reason,
    };
    let (addr, length) = cidr
        .split_once('/')
        .ok_or_else(|| fail("missing /LENGTH (write a single host as /32 or /128)"))?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| fail("not an IPv4 or IPv6 address"))?;
    if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail("the prefix length is not a number"));
    }
    let length: u8 = length
        .parse()
        .map_err(|_| fail("the prefix length is too long"))?;
    let width = if addr.is_ipv4() { V4_BITS } else { V6_BITS };
    if length > width {
        return Err(fail(if addr.is_ipv4() {
            "an IPv4 prefix length is at most 32"
        } else {
            "an IPv6 prefix length is at most 128"
        }));
    }
    if let IpAddr::V6(a) = addr {
        // The block lies inside ::ffff:0:0/96 when it is at least that long and starts there.
        if length >= 96 && a.to_ipv4_mapped().is_some() {
            return Err(ZoneError::Mapped {
                line,
                cidr: cidr.to_owned(),
            });
        }
    }
    Ok((addr, length))
}

impl PrefixTable {
    /// Groups entries by length, refusing a block listed twice.
    fn build(mut entries: Vec<Entry>, width: u8) -> Result<Self, ZoneError> {
        // Sorting by line as the last key makes the reported duplicate the later line.
        entries.sort_by_key(|e| (std::cmp::Reverse(e.length), e.network, e.line));
        let mut by_length: Vec<LengthTable> = Vec::new();
        let mut previous: Option<&Entry> = None;
        for entry in &entries {
            if let Some(prev) = previous {
                if prev.length == entry.length && prev.network == entry.network {
                    return Err(ZoneError::Duplicate {
                        line: entry.line,
                        cidr: show_block(entry.network, entry.length, width),
                        first_line: prev.line,
                    });
                }
            }
            let new_length = previous.is_none_or(|prev| prev.length != entry.length);
            if new_length {
                by_length.push(LengthTable {
                    mask: mask(entry.length, width),
                    entries: Vec::new(),
                });
            }
            if let Some(table) = by_length.last_mut() {
                table.entries.push((entry.network, entry.region));
            }
            previous = Some(entry);
        }
        Ok(PrefixTable { by_length })
    }

    fn lookup(&self, addr: u128) -> Option<usize> {
        self.by_length.iter().find_map(|table| {
            let block = addr & table.mask;
            table
                .entries
                .binary_search_by_key(&block, |&(network, _)| network)
                .ok()
                .map(|i| table.entries[i].1)
        })
    }

    fn len(&self) -> usize {
        self.by_length.iter().map(|t| t.entries.len()).sum()
    }
}

fn show_block(network: u128, length: u8, width: u8) -> String {
    if width == V4_BITS {
        format!("{}/{length}", Ipv4Addr::from(network as u32))
    } else {
        format!("{}/{length}", Ipv6Addr::from(network))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const EXAMPLE: &str = "\
# CIDR            region
0.0.0.0/0         eu                 # IPv4 clients nobody listed
10.0.0.0/8        eu/west
10.1.0.0/16       eu/west/paris      # the longest matching prefix wins

\t2001:db8::/32\tna/us-east\r
2001:db8:1::/48   na/us-east/nyc
";

    fn region_of<'a>(zones: &'a CoverageZones, ip: &str) -> Option<&'a str> {
        zones.region_of(ip.parse().unwrap()).map(Region::as_str)
    }

    #[test]
    fn longest_prefix_wins() {
        let zones: CoverageZones = EXAMPLE.parse().unwrap();
        assert_eq!(zones.len(), 5);
        assert_eq!(region_of(&zones, "10.1.2.3"), Some("eu/west/paris"));
        assert_eq!(region_of(&zones, "10.2.0.1"), Some("eu/west"));
        assert_eq!(region_of(&zones, "10.0.0.0"), Some("eu/west"));
        assert_eq!(region_of(&zones, "10.255.255.255"), Some("eu/west"));
        assert_eq!(region_of(&zones, "11.0.0.0"), Some("eu"));
        assert_eq!(region_of(&zones, "2001:db8:1:2::1"), Some("na/us-east/nyc"));
        assert_eq!(region_of(&zones, "2001:db8:2::1"), Some("na/us-east"));
        assert_eq!(region_of(&zones, "2001:db9::1"), None);
        // A dual-stack socket's view of an IPv4 client is looked up as IPv4.
        assert_eq!(region_of(&zones, "::ffff:10.1.0.1"), Some("eu/west/paris"));
        let names: Vec<&str> = zones.regions().iter().map(Region::as_str).collect();
        assert_eq!(
            names,
            [
                "eu",
                "eu/west",
                "eu/west/paris",
                "na/us-east",
                "na/us-east/nyc"
            ]
        );
    }

    #[test]
    fn empty_files_match_nothing() {
        for text in ["", "\n\n", "# only a comment\n   # another\n"] {
            let zones = CoverageZones::parse(text).unwrap();
            assert!(zones.is_empty());
            assert_eq!(region_of(&zones, "10.0.0.1"), None);
            assert_eq!(region_of(&zones, "::1"), None);
        }
        let v6_only = CoverageZones::parse("::/0 eu").unwrap();
        assert_eq!(region_of(&v6_only, "::1"), Some("eu"));
        assert_eq!(region_of(&v6_only, "10.0.0.1"), None);
        let host = CoverageZones::parse("192.0.2.7/32 eu\n2001:db8::7/128 na").unwrap();
        assert_eq!(region_of(&host, "192.0.2.7"), Some("eu"));
        assert_eq!(region_of(&host, "192.0.2.8"), None);
        assert_eq!(region_of(&host, "2001:db8::7"), Some("na"));
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let cases: [(&str, &str); 14] = [
            (
                "10.0.0.0/8",
                "line 2: expected `CIDR REGION`, found 1 field(s)",
            ),
            (
                "10.0.0.0/8 eu west",
                "line 2: expected `CIDR REGION`, found 3 field(s)",
            ),
            (
                "10.0.0.0 eu",
                "line 2: invalid CIDR block \"10.0.0.0\": missing /LENGTH",
            ),
            (
                "10.0.0/8 eu",
                "line 2: invalid CIDR block \"10.0.0/8\": not an IPv4 or IPv6 address",
            ),
            ("10.0.0.0/ eu", "the prefix length is not a number"),
            ("10.0.0.0/+8 eu", "the prefix length is not a number"),
            ("10.0.0.0/33 eu", "an IPv4 prefix length is at most 32"),
            ("10.0.0.0/300 eu", "the prefix length is too long"),
            ("::/129 eu", "an IPv6 prefix length is at most 128"),
            (
                "10.0.0.1/8 eu",
                "line 2: 10.0.0.1/8 has bits set past the prefix length; the block is 10.0.0.0/8",
            ),
            ("2001:db8::1/32 eu", "the block is 2001:db8::/32"),
            (
                "::ffff:10.0.0.0/104 eu",
                "line 2: ::ffff:10.0.0.0/104 is an IPv4-mapped IPv6 block",
            ),
            ("10.0.0.0/8 EU", "line 2: invalid region \"EU\""),
            ("10.0.0.0/8 eu/west/paris/15", "more than 3 levels"),
        ];
        for (line, message) in cases {
            let text = format!("# header\n{line}\n");
            let err = CoverageZones::parse(&text).unwrap_err().to_string();
            assert!(err.contains(message), "{line:?}: {err}");
        }
        // Mapped addresses are fine inside a wider IPv6 block.
        assert!(CoverageZones::parse("::/64 eu").is_ok());
    }

    #[test]
    fn duplicates_are_refused_with_both_lines() {
        let err = CoverageZones::parse("10.0.0.0/8 eu\n\n10.0.0.0/8 eu\n").unwrap_err();
        assert_eq!(
            err,
            ZoneError::Duplicate {
                line: 3,
                cidr: "10.0.0.0/8".into(),
                first_line: 1
            }
        );
        let err = CoverageZones::parse("2001:db8::/32 eu\n# x\n2001:0DB8:0::/32 na\n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "line 3: 2001:db8::/32 is already listed on line 1");
        // Same address, another length: nested blocks, not a duplicate.
        assert!(CoverageZones::parse("10.0.0.0/8 eu\n10.0.0.0/9 na\n").is_ok());
    }

    /// Longest match by trying every block.
    fn naive(blocks: &[(IpAddr, u8, usize)], ip: IpAddr) -> Option<usize> {
        let ip = ip.to_canonical();
        blocks
            .iter()
            .filter(|(network, length, _)| match (network, ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => {
                    let m = mask(*length, V4_BITS) as u32;
                    u32::from(a) & m == u32::from(*n)
                }
                (IpAddr::V6(n), IpAddr::V6(a)) => {
                    u128::from(a) & mask(*length, V6_BITS) == u128::from(*n)
                }
                _ => false,
            })
            .max_by_key(|(_, length, _)| *length)
            .map(|&(_, _, region)| region)
    }

    const REGIONS: [&str; 4] = ["eu", "eu/west", "na/us-east", "ap/tokyo/shibuya"];

    /// Blocks in a narrow address space, so that they nest and overlap often.
    fn arbitrary_block() -> impl Strategy<Value = (IpAddr, u8, usize)> {
        prop_oneof![
            (0u32..4, any::<u32>(), 0u8..=32, 0..REGIONS.len()).prop_map(
                |(top, low, length, r)| {
                    let addr = (top << 30) | (low >> 2);
                    let network = addr & mask(length, V4_BITS) as u32;
                    (IpAddr::V4(Ipv4Addr::from(network)), length, r)
                }
            ),
            (0u128..4, any::<u128>(), 0u8..=128, 0..REGIONS.len()).prop_map(
                |(top, low, length, r)| {
                    // 2001:db8::/32 and three neighbours.
                    let addr = (0x2001_0db8u128 << 96) | (top << 94) | (low >> 34);
                    let network = addr & mask(length, V6_BITS);
                    (IpAddr::V6(Ipv6Addr::from(network)), length, r)
                }
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn lookup_matches_a_naive_scan(
            blocks in prop::collection::vec(arbitrary_block(), 0..60),
            probes in prop::collection::vec((0..64usize, any::<u128>()), 1..60),
        ) {
            let mut seen = std::collections::HashSet::new();
            let blocks: Vec<_> = blocks.into_iter().filter(|(n, l, _)| seen.insert((*n, *l))).collect();
            let text: String = blocks
                .iter()
                .map(|(network, length, r)| format!("{network}/{length} {}\n", REGIONS[*r]))
                .collect();
            let zones = CoverageZones::parse(&text).unwrap();
            prop_assert_eq!(zones.len(), blocks.len());
            for (pick, noise) in probes {
                // Mostly addresses inside a listed block with random host bits, some anywhere.
                let ip = match blocks.get(pick) {
                    Some((IpAddr::V4(n), length, _)) => {
                        IpAddr::V4(Ipv4Addr::from(u32::from(*n) | (noise as u32 & !(mask(*length, V4_BITS) as u32))))
                    }
                    Some((IpAddr::V6(n), length, _)) => {
                        IpAddr::V6(Ipv6Addr::from(u128::from(*n) | (noise & !mask(*length, V6_BITS))))
                    }
                    None if pick % 2 == 0 => IpAddr::V4(Ipv4Addr::from(noise as u32)),
                    None => IpAddr::V6(Ipv6Addr::from(noise)),
                };
                let expected = naive(&blocks, ip).map(|r| REGIONS[r]);
                prop_assert_eq!(zones.region_of(ip).map(Region::as_str), expected, "{}", ip);
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "[0-9a-f:./ #\t\n-]{0,200}") {
            let _ = CoverageZones::parse(&text);
        }
    }
}
