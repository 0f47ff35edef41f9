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
use hookd_store::StoreError;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// 503: storage is unreachable or shutting down.
    Unavailable(String),
    /// 500: anything unexpected; logged with its cause, never shown.
    Internal(anyhow::Error),
    /// 403: the token is valid but does not reach this route (an app-portal token).
    Forbidden(&'static str),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// During a database outage every request fails the same way: log one line a second,
/// with how many were left out, instead of one per request.
static UNAVAILABLE_LOG: RateLimitedLog = RateLimitedLog::new();

/// Admits at most one log line per second.
pub(crate) struct RateLimitedLog {
    /// The second (since the epoch) of the last admitted line.
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl RateLimitedLog {
    pub(crate) const fn new() -> Self {
        Self {
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(lines left out since the last one)` if a line may be logged now.
    pub(crate) fn admit(&self) -> Option<u64> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last.load(Ordering::Relaxed);
        if now > last
            && self
                .last
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            Some(self.suppressed.swap(0, Ordering::AcqRel))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

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
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::Conflict(key) => Self::Conflict(format!("{key} is already in use")),
            StoreError::Unavailable(why) => Self::Unavailable(why),
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
                let body = json!({
                    "code": "validation",
                    "detail": [{ "loc": loc, "msg": msg, "type": "value_error" }],
                });
                (StatusCode::UNPROCESSABLE_ENTITY, body)
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
            Self::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({
                    "code": "idempotency_key_reused",
                    "detail": [{
                        "loc": ["header", "idempotency-key"],
                        "msg": "this idempotency-key was already used for a different request",
                        "type": "value_error",
                    }],
                }),
            ),
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

fn simple(status: StatusCode, code: &str, detail: &str) -> (StatusCode, serde_json::Value) {
    (status, json!({ "code": code, "detail": detail }))
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
mod log_tests {
    use super::RateLimitedLog;

    #[test]
    fn one_line_per_second_with_the_count_left_out() {
        let log = RateLimitedLog::new();
        assert_eq!(log.admit(), Some(0));
        for _ in 0..5 {
            assert_eq!(log.admit(), None);
        }
        // The next second's first line reports the five left out.
        log.last.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(log.admit(), Some(5));
    }
}
