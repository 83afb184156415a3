//! Weighted rendezvous hashing with bounded loads over a precomputed set of terminals. The method, the
//! hash and the load rule are described in the [parent module](super).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::ops::Range;

use super::{Candidate, Region, ScheduleError, TerminalId};

const KEY_CONTEXT: &str = "meson-cdn 2025 schedule key v1";
const SEED_CONTEXT: &str = "meson-cdn 2025 schedule terminal v1";

/// Terminals filtered together, in a loop the compiler turns into SIMD: 16 fills two 256-bit registers
/// when AVX2 is enabled, and costs no more than 8 with the baseline's SSE2.
const LANES: usize = 16;

/// Scales an arrival time into the filter's units (`(1 - u) · 2³¹`), with a relative margin of 2⁻¹²:
/// far above the rounding of the `f32` filter (a few units of 2⁻²⁴) and of the exact `f64` arrival time,
/// so the filter never drops a terminal the exact comparison would have kept.
const FILTER_SCALE: f64 = (1u64 << 31) as f64 * (1.0 + 1.0 / 4096.0);

pub(super) fn key_hash(key: &[u8]) -> u64 {
    first_u64(blake3::derive_key(KEY_CONTEXT, key))
}

pub(super) fn terminal_seed(id: &TerminalId) -> u64 {
    first_u64(blake3::derive_key(SEED_CONTEXT, id))
}

fn first_u64(hash: [u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(first)
}

/// Chris Wellons' lowbias32 integer hash (hash-prospector, 2020): a bijection on 32 bits with
/// near-ideal avalanche.
pub(super) fn lowbias32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// The rendezvous hash of a key hash and a terminal seed, from their 32-bit halves. Adding the halves
/// rather than XOR-ing them keeps all 64 bits of the seed in play: XOR would collapse a seed into
/// `low ^ high`, two terminals agreeing on those 32 bits would tie on every key, and about one set of
/// 10,000 terminals in a hundred has such a pair.
pub(super) fn rendezvous_hash(key: u64, seed: u64) -> u32 {
    lowbias32(halves_hash(
        key as u32,
        (key >> 32) as u32,
        seed as u32,
        (seed >> 32) as u32,
    ))
}

/// [`rendezvous_hash`] before the final mix, split so the scan can load the halves from two arrays.
#[inline(always)]
fn halves_hash(key_low: u32, key_high: u32, seed_low: u32, seed_high: u32) -> u32 {
    (key_low ^ seed_low).wrapping_add(key_high ^ seed_high)
}

/// Whether a terminal whose rendezvous hash is `h` might arrive before `cutoff` (in [`FILTER_SCALE`]
/// units). `(1 - u) ≥ (!h >> 1) · 2⁻³¹` and `-ln(u) ≥ 1 - u`, so a terminal this rejects cannot rank.
#[inline(always)]
fn may_rank(h: u32, weight: f32, cutoff: f32) -> bool {
    (((!h) >> 1) as i32 as f32) <= weight * cutoff
}

/// The arrival time of a terminal of `weight` whose rendezvous hash is `h`: `-ln(u) / weight` with
/// `u = (2h + 1) / 2³³`, exact in an `f64` and never 0 or 1.
pub(super) fn arrival(h: u32, weight: u32) -> f64 {
    neg_ln((2 * u64::from(h) + 1) as f64 / (1u64 << 33) as f64) / f64::from(weight)
}

/// `-ln(u)` for `u` in (0, 1), from IEEE-754 `+ − × ÷` only so that it is the same on every platform (the
/// platform `ln` may differ in its last bit between libms). Relative error below 10⁻¹⁵.
pub(super) fn neg_ln(u: f64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    let bits = u.to_bits();
    // u = m · 2^exponent with m in [√½, √2), so that t below stays small.
    let mut exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & MANTISSA) | (1023 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        exponent += 1;
    }
    // ln(m) = 2·atanh(t) = 2·(t + t³/3 + t⁵/5 + …) with |t| ≤ 3 − 2√2 < 0.172: the terms after t²¹/21
    // are below 10⁻¹⁸ of the sum. Near u = 1, where rankings are decided, m = u and `m - 1` is exact.
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let mut series = 1.0 / 21.0;
    for k in (0..10).rev() {
        series = series * t2 + 1.0 / f64::from(2 * k + 1);
    }
    -(exponent as f64 * std::f64::consts::LN_2 + 2.0 * t * series)
}

/// A terminal's standing for one key: the earlier arrival wins, then the smaller id; the input position
/// only separates duplicate ids, the one case where slice order can matter.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    time: f64,
    id: TerminalId,
    input: usize,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.time
            .total_cmp(&other.time)
            .then_with(|| self.id.cmp(&other.id))
            .then_with(|| self.input.cmp(&other.input))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// The terminals under one region name (or all of them): a contiguous run of the sorted arrays.
#[derive(Debug, Clone)]
struct Level {
    name: String,
    range: Range<usize>,
    weight: u64,
    load: u128,
}

/// Who has room for one more request at a level.
struct LoadBound {
    /// `c · (L + 1) / W`; a terminal's capacity is this times its weight, rounded up.
    per_weight: f64,
}

impl LoadBound {
    fn new(c: f64, level: &Level) -> Self {
        // `c >= 1.0` is false for NaN too.
        let c = if c >= 1.0 { c } else { 1.0 };
        LoadBound {
            per_weight: c * (level.load as f64 + 1.0) / level.weight as f64,
        }
    }

    fn admits(&self, slot: &Slot) -> bool {
        (slot.load as f64) < (self.per_weight * f64::from(slot.weight)).ceil()
    }
}

/// What deciding on a terminal needs beyond the filter, kept dense: a decision looks at a few dozen
/// terminals at random positions, and a `Candidate` is several cache lines away.
#[derive(Debug, Clone, Copy)]
struct Slot {
    load: u64,
    weight: u32,
}

/// Terminals prepared for many scheduling decisions: seeds derived once, terminals grouped by region,
/// summed loads kept current by [`set_load`](Self::set_load) and [`add_load`](Self::add_load).
///
/// Indices, in and out, are positions in the `Vec` given to [`new`](Self::new).
#[derive(Debug, Clone)]
pub struct CandidateSet {
    /// As given, loads kept current.
    candidates: Vec<Candidate>,
    /// The candidates of positive weight, sorted by region so that each level is contiguous: the index
    /// into `candidates` of each.
    order: Vec<usize>,
    /// The halves of the seed and the weight of `candidates[order[i]]` at `i`: the only data the scan
    /// touches for most terminals, kept dense and split so the filter loads them straight into SIMD lanes.
    seed_low: Vec<u32>,
    seed_high: Vec<u32>,
    weights: Vec<f32>,
    slots: Vec<Slot>,
    /// Where each of `candidates` is in `order`; `None` for weight 0.
    positions: Vec<Option<usize>>,
    everywhere: Level,
    /// Every region name that is a candidate's region or one of its ancestors, sorted by name.
    levels: Vec<Level>,
}

impl CandidateSet {
    /// Prepares `candidates`; a BLAKE3 call per terminal.
    pub fn new(candidates: Vec<Candidate>) -> Self {
        let mut order: Vec<usize> = (0..candidates.len())
            .filter(|&i| candidates[i].weight > 0)
            .collect();
        // Regions compare level by level, slowly enough to dominate sorting 10,000 terminals: rank the
        // few distinct ones once and sort by rank.
        let mut rank: HashMap<&Region, usize> =
            order.iter().map(|&i| (&candidates[i].region, 0)).collect();
        let mut distinct: Vec<&Region> = rank.keys().copied().collect();
        distinct.sort_unstable();
        for (r, region) in distinct.into_iter().enumerate() {
            rank.insert(region, r);
        }
        // Within a region any order will do: rankings depend on arrival times and ids, not on positions.
        order.sort_by_key(|&i| rank.get(&candidates[i].region).copied());
        let seeds: Vec<u64> = order
            .iter()
            .map(|&i| terminal_seed(&candidates[i].id))
            .collect();
        let seed_low = seeds.iter().map(|&s| s as u32).collect();
        let seed_high = seeds.iter().map(|&s| (s >> 32) as u32).collect();
        // Rounded for weights above 2²⁴, which the filter's margin covers.
        let weights = order.iter().map(|&i| candidates[i].weight as f32).collect();
        let slots = order
            .iter()
            .map(|&i| Slot {
                load: candidates[i].load,
                weight: candidates[i].weight,
            })
            .collect();
        let mut positions = vec![None; candidates.len()];
        for (position, &i) in order.iter().enumerate() {
            positions[i] = Some(position);
        }
        let mut everywhere = Level {
            name: String::new(),
            range: 0..order.len(),
            weight: 0,
            load: 0,
        };
        let mut levels: BTreeMap<&str, Level> = BTreeMap::new();
        for (position, &i) in order.iter().enumerate() {
            let candidate = &candidates[i];
            everywhere.weight += u64::from(candidate.weight);
            everywhere.load += u128::from(candidate.load);
            for name in candidate.region.ancestors() {
                // The sort keeps each region's terminals adjacent, so extending the end is enough.
                let level = levels.entry(name).or_insert_with(|| Level {
                    name: name.to_owned(),
                    range: position..position,
                    weight: 0,
                    load: 0,
                });
                level.range.end = position + 1;
                level.weight += u64::from(candidate.weight);
                level.load += u128::from(candidate.load);
            }
        }
        let levels = levels.into_values().collect();
        CandidateSet {
            candidates,
            order,
            seed_low,
            seed_high,
            weights,
            slots,
            positions,
            everywhere,
            levels,
        }
    }

    /// The candidates as given to [`new`](Self::new), with their current loads.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Records a terminal's load, e.g. the active connections of its latest heartbeat.
    pub fn set_load(&mut self, index: usize, load: u64) -> Result<(), ScheduleError> {
        let Self {
            candidates,
            slots,
            positions,
            levels,
            everywhere,
            ..
        } = self;
        let len = candidates.len();
        let candidate = candidates
            .get_mut(index)
            .ok_or(ScheduleError::NoSuchCandidate { index, len })?;
        let old = std::mem::replace(&mut candidate.load, load);
        let Some(position) = positions[index] else {
            // Weight 0: never chosen, so it counts towards no level's mean either.
            return Ok(());
        };
        slots[position].load = load;
        let update =
            |level: &mut Level| level.load = level.load - u128::from(old) + u128::from(load);
        for name in candidate.region.ancestors() {
            if let Ok(i) = levels.binary_search_by(|level| level.name.as_str().cmp(name)) {
                update(&mut levels[i]);
            }
        }
        update(everywhere);
        Ok(())
    }

    /// Adds to a terminal's load, e.g. for a redirect sent to it since its last heartbeat.
    pub fn add_load(&mut self, index: usize, delta: u64) -> Result<(), ScheduleError> {
        let len = self.candidates.len();
        let load = self
            .candidates
            .get(index)
            .ok_or(ScheduleError::NoSuchCandidate { index, len })?
            .load;
        self.set_load(index, load.saturating_add(delta))
    }

    /// Up to `n` indices of candidates for `key`, best first, among all terminals: the `n` earliest
    /// arrivals that are within load bound `c`, completed if need be by the least loaded of the others.
    /// Only candidates of positive weight are returned.
    pub fn choose(&self, key: &[u8], n: usize, c: f64) -> Vec<usize> {
        self.select(key_hash(key), &self.everywhere, n, c)
    }

    /// Like [`choose`](Self::choose), among the candidates of the narrowest level holding at least `n`
    /// of them: `client_region`, then each of its ancestors, then everywhere.
    pub fn pick(&self, client_region: Option<&Region>, key: &[u8], n: usize, c: f64) -> Vec<usize> {
        let level = client_region
            .into_iter()
            .flat_map(Region::ancestors)
            .filter_map(|name| self.level(name))
            .find(|level| level.range.len() >= n)
            .unwrap_or(&self.everywhere);
        self.select(key_hash(key), level, n, c)
    }

    fn level(&self, name: &str) -> Option<&Level> {
        let i = self
            .levels
            .binary_search_by(|level| level.name.as_str().cmp(name))
            .ok()?;
        self.levels.get(i)
    }

    fn select(&self, key: u64, level: &Level, n: usize, c: f64) -> Vec<usize> {
        let range = level.range.clone();
        let n = n.min(range.len());
        if n == 0 {
            return Vec::new();
        }
        let mut scan = Scan {
            set: self,
            key,
            bound: LoadBound::new(c, level),
            n,
            best: BinaryHeap::with_capacity(n + 1),
            cutoff: f32::INFINITY,
        };
        let (key_low, key_high) = (key as u32, (key >> 32) as u32);
        let seed_low = &self.seed_low[range.clone()];
        let seed_high = &self.seed_high[range.clone()];
        let weights = &self.weights[range.clone()];
        let hash = |position: usize| {
            lowbias32(halves_hash(
                key_low,
                key_high,
                self.seed_low[position],
                self.seed_high[position],
            ))
        };
        let mut position = range.start;
        let chunks = seed_low
            .chunks_exact(LANES)
            .zip(seed_high.chunks_exact(LANES))
            .zip(weights.chunks_exact(LANES));
        for ((low, high), weight) in chunks {
            // Branch-free over the lanes so that it vectorizes; a chunk with a possible winner (about
            // eight per decision among 10,000 terminals) is gone through again one terminal at a time.
            let mut any = false;
            for lane in 0..LANES {
                let h = lowbias32(halves_hash(key_low, key_high, low[lane], high[lane]));
                any |= may_rank(h, weight[lane], scan.cutoff);
            }
            if any {
                for p in position..position + LANES {
                    if may_rank(hash(p), self.weights[p], scan.cutoff) {
                        scan.consider(p);
                    }
                }
            }
            position += LANES;
        }
        for p in position..range.end {
            if may_rank(hash(p), self.weights[p], scan.cutoff) {
                scan.consider(p);
            }
        }
        let bound = scan.bound;
        let mut chosen: Vec<usize> = scan
            .best
            .into_sorted_vec()
            .iter()
            .map(|r| r.input)
            .collect();
        if chosen.len() < n {
            chosen.extend(self.least_loaded(key, range, &bound, n - chosen.len()));
        }
        chosen
    }

    /// The standing of the terminal at `position` for `key`.
    fn rank(&self, key: u64, position: usize) -> Ranked {
        let input = self.order[position];
        Ranked {
            time: self.arrival_at(key, position),
            id: self.candidates[input].id,
            input,
        }
    }

    fn arrival_at(&self, key: u64, position: usize) -> f64 {
        let seed = u64::from(self.seed_high[position]) << 32 | u64::from(self.seed_low[position]);
        arrival(rendezvous_hash(key, seed), self.slots[position].weight)
    }

    /// The `count` candidates of `range` the bound refused, least loaded relative to weight first, ties
    /// by rank.
    fn least_loaded(
        &self,
        key: u64,
        range: Range<usize>,
        bound: &LoadBound,
        count: usize,
    ) -> Vec<usize> {
        let mut over: Vec<(&Slot, Ranked)> = range
            .filter_map(|position| {
                let slot = &self.slots[position];
                if bound.admits(slot) {
                    return None;
                }
                Some((slot, self.rank(key, position)))
            })
            .collect();
        // load_a / weight_a < load_b / weight_b, exactly.
        over.sort_by(|(a, ra), (b, rb)| {
            (u128::from(a.load) * u128::from(b.weight))
                .cmp(&(u128::from(b.load) * u128::from(a.weight)))
                .then_with(|| ra.cmp(rb))
        });
        over.into_iter()
            .take(count)
            .map(|(_, ranked)| ranked.input)
            .collect()
    }
}

/// One decision in progress: the `n` best arrivals so far among the terminals the filter let through.
struct Scan<'a> {
    set: &'a CandidateSet,
    key: u64,
    bound: LoadBound,
    n: usize,
    /// A max-heap: its top is the one to beat.
    best: BinaryHeap<Ranked>,
    /// The top's arrival time in the filter's units; infinite until `best` holds `n`.
    cutoff: f32,
}

impl Scan<'_> {
    fn consider(&mut self, position: usize) {
        let set = self.set;
        if !self.bound.admits(&set.slots[position]) {
            return;
        }
        let time = set.arrival_at(self.key, position);
        let full = self.best.len() == self.n;
        if full && self.best.peek().is_some_and(|worst| time > worst.time) {
            // Settled without the id, which lies in a cold `Candidate`.
            return;
        }
        let input = set.order[position];
        let ranked = Ranked {
            time,
            id: set.candidates[input].id,
            input,
        };
        if self.best.len() < self.n {
            self.best.push(ranked);
        } else if self.best.peek().is_some_and(|worst| ranked < *worst) {
            self.best.pop();
            self.best.push(ranked);
        } else {
            return;
        }
        if self.best.len() == self.n {
            if let Some(worst) = self.best.peek() {
                // Rounding to f32 moves it by 2⁻²⁴ at most, inside the margin; a time too large for an f32
                // becomes infinity, which filters nothing.
                self.cutoff = (worst.time * FILTER_SCALE) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The filter's promise, at its edge: a terminal arriving exactly at the cutoff passes.
        #[test]
        fn the_filter_keeps_every_terminal_at_or_before_the_cutoff(
            h in prop_oneof![any::<u32>(), (u32::MAX - (1 << 16))..=u32::MAX],
            weight in prop_oneof![1..16u32, any::<u32>().prop_map(|w| w.max(1))],
        ) {
            let time = arrival(h, weight);
            let cutoff = (time * FILTER_SCALE) as f32;
            prop_assert!(may_rank(h, weight as f32, cutoff));
        }
    }
}
