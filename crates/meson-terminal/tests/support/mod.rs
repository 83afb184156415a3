//! Shared by the integration tests: a real terminal, in process, in front of the testkit's origin, and its
//! admin API. The origin, the HTTP client and the store helpers come from `meson-testkit`.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::time::Duration;

use bytes::Bytes;
use meson_terminal::{Terminal, TerminalConfig};
pub use meson_testkit::*;

/// How long background work in the terminal (revalidation, scrub, fills committing) may take.
pub const BACKGROUND: Duration = Duration::from_secs(10);

/// A terminal configuration for tests: ephemeral ports on 127.0.0.1, a fresh data directory.
pub fn config(origin: &Origin, dir: &std::path::Path) -> TerminalConfig {
    let mut cfg = TerminalConfig::new(origin.url().parse().unwrap(), dir.to_path_buf());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin_listen = "127.0.0.1:0".parse().unwrap();
    cfg.fsync = meson_terminal::config::FsyncPolicy::Never;
    cfg.min_free_disk = 0;
    cfg.timeouts.origin_read = Duration::from_secs(5);
    cfg
}

pub async fn terminal(cfg: TerminalConfig) -> Terminal {
    Terminal::start(cfg).await.expect("terminal starts")
}

/// An admin API call with the terminal's token.
pub async fn admin(
    t: &Terminal,
    method: &str,
    path: &str,
    json: Option<serde_json::Value>,
) -> (u16, Bytes) {
    let token = admin_token(&t.cache.config().data_dir);
    let got = admin_request(t.admin_addr, &token, method, path, json).await;
    (got.status, got.body)
}

/// Waits until the terminal has no fill in flight (fills commit just after their clients are answered).
pub async fn settle(t: &Terminal) {
    eventually_within(BACKGROUND, "fills settle", || {
        t.cache.fills_in_flight() == 0
    })
    .await;
}
