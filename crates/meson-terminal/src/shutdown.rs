//! The shutdown signal every long-running task of a terminal watches.

use tokio::sync::watch;

/// Resolves once shutdown has been requested (or the terminal is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
