//! Response bodies of stored objects: byte ranges read from stored slices or from fills as they grow.
//! A slice neither stored nor filling is asked of the [`FillMissing`] hook; this module starts no fill.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::sync::{mpsc, watch};

use crate::body::{full, BoxError, ResponseBody};
use crate::cache::Cache;
use crate::fills::{Fill, FillState};
use crate::index::ObjectRef;
use crate::telemetry::Stats;

/// Responses at most this large that sit in one verified, stored slice are read in one go, without a task.
const INLINE_LIMIT: u64 = 64 * 1024;
const CHUNK: usize = 64 * 1024;

/// A piece of a response body.
#[derive(Debug, Clone)]
pub enum Segment {
    /// Framing bytes (multipart part headers).
    Static(Bytes),
    /// A byte range of the object's body.
    Data(Range<u64>),
}

/// Starts (or joins) the fill of a slice of an object that is neither stored nor filling.
pub type FillMissing = Box<dyn Fn(&ObjectRef, u32) -> Arc<Fill> + Send + Sync>;

/// Everything needed to read an object's bytes, filling missing slices on the way.
pub struct Source {
    pub cache: Arc<Cache>,
    pub obj: ObjectRef,
    /// How to fill a missing slice; None serves only what is stored.
    pub fill_missing: Option<FillMissing>,
    /// The fill this request already waits on, and its slice.
    pub hint: Option<(u32, Arc<Fill>)>,
}

enum SliceSource {
    Stored(Arc<File>),
    Filling(watch::Receiver<FillState>),
}

impl Source {
    /// The body for `segments`: small stored ranges are read at once, the rest streams from a task.
    pub fn body(self, segments: Vec<Segment>) -> ResponseBody {
        if let [Segment::Data(r)] = segments.as_slice() {
            if let Some(bytes) = self.read_inline(r) {
                // One access per request: recorded here for inline reads, in `source` for streamed ones.
                self.cache
                    .index()
                    .touch(&self.obj.id, self.slice_of(r.start));
                self.cache.stats.count_out(bytes.len());
                return full(bytes);
            }
        }
        let (tx, rx) = mpsc::channel::<Result<Bytes, BoxError>>(4);
        let write_timeout = self.cache.cfg.timeouts.client_write;
        tokio::spawn(async move {
            let sink = Sink {
                tx,
                write_timeout,
                stats: self.cache.stats.clone(),
            };
            for seg in segments {
                let res = match seg {
                    Segment::Static(b) => sink.send(b).await,
                    Segment::Data(r) => self.copy(r, &sink).await,
                };
                match res {
                    Ok(()) => {}
                    Err(SendError::ClientGone) => return,
                    Err(SendError::Source(e)) => {
                        tracing::warn!(object = %self.obj.id, error = %e, "response body aborted");
                        let _ = sink.tx.send(Err(e.into())).await;
                        return;
                    }
                }
            }
        });
        let s = stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item.map(Frame::data), rx))
        });
        StreamBody::new(s).boxed()
    }

    fn read_inline(&self, r: &Range<u64>) -> Option<Bytes> {
        if r.end - r.start > INLINE_LIMIT {
            return None;
        }
        let meta = &self.obj.meta;
        let slice = self.slice_of(r.start);
        let sr = meta.slice_range(slice)?;
        if r.end > sr.end {
            return None;
        }
        let entry = self
            .cache
            .index()
            .slice(&self.obj.id, self.obj.generation, slice)?;
        if !entry.verified {
            return None;
        }
        let within = (r.start - sr.start) as usize..(r.end - sr.start) as usize;
        if let Some(body) = self.cache.hot.get(&entry.file.root) {
            return Some(body.slice(within));
        }
        let file = self
            .cache
            .store
            .open_slice(&self.obj.id, slice, &entry.file.root)
            .ok()?;
        if entry.file.len <= crate::hot::MAX_HOT_BODY {
            // Read the whole (small) slice once, so the next hit on any range of it stays in memory.
            let mut buf = vec![0u8; entry.file.len as usize];
            file.read_exact_at(&mut buf, 0).ok()?;
            let body = Bytes::from(buf);
            self.cache.hot.offer(entry.file.root, body.clone());
            return Some(body.slice(within));
        }
        let mut buf = vec![0u8; within.len()];
        file.read_exact_at(&mut buf, within.start as u64).ok()?;
        Some(buf.into())
    }

    fn slice_of(&self, offset: u64) -> u32 {
        match self.obj.meta.slice_size {
            Some(s) => (offset / s) as u32,
            None => 0,
        }
    }

    async fn copy(&self, r: Range<u64>, sink: &Sink) -> Result<(), SendError> {
        if r.is_empty() {
            return Ok(());
        }
        let first = self.slice_of(r.start);
        let last = self.slice_of(r.end - 1);
        for i in first..=last {
            let sr = self
                .obj
                .meta
                .slice_range(i)
                .ok_or_else(|| source_err("range past the object's end"))?;
            let want = r.start.max(sr.start) - sr.start..r.end.min(sr.end) - sr.start;
            self.copy_slice(i, want, sink).await?;
        }
        Ok(())
    }

    /// Sends bytes `want` (relative to the slice) of slice `i`.
    async fn copy_slice(&self, i: u32, mut want: Range<u64>, sink: &Sink) -> Result<(), SendError> {
        let mut source = self.source(i).await?;
        loop {
            match &mut source {
                SliceSource::Stored(file) => return send_file(file, want, sink).await,
                SliceSource::Filling(rx) => {
                    let state = rx.borrow_and_update().clone();
                    let (file, available, done) = match state {
                        FillState::Waiting => (None, 0, false),
                        FillState::Streaming {
                            obj,
                            slice,
                            file,
                            written,
                            ..
                        } => {
                            check_same(&self.obj, &obj, i, slice)?;
                            (Some(file), written, false)
                        }
                        FillState::Done {
                            obj,
                            slice,
                            file,
                            len,
                        } => {
                            check_same(&self.obj, &obj, i, slice)?;
                            (Some(file), len, true)
                        }
                        FillState::NotModified { .. } => {
                            source = self
                                .stored(i)
                                .await?
                                .ok_or_else(|| source_err("slice vanished after revalidation"))?;
                            continue;
                        }
                        FillState::Uncacheable { reason, .. } => {
                            return Err(source_err(&format!(
                                "origin response became uncacheable: {reason}"
                            )))
                        }
                        FillState::Failed(e) => return Err(source_err(&e.to_string())),
                    };
                    if let Some(file) = file {
                        let end = want.end.min(available);
                        if end > want.start {
                            send_file(&file, want.start..end, sink).await?;
                            want.start = end;
                        }
                        if want.is_empty() {
                            return Ok(());
                        }
                        if done {
                            return Err(source_err("fill ended before the requested bytes"));
                        }
                    }
                    if rx.changed().await.is_err() {
                        return Err(source_err("fill abandoned"));
                    }
                }
            }
        }
    }

    async fn source(&self, i: u32) -> Result<SliceSource, SendError> {
        self.cache.index().touch(&self.obj.id, i);
        if let Some((slice, fill)) = &self.hint {
            if *slice == i {
                return Ok(SliceSource::Filling(fill.subscribe()));
            }
        }
        if let Some(s) = self.stored(i).await? {
            return Ok(s);
        }
        if let Some(f) = self.cache.fills().get(&(self.obj.id, i)) {
            return Ok(SliceSource::Filling(f.subscribe()));
        }
        let Some(fill_missing) = &self.fill_missing else {
            return Err(source_err("content no longer stored"));
        };
        Ok(SliceSource::Filling(fill_missing(&self.obj, i).subscribe()))
    }

    /// The stored slice, hashed first if it has not been since an unclean stop.
    async fn stored(&self, i: u32) -> Result<Option<SliceSource>, SendError> {
        let Some(entry) = self
            .cache
            .index()
            .slice(&self.obj.id, self.obj.generation, i)
        else {
            return Ok(None);
        };
        let cache = self.cache.clone();
        let id = self.obj.id;
        let opened = tokio::task::spawn_blocking(move || {
            if !entry.verified && !cache.verify_slice(&id, i, &entry.file) {
                return Ok(None);
            }
            cache.store.open_slice(&id, i, &entry.file.root).map(Some)
        })
        .await
        .map_err(|e| source_err(&e.to_string()))?;
        match opened {
            Ok(Some(f)) => Ok(Some(SliceSource::Stored(Arc::new(f)))),
            Ok(None) => Ok(None),
            // Evicted between the lookup and the open: fill it again.
            Err(e) => {
                tracing::debug!(error = %e, "stored slice vanished");
                Ok(None)
            }
        }
    }
}

fn check_same(want: &ObjectRef, got: &ObjectRef, i: u32, slice: u32) -> Result<(), SendError> {
    if want.id != got.id || i != slice {
        return Err(source_err(
            "the object changed at the origin during the response",
        ));
    }
    Ok(())
}

enum SendError {
    ClientGone,
    Source(io::Error),
}

fn source_err(msg: &str) -> SendError {
    SendError::Source(io::Error::other(msg.to_owned()))
}

struct Sink {
    tx: mpsc::Sender<Result<Bytes, BoxError>>,
    write_timeout: std::time::Duration,
    stats: Arc<Stats>,
}

impl Sink {
    /// Hands a chunk to the connection; a client that takes none for `write_timeout` is dropped.
    async fn send(&self, b: Bytes) -> Result<(), SendError> {
        let n = b.len() as u64;
        match tokio::time::timeout(self.write_timeout, self.tx.send(Ok(b))).await {
            Ok(Ok(())) => {
                self.stats.count_out(n as usize);
                Ok(())
            }
            Ok(Err(_)) => Err(SendError::ClientGone),
            Err(_) => {
                tracing::info!(timeout = ?self.write_timeout, "client too slow to read: dropping response");
                metrics::counter!("meson_terminal_slow_client_drops_total").increment(1);
                Err(SendError::ClientGone)
            }
        }
    }
}

async fn send_file(file: &Arc<File>, range: Range<u64>, sink: &Sink) -> Result<(), SendError> {
    let mut pos = range.start;
    while pos < range.end {
        let n = CHUNK.min((range.end - pos) as usize);
        let mut buf = vec![0u8; n];
        // Page-cache reads are short; like nginx without aio threads, they run on the worker.
        file.read_exact_at(&mut buf, pos)
            .map_err(SendError::Source)?;
        sink.send(buf.into()).await?;
        pos += n as u64;
    }
    Ok(())
}
