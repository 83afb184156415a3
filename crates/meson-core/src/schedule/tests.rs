//! Rendezvous ranking, bounded loads and region fallback, checked against a plain reference and for the
//! properties the router relies on: stability, weight shares, the load bound.

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::rendezvous::{arrival, key_hash, lowbias32, neg_ln, rendezvous_hash, terminal_seed};
use super::*;

fn id(i: u64) -> TerminalId {
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&i.to_le_bytes());
    id
}

fn region(name: &str) -> Region {
    Region::new(name).unwrap()
}

fn terminal(i: u64, region_name: &str, weight: u32, load: u64) -> Candidate {
    Candidate {
        id: id(i),
        region: region(region_name),
        weight,
        load,
    }
}

/// `count` idle terminals of weight 1 in one region, ids `first..first + count`.
fn uniform(first: u64, count: u64) -> Vec<Candidate> {
    (first..first + count)
        .map(|i| terminal(i, "eu", 1, 0))
        .collect()
}

fn keys(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|k| schedule_key("example.com", format!("/object/{k}").as_bytes()))
        .collect()
}

/// The terminal ids `set` picks for `key`.
fn ids_for(set: &CandidateSet, key: &[u8], n: usize, c: f64) -> Vec<TerminalId> {
    set.choose(key, n, c)
        .into_iter()
        .map(|i| set.candidates()[i].id)
        .collect()
}

/// The rule of the module documentation, written plainly: every candidate of the level ranked, no
/// shortcut, no precomputed totals.
fn reference(
    client_region: Option<&Region>,
    key: &[u8],
    candidates: &[Candidate],
    n: usize,
    c: f64,
) -> Vec<usize> {
    let positive: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].weight > 0)
        .collect();
    let mut levels: Vec<Option<Region>> = Vec::new();
    let mut r = client_region.cloned();
    while let Some(level) = r {
        r = level.parent();
        levels.push(Some(level));
    }
    levels.push(None);
    let pool = levels
        .iter()
        .map(|level| {
            positive
                .iter()
                .copied()
                .filter(|&i| {
                    level
                        .as_ref()
                        .is_none_or(|l| l.contains(&candidates[i].region))
                })
                .collect::<Vec<usize>>()
        })
        .find(|pool| pool.len() >= n || pool.len() == positive.len())
        .unwrap_or_default();
    let total_load: u128 = pool.iter().map(|&i| u128::from(candidates[i].load)).sum();
    let total_weight: u64 = pool.iter().map(|&i| u64::from(candidates[i].weight)).sum();
    let c = if c >= 1.0 { c } else { 1.0 };
    let room = |i: usize| {
        let cap = (c * (total_load as f64 + 1.0) / total_weight as f64
            * f64::from(candidates[i].weight))
        .ceil();
        (candidates[i].load as f64) < cap
    };
    let k = key_hash(key);
    let time = |i: usize| {
        let h = rendezvous_hash(k, terminal_seed(&candidates[i].id));
        arrival(h, candidates[i].weight)
    };
    let by_rank = |a: &usize, b: &usize| {
        time(*a)
            .total_cmp(&time(*b))
            .then(candidates[*a].id.cmp(&candidates[*b].id))
            .then(a.cmp(b))
    };
    let (mut fit, mut over): (Vec<usize>, Vec<usize>) = pool.into_iter().partition(|&i| room(i));
    fit.sort_by(by_rank);
    over.sort_by(|a, b| {
        let (x, y) = (&candidates[*a], &candidates[*b]);
        (u128::from(x.load) * u128::from(y.weight))
            .cmp(&(u128::from(y.load) * u128::from(x.weight)))
            .then_with(|| by_rank(a, b))
    });
    fit.into_iter().chain(over).take(n).collect()
}

#[test]
fn test_vectors() {
    // Changing any of these changes where every object of every site is cached: see the module
    // documentation before updating them.
    assert_eq!(lowbias32(0), 0);
    assert_eq!(lowbias32(1), 0x6889_90c0);
    assert_eq!(lowbias32(0xdead_beef), 0xe628_c683);
    // Both halves XOR to all ones, which sum to 0xffff_fffe.
    assert_eq!(
        rendezvous_hash(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210),
        0x97a1_065a
    );
    assert_eq!(key_hash(b""), 0x81f0_8b33_ecdc_0672);
    assert_eq!(terminal_seed(&id(0)), 0x5c7e_5c68_6251_959c);
    assert_eq!(neg_ln(0.5), std::f64::consts::LN_2);
    assert_eq!(neg_ln(0.9).to_bits(), 0x3fba_f8e8_210a_415b);
    let candidates = vec![
        terminal(1, "eu/west", 1, 0),
        terminal(2, "eu/west", 2, 0),
        terminal(3, "eu/east", 1, 0),
        terminal(4, "na/us-east", 3, 0),
        terminal(5, "na/us-west", 1, 0),
        terminal(6, "eu/west", 1, 0),
    ];
    let eu_west = region("eu/west");
    // (site, cache key, key hash, choose 3 everywhere, pick 2 for eu/west)
    let expected = [
        ("example.com", "/", 0xb74b_9e65_9876_1d53, [1, 4, 5], [1, 5]),
        (
            "example.com",
            "/video/1.mp4",
            0x5f7d_8302_1a25_992c,
            [1, 0, 5],
            [1, 0],
        ),
        (
            "example.com",
            "/index.html",
            0xf2e5_a5d9_8ee4_7f48,
            [2, 5, 0],
            [5, 0],
        ),
        (
            "cdn.example.org",
            "/a.js?v=2",
            0x84f2_cb8d_4bad_01b9,
            [1, 3, 2],
            [1, 0],
        ),
        ("", "", 0xd9d3_a999_97c2_68eb, [1, 5, 3], [1, 5]),
    ];
    for (site, path, hash, everywhere, near) in expected {
        let key = schedule_key(site, path.as_bytes());
        assert_eq!(key_hash(&key), hash, "{site}{path}");
        assert_eq!(
            choose(&key, &candidates, 3, f64::INFINITY),
            everywhere,
            "{site}{path}"
        );
        assert_eq!(
            pick(Some(&eu_west), &key, &candidates, 2, f64::INFINITY),
            near,
            "{site}{path}"
        );
    }
}

#[test]
fn schedule_key_separates_site_from_path() {
    assert_ne!(schedule_key("ab", b"c"), schedule_key("a", b"bc"));
    assert_ne!(schedule_key("", b"x"), schedule_key("x", b""));
}

/// The share of keys whose first choice moves when `after` replaces `before`; panics if a key moves
/// between two terminals that are in both sets.
fn moved_share(
    before: &[Candidate],
    after: &[Candidate],
    changed: TerminalId,
    n: usize,
    keys: &[Vec<u8>],
) -> f64 {
    let (before, after) = (
        CandidateSet::new(before.to_vec()),
        CandidateSet::new(after.to_vec()),
    );
    let mut moved = 0;
    for key in keys {
        let old = ids_for(&before, key, n, f64::INFINITY);
        let new = ids_for(&after, key, n, f64::INFINITY);
        if old == new {
            continue;
        }
        moved += 1;
        assert!(
            old.contains(&changed) || new.contains(&changed),
            "a key moved without involving the changed terminal"
        );
        // The other terminals keep their relative order: only the changed one enters or leaves.
        let without = |list: &[TerminalId]| -> Vec<TerminalId> {
            list.iter().copied().filter(|t| *t != changed).collect()
        };
        let (old, new) = (without(&old), without(&new));
        let common = old.len().min(new.len());
        assert_eq!(old[..common], new[..common]);
    }
    moved as f64 / keys.len() as f64
}

#[test]
fn adding_or_removing_one_of_n_moves_about_one_nth() {
    const N: u64 = 50;
    let keys = keys(20_000);
    let all = uniform(0, N);
    let removed = 17;
    let fewer: Vec<Candidate> = all
        .iter()
        .filter(|c| c.id != id(removed))
        .cloned()
        .collect();
    let more: Vec<Candidate> = uniform(0, N + 1);
    let expected = 1.0 / N as f64;
    for n in [1, 3] {
        let removing = moved_share(&all, &fewer, id(removed), n, &keys);
        let adding = moved_share(&all, &more, id(N), n, &keys);
        eprintln!("n = {n}: removing 1 of {N} moved {removing:.4}, adding 1 moved {adding:.4} (1/N = {expected:.4})");
        // With n = 3 a key moves when the changed terminal is in its list: about n/N.
        let (low, high) = (0.5 * expected * n as f64, 2.0 * expected * n as f64);
        assert!(
            (low..=high).contains(&removing),
            "removing moved {removing}"
        );
        assert!((low..=high).contains(&adding), "adding moved {adding}");
    }
}

#[test]
fn first_choices_follow_weights() {
    // Five terminals of each weight 1..=4.
    let candidates: Vec<Candidate> = (0..20)
        .map(|i| terminal(i, "eu", (i % 4 + 1) as u32, 0))
        .collect();
    let set = CandidateSet::new(candidates.clone());
    let keys = keys(40_000);
    let mut per_weight = [0usize; 5];
    for key in &keys {
        let first = set.choose(key, 1, f64::INFINITY)[0];
        per_weight[candidates[first].weight as usize] += 1;
    }
    let total_weight = 5.0 * (1 + 2 + 3 + 4) as f64;
    for (weight, &count) in per_weight.iter().enumerate().skip(1) {
        let expected = keys.len() as f64 * 5.0 * weight as f64 / total_weight;
        let ratio = count as f64 / expected;
        eprintln!("weight {weight}: {count} keys, {ratio:.3} of its weight share");
        assert!((0.95..=1.05).contains(&ratio), "weight {weight}: {ratio}");
    }
    let two_to_one = per_weight[2] as f64 / per_weight[1] as f64;
    eprintln!("weight 2 / weight 1 = {two_to_one:.3}");
    assert!((1.85..=2.15).contains(&two_to_one), "{two_to_one}");
}

#[test]
fn equal_weights_share_evenly() {
    const N: usize = 50;
    let set = CandidateSet::new(uniform(0, N as u64));
    let mut counts = [0u32; N];
    for key in keys(50_000) {
        counts[set.choose(&key, 1, f64::INFINITY)[0]] += 1;
    }
    // 1,000 keys each, with a standard deviation of about 31.
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    eprintln!("50 equal terminals, 50,000 keys: from {min} to {max} each");
    assert!(*min >= 850 && *max <= 1150, "{counts:?}");
}

/// Assigns `requests`, most of them for a few hot keys, one by one with load bound `c`, and answers
/// whether after every assignment each load stayed within ⌈1.25 × its share of the total⌉ + 1.
fn simulate(candidates: Vec<Candidate>, c: f64, requests: usize) -> (CandidateSet, bool) {
    let mut set = CandidateSet::new(candidates);
    let total_weight: u64 = set.candidates().iter().map(|t| u64::from(t.weight)).sum();
    let keys = keys(10_000);
    let mut rng = StdRng::seed_from_u64(3);
    let mut within = true;
    for assigned in 1..=requests as u64 {
        // 30% for one key, 30% for ten, the rest spread over 10,000.
        let key = match rng.random_range(0..10) {
            0..3 => &keys[0],
            3..6 => &keys[rng.random_range(1..11)],
            _ => &keys[rng.random_range(0..keys.len())],
        };
        let chosen = set.choose(key, 1, c);
        set.add_load(chosen[0], 1).unwrap();
        within &= set.candidates().iter().all(|t| {
            let share = assigned as f64 * f64::from(t.weight) / total_weight as f64;
            t.load as f64 <= (1.25 * share).ceil() + 1.0
        });
    }
    (set, within)
}

#[test]
fn loads_stay_within_the_bound() {
    let equal = uniform(0, 50);
    let (set, within) = simulate(equal.clone(), 1.25, 10_000);
    let max = set.candidates().iter().map(|t| t.load).max().unwrap();
    eprintln!("c = 1.25, 10,000 requests on 50 terminals: max load {max} (mean 200)");
    assert!(within);
    assert!(max <= 251, "{max}");
    // The hot keys do break an unbounded ranking, so the check above can fail.
    let (set, within) = simulate(equal, f64::INFINITY, 10_000);
    let max = set.candidates().iter().map(|t| t.load).max().unwrap();
    eprintln!("unbounded: max load {max}");
    assert!(!within);
    // Weighted terminals are held to their share.
    let weighted: Vec<Candidate> = (0..50)
        .map(|i| terminal(i, "eu", (i % 3 + 1) as u32, 0))
        .collect();
    assert!(simulate(weighted, 1.25, 10_000).1);
}

#[test]
fn a_hot_object_spreads_once_its_first_terminal_is_full() {
    let mut set = CandidateSet::new(uniform(0, 50));
    let key = schedule_key("example.com", b"/hot.mp4");
    let first = set.choose(&key, 1, 1.25)[0];
    let mut served: HashMap<usize, u64> = HashMap::new();
    for _ in 0..1_000 {
        let chosen = set.choose(&key, 1, 1.25)[0];
        *served.entry(chosen).or_default() += 1;
        set.add_load(chosen, 1).unwrap();
    }
    eprintln!(
        "one key, 1,000 requests: {} terminals served it, the first {}",
        served.len(),
        served[&first]
    );
    // The first terminal serves up to its bound, ⌈1.25 × 1000 / 50⌉ = 25, the rest spills.
    assert!((20..=25).contains(&served[&first]), "{}", served[&first]);
    assert!(served.len() >= 10, "{}", served.len());
    // Without the bound it would never leave the first terminal.
    let unbounded = CandidateSet::new(set.candidates().to_vec());
    assert_eq!(unbounded.choose(&key, 1, f64::INFINITY), [first]);
}

#[test]
fn fewer_than_n_with_room_completes_with_the_least_loaded() {
    // Mean load with the new request: 1001 / 4 ≈ 250; bound ⌈1.25 × 250.25⌉ = 313.
    let candidates = vec![
        terminal(0, "eu", 1, 500),
        terminal(1, "eu", 1, 400),
        terminal(2, "eu", 1, 100),
        terminal(3, "eu", 1, 0),
    ];
    let key = b"k";
    let chosen = choose(key, &candidates, 4, 1.25);
    let mut room: Vec<usize> = chosen[..2].to_vec();
    room.sort();
    assert_eq!(room, [2, 3]);
    assert_eq!(chosen[2..], [1, 0]);
    // Loads relative to weight: 600 on weight 3 is less than 400 on weight 1.
    let candidates = vec![
        terminal(0, "eu", 3, 600),
        terminal(1, "eu", 1, 400),
        terminal(2, "eu", 1, 0),
    ];
    assert_eq!(choose(key, &candidates, 3, 1.0)[1..], [0, 1]);
}

#[test]
fn c_below_one_or_nan_acts_as_one() {
    let candidates: Vec<Candidate> = (0..10).map(|i| terminal(i, "eu", 1, i * 10)).collect();
    for key in keys(200) {
        let one = choose(&key, &candidates, 3, 1.0);
        assert_eq!(choose(&key, &candidates, 3, 0.5), one);
        assert_eq!(choose(&key, &candidates, 3, f64::NAN), one);
        assert_eq!(choose(&key, &candidates, 3, -1.0), one);
    }
}

#[test]
fn zero_weight_is_never_chosen_and_n_is_capped() {
    let mut candidates = uniform(0, 5);
    candidates[2].weight = 0;
    for key in keys(100) {
        let chosen = choose(&key, &candidates, 10, 1.25);
        assert_eq!(chosen.len(), 4);
        assert!(!chosen.contains(&2));
        assert!(choose(&key, &candidates, 0, 1.25).is_empty());
    }
    assert!(choose(b"k", &[], 3, 1.25).is_empty());
    let idle = vec![terminal(0, "eu", 0, 0)];
    assert!(choose(b"k", &idle, 1, 1.25).is_empty());
    assert!(pick(Some(&region("eu")), b"k", &idle, 1, 1.25).is_empty());
}

#[test]
fn loads_update_the_bound() {
    let mut set = CandidateSet::new(uniform(0, 4));
    let key = b"object";
    let first = set.choose(key, 1, 1.25)[0];
    set.set_load(first, 10).unwrap();
    // 10 of 11 with the new request: the first is far above 1.25 × 11 / 4.
    assert_ne!(set.choose(key, 1, 1.25)[0], first);
    set.set_load(first, 0).unwrap();
    assert_eq!(set.choose(key, 1, 1.25)[0], first);
    set.add_load(first, 3).unwrap();
    set.add_load(first, u64::MAX).unwrap();
    assert_eq!(set.candidates()[first].load, u64::MAX);
    assert_eq!(
        set.set_load(4, 1),
        Err(ScheduleError::NoSuchCandidate { index: 4, len: 4 })
    );
    assert!(set.add_load(9, 1).is_err());
}

fn regional() -> Vec<Candidate> {
    vec![
        terminal(0, "eu/west/paris", 1, 0),
        terminal(1, "eu/west", 1, 0),
        terminal(2, "eu/west-2", 1, 0),
        terminal(3, "eu/east", 1, 0),
        terminal(4, "na/us-east", 1, 0),
        terminal(5, "na/us-east", 1, 0),
        terminal(6, "ap", 1, 0),
    ]
}

/// The candidates `pick` draws from for `client` when asking for `n`: everything a large `n` can return.
fn pool(client: Option<&str>, n: usize) -> BTreeSet<u64> {
    let candidates = regional();
    let client = client.map(region);
    let mut seen = BTreeSet::new();
    for key in keys(300) {
        let chosen = pick(client.as_ref(), &key, &candidates, n, f64::INFINITY);
        assert_eq!(chosen.len(), n.min(candidates.len()));
        seen.extend(chosen.into_iter().map(|i| i as u64));
    }
    seen
}

#[test]
fn pick_widens_until_a_level_has_n_candidates() {
    let set = |ids: &[u64]| ids.iter().copied().collect::<BTreeSet<u64>>();
    assert_eq!(pool(Some("eu/west/paris"), 1), set(&[0]));
    assert_eq!(pool(Some("eu/west/paris"), 2), set(&[0, 1]));
    // eu/west-2 is not inside eu/west.
    assert_eq!(pool(Some("eu/west/paris"), 3), set(&[0, 1, 2, 3]));
    assert_eq!(pool(Some("eu/west"), 2), set(&[0, 1]));
    assert_eq!(pool(Some("eu"), 1), set(&[0, 1, 2, 3]));
    assert_eq!(pool(Some("eu"), 5), set(&[0, 1, 2, 3, 4, 5, 6]));
    assert_eq!(pool(Some("na/us-east"), 2), set(&[4, 5]));
    assert_eq!(pool(Some("na/us-east"), 3), set(&[0, 1, 2, 3, 4, 5, 6]));
    // A region without terminals falls back to its parent, an unknown client to everywhere.
    assert_eq!(pool(Some("na/us-west"), 2), set(&[4, 5]));
    assert_eq!(pool(Some("sa/br"), 1), set(&[0, 1, 2, 3, 4, 5, 6]));
    assert_eq!(pool(None, 1), set(&[0, 1, 2, 3, 4, 5, 6]));
    assert_eq!(pool(Some("ap/tokyo"), 1), set(&[6]));
    assert_eq!(pool(Some("ap"), 9).len(), 7);
}

#[test]
fn the_load_bound_is_per_level() {
    // Busy Paris, idle Asia: the Paris client stays in Paris, on whichever Paris terminal has room.
    let mut candidates = vec![terminal(0, "eu/west", 1, 100), terminal(1, "eu/west", 1, 0)];
    candidates.extend((2..10).map(|i| terminal(i, "ap", 1, 0)));
    let eu_west = region("eu/west");
    for key in keys(100) {
        assert_eq!(pick(Some(&eu_west), &key, &candidates, 1, 1.25), [1]);
    }
}

fn arbitrary_candidates() -> impl Strategy<Value = Vec<Candidate>> {
    let regions = [
        "eu",
        "eu/west",
        "eu/west/paris",
        "eu/east",
        "na/us-east",
        "ap",
    ];
    prop::collection::vec(
        (
            any::<[u8; 32]>(),
            0..regions.len(),
            prop_oneof![Just(0u32), 1..5u32, Just(u32::MAX)],
            prop_oneof![0..20u64, any::<u64>()],
        ),
        0..40,
    )
    .prop_map(move |rows| {
        rows.into_iter()
            .map(|(id, r, weight, load)| Candidate {
                id,
                region: region(regions[r]),
                weight,
                load,
            })
            .collect()
    })
}

fn arbitrary_client() -> impl Strategy<Value = Option<Region>> {
    prop::sample::select(vec![
        None,
        Some("eu"),
        Some("eu/west"),
        Some("eu/west/paris"),
        Some("eu/west/lyon"),
        Some("na/us-west"),
        Some("sa"),
    ])
    .prop_map(|name| name.map(region))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn matches_the_plain_reference(
        candidates in arbitrary_candidates(),
        client in arbitrary_client(),
        key in prop::collection::vec(any::<u8>(), 0..16),
        n in 0..12usize,
        c in prop_oneof![Just(1.0), 1.0..3.0, Just(f64::INFINITY), Just(0.5)],
    ) {
        prop_assert_eq!(
            pick(client.as_ref(), &key, &candidates, n, c),
            reference(client.as_ref(), &key, &candidates, n, c)
        );
    }

    #[test]
    fn independent_of_candidate_order(
        candidates in arbitrary_candidates(),
        client in arbitrary_client(),
        key in prop::collection::vec(any::<u8>(), 0..16),
        n in 1..6usize,
        shuffle_seed in any::<u64>(),
    ) {
        let mut shuffled = candidates.clone();
        shuffled.shuffle(&mut StdRng::seed_from_u64(shuffle_seed));
        let ids = |list: &[Candidate], chosen: Vec<usize>| -> Vec<TerminalId> {
            chosen.into_iter().map(|i| list[i].id).collect()
        };
        let once = ids(&candidates, pick(client.as_ref(), &key, &candidates, n, 1.25));
        prop_assert_eq!(&once, &ids(&candidates, pick(client.as_ref(), &key, &candidates, n, 1.25)));
        prop_assert_eq!(once, ids(&shuffled, pick(client.as_ref(), &key, &shuffled, n, 1.25)));
    }

    #[test]
    fn neg_ln_matches_the_platform_ln(h in any::<u32>(), x in 1u64..(1u64 << 52)) {
        // Every u a rendezvous hash maps to, and a finer grid down to 2⁻⁵³.
        for u in [(2 * u64::from(h) + 1) as f64 / (1u64 << 33) as f64, x as f64 / (1u64 << 52) as f64] {
            let ours = neg_ln(u);
            let platform = -u.ln();
            prop_assert!(ours > 0.0);
            prop_assert!(((ours - platform) / platform).abs() < 1e-15, "{} vs {}", ours, platform);
        }
    }
}
