//! The per-client-prefix ticket budget: how many paid tickets one client prefix (the ticket's /24 or /48)
//! gets per site, so that a terminal requesting tickets for itself, or a few friends doing so, earns from a
//! site's escrow at a bounded rate. One token bucket per (site, prefix), refilled at `per_min` a minute up
//! to `burst`: sized for a busy office or a carrier-grade NAT behind one prefix, not for one person.
//!
//! Memory is bounded: at most [`MAX_TRACKED`] buckets. A bucket that has refilled is the same as none, so
//! when the table is full the refilled ones are forgotten (at most once a second, a scan); if it is still
//! full, a prefix not in it gets no paid ticket until room is made. Its clients are still served (the
//! redirect sends them to the origin): only the escrow is protected.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use meson_core::ticket::ClientPrefix;

/// Buckets kept at most: 100 000 (site, prefix) pairs, a few MiB.
pub(crate) const MAX_TRACKED: usize = 100_000;

/// Paid tickets per client prefix and site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetConfig {
    /// Tickets a minute, sustained (default 600); 0: no bound.
    pub per_min: u32,
    /// Tickets at once after a quiet spell (default 1200).
    pub burst: u32,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            per_min: 600,
            burst: 1200,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Buckets {
    map: HashMap<(i64, ClientPrefix), Bucket>,
    swept: Option<Instant>,
}

pub(crate) struct PrefixBudget {
    capacity: usize,
    buckets: Mutex<Buckets>,
}

impl BudgetConfig {
    fn rate(&self) -> f64 {
        f64::from(self.per_min) / 60.0
    }

    fn burst(&self) -> f64 {
        f64::from(self.burst.max(1))
    }
}

impl PrefixBudget {
    pub fn new(capacity: usize) -> Self {
        PrefixBudget {
            capacity,
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                swept: None,
            }),
        }
    }

    /// Takes one paid ticket for a client of `prefix` on `site` at `now`, under the budget `cfg` in
    /// force; false when its budget is spent.
    pub fn take(&self, cfg: BudgetConfig, site: i64, prefix: ClientPrefix, now: Instant) -> bool {
        if cfg.per_min == 0 {
            return true;
        }
        let (rate, burst) = (cfg.rate(), cfg.burst());
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let key = (site, prefix);
        if !b.map.contains_key(&key)
            && b.map.len() >= self.capacity
            && !self.sweep(&mut b, rate, burst, now)
        {
            return false;
        }
        let bucket = b.map.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        let tokens = (bucket.tokens + elapsed * rate).min(burst);
        let granted = tokens >= 1.0;
        *bucket = Bucket {
            tokens: if granted { tokens - 1.0 } else { tokens },
            at: now,
        };
        granted
    }

    /// Forgets the buckets that have refilled, at most once a second; whether there is room now.
    fn sweep(&self, b: &mut Buckets, rate: f64, burst: f64, now: Instant) -> bool {
        if b.swept
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1))
        {
            b.swept = Some(now);
            b.map.retain(|_, k| {
                k.tokens + now.saturating_duration_since(k.at).as_secs_f64() * rate < burst
            });
        }
        b.map.len() < self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(ip: &str) -> ClientPrefix {
        ClientPrefix::around(ip.parse().unwrap())
    }

    /// A budget under one configuration throughout.
    struct Fixed(PrefixBudget, BudgetConfig);

    impl Fixed {
        fn take(&self, site: i64, prefix: ClientPrefix, now: Instant) -> bool {
            self.0.take(self.1, site, prefix, now)
        }
    }

    fn budget(per_min: u32, burst: u32, capacity: usize) -> Fixed {
        Fixed(PrefixBudget::new(capacity), BudgetConfig { per_min, burst })
    }

    #[test]
    fn a_prefix_gets_its_burst_then_its_rate_per_site() {
        let b = budget(60, 3, 100);
        let t0 = Instant::now();
        let p = prefix("192.0.2.7");
        assert!((0..3).all(|_| b.take(1, p, t0)));
        assert!(!b.take(1, p, t0), "burst spent");
        assert!(!b.take(1, prefix("192.0.2.200"), t0), "the same /24");
        assert!(b.take(1, prefix("192.0.3.1"), t0), "another /24");
        assert!(b.take(2, p, t0), "another site");
        // 60 a minute: one more a second.
        assert!(!b.take(1, p, t0 + Duration::from_millis(900)));
        assert!(b.take(1, p, t0 + Duration::from_millis(1_950)));
        assert!(!b.take(1, p, t0 + Duration::from_millis(1_960)));
        assert!(
            (0..3).all(|_| b.take(1, p, t0 + Duration::from_secs(60))),
            "refilled to the burst, no further"
        );
        assert!(!b.take(1, p, t0 + Duration::from_secs(60)));
    }

    #[test]
    fn no_bound_at_zero_a_minute() {
        let b = budget(0, 1, 1);
        let t0 = Instant::now();
        assert!((0..10_000).all(|i| b.take(i % 7, prefix("192.0.2.1"), t0)));
    }

    #[test]
    fn a_full_table_forgets_refilled_buckets_and_otherwise_refuses_new_prefixes() {
        let b = budget(60, 2, 2);
        let t0 = Instant::now();
        assert!(b.take(1, prefix("10.0.1.1"), t0));
        assert!(b.take(1, prefix("10.0.2.1"), t0));
        assert!(
            !b.take(1, prefix("10.0.3.1"), t0),
            "full of buckets still refilling"
        );
        // A second later both have refilled: forgetting them changes nothing, and makes room.
        let later = t0 + Duration::from_secs(1);
        assert!(b.take(1, prefix("10.0.3.1"), later));
        assert!(b.take(1, prefix("10.0.1.1"), later));
        assert_eq!(b.0.buckets.lock().unwrap().map.len(), 2);
    }
}
