//! Why a service refused or failed. Services know nothing of HTTP; `http::error` gives each kind its
//! status.

use meson_core::signed::SignedError;
use meson_ledger::refusal::{Refusal, RefusalKind};
use meson_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored audit log does not verify: {0}")]
    Audit(#[from] meson_ledger::audit::AuditError),
    #[error("the governance genesis is refused: {0}")]
    Genesis(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed or asks for something that can never be done.
    #[error("{0}")]
    Invalid(String),
    /// The caller did not prove who it is.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    /// It clashes with what is already there (done before, or in another state).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed, but the rules refuse it (insufficient funds, nothing at stake).
    #[error("{0}")]
    Refused(String),
    /// A signed message that is forged, stale, replayed or for another purpose.
    #[error(transparent)]
    Signed(#[from] SignedError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
}

/// A money rule's refusal, by its kind.
impl From<Refusal> for ServiceError {
    fn from(refusal: Refusal) -> Self {
        let why = refusal.to_string();
        match refusal.kind() {
            RefusalKind::Invalid => ServiceError::Invalid(why),
            RefusalKind::Conflict => ServiceError::Conflict(why),
            RefusalKind::Unprocessable => ServiceError::Refused(why),
            RefusalKind::NotFound => ServiceError::NotFound(why),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
