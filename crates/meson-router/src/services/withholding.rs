//! The share cap at settlement ([`meson_ledger::prefix_share`]): before an epoch is paid, the usage a
//! terminal served a site mostly from a few client prefixes is withheld (not paid, not slashed) until the
//! operator releases it (paid in the epoch of the release) or rejects it (never paid: concentrated
//! traffic is not proof of anything, so nothing is slashed). And the views of it: the operator's list and
//! the site owner's traffic per terminal and per client prefix.

use std::collections::{BTreeMap, HashMap};

use meson_api::traffic::{PrefixTraffic, SiteTraffic, TerminalTraffic, Traffic, WithheldUsage};
use meson_core::identity::NodeId;
use meson_ledger::prefix_share::{self, Candidate, ShareCap};
use meson_ledger::settlement;
use meson_store::{PrefixUsage, Reviewed, Site, StoreError, WithheldSelector, WithheldState};

use super::error::ServiceResult;
use crate::Shared;

/// Withholds, for epoch `epoch` of `epoch_secs`, the excess of each terminal's usage for each site over
/// the cap, unless the site's epoch is settled already or the pair was judged before (a crash between
/// withholding and paying): then the same records stay withheld and nothing more is. Returns how many
/// records it withheld now.
pub(crate) async fn judge(
    s: &Shared,
    cap: &ShareCap,
    epoch_secs: u64,
    epoch: u64,
) -> Result<u64, StoreError> {
    let from = epoch * epoch_secs;
    let to = from + epoch_secs;
    let usage = s.store.prefix_usage(None, from, to).await?;
    let mut pairs: BTreeMap<(i64, [u8; 32]), Vec<&PrefixUsage>> = BTreeMap::new();
    for u in &usage {
        pairs.entry((u.site_id, u.terminal)).or_default().push(u);
    }
    let mut withheld = 0;
    for ((site, terminal), rows) in &pairs {
        if rows.iter().any(|r| r.withheld_bytes + r.rejected_bytes > 0) {
            continue;
        }
        // Records released into this epoch were judged in theirs: only never-judged bytes count.
        let by_prefix: Vec<_> = rows
            .iter()
            .map(|r| (r.client_prefix, r.unjudged_bytes))
            .collect();
        let Some(excess) = prefix_share::excess(cap, &by_prefix) else {
            continue;
        };
        let mut nodes = pairs.keys().filter(|(s, _)| s == site).map(|(_, n)| n);
        if s.ledger
            .read(|l| nodes.any(|n| settlement::settled(l, epoch, *site, n).is_some()))
            .await
        {
            continue;
        }
        let candidates: Vec<Candidate> = s
            .store
            .prefix_records(*site, *terminal, &excess.prefixes, from, to)
            .await?
            .into_iter()
            .map(|(serial, served_at, bytes)| Candidate {
                serial,
                served_at,
                bytes,
            })
            .collect();
        let picked = prefix_share::pick(&candidates, excess.excess);
        let reason = excess.reason(cap);
        let n = s.store.withhold_usage(&picked, epoch, &reason).await?;
        tracing::warn!(
            site,
            terminal = %node_name(terminal),
            epoch,
            records = n,
            excess = excess.excess,
            %reason,
            "usage withheld for review"
        );
        metrics::counter!("meson_router_usage_withheld_total").increment(n);
        withheld += n;
    }
    Ok(withheld)
}

fn node_name(node: &[u8; 32]) -> String {
    NodeId::from_bytes(node).map_or_else(|_| hex::encode(node), |id| id.to_string())
}

fn prefix_name(prefix: Option<meson_store::ClientPrefix>) -> String {
    prefix.map_or_else(|| "unknown".to_owned(), |p| p.to_string())
}

/// Withheld usage as the operator reviews it.
pub(crate) async fn list(
    s: &Shared,
    state: Option<WithheldState>,
    limit: usize,
) -> ServiceResult<Vec<WithheldUsage>> {
    let records = s.store.withheld_usage(state, limit).await?;
    let mut hosts: HashMap<i64, String> = HashMap::new();
    Ok(records
        .into_iter()
        .map(|r| WithheldUsage {
            serial: r.serial,
            site: hosts
                .entry(r.site_id)
                .or_insert_with(|| {
                    s.sites
                        .by_id(r.site_id)
                        .map_or_else(|| r.site_id.to_string(), |site| site.host.clone())
                })
                .clone(),
            node_id: node_name(&r.terminal),
            prefix: prefix_name(r.client_prefix),
            bytes: r.bytes,
            requests: r.requests,
            served_at: r.served_at,
            epoch: r.epoch,
            reason: r.reason,
            state: r.state.as_str().to_owned(),
            reviewed_at: r.reviewed_at,
        })
        .collect())
}

/// Releases or rejects what `which` selects; deciding again changes nothing.
pub(crate) async fn review(
    s: &Shared,
    which: WithheldSelector,
    to: WithheldState,
) -> ServiceResult<Reviewed> {
    let reviewed = s.store.review_withheld(which, to).await?;
    tracing::info!(
        ?which,
        decision = to.as_str(),
        changed = reviewed.changed,
        bytes = reviewed.bytes,
        "withheld usage reviewed"
    );
    Ok(reviewed)
}

fn traffic_of(u: &PrefixUsage) -> Traffic {
    Traffic {
        tickets: u.records,
        requests: u.requests,
        bytes: u.bytes,
        withheld_bytes: u.withheld_bytes,
        rejected_bytes: u.rejected_bytes,
    }
}

/// Sums `rows` by `key`, most bytes first (then by key).
fn summed<K: Ord + Clone>(
    rows: &[PrefixUsage],
    key: impl Fn(&PrefixUsage) -> K,
) -> Vec<(K, Traffic)> {
    let mut by: BTreeMap<K, Traffic> = BTreeMap::new();
    for r in rows {
        by.entry(key(r)).or_default().add(&traffic_of(r));
    }
    let mut out: Vec<(K, Traffic)> = by.into_iter().collect();
    out.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then_with(|| a.0.cmp(&b.0)));
    out
}

/// The site's accepted usage in `epoch` of `epoch_secs`, per terminal and per client prefix (the `top`
/// largest listed, the rest summed).
pub(crate) async fn site_traffic(
    s: &Shared,
    site: &Site,
    epoch_secs: u64,
    epoch: u64,
    top: usize,
) -> ServiceResult<SiteTraffic> {
    let from = epoch.saturating_mul(epoch_secs);
    let rows = s
        .store
        .prefix_usage(Some(site.id), from, from.saturating_add(epoch_secs))
        .await?;
    let mut total = Traffic::default();
    for r in &rows {
        total.add(&traffic_of(r));
    }
    let mut prefixes = summed(&rows, |r| r.client_prefix);
    let rest = prefixes.split_off(top.min(prefixes.len()));
    let mut other = Traffic::default();
    for (_, t) in &rest {
        other.add(t);
    }
    Ok(SiteTraffic {
        host: site.host.clone(),
        epoch,
        epoch_secs,
        total,
        terminals: summed(&rows, |r| r.terminal)
            .into_iter()
            .map(|(node, traffic)| TerminalTraffic {
                node_id: node_name(&node),
                traffic,
            })
            .collect(),
        prefixes: prefixes
            .into_iter()
            .map(|(p, traffic)| PrefixTraffic {
                prefix: prefix_name(p),
                traffic,
            })
            .collect(),
        other_prefixes: rest.len() as u64,
        other,
    })
}
