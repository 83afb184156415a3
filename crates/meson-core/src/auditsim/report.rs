//! The figures over many seeds: per strategy, the share of terminals suspended and the share with
//! objective evidence against them by each epoch of cheating; the auditor's traffic against the served
//! traffic.

use std::fmt;

use serde::Serialize;

use super::{Config, SeedRun, Strategy, TerminalRun};
use crate::audit::Outcome;
use crate::sim::pct;

/// One strategy's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub strategy: Strategy,
    pub label: String,
    /// Terminals following it, over all seeds.
    pub terminals: u64,
    /// Share suspended (at least once) during the warm-up, while every terminal is honest.
    pub suspended_in_warmup: f64,
    /// Share suspended at least once by the end of the k-th epoch of cheating (index k - 1), warm-up
    /// included.
    pub suspended_by_epoch: Vec<f64>,
    /// Share with objective evidence (a failed signed proof, an inflated signed usage record) by then.
    pub evidence_by_epoch: Vec<f64>,
    /// Mean audits per terminal over the whole run, by outcome (`Outcome::as_str` order of
    /// `Outcome::ALL`).
    pub audits_per_terminal: [f64; 5],
}

/// What checking costs, per seed on average.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Traffic {
    /// Hours simulated (warm-up included).
    pub hours: f64,
    /// Audits answered or timed out, per terminal and hour.
    pub audits_per_terminal_hour: f64,
    /// Share of the auditor's ticks that found nothing to challenge: no target, or no known root for it.
    pub skipped_share: f64,
    /// The served traffic the figures are compared with: `served_bytes_per_sec` per terminal.
    pub served_bytes: f64,
    /// Bytes of the simulated requests (a sample of the served traffic).
    pub sampled_bytes: f64,
    /// Signed challenges (router to terminals) and signed answers (terminals to router).
    pub challenge_bytes: f64,
    pub answer_bytes: f64,
    /// What the learner fetched from origins.
    pub origin_bytes: f64,
    pub challenge_share: f64,
    pub answer_share: f64,
    pub origin_share: f64,
    /// Simulated requests no terminal was in rotation for, and usage records still held at the end.
    pub unserved_requests: f64,
    pub held_records: f64,
}

/// Everything `meson-cdn audit-sim` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub seeds: u64,
    pub config: Config,
    pub rows: Vec<Row>,
    pub traffic: Traffic,
}

impl Report {
    pub(super) fn new(config: &Config, runs: &[SeedRun]) -> Self {
        let strategies: Vec<Strategy> = std::iter::once(Strategy::Honest)
            .chain(config.groups.iter().map(|(s, _)| *s))
            .collect();
        let warmup = config.warmup_epochs;
        let rows = strategies
            .iter()
            .enumerate()
            .map(|(group, strategy)| {
                let members: Vec<&TerminalRun> = runs
                    .iter()
                    .flat_map(|r| &r.terminals)
                    .filter(|t| t.group == group)
                    .collect();
                let n = members.len().max(1) as f64;
                let share = |pred: &dyn Fn(&TerminalRun) -> bool| {
                    members.iter().filter(|t| pred(t)).count() as f64 / n
                };
                let by = |first: fn(&TerminalRun) -> Option<u64>| -> Vec<f64> {
                    (1..=config.epochs)
                        .map(|k| share(&|t| first(t).is_some_and(|e| e < warmup + k)))
                        .collect()
                };
                let mut audits = [0.0; 5];
                for t in &members {
                    for (sum, n) in audits.iter_mut().zip(t.outcomes) {
                        *sum += n as f64;
                    }
                }
                Row {
                    strategy: *strategy,
                    label: strategy.label(),
                    terminals: members.len() as u64,
                    suspended_in_warmup: share(&|t| t.suspended.is_some_and(|e| e < warmup)),
                    suspended_by_epoch: by(|t| t.suspended),
                    evidence_by_epoch: by(|t| t.evidence),
                    audits_per_terminal: audits.map(|a| a / n),
                }
            })
            .collect();
        Report {
            seeds: runs.len() as u64,
            config: config.clone(),
            rows,
            traffic: Traffic::new(config, runs),
        }
    }
}

impl Traffic {
    fn new(config: &Config, runs: &[SeedRun]) -> Self {
        let seeds = runs.len().max(1) as f64;
        let mean = |f: fn(&SeedRun) -> u64| runs.iter().map(|r| f(r) as f64).sum::<f64>() / seeds;
        let secs = ((config.warmup_epochs + config.epochs) * config.epoch_secs) as f64;
        let served = config.served_bytes_per_sec as f64 * config.terminals as f64 * secs;
        let audits = runs
            .iter()
            .flat_map(|r| &r.terminals)
            .map(|t| t.outcomes.iter().sum::<u64>() as f64)
            .sum::<f64>()
            / seeds;
        let skipped = mean(|r| r.skipped_audits);
        let (challenge, answer, origin) = (
            mean(|r| r.challenge_bytes),
            mean(|r| r.answer_bytes),
            mean(|r| r.origin_bytes),
        );
        let of_served = |b: f64| if served > 0.0 { b / served } else { 0.0 };
        Traffic {
            hours: secs / 3600.0,
            audits_per_terminal_hour: audits / config.terminals as f64 / (secs / 3600.0),
            skipped_share: if audits + skipped > 0.0 {
                skipped / (audits + skipped)
            } else {
                0.0
            },
            served_bytes: served,
            sampled_bytes: mean(|r| r.sampled_bytes),
            challenge_bytes: challenge,
            answer_bytes: answer,
            origin_bytes: origin,
            challenge_share: of_served(challenge),
            answer_share: of_served(answer),
            origin_share: of_served(origin),
            unserved_requests: mean(|r| r.unserved),
            held_records: mean(|r| r.held_records),
        }
    }
}

fn bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "audit-sim: {} seeds x {} terminals, {} objects (Zipf {}), {} requests per terminal and epoch; audit every {} s per terminal, epochs of {} s; vetting {} audits, suspended below {} over >= {} audits; {} warm-up + {} epochs of cheating",
            self.seeds,
            c.terminals,
            c.objects,
            c.zipf,
            c.requests_per_terminal,
            c.audit_interval_secs,
            c.epoch_secs,
            c.rules.vetting_audits,
            pct(c.rules.suspend_below),
            c.rules.min_audits,
            c.warmup_epochs,
            c.epochs
        )?;
        let width = self
            .rows
            .iter()
            .map(|r| r.label.len())
            .max()
            .unwrap_or(8)
            .max(8);
        for (title, pick) in [
            (
                "suspended (share of terminals, cumulative by epoch of cheating)",
                (|r: &Row| &r.suspended_by_epoch) as fn(&Row) -> &Vec<f64>,
            ),
            (
                "objective evidence (share of terminals, cumulative)",
                |r: &Row| &r.evidence_by_epoch,
            ),
        ] {
            writeln!(f, "\n{title}")?;
            write!(f, "{:<width$} {:>7} {:>8}", "strategy", "n", "warm-up")?;
            for k in 1..=c.epochs {
                write!(f, " {:>7}", format!("e{k}"))?;
            }
            writeln!(f)?;
            for r in &self.rows {
                let warm = match title.starts_with("suspended") {
                    true => pct(r.suspended_in_warmup),
                    false => "-".into(),
                };
                write!(f, "{:<width$} {:>7} {:>8}", r.label, r.terminals, warm)?;
                for v in pick(r) {
                    write!(f, " {:>7}", pct(*v))?;
                }
                writeln!(f)?;
            }
        }
        writeln!(f, "\naudits per terminal over the run, by outcome")?;
        write!(f, "{:<width$}", "strategy")?;
        for o in Outcome::ALL {
            write!(f, " {:>9}", o.as_str())?;
        }
        writeln!(f)?;
        for r in &self.rows {
            write!(f, "{:<width$}", r.label)?;
            for a in r.audits_per_terminal {
                write!(f, " {a:>9.2}")?;
            }
            writeln!(f)?;
        }
        let t = &self.traffic;
        writeln!(
            f,
            "\ntraffic per seed ({:.0} h): served {} ({}/s per terminal); audit answers {} ({} of served), challenges {} ({}), origin fetches {} ({}); {:.2} audits per terminal-hour, {} of audit ticks found no target with a known root; {:.0} sampled requests unserved, {:.0} usage records still held",
            t.hours,
            bytes(t.served_bytes),
            bytes(c.served_bytes_per_sec as f64),
            bytes(t.answer_bytes),
            pct_fine(t.answer_share),
            bytes(t.challenge_bytes),
            pct_fine(t.challenge_share),
            bytes(t.origin_bytes),
            pct_fine(t.origin_share),
            t.audits_per_terminal_hour,
            pct(t.skipped_share),
            t.unserved_requests,
            t.held_records
        )
    }
}

/// A small share with enough digits to read.
fn pct_fine(share: f64) -> String {
    format!("{:.4}%", share * 100.0)
}
