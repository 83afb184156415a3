//! Filling one slice of one object from the origin, once, however many clients wait for it.
//!
//! A fill streams the origin's body into a temporary file and publishes how many bytes are written; waiters
//! read the same file with positioned reads as it grows (read while write). The BLAKE3 root and outboard
//! are computed from the same bytes as they pass. Only a complete body of the expected length is renamed into
//! the store; anything else ends every waiter's body with an error, never as if complete.

use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use meson_core::content::ContentHasher;
use meson_core::http_cache::{self, NotStorable};
use meson_core::range::parse_content_range;
use tokio::sync::{oneshot, watch};

use crate::cache::{unix_now, Cache};
use crate::index::ObjectRef;
use crate::object::{ObjectId, ObjectMeta};
use crate::origin::{empty_body, OriginError};
use crate::site::Site;
use crate::store::SliceFile;

/// Where a fill stands, as its waiters see it.
#[derive(Clone, Debug)]
pub enum FillState {
    /// Waiting for the origin's response head.
    Waiting,
    /// The body of `slice` is being written to `file`; `written` bytes of `len` (None: not announced) are in.
    Streaming {
        obj: ObjectRef,
        slice: u32,
        file: Arc<File>,
        written: u64,
        len: Option<u64>,
    },
    /// All `len` bytes are in `file`.
    Done {
        obj: ObjectRef,
        slice: u32,
        file: Arc<File>,
        len: u64,
    },
    /// The origin confirmed the stored body (304); the head was refreshed.
    NotModified {
        obj: ObjectRef,
    },
    /// The response may not be stored or shared; each waiter must ask the origin itself.
    Uncacheable {
        status: StatusCode,
        reason: Arc<str>,
    },
    Failed(FillError),
}

/// Why a fill produced no usable body.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FillError {
    #[error("{0}")]
    Origin(Arc<str>, StatusCode),
    #[error("origin answered 416 for a slice past the end")]
    PastEnd,
    #[error("the object changed at the origin while its slices were being filled")]
    Changed,
    #[error("origin body ended early: {got} of {expected} bytes")]
    Truncated { got: u64, expected: u64 },
    #[error("origin body exceeds the {0}-byte limit")]
    TooLarge(u64),
    #[error("store: {0}")]
    Store(Arc<str>),
    #[error("content does not match the expected root: expected {expected}, got {got}")]
    RootMismatch {
        expected: meson_core::content::Root,
        got: meson_core::content::Root,
    },
}

impl FillError {
    pub fn status(&self) -> StatusCode {
        match self {
            FillError::Origin(_, s) => *s,
            FillError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

pub struct Fill {
    tx: watch::Sender<FillState>,
}

impl Fill {
    pub fn subscribe(&self) -> watch::Receiver<FillState> {
        self.tx.subscribe()
    }
}

/// What a fill needs to know about the request that started it.
#[derive(Clone)]
pub struct FillRequest {
    pub site: Arc<Site>,
    pub key: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub client_ip: Option<std::net::IpAddr>,
    pub slice: u32,
    /// The stored object whose slice is missing, or which is being revalidated.
    pub known: Option<ObjectRef>,
    pub revalidate: bool,
    /// An operator's push: fetch the whole body, keep it only if it hashes to `root`, fresh for `ttl` seconds.
    pub push: Option<Push>,
}

#[derive(Clone, Copy, Debug)]
pub struct Push {
    pub root: meson_core::content::Root,
    pub ttl: u64,
}

/// Handed to the client that started a fill: the origin's response when it turned out not to be cacheable,
/// so that client is answered without a second origin request.
pub type Passthrough = oneshot::Receiver<Response<Incoming>>;

/// Fields the terminal sets itself on a fill request; the client's values describe its own request only.
const CLIENT_ONLY: [header::HeaderName; 6] = [
    header::RANGE,
    header::IF_RANGE,
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_UNMODIFIED_SINCE,
];

impl Cache {
    /// Joins the fill of `coalesce` or starts one. The starter also gets the passthrough channel.
    pub fn fill(
        self: &Arc<Self>,
        coalesce: (ObjectId, u32),
        req: FillRequest,
    ) -> (Arc<Fill>, Option<Passthrough>) {
        let mut fills = self.fills.lock().expect("fills lock");
        if let Some(f) = fills.get(&coalesce) {
            metrics::counter!("meson_terminal_fill_waiters_total").increment(1);
            return (f.clone(), None);
        }
        let (tx, _) = watch::channel(FillState::Waiting);
        let fill = Arc::new(Fill { tx });
        fills.insert(coalesce, fill.clone());
        drop(fills);
        let (pt_tx, pt_rx) = oneshot::channel();
        let cache = self.clone();
        let f = fill.clone();
        tokio::spawn(async move {
            let mut keys = vec![coalesce];
            let state = cache.run_fill(&req, &f, &mut keys, pt_tx).await;
            let failed = matches!(state, FillState::Failed(_));
            if let FillState::Failed(e) = &state {
                tracing::warn!(key = %req.key, slice = req.slice, error = %e, "fill failed");
                metrics::counter!("meson_terminal_fill_failures_total").increment(1);
            }
            f.tx.send_replace(state);
            let mut fills = cache.fills.lock().expect("fills lock");
            for k in keys {
                if fills.get(&k).is_some_and(|x| Arc::ptr_eq(x, &f)) {
                    fills.remove(&k);
                }
            }
            drop(fills);
            if failed {
                cache.forget_empty(&req.key);
            }
        });
        (fill, Some(pt_rx))
    }

    /// Fills still running (each is registered under one or two keys).
    pub fn fills_in_flight(&self) -> usize {
        let fills = self.fills.lock().expect("fills lock");
        let mut distinct: Vec<*const Fill> = fills.values().map(Arc::as_ptr).collect();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.len()
    }

    /// Looks up a fill in flight for a slice.
    pub fn fill_in_flight(&self, id: &ObjectId, slice: u32) -> Option<Arc<Fill>> {
        self.fills
            .lock()
            .expect("fills lock")
            .get(&(*id, slice))
            .cloned()
    }

    async fn run_fill(
        self: &Arc<Self>,
        req: &FillRequest,
        fill: &Arc<Fill>,
        keys: &mut Vec<(ObjectId, u32)>,
        passthrough: oneshot::Sender<Response<Incoming>>,
    ) -> FillState {
        let slice_size = self.cfg.slice_size;
        let requested: Option<Range<u64>> = match &req.known {
            _ if req.push.is_some() => None,
            Some(k) => match k.meta.slice_size {
                Some(_) => k.meta.slice_range(req.slice),
                None => None,
            },
            None => Some(req.slice as u64 * slice_size..(req.slice as u64 + 1) * slice_size),
        };
        let mut headers = req.headers.clone();
        for h in CLIENT_ONLY {
            headers.remove(h);
        }
        if let Some(r) = &requested {
            let v = format!("bytes={}-{}", r.start, r.end - 1);
            headers.insert(header::RANGE, HeaderValue::from_str(&v).expect("ascii"));
        }
        if req.revalidate {
            if let Some(k) = &req.known {
                headers.extend(http_cache::revalidation_headers(&k.meta.headers));
            }
        }
        let request_time = unix_now();
        metrics::counter!("meson_terminal_origin_requests_total").increment(1);
        let resp = match req
            .site
            .origin
            .send(
                Method::GET,
                &req.path_and_query,
                &headers,
                req.client_ip,
                empty_body(),
            )
            .await
        {
            Ok(r) => r,
            Err(e) => return FillState::Failed(origin_failure(&e)),
        };
        let response_time = unix_now();
        let status = resp.status();

        if status == StatusCode::NOT_MODIFIED && req.revalidate {
            if let Some(k) = &req.known {
                return self
                    .refresh(k, resp.headers(), request_time, response_time)
                    .await;
            }
        }

        if req.revalidate && status.is_server_error() {
            // An origin error never replaces a stored response; the caller may still serve it stale (RFC 5861).
            let _ = passthrough.send(resp);
            return FillState::Uncacheable {
                status,
                reason: "origin error during revalidation".into(),
            };
        }

        // Work out what the body is: a whole object, or slice `stored_slice` of an object of `total` bytes.
        let mut head = resp.headers().clone();
        let (stored_slice, total, sliced) = match status {
            StatusCode::PARTIAL_CONTENT if requested.is_some() => {
                let Some((got, Some(total))) = resp
                    .headers()
                    .get(header::CONTENT_RANGE)
                    .and_then(parse_content_range)
                else {
                    return FillState::Failed(FillError::Origin(
                        "origin sent 206 without a usable Content-Range".into(),
                        StatusCode::BAD_GATEWAY,
                    ));
                };
                let want = requested.clone().expect("checked above");
                if got.start != want.start || got.end != want.end.min(total) {
                    return FillState::Failed(FillError::Origin(
                        format!("origin sent bytes {got:?} for requested {want:?}").into(),
                        StatusCode::BAD_GATEWAY,
                    ));
                }
                head.remove(header::CONTENT_RANGE);
                head.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
                (req.slice, Some(total), total > slice_size || req.slice > 0)
            }
            StatusCode::RANGE_NOT_SATISFIABLE if requested.is_some() && req.slice > 0 => {
                return FillState::Failed(FillError::PastEnd);
            }
            _ => {
                if req
                    .known
                    .as_ref()
                    .is_some_and(|k| k.meta.slice_size.is_some())
                    && !req.revalidate
                {
                    // A sliced object's origin must keep answering ranges with the same representation.
                    self.drop_object(req.known.as_ref().expect("checked")).await;
                    return FillState::Failed(FillError::Changed);
                }
                let len = resp
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                (0, len, false)
            }
        };
        if let Some(push) = &req.push {
            // CDN-Cache-Control outranks the origin's Cache-Control for this cache (RFC 9213).
            let v = format!("max-age={}", push.ttl);
            head.insert(
                "cdn-cache-control",
                HeaderValue::from_str(&v).expect("digits"),
            );
        }
        let store_status = if status == StatusCode::PARTIAL_CONTENT {
            StatusCode::OK
        } else {
            status
        };

        if let Some(known) = req.known.as_ref().filter(|_| !req.revalidate) {
            if Some(known.meta.total_len) != total || !same_validators(&known.meta.headers, &head) {
                self.drop_object(known).await;
                return FillState::Failed(FillError::Changed);
            }
        }

        let refusal = self.refusal(req, store_status, &head, total);
        if let Some(reason) = refusal {
            tracing::debug!(key = %req.key, %status, %reason, "not caching");
            // A 206 that holds the whole body is the client's 200; a true part must be fetched again.
            if status != StatusCode::PARTIAL_CONTENT {
                let _ = passthrough.send(resp);
            } else if !sliced {
                let (mut parts, body) = resp.into_parts();
                parts.status = StatusCode::OK;
                parts.headers = head;
                let _ = passthrough.send(Response::from_parts(parts, body));
            }
            return FillState::Uncacheable {
                status,
                reason: reason.into(),
            };
        }

        // The object this body belongs to: the stored one (a missing slice) or a new head (miss, replacement).
        let obj = match req.known.as_ref().filter(|_| !req.revalidate) {
            Some(k) => k.clone(),
            None => {
                let mut stored_headers = http_cache::strip_for_storage(&head);
                // Age arithmetic needs a Date; a cache adds the one the origin left out (RFC 9110 §6.6.1).
                http_cache::ensure_date(&mut stored_headers, response_time);
                // storable() already refuses `Vary: *`; this keeps a later change there from becoming a panic.
                let Ok(vary) = http_cache::vary_fields(&stored_headers) else {
                    return FillState::Uncacheable {
                        status,
                        reason: "Vary: *".into(),
                    };
                };
                let vary_key = http_cache::vary_key(&vary, &req.headers);
                let meta = ObjectMeta {
                    key: req.key.clone(),
                    vary_key,
                    status: store_status,
                    headers: stored_headers,
                    request_time,
                    response_time,
                    total_len: total.unwrap_or(0),
                    slice_size: sliced.then_some(slice_size),
                };
                let (obj, removed) = self
                    .index
                    .lock()
                    .expect("index lock")
                    .put_object(meta, vary);
                self.delete(removed).await;
                obj
            }
        };
        let fill_key = (obj.id, stored_slice);
        if !keys.contains(&fill_key) {
            self.fills
                .lock()
                .expect("fills lock")
                .insert(fill_key, fill.clone());
            keys.push(fill_key);
        }
        let expected = obj.meta.slice_len(stored_slice).filter(|_| total.is_some());
        self.stream_body(req, resp.into_body(), fill, obj, stored_slice, expected)
            .await
    }

    /// Why a response must not be stored, if it must not.
    fn refusal(
        &self,
        req: &FillRequest,
        status: StatusCode,
        head: &HeaderMap,
        total: Option<u64>,
    ) -> Option<String> {
        let req_headers = &req.headers;
        if http_cache::request_directives(req_headers).no_store {
            return Some("request no-store".into());
        }
        if let Err(e) =
            http_cache::storable(&Method::GET, req_headers, status, head, &req.site.settings)
        {
            return Some(match e {
                NotStorable::NoFreshnessInfo => "no freshness information".into(),
                e => e.to_string(),
            });
        }
        let max = self.cfg.limits.max_object_size;
        if total.is_some_and(|t| t > max) {
            return Some(format!("larger than max object size {max}"));
        }
        if self.disk_full() {
            return Some("disk full: not admitting".into());
        }
        None
    }

    async fn stream_body(
        self: &Arc<Self>,
        req: &FillRequest,
        mut body: Incoming,
        fill: &Arc<Fill>,
        obj: ObjectRef,
        slice: u32,
        expected: Option<u64>,
    ) -> FillState {
        let (tmp, file) = match self.store.create_tmp() {
            Ok(f) => f,
            Err(e) => return self.store_failure(e),
        };
        let file = Arc::new(file);
        let mut state = self
            .copy_body(req, &mut body, fill, &obj, slice, &file, expected)
            .await;
        if let (Ok((got, _, _)), Some(push)) = (&state, &req.push) {
            if *got != push.root {
                state = Err(FillError::RootMismatch {
                    expected: push.root,
                    got: *got,
                });
            }
        }
        let (root, outboard, len) = match state {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                if matches!(e, FillError::RootMismatch { .. }) {
                    self.drop_object(&obj).await;
                }
                return FillState::Failed(e);
            }
        };
        let cache = self.clone();
        let commit_file = file.clone();
        let obj2 = obj.clone();
        let committed = tokio::task::spawn_blocking(move || {
            cache.commit(&obj2, slice, &tmp, &commit_file, root, &outboard, len)
        })
        .await
        .expect("commit task");
        match committed {
            Ok(obj) => FillState::Done {
                obj,
                slice,
                file,
                len,
            },
            Err(e) => self.store_failure(e),
        }
    }

    /// Copies the origin body into `file`, publishing progress; returns the root, outboard and length.
    #[allow(clippy::too_many_arguments)]
    async fn copy_body(
        &self,
        req: &FillRequest,
        body: &mut Incoming,
        fill: &Arc<Fill>,
        obj: &ObjectRef,
        slice: u32,
        file: &Arc<File>,
        expected: Option<u64>,
    ) -> Result<(meson_core::content::Root, Vec<u8>, u64), FillError> {
        let limit = expected.unwrap_or(self.cfg.limits.max_object_size);
        let read_timeout = req.site.origin.read_timeout();
        let mut hasher = ContentHasher::new();
        let mut written = 0u64;
        fill.tx.send_replace(FillState::Streaming {
            obj: obj.clone(),
            slice,
            file: file.clone(),
            written: 0,
            len: expected,
        });
        loop {
            let frame = match tokio::time::timeout(read_timeout, body.frame()).await {
                Err(_) => {
                    return Err(FillError::Origin(
                        format!("origin body stalled for {read_timeout:?}").into(),
                        StatusCode::GATEWAY_TIMEOUT,
                    ))
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(FillError::Origin(
                        format!("origin body: {}", crate::origin::error_chain(&e)).into(),
                        StatusCode::BAD_GATEWAY,
                    ))
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if written + data.len() as u64 > limit {
                return Err(match expected {
                    Some(_) => FillError::Origin(
                        "origin sent more bytes than it announced".into(),
                        StatusCode::BAD_GATEWAY,
                    ),
                    None => FillError::TooLarge(limit),
                });
            }
            if let Err(e) = (&**file).write_all(&data) {
                let e = crate::store::StoreError::Io {
                    op: "write",
                    path: "fill".into(),
                    source: e,
                };
                if e.is_disk_full() {
                    self.note_disk_full();
                }
                return Err(FillError::Store(e.to_string().into()));
            }
            hasher.update(&data);
            written += data.len() as u64;
            metrics::counter!("meson_terminal_origin_bytes_total").increment(data.len() as u64);
            fill.tx.send_modify(|s| {
                if let FillState::Streaming { written: w, .. } = s {
                    *w = written;
                }
            });
        }
        if let Some(exp) = expected {
            if written != exp {
                return Err(FillError::Truncated {
                    got: written,
                    expected: exp,
                });
            }
        }
        let (root, outboard) = hasher.finalize();
        Ok((root, outboard, written))
    }

    /// Moves a finished slice into the store and the index (blocking: renames and fsyncs).
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        obj: &ObjectRef,
        slice: u32,
        tmp: &std::path::Path,
        file: &File,
        root: meson_core::content::Root,
        outboard: &[u8],
        len: u64,
    ) -> Result<ObjectRef, crate::store::StoreError> {
        // A body of unannounced length fixes the object's length only now.
        let obj = if obj.meta.total_len != len && obj.meta.slice_size.is_none() {
            let mut meta = (*obj.meta).clone();
            meta.total_len = len;
            meta.headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            let updated =
                self.index
                    .lock()
                    .expect("index lock")
                    .update_meta(&obj.id, obj.generation, meta);
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
        let (admitted, removed) = self.index.lock().expect("index lock").add_slice(
            &obj.id,
            obj.generation,
            slice,
            SliceFile { root, len },
        );
        metrics::counter!("meson_terminal_evictions_total").increment(removed.slices.len() as u64);
        self.delete_now(&removed);
        if !admitted {
            // Not admitted (or replaced meanwhile): the waiters keep their open file; the disk forgets it.
            self.store.remove_slice(&obj.id, slice, &root);
            let removed = self
                .index
                .lock()
                .expect("index lock")
                .remove_if_empty(&obj.id);
            self.delete_now(&removed);
        }
        self.update_disk_gauges();
        Ok(obj)
    }

    /// A 304 refreshed a stored object: merge the new fields into its head (RFC 9111 §4.3.4).
    async fn refresh(
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
        let updated =
            self.index
                .lock()
                .expect("index lock")
                .update_meta(&known.id, known.generation, meta);
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

    fn store_failure(&self, e: crate::store::StoreError) -> FillState {
        if e.is_disk_full() {
            self.note_disk_full();
        }
        FillState::Failed(FillError::Store(e.to_string().into()))
    }
}

fn origin_failure(e: &OriginError) -> FillError {
    FillError::Origin(e.to_string().into(), e.status())
}

/// Whether two heads describe the same representation (RFC 9110 §8.8: strong validators must agree).
fn same_validators(a: &HeaderMap, b: &HeaderMap) -> bool {
    [header::ETAG, header::LAST_MODIFIED]
        .iter()
        .all(|h| match (a.get(h), b.get(h)) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        })
}
