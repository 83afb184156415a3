//! The router's spot checks, answered on the public port at [`AUDIT_PATH`]: a challenge the router
//! signed for this terminal names a piece of content by root and a chunk group; the answer is that group
//! and its Bao proof read from disk as they are (never checked first: the audit is the check), or that
//! the content is not held, signed with this terminal's node key together with the challenge. See
//! [`meson_core::audit`] for the protocol.

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use meson_core::audit::{Answer, Challenge, Reply, AUDIT_PATH};
use meson_core::content;
use meson_core::signed::SignedMessage;

use crate::body::{self, ResponseBody};
use crate::cache::Cache;
use crate::index::{ObjectRef, SliceEntry};

/// A challenge is a few hundred bytes.
const MAX_CHALLENGE: usize = 16 * 1024;

/// The proof of chunk group `group` of a stored piece (one slice, or a whole object): checked against
/// its outboard first when `checked` (the operator's spot check), as stored otherwise (an audit). Blocking.
pub fn prove(
    cache: &Cache,
    obj: &ObjectRef,
    slice: u32,
    entry: &SliceEntry,
    group: u64,
    checked: bool,
) -> Result<Vec<u8>, String> {
    let size = entry.file.len;
    let range = content::chunk_group_range(size, group).ok_or_else(|| {
        format!(
            "chunk group {group} out of range: the content has {} groups",
            content::chunk_group_count(size)
        )
    })?;
    let root = &entry.file.root;
    let file = cache
        .store
        .open_slice(&obj.id, slice, root)
        .map_err(|e| e.to_string())?;
    let outboard = cache
        .store
        .read_outboard(&obj.id, slice, root)
        .map_err(|e| e.to_string())?;
    let mut data = vec![0u8; (range.end - range.start) as usize];
    file.read_exact_at(&mut data, range.start)
        .map_err(|e| e.to_string())?;
    let encode = if checked {
        content::encode_chunk_group
    } else {
        content::encode_chunk_group_as_stored
    };
    encode(size, &outboard, group, &data).map_err(|e| e.to_string())
}

fn reply_to(cache: &Cache, c: &Challenge) -> Reply {
    let Some((obj, slice, entry)) = cache.index().by_root(&c.root) else {
        return Reply::NotHeld;
    };
    if entry.file.len != c.size {
        return Reply::NotHeld;
    }
    match prove(cache, &obj, slice, &entry, c.group, false) {
        Ok(proof) => Reply::proof(&proof),
        Err(why) => {
            tracing::warn!(root = %c.root, group = c.group, %why, "cannot read content for an audit");
            Reply::NotHeld
        }
    }
}

/// Answers a `POST` to [`AUDIT_PATH`].
pub async fn answer(cache: &Arc<Cache>, method: &Method, body: Incoming) -> Response<ResponseBody> {
    if method != Method::POST {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("POST a signed challenge to {AUDIT_PATH}"),
        );
    }
    let bytes: Bytes = match Limited::new(body, MAX_CHALLENGE).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("challenge: {e}")),
    };
    let msg: SignedMessage<Challenge> = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("challenge: {e}")),
    };
    let challenge = match cache.sites.check_challenge(&msg) {
        Ok(c) => c,
        Err(why) => {
            tracing::info!(%why, "audit challenge refused");
            metrics::counter!("meson_terminal_audits_total", "outcome" => "refused").increment(1);
            return text(StatusCode::FORBIDDEN, &why);
        }
    };
    let c = cache.clone();
    let reply = match tokio::task::spawn_blocking(move || reply_to(&c, &challenge)).await {
        Ok(reply) => reply,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let outcome = match reply {
        Reply::NotHeld => "not_held",
        Reply::Proof(_) => "answered",
    };
    metrics::counter!("meson_terminal_audits_total", "outcome" => outcome).increment(1);
    let answer = Answer {
        challenge: msg,
        reply,
    };
    match cache.sites.sign_answer(&answer) {
        Ok(signed) => {
            let json = serde_json::to_string(&signed).unwrap_or_default();
            let mut resp = Response::new(body::full(json));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(why) => text(StatusCode::INTERNAL_SERVER_ERROR, &why),
    }
}

fn text(status: StatusCode, msg: &str) -> Response<ResponseBody> {
    let mut resp = Response::new(body::full(format!("{msg}\n")));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
