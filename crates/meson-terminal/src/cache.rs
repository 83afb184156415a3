//! The cache engine: store, index, fills in flight and the origin client, independent of how requests
//! arrive or how the terminal learns what to serve.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use meson_core::content::Root;
use meson_core::eviction::new_policy;
use meson_core::http_cache;

use crate::config::TerminalConfig;
use crate::fill::Fill;
use crate::index::{Index, ObjectRef, Removed};
use crate::object::ObjectId;
use crate::site::Sites;
use crate::store::{SliceFile, StartupReport, Store, StoreError};

pub use meson_node::unix_now;

/// Live counters the heartbeat reports; the same events also go to the Prometheus metrics.
#[derive(Debug, Default)]
pub struct Stats {
    pub bytes_out: AtomicU64,
    pub active_connections: AtomicU64,
    pub requests: AtomicU64,
    /// Bytes per second sent to clients over the last sampling interval.
    pub egress_rate: AtomicU64,
}

pub struct Cache {
    pub stats: Arc<Stats>,
    pub(crate) hot: crate::hot::HotBodies,
    pub(crate) cfg: Arc<TerminalConfig>,
    pub(crate) store: Store,
    pub(crate) index: Mutex<Index>,
    pub(crate) fills: Mutex<HashMap<(ObjectId, u32), Arc<Fill>>>,
    pub(crate) sites: Arc<dyn Sites>,
    disk_full: AtomicBool,
    free_disk: AtomicU64,
}

impl Cache {
    /// Opens the store, checks it, and rebuilds the index. Blocking: call before serving.
    pub fn open(
        cfg: Arc<TerminalConfig>,
        sites: Arc<dyn Sites>,
    ) -> Result<(Arc<Cache>, StartupReport), StoreError> {
        let (store, mut report) = Store::open(&cfg.data_dir, cfg.fsync)?;
        let mut index = Index::new(new_policy(cfg.policy, cfg.capacity));
        let objects = std::mem::take(&mut report.objects);
        let mut dropped = Removed::default();
        for obj in objects {
            let vary = match http_cache::vary_fields(&obj.meta.headers) {
                Ok(v) => v,
                Err(_) => {
                    dropped.objects.push(obj.id);
                    continue;
                }
            };
            let r = index.restore(obj.meta, vary, obj.slices, !report.unclean);
            dropped.slices.extend(r.slices);
            dropped.objects.extend(r.objects);
        }
        let cache = Arc::new(Cache {
            stats: Arc::new(Stats::default()),
            hot: crate::hot::HotBodies::new(cfg.memory_cache),
            cfg,
            store,
            index: Mutex::new(index),
            fills: Mutex::new(HashMap::new()),
            sites,
            disk_full: AtomicBool::new(false),
            free_disk: AtomicU64::new(u64::MAX),
        });
        cache.delete_now(&dropped);
        cache.check_disk();
        Ok((cache, report))
    }

    pub fn config(&self) -> &TerminalConfig {
        &self.cfg
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().expect("index lock")
    }

    pub fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Relaxed)
    }

    pub fn free_disk(&self) -> u64 {
        self.free_disk.load(Ordering::Relaxed)
    }

    /// A write failed for lack of space: stop admitting until the next disk check finds room.
    pub(crate) fn note_disk_full(&self) {
        if !self.disk_full.swap(true, Ordering::Relaxed) {
            tracing::error!(dir = %self.store.dir().display(), "disk full: serving from cache, not admitting new objects");
            metrics::gauge!("meson_terminal_disk_full").set(1.0);
        }
    }

    /// Re-reads free space and decides whether the node may admit. Called periodically and after commits.
    pub fn check_disk(&self) {
        let Ok((free, _total)) = self.store.disk_space() else {
            return;
        };
        self.free_disk.store(free, Ordering::Relaxed);
        let full = free < self.cfg.min_free_disk;
        let was = self.disk_full.swap(full, Ordering::Relaxed);
        if full && !was {
            tracing::error!(
                free,
                min_free = self.cfg.min_free_disk,
                "disk full: serving from cache, not admitting new objects"
            );
        } else if !full && was {
            tracing::info!(free, "disk has room again: admitting new objects");
        }
        metrics::gauge!("meson_terminal_disk_full").set(if full { 1.0 } else { 0.0 });
        metrics::gauge!("meson_terminal_disk_free_bytes").set(free as f64);
    }

    pub(crate) fn update_disk_gauges(&self) {
        let index = self.index();
        metrics::gauge!("meson_terminal_disk_used_bytes").set(index.used_bytes() as f64);
        metrics::gauge!("meson_terminal_objects").set(index.object_count() as f64);
    }

    /// Deletes from disk what the index let go of (blocking).
    pub(crate) fn delete_now(&self, removed: &Removed) {
        for (id, slice, root) in &removed.slices {
            self.store.remove_slice(id, *slice, root);
        }
        for id in &removed.objects {
            self.store.remove_object(id);
        }
    }

    pub(crate) async fn delete(self: &Arc<Self>, removed: Removed) {
        if removed.slices.is_empty() && removed.objects.is_empty() {
            return;
        }
        let cache = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            cache.delete_now(&removed);
            cache.update_disk_gauges();
        })
        .await;
    }

    pub(crate) async fn drop_object(self: &Arc<Self>, obj: &ObjectRef) {
        let removed = self.index().remove_object(&obj.id);
        self.delete(removed).await;
    }

    /// After a failed fill, forgets heads that never got a body, so they do not linger in memory.
    pub(crate) fn forget_empty(self: &Arc<Self>, key: &str) {
        let removed = self.index().remove_empty_variants(key);
        self.delete_now(&removed);
    }

    /// Hashes a stored slice and compares it with its root; a mismatch (or a vanished file) removes the
    /// slice from the index and the disk. Blocking.
    pub fn verify_slice(&self, id: &ObjectId, slice: u32, file: &SliceFile) -> bool {
        let ok = self
            .store
            .open_slice(id, slice, &file.root)
            .ok()
            .and_then(|f| hash_file(&f, file.len).ok())
            .is_some_and(|root| root == file.root);
        if ok {
            self.index().mark_verified(id, slice, &file.root);
        } else {
            tracing::error!(object = %id, slice, root = %file.root, "stored slice missing or not matching its root: removed");
            metrics::counter!("meson_terminal_corrupt_slices_total").increment(1);
            let removed = self.index().remove_slice(id, slice);
            self.delete_now(&removed);
            self.store.remove_slice(id, slice, &file.root);
        }
        ok
    }
}

/// BLAKE3 root of the first `len` bytes of a file, read in large positioned reads.
pub fn hash_file(f: &std::fs::File, len: u64) -> std::io::Result<Root> {
    use std::os::unix::fs::FileExt;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut pos = 0u64;
    while pos < len {
        let want = buf.len().min((len - pos) as usize);
        let n = f.read_at(&mut buf[..want], pos)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buf[..n]);
        pos += n as u64;
    }
    Ok(Root(*hasher.finalize().as_bytes()))
}
