//! The simulated content: a pool of real bodies with their BLAKE3 roots and outboards, the objects that
//! map onto them, and their popularity.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::content::{self, ContentHasher, Root};
use crate::sim::Popularity;

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
    popularity: Popularity,
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
        Catalogue {
            bodies,
            popularity: Popularity::zipf(objects, zipf),
        }
    }

    pub fn objects(&self) -> u64 {
        self.popularity.objects()
    }

    /// An object drawn by popularity.
    pub fn draw(&self, rng: &mut StdRng) -> u32 {
        self.popularity.draw(rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_real_roots() {
        let c = Catalogue::new(3, 1000, 40_000, 100, 1.0);
        assert_eq!(
            c.bodies.iter().map(Body::size).collect::<Vec<_>>(),
            [1000, 6325, 40_000]
        );
        for b in &c.bodies {
            assert_eq!(b.root, Root::from(blake3::hash(&b.data)));
        }
        // Popularity is tested where it lives (`sim::popularity`).
        assert_eq!(c.objects(), 100);
    }
}
