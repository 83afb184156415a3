//! `meson-cdn hunter`: probes terminals as a client does and files bonded claims on what it finds.
//!
//! Each probe picks a target (site and path) and a source address at random, asks the router for it
//! exactly as a browser would (`GET /s/<host>/<path>`, its `302`, the ticketed `Location`), and fetches
//! the terminal's answer from the same address, at exponentially spread times, so a terminal sees
//! nothing that tells a hunter from a client. Every answer is recorded ([`crate::probing`]) and judged by
//! [`probe::judge_probe`] against the terminal's own signed claim of what it serves and the router's
//! signed statement of the object (`GET /v1/sites/{host}/known`). What it finds:
//!
//! - the terminal's signed claim names other roots than the router learned from the origin for a strong
//!   version: objective evidence ([`Evidence::ServedRootMismatch`]), filed as an objective claim, upheld
//!   at once;
//! - bytes that differ from the terminal's own claim, or a ticketed request refused or unanswered again
//!   and again: a probe record (re-probed up to `--confirm` times from the same address first, and filed
//!   only if [`probe::judge`] calls the terminal faulty), filed for the council.
//!
//! One claim per terminal and kind; each bond is `--bond`, and bonds outstanding stay within `--budget`.
//! Progress goes to stderr every `--report-secs`; a summary per terminal to stdout at the end.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use meson_api::claims::{ClaimDetail, ClaimKind};
use meson_api::RouterInfo;
use meson_core::evidence::{Evidence, KnownObject};
use meson_core::identity::NodeId;
use meson_core::probe::{self, Outcome, Probe, ProbeVerdict, Record};
use meson_core::signed::SignedMessage;
use meson_ledger::{format_amount, parse_amount, Amount};
use rand::Rng;

use crate::claim;
use crate::client::get;
use crate::probing::{self, Directory, Prober};
use crate::signals::Stop;

#[derive(Args)]
pub struct HunterArgs {
    /// The router.
    #[arg(long, env = "MESON_ROUTER")]
    router: String,
    /// The hunter's wallet key: it signs the bonds and is paid the claimant's share.
    #[arg(long, env = "MESON_WALLET_KEY", default_value = "meson-hunter.key")]
    key: PathBuf,
    /// The network the router runs (its `--network`).
    #[arg(long, env = "MESON_NETWORK", default_value = "meson-dev")]
    network: String,
    /// What to fetch: `HOST/PATH` (e.g. `cdn.shop.example/img/logo.png`); repeat for more.
    #[arg(long = "target", required = true, value_name = "HOST/PATH")]
    targets: Vec<String>,
    /// Client addresses to probe from (each probe picks one); default: the system's choice.
    #[arg(long = "source", value_name = "IP")]
    sources: Vec<IpAddr>,
    /// Only these terminals are judged (others met on the way are counted, not claimed against).
    #[arg(long = "terminal", value_name = "NODE_ID")]
    terminals: Vec<NodeId>,
    /// Probes per second on average (exponentially spread).
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Stop after this many seconds (0: run until SIGINT or SIGTERM).
    #[arg(long, default_value_t = 0)]
    duration_secs: u64,
    /// Stop once this many claims were filed (0: no limit).
    #[arg(long, default_value_t = 0)]
    stop_after_claims: usize,
    /// Tokens bonded on each claim.
    #[arg(long, default_value = "1")]
    bond: String,
    /// Tokens the hunter may have bonded at once, at most.
    #[arg(long, default_value = "10")]
    budget: String,
    /// Probes in a record before it goes to the council (the first suspicious one included).
    #[arg(long, default_value_t = 3)]
    confirm: usize,
    /// Seconds a terminal has to answer.
    #[arg(long, default_value_t = 5)]
    timeout_secs: u64,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 10)]
    report_secs: u64,
}

/// What the hunter saw of one terminal.
#[derive(Default)]
struct Seen {
    probes: u64,
    good: u64,
    corrupt: u64,
    refused: u64,
    failed: u64,
    other: u64,
    latencies: Vec<u64>,
    claims: Vec<String>,
}

impl Seen {
    fn count(&mut self, p: &Probe, verdict: &ProbeVerdict) {
        self.probes += 1;
        self.latencies.push(p.latency_ms);
        match verdict {
            ProbeVerdict::Good => self.good += 1,
            ProbeVerdict::Corrupt { .. } => self.corrupt += 1,
            ProbeVerdict::Refused { .. } => self.refused += 1,
            ProbeVerdict::Failed => self.failed += 1,
            ProbeVerdict::Unverifiable { .. } | ProbeVerdict::Invalid { .. } => self.other += 1,
        }
    }

    fn median_ms(&self) -> u64 {
        let mut l = self.latencies.clone();
        l.sort_unstable();
        l.get(l.len() / 2).copied().unwrap_or(0)
    }

    fn available_pct(&self) -> f64 {
        let answered = self.probes - self.refused - self.failed;
        if self.probes == 0 {
            0.0
        } else {
            100.0 * answered as f64 / self.probes as f64
        }
    }
}

struct Hunt {
    args: HunterArgs,
    router_id: NodeId,
    bond: Amount,
    budget: Amount,
    bonded: Amount,
    directory: Directory,
    probers: Vec<Prober>,
    known: HashMap<String, Option<SignedMessage<KnownObject>>>,
    seen: BTreeMap<NodeId, Seen>,
    /// (terminal, kind) already claimed against.
    claimed: HashSet<(NodeId, &'static str)>,
    filed: Vec<ClaimDetail>,
    redirect_errors: u64,
}

fn split_target(t: &str) -> anyhow::Result<(String, String)> {
    let (host, path) = t
        .split_once('/')
        .with_context(|| format!("--target {t:?} must be HOST/PATH"))?;
    Ok((host.to_ascii_lowercase(), format!("/{path}")))
}

impl Hunt {
    /// The router's statement of `host` `path`, fetched once.
    async fn known(&mut self, host: &str, path: &str) -> Option<SignedMessage<KnownObject>> {
        let key = format!("{host}{path}");
        if let Some(k) = self.known.get(&key) {
            return k.clone();
        }
        let k = probing::known(&self.args.router, host, path).await;
        self.known.insert(key, k.clone());
        k
    }

    /// One probe of `host` `path` from prober `which`: the terminal the router sent it to and the probe.
    async fn probe_once(
        &mut self,
        which: usize,
        host: &str,
        path: &str,
    ) -> Option<(NodeId, Probe)> {
        let location = match self.probers[which]
            .redirect(&self.args.router, host, path)
            .await
        {
            Ok(l) => l,
            Err(e) => {
                self.redirect_errors += 1;
                tracing::debug!(error = %e, "no redirect");
                return None;
            }
        };
        let terminal = match self.directory.terminal_of(&location) {
            Some(t) => t,
            None => {
                // A terminal that joined since the hunter started.
                self.directory = Directory::fetch(&self.args.router).await.ok()?;
                self.directory.terminal_of(&location)?
            }
        };
        Some((
            terminal,
            self.probers[which].probe(terminal, &location).await,
        ))
    }

    async fn step(&mut self) -> anyhow::Result<()> {
        let (which, target) = {
            let mut rng = rand::rng();
            (
                rng.random_range(0..self.probers.len()),
                rng.random_range(0..self.args.targets.len()),
            )
        };
        let (host, path) = split_target(&self.args.targets[target])?;
        let Some((terminal, first)) = self.probe_once(which, &host, &path).await else {
            return Ok(());
        };
        let known = self.known(&host, &path).await;
        let body = known
            .as_ref()
            .and_then(|k| k.verify_signature(meson_core::evidence::KNOWN_OBJECT).ok())
            .map(|v| v.body);
        let verdict = probe::judge_probe(&first, &self.router_id, body.as_ref());
        self.seen
            .entry(terminal)
            .or_default()
            .count(&first, &verdict);
        let targeted = self.args.terminals.is_empty() || self.args.terminals.contains(&terminal);
        if !targeted {
            return Ok(());
        }
        if let (
            Outcome::Served {
                served: Some(served),
                ..
            },
            Some(known),
        ) = (&first.outcome, &known)
        {
            let ev = Evidence::ServedRootMismatch {
                served: served.clone(),
                known: known.clone(),
            };
            if meson_core::evidence::verify(&ev, &self.router_id).is_ok() {
                self.file(terminal, ClaimKind::Objective, ev.to_canonical())
                    .await;
                return Ok(());
            }
        }
        let suspicious = matches!(
            verdict,
            ProbeVerdict::Corrupt { .. } | ProbeVerdict::Refused { .. } | ProbeVerdict::Failed
        );
        if !suspicious || self.claimed.contains(&(terminal, "council")) {
            return Ok(());
        }
        // Confirm from the same address before troubling the council.
        let mut probes = vec![first];
        while probes.len() < self.args.confirm.max(1) {
            match self.probe_once(which, &host, &path).await {
                Some((t, p)) if t == terminal => {
                    let v = probe::judge_probe(&p, &self.router_id, body.as_ref());
                    self.seen.entry(terminal).or_default().count(&p, &v);
                    probes.push(p);
                }
                // The router sent this address elsewhere (the terminal left rotation, or is loaded).
                _ => return Ok(()),
            }
        }
        let record = Record {
            host,
            path,
            known,
            probes,
        };
        match probe::judge(&record, &self.router_id, &probe::Rule::default()) {
            Ok(j) if j.faulty => {
                tracing::warn!(%terminal, why = %j.why, "terminal found faulty");
                let text = serde_json::to_string(&record)?;
                self.file(terminal, ClaimKind::Council, text).await;
            }
            Ok(j) => tracing::info!(%terminal, why = %j.why, "suspicion not confirmed"),
            Err(e) => tracing::warn!(error = %e, "cannot judge a record"),
        }
        Ok(())
    }

    async fn file(&mut self, terminal: NodeId, kind: ClaimKind, evidence: String) {
        let name = match kind {
            ClaimKind::Objective => "objective",
            ClaimKind::Council => "council",
        };
        if !self.claimed.insert((terminal, name)) {
            return;
        }
        if self.bonded + self.bond > self.budget {
            tracing::warn!(%terminal, bonded = %format_amount(self.bonded), budget = %format_amount(self.budget), "over budget: not filing");
            return;
        }
        let a = &self.args;
        match claim::file(
            &a.router, &a.key, &a.network, kind, evidence, terminal, self.bond,
        )
        .await
        {
            Ok(c) => {
                eprintln!("filed {name} claim {} against {terminal}", c.claim);
                self.bonded += self.bond;
                self.seen
                    .entry(terminal)
                    .or_default()
                    .claims
                    .push(c.claim.clone());
                self.filed.push(c);
            }
            Err(e) => {
                eprintln!("could not file a {name} claim against {terminal}: {e:#}");
                self.claimed.remove(&(terminal, name));
            }
        }
    }

    fn progress(&self, started: Instant) {
        let probes: u64 = self.seen.values().map(|s| s.probes).sum();
        let bad: u64 = self
            .seen
            .values()
            .map(|s| s.corrupt + s.refused + s.failed)
            .sum();
        eprintln!(
            "{:>6.0}s {probes} probes of {} terminals, {bad} bad answers, {} claims filed, {} bonded",
            started.elapsed().as_secs_f64(),
            self.seen.len(),
            self.filed.len(),
            format_amount(self.bonded)
        );
    }

    async fn summary(&self) {
        println!(
            "{:<66} {:>6} {:>5} {:>7} {:>7} {:>6} {:>9} {:>7}  claims",
            "terminal", "probes", "good", "corrupt", "refused", "failed", "available", "p50 ms"
        );
        for (node, s) in &self.seen {
            println!(
                "{:<66} {:>6} {:>5} {:>7} {:>7} {:>6} {:>8.1}% {:>7}  {}",
                node.to_string(),
                s.probes,
                s.good,
                s.corrupt,
                s.refused,
                s.failed,
                s.available_pct(),
                s.median_ms(),
                s.claims.join(" ")
            );
        }
        for c in &self.filed {
            if let Ok(now) =
                get::<ClaimDetail>(&self.args.router, &format!("/v1/claims/{}", c.claim), None)
                    .await
            {
                let reward = now
                    .executed
                    .as_ref()
                    .map_or("not yet".to_owned(), |e| e.reward.clone());
                println!(
                    "claim {} against {}: {:?}, reward {reward}",
                    now.claim, now.accused, now.phase.phase
                );
            }
        }
        if self.redirect_errors > 0 {
            println!(
                "{} requests got no redirect from the router",
                self.redirect_errors
            );
        }
    }
}

pub fn run(args: HunterArgs) -> anyhow::Result<()> {
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        bail!("--rate must be a positive number of probes per second");
    }
    for t in &args.targets {
        split_target(t)?;
    }
    let bond = parse_amount(&args.bond).with_context(|| format!("--bond {:?}", args.bond))?;
    let budget =
        parse_amount(&args.budget).with_context(|| format!("--budget {:?}", args.budget))?;
    let rt = crate::client::runtime()?;
    rt.block_on(async move {
        let stop = Stop::install()?;
        let router_id = get::<RouterInfo>(&args.router, "/v1/router", None)
            .await?
            .id;
        let timeout = Duration::from_secs(args.timeout_secs.max(1));
        let sources: Vec<Option<IpAddr>> = if args.sources.is_empty() {
            vec![None]
        } else {
            args.sources.iter().copied().map(Some).collect()
        };
        let mut hunt = Hunt {
            directory: Directory::fetch(&args.router).await?,
            probers: sources.iter().map(|s| Prober::new(*s, timeout)).collect(),
            args,
            router_id,
            bond,
            budget,
            bonded: 0,
            known: HashMap::new(),
            seen: BTreeMap::new(),
            claimed: HashSet::new(),
            filed: Vec::new(),
            redirect_errors: 0,
        };
        eprintln!(
            "hunting {} targets from {} addresses at {} probes/s",
            hunt.args.targets.len(),
            hunt.probers.len(),
            hunt.args.rate
        );
        let started = Instant::now();
        let deadline = (hunt.args.duration_secs > 0)
            .then(|| started + Duration::from_secs(hunt.args.duration_secs));
        let mut next_report = started + Duration::from_secs(hunt.args.report_secs.max(1));
        let stopped = stop.wait();
        tokio::pin!(stopped);
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d)
                || (hunt.args.stop_after_claims > 0
                    && hunt.filed.len() >= hunt.args.stop_after_claims)
            {
                break;
            }
            // Exponential gaps: probes arrive as a Poisson process, like independent clients.
            let gap = {
                let u: f64 = rand::rng().random_range(f64::EPSILON..1.0);
                Duration::from_secs_f64(-u.ln() / hunt.args.rate)
            };
            tokio::select! {
                _ = &mut stopped => break,
                _ = tokio::time::sleep(gap) => {}
            }
            hunt.step().await?;
            if Instant::now() >= next_report {
                hunt.progress(started);
                next_report += Duration::from_secs(hunt.args.report_secs.max(1));
            }
        }
        hunt.progress(started);
        hunt.summary().await;
        Ok(())
    })
}
