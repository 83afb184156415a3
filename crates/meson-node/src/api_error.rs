//! The error both servers' HTTP APIs answer with: a status and a reason for a person, sent as
//! [`ErrorBody`] (`{"error": "..."}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use meson_core::wire::ErrorBody;

#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

pub type ApiResult<T> = Result<T, ApiError>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody::new(self.1))).into_response()
    }
}

pub fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

pub fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, msg.into())
}
