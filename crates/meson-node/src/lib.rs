//! What every Meson server process (router, terminal) needs of its machine beyond the cache and the
//! store: its secret files, and an HTTP client connector for calling other nodes and origins.

pub mod http;
pub mod secret;

pub use secret::{load_or_create, load_or_create_node_key, KeyFileError};
