//! The figures over many seeds: per cheating scenario, how long until the hunter claims the cheater and
//! until the council upholds a claim, and the share of its claims upheld; per group of honest
//! terminals, the false claims filed against them and the share upheld.

use std::fmt;

use serde::Serialize;

use super::{Cheater, Config, Group, SeedRun, TerminalRun};
use crate::probe::Rule;
use crate::sim::pct;

/// When something happened to the terminals of a group, in hours into the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// The share of them it happened to within the horizon.
    pub share: f64,
    /// The median and the 90th percentile over all of them, counting those it never happened to as
    /// later than any: None when that falls past the horizon.
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

impl Timing {
    fn new(hours: impl Iterator<Item = Option<f64>>) -> Self {
        let mut all: Vec<f64> = hours.map(|h| h.unwrap_or(f64::INFINITY)).collect();
        all.sort_by(f64::total_cmp);
        let n = all.len();
        // Nearest rank: the smallest value at or above a share q of them.
        let quantile = |q: f64| {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n.max(1));
            all.get(rank - 1).copied().filter(|h| h.is_finite())
        };
        Timing {
            share: all.iter().filter(|h| h.is_finite()).count() as f64 / n.max(1) as f64,
            median: quantile(0.5),
            p90: quantile(0.9),
        }
    }
}

/// One cheating scenario's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheaterRow {
    pub cheater: Cheater,
    pub label: String,
    /// Cheaters following it, over all seeds.
    pub terminals: u64,
    /// Until the hunter's first claim against it, and until the council upheld one.
    pub claimed: Timing,
    pub upheld: Timing,
    /// Claims filed per cheater, and the share of them the council upheld.
    pub claims_per_terminal: f64,
    pub upheld_share: f64,
    /// The hunter's probes per cheater over the run.
    pub probes_per_terminal: f64,
}

/// One group of honest terminals' figures: every claim against them is false.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub label: String,
    pub timeout_rate: f64,
    /// Terminals in it over all seeds, and the days they were in rotation.
    pub terminals: u64,
    pub terminal_days: f64,
    pub probes_per_terminal_day: f64,
    pub claims: u64,
    pub claims_per_terminal_day: f64,
    pub upheld: u64,
    /// The share of the claims against them the council upheld.
    pub upheld_share: f64,
}

/// Everything `meson-cdn hunt-sim` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub seeds: u64,
    pub config: Config,
    pub cheaters: Vec<CheaterRow>,
    pub honest: Vec<GroupRow>,
    /// Per seed, on average: the hunter's probes, the council's, and hunter requests no terminal was
    /// in rotation for.
    pub hunter_probes: f64,
    pub council_probes: f64,
    pub unserved: f64,
}

fn share(part: f64, whole: f64) -> f64 {
    match whole > 0.0 {
        true => part / whole,
        false => 0.0,
    }
}

impl Report {
    pub(super) fn new(config: &Config, runs: &[SeedRun]) -> Self {
        let members = |group: usize| -> Vec<&TerminalRun> {
            runs.iter()
                .flat_map(|r| &r.terminals)
                .filter(|t| t.group == group)
                .collect()
        };
        let sum = |ts: &[&TerminalRun], f: fn(&TerminalRun) -> u64| -> u64 {
            ts.iter().map(|t| f(t)).sum()
        };
        let mut cheaters = Vec::new();
        let mut honest = Vec::new();
        for (group, kind) in config.groups().into_iter().enumerate() {
            let ts = members(group);
            let n = ts.len() as f64;
            let claims = sum(&ts, |t| u64::from(t.claims));
            let upheld = sum(&ts, |t| u64::from(t.upheld));
            let probes = sum(&ts, |t| t.probes) as f64;
            match kind {
                Group::Cheater(cheater) => cheaters.push(CheaterRow {
                    cheater,
                    label: kind.label(),
                    terminals: ts.len() as u64,
                    claimed: Timing::new(ts.iter().map(|t| t.first_claim)),
                    upheld: Timing::new(ts.iter().map(|t| t.first_upheld)),
                    claims_per_terminal: share(claims as f64, n),
                    upheld_share: share(upheld as f64, claims as f64),
                    probes_per_terminal: share(probes, n),
                }),
                Group::Honest { timeout_rate } | Group::Flaky { timeout_rate } => {
                    let days: f64 = ts
                        .iter()
                        .map(|t| t.first_upheld.unwrap_or(config.hours) / 24.0)
                        .sum();
                    honest.push(GroupRow {
                        label: kind.label(),
                        timeout_rate,
                        terminals: ts.len() as u64,
                        terminal_days: days,
                        probes_per_terminal_day: share(probes, days),
                        claims,
                        claims_per_terminal_day: share(claims as f64, days),
                        upheld,
                        upheld_share: share(upheld as f64, claims as f64),
                    })
                }
            }
        }
        let seeds = runs.len().max(1) as f64;
        let mean = |f: fn(&SeedRun) -> u64| runs.iter().map(|r| f(r) as f64).sum::<f64>() / seeds;
        Report {
            seeds: runs.len() as u64,
            config: config.clone(),
            cheaters,
            honest,
            hunter_probes: mean(|r| r.hunter_probes),
            council_probes: mean(|r| r.council_probes),
            unserved: mean(|r| r.unserved),
        }
    }
}

/// Hours, or `-` past the horizon.
fn hours(h: Option<f64>) -> String {
    h.map_or_else(|| "-".into(), |h| format!("{h:.1}"))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let rule = Rule::default();
        writeln!(
            f,
            "hunt-sim: {} seeds x {} terminals over {} h, answers timing out {}; hunter: {} probes/h from {} client prefixes, targets among {} objects (Zipf {}), {} follow-ups of a timeout; council: {} members x {} probes from {} prefix(es) each, {} to uphold; a record is faulty with a corrupt probe, or >= {} valid probes and more than {} unreachable",
            self.seeds,
            c.terminals,
            c.hours,
            pct(c.timeout_rate),
            c.probes_per_hour,
            c.hunter_prefixes,
            c.objects,
            c.target_zipf,
            c.follow_ups,
            c.council.members,
            c.council.probes,
            c.council.prefixes,
            crate::council::two_thirds(c.council.members),
            rule.min_probes,
            pct(f64::from(rule.max_unreachable_bps) / 10_000.0),
        )?;
        let width = self
            .cheaters
            .iter()
            .map(|r| r.label.len())
            .chain(self.honest.iter().map(|r| r.label.len()))
            .max()
            .unwrap_or(8)
            .max(8);
        writeln!(
            f,
            "\ncheaters: hours until the hunter's first claim and until the council upheld one (median, p90 over all; - : not within {} h)",
            c.hours
        )?;
        writeln!(
            f,
            "{:<width$} {:>6} {:>8} {:>7} {:>7} {:>8} {:>7} {:>7} {:>7} {:>8} {:>8}",
            "scenario",
            "n",
            "claimed",
            "median",
            "p90",
            "upheld",
            "median",
            "p90",
            "claims",
            "upheld%",
            "probes"
        )?;
        for r in &self.cheaters {
            writeln!(
                f,
                "{:<width$} {:>6} {:>8} {:>7} {:>7} {:>8} {:>7} {:>7} {:>7.2} {:>8} {:>8.1}",
                r.label,
                r.terminals,
                pct(r.claimed.share),
                hours(r.claimed.median),
                hours(r.claimed.p90),
                pct(r.upheld.share),
                hours(r.upheld.median),
                hours(r.upheld.p90),
                r.claims_per_terminal,
                pct(r.upheld_share),
                r.probes_per_terminal
            )?;
        }
        writeln!(f, "\nhonest terminals: false claims")?;
        writeln!(
            f,
            "{:<width$} {:>6} {:>9} {:>10} {:>7} {:>10} {:>7} {:>8}",
            "group", "n", "days", "probes/day", "claims", "per day", "upheld", "upheld%"
        )?;
        for r in &self.honest {
            writeln!(
                f,
                "{:<width$} {:>6} {:>9.0} {:>10.1} {:>7} {:>10.4} {:>7} {:>8}",
                r.label,
                r.terminals,
                r.terminal_days,
                r.probes_per_terminal_day,
                r.claims,
                r.claims_per_terminal_day,
                r.upheld,
                pct(r.upheld_share)
            )?;
        }
        writeln!(
            f,
            "\nper seed: {:.0} hunter probes ({:.0} unserved), {:.0} council probes",
            self.hunter_probes, self.unserved, self.council_probes
        )
    }
}
