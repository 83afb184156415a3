//! What the simulators' commands (`audit-sim`, `hunt-sim`) share: seeds run in parallel with progress
//! on standard error, and the report printed as tables or JSON on standard output.

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

#[derive(Args)]
pub struct SeedArgs {
    /// Seeds to run (0, 1, …, N - 1 from --first-seed); each is a whole network, replayed exactly.
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Seeds run in parallel (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

impl SeedArgs {
    /// `run` of every seed, in seed order, over the threads asked for.
    pub fn run<R: Send>(&self, run: impl Fn(u64) -> R + Sync) -> Vec<R> {
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, self.seeds.max(1) as usize);
        let started = Instant::now();
        let next = AtomicU64::new(0);
        let runs: Mutex<Vec<(u64, R)>> = Mutex::new(Vec::new());
        let interactive = std::io::stderr().is_terminal();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= self.seeds {
                        return;
                    }
                    let seed = self.first_seed + i;
                    let out = run(seed);
                    let mut all = runs.lock().unwrap_or_else(|e| e.into_inner());
                    all.push((seed, out));
                    let msg = format!(
                        "{}/{} seeds, {:.1}s",
                        all.len(),
                        self.seeds,
                        started.elapsed().as_secs_f64()
                    );
                    if interactive {
                        eprint!("\r{msg}");
                    } else {
                        eprintln!("{msg}");
                    }
                });
            }
        });
        if interactive {
            eprintln!();
        }
        let mut runs = runs.into_inner().unwrap_or_else(|e| e.into_inner());
        runs.sort_by_key(|(seed, _)| *seed);
        runs.into_iter().map(|(_, r)| r).collect()
    }

    /// Prints `report` as tables, or as JSON with `--json`.
    pub fn print(&self, report: &(impl Serialize + Display)) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        if self.json {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)?;
        } else {
            write!(out, "{report}")?;
        }
        Ok(())
    }
}
