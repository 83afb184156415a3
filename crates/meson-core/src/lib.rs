//! Meson CDN's policy, shared by every server and the simulator.
//!
//! Nothing in this crate performs I/O: callers pass in headers, bytes and the current time, and get
//! decisions back. That keeps every rule testable on its own and identical wherever it runs.

pub mod audit;
pub mod auditsim;
pub mod cachesim;
pub mod content;
pub mod council;
pub mod eviction;
pub mod evidence;
pub mod http_cache;
pub mod huntsim;
pub mod identity;
pub mod keying;
pub mod path;
pub mod probe;
pub mod range;
pub mod schedule;
pub mod served;
pub mod signed;
mod sim;
pub mod size;
pub mod ticket;
pub mod wire;
