//! `meson-cdn audit-sim`: runs the router's audit policy over simulated networks with cheating terminals
//! (`meson_core::auditsim`) for many seeds and prints, per strategy, how fast cheaters are suspended and
//! leave objective evidence, how often honest terminals are, and what the checking costs in traffic.

use anyhow::Context;
use clap::Args;
use meson_core::audit::QualityRules;
use meson_core::auditsim::{Config, Sim, Strategy};
use meson_core::size::ByteSize;

use crate::seeds::SeedArgs;

#[derive(Args)]
pub struct AuditSimArgs {
    #[command(flatten)]
    seeds: SeedArgs,
    /// Terminals in the network; those not cheating are honest.
    #[arg(long, default_value_t = 1000)]
    terminals: usize,
    /// Terminals following each cheating strategy below.
    #[arg(long, default_value_t = 10)]
    cheaters_per_strategy: usize,
    /// Corrupters, one group per share of their stored chunk groups that is bad (comma-separated; the
    /// flag alone for none, likewise below).
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "0.01,0.1,1")]
    corrupt: Vec<f64>,
    /// Droppers, one group per share of what they claim to hold that they deleted.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "0.1,1")]
    drop: Vec<f64>,
    /// Inflaters, one group per share of their usage records they inflate.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "0.01,0.1")]
    inflate: Vec<f64>,
    /// How many times the served bytes an inflated record claims.
    #[arg(long, default_value_t = 2.0)]
    inflate_factor: f64,
    /// Honest but flaky terminals, one group per share of their audits that time out.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "0.05,0.2")]
    flaky: Vec<f64>,
    /// Share of every other terminal's audits that time out (network hiccups).
    #[arg(long, default_value_t = 0.0)]
    honest_timeout_rate: f64,
    /// Objects, ranked by Zipf popularity.
    #[arg(long, default_value_t = 200_000)]
    objects: u64,
    #[arg(long, default_value_t = 0.8)]
    zipf: f64,
    /// Distinct bodies the objects map onto (real BLAKE3 roots and outboards), sized on a log scale.
    #[arg(long, default_value_t = 64)]
    bodies: usize,
    #[arg(long, default_value = "1KiB")]
    min_size: ByteSize,
    /// At most 4MiB (one piece per object).
    #[arg(long, default_value = "4MiB")]
    max_size: ByteSize,
    /// Simulated whole-object requests per epoch, per terminal (on average): what terminals hold and
    /// report.
    #[arg(long, default_value_t = 50)]
    requests_per_terminal: u64,
    /// Bytes per second each terminal serves in reality, the volume the auditor's traffic is compared to.
    #[arg(long, default_value = "1MiB")]
    served_per_terminal: ByteSize,
    /// The router's learner budget (`meson-cdn router --origin-bytes-per-sec`).
    #[arg(long, default_value = "2MiB")]
    origin_bytes_per_sec: ByteSize,
    /// Mean seconds between two audits of one terminal (`--audit-interval-secs`).
    #[arg(long, default_value_t = 900.0)]
    audit_interval_secs: f64,
    #[arg(long, default_value_t = 3600)]
    epoch_secs: u64,
    /// Audits passed to be vetted (`--vetting-audits`).
    #[arg(long, default_value_t = 10)]
    vetting_audits: u64,
    /// Pass rate below which a terminal is suspended (`--suspend-below`).
    #[arg(long, default_value_t = 0.9)]
    suspend_below: f64,
    /// Counted audits of the latest epochs needed to judge (default: --vetting-audits, as the
    /// router does).
    #[arg(long)]
    min_audits: Option<u64>,
    /// Scheduling weight of a vetted terminal; a vetting one has 1.
    #[arg(long, default_value_t = 100)]
    vetted_weight: u32,
    /// Honest epochs before cheaters start, and epochs of cheating measured.
    #[arg(long, default_value_t = 4)]
    warmup_epochs: u64,
    #[arg(long, default_value_t = 6)]
    epochs: u64,
}

impl AuditSimArgs {
    fn config(&self) -> Config {
        let k = self.cheaters_per_strategy;
        let groups = self
            .corrupt
            .iter()
            .map(|&fraction| Strategy::Corrupt { fraction })
            .chain(
                self.drop
                    .iter()
                    .map(|&fraction| Strategy::Drop { fraction }),
            )
            .chain(self.inflate.iter().map(|&share| Strategy::Inflate {
                share,
                factor: self.inflate_factor,
            }))
            .chain(
                self.flaky
                    .iter()
                    .map(|&timeout_rate| Strategy::Flaky { timeout_rate }),
            )
            .map(|s| (s, k))
            .collect();
        Config {
            terminals: self.terminals,
            groups,
            honest_timeout_rate: self.honest_timeout_rate,
            objects: self.objects,
            zipf: self.zipf,
            bodies: self.bodies,
            min_size: self.min_size.0,
            max_size: self.max_size.0,
            requests_per_terminal: self.requests_per_terminal,
            served_bytes_per_sec: self.served_per_terminal.0,
            origin_bytes_per_sec: self.origin_bytes_per_sec.0,
            audit_interval_secs: self.audit_interval_secs,
            epoch_secs: self.epoch_secs,
            rules: QualityRules {
                vetting_audits: self.vetting_audits,
                suspend_below: self.suspend_below,
                min_audits: self.min_audits.unwrap_or(self.vetting_audits.max(1)),
            },
            vetted_weight: self.vetted_weight,
            warmup_epochs: self.warmup_epochs,
            epochs: self.epochs,
        }
    }
}

pub fn run(args: AuditSimArgs) -> anyhow::Result<()> {
    let sim = Sim::new(args.config()).context("audit-sim")?;
    let runs = args.seeds.run(|seed| sim.run(seed));
    args.seeds.print(&sim.report(&runs))
}
