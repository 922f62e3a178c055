//! Every SCIM answer that is not a success is a SCIM Error (RFC 7644 §3.12) served as
//! `application/scim+json`, including 401, 404, 405, 413 and malformed JSON.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::DomainError;
use domain::ports::StoreError;
use scim::{ScimError, ScimType};

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// A SCIM error on its way out.
#[derive(Debug)]
pub struct ApiError(pub ScimError);

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        Self(e)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self(match e {
            DomainError::InvalidValue(d) => ScimError::invalid_value(d),
            DomainError::Conflict(d) => ScimError::uniqueness(d),
            // A user of another provisioning source: 409 naming the owner (product.md §2.4).
            DomainError::Owned(d) => ScimError::new(409, None, d),
            DomainError::NotFound(d) => ScimError::not_found(d),
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self(ScimError::not_found("resource not found")),
            StoreError::Conflict(d) => Self(ScimError::uniqueness(d)),
            StoreError::Rule(d) => d.into(),
            StoreError::Unavailable(d) => {
                tracing::error!(error = %d, "database unavailable");
                Self(ScimError::new(503, None, "the directory database is unavailable; retry later"))
            }
            StoreError::Internal(d) => {
                tracing::error!(error = %d, "storage error");
                Self(ScimError::new(500, None, "internal error; see the server log"))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        scim_error_response(&self.0)
    }
}

pub fn scim_error_response(e: &ScimError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, e.to_json().to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
    if status == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"scimd\""));
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the oversize body was never read, so this connection cannot carry another
        // request: say so, or a keep-alive client (Entra, reqwest) sends its next request on it
        // and gets a broken connection instead of an answer.
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// A JSON body with the SCIM content type.
pub fn scim_json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    // `to_vec` writes straight into a buffer (`to_string` goes through `fmt::Display`).
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
    resp
}

pub fn unauthorized(detail: &str) -> ApiError {
    ApiError(ScimError::new(401, None, detail))
}

pub fn too_large(limit: usize) -> ApiError {
    ApiError(ScimError::new(413, None, format!("request body is larger than the limit of {limit} bytes")))
}

pub fn invalid_syntax(detail: impl Into<String>) -> ApiError {
    ApiError(ScimError::bad_request(ScimType::InvalidSyntax, detail))
}
