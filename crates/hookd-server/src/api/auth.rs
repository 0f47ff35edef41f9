//! Admin authentication: every `/api/v1` route except health needs
//! `Authorization: Bearer <admin token>`, compared in constant time.

use super::error::ApiError;
use super::ApiState;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// Middleware rejecting requests without the admin bearer token with 401.
pub async fn require_admin(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return ApiError::Unauthorized("missing Authorization header").into_response();
    };
    let given = header
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .unwrap_or("");
    if given.is_empty() || !token_matches(given, &state.admin_token) {
        return ApiError::Unauthorized("invalid bearer token").into_response();
    }
    next.run(req).await
}

/// Constant-time comparison (the length check leaks only the length, as usual).
fn token_matches(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn compares_whole_tokens() {
        assert!(token_matches("secret", "secret"));
        assert!(!token_matches("secre", "secret"));
        assert!(!token_matches("secret1", "secret"));
        assert!(!token_matches("", ""));
    }
}
