//! What the router does, below its HTTP surface: each service owns one part of the state, and none knows
//! of HTTP. The money services keep no rule of their own: they read the ledger, call the plans of
//! [`meson_ledger`] and submit what those return. Handlers in `crate::http` call them; they call the
//! store below.

pub mod audit;
pub(crate) mod billing;
pub mod budget;
pub(crate) mod claims;
pub(crate) mod council;
pub(crate) mod elections;
pub(crate) mod error;
pub(crate) mod governance;
pub(crate) mod holdings;
pub(crate) mod jobs;
pub mod ledger;
pub(crate) mod registry;
pub(crate) mod review;
pub(crate) mod roots;
pub(crate) mod serial;
pub(crate) mod sites;
pub(crate) mod slashing;
pub(crate) mod stake;
pub(crate) mod statements;
pub(crate) mod tickets;
pub(crate) mod transactions;
pub(crate) mod usage;
pub(crate) mod withholding;
