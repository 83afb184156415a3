//! The in-memory index of what the store holds: cache keys, their variants, slices, roots, and the eviction
//! policy's view of them. Rebuilt from disk at start-up; every change to it is made after the disk change.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use http::{HeaderMap, HeaderName};
use meson_core::content::Root;
use meson_core::eviction::{EvictionPolicy, ObjectKey};
use meson_core::http_cache;
use meson_core::ticket::object_digest;
use meson_core::wire::HeldPiece;

use crate::object::{ObjectId, ObjectMeta};
use crate::store::SliceFile;

/// One stored slice and whether its bytes have been hashed since the last unclean stop.
#[derive(Debug, Clone, Copy)]
pub struct SliceEntry {
    pub file: SliceFile,
    pub verified: bool,
}

#[derive(Debug)]
struct Object {
    meta: Arc<ObjectMeta>,
    /// Bumped whenever the object is replaced, so a slice filled for an older version is not attached to it.
    generation: u64,
    slices: BTreeMap<u32, SliceEntry>,
}

/// The fields a key's responses vary on, and its variants by their request values.
#[derive(Debug, Default)]
struct KeyEntry {
    vary: Vec<HeaderName>,
    variants: HashMap<String, ObjectId>,
}

/// A consistent view of one object, taken under the lock.
#[derive(Debug, Clone)]
pub struct ObjectRef {
    pub id: ObjectId,
    pub meta: Arc<ObjectMeta>,
    pub generation: u64,
}

/// What a removal freed, for the store to delete.
#[derive(Debug, Default)]
pub struct Removed {
    pub objects: Vec<ObjectId>,
    pub slices: Vec<(ObjectId, u32, Root)>,
    pub bytes: u64,
}

/// Pieces a journal keeps between two heartbeats at most, each way; past it the oldest are dropped (the
/// router keeps only a sample of a terminal's holdings anyway).
const MAX_JOURNAL: usize = 4096;

/// What the store came to hold and stopped holding since the router was last told, for the heartbeat.
#[derive(Debug, Default)]
pub struct Journal {
    pub added: Vec<HeldPiece>,
    pub evicted: Vec<Root>,
}

impl Journal {
    fn add(&mut self, piece: HeldPiece) {
        self.evicted.retain(|r| *r != piece.root);
        if self.added.len() >= MAX_JOURNAL {
            self.added.remove(0);
        }
        self.added.push(piece);
    }

    fn evict(&mut self, root: Root) {
        self.added.retain(|p| p.root != root);
        if self.evicted.len() >= MAX_JOURNAL {
            self.evicted.remove(0);
        }
        self.evicted.push(root);
    }
}

pub struct Index {
    journal: Journal,
    keys: HashMap<String, KeyEntry>,
    objects: HashMap<ObjectId, Object>,
    slice_owner: HashMap<ObjectKey, (ObjectId, u32)>,
    roots: HashMap<Root, (ObjectId, u32)>,
    policy: Box<dyn EvictionPolicy>,
    next_generation: u64,
}

impl Index {
    pub fn new(policy: Box<dyn EvictionPolicy>) -> Self {
        Self {
            journal: Journal::default(),
            keys: HashMap::new(),
            objects: HashMap::new(),
            slice_owner: HashMap::new(),
            roots: HashMap::new(),
            policy,
            next_generation: 1,
        }
    }

    /// The pieces added and evicted since the last call.
    pub fn take_journal(&mut self) -> Journal {
        std::mem::take(&mut self.journal)
    }

    /// Puts back a journal the router did not receive, before what happened since.
    pub fn restore_journal(&mut self, old: Journal) {
        let newer = std::mem::replace(&mut self.journal, old);
        for root in newer.evicted {
            self.journal.evict(root);
        }
        for piece in newer.added {
            self.journal.add(piece);
        }
    }

    fn hold(&mut self, root: Root, id: ObjectId, i: u32, len: u64) {
        self.roots.insert(root, (id, i));
        if let Some(o) = self.objects.get(&id) {
            self.journal.add(HeldPiece {
                object: hex::encode(object_digest(o.meta.key.as_bytes())),
                root,
                len,
                version: meson_core::evidence::origin_version(&o.meta.headers),
            });
        }
    }

    fn release(&mut self, root: &Root) {
        if self.roots.remove(root).is_some() {
            self.journal.evict(*root);
        }
    }

    pub fn policy_name(&self) -> &'static str {
        self.policy.name()
    }

    pub fn used_bytes(&self) -> u64 {
        self.policy.used_bytes()
    }

    pub fn capacity(&self) -> u64 {
        self.policy.capacity()
    }

    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// A compact summary of the content held, for the heartbeat: BLAKE3 of the count and the XOR of every
    /// slice root. Order-free, so one pass with no sort or allocation.
    pub fn roots_digest(&self) -> String {
        let mut xor = [0u8; 32];
        for root in self.roots.keys() {
            for (x, b) in xor.iter_mut().zip(root.as_bytes()) {
                *x ^= b;
            }
        }
        let mut h = blake3::Hasher::new();
        h.update(&(self.roots.len() as u64).to_le_bytes());
        h.update(&xor);
        h.finalize().to_hex().to_string()
    }

    pub fn slice_count(&self) -> usize {
        self.slice_owner.len()
    }

    /// The vary fields known for `key`, so a request can be matched to a variant before any fill.
    pub fn vary_fields(&self, key: &str) -> Vec<HeaderName> {
        self.keys
            .get(key)
            .map(|k| k.vary.clone())
            .unwrap_or_default()
    }

    /// Finds the variant of `key` that matches the request's headers.
    pub fn lookup(&self, key: &str, req_headers: &HeaderMap) -> Option<ObjectRef> {
        let entry = self.keys.get(key)?;
        let vary_key = http_cache::vary_key(&entry.vary, req_headers);
        let id = *entry.variants.get(&vary_key)?;
        self.get(&id)
    }

    pub fn get(&self, id: &ObjectId) -> Option<ObjectRef> {
        self.objects.get(id).map(|o| ObjectRef {
            id: *id,
            meta: o.meta.clone(),
            generation: o.generation,
        })
    }

    /// The stored slice `i` of object `id` at `generation`, if present.
    pub fn slice(&self, id: &ObjectId, generation: u64, i: u32) -> Option<SliceEntry> {
        let o = self.objects.get(id)?;
        if o.generation != generation {
            return None;
        }
        o.slices.get(&i).copied()
    }

    pub fn by_root(&self, root: &Root) -> Option<(ObjectRef, u32, SliceEntry)> {
        let (id, i) = *self.roots.get(root)?;
        let o = self.objects.get(&id)?;
        let s = *o.slices.get(&i)?;
        Some((self.get(&id)?, i, s))
    }

    /// Records a request for a slice with the eviction policy (hits and misses both count).
    pub fn touch(&mut self, id: &ObjectId, slice: u32) {
        self.policy.access(id.slice_key(slice));
    }

    pub fn mark_verified(&mut self, id: &ObjectId, slice: u32, root: &Root) {
        if let Some(s) = self
            .objects
            .get_mut(id)
            .and_then(|o| o.slices.get_mut(&slice))
        {
            if s.file.root == *root {
                s.verified = true;
            }
        }
    }

    /// Adds or replaces an object's head; a replacement drops the old slices. Returns the new reference and
    /// what was displaced (for the store to delete).
    pub fn put_object(&mut self, meta: ObjectMeta, vary: Vec<HeaderName>) -> (ObjectRef, Removed) {
        let id = meta.object_id();
        let mut removed = Removed::default();
        let entry = self.keys.entry(meta.key.clone()).or_default();
        if entry.vary != vary {
            // The origin changed what it varies on: variants keyed by the old fields can never match again.
            let stale: Vec<ObjectId> = entry.variants.drain().map(|(_, v)| v).collect();
            entry.vary = vary;
            for old in stale.into_iter().filter(|o| *o != id) {
                self.drop_object(&old, &mut removed);
                removed.objects.push(old);
            }
        }
        let entry = self.keys.get_mut(&meta.key).expect("entry inserted above");
        entry.variants.insert(meta.vary_key.clone(), id);
        self.drop_slices(&id, &mut removed);
        let generation = self.next_generation;
        self.next_generation += 1;
        let meta = Arc::new(meta);
        self.objects.insert(
            id,
            Object {
                meta: meta.clone(),
                generation,
                slices: BTreeMap::new(),
            },
        );
        (
            ObjectRef {
                id,
                meta,
                generation,
            },
            removed,
        )
    }

    /// Replaces an object's head without touching its body (a 304 refreshed it).
    pub fn update_meta(
        &mut self,
        id: &ObjectId,
        generation: u64,
        meta: ObjectMeta,
    ) -> Option<ObjectRef> {
        let o = self.objects.get_mut(id)?;
        if o.generation != generation {
            return None;
        }
        o.meta = Arc::new(meta);
        Some(ObjectRef {
            id: *id,
            meta: o.meta.clone(),
            generation,
        })
    }

    /// Offers a filled slice to the eviction policy. Returns whether it was admitted (and indexed), and what
    /// the store must delete: evicted slices, or an older copy of a slice the policy turned away.
    pub fn add_slice(
        &mut self,
        id: &ObjectId,
        generation: u64,
        i: u32,
        file: SliceFile,
    ) -> (bool, Removed) {
        let mut removed = Removed::default();
        if self
            .objects
            .get(id)
            .is_none_or(|o| o.generation != generation)
        {
            return (false, removed);
        }
        let key = id.slice_key(i);
        let admission = self.policy.insert(key, file.len);
        if !admission.admitted {
            self.forget_slice(key, &mut removed);
            return (false, removed);
        }
        for (victim, size) in admission.evicted {
            self.forget_slice(victim, &mut removed);
            removed.bytes += size;
        }
        let Some(o) = self.objects.get_mut(id) else {
            // The object's last slice was just evicted to make room, taking the object with it.
            return (false, removed);
        };
        if let Some(old) = o.slices.insert(
            i,
            SliceEntry {
                file,
                verified: true,
            },
        ) {
            if old.file.root != file.root {
                self.release(&old.file.root);
                removed.slices.push((*id, i, old.file.root));
            }
        }
        self.slice_owner.insert(key, (*id, i));
        self.hold(file.root, *id, i, file.len);
        (true, removed)
    }

    /// Adds a slice found on disk at start-up, bypassing admission (it was admitted before).
    pub fn restore(
        &mut self,
        meta: ObjectMeta,
        vary: Vec<HeaderName>,
        slices: BTreeMap<u32, SliceFile>,
        verified: bool,
    ) -> Removed {
        let (r, mut removed) = self.put_object(meta, vary);
        for (i, file) in slices {
            let key = r.id.slice_key(i);
            let admission = self.policy.insert(key, file.len);
            if !admission.admitted {
                removed.slices.push((r.id, i, file.root));
                continue;
            }
            for (victim, size) in admission.evicted {
                self.forget_slice(victim, &mut removed);
                removed.bytes += size;
            }
            if let Some(o) = self.objects.get_mut(&r.id) {
                o.slices.insert(i, SliceEntry { file, verified });
            }
            self.slice_owner.insert(key, (r.id, i));
            self.hold(file.root, r.id, i, file.len);
        }
        removed
    }

    fn forget_slice(&mut self, key: ObjectKey, removed: &mut Removed) {
        let Some((id, i)) = self.slice_owner.remove(&key) else {
            return;
        };
        let Some(o) = self.objects.get_mut(&id) else {
            return;
        };
        let gone = o.slices.remove(&i);
        let empty = o.slices.is_empty();
        if let Some(s) = gone {
            self.release(&s.file.root);
            removed.slices.push((id, i, s.file.root));
        }
        if empty {
            // A head with no body left is not worth its memory; the next request is a plain miss.
            self.drop_object(&id, removed);
            removed.objects.push(id);
        }
    }

    fn drop_slices(&mut self, id: &ObjectId, removed: &mut Removed) {
        let Some(o) = self.objects.get_mut(id) else {
            return;
        };
        let slices = std::mem::take(&mut o.slices);
        for (i, s) in slices {
            let key = id.slice_key(i);
            self.slice_owner.remove(&key);
            self.release(&s.file.root);
            if let Some(size) = self.policy.remove(key) {
                removed.bytes += size;
            }
            removed.slices.push((*id, i, s.file.root));
        }
    }

    fn drop_object(&mut self, id: &ObjectId, removed: &mut Removed) {
        self.drop_slices(id, removed);
        if let Some(o) = self.objects.remove(id) {
            if let Some(entry) = self.keys.get_mut(&o.meta.key) {
                entry.variants.retain(|_, v| v != id);
                if entry.variants.is_empty() {
                    self.keys.remove(&o.meta.key);
                }
            }
        }
    }

    /// Removes one object and all its slices.
    pub fn remove_object(&mut self, id: &ObjectId) -> Removed {
        let mut removed = Removed::default();
        if self.objects.contains_key(id) {
            self.drop_object(id, &mut removed);
            removed.objects.push(*id);
        }
        removed
    }

    /// Removes one slice (found corrupt); the object's head stays so the slice is simply filled again.
    pub fn remove_slice(&mut self, id: &ObjectId, i: u32) -> Removed {
        let mut removed = Removed::default();
        let key = id.slice_key(i);
        if let Some(size) = self.policy.remove(key) {
            removed.bytes += size;
        }
        self.forget_slice(key, &mut removed);
        removed
    }

    /// Removes an object that holds no slice (its only fill failed or was not admitted).
    pub fn remove_if_empty(&mut self, id: &ObjectId) -> Removed {
        match self.objects.get(id) {
            Some(o) if o.slices.is_empty() => self.remove_object(id),
            _ => Removed::default(),
        }
    }

    /// Removes every object of `key` that holds no slice.
    pub fn remove_empty_variants(&mut self, key: &str) -> Removed {
        let ids: Vec<ObjectId> = self
            .keys
            .get(key)
            .map(|e| e.variants.values().copied().collect())
            .unwrap_or_default();
        let mut removed = Removed::default();
        for id in ids {
            let r = self.remove_if_empty(&id);
            removed.objects.extend(r.objects);
        }
        removed
    }

    /// Removes every object whose head matches `pred`.
    pub fn remove_where(&mut self, pred: impl Fn(&ObjectMeta) -> bool) -> Removed {
        let ids: Vec<ObjectId> = self
            .objects
            .iter()
            .filter(|(_, o)| pred(&o.meta))
            .map(|(id, _)| *id)
            .collect();
        let mut removed = Removed::default();
        for id in ids {
            self.drop_object(&id, &mut removed);
            removed.objects.push(id);
        }
        removed
    }

    /// Shrinks or grows the byte budget; what no longer fits is returned for deletion.
    pub fn set_capacity(&mut self, capacity: u64) -> Removed {
        let mut removed = Removed::default();
        for (victim, size) in self.policy.set_capacity(capacity) {
            self.forget_slice(victim, &mut removed);
            removed.bytes += size;
        }
        removed
    }

    /// A page of objects ordered by id, starting after `after`.
    pub fn page(
        &self,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Vec<(ObjectRef, Vec<(u32, SliceEntry)>)> {
        let mut ids: Vec<&ObjectId> = self
            .objects
            .keys()
            .filter(|id| after.is_none_or(|a| **id > a))
            .collect();
        ids.sort_unstable();
        ids.truncate(limit);
        ids.into_iter()
            .filter_map(|id| {
                let o = &self.objects[id];
                Some((
                    self.get(id)?,
                    o.slices.iter().map(|(i, s)| (*i, *s)).collect(),
                ))
            })
            .collect()
    }

    /// Slices not yet hashed since an unclean stop, first in line for the scrub.
    pub fn unverified(&self, limit: usize) -> Vec<(ObjectId, u32, SliceFile)> {
        self.objects
            .iter()
            .flat_map(|(id, o)| {
                o.slices
                    .iter()
                    .filter(|(_, s)| !s.verified)
                    .map(move |(i, s)| (*id, *i, s.file))
            })
            .take(limit)
            .collect()
    }

    /// Every stored slice after `after` in id order, for the scrub's round-robin walk.
    pub fn slices_after(
        &self,
        after: Option<(ObjectId, u32)>,
        limit: usize,
    ) -> Vec<(ObjectId, u32, SliceFile)> {
        let mut all: Vec<(ObjectId, u32, SliceFile)> = self
            .objects
            .iter()
            .flat_map(|(id, o)| o.slices.iter().map(move |(i, s)| (*id, *i, s.file)))
            .filter(|(id, i, _)| after.is_none_or(|a| (*id, *i) > a))
            .collect();
        all.sort_unstable_by_key(|(id, i, _)| (*id, *i));
        all.truncate(limit);
        all
    }
}
