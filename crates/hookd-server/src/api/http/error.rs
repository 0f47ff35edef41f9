//! [`ApiError`]: the one error type at the API edge.
//!
//! Every error response is JSON with a stable snake_case `code`. Client errors carry a
//! `detail` string and are not logged. Validation errors (422) carry Svix's `detail` shape,
//! a list of `{loc, msg, type}` items, because the official SDKs parse 422 bodies that way;
//! `loc` names the offending field (`["body", "url"]`, `["query", "limit"]`). Internal
//! errors are logged once with their cause chain and answer a generic body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hookd_store::{RateLimitedLog, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// An API failure, turned into a status and a JSON body by [`IntoResponse`].
#[derive(Debug)]
pub enum ApiError {
    /// 422: a field failed validation. `loc` is the path to it (`["body", "url"]`).
    Validation { loc: Vec<String>, msg: String },
    /// 400: the body is not JSON at all.
    InvalidJson(String),
    /// 400: the request body could not be read (the client went away mid-body, say).
    UnreadableBody(String),
    /// 401: missing or wrong bearer token.
    Unauthorized(&'static str),
    /// 404: the addressed resource or route does not exist.
    NotFound(String),
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 409: a unique key is taken; the string explains which.
    Conflict(String),
    /// 422: an `idempotency-key` already used for a different request.
    IdempotencyKeyReused,
    /// 409: an `idempotency-key` whose first request is still running.
    IdempotencyKeyInProgress,
    /// 413: the body is larger than the configured limit.
    PayloadTooLarge,
    /// 503: storage is unreachable, did not answer in time, refuses writes, or is
    /// shutting down.
    Unavailable(String),
    /// 503: a write failed for lack of disk space; retry once space returns.
    StorageFull(String),
    /// 500: anything unexpected; logged with its cause, never shown.
    Internal(anyhow::Error),
    /// 403: the token is valid but does not reach this route (an app-portal token).
    Forbidden(&'static str),
}

/// A copy of an error, for the other requests that waited on the same read (the fan-out
/// cache hands one read's failure to every request that waited for it). An internal
/// error's copy keeps its message and causes as text.
impl Clone for ApiError {
    fn clone(&self) -> Self {
        match self {
            Self::Validation { loc, msg } => Self::Validation {
                loc: loc.clone(),
                msg: msg.clone(),
            },
            Self::InvalidJson(s) => Self::InvalidJson(s.clone()),
            Self::UnreadableBody(s) => Self::UnreadableBody(s.clone()),
            Self::Unauthorized(s) => Self::Unauthorized(s),
            Self::NotFound(s) => Self::NotFound(s.clone()),
            Self::MethodNotAllowed => Self::MethodNotAllowed,
            Self::Conflict(s) => Self::Conflict(s.clone()),
            Self::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            Self::IdempotencyKeyInProgress => Self::IdempotencyKeyInProgress,
            Self::PayloadTooLarge => Self::PayloadTooLarge,
            Self::Unavailable(s) => Self::Unavailable(s.clone()),
            Self::StorageFull(s) => Self::StorageFull(s.clone()),
            Self::Internal(e) => Self::Internal(anyhow::anyhow!("{e:#}")),
            Self::Forbidden(s) => Self::Forbidden(s),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The body of every error but validation: a stable `code` and a sentence for people.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HttpErrorOut)]
pub struct HttpErrorOut {
    /// Stable, snake_case: what a program matches on.
    pub code: &'static str,
    /// What went wrong, for people; the wording may change.
    pub detail: String,
}

/// The body of a 422: Svix's shape (a list of `{loc, msg, type}`), which the SDKs parse.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HTTPValidationError)]
pub struct ValidationErrorOut {
    /// `validation`, or `idempotency_key_reused`.
    pub code: &'static str,
    pub detail: Vec<ValidationErrorItem>,
}

/// One refused value.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationErrorItem {
    /// Where the value is: `["body", "url"]`, `["query", "limit"]`, `["header", "idempotency-key"]`.
    pub loc: Vec<String>,
    pub msg: String,
    /// Always `value_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl ValidationErrorOut {
    fn one(code: &'static str, loc: Vec<String>, msg: String) -> Self {
        Self {
            code,
            detail: vec![ValidationErrorItem {
                loc,
                msg,
                kind: "value_error",
            }],
        }
    }
}

/// During a database outage (or while the disk is full) every request fails the same way:
/// log one line a second per cause, with how many were left out, instead of one per request.
static UNAVAILABLE_LOG: RateLimitedLog = RateLimitedLog::new();
static STORAGE_FULL_LOG: RateLimitedLog = RateLimitedLog::new();

impl ApiError {
    /// A validation failure of a body field.
    pub fn field(field: &str, msg: impl Into<String>) -> Self {
        Self::Validation {
            loc: vec!["body".into(), field.into()],
            msg: msg.into(),
        }
    }

    /// A validation failure of a query parameter.
    pub fn query(param: &str, msg: impl Into<String>) -> Self {
        Self::Validation {
            loc: vec!["query".into(), param.into()],
            msg: msg.into(),
        }
    }

    /// A 404 naming what was not found.
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    /// Maps a store error, naming the addressed resource on 404.
    pub fn from_store(what: &str, err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::not_found(what),
            other => other.into(),
        }
    }

    /// The error of writing a message (`Engine::publish`): a conflict there can only be
    /// the application's `eventId` being taken.
    pub fn from_message_write(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(_) => Self::Conflict(
                "a message with this eventId already exists in this application".into(),
            ),
            other => other.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::Conflict(key) => Self::Conflict(format!("{key} is already in use")),
            StoreError::Unavailable(why) => Self::Unavailable(why),
            StoreError::StorageFull(why) => Self::StorageFull(why),
            StoreError::Other(cause) => Self::Internal(cause),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            Self::Validation { loc, msg } => {
                let field = loc.last().cloned().unwrap_or_default();
                let msg = if field.is_empty() || field == "body" || msg.contains(&field) {
                    msg
                } else {
                    format!("{field}: {msg}")
                };
                let body = ValidationErrorOut::one("validation", loc, msg);
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            }
            Self::InvalidJson(detail) => simple(StatusCode::BAD_REQUEST, "invalid_json", &detail),
            Self::UnreadableBody(detail) => {
                simple(StatusCode::BAD_REQUEST, "unreadable_body", &detail)
            }
            Self::Unauthorized(detail) => {
                simple(StatusCode::UNAUTHORIZED, "authentication_failed", detail)
            }
            Self::NotFound(detail) => simple(StatusCode::NOT_FOUND, "not_found", &detail),
            Self::MethodNotAllowed => simple(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept this method",
            ),
            Self::Conflict(detail) => simple(StatusCode::CONFLICT, "conflict", &detail),
            // Svix's 422 shape (a `detail` list), which the SDKs parse.
            Self::IdempotencyKeyReused => {
                let body = ValidationErrorOut::one(
                    "idempotency_key_reused",
                    vec!["header".into(), "idempotency-key".into()],
                    "this idempotency-key was already used for a different request".into(),
                );
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            }
            Self::IdempotencyKeyInProgress => simple(
                StatusCode::CONFLICT,
                "idempotency_key_in_progress",
                "a request with this idempotency-key is still running; retry shortly",
            ),
            Self::PayloadTooLarge => simple(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than the server accepts",
            ),
            Self::Unavailable(why) => {
                if let Some(suppressed) = UNAVAILABLE_LOG.admit() {
                    tracing::warn!(error = %why, suppressed, "storage unavailable; answering 503");
                }
                simple(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is temporarily unavailable; retry later",
                )
            }
            Self::StorageFull(why) => {
                if let Some(suppressed) = STORAGE_FULL_LOG.admit() {
                    tracing::warn!(error = %why, suppressed, "storage full; answering 503");
                }
                simple(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_full",
                    "the server's storage is full; nothing was written, retry later",
                )
            }
            Self::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                simple(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "an internal error occurred",
                )
            }
            Self::Forbidden(detail) => simple(StatusCode::FORBIDDEN, "forbidden", detail),
        };
        (status, Json(body)).into_response()
    }
}

fn simple(status: StatusCode, code: &'static str, detail: &str) -> (StatusCode, HttpErrorOut) {
    let detail = detail.to_owned();
    (status, HttpErrorOut { code, detail })
}

/// Fallback for unknown routes.
pub async fn route_not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// Fallback for known routes called with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_failures_answer_503_with_their_cause_code() {
        for (err, code) in [
            (StoreError::StorageFull("disk".into()), "storage_full"),
            (StoreError::Unavailable("gone".into()), "unavailable"),
        ] {
            let response = ApiError::from(err).into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            let body = futures_body(response);
            assert_eq!(body["code"], code, "{body}");
            assert!(body["detail"].is_string(), "{body}");
        }
    }

    fn futures_body(response: Response) -> serde_json::Value {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), 4096))
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }
}
