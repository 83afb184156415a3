//! Zipf popularity over objects `0..n`, object 0 the most popular.

use rand::rngs::StdRng;
use rand::Rng;

pub(crate) struct Popularity {
    /// Cumulative Zipf weights of the objects by rank, normalised to end at 1.
    cdf: Vec<f64>,
}

impl Popularity {
    /// `objects` objects, the one of rank `r` (from 1) drawn in proportion to `r^-exponent`: 0 draws
    /// them uniformly.
    pub fn zipf(objects: u64, exponent: f64) -> Self {
        let mut sum = 0.0;
        let mut cdf: Vec<f64> = (0..objects)
            .map(|rank| {
                sum += ((rank + 1) as f64).powf(-exponent);
                sum
            })
            .collect();
        for c in &mut cdf {
            *c /= sum;
        }
        Popularity { cdf }
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

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn popularity_follows_rank() {
        let p = Popularity::zipf(100, 1.0);
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = [0u32; 100];
        for _ in 0..20_000 {
            counts[p.draw(&mut rng) as usize] += 1;
        }
        // Zipf with exponent 1 over 100 objects: the first has 1/H(100) ≈ 19 %, the second half.
        assert!((3400..4300).contains(&counts[0]), "{}", counts[0]);
        assert!((1500..2300).contains(&counts[1]), "{}", counts[1]);
        assert!(counts[99] < 100);
    }

    #[test]
    fn exponent_zero_is_uniform() {
        let p = Popularity::zipf(10, 0.0);
        let mut rng = StdRng::seed_from_u64(2);
        let mut counts = [0u32; 10];
        for _ in 0..20_000 {
            counts[p.draw(&mut rng) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (1800..2200).contains(&c)),
            "{counts:?}"
        );
    }
}
