//! The one error type of the HTTP surface and the body extractor that answers with it. A leaf: it
//! imports no handler, only the services' error it translates.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use meson_core::signed::SignedError;
use meson_store::StoreError;

use crate::services::error::ServiceError;

/// An API error: a status and a message, sent as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(meson_node::error_body(&self.1))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
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
}

impl From<SignedError> for ApiError {
    fn from(e: SignedError) -> Self {
        let status = match e {
            SignedError::Replayed => StatusCode::CONFLICT,
            SignedError::ReplayCacheFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        };
        metrics::counter!("meson_router_control_refused_total").increment(1);
        ApiError(status, e.to_string())
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(m) => bad_request(m),
            ServiceError::Unauthorized(m) => ApiError(StatusCode::UNAUTHORIZED, m),
            ServiceError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
            ServiceError::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
            ServiceError::Refused(m) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, m),
            ServiceError::Signed(e) => e.into(),
            ServiceError::Store(e) => e.into(),
            ServiceError::Ledger(e) => {
                tracing::error!(error = %e, "ledger write failed");
                ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("ledger: {e}"))
            }
        }
    }
}

pub fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body, with a malformed one refused as `{"error": ...}` like every other error.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| JsonBody(v))
            .map_err(|e| ApiError(e.status(), e.body_text()))
    }
}
