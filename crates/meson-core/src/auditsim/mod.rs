//! The audit simulator behind `meson-cdn audit-sim`: how fast spot-check audits, the usage size cap and
//! the vetting and suspension rule catch terminals that cheat, how often they wrongly catch honest ones,
//! and what the checking costs in traffic.
//!
//! It runs the router's own policy, not a model of it: the auditor's timing, target, piece and chunk
//! group ([`crate::audit::plan`]), its per-terminal samples ([`crate::audit::holdings`]), the proof check
//! ([`crate::audit::check_proof`], on real bodies with real BLAKE3 outboards and Bao proofs), the
//! classification of outcomes, standing and suspension ([`crate::audit::standing`] over
//! [`crate::audit::recent`]), and request placement by weighted rendezvous hashing
//! ([`crate::schedule::CandidateSet`]). Everything is a pure function of the [`Config`] and the seed
//! ([`rand::rngs::StdRng`]), so a seed replays exactly.
//!
//! # One seed
//!
//! `terminals` terminals with random node ids, each following a [`Strategy`], run for
//! `warmup_epochs + epochs` epochs; cheaters behave honestly during the warm-up (so they get vetted) and
//! cheat from then on. Each epoch:
//!
//! 1. **Requests.** `requests_per_terminal` whole-object requests per terminal draw objects by Zipf popularity and go to
//!    the terminal rendezvous hashing picks among those in rotation (weight 1 while vetting,
//!    `vetted_weight` once vetted, out while suspended; standings as of the epoch's start). The router
//!    adds the object to the terminal's routed sample; the terminal stores it and reports it held at its
//!    next heartbeat (end of the request phase); it reports one usage record per request. The router
//!    judges the record against the object's size if it knows it (over it: objective evidence of
//!    inflation), else holds it and asks the learner to fetch the object first.
//! 2. **Learner.** Within `origin_bytes_per_sec` over the epoch, the router fetches objects whose usage is
//!    held, then objects drawn by how often it redirected to them, each at most once per epoch (the
//!    router's hourly re-fetch with one-hour epochs). A learned size settles the held records.
//! 3. **Audits.** Exponential gaps averaging `audit_interval_secs` per terminal, a terminal drawn at
//!    random, a target from its samples, a piece whose root the router knows, a chunk group; the
//!    terminal answers (a proof built from what it stores, `not_held`, or nothing), the answer is judged
//!    and the terminal's standing recomputed, as the router does after each audit.
//!
//! What it does not model is listed in `bench/README.md`.

mod catalogue;
mod network;
mod report;

use serde::Serialize;

use crate::audit::QualityRules;
use crate::sim::{first_invalid, fits, is_share, pct_label};

pub use crate::sim::ConfigError;
pub use report::{Report, Row, Traffic};

/// How one terminal behaves once cheating starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Strategy {
    Honest,
    /// A share `fraction` of the chunk groups it stores are bad (each independently): an audit of one
    /// fails its Bao proof, and the signed answer is evidence.
    Corrupt {
        fraction: f64,
    },
    /// Deletes a share `fraction` of what it stores but keeps claiming it: an audit of a claimed piece
    /// finds it `missing`, of a routed one `not_held` (neutral).
    Drop {
        fraction: f64,
    },
    /// Claims `factor` times the bytes it served on a share `share` of its usage records.
    Inflate {
        share: f64,
        factor: f64,
    },
    /// Honest, but a share `timeout_rate` of its audits get no answer in time.
    Flaky {
        timeout_rate: f64,
    },
}

impl Strategy {
    pub fn label(&self) -> String {
        match self {
            Strategy::Honest => "honest".into(),
            Strategy::Corrupt { fraction } => format!("corrupt {}", pct_label(*fraction)),
            Strategy::Drop { fraction } => format!("drop {}", pct_label(*fraction)),
            Strategy::Inflate { share, factor } => {
                format!("inflate x{factor} on {}", pct_label(*share))
            }
            Strategy::Flaky { timeout_rate } => {
                format!("flaky {} timeouts", pct_label(*timeout_rate))
            }
        }
    }
}

/// Every knob of a simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Terminals in all; those not given a cheating strategy in `groups` are honest.
    pub terminals: usize,
    /// Cheating strategies and how many terminals follow each.
    pub groups: Vec<(Strategy, usize)>,
    /// Share of honest terminals' audits that time out anyway (a network hiccup).
    pub honest_timeout_rate: f64,
    /// Objects, ranked by Zipf popularity with exponent `zipf`.
    pub objects: u64,
    pub zipf: f64,
    /// Distinct bodies the objects map onto, sized `min_size..=max_size` on a log scale (at most 4 MiB:
    /// one piece each, no slices).
    pub bodies: usize,
    pub min_size: u64,
    pub max_size: u64,
    /// Simulated requests per epoch, times the terminals: they decide what terminals hold and report.
    pub requests_per_terminal: u64,
    /// Bytes per second each terminal serves in reality: the volume the auditor's traffic is compared
    /// with (the simulated requests are a sample of it).
    pub served_bytes_per_sec: u64,
    /// The learner's origin budget.
    pub origin_bytes_per_sec: u64,
    /// Mean seconds between two audits of one terminal.
    pub audit_interval_secs: f64,
    pub epoch_secs: u64,
    pub rules: QualityRules,
    /// Scheduling weight of a vetted terminal (a vetting one has 1): the router uses capacity in GiB.
    pub vetted_weight: u32,
    /// Honest epochs before cheaters start, then epochs measured.
    pub warmup_epochs: u64,
    pub epochs: u64,
}

impl Default for Config {
    /// The router's defaults: an audit every 15 minutes per terminal, 1 h epochs, 10 audits to be vetted,
    /// suspended below 90 % over at least 10 audits, a 2 MiB/s learner.
    fn default() -> Self {
        Config {
            terminals: 1000,
            groups: Vec::new(),
            honest_timeout_rate: 0.0,
            objects: 200_000,
            zipf: 0.8,
            bodies: 64,
            min_size: 1024,
            max_size: 4 << 20,
            requests_per_terminal: 50,
            served_bytes_per_sec: 1 << 20,
            origin_bytes_per_sec: 2 << 20,
            audit_interval_secs: 900.0,
            epoch_secs: 3600,
            rules: QualityRules {
                vetting_audits: 10,
                suspend_below: 0.9,
                min_audits: 10,
            },
            vetted_weight: 100,
            warmup_epochs: 4,
            epochs: 6,
        }
    }
}

impl Config {
    fn validate(&self) -> Result<(), ConfigError> {
        fits(self.groups.iter().map(|(_, n)| n).sum(), self.terminals)?;
        let shares_ok = is_share(self.honest_timeout_rate)
            && self.groups.iter().all(|(s, _)| match *s {
                Strategy::Honest => true,
                Strategy::Corrupt { fraction } | Strategy::Drop { fraction } => is_share(fraction),
                Strategy::Inflate { share: s, factor } => is_share(s) && factor > 1.0,
                Strategy::Flaky { timeout_rate } => is_share(timeout_rate),
            });
        first_invalid(&[
            (self.terminals == 0, "there must be at least one terminal"),
            (
                self.objects == 0 || self.objects > u32::MAX as u64,
                "objects must be from 1 to 2^32 - 1",
            ),
            (self.bodies == 0, "there must be at least one body"),
            (
                self.min_size == 0
                    || self.min_size > self.max_size
                    || self.max_size > crate::content::SLICE_SIZE,
                "sizes must satisfy 1 <= min <= max <= 4 MiB",
            ),
            (
                !(self.zipf >= 0.0 && self.zipf.is_finite()),
                "the Zipf exponent must be 0 or more",
            ),
            (
                !(self.audit_interval_secs > 0.0 && self.audit_interval_secs.is_finite())
                    || self.epoch_secs == 0,
                "the audit interval and the epoch must be positive",
            ),
            (
                !is_share(self.rules.suspend_below),
                "the suspension threshold is a pass rate from 0 to 1",
            ),
            (
                !shares_ok,
                "fractions, shares and rates are from 0 to 1, and the inflation factor above 1",
            ),
            (
                self.vetted_weight == 0,
                "the vetted weight must be positive",
            ),
            (self.epochs == 0, "at least one epoch must be measured"),
        ])
    }
}

/// A validated configuration and what every seed shares: the bodies and the popularity table.
pub struct Sim {
    config: Config,
    catalogue: catalogue::Catalogue,
    wire: network::WireSizes,
}

impl Sim {
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let catalogue = catalogue::Catalogue::new(
            config.bodies,
            config.min_size,
            config.max_size,
            config.objects,
            config.zipf,
        );
        Ok(Sim {
            config,
            catalogue,
            wire: network::WireSizes::measure(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// One seed's run.
    pub fn run(&self, seed: u64) -> SeedRun {
        network::Network::new(self, seed).run()
    }

    /// The figures over `runs`, in seed order.
    pub fn report(&self, runs: &[SeedRun]) -> Report {
        Report::new(&self.config, runs)
    }
}

/// What happened to one terminal in one seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TerminalRun {
    /// Index into the strategies: 0 honest, then `Config::groups` in order.
    pub group: usize,
    /// The first epoch (0-based, warm-up included) it was suspended in, and the first with objective
    /// evidence against it.
    pub suspended: Option<u64>,
    pub evidence: Option<u64>,
    /// Its audits by outcome, in [`crate::audit::Outcome::ALL`] order.
    pub outcomes: [u64; 5],
}

/// One seed's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedRun {
    pub seed: u64,
    pub terminals: Vec<TerminalRun>,
    /// Audit ticks that found nothing to challenge (no target, or no known root for it).
    pub skipped_audits: u64,
    pub challenge_bytes: u64,
    pub answer_bytes: u64,
    pub origin_bytes: u64,
    /// Bytes of the simulated requests.
    pub sampled_bytes: u64,
    /// Simulated requests no terminal was in rotation for.
    pub unserved: u64,
    /// Usage records held at the end, their size still unknown.
    pub held_records: u64,
}

#[cfg(test)]
mod tests;
