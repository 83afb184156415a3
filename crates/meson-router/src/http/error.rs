//! The one error type of the HTTP surface and the extractors that answer with it. A leaf: it imports no
//! handler, only the services' error it translates.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use meson_api::ErrorBody;
use meson_core::signed::SignedError;
use meson_store::StoreError;
use serde::de::DeserializeOwned;

use crate::services::error::ServiceError;

/// An API error: a status and a message, sent as an [`ErrorBody`].
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody::new(self.1))).into_response()
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
