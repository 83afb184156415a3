//! The hunt simulator behind `meson-cdn hunt-sim`: how fast a hunter probing like a client finds a
//! terminal that corrupts some of its answers, how often the council upholds what it files, and how
//! often it files against honest terminals whose network is flaky.
//!
//! It runs the real rules, not models of them: a request goes where the router's weighted rendezvous
//! hashing sends it ([`crate::schedule::CandidateSet`]); what a record of probes shows is decided by
//! [`probe::Rule::faulty`] under [`probe::Rule::default`], the rule [`probe::judge`] applies for the
//! router at filing, for every council member and for `meson-cdn claim verify`; a review upholds a claim
//! with [`crate::council::two_thirds`] of the members, the count the ledger's claim life uses.
//! Everything is a pure function of the [`Config`] and the seed ([`rand::rngs::StdRng`]), so a seed
//! replays exactly.
//!
//! # One seed
//!
//! `terminals` terminals with random node ids, in rotation with equal weights: each cheating scenario
//! of `cheaters` has its own terminals, each group of `flaky` its own, the rest are honest. Any answer
//! times out with probability `timeout_rate` (a flaky terminal's: its group's rate); a cheater
//! otherwise corrupts each answer with probability `answers` to the client prefixes it targets (a
//! share `prefixes` of all, a fixed draw per prefix), and answers truly to the others.
//!
//! The hunter probes for `hours`, at exponential gaps averaging `3600 / probes_per_hour` seconds, each
//! probe from one of its `hunter_prefixes` client prefixes drawn at random:
//!
//! 1. **Target.** An object drawn from `objects` by Zipf popularity with exponent `target_zipf` (0:
//!    uniformly), fetched from the terminal the scheduler sends it to, as any client's request.
//! 2. **Record.** A corrupt answer (bytes that differ from the terminal's signed claim) makes its
//!    record faulty: the hunter files it at once. A timeout opens a record of that object on that
//!    terminal: the hunter's next `follow_ups` probes fetch the object again, then it files the record
//!    if the rule calls it faulty (at least 3 valid probes, more than half of them unreachable) and
//!    drops it if not. A good answer alone keeps no record.
//! 3. **Review.** Each of the council's `members` probes the accused `probes` times from its own client
//!    prefixes (`prefixes` each), under the same model, and votes to uphold when the rule calls its
//!    own record faulty; two thirds of the members uphold. An upheld claim disqualifies the accused:
//!    out of rotation for the rest of the run, its objects go to the others.
//!
//! What it does not model is listed in `bench/README.md`.

mod network;
mod report;

use serde::Serialize;

use crate::probe::Rule;
use crate::sim::{first_invalid, fits, is_share, pct_label, Popularity};

pub use crate::sim::ConfigError;
pub use report::{CheaterRow, GroupRow, Report, Timing};

/// A terminal that corrupts answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cheater {
    /// The share of its answers to a targeted client that it corrupts, each independently.
    pub answers: f64,
    /// The share of client prefixes it targets, a fixed draw per prefix: 1 is every client.
    pub prefixes: f64,
}

impl Cheater {
    pub fn label(&self) -> String {
        let to = match self.prefixes >= 1.0 {
            true => "all".into(),
            false => format!("{} of prefixes", pct_label(self.prefixes)),
        };
        format!("corrupt {} to {to}", pct_label(self.answers))
    }
}

/// How the council reviews a claim.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Council {
    pub members: usize,
    /// Probes of the accused per member.
    pub probes: u32,
    /// Client prefixes per member, its probes drawn among them.
    pub prefixes: usize,
}

/// Every knob of a simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Terminals in all; those in neither `cheaters` nor `flaky` are honest.
    pub terminals: usize,
    /// Cheating scenarios and how many terminals follow each.
    pub cheaters: Vec<(Cheater, usize)>,
    /// Honest terminals with flaky networks: the share of their answers that time out, and how many.
    pub flaky: Vec<(f64, usize)>,
    /// The share of every other terminal's answers that time out.
    pub timeout_rate: f64,
    /// Objects the hunter draws its targets from, by Zipf popularity with exponent `target_zipf`.
    pub objects: u64,
    pub target_zipf: f64,
    pub probes_per_hour: f64,
    pub hunter_prefixes: usize,
    /// Probes of the same object on the same terminal after a timeout, before the record is judged.
    pub follow_ups: u32,
    pub council: Council,
    pub hours: f64,
}

impl Default for Config {
    /// A thousand terminals timing out on 1 % of answers; a hunter probing every 10 s on average from 8
    /// prefixes, targets drawn uniformly, as many follow-ups as the rule needs probes; a council of 3
    /// probing 10 times each from one prefix; three days.
    fn default() -> Self {
        Config {
            terminals: 1000,
            cheaters: Vec::new(),
            flaky: Vec::new(),
            timeout_rate: 0.01,
            objects: 100_000,
            target_zipf: 0.0,
            probes_per_hour: 360.0,
            hunter_prefixes: 8,
            follow_ups: Rule::default().min_probes.saturating_sub(1),
            council: Council {
                members: 3,
                probes: 10,
                prefixes: 1,
            },
            hours: 72.0,
        }
    }
}

impl Config {
    fn validate(&self) -> Result<(), ConfigError> {
        let special = self.cheaters.iter().map(|(_, n)| n).sum::<usize>()
            + self.flaky.iter().map(|(_, n)| n).sum::<usize>();
        fits(special, self.terminals)?;
        let positive = |x: f64| x > 0.0 && x.is_finite();
        let shares_ok = is_share(self.timeout_rate)
            && self.flaky.iter().all(|(r, _)| is_share(*r))
            && self
                .cheaters
                .iter()
                .all(|(c, _)| is_share(c.answers) && is_share(c.prefixes));
        first_invalid(&[
            (self.terminals == 0, "there must be at least one terminal"),
            (
                self.objects == 0 || self.objects > u32::MAX as u64,
                "objects must be from 1 to 2^32 - 1",
            ),
            (
                !(self.target_zipf >= 0.0 && self.target_zipf.is_finite()),
                "the Zipf exponent must be 0 or more",
            ),
            (
                !positive(self.probes_per_hour) || !positive(self.hours),
                "the probe rate and the horizon must be positive",
            ),
            (
                self.hunter_prefixes == 0 || self.council.prefixes == 0,
                "the hunter and every member probe from at least one prefix",
            ),
            (
                self.council.members == 0 || self.council.probes == 0,
                "the council has at least one member, who probes at least once",
            ),
            (!shares_ok, "shares and rates are from 0 to 1"),
        ])
    }

    /// Every terminal's group, in the order of [`TerminalRun::group`]: the honest, the flaky groups,
    /// then the cheaters.
    pub fn groups(&self) -> Vec<Group> {
        std::iter::once(Group::Honest {
            timeout_rate: self.timeout_rate,
        })
        .chain(
            self.flaky
                .iter()
                .map(|&(timeout_rate, _)| Group::Flaky { timeout_rate }),
        )
        .chain(self.cheaters.iter().map(|&(c, _)| Group::Cheater(c)))
        .collect()
    }
}

/// What a group of terminals does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Group {
    Honest { timeout_rate: f64 },
    Flaky { timeout_rate: f64 },
    Cheater(Cheater),
}

impl Group {
    pub fn label(&self) -> String {
        match self {
            Group::Honest { timeout_rate } => {
                format!("honest ({} timeouts)", pct_label(*timeout_rate))
            }
            Group::Flaky { timeout_rate } => {
                format!("flaky ({} timeouts)", pct_label(*timeout_rate))
            }
            Group::Cheater(c) => c.label(),
        }
    }
}

/// A validated configuration and what every seed shares: the hunter's draw of targets.
pub struct Sim {
    config: Config,
    targets: Popularity,
}

impl Sim {
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let targets = Popularity::zipf(config.objects, config.target_zipf);
        Ok(Sim { config, targets })
    }

    /// One seed's run.
    pub fn run(&self, seed: u64) -> SeedRun {
        network::Network::new(self, seed).run()
    }

    /// The figures over `runs`.
    pub fn report(&self, runs: &[SeedRun]) -> Report {
        Report::new(&self.config, runs)
    }
}

/// What happened to one terminal in one seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TerminalRun {
    /// Index into [`Config::groups`].
    pub group: usize,
    /// The hunter's probes of it.
    pub probes: u64,
    /// Claims the hunter filed against it, those of them on timeouts alone, and those upheld (at most
    /// one: an upheld claim takes it out).
    pub claims: u32,
    pub unreachable_claims: u32,
    pub upheld: u32,
    /// Hours into the run of the first claim against it, and of the upheld one.
    pub first_claim: Option<f64>,
    pub first_upheld: Option<f64>,
}

/// One seed's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedRun {
    pub seed: u64,
    pub terminals: Vec<TerminalRun>,
    pub hunter_probes: u64,
    pub council_probes: u64,
    /// Hunter requests no terminal was in rotation for.
    pub unserved: u64,
}

#[cfg(test)]
mod tests;
