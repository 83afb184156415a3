//! Why a terminal could not start.

use std::net::SocketAddr;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("network mode: {0}")]
    Network(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("secret file {0}")]
    Secret(#[from] meson_node::KeyFileError),
    #[error("origin must be an absolute http:// or https:// URL with a host, got {0}")]
    Origin(String),
}
