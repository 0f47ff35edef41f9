//! Authentication and authorization of every `/api/v1` route except health, in one place.
//!
//! Two kinds of bearer token are accepted, and, without one, the operator dashboard's
//! session cookie with its CSRF header ([`session`]), which counts as the admin token:
//! - the admin token (compared in constant time): every route;
//! - an app-portal token (`appsk_…`, see [`portal_token`]), limited to one application.
//!   What it may reach is decided here, by the matched route pattern, and is denied by
//!   default, so a route added later is closed to it until [`portal_scope`] says otherwise:
//!   - every route under `/app/{app_id}/…`, and `GET /app/{app_id}`, when `{app_id}` (an id
//!     or a uid) names its own application;
//!   - `GET` of the event-type list and of one event type (a portal shows them);
//!   - `GET /background-task/{task_id}` of a task of its own application (a recovery it
//!     started);
//!   - with a read-only token, only `GET`/`HEAD` of those;
//!   - with a token issued without secret capabilities, no `…/secret` route.
//!
//!   Anything else answers 403 `forbidden`, whether the other application exists or not,
//!   so a token cannot probe for other applications. Resources of another application
//!   addressed under the token's own application (`/app/{own}/msg/{other's msg}`) are not
//!   found (404), because every handler looks resources up within the path's application.
//!
//! Missing, wrong, malformed, tampered and expired tokens answer 401 `authentication_failed`.
//!
//! Every refusal is logged (`warn`, at most one line a second with the count left out, so
//! a flood of bad tokens cannot flood the log): method, route template, code, reason and
//! the client's address. Never the token, never the raw path.

use super::error::ApiError;
use super::portal_token::{self, PortalClaims};
use crate::api::web::session::{self, Presented};
use crate::api::ApiState;
use axum::extract::ConnectInfo;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hookd_store::{RateLimitedLog, StoreError};
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

/// Who is calling; inserted into the request's extensions for handlers that care.
#[derive(Clone, Debug)]
pub enum Caller {
    Admin,
    /// An app-portal token, already checked against the route.
    AppPortal(PortalClaims),
}

/// What an app-portal token may do on a route pattern (relative to `/api/v1`).
#[derive(Debug, PartialEq, Eq)]
pub enum PortalScope {
    /// Allowed when the `{app_id}` path parameter names the token's application.
    OwnApp,
    /// Allowed for any portal token (read-only shared data: event types).
    Shared,
    /// Allowed when the background task named by `{task_id}` belongs to the token's
    /// application (a portal follows the recovery it started).
    OwnTask,
    /// Admin only.
    Denied,
}

/// The one rule for portal tokens; everything not listed is [`PortalScope::Denied`].
pub fn portal_scope(pattern: &str, method: &Method) -> PortalScope {
    let read = method == Method::GET || method == Method::HEAD;
    if pattern.starts_with("/app/{app_id}/") || (pattern == "/app/{app_id}" && read) {
        PortalScope::OwnApp
    } else if read && (pattern == "/event-type" || pattern == "/event-type/{event_type_name}") {
        PortalScope::Shared
    } else if read && pattern == "/background-task/{task_id}" {
        PortalScope::OwnTask
    } else {
        PortalScope::Denied
    }
}

/// Middleware: 401 without a valid token, 403 when a portal token reaches outside its scope.
pub async fn authorize(State(state): State<ApiState>, mut req: Request, next: Next) -> Response {
    match authenticate(&state, &mut req).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => {
            log_refusal(&req, &e);
            e.into_response()
        }
    }
}

/// One line a second at most for refused requests, whatever their number.
static REFUSALS: RateLimitedLog = RateLimitedLog::new();

/// Logs a refused request (401/403); other errors (a store outage) are logged where they
/// are answered.
fn log_refusal(req: &Request, e: &ApiError) {
    let (code, reason) = match e {
        ApiError::Unauthorized(reason) => ("authentication_failed", *reason),
        ApiError::Forbidden(reason) => ("forbidden", *reason),
        _ => return,
    };
    let Some(suppressed) = REFUSALS.admit() else {
        return;
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", MatchedPath::as_str);
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string());
    tracing::warn!(
        method = %req.method(),
        route,
        code,
        reason,
        client = client.as_deref().unwrap_or("-"),
        suppressed,
        "refused an API request"
    );
}

/// Who `req`'s bearer token says is calling, if it may make this request.
async fn authenticate(state: &ApiState, req: &mut Request) -> Result<Caller, ApiError> {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        // The dashboard's requests: its session cookie and CSRF header.
        return match session::check(&state.admin_token, req.headers()) {
            Presented::Valid => Ok(Caller::Admin),
            Presented::Refused(e) => Err(e),
            Presented::None => Err(ApiError::Unauthorized("missing Authorization header")),
        };
    };
    let given = bearer(header);
    if !given.is_empty() && token_matches(given, &state.admin_token) {
        Ok(Caller::Admin)
    } else if given.starts_with(portal_token::PREFIX) {
        let Ok(claims) = portal_token::verify(&state.admin_token, given, portal_token::unix_now())
        else {
            return Err(ApiError::Unauthorized(
                "invalid or expired app portal token",
            ));
        };
        check_portal(state, &claims, req).await?;
        Ok(Caller::AppPortal(claims))
    } else {
        Err(ApiError::Unauthorized("invalid bearer token"))
    }
}

/// `Ok` if the portal token `claims` may make this request.
async fn check_portal(
    state: &ApiState,
    claims: &PortalClaims,
    req: &mut Request,
) -> Result<(), ApiError> {
    let forbidden = || ApiError::Forbidden("this token is limited to one application");
    let method = req.method().clone();
    if claims.read_only && method != Method::GET && method != Method::HEAD {
        return Err(ApiError::Forbidden("this token is read-only"));
    }
    let Some(pattern) = req.extensions().get::<MatchedPath>() else {
        return Err(forbidden());
    };
    let pattern = pattern.as_str();
    let pattern = pattern.strip_prefix("/api/v1").unwrap_or(pattern);
    if claims.no_secrets && pattern.contains("/secret") {
        return Err(ApiError::Forbidden(
            "this token may not see endpoint secrets",
        ));
    }
    match portal_scope(pattern, &method) {
        PortalScope::Denied => Err(forbidden()),
        PortalScope::Shared => Ok(()),
        PortalScope::OwnTask => {
            let Some(task_id) = path_param(state, req, "task_id").await else {
                return Err(forbidden());
            };
            // Another application's task, or none: 403 alike.
            match state.store.get_recovery(&task_id).await {
                Ok(task) if task.app_id.to_string() == claims.app_id => Ok(()),
                Ok(_) | Err(StoreError::NotFound) => Err(forbidden()),
                Err(e) => Err(e.into()),
            }
        }
        PortalScope::OwnApp => {
            let Some(addressed) = path_param(state, req, "app_id").await else {
                return Err(forbidden());
            };
            if addressed == claims.app_id {
                return Ok(());
            }
            // The path may name the application by uid: same application, same rights.
            match state.store.get_app(&addressed).await {
                Ok(app) if app.id.to_string() == claims.app_id => Ok(()),
                Ok(_) | Err(StoreError::NotFound) => Err(forbidden()),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// The path parameter `name` of `req`'s matched route.
async fn path_param(state: &ApiState, req: &mut Request, name: &str) -> Option<String> {
    let (mut parts, body) = std::mem::take(req).into_parts();
    let value = RawPathParams::from_request_parts(&mut parts, state)
        .await
        .ok()
        .and_then(|p| {
            p.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_owned())
        });
    *req = Request::from_parts(parts, body);
    value
}

/// The token of an `Authorization: Bearer <token>` header; empty for any other header.
pub fn bearer(header: &axum::http::HeaderValue) -> &str {
    header
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .unwrap_or("")
}

/// Constant-time comparison (the length check leaks only the length, as usual).
pub fn token_matches(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_tokens() {
        assert!(token_matches("secret", "secret"));
        assert!(!token_matches("secre", "secret"));
        assert!(!token_matches("secret1", "secret"));
        assert!(!token_matches("", ""));
    }

    #[test]
    fn portal_scope_is_deny_by_default() {
        use PortalScope::*;
        let cases = [
            ("/app/{app_id}/endpoint", Method::POST, OwnApp),
            ("/app/{app_id}/msg/{msg_id}", Method::GET, OwnApp),
            ("/app/{app_id}", Method::GET, OwnApp),
            ("/app/{app_id}", Method::DELETE, Denied),
            ("/app/{app_id}", Method::PUT, Denied),
            ("/app", Method::GET, Denied),
            ("/app", Method::POST, Denied),
            ("/event-type", Method::GET, Shared),
            ("/event-type/{event_type_name}", Method::GET, Shared),
            ("/event-type", Method::POST, Denied),
            ("/event-type/{event_type_name}", Method::PATCH, Denied),
            ("/auth/app-portal-access/{app_id}", Method::POST, Denied),
            ("/background-task/{task_id}", Method::GET, OwnTask),
            ("/background-task", Method::GET, Denied),
            ("/ui/metrics", Method::GET, Denied),
            ("/some/future/route", Method::GET, Denied),
            ("/app/{app}/endpoint", Method::GET, Denied),
        ];
        for (pattern, method, want) in cases {
            assert_eq!(portal_scope(pattern, &method), want, "{method} {pattern}");
        }
    }
}
