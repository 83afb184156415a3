//! The background scrub: re-hashes stored slices at a bounded rate and removes any that no longer match
//! their root. Slices not hashed since an unclean stop go first.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::cache::Cache;
use crate::object::ObjectId;

const BATCH: usize = 64;

/// Runs until `shutdown`; sleeps after each slice so the average rate stays at `cfg.scrub_rate` bytes/s.
pub async fn run(cache: Arc<Cache>, mut shutdown: watch::Receiver<bool>) {
    let rate = cache.config().scrub_rate;
    if rate == 0 {
        return;
    }
    let mut cursor: Option<(ObjectId, u32)> = None;
    loop {
        let unverified = cache.index().unverified(BATCH);
        let batch = if unverified.is_empty() {
            let b = cache.index().slices_after(cursor, BATCH);
            if b.is_empty() {
                cursor = None;
            }
            b
        } else {
            unverified
        };
        if batch.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                _ = crate::shutdown::stopped(&mut shutdown) => return,
            }
        }
        for (id, slice, file) in batch {
            let c = cache.clone();
            let checked =
                tokio::task::spawn_blocking(move || c.verify_slice(&id, slice, &file)).await;
            match checked {
                Ok(_) => metrics::counter!("meson_terminal_scrub_bytes_total").increment(file.len),
                Err(e) => tracing::error!(error = %e, "scrub task failed"),
            }
            cursor = Some((id, slice));
            let pause = Duration::from_secs_f64(file.len.max(4096) as f64 / rate as f64);
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = crate::shutdown::stopped(&mut shutdown) => return,
            }
        }
    }
}
