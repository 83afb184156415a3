//! `meson-cdn hunt-sim`: a hunter probing like a client over simulated networks with a cheating terminal
//! and flaky honest ones (`meson_core::huntsim`), for many seeds; prints, per cheating scenario, how fast
//! the hunter claims the cheater and how often the council upholds it, and the false claims against
//! honest terminals.

use anyhow::Context;
use clap::Args;
use meson_core::huntsim::{Cheater, Config, Council, Sim};

use crate::seeds::SeedArgs;

#[derive(Args)]
pub struct HuntSimArgs {
    #[command(flatten)]
    seeds: SeedArgs,
    /// Terminals in the network; those neither cheating nor flaky are honest.
    #[arg(long, default_value_t = Config::default().terminals)]
    terminals: usize,
    /// Shares of its answers a cheater corrupts, each independently (comma-separated; the flag alone
    /// for none): one scenario per share and per --prefixes.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "1,0.1,0.01")]
    corrupt: Vec<f64>,
    /// Shares of client prefixes a cheater corrupts answers to (1: every client).
    #[arg(long, value_delimiter = ',', num_args = 1.., default_value = "1,0.1")]
    prefixes: Vec<f64>,
    /// Cheating terminals per scenario, in the same network (each is probed independently).
    #[arg(long, default_value_t = 1)]
    cheaters_per_scenario: usize,
    /// Honest terminals with flaky networks, one group per share of their answers that time out.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "0.05,0.2")]
    flaky: Vec<f64>,
    /// Terminals per flaky group.
    #[arg(long, default_value_t = 50)]
    flaky_terminals: usize,
    /// Share of every other terminal's answers (the cheaters' too) that time out.
    #[arg(long, default_value_t = Config::default().timeout_rate)]
    timeout_rate: f64,
    /// Objects the hunter draws its targets from; the scheduler places each on a terminal.
    #[arg(long, default_value_t = Config::default().objects)]
    objects: u64,
    /// Zipf exponent of the hunter's draw of targets: 0 spreads them evenly, 0.8 follows clients.
    #[arg(long, default_value_t = Config::default().target_zipf)]
    target_zipf: f64,
    /// The hunter's probes per hour, at exponential gaps.
    #[arg(long, default_value_t = Config::default().probes_per_hour)]
    probes_per_hour: f64,
    /// Client prefixes the hunter probes from, one drawn per probe.
    #[arg(long, default_value_t = Config::default().hunter_prefixes)]
    hunter_prefixes: usize,
    /// Probes of the same object on the same terminal after a timeout, before the hunter judges the
    /// record (default: the rule's least probes, less the first).
    #[arg(long, default_value_t = Config::default().follow_ups)]
    follow_ups: u32,
    /// Council members reviewing each claim; two thirds uphold.
    #[arg(long, default_value_t = Config::default().council.members)]
    council_members: usize,
    /// Probes of the accused per member.
    #[arg(long, default_value_t = Config::default().council.probes)]
    council_probes: u32,
    /// Client prefixes per member.
    #[arg(long, default_value_t = Config::default().council.prefixes)]
    council_prefixes: usize,
    /// Hours simulated.
    #[arg(long, default_value_t = Config::default().hours)]
    hours: f64,
}

impl HuntSimArgs {
    fn config(&self) -> Config {
        let k = self.cheaters_per_scenario;
        let cheaters = self
            .corrupt
            .iter()
            .flat_map(|&answers| {
                self.prefixes
                    .iter()
                    .map(move |&prefixes| (Cheater { answers, prefixes }, k))
            })
            .collect();
        Config {
            terminals: self.terminals,
            cheaters,
            flaky: self
                .flaky
                .iter()
                .map(|&r| (r, self.flaky_terminals))
                .collect(),
            timeout_rate: self.timeout_rate,
            objects: self.objects,
            target_zipf: self.target_zipf,
            probes_per_hour: self.probes_per_hour,
            hunter_prefixes: self.hunter_prefixes,
            follow_ups: self.follow_ups,
            council: Council {
                members: self.council_members,
                probes: self.council_probes,
                prefixes: self.council_prefixes,
            },
            hours: self.hours,
        }
    }
}

pub fn run(args: HuntSimArgs) -> anyhow::Result<()> {
    let sim = Sim::new(args.config()).context("hunt-sim")?;
    let runs = args.seeds.run(|seed| sim.run(seed));
    args.seeds.print(&sim.report(&runs))
}
