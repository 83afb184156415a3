//! Fills in flight: one origin request per slice, however many clients want it (single flight).
//!
//! The first request for a slice becomes the fill's leader and gets a [`Leader`] to run it; every later
//! one joins as a follower and watches the same [`Fill`]. A fill may answer under a second key once it
//! knows which object its body belongs to (a miss keyed by its variant becomes an object id); the leader
//! registers that key too. [`Fills::finish`] publishes the final state and releases every key at once.

use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard};

use http::StatusCode;
use meson_core::content::Root;
use meson_core::http_cache::{NoCacheReason, Unusable};
use tokio::sync::watch;

use crate::index::ObjectRef;
use crate::object::ObjectId;

/// A slice of an object (or of a variant not yet stored): what fills coalesce on.
pub type FillKey = (ObjectId, u32);

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
        reason: NoCacheReason,
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
    RootMismatch { expected: Root, got: Root },
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

impl From<Unusable> for FillError {
    fn from(u: Unusable) -> Self {
        match u {
            Unusable::PastEnd => FillError::PastEnd,
            Unusable::Changed => FillError::Changed,
            e @ (Unusable::NoContentRange | Unusable::WrongRange { .. }) => {
                FillError::Origin(e.to_string().into(), StatusCode::BAD_GATEWAY)
            }
        }
    }
}

/// One fill, as its waiters watch it.
pub struct Fill {
    tx: watch::Sender<FillState>,
}

impl Fill {
    pub fn subscribe(&self) -> watch::Receiver<FillState> {
        self.tx.subscribe()
    }

    /// Waits until the fill knows its response head (or failed).
    pub async fn head(&self) -> FillState {
        let mut rx = self.subscribe();
        loop {
            let state = rx.borrow_and_update().clone();
            if !matches!(state, FillState::Waiting) {
                return state;
            }
            if rx.changed().await.is_err() {
                return FillState::Failed(FillError::Origin(
                    "fill abandoned".into(),
                    StatusCode::BAD_GATEWAY,
                ));
            }
        }
    }
}

/// The right to run a fill: only its leader publishes to it.
pub struct Leader {
    fill: Arc<Fill>,
    keys: Vec<FillKey>,
}

impl Leader {
    pub fn fill(&self) -> &Arc<Fill> {
        &self.fill
    }

    pub fn publish(&self, state: FillState) {
        self.fill.tx.send_replace(state);
    }

    /// The first `written` bytes of a streaming body are in its file.
    pub fn progress(&self, written: u64) {
        self.fill.tx.send_modify(|s| {
            if let FillState::Streaming { written: w, .. } = s {
                *w = written;
            }
        });
    }
}

/// What joining a fill gave.
pub enum Joined {
    /// None was in flight: run this one.
    Leader(Leader),
    /// One was in flight: watch it.
    Follower(Arc<Fill>),
}

/// The fills in flight, by every key each answers to.
#[derive(Default)]
pub struct Fills {
    map: Mutex<HashMap<FillKey, Arc<Fill>>>,
}

impl Fills {
    fn map(&self) -> MutexGuard<'_, HashMap<FillKey, Arc<Fill>>> {
        self.map.lock().expect("fills lock")
    }

    /// Joins the fill in flight under `key`, or starts one there.
    pub fn join(&self, key: FillKey) -> Joined {
        let mut map = self.map();
        if let Some(f) = map.get(&key) {
            metrics::counter!("meson_terminal_fill_waiters_total").increment(1);
            return Joined::Follower(f.clone());
        }
        let (tx, _) = watch::channel(FillState::Waiting);
        let fill = Arc::new(Fill { tx });
        map.insert(key, fill.clone());
        Joined::Leader(Leader {
            fill,
            keys: vec![key],
        })
    }

    /// Makes the leader's fill the one in flight under `key` as well.
    pub fn register(&self, leader: &mut Leader, key: FillKey) {
        if !leader.keys.contains(&key) {
            self.map().insert(key, leader.fill.clone());
            leader.keys.push(key);
        }
    }

    /// Publishes the fill's final state and takes it out of flight under every key it held.
    pub fn finish(&self, leader: Leader, state: FillState) {
        leader.publish(state);
        let mut map = self.map();
        for k in leader.keys {
            if map.get(&k).is_some_and(|f| Arc::ptr_eq(f, &leader.fill)) {
                map.remove(&k);
            }
        }
    }

    /// The fill in flight for a slice.
    pub fn get(&self, key: &FillKey) -> Option<Arc<Fill>> {
        self.map().get(key).cloned()
    }

    /// Fills in flight (one counts once, under however many keys).
    pub fn len(&self) -> usize {
        let map = self.map();
        let mut distinct: Vec<*const Fill> = map.values().map(Arc::as_ptr).collect();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8, slice: u32) -> FillKey {
        (ObjectId::derive(&n.to_string(), ""), slice)
    }

    fn leader(j: Joined) -> Leader {
        match j {
            Joined::Leader(l) => l,
            Joined::Follower(_) => panic!("expected to lead"),
        }
    }

    fn follower(j: Joined) -> Arc<Fill> {
        match j {
            Joined::Follower(f) => f,
            Joined::Leader(_) => panic!("expected to follow"),
        }
    }

    #[test]
    fn the_first_leads_and_the_rest_follow_until_it_finishes() {
        let fills = Fills::default();
        let l = leader(fills.join(key(1, 0)));
        let f = follower(fills.join(key(1, 0)));
        assert!(Arc::ptr_eq(&f, l.fill()));
        // Another slice is another fill.
        let other = leader(fills.join(key(1, 1)));
        assert_eq!(fills.len(), 2);

        let rx = f.subscribe();
        fills.finish(l, FillState::Failed(FillError::Changed));
        assert!(matches!(
            &*rx.borrow(),
            FillState::Failed(FillError::Changed)
        ));
        assert!(fills.get(&key(1, 0)).is_none());
        leader(fills.join(key(1, 0)));
        fills.finish(other, FillState::Failed(FillError::PastEnd));
    }

    #[test]
    fn a_second_key_counts_once_and_is_released_with_the_first() {
        let fills = Fills::default();
        let mut l = leader(fills.join(key(1, 0)));
        fills.register(&mut l, key(2, 0));
        fills.register(&mut l, key(2, 0));
        assert_eq!(fills.len(), 1);
        assert!(Arc::ptr_eq(&follower(fills.join(key(2, 0))), l.fill()));
        fills.finish(l, FillState::Failed(FillError::Changed));
        assert!(fills.is_empty());
    }

    #[test]
    fn finishing_leaves_a_newer_fill_under_a_shared_key_alone() {
        let fills = Fills::default();
        let mut old = leader(fills.join(key(1, 0)));
        let mut new = leader(fills.join(key(2, 0)));
        fills.register(&mut old, key(3, 0));
        fills.register(&mut new, key(3, 0));
        fills.finish(old, FillState::Failed(FillError::Changed));
        let still = fills.get(&key(3, 0)).expect("the newer fill keeps the key");
        assert!(Arc::ptr_eq(&still, new.fill()));
        fills.finish(new, FillState::Failed(FillError::Changed));
        assert!(fills.is_empty());
    }

    #[tokio::test]
    async fn head_waits_for_the_first_state_past_waiting() {
        let fills = Fills::default();
        let l = leader(fills.join(key(1, 0)));
        let f = l.fill().clone();
        let waiter = tokio::spawn(async move { f.head().await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        fills.finish(l, FillState::Failed(FillError::PastEnd));
        assert!(matches!(
            waiter.await.unwrap(),
            FillState::Failed(FillError::PastEnd)
        ));
    }
}
