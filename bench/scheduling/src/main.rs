//! Times scheduling decisions one by one and prints percentiles, which criterion does not report: the
//! issue's target is p99 < 20 µs for one decision among 10,000 terminals. Run in release:
//! `cargo run --release -p meson-bench-scheduling`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use meson_bench_scheduling::{keys, regions, terminals, zones, C, TERMINALS};

const DECISIONS: usize = 100_000;
const WARM_UP: usize = 10_000;

/// Runs `decide` for each of `DECISIONS` inputs after a warm-up and prints the percentiles of their
/// individual durations.
fn measure(name: &str, mut decide: impl FnMut(usize) -> usize) {
    for i in 0..WARM_UP {
        black_box(decide(i));
    }
    let mut nanos: Vec<u64> = (0..DECISIONS)
        .map(|i| {
            let start = Instant::now();
            black_box(decide(i));
            start.elapsed().as_nanos() as u64
        })
        .collect();
    nanos.sort_unstable();
    let at = |q: f64| Duration::from_nanos(nanos[((nanos.len() - 1) as f64 * q).round() as usize]);
    let mean = Duration::from_nanos(nanos.iter().sum::<u64>() / nanos.len() as u64);
    println!(
        "{name:<46} mean {:>9.2?}  p50 {:>9.2?}  p99 {:>9.2?}  p99.9 {:>9.2?}  max {:>9.2?}",
        mean,
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0)
    );
}

fn main() {
    let keys = keys(DECISIONS);
    let key = |i: usize| keys[i % keys.len()].as_slice();

    let one_region = regions(1);
    let start = Instant::now();
    let flat = terminals(TERMINALS, &one_region);
    println!(
        "building a CandidateSet of {TERMINALS} terminals: {:.2?} (once per membership change)",
        start.elapsed()
    );
    println!("{DECISIONS} decisions each, timed one by one, after {WARM_UP} unmeasured:");
    measure("10,000 terminals, 1 region, n = 1", |i| {
        flat.choose(key(i), 1, C).len()
    });
    measure("10,000 terminals, 1 region, n = 3", |i| {
        flat.choose(key(i), 3, C).len()
    });

    let twenty = regions(20);
    let spread = terminals(TERMINALS, &twenty);
    let (zones, clients) = zones(&twenty, DECISIONS);
    measure("10,000 terminals, 20 regions, zone lookup, n = 1", |i| {
        let region = zones.region_of(clients[i % clients.len()]);
        spread.pick(region, key(i), 1, C).len()
    });
    measure("10,000 terminals, 20 regions, unknown client", |i| {
        spread.pick(None, key(i), 1, C).len()
    });
}
