//! The router's HTTP surface: [`routes`] registers every route; one handler file per resource parses the
//! request, calls the services and answers, and describes itself for the OpenAPI document that
//! [`openapi`] assembles; [`error`] is the leaf they share (the error type and the extractors). No handler
//! file imports another one, the routes or the document.

mod audits;
mod claims;
mod control;
mod council;
pub(crate) mod error;
mod gov;
mod info;
mod jobs;
mod ledger;
mod openapi;
mod redirect;
mod roots;
pub(crate) mod routes;
mod sites;
mod terminals;
mod traffic;
