//! The cache engine: store, index and fills in flight, independent of how requests arrive or how the
//! terminal learns what to serve. Every method of [`Cache`] is here: the store step of a fill (new heads,
//! commits, refreshes), purges, deletions and disk checks. Serving requests is [`crate::proxy`], running
//! fills [`crate::fill`], and reading bodies [`crate::source`]; they use the cache and it knows none of them.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http::header::{self, HeaderMap, HeaderValue};
use meson_core::content::Root;
use meson_core::eviction::new_policy;
use meson_core::http_cache::{self, NewHead};

use crate::config::TerminalConfig;
use crate::fills::{FillError, FillState, Fills};
use crate::hot::HotBodies;
use crate::index::{Index, ObjectRef, Removed};
use crate::object::{ObjectId, ObjectMeta, Purge};
use crate::site::Sites;
use crate::store::{SliceFile, StartupReport, Store, StoreError};
use crate::telemetry::Stats;

pub use meson_node::unix_now;

pub struct Cache {
    pub stats: Arc<Stats>,
    pub(crate) hot: HotBodies,
    pub(crate) cfg: Arc<TerminalConfig>,
    pub(crate) store: Store,
    pub(crate) index: Mutex<Index>,
    fills: Fills,
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
            hot: HotBodies::new(cfg.memory_cache),
            cfg,
            store,
            index: Mutex::new(index),
            fills: Fills::default(),
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

    /// The fills in flight.
    pub fn fills(&self) -> &Fills {
        &self.fills
    }

    /// Fills still running.
    pub fn fills_in_flight(&self) -> usize {
        self.fills.len()
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

    /// Removes what `what` names; returns how many objects.
    pub async fn purge(self: &Arc<Self>, what: Purge<'_>) -> usize {
        let removed = self.index().remove_where(|m| what.matches(m));
        let n = removed.objects.len();
        tracing::info!(objects = n, "purged");
        metrics::counter!("meson_terminal_purged_objects_total").increment(n as u64);
        self.delete(removed).await;
        n
    }

    /// Indexes the head of a new object a fill is about to store the body of.
    pub(crate) async fn put_head(
        self: &Arc<Self>,
        key: &str,
        head: NewHead,
        request_time: u64,
        response_time: u64,
        total: Option<u64>,
        slice_size: Option<u64>,
    ) -> ObjectRef {
        let meta = ObjectMeta {
            key: key.to_owned(),
            vary_key: head.vary_key,
            status: head.status,
            headers: head.headers,
            request_time,
            response_time,
            total_len: total.unwrap_or(0),
            slice_size,
        };
        let (obj, removed) = self.index().put_object(meta, head.vary);
        self.delete(removed).await;
        obj
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

    /// Moves a finished slice into the store and the index (blocking: renames and fsyncs).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn commit(
        &self,
        obj: &ObjectRef,
        slice: u32,
        tmp: &Path,
        file: &File,
        root: Root,
        outboard: &[u8],
        len: u64,
    ) -> Result<ObjectRef, StoreError> {
        // A body of unannounced length fixes the object's length only now.
        let obj = if obj.meta.total_len != len && obj.meta.slice_size.is_none() {
            let mut meta = (*obj.meta).clone();
            meta.total_len = len;
            meta.headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            let updated = self.index().update_meta(&obj.id, obj.generation, meta);
            match updated {
                Some(o) => o,
                None => {
                    let _ = std::fs::remove_file(tmp);
                    return Ok(obj.clone());
                }
            }
        } else {
            obj.clone()
        };
        if let Err(e) = self
            .store
            .commit_slice(&obj.id, slice, &root, tmp, file, outboard)
        {
            let _ = std::fs::remove_file(tmp);
            return Err(e);
        }
        self.store.write_meta(&obj.id, &obj.meta)?;
        let (admitted, removed) =
            self.index()
                .add_slice(&obj.id, obj.generation, slice, SliceFile { root, len });
        metrics::counter!("meson_terminal_evictions_total").increment(removed.slices.len() as u64);
        self.delete_now(&removed);
        if !admitted {
            // Not admitted (or replaced meanwhile): the waiters keep their open file; the disk forgets it.
            self.store.remove_slice(&obj.id, slice, &root);
            let removed = self.index().remove_if_empty(&obj.id);
            self.delete_now(&removed);
        }
        self.update_disk_gauges();
        Ok(obj)
    }

    /// A 304 refreshed a stored object: merge the new fields into its head (RFC 9111 §4.3.4).
    pub(crate) async fn refresh(
        self: &Arc<Self>,
        known: &ObjectRef,
        not_modified: &HeaderMap,
        request_time: u64,
        response_time: u64,
    ) -> FillState {
        let mut meta = (*known.meta).clone();
        meta.headers = http_cache::strip_for_storage(&http_cache::merge_not_modified(
            &meta.headers,
            not_modified,
        ));
        meta.request_time = request_time;
        meta.response_time = response_time;
        let updated = self.index().update_meta(&known.id, known.generation, meta);
        let Some(obj) = updated else {
            return FillState::Failed(FillError::Changed);
        };
        let cache = self.clone();
        let (id, m) = (obj.id, obj.meta.clone());
        let written = tokio::task::spawn_blocking(move || cache.store.write_meta(&id, &m))
            .await
            .expect("meta task");
        match written {
            Ok(()) => FillState::NotModified { obj },
            Err(e) => self.store_failure(e),
        }
    }

    pub(crate) fn store_failure(&self, e: StoreError) -> FillState {
        if e.is_disk_full() {
            self.note_disk_full();
        }
        FillState::Failed(FillError::Store(e.to_string().into()))
    }
}

/// BLAKE3 root of the first `len` bytes of a file, read in large positioned reads.
pub fn hash_file(f: &File, len: u64) -> std::io::Result<Root> {
    let mut hasher = blake3::Hasher::new();
    read_file(f, len, |b| {
        hasher.update(b);
    })?;
    Ok(Root(*hasher.finalize().as_bytes()))
}

/// Hands the first `len` bytes of a file to `each`, in order, in large positioned reads.
pub fn read_file(f: &File, len: u64, mut each: impl FnMut(&[u8])) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 256 * 1024];
    let mut pos = 0u64;
    while pos < len {
        let want = buf.len().min((len - pos) as usize);
        let n = f.read_at(&mut buf[..want], pos)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        each(&buf[..n]);
        pos += n as u64;
    }
    Ok(())
}
