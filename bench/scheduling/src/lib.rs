//! The workloads both the criterion bench and the percentile binary measure, generated the same way on
//! every run so that results compare across machines and commits.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use meson_core::schedule::{schedule_key, Candidate, CandidateSet, CoverageZones, Region};

/// The size: one decision among this many terminals.
pub const TERMINALS: usize = 10_000;
/// Load bound factor, the value the router uses.
pub const C: f64 = 1.25;

/// A fixed pseudo-random sequence (splitmix64), so workloads need no `rand` and never change.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// `count` regions: five continents, split evenly into areas (`c0/a0`, `c0/a1`, …).
pub fn regions(count: usize) -> Vec<Region> {
    (0..count)
        .map(|i| Region::new(&format!("c{}/a{}", i % 5, i / 5)).expect("valid region name"))
        .collect()
}

/// `count` terminals spread round-robin over `regions`, with weights 1 to 8 and loads of 0 to 39 active
/// requests per unit of weight, except one terminal in twenty at 1,000, so that the load bound (see
/// [`C`]) has terminals to refuse.
pub fn terminals(count: usize, regions: &[Region]) -> CandidateSet {
    let mut sequence = Sequence(1);
    let candidates = (0..count)
        .map(|i| {
            let mut id = [0u8; 32];
            for chunk in id.chunks_mut(8) {
                chunk.copy_from_slice(&sequence.next().to_le_bytes());
            }
            let weight = 1 + sequence.below(8) as u32;
            let load = if sequence.below(20) == 0 {
                1_000
            } else {
                u64::from(weight) * sequence.below(40)
            };
            Candidate {
                id,
                region: regions[i % regions.len()].clone(),
                weight,
                load,
            }
        })
        .collect();
    CandidateSet::new(candidates)
}

/// Cache keys of one site, distinct paths.
pub fn keys(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            schedule_key(
                "video.example.com",
                format!("/v/{i}/segment-{}.ts", i % 97).as_bytes(),
            )
        })
        .collect()
}

/// A coverage-zone file of 2,000 IPv4 blocks (/16 to /24) and 500 IPv6 blocks (/32 to /48) over
/// `regions`, and `clients` addresses inside those blocks.
pub fn zones(regions: &[Region], clients: usize) -> (CoverageZones, Vec<IpAddr>) {
    let mut sequence = Sequence(2);
    let mut text = String::new();
    let mut blocks = Vec::new();
    for i in 0..2_500 {
        let region = &regions[i % regions.len()];
        // The block number goes in the top bits, so blocks never collide.
        let block = if i < 2_000 {
            let length = 16 + sequence.below(9) as u32;
            let network = (i as u32) << 16;
            (IpAddr::V4(Ipv4Addr::from(network)), length)
        } else {
            let length = 32 + sequence.below(17) as u32;
            let network = (0x2001_0000u128 + i as u128) << 96;
            (IpAddr::V6(Ipv6Addr::from(network)), length)
        };
        text.push_str(&format!("{}/{} {region}\n", block.0, block.1));
        blocks.push(block);
    }
    let zones = CoverageZones::parse(&text).expect("generated zones parse");
    let clients = (0..clients)
        .map(|_| {
            let (network, length) = blocks[sequence.below(blocks.len() as u64) as usize];
            // Random host bits below the prefix.
            let noise = u128::from(sequence.next()) << 64 | u128::from(sequence.next());
            match network {
                IpAddr::V4(n) => {
                    IpAddr::V4(Ipv4Addr::from(u32::from(n) | (noise as u32 >> length)))
                }
                IpAddr::V6(n) => IpAddr::V6(Ipv6Addr::from(u128::from(n) | (noise >> length))),
            }
        })
        .collect();
    (zones, clients)
}
