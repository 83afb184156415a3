//! Operator actions on the cache that both the admin API and the router's jobs perform: purge and push.

use std::sync::Arc;

use meson_core::content::Root;

use crate::cache::Cache;
use crate::fill::{FillError, FillRequest, FillState, Push};
use crate::object::{ObjectId, ObjectMeta};
use crate::site::Site;

/// Which objects a purge removes.
pub enum Purge<'a> {
    /// Every variant of one cache key.
    Key(&'a str),
    /// Every key starting with this.
    Prefix(&'a str),
    /// Objects tagged (`Cache-Tag` / `Surrogate-Key`) with `tag`, among keys starting with `within`.
    Tag { tag: &'a str, within: &'a str },
}

impl Purge<'_> {
    fn matches(&self, m: &ObjectMeta) -> bool {
        match self {
            Purge::Key(k) => m.key == *k,
            Purge::Prefix(p) => m.key.starts_with(p),
            Purge::Tag { tag, within } => m.key.starts_with(within) && m.tags().any(|t| t == *tag),
        }
    }
}

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

impl Cache {
    /// Removes what `what` names; returns how many objects.
    pub async fn purge(self: &Arc<Self>, what: Purge<'_>) -> usize {
        let removed = self.index().remove_where(|m| what.matches(m));
        let n = removed.objects.len();
        tracing::info!(objects = n, "purged");
        metrics::counter!("meson_terminal_purged_objects_total").increment(n as u64);
        self.delete(removed).await;
        n
    }

    /// Save/cache a file: fetches `path_and_query` whole from the site's origin and keeps it only if it
    /// hashes to `root`, fresh for `ttl` seconds.
    pub async fn push(
        self: &Arc<Self>,
        site: Arc<Site>,
        key: String,
        path_and_query: String,
        root: Root,
        ttl: u64,
    ) -> Result<Pushed, PushError> {
        let coalesce = ObjectId::derive(&key, "");
        let fill = FillRequest {
            site,
            key: key.clone(),
            path_and_query,
            headers: http::HeaderMap::new(),
            client_ip: None,
            slice: 0,
            known: None,
            revalidate: false,
            push: Some(Push { root, ttl }),
        };
        let (fill, _) = self.fill((coalesce, 0), fill);
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
}
