//! The simulated content: a pool of real bodies with their BLAKE3 roots and outboards, the objects that
//! map onto them, and Zipf popularity over the objects.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::content::{self, ContentHasher, Root};

/// One body: its bytes, root and outboard, as a terminal stores them.
pub(super) struct Body {
    pub data: Vec<u8>,
    pub root: Root,
    pub outboard: Vec<u8>,
}

impl Body {
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    /// The bytes of chunk group `group`.
    pub fn group(&self, group: u64) -> &[u8] {
        let r = content::chunk_group_range(self.size(), group).unwrap_or(0..0);
        &self.data[r.start as usize..r.end as usize]
    }
}

/// Objects `0..objects`, each one of the bodies (which one depends on the seed), object 0 the most
/// popular.
pub(super) struct Catalogue {
    pub bodies: Vec<Body>,
    /// Cumulative Zipf weights of the objects by rank, normalised to end at 1.
    cdf: Vec<f64>,
}

impl Catalogue {
    /// `bodies` bodies of sizes spread evenly on a log scale from `min_size` to `max_size` (web objects
    /// span orders of magnitude), with content from a fixed generator: the same for every seed.
    pub fn new(bodies: usize, min_size: u64, max_size: u64, objects: u64, zipf: f64) -> Self {
        let mut rng = StdRng::seed_from_u64(0x006d_6573_6f6e);
        let (lo, hi) = (
            (min_size.max(1)) as f64,
            max_size.max(min_size).max(1) as f64,
        );
        let bodies = (0..bodies)
            .map(|i| {
                let t = if bodies > 1 {
                    i as f64 / (bodies - 1) as f64
                } else {
                    0.0
                };
                let size = (lo * (hi / lo).powf(t)).round() as usize;
                let mut data = vec![0u8; size];
                rng.fill(&mut data[..]);
                let mut h = ContentHasher::new();
                h.update(&data);
                let (root, outboard) = h.finalize();
                Body {
                    data,
                    root,
                    outboard,
                }
            })
            .collect();
        let mut sum = 0.0;
        let mut cdf: Vec<f64> = (0..objects)
            .map(|rank| {
                sum += ((rank + 1) as f64).powf(-zipf);
                sum
            })
            .collect();
        for c in &mut cdf {
            *c /= sum;
        }
        Catalogue { bodies, cdf }
    }

    pub fn objects(&self) -> u64 {
        self.cdf.len() as u64
    }

    /// An object drawn by popularity.
    pub fn draw(&self, rng: &mut StdRng) -> u32 {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1) as u32
    }
}

/// The object's key: what tickets, holdings and scheduling name it by.
pub(super) fn object_key(object: u32) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&object.to_le_bytes());
    key
}

/// A well-mixed 64-bit value of `x` (SplitMix64's finaliser): the per-seed, per-object and per-chunk
/// draws that must not consume the seed's generator, so they are the same whenever they are asked.
pub(super) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `mix` as a uniform number in [0, 1).
pub(super) fn unit(x: u64) -> f64 {
    (mix(x) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_real_roots_and_popularity_follows_rank() {
        let c = Catalogue::new(3, 1000, 40_000, 100, 1.0);
        assert_eq!(
            c.bodies.iter().map(Body::size).collect::<Vec<_>>(),
            [1000, 6325, 40_000]
        );
        for b in &c.bodies {
            assert_eq!(b.root, Root::from(blake3::hash(&b.data)));
        }
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = [0u32; 100];
        for _ in 0..20_000 {
            counts[c.draw(&mut rng) as usize] += 1;
        }
        // Zipf with exponent 1 over 100 objects: the first has 1/H(100) ≈ 19 %, the second half.
        assert!((3400..4300).contains(&counts[0]), "{}", counts[0]);
        assert!((1500..2300).contains(&counts[1]), "{}", counts[1]);
        assert!(counts[99] < 100);
    }
}
