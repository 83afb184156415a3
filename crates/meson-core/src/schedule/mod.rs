//! Which terminals serve an object for a client: coverage zones, region fallback, and weighted
//! rendezvous hashing with bounded loads.
//!
//! The router calls this for every redirect and every push; the simulator calls the same code, so both
//! must reach the same answer from the same inputs, bit for bit. Everything here is a pure function of its
//! arguments: no clock, no randomness, no `std` hasher in any decision.
//!
//! # The decision
//!
//! 1. **Where is the client?** [`CoverageZones::region_of`] maps the client address to a [`Region`] by
//!    longest-prefix match over an operator's CIDR file (format: [`CoverageZones`]).
//! 2. **Which terminals are candidates?** [`CandidateSet::pick`] starts at the client's region and widens
//!    outwards, one level at a time: the client's region, its parent, the parent's parent, then every
//!    terminal. It stops at the first level holding **at least `n` candidates** of positive weight (a
//!    region contains the regions below it, so `eu/west` includes `eu/west/paris`). A client of unknown
//!    region, or a region with fewer than `n` candidates all the way up, gets every terminal. The caller
//!    passes only healthy, admitted terminals; the rule counts how many exist, not how loaded they are,
//!    so a busy region keeps its traffic (the load bound spreads it there) rather than sending clients
//!    far away.
//! 3. **Which of them?** [`CandidateSet::choose`] ranks the level's candidates by weighted rendezvous
//!    hashing of the key (the site and cache key, see [`schedule_key`]) and returns the `n` best that are
//!    within the load bound. The same object therefore goes to the same few terminals wherever the
//!    decision is made, and adding or removing one of `N` terminals moves only about `1/N` of the keys.
//!
//! # Weighted rendezvous ranking
//!
//! Each terminal draws, per key, a point `u` uniform in (0, 1); its *arrival time* is `-ln(u) / weight`
//! and earlier is better (the "logarithmic method" of weighted rendezvous hashing, Schindelhauer and
//! Schomaker 2005, equivalent to scoring `weight / -ln(u)`). Arrival times are independent exponential
//! clocks with rate `weight`, so a terminal ranks first for a share of keys equal to its share of the
//! total weight, and removing a terminal only promotes the runner-up for the keys it held. Ties go to the
//! smaller [`TerminalId`], so the result never depends on the order of the candidate slice.
//!
//! # Hash construction (frozen: every router replica and the simulator must agree)
//!
//! - key hash `k` = the first 8 bytes, little-endian, of `BLAKE3::derive_key("meson-cdn 2025 schedule
//!   key v1", key)`;
//! - terminal seed `s` = the first 8 bytes, little-endian, of `BLAKE3::derive_key("meson-cdn 2025
//!   schedule terminal v1", id)`, computed once per terminal by [`CandidateSet::new`];
//! - per (key, terminal), with `lo`/`hi` the low and high 32 bits and wrapping `u32` arithmetic,
//!   `h = lowbias32((lo(k) ^ lo(s)) + (hi(k) ^ hi(s)))`, where `lowbias32` is Chris Wellons' integer hash
//!   (`x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16`);
//! - `u = (2h + 1) / 2³³`: exact in an `f64`, never 0 or 1, and so is `1 - u`;
//! - `-ln(u)` comes from our own range reduction and `atanh` series using IEEE-754 `+ − × ÷` alone,
//!   which Rust performs correctly rounded and never fuses, rather than from the platform's `ln`, whose
//!   last bit may differ between libms; the division by the weight is IEEE too.
//!
//! A 32-bit `h` is what lets the scan below run four or eight terminals per SIMD instruction on any
//! x86-64 or ARM CPU (64-bit multiplications do not vectorize before AVX-512). It costs nothing
//! measurable: two terminals tie for a key with probability 2⁻³², and the exponential clocks are
//! discretised at 2⁻³³, far below the noise of any traffic. The halves are added rather than XOR-ed so
//! that the whole 64-bit seed matters: with XOR, two terminals agreeing on `lo(s) ^ hi(s)` would tie on
//! every key. `schedule::tests::test_vectors` pins all of this: if it fails, scheduling changed for every
//! deployed object, which must be a deliberate, versioned decision.
//!
//! # Speed
//!
//! A decision scans every candidate of its level: 10,000 terminals leave about 2 ns each for a p99 under
//! 20 µs, too little for a logarithm. Since `-ln(u) ≥ 1 - u`, a terminal whose `(1 - u) / weight`
//! already exceeds the `n`-th best arrival time so far cannot make the list. The scan tests that, in
//! `f32` with a safety margin, for 16 terminals at a time in a branch-free loop the compiler vectorizes;
//! only the few chunks holding a possible winner (about eight per decision among 10,000) are looked at
//! one by one, with the exact arrival time, the load bound and the tie-break. Seed halves and weights sit
//! in dense arrays sorted by region, so every level of [`CandidateSet::pick`] is one contiguous slice.
//! `bench/scheduling` measures it.
//!
//! # Bounded loads (Mirrokni, Thorup, Zadimoghaddam, SODA 2018)
//!
//! With `L` the summed load of the level's candidates and `W` their summed weight, a terminal of weight
//! `w` and load `l` is skipped when `l ≥ ⌈c · (L + 1) · w / W⌉`: placing the new request (the `+ 1`)
//! would take it above `c` times its fair share of the mean. With equal weights this is the paper's
//! capacity `⌈c · m / n⌉`; weights make a terminal's share proportional to its capacity. Because the
//! capacities add up to at least `L + 1`, some terminal always has room when `c ≥ 1`; a `c` below 1 (or
//! NaN) is treated as 1, and `f64::INFINITY` disables the bound. If fewer than `n` terminals have room,
//! the list is completed with the others, least loaded relative to weight first. Loads are whatever unit
//! the caller keeps consistently (active requests or connections suit the `+ 1` best); the router updates
//! them with [`CandidateSet::set_load`] and [`CandidateSet::add_load`].

mod region;
mod rendezvous;
mod zones;

#[cfg(test)]
mod tests;

pub use region::{Region, RegionError};
pub use rendezvous::CandidateSet;
pub use zones::{CoverageZones, ZoneError};

/// A terminal's identity for scheduling: its ed25519 public key. The rendezvous seed is derived from these
/// bytes, so a terminal keeps its share of keys across restarts, address changes and router replicas.
pub type TerminalId = [u8; 32];

/// A terminal the scheduler may choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: TerminalId,
    pub region: Region,
    /// Share of traffic relative to the other candidates, e.g. capacity in GiB or egress in Mbit/s.
    /// A weight of 0 is never chosen (a draining terminal).
    pub weight: u32,
    /// Current active load, in the caller's unit (see the module documentation).
    pub load: u64,
}

/// A misuse of [`CandidateSet`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("no candidate at index {index}: the set has {len}")]
    NoSuchCandidate { index: usize, len: usize },
}

/// The key scheduling hashes for an object: the site's name and the object's cache key, the site
/// length-prefixed (8 bytes, little-endian) so that no two (site, cache key) pairs share bytes.
pub fn schedule_key(site: &str, cache_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + site.len() + cache_key.len());
    key.extend_from_slice(&(site.len() as u64).to_le_bytes());
    key.extend_from_slice(site.as_bytes());
    key.extend_from_slice(cache_key);
    key
}

/// Up to `n` indices into `candidates`, best first, by weighted rendezvous hashing of `key` with load
/// bound `c` over all of them. See the [module documentation](self).
///
/// This derives every terminal's seed (a BLAKE3 call each) on every call; for repeated decisions over the
/// same terminals build a [`CandidateSet`] once.
pub fn choose(key: &[u8], candidates: &[Candidate], n: usize, c: f64) -> Vec<usize> {
    CandidateSet::new(candidates.to_vec()).choose(key, n, c)
}

/// [`choose`] among the candidates near `client_region`, widening outwards as
/// [`CandidateSet::pick`] describes.
pub fn pick(
    client_region: Option<&Region>,
    key: &[u8],
    candidates: &[Candidate],
    n: usize,
    c: f64,
) -> Vec<usize> {
    CandidateSet::new(candidates.to_vec()).pick(client_region, key, n, c)
}
