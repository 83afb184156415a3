//! An epoch's settlement: the usage a router accepted in the epoch, charged to each site's escrow, paid
//! to the terminals that served it and the protocol fee split between the burn and the revenue pool, by
//! the formulas of [`crate::economics`], plus the bootstrap subsidy out of the treasury and the
//! dividends out of the revenue pool.
//!
//! - Transfer ids derive from (epoch, site, terminal) ([`Purpose::Fee`], [`Purpose::HolderShare`],
//!   [`Purpose::Payout`]) and a site's transfers form one linked chain, so settling again after a crash
//!   applies nothing twice and never half a site; a site any of whose transfers exists is settled
//!   already and is left out.
//! - A zero amount is not a transfer (a few bytes cost less than a base unit).
//! - With a subsidy (`subsidy_bps` and a cap), the treasury adds a share of what each terminal earned in
//!   this plan's chains ([`crate::economics::subsidies`]), as one more chain. The plan is one batch, so
//!   the subsidy is decided with the earnings it tops up, never later: enabling the subsidy, raising its
//!   cap or funding the treasury never pays for epochs already settled. No subsidy is paid twice for an
//!   epoch (an earlier batch of the epoch may have carried it, should a site chain of it have failed).
//! - With a holders' share (`holder_share_bps`), each line's fee pays that share into the revenue pool
//!   ([`crate::accounts::REVENUE`]) inside the site's chain, and a last chain pays the whole pool (what
//!   earlier epochs left, plus what this plan's chains pay in) to the stakers pro rata
//!   ([`crate::economics::dividends`]), into their wallets ([`Purpose::Dividend`]). Like the subsidy, it
//!   is paid by the batch that settles the epoch, at most once per epoch, and never for an epoch with
//!   nothing settled now; what rounding leaves, or everything when no one stakes, stays in the pool for
//!   the next epoch. Should a site chain of the batch fail, the pool holds less than the dividend chain
//!   pays, so that chain fails whole and a later epoch pays the pool instead.

use std::collections::{BTreeMap, BTreeSet};

use meson_core::schedule::Region;

use crate::accounts::{self, BURN, REVENUE, TREASURY};
use crate::chains::link;
use crate::economics::{dividends, fit_to_escrow, line, quality_bps, split_fee, subsidies, Line};
use crate::ids::Purpose;
use crate::memo::Memo;
use crate::{Amount, Ledger, NewAccount, Transfer, TransferCode, ONE_TOKEN};

/// Prices and fee; billing is off when a router has none.
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// Seconds per epoch (default 3600).
    pub epoch_secs: u64,
    /// Base units charged per GiB served (default 0.1 token).
    pub price_per_gib: u128,
    /// The protocol fee, in basis points of the charge (default 2000: 20 %): burned, but for the holders'
    /// share.
    pub fee_bps: u32,
    /// Prices of regions that differ from `price_per_gib`: a terminal's bytes are priced by the most
    /// specific of its region's levels listed here (`eu/west`, then `eu`), else `price_per_gib`.
    pub region_prices: Vec<(String, u128)>,
    /// Bootstrap subsidy from the treasury, in basis points of what a terminal earned from customers in
    /// the epoch (default 0: off).
    pub subsidy_bps: u32,
    /// The most base units the treasury pays in subsidies per epoch, across all terminals (default 0).
    pub subsidy_cap: u128,
    /// The share of the protocol fee paid into the revenue pool for stakers rather than burned, in basis
    /// points of the fee (default 0: the whole fee burns).
    pub holder_share_bps: u32,
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig {
            epoch_secs: 3600,
            price_per_gib: ONE_TOKEN / 10,
            fee_bps: 2_000,
            region_prices: Vec::new(),
            subsidy_bps: 0,
            subsidy_cap: 0,
            holder_share_bps: 0,
        }
    }
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

/// Bytes a terminal served for a site in the epoch, as the router accepted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub site: i64,
    pub node: [u8; 32],
    pub bytes: u64,
}

/// How each terminal stood in the epoch.
pub trait Terminals {
    /// Its region, which prices its bytes; `None` when unknown.
    fn region(&self, node: &[u8; 32]) -> Option<&Region>;
    /// The share of the epoch it was in rotation, in basis points.
    fn uptime_bps(&self, node: &[u8; 32]) -> u32;
    /// The share of its spot-check audits in the epoch it passed, in basis points (10 000 when none
    /// counted: a terminal nobody audited is not presumed to cheat).
    fn audit_pass_bps(&self, node: &[u8; 32]) -> u32;
}

/// What settling an epoch takes: open `accounts`, then submit `transfers` as one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettlementPlan {
    /// The escrow of every site settled now and the earnings accounts of its terminals; the revenue pool
    /// when a chain pays into it, and the wallet of every staker paid a dividend.
    pub accounts: Vec<NewAccount>,
    /// One linked chain per site settled now, then the subsidy chain, then the dividend chain; empty
    /// when nothing is due.
    pub transfers: Vec<Transfer>,
    /// What each site settled now pays, fee and earnings (whether or not it came to a transfer).
    pub spent: Vec<(i64, Amount)>,
    /// Sites with a chain in `transfers`.
    pub sites: usize,
    /// What the subsidy chain pays in all.
    pub subsidised: Amount,
    /// What the site chains pay into the revenue pool in all.
    pub pooled: Amount,
    /// What the dividend chain pays stakers in all.
    pub dividends: Amount,
}

/// Settles `epoch` from its `usage`, one line per site and terminal (a site's chain follows the order of
/// its lines), on the ledger `l`.
pub fn plan(
    l: &Ledger,
    cfg: &BillingConfig,
    epoch: u64,
    usage: &[Usage],
    terminals: &impl Terminals,
) -> SettlementPlan {
    let mut by_site: BTreeMap<i64, Vec<([u8; 32], u64)>> = BTreeMap::new();
    for u in usage {
        by_site.entry(u.site).or_default().push((u.node, u.bytes));
    }
    let mut plan = SettlementPlan::default();
    let mut nodes = BTreeSet::new();
    // What each terminal earns from the chains of this plan: the base of its subsidy.
    let mut earned: BTreeMap<[u8; 32], u128> = BTreeMap::new();
    for (site, lines_of) in by_site {
        nodes.extend(lines_of.iter().map(|(node, _)| *node));
        // The site's transfers are one chain: if any exists, the site's epoch is settled.
        if lines_of
            .iter()
            .any(|(node, _)| settled(l, epoch, site, node).is_some())
        {
            continue;
        }
        let escrow = accounts::escrow(site);
        plan.accounts.push(escrow);
        let mut opened: Vec<NewAccount> = lines_of
            .iter()
            .map(|(node, _)| accounts::terminal(node))
            .collect();
        opened.dedup_by_key(|a| a.id);
        plan.accounts.extend(opened);
        let available = l
            .account(escrow.id)
            .and_then(|a| a.available())
            .unwrap_or(0);
        let mut lines: Vec<Line> = lines_of
            .iter()
            .map(|(node, bytes)| {
                let quality =
                    quality_bps(terminals.uptime_bps(node), terminals.audit_pass_bps(node));
                line(
                    *bytes,
                    cfg.price_in(terminals.region(node)),
                    cfg.fee_bps,
                    quality,
                )
            })
            .collect();
        fit_to_escrow(&mut lines, available);
        plan.spent.push((site, lines.iter().map(Line::paid).sum()));
        let mut chain = Vec::new();
        for ((node, _), l) in lines_of.iter().zip(&lines) {
            let node = *node;
            let (burned, holders) = split_fee(l.fee, cfg.holder_share_bps);
            let parts = [
                (
                    Purpose::Fee { epoch, site, node },
                    BURN,
                    burned,
                    TransferCode::Burn,
                ),
                (
                    Purpose::HolderShare { epoch, site, node },
                    REVENUE,
                    holders,
                    TransferCode::Fee,
                ),
                (
                    Purpose::Payout { epoch, site, node },
                    accounts::terminal_account(&node),
                    l.earned,
                    TransferCode::Payout,
                ),
            ];
            chain.extend(parts.map(|(purpose, to, amount, code)| {
                Transfer::new(purpose.id(), escrow.id, to, amount, code)
                    .with_memo(Memo::Epoch(epoch))
            }));
        }
        chain.retain(|t| t.amount > 0);
        if chain.is_empty() {
            continue;
        }
        for ((node, _), l) in lines_of.iter().zip(&lines) {
            *earned.entry(*node).or_default() += l.earned;
        }
        plan.pooled += chain
            .iter()
            .filter(|t| t.credit_account == REVENUE)
            .map(|t| t.amount)
            .sum::<Amount>();
        link(&mut chain);
        plan.transfers.extend(chain);
        plan.sites += 1;
    }
    if plan.transfers.is_empty() {
        return plan;
    }
    if plan.pooled > 0 {
        plan.accounts.push(accounts::revenue());
    }
    let subsidy = subsidy_chain(l, cfg, epoch, &nodes, &earned);
    plan.subsidised = subsidy.iter().map(|t| t.amount).sum();
    plan.transfers.extend(subsidy);
    let dividend = dividend_chain(l, epoch, plan.pooled);
    plan.dividends = dividend.iter().map(|(_, t)| t.amount).sum();
    plan.accounts
        .extend(dividend.iter().map(|(owner, _)| accounts::wallet(owner)));
    plan.transfers.extend(dividend.into_iter().map(|(_, t)| t));
    plan
}

/// The epoch's subsidy, treasury → terminal accounts, as one chain: empty when the subsidy is off, when
/// the treasury is empty, or when a subsidy of this epoch was already paid to any of `nodes`.
fn subsidy_chain(
    l: &Ledger,
    cfg: &BillingConfig,
    epoch: u64,
    nodes: &BTreeSet<[u8; 32]>,
    earned: &BTreeMap<[u8; 32], u128>,
) -> Vec<Transfer> {
    if cfg.subsidy_bps == 0 || cfg.subsidy_cap == 0 || earned.values().all(|e| *e == 0) {
        return Vec::new();
    }
    let paid_before = nodes.iter().any(|n| {
        l.transfer(Purpose::Subsidy { epoch, node: *n }.id())
            .is_some()
    });
    let treasury = l.account(TREASURY).and_then(|a| a.available()).unwrap_or(0);
    if paid_before || treasury == 0 {
        return Vec::new();
    }
    let (nodes, base): (Vec<[u8; 32]>, Vec<u128>) = earned.iter().map(|(n, e)| (*n, *e)).unzip();
    let amounts = subsidies(&base, cfg.subsidy_bps, cfg.subsidy_cap, treasury);
    let mut chain: Vec<Transfer> = nodes
        .iter()
        .zip(amounts)
        .filter(|(_, amount)| *amount > 0)
        .map(|(node, amount)| {
            Transfer::new(
                Purpose::Subsidy { epoch, node: *node }.id(),
                TREASURY,
                accounts::terminal_account(node),
                amount,
                TransferCode::Subsidy,
            )
            .with_memo(Memo::Epoch(epoch))
        })
        .collect();
    link(&mut chain);
    chain
}

/// The epoch's dividends, revenue pool → stakers' wallets, as one chain of (staker, transfer): the pool's
/// available balance plus `pooled` (what this plan's site chains pay in before it) shared by
/// [`staked`]. Empty when the pool is empty, when no one stakes, or when a dividend of this epoch was
/// already paid to anyone: every staker ever paid still has its stake account, so none is missed.
fn dividend_chain(l: &Ledger, epoch: u64, pooled: Amount) -> Vec<([u8; 32], Transfer)> {
    let stakes = staked(l);
    let id = |owner: &[u8; 32]| dividend_id(epoch, owner);
    if stakes
        .iter()
        .any(|(owner, _)| l.transfer(id(owner)).is_some())
    {
        return Vec::new();
    }
    let pool = l
        .account(REVENUE)
        .and_then(|a| a.available())
        .unwrap_or(0)
        .saturating_add(pooled);
    let weights: Vec<Amount> = stakes.iter().map(|(_, stake)| *stake).collect();
    let (owners, mut chain): (Vec<[u8; 32]>, Vec<Transfer>) = stakes
        .iter()
        .zip(dividends(&weights, pool))
        .filter(|(_, amount)| *amount > 0)
        .map(|((owner, _), amount)| {
            let t = Transfer::new(
                id(owner),
                REVENUE,
                accounts::wallet_account(owner),
                amount,
                TransferCode::Dividend,
            );
            (*owner, t.with_memo(Memo::Epoch(epoch)))
        })
        .unzip();
    link(&mut chain);
    owners.into_iter().zip(chain).collect()
}

/// Every key with a stake account, in account order, and the stake it earns dividends on: the stake
/// account's available balance. Unbonding stake (an unstake pending until it unlocks) does not count,
/// though it stays slashable until then: its holder has asked for it back, and dividends reward stake
/// that keeps backing the network, not the weeks of a withdrawal already decided (else unstaking would
/// cost nothing until the tokens are out). A council lock is not in the stake account at all (it is a
/// reservation of the wallet, paid for by the seat reward), so it does not count either.
pub fn staked(l: &Ledger) -> Vec<([u8; 32], Amount)> {
    l.accounts()
        .filter_map(|a| {
            let owner = a.owner?;
            (a.id == accounts::stake_account(&owner)).then(|| (owner, a.available().unwrap_or(0)))
        })
        .collect()
}

/// What the revenue pool paid `owner` as epoch `epoch`'s dividend (0 if nothing).
pub fn dividends_paid(l: &Ledger, epoch: u64, owner: &[u8; 32]) -> Amount {
    l.transfer(dividend_id(epoch, owner))
        .map_or(0, |t| t.amount)
}

fn dividend_id(epoch: u64, owner: &[u8; 32]) -> u128 {
    Purpose::Dividend {
        epoch,
        owner: *owner,
    }
    .id()
}

/// Every dividend the revenue pool paid `owner`, as (epoch, amount) in epoch order.
pub fn dividend_history(l: &Ledger, owner: &[u8; 32]) -> Vec<(u64, Amount)> {
    let mut paid: Vec<(u64, Amount)> = l
        .transfers_of(accounts::wallet_account(owner), usize::MAX)
        .into_iter()
        .filter_map(|t| {
            let epoch = u64::try_from(t.transfer.user_data).ok()?;
            (t.transfer.id == dividend_id(epoch, owner)).then_some((epoch, t.amount))
        })
        .collect();
    paid.sort_unstable();
    paid
}

/// What the treasury paid a terminal as epoch `epoch`'s subsidy (0 if nothing).
pub fn subsidy_paid(l: &Ledger, epoch: u64, node: &[u8; 32]) -> Amount {
    l.transfer(Purpose::Subsidy { epoch, node: *node }.id())
        .map_or(0, |t| t.amount)
}

/// What epoch `epoch` settled for a site on a terminal, (protocol fee, paid to the terminal), or `None`
/// if it is not settled yet. The fee is all the site paid beyond the terminal's pay: burned, and the
/// holders' share paid into the revenue pool.
pub fn settled(l: &Ledger, epoch: u64, site: i64, node: &[u8; 32]) -> Option<(Amount, Amount)> {
    let node = *node;
    let [burned, pooled, paid] = [
        Purpose::Fee { epoch, site, node },
        Purpose::HolderShare { epoch, site, node },
        Purpose::Payout { epoch, site, node },
    ]
    .map(|p| l.transfer(p.id()).map(|t| t.amount));
    (burned.is_some() || pooled.is_some() || paid.is_some())
        .then(|| (burned.unwrap_or(0) + pooled.unwrap_or(0), paid.unwrap_or(0)))
}

/// The epoch's payouts, one leaf per terminal account in account order: (index, account, amount), the
/// amount being all the account was paid for the epoch (customer earnings and subsidy), so its proof
/// covers every token it received. `None` while a line of `usage` is not settled.
pub fn payout_leaves(l: &Ledger, epoch: u64, usage: &[Usage]) -> Option<Vec<(u64, u128, Amount)>> {
    let mut by_account: BTreeMap<u128, u128> = BTreeMap::new();
    let mut nodes = BTreeSet::new();
    for u in usage {
        let (_, earned) = settled(l, epoch, u.site, &u.node)?;
        if earned > 0 {
            *by_account
                .entry(accounts::terminal_account(&u.node))
                .or_default() += earned;
        }
        nodes.insert(u.node);
    }
    // A terminal's subsidy is one transfer per epoch, however many sites it served.
    for node in &nodes {
        let subsidy = subsidy_paid(l, epoch, node);
        if subsidy > 0 {
            *by_account
                .entry(accounts::terminal_account(node))
                .or_default() += subsidy;
        }
    }
    Some(
        by_account
            .into_iter()
            .enumerate()
            .map(|(i, (account, amount))| (i as u64, account, amount))
            .collect(),
    )
}

#[cfg(test)]
mod tests;
