//! The one error type of the HTTP surface and the extractors that answer with it. A leaf: it imports no
//! handler, only the services' error it translates.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use meson_core::identity::NodeId;
use meson_core::signed::SignedError;
use meson_store::StoreError;
use serde::de::DeserializeOwned;

use crate::services::error::ServiceError;

pub use meson_node::{bad_request, ApiError, ApiResult};

/// A store failure as an answer: what the caller got wrong, or a 500 logged here.
pub fn store_error(e: StoreError) -> ApiError {
    let status = match &e {
        StoreError::NotFound(_) => StatusCode::NOT_FOUND,
        StoreError::Conflict(_) => StatusCode::CONFLICT,
        StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
        StoreError::Open { .. } | StoreError::Backend(_) => {
            tracing::error!(error = %e, "store failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    ApiError(status, e.to_string())
}

/// A node id from a path or body.
pub fn node(text: &str) -> ApiResult<NodeId> {
    text.parse()
        .map_err(|e| bad_request(format!("{text:?} is not a node id: {e}")))
}

/// A refused signed control message as an answer.
pub fn signed_error(e: SignedError) -> ApiError {
    let status = match e {
        SignedError::Replayed => StatusCode::CONFLICT,
        SignedError::ReplayCacheFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNAUTHORIZED,
    };
    metrics::counter!("meson_router_control_refused_total").increment(1);
    ApiError(status, e.to_string())
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(m) => bad_request(m),
            ServiceError::Unauthorized(m) => ApiError(StatusCode::UNAUTHORIZED, m),
            ServiceError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
            ServiceError::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
            ServiceError::Refused(m) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, m),
            ServiceError::Signed(e) => signed_error(e),
            ServiceError::Store(e) => store_error(e),
            ServiceError::Ledger(e) => {
                tracing::error!(error = %e, "ledger write failed");
                ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("ledger: {e}"))
            }
        }
    }
}

// Axum's own extractors refuse a malformed request in plain text; these refuse it as an `ErrorBody` like
// every other refusal, so that each 4xx the API answers has the body its schema names.

/// A JSON body.
pub struct JsonBody<T>(pub T);

/// The path's parameters.
pub struct PathParam<T>(pub T);

/// The query string's parameters.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let got = Json::<T>::from_request(req, state).await;
        got.map(|Json(v)| JsonBody(v))
            .map_err(|e| ApiError(e.status(), e.body_text()))
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let got = Path::<T>::from_request_parts(parts, state).await;
        got.map(|Path(v)| PathParam(v))
            .map_err(|e| ApiError(e.status(), e.body_text()))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let got = Query::<T>::from_request_parts(parts, state).await;
        got.map(|Query(v)| QueryParams(v))
            .map_err(|e| ApiError(e.status(), e.body_text()))
    }
}
