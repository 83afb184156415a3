//! Billing: each epoch, the usage the router accepted is charged to the site's escrow, paid to the
//! terminals that served it and the protocol fee burned, by the formulas of [`meson_ledger::economics`].
//!
//! - A site's escrow is a ledger account ([`escrow_account`]) anyone can look up; tokens reach it by a
//!   deposit (here, an operator's mint: the on-ramp where a customer buys tokens).
//! - A terminal's earnings account ([`terminal_account`]) is owned by its node key.
//! - An epoch is settled once it has ended: usage accepted during `[E·len, (E+1)·len)`, so every record
//!   falls in exactly one epoch. Transfer ids are derived from (epoch, site, terminal), and a site's
//!   transfers form one linked chain, so settling again after a crash applies nothing twice and never
//!   half a site.
//! - A site whose escrow is empty is not served by terminals: its clients are redirected to its origin
//!   (`X-Meson-Billing: escrow-empty`), never silently served for free.
//! - With a bootstrap subsidy (`subsidy_bps`), the treasury adds a share of what each terminal earned from
//!   customers ([`meson_ledger::economics::subsidies`]), capped per epoch and by what the treasury holds.
//!   An epoch's site chains and its subsidy chain go to the ledger in one batch, so one audit log entry
//!   settles the epoch: the subsidy is decided with the earnings it tops up, never later. That way
//!   enabling the subsidy, raising its cap or funding the treasury never pays for epochs already
//!   settled, and no published payout root changes afterwards.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use meson_core::schedule::Region;
use meson_ledger::economics::{fit_to_escrow, line, quality_bps, subsidies, Line};
use meson_ledger::ids::Purpose;
use meson_ledger::{
    AccountKind, Batch, BatchResults, NewAccount, Transfer, TransferCode, TransferFlags,
};
use tokio::sync::watch;

use meson_ledger::accounts::{escrow_account, terminal_account, BURN, TREASURY};

use crate::services::ledger::{self, LedgerError};
use crate::Shared;

/// Prices and fee; billing is off when the router has none.
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// Seconds per epoch (default 3600).
    pub epoch_secs: u64,
    /// Base units charged per GiB served (default 0.1 token).
    pub price_per_gib: u128,
    /// The burned protocol fee, in basis points of the charge (default 2000: 20 %).
    pub fee_bps: u32,
    /// Prices of regions that differ from `price_per_gib`: a terminal's bytes are priced by the most
    /// specific of its region's levels listed here (`eu/west`, then `eu`), else `price_per_gib`.
    pub region_prices: Vec<(String, u128)>,
    /// Bootstrap subsidy from the treasury, in basis points of what a terminal earned from customers in
    /// the epoch (default 0: off).
    pub subsidy_bps: u32,
    /// The most base units the treasury pays in subsidies per epoch, across all terminals (default 0).
    pub subsidy_cap: u128,
}

impl BillingConfig {
    /// The price per GiB of bytes served by a terminal in `region`.
    pub fn price_in(&self, region: Option<&Region>) -> u128 {
        region
            .into_iter()
            .flat_map(Region::ancestors)
            .find_map(|level| {
                self.region_prices
                    .iter()
                    .find(|(r, _)| r == level)
                    .map(|(_, p)| *p)
            })
            .unwrap_or(self.price_per_gib)
    }
}

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

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig {
            epoch_secs: 3600,
            price_per_gib: meson_ledger::ONE_TOKEN / 10,
            fee_bps: 2_000,
            region_prices: Vec::new(),
            subsidy_bps: 0,
            subsidy_cap: 0,
        }
    }
}

fn payout_id(epoch: u64, site: i64, node: &[u8; 32]) -> u128 {
    Purpose::Payout {
        epoch,
        site,
        node: *node,
    }
    .id()
}

fn fee_id(epoch: u64, site: i64, node: &[u8; 32]) -> u128 {
    Purpose::Fee {
        epoch,
        site,
        node: *node,
    }
    .id()
}

fn subsidy_id(epoch: u64, node: &[u8; 32]) -> u128 {
    Purpose::Subsidy { epoch, node: *node }.id()
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

/// Settles epoch `epoch` for every site with accepted usage in it, and pays the epoch's subsidy on what
/// it settled now. Returns how many sites it settled now.
pub(crate) async fn settle(
    s: &Shared,
    cfg: &BillingConfig,
    epoch: u64,
) -> Result<usize, LedgerError> {
    let from = epoch * cfg.epoch_secs;
    let sums = s
        .store
        .usage_accepted_between(from, from + cfg.epoch_secs)
        .await?;
    let mut by_site: BTreeMap<i64, Vec<([u8; 32], u64)>> = BTreeMap::new();
    for u in sums {
        by_site
            .entry(u.site_id)
            .or_default()
            .push((u.terminal, u.bytes));
    }
    let regions: BTreeMap<[u8; 32], Region> = s
        .registry
        .rotation(s.cfg.heartbeat)
        .into_iter()
        .map(|(node, region, _)| (node, region))
        .collect();
    let now = meson_node::unix_now();
    let mut transfers = Vec::new();
    let mut settled = 0;
    let mut nodes = BTreeSet::new();
    // What each terminal earns from the chains in this batch: the base of its subsidy.
    let mut earned: BTreeMap<[u8; 32], u128> = BTreeMap::new();
    for (site, terminals) in by_site {
        nodes.extend(terminals.iter().map(|(node, _)| *node));
        let ids: Vec<u128> = terminals
            .iter()
            .flat_map(|(node, _)| [fee_id(epoch, site, node), payout_id(epoch, site, node)])
            .collect();
        // The site's transfers are one chain: if any exists, the site's epoch is settled.
        if s.ledger
            .read(|l| ids.iter().any(|id| l.transfer(*id).is_some()))
            .await
        {
            continue;
        }
        let escrow = ledger::open(s, meson_ledger::accounts::escrow(site)).await?;
        let mut accounts: Vec<NewAccount> = terminals
            .iter()
            .map(|(node, _)| NewAccount {
                id: terminal_account(node),
                kind: AccountKind::Terminal,
                owner: Some(*node),
                user_data: 0,
            })
            .collect();
        accounts.dedup_by_key(|a| a.id);
        s.ledger
            .submit(Batch::CreateAccounts { now, accounts })
            .await?;
        let available = s
            .ledger
            .account(escrow)
            .await
            .and_then(|a| a.available())
            .unwrap_or(0);
        let mut lines: Vec<Line> = terminals
            .iter()
            .map(|(node, bytes)| {
                // Audits are not there yet: the pass rate is full until they report.
                let quality = quality_bps(s.uptime.bps(epoch, node), 10_000);
                line(
                    *bytes,
                    cfg.price_in(regions.get(node)),
                    cfg.fee_bps,
                    quality,
                )
            })
            .collect();
        fit_to_escrow(&mut lines, available);
        s.unfunded.spent(site, lines.iter().map(Line::paid).sum());
        let mut chain = Vec::new();
        for ((node, _), l) in terminals.iter().zip(&lines) {
            let mut fee = Transfer::new(
                fee_id(epoch, site, node),
                escrow,
                BURN,
                l.fee,
                TransferCode::Burn,
            );
            let mut pay = Transfer::new(
                payout_id(epoch, site, node),
                escrow,
                terminal_account(node),
                l.earned,
                TransferCode::Payout,
            );
            fee.user_data = u128::from(epoch);
            pay.user_data = u128::from(epoch);
            chain.push(fee);
            chain.push(pay);
        }
        // A zero amount is not a transfer (a few bytes cost less than a base unit).
        chain.retain(|t| t.amount > 0);
        if chain.is_empty() {
            continue;
        }
        for ((node, _), l) in terminals.iter().zip(&lines) {
            *earned.entry(*node).or_default() += l.earned;
        }
        link(&mut chain);
        tracing::debug!(epoch, site, terminals = terminals.len(), "settling site");
        transfers.extend(chain);
        settled += 1;
    }
    if transfers.is_empty() {
        return Ok(0);
    }
    let subsidy = subsidy_chain(s, cfg, epoch, &nodes, &earned).await;
    let subsidised: u128 = subsidy.iter().map(|t| t.amount).sum();
    transfers.extend(subsidy);
    let results = s
        .ledger
        .submit(Batch::CreateTransfers {
            now: meson_node::unix_now(),
            transfers,
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
        tracing::info!(epoch, sites = settled, subsidised, "epoch settled");
    }
    Ok(settled)
}

/// Marks every transfer but the last as linked to the next, so the chain commits all or nothing.
fn link(chain: &mut [Transfer]) {
    let last = chain.len().saturating_sub(1);
    for (i, t) in chain.iter_mut().enumerate() {
        t.flags = TransferFlags {
            linked: i < last,
            ..TransferFlags::default()
        };
    }
}

/// The epoch's subsidy, treasury → terminal accounts, as one chain: empty when the subsidy is off, when
/// the treasury is empty, or when a subsidy of this epoch was already paid (an earlier batch of the
/// same epoch, of which some site chain failed and is settled now, carried it).
async fn subsidy_chain(
    s: &Shared,
    cfg: &BillingConfig,
    epoch: u64,
    nodes: &BTreeSet<[u8; 32]>,
    earned: &BTreeMap<[u8; 32], u128>,
) -> Vec<Transfer> {
    if cfg.subsidy_bps == 0 || cfg.subsidy_cap == 0 || earned.values().all(|e| *e == 0) {
        return Vec::new();
    }
    let (paid_before, treasury) = s
        .ledger
        .read(|l| {
            let paid = nodes
                .iter()
                .any(|n| l.transfer(subsidy_id(epoch, n)).is_some());
            let treasury = l.account(TREASURY).and_then(|a| a.available()).unwrap_or(0);
            (paid, treasury)
        })
        .await;
    if paid_before {
        return Vec::new();
    }
    if treasury == 0 {
        tracing::info!(epoch, "the treasury is empty: no subsidy this epoch");
        return Vec::new();
    }
    let (nodes, base): (Vec<[u8; 32]>, Vec<u128>) = earned.iter().map(|(n, e)| (*n, *e)).unzip();
    let amounts = subsidies(&base, cfg.subsidy_bps, cfg.subsidy_cap, treasury);
    let mut chain: Vec<Transfer> = nodes
        .iter()
        .zip(amounts)
        .filter(|(_, amount)| *amount > 0)
        .map(|(node, amount)| {
            let mut t = Transfer::new(
                subsidy_id(epoch, node),
                TREASURY,
                terminal_account(node),
                amount,
                TransferCode::Subsidy,
            );
            t.user_data = u128::from(epoch);
            t
        })
        .collect();
    link(&mut chain);
    chain
}

/// What the treasury paid a terminal as epoch `epoch`'s subsidy (0 if nothing).
pub(crate) async fn subsidy_paid(s: &Shared, epoch: u64, node: &[u8; 32]) -> u128 {
    let id = subsidy_id(epoch, node);
    s.ledger
        .read(|l| l.transfer(id).map_or(0, |t| t.amount))
        .await
}

/// What epoch `epoch` settled for a site on a terminal, (fee burned, paid to the terminal), or None if
/// it is not settled yet.
pub(crate) async fn settled(
    s: &Shared,
    epoch: u64,
    site: i64,
    node: &[u8; 32],
) -> Option<(u128, u128)> {
    let (fee, pay) = (fee_id(epoch, site, node), payout_id(epoch, site, node));
    s.ledger
        .read(|l| {
            let (f, p) = (l.transfer(fee), l.transfer(pay));
            (f.is_some() || p.is_some())
                .then(|| (f.map_or(0, |t| t.amount), p.map_or(0, |t| t.amount)))
        })
        .await
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
pub(crate) async fn run(s: Arc<Shared>, cfg: BillingConfig, mut stop: watch::Receiver<bool>) {
    let tick = Duration::from_secs((cfg.epoch_secs / 4).clamp(1, 30));
    // Epochs back from now to (re)check after a start: settling is idempotent, so a router that was down
    // catches up and one that was not does nothing twice.
    let mut next = (meson_node::unix_now() / cfg.epoch_secs).saturating_sub(24);
    loop {
        let current = meson_node::unix_now() / cfg.epoch_secs;
        s.uptime
            .sample(current, &s.registry.rotation(s.cfg.heartbeat));
        while next < current {
            match settle(&s, &cfg, next).await {
                Ok(_) => next += 1,
                Err(e) => {
                    tracing::error!(epoch = next, error = %e, "settlement failed; retrying");
                    break;
                }
            }
        }
        if let Err(e) = refresh_unfunded(&s).await {
            tracing::warn!(error = %e, "cannot refresh the funded sites");
        }
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
    fn the_most_specific_listed_region_sets_the_price() {
        let cfg = BillingConfig {
            region_prices: vec![("eu".into(), 20), ("eu/west".into(), 30)],
            price_per_gib: 10,
            ..BillingConfig::default()
        };
        let r = |name: &str| Region::new(name).unwrap();
        assert_eq!(cfg.price_in(Some(&r("eu/west/paris"))), 30);
        assert_eq!(cfg.price_in(Some(&r("eu/north"))), 20);
        assert_eq!(cfg.price_in(Some(&r("na"))), 10);
        assert_eq!(cfg.price_in(None), 10);
    }

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
