//! Filling one slice of one object from the origin, once, however many clients wait for it.
//!
//! A fill streams the origin's body into a temporary file and publishes how many bytes are written; waiters
//! read the same file with positioned reads as it grows (read while write). The BLAKE3 root and outboard
//! are computed from the same bytes as they pass. Only a complete body of the expected length is renamed into
//! the store; anything else ends every waiter's body with an error, never as if complete.
//!
//! What to do with the origin's answer is decided by [`http_cache::classify`]; the cache stores what it
//! says to store. Coalescing is [`crate::fills`].

use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use meson_core::content::{ContentHasher, Root};
use meson_core::http_cache::{self, Answer, FillContext, PassOn, Stored, Unusable, Wanted};
use tokio::sync::oneshot;

use crate::cache::{unix_now, Cache};
use crate::fills::{Fill, FillError, FillKey, FillState, Joined, Leader};
use crate::index::ObjectRef;
use crate::origin::{empty_body, error_chain};
use crate::site::Site;
use crate::store::StoreError;

/// What a fill is for.
#[derive(Clone)]
pub enum FillKind {
    /// A request for something not stored.
    Miss,
    /// A slice of this stored object that is not stored (yet, or any more).
    MissingSlice(ObjectRef),
    /// A conditional request refreshing this stored object.
    Revalidate(ObjectRef),
    /// An operator's push.
    Push(Push),
}

/// An operator's push: fetch the whole body, keep it only if it hashes to `root`, fresh for `ttl` seconds.
#[derive(Clone, Copy, Debug)]
pub struct Push {
    pub root: Root,
    pub ttl: u64,
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
    pub kind: FillKind,
}

impl FillRequest {
    /// The byte range to ask the origin for: a slice, unless the whole body is wanted.
    fn requested(&self, slice_size: u64) -> Option<Range<u64>> {
        match &self.kind {
            FillKind::Push(_) => None,
            FillKind::MissingSlice(k) | FillKind::Revalidate(k) => match k.meta.slice_size {
                Some(_) => k.meta.slice_range(self.slice),
                None => None,
            },
            FillKind::Miss => {
                let start = self.slice as u64 * slice_size;
                Some(start..start + slice_size)
            }
        }
    }

    fn wanted(&self) -> Wanted<'_> {
        match &self.kind {
            FillKind::Miss => Wanted::New,
            FillKind::Push(p) => Wanted::Push { ttl: p.ttl },
            FillKind::MissingSlice(k) => Wanted::MoreOf(Stored {
                total_len: k.meta.total_len,
                sliced: k.meta.slice_size.is_some(),
                headers: &k.meta.headers,
            }),
            FillKind::Revalidate(_) => Wanted::Revalidation,
        }
    }
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

/// Joins the fill in flight under `key` or starts one. The starter also gets the passthrough channel.
pub fn start(
    cache: &Arc<Cache>,
    key: FillKey,
    req: FillRequest,
) -> (Arc<Fill>, Option<Passthrough>) {
    let mut leader = match cache.fills().join(key) {
        Joined::Follower(fill) => return (fill, None),
        Joined::Leader(l) => l,
    };
    let fill = leader.fill().clone();
    let (pt_tx, pt_rx) = oneshot::channel();
    let cache = cache.clone();
    tokio::spawn(async move {
        let state = run(&cache, &req, &mut leader, pt_tx).await;
        let failed = matches!(state, FillState::Failed(_));
        if let FillState::Failed(e) = &state {
            tracing::warn!(key = %req.key, slice = req.slice, error = %e, "fill failed");
            metrics::counter!("meson_terminal_fill_failures_total").increment(1);
        }
        cache.fills().finish(leader, state);
        if failed {
            cache.forget_empty(&req.key);
        }
    });
    (fill, Some(pt_rx))
}

async fn run(
    cache: &Arc<Cache>,
    req: &FillRequest,
    leader: &mut Leader,
    passthrough: oneshot::Sender<Response<Incoming>>,
) -> FillState {
    let cfg = cache.config();
    let requested = req.requested(cfg.slice_size);
    let mut headers = req.headers.clone();
    for h in CLIENT_ONLY {
        headers.remove(h);
    }
    if let Some(r) = &requested {
        let v = format!("bytes={}-{}", r.start, r.end - 1);
        headers.insert(header::RANGE, HeaderValue::from_str(&v).expect("ascii"));
    }
    if let FillKind::Revalidate(k) = &req.kind {
        headers.extend(http_cache::revalidation_headers(&k.meta.headers));
    }
    let request_time = unix_now();
    metrics::counter!("meson_terminal_origin_requests_total").increment(1);
    let sent = req
        .site
        .origin
        .send(
            Method::GET,
            &req.path_and_query,
            &headers,
            req.client_ip,
            empty_body(),
        )
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return FillState::Failed(FillError::Origin(e.to_string().into(), e.status())),
    };
    let response_time = unix_now();
    let status = resp.status();
    let ctx = FillContext {
        wanted: req.wanted(),
        slice: req.slice,
        slice_size: cfg.slice_size,
        requested,
        req_headers: &req.headers,
        settings: &req.site.settings,
        max_object_size: cfg.limits.max_object_size,
        disk_full: cache.disk_full(),
        response_time,
    };
    match http_cache::classify(&ctx, status, resp.headers()) {
        Answer::NotModified => {
            let FillKind::Revalidate(known) = &req.kind else {
                unreachable!("classify refreshes only what a revalidation asked for")
            };
            cache
                .refresh(known, resp.headers(), request_time, response_time)
                .await
        }
        Answer::Unusable(u) => {
            if let (Unusable::Changed, FillKind::MissingSlice(known)) = (&u, &req.kind) {
                // The stored object is no longer what the origin serves: it must not be served either.
                cache.drop_object(known).await;
            }
            FillState::Failed(u.into())
        }
        Answer::DoNotStore { reason, pass } => {
            tracing::debug!(key = %req.key, %status, reason = reason.as_str(), "not caching");
            metrics::counter!("meson_terminal_not_cached_total", "reason" => reason.as_str())
                .increment(1);
            match pass {
                PassOn::AsIs => {
                    let _ = passthrough.send(resp);
                }
                PassOn::Whole(head) => {
                    let (mut parts, body) = resp.into_parts();
                    parts.status = StatusCode::OK;
                    parts.headers = head;
                    let _ = passthrough.send(Response::from_parts(parts, body));
                }
                PassOn::Refetch => {}
            }
            FillState::Uncacheable { status, reason }
        }
        Answer::Store(to) => {
            // The object this body belongs to: the stored one (a missing slice) or a new head.
            let obj = match (to.new_head, &req.kind) {
                (Some(head), _) => {
                    let sliced = to.sliced.then_some(cfg.slice_size);
                    cache
                        .put_head(
                            &req.key,
                            head,
                            request_time,
                            response_time,
                            to.total,
                            sliced,
                        )
                        .await
                }
                (None, FillKind::MissingSlice(known)) => known.clone(),
                (None, _) => {
                    unreachable!("classify keeps the stored head only for a missing slice")
                }
            };
            cache.fills().register(leader, (obj.id, to.slice));
            let expected = obj.meta.slice_len(to.slice).filter(|_| to.total.is_some());
            let body = resp.into_body();
            stream_body(cache, req, body, leader, obj, to.slice, expected).await
        }
    }
}

/// Streams the body into a temporary file the waiters read, then has the cache commit it.
async fn stream_body(
    cache: &Arc<Cache>,
    req: &FillRequest,
    mut body: Incoming,
    leader: &Leader,
    obj: ObjectRef,
    slice: u32,
    expected: Option<u64>,
) -> FillState {
    let (tmp, file) = match cache.store().create_tmp() {
        Ok(f) => f,
        Err(e) => return cache.store_failure(e),
    };
    let file = Arc::new(file);
    leader.publish(FillState::Streaming {
        obj: obj.clone(),
        slice,
        file: file.clone(),
        written: 0,
        len: expected,
    });
    let mut copied = copy_body(cache, req, &mut body, leader, &file, expected).await;
    if let (Ok((got, _, _)), FillKind::Push(push)) = (&copied, &req.kind) {
        if *got != push.root {
            copied = Err(FillError::RootMismatch {
                expected: push.root,
                got: *got,
            });
        }
    }
    let (root, outboard, len) = match copied {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            if matches!(e, FillError::RootMismatch { .. }) {
                cache.drop_object(&obj).await;
            }
            return FillState::Failed(e);
        }
    };
    let c = cache.clone();
    let commit_file = file.clone();
    let committed = tokio::task::spawn_blocking(move || {
        c.commit(&obj, slice, &tmp, &commit_file, root, &outboard, len)
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
        Err(e) => cache.store_failure(e),
    }
}

/// Copies the origin body into `file`, publishing progress; returns the root, outboard and length.
async fn copy_body(
    cache: &Cache,
    req: &FillRequest,
    body: &mut Incoming,
    leader: &Leader,
    file: &Arc<File>,
    expected: Option<u64>,
) -> Result<(Root, Vec<u8>, u64), FillError> {
    let limit = expected.unwrap_or(cache.config().limits.max_object_size);
    let read_timeout = req.site.origin.read_timeout();
    let mut hasher = ContentHasher::new();
    let mut written = 0u64;
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
                    format!("origin body: {}", error_chain(&e)).into(),
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
            let e = StoreError::Io {
                op: "write",
                path: "fill".into(),
                source: e,
            };
            if e.is_disk_full() {
                cache.note_disk_full();
            }
            return Err(FillError::Store(e.to_string().into()));
        }
        hasher.update(&data);
        written += data.len() as u64;
        metrics::counter!("meson_terminal_origin_bytes_total").increment(data.len() as u64);
        leader.progress(written);
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
