//! Test support shared by Meson CDN's integration tests (`meson-terminal` in process, `meson-cli` with the
//! real binary): a real origin HTTP server on 127.0.0.1 whose resources each test sets ([`Origin`],
//! [`Resource`]), a plain HTTP client ([`request`], [`get`], [`call`], [`Got`]; [`get_json`] and
//! [`Got::parse`] read an answer as its type), a terminal reduced to its node key and health path for
//! driving a router's control API ([`SigningTerminal`]), deterministic bodies ([`pattern`]), bounded
//! polling ([`eventually`]), and helpers that read, check and damage what a terminal stored under its data
//! directory ([`body_files`], [`check_listing`], [`flip_byte`], …), and objective evidence signed with real
//! keys ([`evidence`]).
//!
//! Every wait is bounded (by [`WAIT`] unless a test names its own limit): a hang fails instead of blocking CI.

use std::time::{Duration, Instant};

use bytes::Bytes;

mod client;
pub mod evidence;
mod node;
mod origin;
mod store;

pub use client::{
    admin_request, admin_token, assert_full, assert_range, call, client, get, get_json, get_range,
    get_url_from, json_request, request, request_from, try_request, Client, Got,
};
pub use meson_node::unix_now;
pub use node::{publish_roots, redirect_ticket, ticket_in, usage_record, SigningTerminal};
pub use origin::{Origin, Resource, Seen};
pub use store::{
    body_file, body_files, check_listing, flip_byte, flip_middle_byte, key_path, slice_count,
    stored_bodies, truncate_half, truncate_to, zero_tail,
};

/// Upper bound for any single wait in these tests: a hang fails instead of blocking CI.
pub const WAIT: Duration = Duration::from_secs(30);

/// Deterministic pseudo-random bytes (xorshift64), different at every offset and for every seed.
pub fn pattern(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out.into()
}

/// The BLAKE3 hash of `bytes`, in hex.
pub fn b3(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Polls `f` every 50 ms until it holds, for at most [`WAIT`].
pub async fn eventually(what: &str, f: impl FnMut() -> bool) {
    eventually_within(WAIT, what, f).await;
}

/// Polls the future `f` makes every 25 ms until it yields true, for at most [`WAIT`].
pub async fn eventually_async<F: std::future::Future<Output = bool>>(
    what: &str,
    mut f: impl FnMut() -> F,
) {
    eventually_some_within(WAIT, what, || {
        let done = f();
        async move { done.await.then_some(()) }
    })
    .await
}

/// Polls the future `f` makes every 25 ms until it yields a value, for at most `limit` (for what comes
/// at the pace of a slower clock than [`WAIT`] allows, such as council terms); that value.
pub async fn eventually_some_within<T, F: std::future::Future<Output = Option<T>>>(
    limit: Duration,
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out after {limit:?} waiting for: {what}");
}

/// Polls `f` every 50 ms until it holds, for at most `limit`; then fails naming `what`.
pub async fn eventually_within(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {limit:?} waiting for: {what}");
}

/// Returns once the wall clock has left Unix second `t`: what a test waits for when the event is an epoch
/// ending by the clock itself (the router that would settle it is stopped, so nothing else signals it).
/// It sleeps exactly up to the next second boundary, not by polling.
pub async fn second_over(t: u64) {
    let end = std::time::UNIX_EPOCH + Duration::from_secs(t + 1);
    if let Ok(left) = end.duration_since(std::time::SystemTime::now()) {
        tokio::time::sleep(left).await;
    }
}
