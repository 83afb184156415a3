//! A count-min sketch of 4-bit counters with periodic halving: TinyLFU's memory of how often each key was
//! requested lately, in 8 to 16 bytes per cached object whatever the number of keys seen.
//!
//! Layout as in Caffeine's `FrequencySketch`: each 64-bit word holds 16 counters; each of the four hash rows
//! picks a word and one of its own four counters there. Counters saturate at 15; after `10 ×` as many
//! increments as the table has words, every counter is halved, so the sketch follows changes in popularity
//! instead of remembering yesterday's hits for ever.

use super::ObjectKey;

/// Distinct odd constants, one per row, so the rows hash independently.
const SEEDS: [u64; 4] = [
    0x97cb_3127_4a3d_2f15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0x9e37_79b9_7f4a_7c15,
];
const RESET_MASK: u64 = 0x7777_7777_7777_7777;
const ONE_MASK: u64 = 0x1111_1111_1111_1111;
const MIN_WORDS: usize = 64;
/// 512 MiB of table: more keys than any disk holds objects, so the cap only guards against a runaway size.
const MAX_WORDS: usize = 1 << 26;

#[derive(Debug)]
pub(crate) struct FrequencySketch {
    table: Vec<u64>,
    sample_size: u64,
    additions: u64,
}

impl FrequencySketch {
    /// A sketch sized for about `entries` cached objects.
    pub fn with_capacity(entries: usize) -> Self {
        let words = entries.clamp(MIN_WORDS, MAX_WORDS).next_power_of_two();
        FrequencySketch {
            table: vec![0; words],
            sample_size: 10 * words as u64,
            additions: 0,
        }
    }

    /// How many cached objects the sketch is sized for.
    pub fn capacity(&self) -> usize {
        self.table.len()
    }

    /// The estimated number of recent requests for `key`, at most 15.
    pub fn frequency(&self, key: ObjectKey) -> u8 {
        (0..4)
            .map(|row| {
                let (word, shift) = self.slot(key, row);
                ((self.table[word] >> shift) & 15) as u8
            })
            .min()
            .unwrap_or(0)
    }

    pub fn increment(&mut self, key: ObjectKey) {
        let mut added = false;
        for row in 0..4 {
            let (word, shift) = self.slot(key, row);
            if (self.table[word] >> shift) & 15 < 15 {
                self.table[word] += 1 << shift;
                added = true;
            }
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample_size {
                self.halve();
            }
        }
    }

    fn halve(&mut self) {
        let mut odd = 0u64;
        for w in &mut self.table {
            odd += u64::from((*w & ONE_MASK).count_ones());
            *w = (*w >> 1) & RESET_MASK;
        }
        // Each halving truncates odd counters; a key contributes to four of them.
        self.additions = (self.additions - odd / 4) / 2;
    }

    /// The word and bit offset of `key`'s counter in `row`.
    fn slot(&self, key: ObjectKey, row: usize) -> (usize, u32) {
        let h = mix(key.wrapping_add(SEEDS[row]).wrapping_mul(SEEDS[row]));
        let word = (h as usize) & (self.table.len() - 1);
        let counter = row as u32 * 4 + (h >> 62) as u32;
        (word, counter * 4)
    }
}

/// SplitMix64's finaliser: tests and the simulator use small sequential keys, which must not share rows.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_and_halve() {
        let mut s = FrequencySketch::with_capacity(64);
        assert_eq!(s.frequency(7), 0);
        for _ in 0..5 {
            s.increment(7);
        }
        assert_eq!(s.frequency(7), 5);
        for _ in 0..20 {
            s.increment(7);
        }
        assert_eq!(s.frequency(7), 15);
        // Unrelated keys push the sketch to its sample size, halving every counter.
        let mut k = 1000;
        while s.frequency(7) == 15 {
            s.increment(k);
            k += 1;
        }
        assert_eq!(s.frequency(7), 7);
        assert!(s.additions < s.sample_size);
    }

    #[test]
    fn distinct_keys_rarely_collide() {
        let mut s = FrequencySketch::with_capacity(1024);
        for k in 0..512 {
            s.increment(k);
        }
        let over = (0..512).filter(|&k| s.frequency(k) > 1).count();
        let unseen = (10_000..10_512).filter(|&k| s.frequency(k) > 0).count();
        assert!(over < 10 && unseen < 10, "{over} {unseen}");
    }
}
