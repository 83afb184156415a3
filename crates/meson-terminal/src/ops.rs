//! An operator action on the cache that both the admin API and the router's jobs perform: push.

use std::sync::Arc;

use meson_core::content::Root;

use crate::cache::Cache;
use crate::fill::{self, FillKind, FillRequest, Push};
use crate::fills::{FillError, FillState};
use crate::object::ObjectId;
use crate::site::Site;

/// A push that stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The origin's bytes do not hash to the expected root: nothing was kept.
    #[error(transparent)]
    Mismatch(FillError),
    #[error("{0}")]
    Origin(String),
}

/// A stored push.
pub struct Pushed {
    pub id: ObjectId,
    pub len: u64,
}

/// Save/cache a file: fetches `path_and_query` whole from the site's origin and keeps it only if it
/// hashes to `root`, fresh for `ttl` seconds.
pub async fn push(
    cache: &Arc<Cache>,
    site: Arc<Site>,
    key: String,
    path_and_query: String,
    root: Root,
    ttl: u64,
) -> Result<Pushed, PushError> {
    let coalesce = ObjectId::derive(&key, "");
    let req = FillRequest {
        site,
        key: key.clone(),
        path_and_query,
        headers: http::HeaderMap::new(),
        client_ip: None,
        slice: 0,
        kind: FillKind::Push(Push { root, ttl }),
    };
    let (fill, _) = fill::start(cache, (coalesce, 0), req);
    let mut rx = fill.subscribe();
    loop {
        let s = rx.borrow_and_update().clone();
        match s {
            FillState::Done { obj, len, .. } => {
                tracing::info!(%key, %root, len, "pushed object stored");
                return Ok(Pushed { id: obj.id, len });
            }
            FillState::Failed(e @ FillError::RootMismatch { .. }) => {
                return Err(PushError::Mismatch(e))
            }
            FillState::Failed(e) => return Err(PushError::Origin(e.to_string())),
            FillState::Uncacheable { status, reason } => {
                return Err(PushError::Origin(format!(
                    "origin answered {status}: {reason}"
                )))
            }
            FillState::NotModified { .. } => {
                return Err(PushError::Origin("unexpected 304".into()))
            }
            FillState::Waiting | FillState::Streaming { .. } => {}
        }
        if rx.changed().await.is_err() {
            return Err(PushError::Origin("fill abandoned".into()));
        }
    }
}
