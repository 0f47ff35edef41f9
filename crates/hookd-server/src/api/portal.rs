//! App-portal access: `POST /api/v1/auth/app-portal-access/{app_id}` (admin only) issues a
//! bearer token limited to one application.
//!
//! The token format, and how it is verified, live in
//! [`http::portal_token`](crate::api::http::portal_token); what such a token may do is
//! decided in one place, [`http::auth`](crate::api::http::auth).

use crate::api::app::{load_or_create_app, AppIn};
use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{ApiJson, ApiPath};
use crate::api::http::paths::AppPath;
use crate::api::http::portal_token::{mint, unix_now, PortalClaims};
use crate::api::ApiState;
use axum::extract::State;
use axum::http::header::HOST;
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Lifetime of a token when the request gives none: 7 days, as in Svix.
pub const DEFAULT_EXPIRY_SECS: u64 = 7 * 86_400;
/// Longest lifetime a request may ask for (7 days).
pub const MAX_EXPIRY_SECS: u64 = 7 * 86_400;

/// Body of the request (`AppPortalAccessIn`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppPortalAccessIn {
    /// Creates the application when the path's id or uid does not exist yet.
    #[serde(default)]
    application: Option<AppIn>,
    /// Token lifetime in seconds, 1 to 604800 [default: 604800].
    #[serde(default)]
    expiry: Option<u64>,
    /// A token that may only read.
    #[serde(default)]
    read_only: Option<bool>,
    /// Svix's capabilities, mapped conservatively (see [`rights`]).
    #[serde(default)]
    capabilities: Option<Vec<String>>,
    /// Accepted for compatibility; hookd has no feature flags.
    #[serde(default)]
    #[allow(dead_code)]
    feature_flags: Option<Vec<String>>,
}

/// `AppPortalAccessOut`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppPortalAccessOut {
    /// This server's consumer portal for the application (`/portal/{app_id}`), with the
    /// token in the fragment.
    url: String,
    token: String,
}

/// `POST /api/v1/auth/app-portal-access/{app_id}`.
#[utoipa::path(post, path = "/api/v1/auth/app-portal-access/{app_id}", tag = "Authentication",
    operation_id = "v1.authentication.app-portal-access", summary = "A token and link for one application's consumer portal",
    params(AppPath), request_body = AppPortalAccessIn,
    responses((status = 200, description = "The token, and the link carrying it", body = AppPortalAccessOut)))]
pub async fn app_portal_access(
    State(state): State<ApiState>,
    ApiPath(app_id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AppPortalAccessIn>,
) -> ApiResult<Json<AppPortalAccessOut>> {
    let lifetime = match body.expiry {
        None => DEFAULT_EXPIRY_SECS,
        Some(s) if (1..=MAX_EXPIRY_SECS).contains(&s) => s,
        Some(_) => {
            return Err(ApiError::field(
                "expiry",
                format!("expiry must be between 1 and {MAX_EXPIRY_SECS} seconds"),
            ))
        }
    };
    let (read_only, no_secrets) = rights(body.read_only, body.capabilities.as_deref())?;
    let app = load_or_create_app(&state, &app_id, body.application).await?;
    let claims = PortalClaims {
        app_id: app.id.to_string(),
        expires_at: unix_now().saturating_add(lifetime),
        read_only,
        no_secrets,
    };
    let token = mint(&state.admin_token, &claims);
    // The portal page; the token rides in the fragment, which browsers never send.
    let url = format!("{}/portal/{}#key={token}", origin(&headers), claims.app_id);
    Ok(Json(AppPortalAccessOut { url, token }))
}

/// Svix's capability names.
const CAPABILITIES: &[&str] = &[
    "ViewBase",
    "ViewEndpointSecret",
    "ManageEndpointSecret",
    "ManageTransformations",
    "CreateAttempts",
    "ManageEndpoint",
];

/// `(read_only, no_secrets)` from `readOnly` and `capabilities`. No capabilities means all
/// of them. hookd's rights are coarser than Svix's capabilities, so the mapping never grants
/// more than asked: without `ManageEndpoint` the token is read-only, and without a
/// capability that shows the secret (`ViewEndpointSecret`, `ManageEndpointSecret`,
/// `ManageEndpoint`) it cannot read secrets.
fn rights(read_only: Option<bool>, capabilities: Option<&[String]>) -> ApiResult<(bool, bool)> {
    let Some(caps) = capabilities else {
        return Ok((read_only.unwrap_or(false), false));
    };
    if let Some(unknown) = caps.iter().find(|c| !CAPABILITIES.contains(&c.as_str())) {
        return Err(ApiError::field(
            "capabilities",
            format!("unknown capability {unknown:?}"),
        ));
    }
    let has = |name: &str| caps.iter().any(|c| c == name);
    let manage = has("ManageEndpoint");
    let secrets = manage || has("ViewEndpointSecret") || has("ManageEndpointSecret");
    Ok((read_only.unwrap_or(false) || !manage, !secrets))
}

/// `scheme://host` of this request as the client saw it (behind a TLS-terminating proxy,
/// `x-forwarded-proto: https` is honoured).
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_never_grant_more_than_asked() {
        let caps = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(rights(None, None).unwrap(), (false, false));
        assert_eq!(rights(Some(true), None).unwrap(), (true, false));
        assert_eq!(
            rights(None, Some(&caps(&["ViewBase"]))).unwrap(),
            (true, true)
        );
        assert_eq!(
            rights(None, Some(&caps(&["ViewBase", "ViewEndpointSecret"]))).unwrap(),
            (true, false)
        );
        assert_eq!(
            rights(None, Some(&caps(&["ViewBase", "ManageEndpoint"]))).unwrap(),
            (false, false)
        );
        assert_eq!(
            rights(Some(true), Some(&caps(&["ManageEndpoint"]))).unwrap(),
            (true, false)
        );
        assert!(rights(None, Some(&caps(&["Everything"]))).is_err());
    }

    #[test]
    fn origin_uses_the_host_header_and_forwarded_proto() {
        let mut h = HeaderMap::new();
        assert_eq!(origin(&h), "http://localhost");
        h.insert(HOST, "hooks.example.com:8071".parse().unwrap());
        assert_eq!(origin(&h), "http://hooks.example.com:8071");
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(origin(&h), "https://hooks.example.com:8071");
        h.insert(HOST, "evil.com/path?x".parse().unwrap());
        assert_eq!(origin(&h), "https://localhost");
    }
}
