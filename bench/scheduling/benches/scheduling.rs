//! Criterion: one scheduling decision among 10,000 terminals. Percentiles come from `src/main.rs`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use meson_bench_scheduling::{keys, regions, terminals, zones, C, TERMINALS};

fn decision(c: &mut Criterion) {
    let keys = keys(100_000);
    let mut group = c.benchmark_group("decision among 10,000 terminals");

    let flat = terminals(TERMINALS, &regions(1));
    let mut i = 0;
    group.bench_function("one region", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(flat.choose(&keys[i], 1, C))
        })
    });

    let twenty = regions(20);
    let spread = terminals(TERMINALS, &twenty);
    let (zones, clients) = zones(&twenty, keys.len());
    group.bench_function("20 regions, with zone lookup", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            let region = zones.region_of(clients[i]);
            black_box(spread.pick(region, &keys[i], 1, C))
        })
    });
    group.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);
