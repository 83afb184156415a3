//! What every Meson server process (router, terminal) needs of its machine beyond the cache and the
//! store: its secret files, an HTTP client connector for calling other nodes and origins, the clock, the
//! bearer-token check of operator endpoints, and the health path and request-id header both servers use.

pub mod bearer;
pub mod clock;
pub mod conventions;
pub mod http;
pub mod secret;

pub use bearer::bearer_matches;
pub use clock::unix_now;
pub use conventions::{HEALTH_PATH, METRICS_PATH, X_REQUEST_ID};
pub use secret::{load_or_create, load_or_create_node_key, KeyFileError};
