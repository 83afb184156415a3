//! Billing: each epoch, the usage the router accepted is settled by the plan of
//! [`meson_ledger::settlement`]: charged to each site's escrow, paid to the terminals that served it,
//! the protocol fee burned and, with a bootstrap subsidy, topped up from the treasury. This service
//! gathers the epoch's accepted usage, the terminals' regions and uptime, opens the accounts the plan
//! names and submits its transfers as one batch, so one audit log entry settles the epoch.
//!
//! - A site's escrow is a ledger account ([`meson_ledger::accounts::escrow_account`]) anyone can look
//!   up; tokens reach it by a deposit (here, an operator's mint: the on-ramp where a customer buys
//!   tokens). A terminal's earnings account is owned by its node key.
//! - An epoch is settled once it has ended (and, with audits on, once every audit begun in it has been
//!   judged): usage accepted during `[E·len, (E+1)·len)`, so every record falls in exactly one epoch. Settling again (after a crash, or on catching up after a restart)
//!   applies nothing twice.
//! - Before an epoch is paid, usage a terminal served a site mostly from a few client prefixes is
//!   withheld for review ([`super::withholding`]); settlement pays the rest.
//! - A site whose escrow is empty is not served by terminals: its clients are redirected to its origin
//!   (`X-Meson-Billing: escrow-empty`), never silently served for free.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use meson_core::schedule::Region;
use meson_ledger::accounts::escrow_account;
use meson_ledger::settlement::{self, Terminals, Usage};
use meson_ledger::{Amount, Batch, BatchResults};
use meson_store::StoreError;
use tokio::sync::watch;

use crate::services::audit::{pass_rates, PassRates};
use crate::services::ledger::LedgerError;
use crate::Shared;

/// How much of each epoch each terminal was in rotation, sampled by the billing task: the uptime in a
/// terminal's quality. Kept in memory; an epoch sampled partly before a restart counts only what was
/// seen after it.
#[derive(Default)]
pub(crate) struct Uptime(std::sync::Mutex<BTreeMap<(u64, [u8; 32]), Samples>>);

/// (samples in rotation, samples) of one terminal in one epoch.
type Samples = (u32, u32);

impl Uptime {
    fn sample(&self, epoch: u64, rotation: &[([u8; 32], Region, bool)]) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (node, _, up) in rotation {
            let e = m.entry((epoch, *node)).or_default();
            e.0 += u32::from(*up);
            e.1 += 1;
        }
        // Settled epochs are not sampled again; keep a day of them at most.
        while m.len() > 100_000 {
            let Some(first) = m.keys().next().copied() else {
                break;
            };
            m.remove(&first);
        }
    }

    /// Uptime in basis points; full when the terminal was never sampled in the epoch.
    pub fn bps(&self, epoch: u64, node: &[u8; 32]) -> u32 {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match m.get(&(epoch, *node)) {
            Some(&(up, total)) if total > 0 => (u64::from(up) * 10_000 / u64::from(total)) as u32,
            _ => 10_000,
        }
    }
}

/// Sites whose escrow holds nothing; read on every redirect, refreshed by the billing task.
#[derive(Default)]
pub(crate) struct Unfunded {
    empty: RwLock<HashSet<i64>>,
    /// Funded, but for less than one more epoch at the last epoch's spend: the owner is warned.
    low: RwLock<HashSet<i64>>,
    /// What each site paid in the last epoch settled.
    last_spend: std::sync::Mutex<std::collections::HashMap<i64, u128>>,
}

impl Unfunded {
    pub fn contains(&self, site: i64) -> bool {
        self.empty
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&site)
    }

    pub fn is_low(&self, site: i64) -> bool {
        self.low
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&site)
    }

    fn spent(&self, site: i64, amount: u128) {
        self.last_spend
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(site, amount);
    }

    fn last_spend(&self, site: i64) -> u128 {
        self.last_spend
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&site)
            .copied()
            .unwrap_or(0)
    }

    fn set(&self, empty: HashSet<i64>, low: HashSet<i64>) {
        *self.empty.write().unwrap_or_else(|e| e.into_inner()) = empty;
        *self.low.write().unwrap_or_else(|e| e.into_inner()) = low;
    }
}

/// The usage the router accepted in `epoch`, one line per site and terminal, but for unsettled lines of
/// terminals with evidence against them in the epoch: those are never paid
/// ([`crate::services::slashing`]). Lines settled before the evidence came stay, so what was paid (and
/// the epoch's signed payout root) never changes after the fact.
pub(crate) async fn accepted(
    s: &Shared,
    epoch_secs: u64,
    epoch: u64,
) -> Result<Vec<Usage>, StoreError> {
    let from = epoch * epoch_secs;
    let withheld = s.store.withheld(epoch).await?;
    let lines: Vec<Usage> = s
        .store
        .usage_accepted_between(from, from + epoch_secs)
        .await?
        .into_iter()
        .map(|u| Usage {
            site: u.site_id,
            node: u.terminal,
            bytes: u.bytes,
        })
        .collect();
    if withheld.is_empty() {
        return Ok(lines);
    }
    Ok(s.ledger
        .read(|l| {
            lines
                .into_iter()
                .filter(|u| {
                    !withheld.contains(&u.node)
                        || settlement::settled(l, epoch, u.site, &u.node).is_some()
                })
                .collect()
        })
        .await)
}

/// How the terminals stood in one epoch: their regions now, their uptime sampled in the epoch and their
/// audit pass rate in it.
struct Standing<'a> {
    regions: BTreeMap<[u8; 32], Region>,
    uptime: &'a Uptime,
    audits: PassRates,
    epoch: u64,
}

impl Terminals for Standing<'_> {
    fn region(&self, node: &[u8; 32]) -> Option<&Region> {
        self.regions.get(node)
    }

    fn uptime_bps(&self, node: &[u8; 32]) -> u32 {
        self.uptime.bps(self.epoch, node)
    }

    fn audit_pass_bps(&self, node: &[u8; 32]) -> u32 {
        self.audits.bps(node)
    }
}

/// Settles epoch `epoch` for every site with accepted usage in it, and pays the epoch's subsidy on what
/// it settled now. Returns how many sites it settled now.
pub(crate) async fn settle(s: &Shared, epoch: u64) -> Result<usize, LedgerError> {
    // The epoch is settled under the parameters in force in it, whatever governance changed since.
    let params = s.params_in(epoch);
    let cfg = &params.billing();
    super::withholding::judge(s, &params.share_cap(), cfg.epoch_secs, epoch).await?;
    let usage = accepted(s, cfg.epoch_secs, epoch).await?;
    let terminals = Standing {
        regions: s
            .registry
            .rotation(s.cfg.heartbeat)
            .into_iter()
            .map(|(node, region, _)| (node, region))
            .collect(),
        uptime: &s.uptime,
        audits: pass_rates(s, epoch).await?,
        epoch,
    };
    let plan = s
        .ledger
        .read(|l| settlement::plan(l, cfg, epoch, &usage, &terminals))
        .await;
    for (site, spent) in &plan.spent {
        s.unfunded.spent(*site, *spent);
    }
    s.ledger.open_accounts(plan.accounts).await?;
    if plan.transfers.is_empty() {
        return Ok(0);
    }
    let results = s
        .ledger
        .submit(Batch::CreateTransfers {
            now: meson_node::unix_now(),
            transfers: plan.transfers,
        })
        .await?;
    let failed = match &results {
        BatchResults::Transfers(r) => r.iter().filter(|r| r.is_err()).count(),
        _ => 0,
    };
    if failed > 0 {
        tracing::warn!(
            epoch,
            failed,
            ?results,
            "some settlement transfers were refused"
        );
    } else {
        tracing::info!(
            epoch,
            sites = plan.sites,
            subsidised = plan.subsidised,
            pooled = plan.pooled,
            dividends = plan.dividends,
            "epoch settled"
        );
    }
    Ok(plan.sites)
}

/// What the treasury paid a terminal as epoch `epoch`'s subsidy (0 if nothing).
pub(crate) async fn subsidy_paid(s: &Shared, epoch: u64, node: &[u8; 32]) -> Amount {
    s.ledger
        .read(|l| settlement::subsidy_paid(l, epoch, node))
        .await
}

/// Refreshes which sites' escrow is empty. Besides the billing task's tick, run after every mint and
/// wallet transaction: a site is served by terminals from the moment its escrow is funded, and no
/// redirect between the deposit and the next tick goes to the origin for want of funds.
pub(crate) async fn refresh_funding(s: &Shared) {
    if s.cfg.billing.is_none() {
        return;
    }
    if let Err(e) = refresh_unfunded(s).await {
        tracing::warn!(error = %e, "cannot refresh the funded sites");
    }
}

/// Which sites' escrow is empty.
async fn refresh_unfunded(s: &Shared) -> Result<(), LedgerError> {
    let sites = s.store.list_all_sites().await?;
    let (mut empty, mut low) = (HashSet::new(), HashSet::new());
    for site in sites {
        let available = s
            .ledger
            .account(escrow_account(site.id))
            .await
            .and_then(|a| a.available())
            .unwrap_or(0);
        if available == 0 {
            if !s.unfunded.contains(site.id) {
                tracing::warn!(site = %site.host, "escrow empty: clients are sent to the origin until it is funded");
            }
            empty.insert(site.id);
        } else if available < s.unfunded.last_spend(site.id) {
            if !s.unfunded.is_low(site.id) {
                tracing::warn!(site = %site.host, available, "escrow covers less than one more epoch at the last epoch's spend");
            }
            low.insert(site.id);
        }
    }
    s.unfunded.set(empty, low);
    Ok(())
}

/// Settles each epoch once it has ended, and keeps the set of unfunded sites current.
pub(crate) async fn run(s: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let epoch_secs = s.epoch_secs();
    let tick = Duration::from_secs((epoch_secs / 4).clamp(1, 30));
    // Epochs back from now to (re)check after a start: settling is idempotent, so a router that was down
    // catches up and one that was not does nothing twice.
    let mut next = (meson_node::unix_now() / epoch_secs).saturating_sub(24);
    // An audit is tallied in the epoch it began in and judged up to its timeout and two heartbeats later
    // (a `missing` answer waits for the terminal's next heartbeats): an epoch is paid by its pass rate
    // only once every audit begun in it is in.
    let grace = s.cfg.audit.as_ref().map_or(Duration::ZERO, |a| {
        a.timeout + s.cfg.heartbeat * 2 + Duration::from_secs(1)
    });
    loop {
        let now = meson_node::unix_now();
        let current = now / epoch_secs;
        s.uptime
            .sample(current, &s.registry.rotation(s.cfg.heartbeat));
        let judged = now.saturating_sub(grace.as_secs()) / epoch_secs;
        while next < judged {
            match settle(&s, next).await {
                Ok(_) => next += 1,
                Err(e) => {
                    tracing::error!(epoch = next, error = %e, "settlement failed; retrying");
                    break;
                }
            }
        }
        refresh_funding(&s).await;
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.wait_for(|v| *v) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_the_share_of_samples_in_rotation() {
        let u = Uptime::default();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let region = Region::new("eu").unwrap();
        for up in [true, true, true, false] {
            u.sample(7, &[(a, region.clone(), up), (b, region.clone(), true)]);
        }
        assert_eq!(u.bps(7, &a), 7_500);
        assert_eq!(u.bps(7, &b), 10_000);
        assert_eq!(u.bps(8, &a), 10_000, "never sampled: full");
    }
}
