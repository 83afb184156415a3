//! The [`SERVED_HEADER`] a network-mode terminal adds to what it serves from its store: its signed claim
//! of the stored version's roots ([`meson_core::served`]), so whoever fetched the body (a hunter, the
//! council) can hold the terminal to it.
//!
//! A claim is made only of an object held whole, every piece stored and verified: only then are its
//! roots known. An object of one piece of at most [`SLICE_SIZE`] is its own root and is signed on the
//! spot. A larger one (stored in slices, or whole when the origin does not answer ranges) needs its whole
//! root and the network's slice roots, which no piece names: they are computed once, in the background,
//! by reading the pieces in order, and the responses until then go without the header. An object of more
//! than [`MAX_SLICE_ROOTS`] slices gets none: its claim would not fit a header. Each claim is signed once
//! per stored version ([`crate::claims::Claims`]) and stays with it, even when a slice is evicted later: the roots are
//! still the version's, and the slice is filled again from the origin when asked for.

use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};
use meson_core::content::{ObjectHasher, ObjectRoots, Root, SLICE_SIZE};
use meson_core::evidence::origin_version;
use meson_core::served::{Served, MAX_SLICE_ROOTS, SERVED_HEADER};
use meson_core::ticket::object_digest;

use crate::cache::{read_file, Cache};
use crate::index::ObjectRef;
use crate::site::Site;
use crate::store::SliceFile;

pub const SERVED: HeaderName = HeaderName::from_static(SERVED_HEADER);

/// The claim a response from stored `obj` of `site` carries, when this terminal makes claims and knows
/// the object's roots.
pub fn header(cache: &Arc<Cache>, site: &Site, obj: &ObjectRef) -> Option<HeaderValue> {
    let claims = cache.sites.claims()?;
    let version = origin_version(&obj.meta.headers);
    if let Some(known) = claims.get(&obj.id, obj.generation, version.as_deref()) {
        return known;
    }
    let pieces = held_whole(cache, obj)?;
    let served = {
        let object = hex::encode(object_digest(obj.meta.key.as_bytes()));
        let (site, version) = (site.id, version.clone());
        move |roots| Served::new(site, object, version, roots)
    };
    let size = obj.meta.total_len;
    if let [one] = pieces[..] {
        if one.len == size && size <= SLICE_SIZE {
            let roots = ObjectRoots {
                size,
                root: one.root,
                slices: Vec::new(),
            };
            return claims.sign(obj.id, obj.generation, &served(roots));
        }
    }
    if ObjectRoots::slice_count(size) > MAX_SLICE_ROOTS {
        claims.none(obj.id, obj.generation, version);
        return None;
    }
    if claims.start_hashing(obj.id) {
        let (cache, obj) = (cache.clone(), obj.clone());
        tokio::task::spawn_blocking(move || {
            let claims = cache.sites.claims().expect("the sites made claims above");
            if let Some(roots) = roots_of(&cache, &obj, &pieces) {
                claims.sign(obj.id, obj.generation, &served(roots));
            }
            claims.done_hashing(&obj.id);
        });
    }
    None
}

/// The pieces of `obj` in order, when every one is stored and verified.
fn held_whole(cache: &Cache, obj: &ObjectRef) -> Option<Vec<SliceFile>> {
    let index = cache.index();
    (0..obj.meta.slice_count())
        .map(|i| {
            let s = index.slice(&obj.id, obj.generation, i)?;
            s.verified.then_some(s.file)
        })
        .collect()
}

/// The network's roots of `obj`, read from its pieces in order, each checked against its own root on the
/// way: a piece that no longer matches is removed, as the scrub would. Blocking.
fn roots_of(cache: &Cache, obj: &ObjectRef, pieces: &[SliceFile]) -> Option<ObjectRoots> {
    let mut whole = ObjectHasher::new();
    for (i, piece) in (0u32..).zip(pieces) {
        let file = cache.store.open_slice(&obj.id, i, &piece.root).ok()?;
        let mut own = blake3::Hasher::new();
        read_file(&file, piece.len, |b| {
            own.update(b);
            whole.update(b);
        })
        .ok()?;
        if Root::from(own.finalize()) != piece.root {
            cache.verify_slice(&obj.id, i, piece);
            return None;
        }
    }
    (whole.size() == obj.meta.total_len).then(|| whole.finalize())
}
