//! `meson-cdn cache-sim`: replays a `timestamp,key,size` trace through the eviction code the terminal runs.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use meson_core::cachesim::{Simulator, TraceParser};
use meson_core::eviction::{new_policy, PolicyKind};
use meson_core::size::ByteSize;

#[derive(Args)]
pub struct CacheSimArgs {
    /// CSV trace with a header line `timestamp,key,size` (the layout libCacheSim reads).
    #[arg(long)]
    trace: PathBuf,
    /// Cache size to simulate, e.g. `10GiB`.
    #[arg(long)]
    capacity: ByteSize,
    /// One policy (lru, s3fifo, wtinylfu); all of them when omitted.
    #[arg(long)]
    policy: Option<PolicyKind>,
}

pub fn run(args: CacheSimArgs) -> anyhow::Result<()> {
    let file = File::open(&args.trace)
        .with_context(|| format!("opening trace {}", args.trace.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut lines = BufReader::with_capacity(1 << 20, file).lines();
    let header = lines
        .next()
        .transpose()
        .with_context(|| format!("reading {}", args.trace.display()))?
        .unwrap_or_default();
    let parser = TraceParser::new(&header)?;
    let kinds: Vec<PolicyKind> = match args.policy {
        Some(k) => vec![k],
        None => PolicyKind::ALL.to_vec(),
    };
    let mut sims: Vec<(PolicyKind, Simulator)> = kinds
        .iter()
        .map(|k| (*k, Simulator::new(new_policy(*k, args.capacity.0))))
        .collect();
    let started = Instant::now();
    let mut read_bytes = header.len() as u64 + 1;
    let progress = std::io::stderr().is_terminal();
    let mut line_no = 1u64;
    for line in lines {
        let line = line.with_context(|| format!("reading {}", args.trace.display()))?;
        line_no += 1;
        read_bytes += line.len() as u64 + 1;
        if let Some(rec) = parser.parse_line(line_no, &line)? {
            for (_, sim) in &mut sims {
                sim.record(&rec);
            }
        }
        if line_no % 1_000_000 == 0 {
            let pct = if total > 0 {
                read_bytes as f64 * 100.0 / total as f64
            } else {
                0.0
            };
            let msg = format!(
                "{line_no} requests replayed ({pct:.1}%), {:.1}s",
                started.elapsed().as_secs_f64()
            );
            if progress {
                eprint!("\r{msg}");
            } else {
                eprintln!("{msg}");
            }
        }
    }
    if progress && line_no >= 1_000_000 {
        eprintln!();
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "trace {}  capacity {}",
        args.trace.display(),
        args.capacity
    )?;
    writeln!(
        out,
        "{:<10} {:>12} {:>12} {:>16} {:>16} {:>12}",
        "policy", "requests", "object_hit", "byte_hit", "bytes_requested", "evictions"
    )?;
    for (kind, sim) in &sims {
        let s = sim.stats();
        writeln!(
            out,
            "{:<10} {:>12} {:>12.4} {:>16.4} {:>16} {:>12}",
            kind.as_str(),
            s.requests,
            s.object_hit_ratio(),
            s.byte_hit_ratio(),
            s.bytes_requested,
            s.evictions
        )?;
    }
    Ok(())
}
