//! The router's HTTP surface: [`routes`] registers every route; one handler file per resource parses the
//! request, calls the services and answers; [`error`] is the leaf they share (the error type and the body
//! extractor). No handler file imports another one or the routes.

mod audits;
mod claims;
mod control;
mod council;
pub(crate) mod error;
mod jobs;
mod ledger;
mod redirect;
mod roots;
pub(crate) mod routes;
mod sites;
mod terminals;
